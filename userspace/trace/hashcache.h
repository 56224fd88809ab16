/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hashcache.h - the persistent hash cache: (dev, ino, size, mtime, ctime) -> sha256, so that data
 * a run re-reads, or the next run reads unchanged, is never hashed twice.
 *
 * ctime is part of the key because every content change (and every utimes() that would hide one
 * by restoring mtime) moves it, and userspace cannot set it back. The file dir/hashcache.bin is a
 * flat table of fixed-size little-endian records behind a header and a trailing SHA-256 of the
 * whole, so a torn or tampered file is detected and ignored rather than trusted.
 */
#ifndef AICERT_TRACE_HASHCACHE_H
#define AICERT_TRACE_HASHCACHE_H
#include <stdint.h>

/* dev is the userspace st_dev encoding (makedev), not the kernel's MAJOR << 20 | MINOR. */
struct hashcache_key {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

struct hashcache;

/*
 * dir NULL: in-memory only. Otherwise loads dir/hashcache.bin, creating dir (0700, parents 0755)
 * when missing. A corrupt file is reported with log_warn and ignored (the cache starts empty).
 * Returns NULL with *err = errno (err may be NULL) when dir cannot be created or memory runs out.
 */
struct hashcache *hashcache_open(const char *dir, int *err);
/* 1 on a hit (sha256 filled), 0 on a miss. Thread-safe. */
int hashcache_lookup(struct hashcache *c, const struct hashcache_key *k, uint8_t sha256[32]);
/* Adds or replaces an entry. Thread-safe. */
void hashcache_insert(struct hashcache *c, const struct hashcache_key *k, const uint8_t sha256[32]);
/*
 * Writes the cache to dir/hashcache.bin under an flock on dir/hashcache.lock, merged with what
 * another process saved since we loaded (our entries win), via tmp + fsync + rename + fsync(dir).
 * 0 or -errno; 0 without doing anything for an in-memory cache.
 */
int hashcache_save(struct hashcache *c);
/* Number of entries held. */
uint64_t hashcache_count(struct hashcache *c);
/* NULL ok; does not save. */
void hashcache_close(struct hashcache *c);

#endif
