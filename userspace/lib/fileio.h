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

/* fileio_write_atomic in steps, for content made piece by piece: begin, write..., end. The
 * first error sticks; end(failed != 0, e.g. -ENOMEM) removes the temporary file and returns
 * that error, else it fsyncs and renames. Each returns 0 or -errno. */
struct fileio_atomic {
	const char *path;
	char *tmp;
	int fd, err;
};
int fileio_atomic_begin(struct fileio_atomic *a, const char *path, mode_t mode, int flags);
int fileio_atomic_write(struct fileio_atomic *a, const void *p, size_t len);
int fileio_atomic_end(struct fileio_atomic *a, int failed);
/* fileio_atomic_write(ctx, p, n), shaped as a sink for text made in pieces (lib/jsonout.h). */
int fileio_atomic_sink(void *ctx, const char *p, size_t n);

/*
 * Reads fd to EOF (securityfs files report st_size 0, so the size is only a hint) into a
 * malloc'd buffer with a NUL byte after the data (*len excludes it). 0, or -errno: -EFBIG when
 * there are more than max bytes, -ENOMEM, or the read error. *buf is untouched on error.
 */
int fileio_read_fd(int fd, size_t max, uint8_t **buf, size_t *len);

/* fileio_read_fd on path opened O_RDONLY; -errno of the open when that fails. */
int fileio_read(const char *path, size_t max, uint8_t **buf, size_t *len);

/* fileio_open_regular flags */
#define FILEIO_FOLLOW 1 /* a symbolic link is followed (a user's own path), not refused */

#define FILEIO_WHY_MAX 320

/*
 * Opens name (relative to dfd, or AT_FDCWD) for reading as an untrusted file must be opened:
 * O_NOFOLLOW (unless FILEIO_FOLLOW) and O_NONBLOCK, so that neither a symbolic link (to
 * /dev/zero, say) nor a FIFO with no writer can make the caller read forever; the type is
 * checked before the open (a device is never opened) and again on the descriptor, which must
 * be a regular file of at most max bytes. Returns the descriptor (blocking again, O_CLOEXEC),
 * or -errno with why set to "NAME: is a FIFO, not a regular file", "NAME: is a symbolic link",
 * "NAME: larger than MAX bytes" (-EFBIG), "NAME: No such file or directory" and so on; -EINVAL
 * for a file that is not regular, -ELOOP for a link.
 */
int fileio_open_regular(int dfd, const char *name, uint64_t max, int flags,
			char why[FILEIO_WHY_MAX]);

/* fileio_open_regular, then fileio_read_fd, the descriptor closed: the whole of a bundle file. */
int fileio_read_regular(int dfd, const char *name, size_t max, uint8_t **buf, size_t *len,
			char why[FILEIO_WHY_MAX]);

/* "a FIFO", "a directory", "a socket", "a character device", "a block device",
 * "a symbolic link", "a regular file" or "a file of unknown type". */
const char *fileio_type_name(mode_t mode);

/* SHA-256 of what fd holds from its offset to EOF, read in blocks (never all in memory); the
 * byte count in *size when size is not NULL. 0, or -errno (-EIO when SHA-256 fails). */
int fileio_sha256_fd(int fd, uint8_t out[32], uint64_t *size);

/* mkdir -p: the missing parents of path are made with parent_mode, path itself with mode; what
 * exists already is fine. 0, or -errno (errno is set as well). */
int fileio_mkdirs(const char *path, mode_t parent_mode, mode_t mode);

#endif
