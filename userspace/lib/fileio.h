/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Whole-file reads with a size cap and crash-safe writes, shared by the readers and writers of
 * bundle files (bom.json, manifest.json, ima.bin...), the policy and the hash cache.
 */
#ifndef AICERT_FILEIO_H
#define AICERT_FILEIO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all len bytes, retrying after EINTR and short writes. 0, or -errno with errno set. */
int fileio_write_all(int fd, const void *p, size_t len);

/* fileio_write_atomic flags */
#define FILEIO_EXACT_MODE 1 /* fchmod(mode) whatever the umask (bundle files others must read) */

/*
 * Replaces path with p[0..len) so that a crash leaves the old or the new content, never a mix:
 * writes "<path>.tmp.<pid>" (created with mode), fsyncs it, renames it over path, then fsyncs
 * the directory (best effort). The temporary file is removed on failure. 0 or -errno.
 */
int fileio_write_atomic(const char *path, const void *p, size_t len, mode_t mode, int flags);

/*
 * Reads fd to EOF (securityfs files report st_size 0, so the size is only a hint) into a
 * malloc'd buffer with a NUL byte after the data (*len excludes it). 0, or -errno: -EFBIG when
 * there are more than max bytes, -ENOMEM, or the read error. *buf is untouched on error.
 */
int fileio_read_fd(int fd, size_t max, uint8_t **buf, size_t *len);

/* fileio_read_fd on path opened O_RDONLY; -errno of the open when that fails. */
int fileio_read(const char *path, size_t max, uint8_t **buf, size_t *len);

#endif
