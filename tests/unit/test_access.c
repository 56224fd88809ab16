// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_access.c - the kernel side of tracing loaded for real (needs root; skipped otherwise):
 * records say which scope entry (run) they belong to when two runs are traced at once, and
 * access_sync hands over every record committed before it without stopping the drain.
 * AICERT_BACKEND=lsm|tracepoint picks the backend (default: auto).
 */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <access.h>
#include "lib/log.h"
#include "trace/access.h"
#include "trace/cgroup.h"
#include "testutil.h"

#define SYNC_FILES 300
#define MAX_RECS 65536

struct rec {
	uint32_t type, tgid;
	uint64_t scope, cgroup_id;
	char path[128]; /* file records: the path, when it fits */
};

static struct access *acc;
static struct run_cgroup cga = {.events_fd = -1}, cgb = {.events_fd = -1};
static char dir[128];
static int made_dir;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static size_t nrecs;
/* while closed, the callback blocks: records pile up in the ring buffer behind the drain */
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_closed;

static void gate(int closed)
{
	pthread_mutex_lock(&lock);
	gate_closed = closed;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&lock);
}

static void on_rec(const void *data, size_t len, void *ctx)
{
	const struct ac_hdr *h = data;
	const struct ac_task *t;
	struct rec r = {.type = h->type};

	(void)ctx;
	(void)len;
	if (h->type == AC_REC_FILE) {
		const struct ac_file *f = data;
		size_t n = strlen(f->path);

		t = &f->task;
		if (n < sizeof(r.path)) /* longer ones are none of the test's files */
			memcpy(r.path, f->path, n + 1);
	} else if (h->type == AC_REC_RENAME) {
		t = &((const struct ac_rename *)data)->task;
	} else {
		t = &((const struct ac_proc *)data)->task;
	}
	r.tgid = t->tgid;
	r.scope = t->scope;
	r.cgroup_id = t->cgroup_id;
	pthread_mutex_lock(&lock);
	while (gate_closed)
		pthread_cond_wait(&gate_cond, &lock);
	if (nrecs < MAX_RECS)
		recs[nrecs++] = r;
	pthread_mutex_unlock(&lock);
}

static int group_setup(void **state)
{
	const char *b = getenv("AICERT_BACKEND");
	struct access_opts o = {.backend = ACCESS_BACKEND_AUTO};
	char name[64];
	int err;

	(void)state;
	if (geteuid() != 0)
		return 0; /* every test skips */
	log_init("test_access", LOG_WARN);
	if (b && (err = access_backend_parse(b)) >= 0)
		o.backend = err;
	recs = calloc(MAX_RECS, sizeof(*recs));
	snprintf(dir, sizeof(dir), "%s/aicert-test-access.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!recs || !mkdtemp(dir)) {
		fprintf(stderr, "test_access: cannot make %s: %s\n", dir, strerror(errno));
		return -1;
	}
	made_dir = 1;
	acc = access_open(&o, &err);
	if (!acc)
		return -1; /* said why */
	snprintf(name, sizeof(name), "test-access-a-%d", (int)getpid());
	if (run_cgroup_create(&cga, name))
		return -1;
	snprintf(name, sizeof(name), "test-access-b-%d", (int)getpid());
	if (run_cgroup_create(&cgb, name))
		return -1;
	if (access_scope_add(acc, cga.id) || access_scope_add(acc, cgb.id) ||
	    access_start(acc, on_rec, NULL)) {
		fprintf(stderr, "test_access: cannot scope or start the backend\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (acc) {
		access_stop(acc);
		access_close(acc);
	}
	if (cga.id)
		run_cgroup_destroy(&cga, 1);
	if (cgb.id)
		run_cgroup_destroy(&cgb, 1);
	if (made_dir && tu_rmrf(dir))
		return -1;
	free(recs);
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
	assert_non_null(acc);
}

static const char *in_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

static void put(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
}

/* A child that joins cg (NULL: stays where the test is), reads the n files, exits with 0. */
static pid_t reader(const struct run_cgroup *cg, char **paths, int n)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		if (cg && run_cgroup_join(cg))
			_exit(2);
		for (int i = 0; i < n; i++) {
			int fd = open(paths[i], O_RDONLY);

			if (fd < 0 || read(fd, &c, 1) != 1)
				_exit(3);
			close(fd);
		}
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Records of process tgid: how many, and how many of them have a scope other than want. */
static void of_tgid(uint32_t tgid, uint64_t want, size_t *n, size_t *wrong)
{
	*n = *wrong = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].tgid == tgid) {
			(*n)++;
			*wrong += recs[i].scope != want;
		}
	pthread_mutex_unlock(&lock);
}

static size_t with_path(const char *path, uint32_t type, uint64_t scope)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nrecs; i++)
		n += recs[i].type == type && !strcmp(recs[i].path, path) &&
		     (!scope || recs[i].scope == scope);
	pthread_mutex_unlock(&lock);
	return n;
}

/*
 * Two runs at once: a process in each cgroup reads a file of its own, a third process outside
 * both reads a third file. Each record names its own run's cgroup, never the other's; the
 * outsider leaves none.
 */
static void test_two_scopes(void **state)
{
	char a[256], b[256], c[256], *pa[1] = {a}, *pb[1] = {b}, *pc[1] = {c};
	size_t n, wrong;
	pid_t ka, kb, kc;

	(void)state;
	need_root();
	put(in_dir("scope-a.txt", a, sizeof(a)));
	put(in_dir("scope-b.txt", b, sizeof(b)));
	put(in_dir("outside.txt", c, sizeof(c)));
	ka = reader(&cga, pa, 1);
	kb = reader(&cgb, pb, 1);
	kc = reader(NULL, pc, 1);
	reap(ka);
	reap(kb);
	reap(kc);
	assert_int_equal(access_sync(acc, 10000), 0);

	assert_int_equal(with_path(a, AC_REC_FILE, cga.id), 1);
	assert_int_equal(with_path(a, AC_REC_FILE, 0), 1);
	assert_int_equal(with_path(b, AC_REC_FILE, cgb.id), 1);
	assert_int_equal(with_path(b, AC_REC_FILE, 0), 1);
	assert_int_equal(with_path(c, AC_REC_FILE, 0), 0);
	of_tgid(ka, cga.id, &n, &wrong);
	assert_true(n >= 2); /* the read and the exit at least */
	assert_int_equal(wrong, 0);
	of_tgid(kb, cgb.id, &n, &wrong);
	assert_true(n >= 2);
	assert_int_equal(wrong, 0);
	of_tgid(kc, 0, &n, &wrong);
	assert_int_equal(n, 0);
	/* every record belongs to one of the two runs, and its task sat in that cgroup */
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nrecs; i++) {
		assert_true(recs[i].scope == cga.id || recs[i].scope == cgb.id);
		assert_true(recs[i].cgroup_id == recs[i].scope);
	}
	pthread_mutex_unlock(&lock);
}

/*
 * The drain barrier: a process of a run reads SYNC_FILES distinct files and exits while the
 * callback is held up, so that its records wait in the ring buffer; the callback is let go and,
 * once access_sync returns, it has seen all of them and the exit, with the drain thread still
 * running.
 */
static void test_sync_all_seen(void **state)
{
	static char bufs[SYNC_FILES][256];
	char *paths[SYNC_FILES], name[32];
	size_t n, wrong, seen = 0;
	struct timespec t0, t1;
	pid_t k;

	(void)state;
	need_root();
	for (int i = 0; i < SYNC_FILES; i++) {
		snprintf(name, sizeof(name), "sync-%03d", i);
		paths[i] = (char *)in_dir(name, bufs[i], sizeof(bufs[i]));
		put(paths[i]);
	}
	gate(1);
	k = reader(&cgb, paths, SYNC_FILES);
	reap(k);
	gate(0);
	assert_int_equal(access_sync(acc, 10000), 0);
	for (int i = 0; i < SYNC_FILES; i++)
		seen += with_path(paths[i], AC_REC_FILE, cgb.id);
	assert_int_equal(seen, SYNC_FILES);
	of_tgid(k, cgb.id, &n, &wrong);
	assert_int_equal(n, SYNC_FILES + 1); /* the reads and the exit */
	assert_int_equal(wrong, 0);
	pthread_mutex_lock(&lock);
	n = 0;
	for (size_t i = 0; i < nrecs; i++)
		n += recs[i].tgid == (uint32_t)k && recs[i].type == AC_REC_EXIT;
	pthread_mutex_unlock(&lock);
	assert_int_equal(n, 1);
	/* a barrier with nothing new in the ring returns too, repeatedly (its time: information) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(access_sync(acc, 10000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("20 access_sync calls on an idle ring: %.3f ms\n",
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_scopes),
	    cmocka_unit_test(test_sync_all_seen),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
