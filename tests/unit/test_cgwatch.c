// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_cgwatch.c - the track: cgroup watcher on the host's real cgroup v2 tree (root needed),
 * under a private subtree <v2 root>/aicert-test-cgwatch.PID that the tests create and remove.
 * Every check waits for the watcher's own events (poll on cgwatch_fd), never for time; "not
 * reported" is shown by a later cgroup's report arriving first.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/policy.h"
#include "trace/cgroup.h"
#include "trace/cgwatch.h"

#define WAIT_MS 60000 /* generous: a report normally takes well under a millisecond */

static char root[PATH_MAX], top[128]; /* top: the private subtree, relative to root */
static const char *no_run;	      /* why the tests cannot run here, NULL when they can */

struct rec {
	enum cgwatch_ev ev;
	char rel[256];
	uint64_t id;
	bool populated;
};

struct sink {
	struct rec r[64];
	size_t n, next;
	struct cgwatch *w;
	char forget_in_cb[256]; /* cgwatch_forget() this path from the callback of its report */
};

static void on_event(void *ctx, enum cgwatch_ev ev, const char *rel, uint64_t id, bool pop)
{
	struct sink *s = ctx;

	if (s->n == sizeof(s->r) / sizeof(s->r[0]))
		fail_msg("more reports than the test makes");
	s->r[s->n].ev = ev;
	snprintf(s->r[s->n].rel, sizeof(s->r[0].rel), "%s", rel);
	s->r[s->n].id = id;
	s->r[s->n].populated = pop;
	s->n++;
	if (!strcmp(rel, s->forget_in_cb))
		cgwatch_forget(s->w, rel);
}

static char *rel(const char *fmt, ...)
{
	static char bufs[8][256];
	static int k;
	char *b = bufs[k++ % 8];
	va_list ap;
	int n;

	n = snprintf(b, sizeof(bufs[0]), "%s", top);
	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(bufs[0]) - n, fmt, ap);
	va_end(ap);
	return b;
}

/* A copy for a glob list (rel()'s buffers are reused); the test frees it. */
static char *glob_of(const char *fmt)
{
	char *g = strdup(rel("%s", fmt));

	assert_non_null(g);
	return g;
}

static void free_globs(char **g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i]);
}

static const char *abs_path(const char *r, const char *file)
{
	static char p[PATH_MAX];

	if ((size_t)snprintf(p, sizeof(p), "%s%s%s", root, r, file) >= sizeof(p))
		fail_msg("path too long");
	return p;
}

static void mk(const char *r)
{
	if (mkdir(abs_path(r, ""), 0755))
		fail_msg("mkdir %s: %s", abs_path(r, ""), strerror(errno));
}

static void rm(const char *r)
{
	if (rmdir(abs_path(r, "")))
		fail_msg("rmdir %s: %s", abs_path(r, ""), strerror(errno));
}

static uint64_t id_of(const char *r)
{
	struct stat st;

	assert_int_equal(stat(abs_path(r, ""), &st), 0);
	return st.st_ino;
}

/* A child blocked reading a pipe, moved into the cgroup r; end_child() lets it exit. */
struct child {
	pid_t pid;
	int wfd;
};

static pid_t kids[8]; /* killed by the group teardown if a failed test left them */

static void kid(pid_t old, pid_t new)
{
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		if (kids[i] == old) {
			kids[i] = new;
			return;
		}
	fail_msg("too many children");
}

static struct child start_child(const char *r)
{
	struct child c;
	char pid[32];
	int p[2], fd;
	char b;

	assert_int_equal(pipe(p), 0);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		close(p[1]);
		_exit(read(p[0], &b, 1) < 0);
	}
	close(p[0]);
	kid(0, c.pid);
	c.wfd = p[1];
	snprintf(pid, sizeof(pid), "%d\n", (int)c.pid);
	fd = open(abs_path(r, "/cgroup.procs"), O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pid, strlen(pid)), (ssize_t)strlen(pid));
	close(fd);
	return c;
}

static void end_child(struct child *c)
{
	int st;

	close(c->wfd);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	kid(c->pid, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The next report, waiting for the watcher's fd as long as it takes (up to WAIT_MS). */
static const struct rec *next_rec(struct sink *s, const char *what)
{
	while (s->next == s->n) {
		struct pollfd p = {.fd = cgwatch_fd(s->w), .events = POLLIN};
		int r = poll(&p, 1, WAIT_MS);

		if (r == 0)
			fail_msg("no report from the cgroup watcher within %d s (waiting for %s)",
				 WAIT_MS / 1000, what);
		assert_true(r > 0);
		assert_true(cgwatch_process(s->w) >= 0);
	}
	return &s->r[s->next++];
}

static void expect(struct sink *s, enum cgwatch_ev ev, const char *r, uint64_t id, bool pop)
{
	const struct rec *x = next_rec(s, r);

	if (x->ev != ev || strcmp(x->rel, r))
		fail_msg("report %s %s, expected %s %s",
			 x->ev == CGW_APPEARED ? "APPEARED" : "GONE", x->rel,
			 ev == CGW_APPEARED ? "APPEARED" : "GONE", r);
	if (x->id != id)
		fail_msg("%s: id %llu, expected %llu", r, (unsigned long long)x->id,
			 (unsigned long long)id);
	if (x->populated != pop)
		fail_msg("%s: populated %d, expected %d", r, x->populated, pop);
}

static int set(struct sink *s, char **globs, size_t n)
{
	return cgwatch_set(s->w, (const char *const *)globs, n);
}

/* A watcher on globs, once the test's subtree sub exists. */
static void start(struct sink *s, const char *sub, char **globs, size_t n)
{
	if (no_run)
		skip();
	if (sub)
		mk(sub);
	memset(s, 0, sizeof(*s));
	assert_int_equal(cgwatch_new(root, on_event, s, &s->w), 0);
	assert_int_equal(set(s, globs, n), 0);
}

/* mkdir r, and its APPEARED (empty) is the next report; its id. */
static uint64_t made(struct sink *s, const char *r)
{
	uint64_t id;

	mk(r);
	id = id_of(r);
	expect(s, CGW_APPEARED, r, id, false);
	return id;
}

static int rm_dir(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_DP && rmdir(path))
		fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* The watcher first (its watches go), then the cgroups the test made, deepest first. */
static void finish(struct sink *s, const char *r, char **globs, size_t n)
{
	free_globs(globs, n);
	cgwatch_free(s->w);
	s->w = NULL;
	nftw(abs_path(r, ""), rm_dir, 16, FTW_DEPTH | FTW_PHYS);
}

/* A matching cgroup made by hand is APPEARED with its id; nothing below it or beside it is. */
static void test_appear(void **state)
{
	char *globs[] = {glob_of("/a/job_*"), glob_of("/a/**/step_*")};
	struct sink s;

	start(&s, rel("/a"), globs, 2);
	made(&s, rel("/a/job_1"));
	/* below a match (a nested child that matches a glob too): in job_1's run, not one */
	mk(rel("/a/job_1/step_0"));
	mk(rel("/a/job_1/step_0/x"));
	/* beside it, matching nothing */
	mk(rel("/a/other"));
	mk(rel("/a/other/x"));
	made(&s, rel("/a/job_2"));
	/* a directory that appears is watched in turn: "**" can match below it */
	made(&s, rel("/a/other/step_5"));
	/* made before the watcher read any of it: the read of each new directory finds it */
	mk(rel("/a/deep"));
	mk(rel("/a/deep/b"));
	made(&s, rel("/a/deep/b/step_1"));
	/* once: the next report is the next cgroup's */
	made(&s, rel("/a/job_3"));
	assert_int_equal(s.n, s.next); /* nothing else */
	finish(&s, rel("/a"), globs, 2);
}

/* An inotify fd of the test's own on r's cgroup.events, for seen(). */
static int watch_events(const char *r)
{
	int fd = inotify_init1(IN_CLOEXEC);

	assert_true(fd >= 0);
	assert_true(inotify_add_watch(fd, abs_path(r, "/cgroup.events"), IN_MODIFY) >= 0);
	return fd;
}

/*
 * Returns once the kernel's notice of a change of cgroup.events (read on fd, from
 * watch_events()) has been read by the watcher too, which reports nothing for it.
 */
static void seen(struct sink *s, int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t before = s->n;

	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	close(fd);
	p.fd = cgwatch_fd(s->w);
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_true(cgwatch_process(s->w) >= 0);
	assert_int_equal(s->n, before);
}

/*
 * A process moved in and exiting: GONE once populated drops to 0, whether the watcher saw it
 * come or found it there. Forgotten, the cgroup is a new run the next time processes are in it.
 */
static void test_populated(void **state)
{
	char *globs[] = {glob_of("/b/job_*")};
	struct child c;
	struct sink s;
	uint64_t id;
	int fd;

	start(&s, rel("/b"), globs, 1);
	id = made(&s, rel("/b/job_1"));
	fd = watch_events(rel("/b/job_1"));
	c = start_child(rel("/b/job_1"));
	seen(&s, fd);
	end_child(&c);
	expect(&s, CGW_GONE, rel("/b/job_1"), id, false);
	cgwatch_forget(s.w, rel("/b/job_1"));
	c = start_child(rel("/b/job_1"));
	expect(&s, CGW_APPEARED, rel("/b/job_1"), id, true);
	end_child(&c);
	expect(&s, CGW_GONE, rel("/b/job_1"), id, false);
	/* populated before the watcher read the new directory */
	mk(rel("/b/job_2"));
	c = start_child(rel("/b/job_2"));
	expect(&s, CGW_APPEARED, rel("/b/job_2"), id_of(rel("/b/job_2")), true);
	end_child(&c);
	expect(&s, CGW_GONE, rel("/b/job_2"), id_of(rel("/b/job_2")), false);
	/* removed after their GONE: nothing more to say */
	rm(rel("/b/job_1"));
	rm(rel("/b/job_2"));
	made(&s, rel("/b/job_3"));
	assert_int_equal(s.n, s.next); /* nothing else */
	finish(&s, rel("/b"), globs, 1);
}

/* rmdir gives GONE; forgotten and made again, the directory is a new run. */
static void test_rmdir(void **state)
{
	char *globs[] = {glob_of("/c/job_*")};
	struct sink s;
	uint64_t id;

	start(&s, rel("/c"), globs, 1);
	id = made(&s, rel("/c/job_1"));
	rm(rel("/c/job_1"));
	expect(&s, CGW_GONE, rel("/c/job_1"), id, false);
	cgwatch_forget(s.w, rel("/c/job_1"));
	made(&s, rel("/c/job_1"));
	/* removed and made again before the watcher reads either: the end, then the new one */
	id = id_of(rel("/c/job_1"));
	rm(rel("/c/job_1"));
	mk(rel("/c/job_1"));
	expect(&s, CGW_GONE, rel("/c/job_1"), id, false);
	expect(&s, CGW_APPEARED, rel("/c/job_1"), id_of(rel("/c/job_1")), false);
	assert_true(id != id_of(rel("/c/job_1")));
	made(&s, rel("/c/job_2"));
	assert_int_equal(s.n, s.next); /* nothing else */
	finish(&s, rel("/c"), globs, 1);
}

/*
 * set() again (a reload): an existing match of a new glob is reported with populated as it is;
 * those reported before are not again, and are followed until they end even when no glob names
 * them any more. A populated one the caller does not claim (forgotten from its callback) is
 * reported again once it has been empty and has processes again.
 */
static void test_set(void **state)
{
	char *g1[] = {glob_of("/d/job_*")};
	char *g2[] = {glob_of("/d/job_*"), glob_of("/d/svc_*")};
	char *g3[] = {glob_of("/d/svc_*")};
	char *bad[] = {glob_of("/d/svc_*"), strdup("d/job_*")};
	struct child c;
	struct sink s;
	uint64_t id;
	int fd;

	if (no_run)
		skip();
	mk(rel("/d"));
	mk(rel("/d/job_1"));
	mk(rel("/d/svc_1"));
	start(&s, NULL, g1, 1);
	expect(&s, CGW_APPEARED, rel("/d/job_1"), id_of(rel("/d/job_1")), false);
	c = start_child(rel("/d/svc_1"));
	snprintf(s.forget_in_cb, sizeof(s.forget_in_cb), "%s", rel("/d/svc_1"));
	assert_int_equal(set(&s, g2, 2), 0);
	expect(&s, CGW_APPEARED, rel("/d/svc_1"), id_of(rel("/d/svc_1")), true);
	made(&s, rel("/d/job_2"));
	/* svc_1 was not claimed: its end is not a report, its next use is */
	fd = watch_events(rel("/d/svc_1"));
	end_child(&c);
	seen(&s, fd);
	s.forget_in_cb[0] = '\0';
	c = start_child(rel("/d/svc_1"));
	expect(&s, CGW_APPEARED, rel("/d/svc_1"), id_of(rel("/d/svc_1")), true);
	/* job_* is dropped: job_2 is still followed, a new job_3 is not a match */
	assert_int_equal(set(&s, g3, 1), 0);
	assert_int_equal(set(&s, bad, 2), -EINVAL);
	mk(rel("/d/job_3"));
	id = id_of(rel("/d/job_2"));
	rm(rel("/d/job_2"));
	expect(&s, CGW_GONE, rel("/d/job_2"), id, false);
	end_child(&c);
	expect(&s, CGW_GONE, rel("/d/svc_1"), id_of(rel("/d/svc_1")), false);
	assert_int_equal(s.n, s.next);
	free_globs(g1, 1);
	free_globs(g2, 2);
	free_globs(bad, 2);
	finish(&s, rel("/d"), g3, 1);
}

/* The cap on watches: what is past it is not tracked (said) until there is room again. */
static void test_cap(void **state)
{
	char *globs[] = {glob_of("/e/job_*")};
	struct sink s;
	uint64_t id;

	start(&s, rel("/e"), globs, 1);
	/* the root, top, top/e and one cgroup */
	cgwatch_set_max_watches(s.w, 4);
	id = made(&s, rel("/e/job_1"));
	mk(rel("/e/job_2"));
	/* its IN_CREATE is read (and said) before job_1's end, which makes room for it */
	rm(rel("/e/job_1"));
	expect(&s, CGW_GONE, rel("/e/job_1"), id, false);
	expect(&s, CGW_APPEARED, rel("/e/job_2"), id_of(rel("/e/job_2")), false);
	/* a reload with more room keeps it (no second report), and takes the next one */
	cgwatch_set_max_watches(s.w, CGWATCH_MAX_WATCHES);
	assert_int_equal(set(&s, globs, 1), 0);
	made(&s, rel("/e/job_3"));
	assert_int_equal(s.n, s.next);
	finish(&s, rel("/e"), globs, 1);
}

/* What aicertd does with a policy: its track: section is the watcher's glob list. */
static void test_policy_track(void **state)
{
	const char *const *globs;
	struct policy *p;
	char yaml[512], err[256] = "";
	struct sink s;
	size_t n;

	if (no_run)
		skip();
	snprintf(yaml, sizeof(yaml), "version: 1\ntrack:\n  - %s/p/job_*\n  - %s/p/**/step_*\n",
		 top, top);
	p = policy_parse(yaml, strlen(yaml), "track.yaml", err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	n = policy_track(p, &globs);
	assert_int_equal(n, 2);
	mk(rel("/p"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(cgwatch_new(NULL, on_event, &s, &s.w), 0);
	assert_int_equal(cgwatch_set(s.w, globs, n), 0);
	policy_free(p); /* the watcher has its own copy */
	made(&s, rel("/p/job_1"));
	mk(rel("/p/x"));
	made(&s, rel("/p/x/step_1"));
	finish(&s, rel("/p"), NULL, 0);
}

/* A root that is not a cgroup v2 mount is refused, with the reason. */
static void test_bad_root(void **state)
{
	struct cgwatch *w = (struct cgwatch *)1;

	assert_int_equal(cgwatch_new("/nonexistent/cgroup", on_event, NULL, &w), -ENOENT);
	assert_null(w);
	assert_int_equal(cgwatch_new("/tmp", on_event, NULL, &w), -EINVAL);
	assert_null(w);
	cgwatch_free(NULL);
}

static int setup(void **state)
{
	snprintf(top, sizeof(top), "/aicert-test-cgwatch.%d", (int)getpid());
	if (geteuid() != 0) {
		no_run = "not root";
	} else if (cgroup2_root(root, sizeof(root))) {
		no_run = "no cgroup v2 hierarchy";
	} else if (mkdir(abs_path(top, ""), 0755)) {
		no_run = "cannot create a cgroup under the v2 root";
	}
	if (no_run)
		fprintf(stderr, "SKIPPED: %s\n", no_run);
	return 0;
}

static int teardown(void **state)
{
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		if (kids[i] > 0 && !kill(kids[i], SIGKILL))
			waitpid(kids[i], NULL, 0);
	if (!no_run)
		nftw(abs_path(top, ""), rm_dir, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_appear),   cmocka_unit_test(test_populated),
	    cmocka_unit_test(test_rmdir),    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_cap),	     cmocka_unit_test(test_policy_track),
	    cmocka_unit_test(test_bad_root),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
