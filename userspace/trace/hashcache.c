// SPDX-License-Identifier: BSD-2-Clause
/*
 * hashcache.c - the persistent (dev, ino, size, mtime, ctime) -> sha256 cache.
 *
 * On disk (dir/hashcache.bin), all integers little-endian:
 *   header  "AICHC001" | u32 version (1) | u32 record size (72) | u64 count
 *   count x { u64 dev | u64 ino | u64 size | i64 mtime_ns | i64 ctime_ns | sha256[32] }
 *   trailer sha256 of everything before it
 * The trailer makes a torn write or a stray edit visible; such a file is ignored, never trusted.
 * In memory: an open-addressing table under a rwlock (lookups from every hash worker at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "trace/hashcache.h"

#define HC_MAGIC "AICHC001"
#define HC_VERSION 1
#define HC_REC 72
#define HC_HDR 24
#define HC_FILE "hashcache.bin"
#define HC_LOCK "hashcache.lock"
/* A file claiming more entries than this is corrupt (about 4.5 GiB of records). */
#define HC_MAX_ENTRIES (UINT64_C(1) << 26)

struct hc_ent {
	struct hashcache_key k;
	uint8_t sha[32];
	uint8_t used;
};

struct hashcache {
	char *dir;
	pthread_rwlock_t lock;
	struct hc_ent *tab;
	size_t cap, n; /* cap is a power of two, n <= cap * 3/4 */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h;
}

static uint64_t key_hash(const struct hashcache_key *k)
{
	uint64_t h = 0;

	h = mix(h, k->dev);
	h = mix(h, k->ino);
	h = mix(h, k->size);
	h = mix(h, (uint64_t)k->mtime_ns);
	h = mix(h, (uint64_t)k->ctime_ns);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int key_eq(const struct hashcache_key *a, const struct hashcache_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static struct hc_ent *slot(struct hc_ent *tab, size_t cap, const struct hashcache_key *k)
{
	size_t i = key_hash(k) & (cap - 1);

	while (tab[i].used && !key_eq(&tab[i].k, k))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int grow(struct hashcache *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 1024;
	struct hc_ent *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->tab[i].used)
			*slot(nt, ncap, &c->tab[i].k) = c->tab[i];
	free(c->tab);
	c->tab = nt;
	c->cap = ncap;
	return 0;
}

/* Caller holds the write lock. keep_old: an existing entry wins (merging another's file). */
static int put(struct hashcache *c, const struct hashcache_key *k, const uint8_t sha[32],
	       int keep_old)
{
	struct hc_ent *e;

	if ((c->n + 1) * 4 > c->cap * 3 && grow(c))
		return -ENOMEM;
	e = slot(c->tab, c->cap, k);
	if (e->used && keep_old)
		return 0;
	if (!e->used)
		c->n++;
	e->k = *k;
	memcpy(e->sha, sha, 32);
	e->used = 1;
	return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char *join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", dir, name) < 0)
		return NULL;
	return s;
}

static const char *parse_file(const uint8_t *b, size_t len, uint64_t *count)
{
	uint8_t md[32];
	uint64_t n;

	if (len < HC_HDR + 32)
		return "too short";
	if (memcmp(b, HC_MAGIC, 8))
		return "bad magic";
	if (get_le32(b + 8) != HC_VERSION)
		return "unknown version";
	if (get_le32(b + 12) != HC_REC)
		return "bad record size";
	n = get_le64(b + 16);
	if (n > HC_MAX_ENTRIES || len != HC_HDR + n * HC_REC + 32)
		return "length does not match the entry count";
	if (!EVP_Digest(b, len - 32, md, NULL, EVP_sha256(), NULL))
		return "cannot compute sha256";
	if (memcmp(md, b + len - 32, 32))
		return "checksum mismatch";
	*count = n;
	return NULL;
}

static void rec_decode(const uint8_t *r, struct hashcache_key *k, uint8_t sha[32])
{
	k->dev = get_le64(r);
	k->ino = get_le64(r + 8);
	k->size = get_le64(r + 16);
	k->mtime_ns = (int64_t)get_le64(r + 24);
	k->ctime_ns = (int64_t)get_le64(r + 32);
	memcpy(sha, r + 40, 32);
}

/*
 * Merges dir/hashcache.bin into c (existing entries win when keep_old). Missing or corrupt files
 * merge nothing; only memory errors fail.
 */
static int load_file(struct hashcache *c, int keep_old)
{
	char *path = join(c->dir, HC_FILE);
	uint8_t *b = NULL, sha[32];
	size_t len = 0;
	uint64_t n = 0;
	const char *why;
	struct hashcache_key k;
	int ret = 0;

	if (!path)
		return -ENOMEM;
	ret = fileio_read(path, HC_HDR + HC_MAX_ENTRIES * HC_REC + 32, &b, &len);
	if (ret == -ENOENT) {
		ret = 0;
		goto cleanup;
	}
	if (ret) {
		log_warn("hash cache %s ignored: cannot read it: %s", path, strerror(-ret));
		ret = ret == -ENOMEM ? ret : 0;
		goto cleanup;
	}
	why = parse_file(b, len, &n);
	if (why) {
		log_warn("hash cache %s ignored: %s", path, why);
		goto cleanup;
	}
	for (uint64_t i = 0; i < n && !ret; i++) {
		rec_decode(b + HC_HDR + i * HC_REC, &k, sha);
		ret = put(c, &k, sha, keep_old);
	}
cleanup:
	free(b);
	free(path);
	return ret;
}

struct hashcache *hashcache_open(const char *dir, int *err)
{
	struct hashcache *c = calloc(1, sizeof(*c));
	int ret = 0;

	if (!c) {
		ret = ENOMEM;
		goto cleanup;
	}
	pthread_rwlock_init(&c->lock, NULL);
	if (grow(c)) {
		ret = ENOMEM;
		goto cleanup;
	}
	if (!dir)
		goto cleanup;
	c->dir = strdup(dir);
	if (!c->dir) {
		ret = ENOMEM;
		goto cleanup;
	}
	if (fileio_mkdirs(c->dir, 0755, 0700)) {
		ret = errno;
		log_err("cannot create hash cache directory %s: %s", dir, strerror(ret));
		goto cleanup;
	}
	ret = -load_file(c, 0);
cleanup:
	if (ret) {
		hashcache_close(c);
		c = NULL;
	}
	if (err)
		*err = ret;
	return c;
}

int hashcache_lookup(struct hashcache *c, const struct hashcache_key *k, uint8_t sha256[32])
{
	struct hc_ent *e;
	int hit;

	if (!c)
		return 0;
	pthread_rwlock_rdlock(&c->lock);
	e = slot(c->tab, c->cap, k);
	hit = e->used;
	if (hit)
		memcpy(sha256, e->sha, 32);
	pthread_rwlock_unlock(&c->lock);
	return hit;
}

void hashcache_insert(struct hashcache *c, const struct hashcache_key *k, const uint8_t sha256[32])
{
	if (!c)
		return;
	pthread_rwlock_wrlock(&c->lock);
	/* Out of memory only costs a future re-hash. */
	put(c, k, sha256, 0);
	pthread_rwlock_unlock(&c->lock);
}

uint64_t hashcache_count(struct hashcache *c)
{
	uint64_t n;

	if (!c)
		return 0;
	pthread_rwlock_rdlock(&c->lock);
	n = c->n;
	pthread_rwlock_unlock(&c->lock);
	return n;
}

/* Caller holds the lock. Serialises the table, trailer included. */
static uint8_t *serialise(struct hashcache *c, size_t *len)
{
	size_t l = HC_HDR + c->n * HC_REC + 32, j = 0;
	uint8_t *b = malloc(l), *r;

	if (!b)
		return NULL;
	memcpy(b, HC_MAGIC, 8);
	b[8] = HC_VERSION, b[9] = b[10] = b[11] = 0;
	b[12] = HC_REC, b[13] = b[14] = b[15] = 0;
	put_le64(b + 16, c->n);
	for (size_t i = 0; i < c->cap; i++) {
		const struct hc_ent *e = &c->tab[i];

		if (!e->used)
			continue;
		r = b + HC_HDR + j++ * HC_REC;
		put_le64(r, e->k.dev);
		put_le64(r + 8, e->k.ino);
		put_le64(r + 16, e->k.size);
		put_le64(r + 24, (uint64_t)e->k.mtime_ns);
		put_le64(r + 32, (uint64_t)e->k.ctime_ns);
		memcpy(r + 40, e->sha, 32);
	}
	if (!EVP_Digest(b, l - 32, b + l - 32, NULL, EVP_sha256(), NULL)) {
		free(b);
		return NULL;
	}
	*len = l;
	return b;
}

static int write_atomic(const char *dir, const uint8_t *b, size_t len)
{
	char *path = join(dir, HC_FILE);
	int ret = path ? fileio_write_atomic(path, b, len, 0600, 0) : -ENOMEM;

	free(path);
	return ret;
}

int hashcache_save(struct hashcache *c)
{
	char *lockpath = NULL;
	uint8_t *b = NULL;
	size_t len = 0;
	int lfd = -1, ret = 0;

	if (!c || !c->dir)
		return 0;
	lockpath = join(c->dir, HC_LOCK);
	if (!lockpath)
		return -ENOMEM;
	lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX)) {
		ret = -errno;
		log_err("cannot lock hash cache %s: %s", lockpath, strerror(errno));
		goto cleanup;
	}
	pthread_rwlock_wrlock(&c->lock);
	ret = load_file(c, 1);
	if (!ret) {
		b = serialise(c, &len);
		ret = b ? 0 : -ENOMEM;
	}
	pthread_rwlock_unlock(&c->lock);
	if (!ret)
		ret = write_atomic(c->dir, b, len);
	if (ret)
		log_err("cannot save hash cache in %s: %s", c->dir, strerror(-ret));
cleanup:
	if (lfd >= 0)
		close(lfd); /* releases the flock */
	free(b);
	free(lockpath);
	return ret;
}

void hashcache_close(struct hashcache *c)
{
	if (!c)
		return;
	pthread_rwlock_destroy(&c->lock);
	free(c->tab);
	free(c->dir);
	free(c);
}
