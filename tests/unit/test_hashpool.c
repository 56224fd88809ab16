// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_hashpool.c - hash_file and the hash pool: digests against known vectors and OpenSSL's
 * one-shot SHA256, every status, the cache, the pool against serial hashing, names longer than
 * PATH_MAX and names the kernel cut.
 * read(2) is wrapped (test_hashpool.ldflags) to inject an I/O error and a concurrent write.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "lib/hex.h"
#include "lib/log.h"
#include "trace/hashpool.h"
#include "testutil.h"

static char tmpdir[64];

/* ---- read(2) fault injection ---- */
ssize_t __real_read(int fd, void *buf, size_t n);
static int read_fail_errno;	/* next read fails with this */
static const char *read_mutate; /* before the next read, append a byte to this file */
static const char *read_unlink; /* before the next read, unlink this file */

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	if (read_fail_errno) {
		errno = read_fail_errno;
		read_fail_errno = 0;
		return -1;
	}
	if (read_unlink) {
		if (unlink(read_unlink))
			abort();
		read_unlink = NULL;
	}
	if (read_mutate) {
		int w = open(read_mutate, O_WRONLY | O_APPEND);

		read_mutate = NULL;
		if (w >= 0) {
			if (write(w, "!", 1) != 1)
				abort();
			close(w);
		}
	}
	return __real_read(fd, buf, n);
}

static int setup(void **state)
{
	log_init("test_hashpool", LOG_ERROR);
	return tu_mkdtemp(tmpdir, "hp");
}

static int teardown(void **state)
{
	return tu_rmrf(tmpdir);
}

static char *tpath(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

/* Deterministic pseudo-random bytes. */
static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *b = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		b[i] = (uint8_t)(seed >> 16);
	}
	return b;
}

/* Lets the files written so far get older than the cache's 2 s "racy" window. */
static void age(void)
{
	struct timespec t = {2, 200 * 1000 * 1000};

	nanosleep(&t, NULL);
}

static struct hash_job job_for(const char *path)
{
	struct hash_job j = {.path = path, .fd = -1};

	return j;
}

static void test_vectors(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	char *p = tpath("vec");
	struct hash_job j = job_for(p);
	struct hash_result r;
	char hex[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		tu_write_file(p, v[i].in, strlen(v[i].in));
		assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
		hex_encode(r.sha256, 32, hex);
		assert_string_equal(hex, v[i].hex);
		assert_int_equal(r.size, strlen(v[i].in));
		assert_int_equal(r.bytes_hashed, strlen(v[i].in));
		assert_int_equal(r.cached, 0);
		assert_int_equal(r.via_fd, 0);
	}
	free(p);
}

/* Sizes around the 1 MiB chunk boundary and the 64 KiB fallback. */
static void test_against_openssl(void **state)
{
	static const size_t sizes[] = {
	    1, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17};
	char *p = tpath("big");
	struct hash_job j = job_for(p);
	struct hash_result r;
	uint8_t md[32];
	struct stat st;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *b = pattern(sizes[i], (uint32_t)i);

		tu_write_file(p, b, sizes[i]);
		SHA256(b, sizes[i], md);
		assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
		assert_memory_equal(r.sha256, md, 32);
		assert_int_equal(r.bytes_hashed, sizes[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(r.dev, st.st_dev);
		assert_int_equal(r.ino, st.st_ino);
		assert_int_equal(r.size, sizes[i]);
		assert_int_equal(r.mtime_ns, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
		assert_int_equal(r.ctime_ns, st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
		free(b);
	}
	free(p);
}

static void test_cache(void **state)
{
	char *p = tpath("cached");
	struct hashcache *c = hashcache_open(NULL, NULL);
	struct hash_job j = job_for(p);
	struct hash_result r1, r2, r3;
	uint8_t *b = pattern(100000, 5);
	struct hashcache_key k;
	uint8_t got[32];

	tu_write_file(p, b, 100000);
	/* Just written: hashed, but not cached yet (a same-tick rewrite could hide). */
	assert_int_equal(hash_file(&j, c, &r1), HASH_OK);
	assert_int_equal(hashcache_count(c), 0);
	age();
	assert_int_equal(hash_file(&j, c, &r1), HASH_OK);
	assert_int_equal(r1.cached, 0);
	k = (struct hashcache_key){r1.dev, r1.ino, r1.size, r1.mtime_ns, r1.ctime_ns};
	assert_int_equal(hashcache_lookup(c, &k, got), 1);
	assert_memory_equal(got, r1.sha256, 32);
	assert_int_equal(hash_file(&j, c, &r2), HASH_OK);
	assert_int_equal(r2.cached, 1);
	assert_int_equal(r2.bytes_hashed, 0);
	assert_memory_equal(r2.sha256, r1.sha256, 32);
	/* New content: new ctime, so a miss and a different digest. */
	b[0] ^= 1;
	tu_write_file(p, b, 100000);
	assert_int_equal(hash_file(&j, c, &r3), HASH_OK);
	assert_int_equal(r3.cached, 0);
	assert_memory_not_equal(r3.sha256, r1.sha256, 32);
	hashcache_close(c);
	free(b);
	free(p);
}

static void test_vanished(void **state)
{
	char *p = tpath("does-not-exist");
	struct hash_job j = job_for(p);
	struct hash_result r;

	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);
	assert_int_equal(r.err, ENOENT);
	free(p);
}

/* As root, permissions do not stop a read: use paths open(2) itself refuses. */
static void test_unreadable(void **state)
{
	char *f = tpath("plain"), *through = tpath("plain/child"), *loop = tpath("loop");
	struct hash_job j = job_for(through);
	struct hash_result r;

	tu_write_file(f, "x", 1);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_UNREADABLE);
	assert_int_equal(r.err, ENOTDIR);
	assert_int_equal(symlink(loop, loop), 0);
	j.path = loop;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_UNREADABLE);
	assert_int_equal(r.err, ELOOP);
	/* A read error (EIO from a failing disk) */
	j.path = f;
	read_fail_errno = EIO;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_UNREADABLE);
	assert_int_equal(r.err, EIO);
	free(f);
	free(through);
	free(loop);
}

static void test_not_regular(void **state)
{
	char *fifo = tpath("fifo"), *dir = tpath("dir");
	struct hash_job j = job_for(fifo);
	struct hash_result r;

	/* A FIFO with no writer would block a plain open forever. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NOT_REGULAR);
	assert_int_equal(mkdir(dir, 0700), 0);
	j.path = dir;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NOT_REGULAR);
	j.path = "/dev/null";
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NOT_REGULAR);
	free(fifo);
	free(dir);
}

static void test_changed(void **state)
{
	char *p = tpath("growing");
	struct hashcache *c = hashcache_open(NULL, NULL);
	struct hash_job j = job_for(p);
	struct hash_result r;
	uint8_t *b = pattern(200000, 9);

	tu_write_file(p, b, 200000);
	read_mutate = p; /* a writer appends while we read */
	assert_int_equal(hash_file(&j, c, &r), HASH_CHANGED);
	assert_int_equal(r.size, 200001);	 /* the size after */
	assert_int_equal(hashcache_count(c), 0); /* a torn digest is never cached */
	assert_int_equal(hash_file(&j, c, &r), HASH_OK);
	assert_int_equal(r.size, 200001);
	assert_int_equal(hashcache_count(c), 0); /* too recent to cache */
	hashcache_close(c);
	free(b);
	free(p);
}

/* A run that deletes a file it has just opened changes its ctime and link count, not its
 * content: the digest stands. */
static void test_unlinked_while_hashing(void **state)
{
	char *p = tpath("scratch.bin");
	struct hash_job j = job_for(p);
	struct hash_result r;
	uint8_t *b = pattern(300000, 4), md[32];

	tu_write_file(p, b, 300000);
	read_unlink = p;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	SHA256(b, 300000, md);
	assert_memory_equal(r.sha256, md, 32);
	assert_int_equal(r.size, 300000);
	free(b);
	free(p);
}

static void test_replaced(void **state)
{
	char *a = tpath("model.pt"), *b = tpath("model.pt.tmp");
	struct hash_job j = job_for(a);
	struct hash_result r, ra;
	struct stat st;
	uint8_t md[32];
	int fd;

	tu_write_file(a, "old weights", 11);
	assert_int_equal(stat(a, &st), 0);
	j.expect_dev = st.st_dev;
	j.expect_ino = st.st_ino;
	assert_int_equal(hash_file(&j, NULL, &ra), HASH_OK);
	fd = open(a, O_RDONLY);
	assert_true(fd >= 0);

	tu_write_file(b, "new weights", 11);
	assert_int_equal(rename(b, a), 0);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_REPLACED);
	assert_int_not_equal(r.ino, st.st_ino); /* reports the inode now found */

	/* With the opener's fd the old inode is still reachable. */
	j.pid = getpid();
	j.fd = fd;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_int_equal(r.ino, st.st_ino);
	SHA256((const uint8_t *)"old weights", 11, md);
	assert_memory_equal(r.sha256, md, 32);

	/* Vanished (unlinked but open) falls back the same way. */
	assert_int_equal(unlink(a), 0);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_memory_equal(r.sha256, md, 32);
	close(fd);
	/* No such fd any more: the path's own status stands. */
	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);
	assert_int_equal(r.via_fd, 0);
	free(a);
	free(b);
}

/*
 * A child opens (or maps) the file and waits; the parent hashes with the child's pid and no fd,
 * as the LSM backend's jobs arrive.
 */
struct holder {
	pid_t pid;
	int release; /* write end: closing it lets the child exit */
};

static struct holder hold_open(const char *path, int map)
{
	struct holder h;
	int ready[2], release[2];
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	h.pid = fork();
	assert_true(h.pid >= 0);
	if (h.pid == 0) {
		int fd = open(path, O_RDONLY);
		void *m = NULL;

		if (fd < 0)
			_exit(1);
		if (map) {
			m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED)
				_exit(1);
			close(fd); /* only the mapping keeps the file */
		}
		close(ready[0]);
		close(release[1]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(release[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	h.release = release[1];
	return h;
}

static void release_holder(struct holder h)
{
	int ws;

	close(h.release);
	assert_int_equal(waitpid(h.pid, &ws, 0), h.pid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static void test_pid_without_fd(void **state)
{
	char *a = tpath("ckpt.pt"), *b = tpath("ckpt.pt.tmp"), *d = tpath("data.bin"),
	     *m = tpath("libx.so");
	struct hash_job j = job_for(a);
	struct hash_result r;
	struct holder h;
	struct stat st;
	uint8_t md[32], mdm[32];
	uint8_t *lib = pattern(8192, 3);

	tu_write_file(a, "epoch 1", 7);
	assert_int_equal(stat(a, &st), 0);
	SHA256((const uint8_t *)"epoch 1", 7, md);
	h = hold_open(a, 0);
	j.expect_dev = st.st_dev;
	j.expect_ino = st.st_ino;
	j.pid = h.pid;

	/* Replaced by a rename: the child's fd still reaches the inode it opened. */
	tu_write_file(b, "epoch 2", 7);
	assert_int_equal(rename(b, a), 0);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_int_equal(r.ino, st.st_ino);
	assert_memory_equal(r.sha256, md, 32);

	/* Vanished: the same. */
	assert_int_equal(unlink(a), 0);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_memory_equal(r.sha256, md, 32);

	/* Another process (ours) holds no such inode: the path's own status stands. */
	j.pid = getpid();
	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);
	assert_int_equal(r.via_fd, 0);
	release_holder(h);
	/* The holder is gone. */
	j.pid = h.pid;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);
	assert_int_equal(r.via_fd, 0);

	/* No expected inode: only an unlinked file the kernel still names by this path matches. */
	tu_write_file(d, "rows", 4);
	h = hold_open(d, 0);
	j = job_for(d);
	j.pid = h.pid;
	assert_int_equal(unlink(d), 0);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	SHA256((const uint8_t *)"rows", 4, md);
	assert_memory_equal(r.sha256, md, 32);
	j.path = a; /* a different (vanished) path */
	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);
	release_holder(h);

	/* A mapping with its fd closed (a loaded library) is found through map_files. */
	tu_write_file(m, lib, 8192);
	assert_int_equal(stat(m, &st), 0);
	SHA256(lib, 8192, mdm);
	h = hold_open(m, 1);
	assert_int_equal(unlink(m), 0);
	j = job_for(m);
	j.pid = h.pid;
	j.expect_dev = st.st_dev;
	j.expect_ino = st.st_ino;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_memory_equal(r.sha256, mdm, 32);
	release_holder(h);
	free(lib);
	free(a);
	free(b);
	free(d);
	free(m);
}

/* ---- the pool ---- */

#define NFILES 400

struct collected {
	pthread_mutex_t lock;
	struct hash_result res[NFILES];
	int seen[NFILES];
	int calls;
};

static void on_done(const struct hash_job *job, const struct hash_result *res, void *ctx)
{
	struct collected *c = ctx;
	intptr_t i = (intptr_t)job->ctx;

	pthread_mutex_lock(&c->lock);
	c->res[i] = *res;
	c->seen[i]++;
	c->calls++;
	pthread_mutex_unlock(&c->lock);
}

static char **make_files(uint64_t *total)
{
	char **paths = calloc(NFILES, sizeof(*paths)), name[32];

	*total = 0;
	for (int i = 0; i < NFILES; i++) {
		/* mostly small, a few of several MiB */
		size_t n = i % 50 == 0 ? (size_t)(2 << 20) + i : (size_t)(i * 37 % 9000);
		uint8_t *b = pattern(n, (uint32_t)i + 100);

		snprintf(name, sizeof(name), "pool-%d", i);
		paths[i] = tpath(name);
		tu_write_file(paths[i], b, n);
		*total += n;
		free(b);
	}
	age();
	return paths;
}

static void run_pool(int threads, char **paths, struct hashcache *cache, struct collected *col,
		     struct hashpool_stats *st)
{
	struct hashpool *p;

	memset(col, 0, sizeof(*col));
	pthread_mutex_init(&col->lock, NULL);
	p = hashpool_new(threads, cache, on_done, col);
	assert_non_null(p);
	hashpool_wait(p); /* nothing queued yet: returns at once */
	for (intptr_t i = 0; i < NFILES; i++) {
		struct hash_job j = job_for(paths[i]);

		j.ctx = (void *)i;
		assert_int_equal(hashpool_submit(p, &j), 0);
	}
	hashpool_wait(p);
	assert_int_equal(col->calls, NFILES);
	hashpool_stats(p, st);
	hashpool_free(p);
	pthread_mutex_destroy(&col->lock);
}

static void test_pool(void **state)
{
	static struct collected col;
	struct hashcache *cache = hashcache_open(NULL, NULL);
	struct hashpool_stats st;
	uint64_t total;
	char **paths = make_files(&total);
	static const int threads[] = {1, 4, 0};

	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		run_pool(threads[t], paths, NULL, &col, &st);
		assert_int_equal(st.files, NFILES);
		assert_int_equal(st.bytes_hashed, total);
		assert_int_equal(st.errors, 0);
		assert_int_equal(st.cache_hits, 0);
		for (int i = 0; i < NFILES; i++) {
			struct hash_job j = job_for(paths[i]);
			struct hash_result serial;

			assert_int_equal(col.seen[i], 1);
			assert_int_equal(hash_file(&j, NULL, &serial), HASH_OK);
			assert_int_equal(col.res[i].status, HASH_OK);
			assert_memory_equal(col.res[i].sha256, serial.sha256, 32);
		}
	}
	/* Warm the cache, then a second pass reads nothing. */
	run_pool(4, paths, cache, &col, &st);
	assert_int_equal(st.bytes_hashed, total);
	run_pool(4, paths, cache, &col, &st);
	assert_int_equal(st.cache_hits, NFILES);
	assert_int_equal(st.bytes_hashed, 0);
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(col.res[i].cached, 1);
	/* Errors are counted and still reported. */
	unlink(paths[3]);
	run_pool(2, paths, cache, &col, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(col.res[3].status, HASH_VANISHED);
	for (int i = 0; i < NFILES; i++)
		free(paths[i]);
	free(paths);
	hashcache_close(cache);
	hashpool_free(NULL);
}

/*
 * Makes depth directories of 200-byte names below base, through dir fds (the whole name is too
 * long for mkdir(2)), and returns the fd of the deepest one. *path gets base followed by the
 * components; at level link_at the path names a symlink to that level's directory instead.
 */
static int deep_dirs(const char *base, int depth, int link_at, char **path)
{
	char comp[201], lname[16];
	size_t len = strlen(base), cap = len + 1 + (size_t)depth * 202;
	char *p = malloc(cap);
	int dfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);

	assert_non_null(p);
	assert_true(dfd >= 0);
	memcpy(p, base, len + 1);
	for (int i = 0; i < depth; i++) {
		int nfd;

		memset(comp, 'a' + i % 26, 200);
		comp[200] = '\0';
		assert_int_equal(mkdirat(dfd, comp, 0755), 0);
		if (i == link_at) {
			snprintf(lname, sizeof(lname), "link%d", i);
			assert_int_equal(symlinkat(comp, dfd, lname), 0);
			/* a doubled slash, as open(2) allows */
			len += (size_t)snprintf(p + len, cap - len, "//%s", lname);
		} else {
			len += (size_t)snprintf(p + len, cap - len, "/%s", comp);
		}
		nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		assert_true(nfd >= 0);
		close(dfd);
		dfd = nfd;
	}
	*path = p;
	return dfd;
}

static char *join(const char *a, const char *b)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

/* Names longer than PATH_MAX are opened chunk by chunk, following symlinks as open(2) does. */
static void test_long_path(void **state)
{
	char *base = tpath("deep"), *dirpath, *file, *missing, *through, *huge;
	struct hash_job j;
	struct hash_result r;
	struct stat st, want;
	uint8_t md[32];
	int dfd, fd, held;

	assert_int_equal(mkdir(base, 0755), 0);
	dfd = deep_dirs(base, 30, 12, &dirpath);
	file = join(dirpath, "weights.bin");
	assert_true(strlen(file) > PATH_MAX + 1000);
	fd = openat(dfd, "weights.bin", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "deep weights", 12), 12);
	close(fd);
	SHA256((const uint8_t *)"deep weights", 12, md);

	/* open(2) itself refuses the name */
	assert_int_equal(open(file, O_RDONLY), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	j = job_for(file);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_memory_equal(r.sha256, md, 32);
	assert_int_equal(r.size, 12);
	assert_int_equal(r.via_fd, 0);
	assert_int_equal(fstatat(dfd, "weights.bin", &want, 0), 0);
	assert_int_equal(r.ino, want.st_ino);
	assert_int_equal(hash_stat(file, &st, 0), 0);
	assert_int_equal(st.st_ino, want.st_ino);
	assert_int_equal(hash_stat(dirpath, &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* a trailing slash names the directory, as for stat(2) */
	through = join(dirpath, "");
	assert_int_equal(hash_stat(through, &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(through);

	/* the statuses of a short name */
	missing = join(dirpath, "nope.bin");
	j = job_for(missing);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);
	assert_int_equal(r.err, ENOENT);
	assert_int_equal(hash_stat(missing, &st, 0), -1);
	assert_int_equal(errno, ENOENT);
	through = join(file, "x/y");
	j = job_for(through);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_UNREADABLE);
	assert_int_equal(r.err, ENOTDIR);
	j = job_for(dirpath);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NOT_REGULAR);
	/* one component longer than PATH_MAX cannot be split: the error open(2) gives */
	huge = malloc(PATH_MAX + 100);
	assert_non_null(huge);
	memset(huge, 'z', PATH_MAX + 99);
	huge[0] = '/';
	huge[PATH_MAX + 99] = '\0';
	j = job_for(huge);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_UNREADABLE);
	assert_int_equal(r.err, ENAMETOOLONG);
	/* the same after a directory that exists */
	memcpy(huge, tmpdir, strlen(tmpdir));
	huge[strlen(tmpdir)] = '/';
	assert_int_equal(hash_stat(huge, &st, 0), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	/* deleted while a process holds it: the /proc fallback still works */
	held = openat(dfd, "weights.bin", O_RDONLY | O_CLOEXEC);
	assert_true(held >= 0);
	assert_int_equal(unlinkat(dfd, "weights.bin", 0), 0);
	j = job_for(file);
	j.expect_dev = want.st_dev;
	j.expect_ino = want.st_ino;
	j.pid = getpid();
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_memory_equal(r.sha256, md, 32);
	close(held);
	assert_int_equal(hash_file(&j, NULL, &r), HASH_VANISHED);

	close(dfd);
	free(huge);
	free(missing);
	free(through);
	free(file);
	free(dirpath);
	free(base);
}

/*
 * A name the kernel cut may name another file: it is never opened. Only the inode the record
 * gave, held by the process, is hashed.
 */
static void test_path_cut(void **state)
{
	char *real = tpath("cut-real.bin"), *decoy = tpath("cut-decoy.bin");
	struct hash_job j;
	struct hash_result r;
	struct stat st;
	uint8_t md[32], zero[32] = {0};
	int held;

	tu_write_file(real, "what the run read", 17);
	tu_write_file(decoy, "another file", 12);
	assert_int_equal(stat(real, &st), 0);
	SHA256((const uint8_t *)"what the run read", 17, md);
	held = open(real, O_RDONLY | O_CLOEXEC);
	assert_true(held >= 0);

	j = job_for(decoy);
	j.path_cut = 1;
	j.expect_dev = st.st_dev;
	j.expect_ino = st.st_ino;
	j.pid = getpid();
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_int_equal(r.via_fd, 1);
	assert_int_equal(r.ino, st.st_ino);
	assert_memory_equal(r.sha256, md, 32);
	/* the fd the record named */
	j.fd = held;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_OK);
	assert_memory_equal(r.sha256, md, 32);

	/* without an expected inode any held file would do: none is taken */
	j.fd = -1;
	j.expect_dev = j.expect_ino = 0;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NO_NAME);
	assert_int_equal(r.bytes_hashed, 0);
	assert_memory_equal(r.sha256, zero, 32);
	/* no process */
	j.expect_dev = st.st_dev;
	j.expect_ino = st.st_ino;
	j.pid = 0;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NO_NAME);
	/* nobody holds it any more: the decoy the name gives is not hashed instead */
	close(held);
	j.pid = getpid();
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NO_NAME);
	assert_int_equal(r.bytes_hashed, 0);
	assert_memory_equal(r.sha256, zero, 32);
	/* even when the cut name happens to be the file itself */
	j.path = real;
	assert_int_equal(hash_file(&j, NULL, &r), HASH_NO_NAME);
	free(real);
	free(decoy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),	   cmocka_unit_test(test_against_openssl),
	    cmocka_unit_test(test_cache),	   cmocka_unit_test(test_vanished),
	    cmocka_unit_test(test_unreadable),	   cmocka_unit_test(test_not_regular),
	    cmocka_unit_test(test_changed),	   cmocka_unit_test(test_unlinked_while_hashing),	   cmocka_unit_test(test_replaced),
	    cmocka_unit_test(test_pid_without_fd), cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_long_path),	   cmocka_unit_test(test_path_cut),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
