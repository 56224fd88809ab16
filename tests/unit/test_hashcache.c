// SPDX-License-Identifier: BSD-2-Clause
/* test_hashcache.c - the persistent (dev, ino, size, mtime, ctime) -> sha256 cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "trace/hashcache.h"
#include "testutil.h"
#include "testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
	log_init("test_hashcache", LOG_ERROR);
	return tu_mkdtemp(tmpdir, "hc");
}

static int teardown(void **state)
{
	return tu_rmrf(tmpdir);
}

static struct hashcache_key key(uint64_t i)
{
	struct hashcache_key k = {2049, 1000 + i, 4096 * i, 1700000000000000000 + (int64_t)i,
				  1700000000000000001 + (int64_t)i};
	return k;
}

static void digest(uint64_t i, uint8_t out[32])
{
	for (int j = 0; j < 32; j++)
		out[j] = (uint8_t)(i * 31 + j);
}

/* Entries key(i) -> digest(i) for i < n. */
static void insert_keys(struct hashcache *c, uint64_t n)
{
	struct hashcache_key k;
	uint8_t d[32];

	for (uint64_t i = 0; i < n; i++) {
		k = key(i);
		digest(i, d);
		hashcache_insert(c, &k, d);
	}
}

/* c holds key(i) -> digest(i) for every i < n. */
static void assert_keys(struct hashcache *c, uint64_t n)
{
	struct hashcache_key k;
	uint8_t d[32], got[32];

	for (uint64_t i = 0; i < n; i++) {
		k = key(i);
		digest(i, d);
		assert_int_equal(hashcache_lookup(c, &k, got), 1);
		assert_memory_equal(got, d, 32);
	}
}

static char *cache_dir(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static void test_memory_hit_miss(void **state)
{
	struct hashcache *c = hashcache_open(NULL, NULL);
	struct hashcache_key k = key(1), k2;
	uint8_t d[32], got[32];

	assert_non_null(c);
	assert_int_equal(hashcache_lookup(c, &k, got), 0);
	digest(1, d);
	hashcache_insert(c, &k, d);
	assert_int_equal(hashcache_lookup(c, &k, got), 1);
	assert_memory_equal(got, d, 32);
	/* Any field of the key changing is a different version of the file. */
	for (int f = 0; f < 5; f++) {
		k2 = k;
		switch (f) {
		case 0:
			k2.dev++;
			break;
		case 1:
			k2.ino++;
			break;
		case 2:
			k2.size++;
			break;
		case 3:
			k2.mtime_ns++;
			break;
		case 4:
			k2.ctime_ns++;
			break;
		}
		assert_int_equal(hashcache_lookup(c, &k2, got), 0);
	}
	/* Re-insert replaces. */
	digest(2, d);
	hashcache_insert(c, &k, d);
	assert_int_equal(hashcache_lookup(c, &k, got), 1);
	assert_memory_equal(got, d, 32);
	assert_int_equal(hashcache_count(c), 1);
	assert_int_equal(hashcache_save(c), 0); /* in-memory: nothing to do */
	hashcache_close(c);
	hashcache_close(NULL);
}

static void test_growth(void **state)
{
	struct hashcache *c = hashcache_open(NULL, NULL);
	struct hashcache_key k;
	uint8_t got[32];

	insert_keys(c, 20000);
	assert_int_equal(hashcache_count(c), 20000);
	assert_keys(c, 20000);
	k = key(20000);
	assert_int_equal(hashcache_lookup(c, &k, got), 0);
	hashcache_close(c);
}

static void test_persist(void **state)
{
	char dir[128], path[256];
	struct hashcache *c;
	struct stat st;
	int err = -1;

	/* Missing parents are created too. */
	snprintf(dir, sizeof(dir), "%s/persist/sub", tmpdir);
	c = hashcache_open(dir, &err);
	assert_non_null(c);
	assert_int_equal(err, 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	insert_keys(c, 100);
	assert_int_equal(hashcache_save(c), 0);
	hashcache_close(c);
	snprintf(path, sizeof(path), "%s/hashcache.bin", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 24 + 100 * 72 + 32);

	c = hashcache_open(dir, &err);
	assert_non_null(c);
	assert_int_equal(hashcache_count(c), 100);
	assert_keys(c, 100);
	hashcache_close(c);
}

static void test_merge(void **state)
{
	char *dir = cache_dir("merge");
	struct hashcache *a = hashcache_open(dir, NULL), *b = hashcache_open(dir, NULL), *c;
	struct hashcache_key k1 = key(1), k2 = key(2), k3 = key(3);
	uint8_t d1[32], d2[32], d3[32], dx[32], got[32];

	assert_non_null(a);
	assert_non_null(b);
	digest(1, d1);
	digest(2, d2);
	digest(3, d3);
	digest(99, dx);
	hashcache_insert(a, &k1, d1);
	hashcache_insert(a, &k3, dx); /* b's value for k3 must win when b saves last */
	assert_int_equal(hashcache_save(a), 0);
	hashcache_insert(b, &k2, d2);
	hashcache_insert(b, &k3, d3);
	assert_int_equal(hashcache_save(b), 0);
	/* b loaded before a saved, yet its save keeps a's entries. */
	assert_int_equal(hashcache_count(b), 3);
	c = hashcache_open(dir, NULL);
	assert_int_equal(hashcache_count(c), 3);
	assert_int_equal(hashcache_lookup(c, &k1, got), 1);
	assert_memory_equal(got, d1, 32);
	assert_int_equal(hashcache_lookup(c, &k2, got), 1);
	assert_memory_equal(got, d2, 32);
	assert_int_equal(hashcache_lookup(c, &k3, got), 1);
	assert_memory_equal(got, d3, 32);
	hashcache_close(a);
	hashcache_close(b);
	hashcache_close(c);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
}

/* A corrupt file is ignored (empty cache), and a save replaces it with a good one. */
static void check_corrupt(const char *dir, const uint8_t *bytes, size_t n)
{
	char path[256];
	struct hashcache *c;
	struct hashcache_key k = key(7);
	uint8_t d[32], got[32];
	int err = -1;

	snprintf(path, sizeof(path), "%s/hashcache.bin", dir);
	write_bytes(path, bytes, n);
	c = hashcache_open(dir, &err);
	assert_non_null(c);
	assert_int_equal(err, 0);
	assert_int_equal(hashcache_count(c), 0);
	digest(7, d);
	hashcache_insert(c, &k, d);
	assert_int_equal(hashcache_save(c), 0);
	hashcache_close(c);
	c = hashcache_open(dir, NULL);
	assert_int_equal(hashcache_count(c), 1);
	assert_int_equal(hashcache_lookup(c, &k, got), 1);
	hashcache_close(c);
}

static void test_corrupt(void **state)
{
	char *dir = cache_dir("corrupt"), path[256];
	struct hashcache *c = hashcache_open(dir, NULL);
	uint8_t *good, *bad;
	size_t n;

	insert_keys(c, 10);
	assert_int_equal(hashcache_save(c), 0);
	hashcache_close(c);
	snprintf(path, sizeof(path), "%s/hashcache.bin", dir);
	good = tu_read_file(path, &n);
	assert_non_null(good);
	bad = malloc(n);

	check_corrupt(dir, (const uint8_t *)"garbage", 7);
	check_corrupt(dir, good, n - 1); /* truncated */
	memcpy(bad, good, n);
	bad[24 + 3 * 72 + 40] ^= 1; /* one digest bit: the trailer catches it */
	check_corrupt(dir, bad, n);
	memcpy(bad, good, n);
	bad[16] = 11; /* count says 11 */
	check_corrupt(dir, bad, n);
	memcpy(bad, good, n);
	bad[0] = 'X'; /* magic */
	check_corrupt(dir, bad, n);
	check_corrupt(dir, good, 0); /* empty */
	free(bad);
	free(good);
}

static void test_open_errors(void **state)
{
	char path[256];
	int err = 0;

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	write_bytes(path, "x", 1);
	snprintf(path, sizeof(path), "%s/file/cache", tmpdir);
	assert_null(hashcache_open(path, &err));
	assert_int_equal(err, ENOTDIR);
}

struct thr {
	struct hashcache *c;
	uint64_t base;
	int misses;
};

static void *thr_fn(void *arg)
{
	struct thr *t = arg;
	uint8_t d[32], got[32];

	for (uint64_t i = 0; i < 5000; i++) {
		struct hashcache_key k = key(t->base + i);

		digest(t->base + i, d);
		hashcache_insert(t->c, &k, d);
		if (!hashcache_lookup(t->c, &k, got) || memcmp(got, d, 32))
			t->misses++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct hashcache *c = hashcache_open(NULL, NULL);
	struct thr t[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){c, (uint64_t)i * 100000, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thr_fn, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].misses, 0);
	}
	assert_int_equal(hashcache_count(c), 20000);
	hashcache_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory_hit_miss), cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_persist),	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_corrupt),	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
