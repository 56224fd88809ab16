/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hashpool.h - SHA-256 of files, one at a time (hash_file) or on a pool of worker threads.
 *
 * Hashing runs beside the training job, so it must never block on a FIFO or device, must notice a
 * file that changed or was replaced while it read it, and must not report a stale digest as the
 * content the run saw.
 */
#ifndef AICERT_TRACE_HASHPOOL_H
#define AICERT_TRACE_HASHPOOL_H
#include <stdint.h>
#include <sys/stat.h>

#include "trace/hashcache.h"

enum hash_status {
	HASH_OK = 0,
	HASH_VANISHED = 1,    /* ENOENT at open */
	HASH_UNREADABLE = 2,  /* other open/read error, err set */
	HASH_CHANGED = 3,     /* size/mtime/ctime differed before and after hashing */
	HASH_REPLACED = 4,    /* path now names another inode than expected */
	HASH_NOT_REGULAR = 5, /* a FIFO, device, socket or directory */
	HASH_NO_NAME = 6,     /* path_cut, and no /proc link of the pid held the expected inode */
};

struct hash_job {
	const char *path;
	uint64_t expect_dev, expect_ino; /* 0,0: any inode; userspace dev_t */
	/*
	 * When pid > 0 and the path vanished or was replaced (the file may be unlinked but still
	 * open), hash the process's own copy instead: /proc/<pid>/fd/<fd> when fd >= 0; else (or
	 * when that fails) the entry of /proc/<pid>/fd/, then of /proc/<pid>/map_files/, whose
	 * stat() gives (expect_dev, expect_ino); with no expected inode, an unlinked file the
	 * kernel names "<path> (deleted)". pid is the opener's tgid; the LSM backend sends fd -1.
	 */
	int32_t pid, fd;
	/*
	 * The kernel cut the name (AC_F_PATH_TRUNC): it may name another file, so it is never
	 * opened; only the process's copy through /proc/<pid> (as above) is hashed, and only when
	 * it is the expected inode. Else HASH_NO_NAME.
	 */
	int path_cut;
	void *ctx;
};

struct hash_result {
	enum hash_status status;
	int err; /* errno for HASH_UNREADABLE (and the open error for HASH_VANISHED) */
	uint8_t sha256[32];
	uint64_t dev, ino, size; /* of the file hashed (or found), 0 when not opened */
	int64_t mtime_ns, ctime_ns;
	int cached;	       /* served from the cache */
	int via_fd;	       /* hashed through /proc/pid/fd */
	uint64_t bytes_hashed; /* bytes read and hashed (0 on a cache hit) */
};

/* Called on a worker thread, once per submitted job. */
typedef void (*hash_done_cb)(const struct hash_job *job, const struct hash_result *res,
			     void *cb_ctx);

/*
 * stat/lstat (flags 0 or AT_SYMLINK_NOFOLLOW) of a name that may be longer than PATH_MAX: it is
 * resolved in chunks below PATH_MAX split at '/' (symlinks followed as open(2) would). 0 or -1
 * with errno set.
 */
int hash_stat(const char *path, struct stat *st, int flags);

/*
 * A file whose mtime or ctime is less than 2 s old is hashed but not inserted into the cache:
 * timestamps are coarse, and a same-size rewrite within one tick would leave the key unchanged.
 *
 * Synchronous: open O_RDONLY|O_NOCTTY|O_NONBLOCK (never block on a FIFO; reject non-regular
 * files; names longer than PATH_MAX are resolved as by hash_stat), fstat, cache lookup, read in
 * 1 MiB chunks (posix_fadvise SEQUENTIAL) into EVP sha256, fstat again to detect change; insert
 * into the cache on success. cache may be NULL.
 * Returns out->status (0 on HASH_OK).
 */
int hash_file(const struct hash_job *job, struct hashcache *cache, struct hash_result *out);

struct hashpool;

/* nthreads <= 0: all online cores. cache may be NULL. NULL when threads or memory ran out. */
struct hashpool *hashpool_new(int nthreads, struct hashcache *cache, hash_done_cb cb, void *cb_ctx);
/* Copies job->path; never blocks for long (unbounded queue). 0 or -errno. */
int hashpool_submit(struct hashpool *p, const struct hash_job *job);
/* Returns when every submitted job's callback has returned. */
void hashpool_wait(struct hashpool *p);

struct hashpool_stats {
	uint64_t files, bytes_hashed, cache_hits, errors; /* errors: any status but HASH_OK */
};
void hashpool_stats(struct hashpool *p, struct hashpool_stats *out);
/* Waits, joins, frees; NULL ok. */
void hashpool_free(struct hashpool *p);

#endif
