// SPDX-License-Identifier: BSD-2-Clause
/*
 * hashbench.c - hash every regular file under DIR with aicert's hash pool, for bench/hash.sh.
 *
 *   hashbench [-j N] [--cache DIR] [--repeat N] TREE
 *
 * The tree is listed (largest file first) before the clock starts so only hashing is timed; with
 * --repeat the best pass is reported (the machines are shared and noisy). With --cache, the cache
 * is loaded from DIR before the first pass and saved after the last. Prints one line of key=value
 * figures.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "lib/log.h"
#include "trace/hashcache.h"
#include "trace/hashpool.h"

struct ent {
	char *path;
	off_t size;
};

static struct ent *paths;
static size_t npaths, cap;
static unsigned long long total;

static int add(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (npaths == cap) {
		cap = cap ? 2 * cap : 4096;
		paths = realloc(paths, cap * sizeof(*paths));
		if (!paths)
			return -1;
	}
	paths[npaths].path = strdup(p);
	paths[npaths].size = st->st_size;
	if (!paths[npaths].path)
		return -1;
	npaths++;
	total += st->st_size;
	return 0;
}

/* Largest first, so no thread is left with one big file at the end of the pass. */
static int by_size(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int jobs = 0, repeat = 1;
	const char *cache_dir = NULL, *tree = NULL;
	struct hashcache *cache = NULL;
	struct hashpool_stats st = {0}, best_st = {0};
	double best = 0, best_cpu = 0;

	log_init("hashbench", LOG_WARN);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") && i + 1 < argc)
			jobs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cache") && i + 1 < argc)
			cache_dir = argv[++i];
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else
			tree = argv[i];
	}
	if (!tree || repeat < 1) {
		fprintf(stderr, "usage: hashbench [-j N] [--cache DIR] [--repeat N] TREE\n");
		return 2;
	}
	if (nftw(tree, add, 64, FTW_PHYS)) {
		perror(tree);
		return 1;
	}
	qsort(paths, npaths, sizeof(*paths), by_size);
	if (cache_dir) {
		int err;

		cache = hashcache_open(cache_dir, &err);
		if (!cache)
			return 1;
	}
	for (int r = 0; r < repeat; r++) {
		struct hashpool *p = hashpool_new(jobs, cache, NULL, NULL);
		double t0, c0, t;

		if (!p)
			return 1;
		t0 = now();
		c0 = cpu();
		for (size_t i = 0; i < npaths; i++) {
			struct hash_job j = {.path = paths[i].path, .fd = -1};

			if (hashpool_submit(p, &j))
				return 1;
		}
		hashpool_wait(p);
		t = now() - t0;
		hashpool_stats(p, &st);
		hashpool_free(p);
		if (r == 0 || t < best) {
			best = t;
			best_cpu = cpu() - c0;
			best_st = st;
		}
	}
	if (cache && hashcache_save(cache))
		return 1;
	hashcache_close(cache);
	printf("files=%llu bytes=%llu hashed=%llu hits=%llu errors=%llu seconds=%.4f mbps=%.1f "
	       "cpu_seconds=%.4f mbps_per_cpu=%.1f\n",
	       (unsigned long long)best_st.files, total, (unsigned long long)best_st.bytes_hashed,
	       (unsigned long long)best_st.cache_hits, (unsigned long long)best_st.errors, best,
	       best > 0 ? total / best / 1e6 : 0.0, best_cpu,
	       best_cpu > 0 ? total / best_cpu / 1e6 : 0.0);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i].path);
	free(paths);
	return 0;
}
