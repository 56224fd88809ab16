// SPDX-License-Identifier: BSD-2-Clause
/*
 * hashpool.c - SHA-256 of files on a pool of threads.
 *
 * A digest is only reported as the file's content when the file's (size, mtime, ctime) were the
 * same before and after reading it and the read ended exactly at the size fstat gave: anything
 * else means a writer raced us and the digest may mix two versions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "trace/hashpool.h"

#ifndef CHUNK
#define CHUNK (1 << 20)
#endif
#define SMALL_BUF (64 << 10)
#define RACY_NS (2 * INT64_C(1000000000))

struct qjob {
	struct hash_job job;
	struct qjob *next;
};

struct hashpool {
	struct hashcache *cache;
	hash_done_cb cb;
	void *cb_ctx;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t idle; /* pending dropped to 0 */
	struct qjob *head, *tail;
	uint64_t pending; /* submitted, callback not yet returned */
	int stop;
	struct hashpool_stats st;
};

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;

/* An explicit fetch: EVP_sha256()'s implicit fetch takes a global lock on every init. */
static void md_fetch(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
	pthread_once(&md_once, md_fetch);
	return md_sha256 ? md_sha256 : EVP_sha256();
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void fill_stat(struct hash_result *out, const struct stat *st)
{
	out->dev = st->st_dev;
	out->ino = st->st_ino;
	out->size = st->st_size;
	out->mtime_ns = ts_ns(&st->st_mtim);
	out->ctime_ns = ts_ns(&st->st_ctim);
}

static int same_version(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       ts_ns(&a->st_mtim) == ts_ns(&b->st_mtim) && ts_ns(&a->st_ctim) == ts_ns(&b->st_ctim);
}

/*
 * While hashing: unlinking (or linking) the file changes only its ctime and link count, not its
 * content, and a run that deletes a file it just opened is common; any write changes mtime and
 * any utimensat() that puts mtime back changes ctime without touching the link count.
 */
static int same_content(const struct stat *a, const struct stat *b)
{
	if (same_version(a, b))
		return 1;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       ts_ns(&a->st_mtim) == ts_ns(&b->st_mtim) && a->st_nlink != b->st_nlink;
}

static int open_ro(int dfd, const char *name)
{
	/* O_NOATIME keeps us from touching the training data's metadata; it needs ownership. */
	int fd = openat(dfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	return fd;
}

/*
 * open(2) fails with ENAMETOOLONG for a name of PATH_MAX bytes or more, yet the kernel reports
 * such names (a file renamed into a deep directory). The leading chunks, each below PATH_MAX and
 * split at '/', are opened as directories and the rest is resolved relative to the last one. The
 * kernel resolves ".." and symlinks on the real tree, so this finds what one open would: symlinks
 * are followed, none is refused. Returns AT_FDCWD (short names), a directory fd, or -1 with errno
 * set; *rest gets the part to resolve relative to it.
 */
static int long_dir(const char *path, const char **rest)
{
	char chunk[PATH_MAX];
	const char *p = path;
	int dfd = AT_FDCWD, e;

	while (strnlen(p, PATH_MAX) == PATH_MAX) {
		const char *s = memrchr(p, '/', PATH_MAX - 1);
		size_t n;
		int nfd;

		if (!s) {
			errno = ENAMETOOLONG; /* one component is too long: open(2) says the same */
			goto fail;
		}
		/* p starts with '/' only for the first chunk of an absolute name */
		n = s == p ? 1 : (size_t)(s - p);
		memcpy(chunk, p, n);
		chunk[n] = '\0';
		nfd = openat(dfd, chunk, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (nfd < 0)
			goto fail;
		if (dfd >= 0)
			close(dfd);
		dfd = nfd;
		for (p = s + 1; *p == '/'; p++)
			;
	}
	*rest = *p ? p : ".";
	return dfd;
fail:
	e = errno;
	if (dfd >= 0)
		close(dfd);
	errno = e;
	return -1;
}

int hash_stat(const char *path, struct stat *st, int flags)
{
	const char *rest;
	int dfd = long_dir(path, &rest), r, e;

	if (dfd == -1)
		return -1;
	r = fstatat(dfd, rest, st, flags);
	e = errno;
	if (dfd >= 0)
		close(dfd);
	errno = e;
	return r;
}

/* Reads fd to EOF into a sha256. 0, or -errno. */
static int digest_fd(int fd, uint8_t *buf, size_t buflen, uint8_t md[32], uint64_t *bytes)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = 0;

	*bytes = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, sha256_md(), NULL)) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		ssize_t r = read(fd, buf, buflen);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, r)) {
			ret = -EIO;
			goto cleanup;
		}
		*bytes += r;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		ret = -EIO;
cleanup:
	EVP_MD_CTX_free(ctx);
	return ret;
}

static int unexpected(const struct hash_job *job, const struct stat *st)
{
	return (job->expect_dev || job->expect_ino) &&
	       (st->st_dev != job->expect_dev || st->st_ino != job->expect_ino);
}

/*
 * Opens the job's file and checks it is the expected inode. Returns the fd, or -1 with
 * out->status set. *st receives the fstat.
 */
static int open_path(const struct hash_job *job, struct hash_result *out, struct stat *st)
{
	const char *name;
	int dfd, fd = -1;

	dfd = long_dir(job->path, &name);
	if (dfd == -1) {
		out->err = errno;
		out->status = errno == ENOENT ? HASH_VANISHED : HASH_UNREADABLE;
		return -1;
	}
	/* Opening a device can have side effects (a tape rewinds): look before opening. */
	if (fstatat(dfd, name, st, 0) == 0 && !S_ISREG(st->st_mode)) {
		fill_stat(out, st);
		out->status = unexpected(job, st) ? HASH_REPLACED : HASH_NOT_REGULAR;
		goto cleanup;
	}
	fd = open_ro(dfd, name);
	if (fd < 0) {
		out->err = errno;
		out->status = errno == ENOENT ? HASH_VANISHED : HASH_UNREADABLE;
		goto cleanup;
	}
	if (fstat(fd, st)) {
		out->err = errno;
		out->status = HASH_UNREADABLE;
	} else if (unexpected(job, st)) {
		fill_stat(out, st);
		out->status = HASH_REPLACED;
	} else {
		goto cleanup;
	}
	close(fd);
	fd = -1;
cleanup:
	if (dfd >= 0)
		close(dfd);
	return fd;
}

/* /proc/<pid>/fd/<fd> reopens the very file the process holds, even unlinked. */
static int open_proc_link(const struct hash_job *job, const char *link, struct hash_result *out,
			  struct stat *st)
{
	struct hash_job j = *job;
	struct hash_result r = {0};
	int fd;

	j.path = link;
	fd = open_path(&j, &r, st);
	if (fd >= 0)
		out->via_fd = 1;
	return fd;
}

/*
 * Whether a /proc link names the job's file: the expected inode when the job has one; otherwise
 * only an unlinked file the kernel still names by the job's path (it appends " (deleted)").
 */
static int link_matches(const struct hash_job *job, const char *link)
{
	static const char deleted[] = " (deleted)";
	size_t plen = strlen(job->path);
	char target[4096 + sizeof(deleted)];
	struct stat st;
	ssize_t n;

	if (stat(link, &st) || !S_ISREG(st.st_mode))
		return 0;
	if (job->expect_dev || job->expect_ino)
		return st.st_dev == job->expect_dev && st.st_ino == job->expect_ino;
	if (st.st_nlink != 0)
		return 0;
	n = readlink(link, target, sizeof(target));
	return n >= 0 && (size_t)n == plen + sizeof(deleted) - 1 &&
	       memcmp(target, job->path, plen) == 0 &&
	       memcmp(target + plen, deleted, sizeof(deleted) - 1) == 0;
}

/*
 * The LSM backend's file_open hook runs before the fd exists, so those jobs carry only the
 * opener's pid: look through every fd the process holds, then its file mappings (a loaded
 * library whose fd was closed; map_files needs CAP_SYS_ADMIN, which the collector has).
 */
static int scan_proc_dir(const struct hash_job *job, const char *sub, struct hash_result *out,
			 struct stat *st)
{
	char dir[64], link[64 + sizeof(((struct dirent *)0)->d_name)];
	struct dirent *e;
	DIR *d;
	int fd = -1;

	snprintf(dir, sizeof(dir), "/proc/%d/%s", (int)job->pid, sub);
	d = opendir(dir);
	if (!d)
		return -1;
	while (fd < 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		if (link_matches(job, link))
			fd = open_proc_link(job, link, out, st);
	}
	closedir(d);
	return fd;
}

static int open_via_proc(const struct hash_job *job, struct hash_result *out, struct stat *st)
{
	char p[64];
	int fd = -1;

	if (job->pid <= 0)
		return -1;
	if (job->fd >= 0) {
		snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)job->pid, (int)job->fd);
		fd = open_proc_link(job, p, out, st);
	}
	if (fd < 0)
		fd = scan_proc_dir(job, "fd", out, st);
	if (fd < 0)
		fd = scan_proc_dir(job, "map_files", out, st);
	return fd;
}

/*
 * Timestamps are coarse (a jiffy, or seconds on some filesystems): a same-size rewrite within
 * one tick of the version we hashed keeps (size, mtime, ctime), and a cached digest would then be
 * stale forever. So, like git's "racily clean" entries, a file changed less than RACY_NS ago is
 * hashed but not cached; once its ctime is older, any later write must move it.
 */
static int racy(const struct stat *st)
{
	struct timespec now;
	int64_t m = ts_ns(&st->st_mtim), c = ts_ns(&st->st_ctim);

	if (clock_gettime(CLOCK_REALTIME, &now))
		return 1;
	return ts_ns(&now) - (m > c ? m : c) < RACY_NS;
}

static void hash_open_fd(int fd, const struct stat *st, struct hashcache *cache, uint8_t *buf,
			 size_t buflen, struct hash_result *out)
{
	struct hashcache_key k = {st->st_dev, st->st_ino, st->st_size, ts_ns(&st->st_mtim),
				  ts_ns(&st->st_ctim)};
	struct stat after;
	int ret;

	fill_stat(out, st);
	if (!S_ISREG(st->st_mode)) {
		out->status = HASH_NOT_REGULAR;
		return;
	}
	if (hashcache_lookup(cache, &k, out->sha256)) {
		out->cached = 1;
		out->status = HASH_OK;
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	ret = digest_fd(fd, buf, buflen, out->sha256, &out->bytes_hashed);
	if (ret) {
		out->err = -ret;
		out->status = HASH_UNREADABLE;
		return;
	}
	if (fstat(fd, &after)) {
		out->err = errno;
		out->status = HASH_UNREADABLE;
		return;
	}
	if (!same_content(st, &after) || out->bytes_hashed != (uint64_t)st->st_size) {
		fill_stat(out, &after);
		out->status = HASH_CHANGED;
		return;
	}
	out->status = HASH_OK;
	if (!racy(st))
		hashcache_insert(cache, &k, out->sha256);
}

static int hash_file_buf(const struct hash_job *job, struct hashcache *cache, uint8_t *buf,
			 size_t buflen, struct hash_result *out)
{
	struct stat st;
	int fd;

	memset(out, 0, sizeof(*out));
	if (job->path_cut) {
		/* only an inode we can identify: with none expected, any file would do */
		fd = job->expect_dev || job->expect_ino ? open_via_proc(job, out, &st) : -1;
		if (fd < 0)
			out->status = HASH_NO_NAME;
	} else {
		fd = open_path(job, out, &st);
	}
	if (fd < 0 && (out->status == HASH_VANISHED || out->status == HASH_REPLACED)) {
		int vfd = open_via_proc(job, out, &st);

		if (vfd >= 0) {
			fd = vfd;
			out->err = 0;
		}
	}
	if (fd < 0)
		return out->status;
	hash_open_fd(fd, &st, cache, buf, buflen, out);
	close(fd);
	return out->status;
}

int hash_file(const struct hash_job *job, struct hashcache *cache, struct hash_result *out)
{
	uint8_t small[SMALL_BUF];
	uint8_t *big = malloc(CHUNK);
	int ret;

	/* A stack buffer still works when memory is short: hashing just takes more reads. */
	if (big)
		ret = hash_file_buf(job, cache, big, CHUNK, out);
	else
		ret = hash_file_buf(job, cache, small, sizeof(small), out);
	free(big);
	return ret;
}

static void account(struct hashpool *p, const struct hash_result *r)
{
	p->st.files++;
	p->st.bytes_hashed += r->bytes_hashed;
	p->st.cache_hits += r->cached ? 1 : 0;
	p->st.errors += r->status != HASH_OK ? 1 : 0;
}

static void *worker(void *arg)
{
	struct hashpool *p = arg;
	uint8_t *buf = malloc(CHUNK);
	size_t buflen = CHUNK;
	uint8_t small[SMALL_BUF];
	struct hash_result res;
	struct qjob *q;

	if (!buf) {
		buf = small;
		buflen = sizeof(small);
	}
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->head)
			break;
		q = p->head;
		p->head = q->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);

		hash_file_buf(&q->job, p->cache, buf, buflen, &res);
		if (p->cb)
			p->cb(&q->job, &res, p->cb_ctx);
		free(q);

		pthread_mutex_lock(&p->lock);
		account(p, &res);
		if (--p->pending == 0)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	if (buf != small)
		free(buf);
	return NULL;
}

struct hashpool *hashpool_new(int nthreads, struct hashcache *cache, hash_done_cb cb, void *cb_ctx)
{
	struct hashpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (nthreads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n > 0 ? (int)n : 1;
	}
	p->cache = cache;
	p->cb = cb;
	p->cb_ctx = cb_ctx;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads)
		goto fail;
	sha256_md();
	for (; p->nthreads < nthreads; p->nthreads++) {
		int err = pthread_create(&p->threads[p->nthreads], NULL, worker, p);

		if (err) {
			log_err("cannot start hash thread: %s", strerror(err));
			goto fail;
		}
	}
	return p;
fail:
	hashpool_free(p);
	return NULL;
}

int hashpool_submit(struct hashpool *p, const struct hash_job *job)
{
	size_t len = strlen(job->path) + 1;
	struct qjob *q = malloc(sizeof(*q) + len);

	if (!q)
		return -ENOMEM;
	q->job = *job;
	q->job.path = memcpy((char *)(q + 1), job->path, len);
	q->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = q;
	else
		p->head = q;
	p->tail = q;
	p->pending++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void hashpool_wait(struct hashpool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->pending)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void hashpool_stats(struct hashpool *p, struct hashpool_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}

void hashpool_free(struct hashpool *p)
{
	if (!p)
		return;
	if (p->nthreads)
		hashpool_wait(p);
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Only jobs left when threads failed to start. */
	while (p->head) {
		struct qjob *q = p->head;

		p->head = q->next;
		free(q);
	}
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}
