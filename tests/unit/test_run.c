// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_run.c - the run module's recovery of an interrupted run (run_recover), against a real
 * swtpm: a process appends a run's start and measurements of real files to the host log and
 * dies without a run_end; a new process finds the unended run, writes its bundle, and the real
 * aicert-verify accepts it as incomplete, its digests equal sha256sum's, and a forged digest
 * fails. (run_begin and run_finish need the BPF programs: the integration suites drive them
 * through aicert-trace.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "lib/bom.h"
#include "lib/log.h"
#include "lib/policy.h"
#include "trace/access.h"
#include "trace/cgroup.h"
#include "trace/eventlog.h"
#include "trace/run.h"
#include "swtpm_helper.h"

#define RUN_X "0c0c0c0c-0000-4000-8000-00000000000c"
#define NFILES 3

struct fx {
	char dir[64], verify[PATH_MAX], files[NFILES][128];
	struct evlog_opts o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(n > 0);
	exe[n] = 0;
	/* build/tests/test_run -> build/aicert-verify */
	snprintf(f->verify, sizeof(f->verify), "%s/aicert-verify", dirname(dirname(exe)));
	strcpy(f->dir, "/tmp/aicert-test-run.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->o.statedir = f->dir;
	f->o.tcti = swtpm_tcti;
	/* the real boot id: bom.json's host.boot_id is the running kernel's */
	f->o.batch_hz = 1;
	for (int i = 0; i < NFILES; i++) {
		snprintf(f->files[i], sizeof(f->files[i]), "%s/input-%d.bin", f->dir, i);
		assert_int_equal(sh("head -c %d /dev/urandom > %s", 1000 + 7000 * i, f->files[i]),
				 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sh("rm -rf %s", f->dir);
	free(f);
	return 0;
}

static void file_sha256(const char *path, uint8_t out[32], uint64_t *size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	*size = 0;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, n);
		*size += n;
	}
	EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	close(fd);
}

/* A monitor that started run X, measured the files, and was killed before the run ended. */
static void interrupted_run(struct fx *f)
{
	static const char *argv[] = {"python3", "train.py", "--epochs", "3"};
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct evlog *ev;
		struct evlog_run *r;
		uint8_t sha[32];
		uint64_t size;

		if (evlog_open(&f->o, &ev) ||
		    evlog_run_start(ev,
				    &(struct evlog_run_info){.run_id = RUN_X,
							     .argv = argv,
							     .argc = 4,
							     .cwd = f->dir,
							     .uid = 1000,
							     .backend = "tracepoint"},
				    &r))
			_exit(2);
		for (int i = 0; i < NFILES; i++) {
			file_sha256(f->files[i], sha, &size);
			if (evlog_measure(r, f->files[i], sha, size, 1 /* input */, CEL_FILE_OK))
				_exit(3);
		}
		evlog_loss(r, 2);
		while (evlog_run_batches(r) < 1) /* the first flush, a period after the start */
			usleep(10000);
		_exit(0); /* killed: no run_end */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

struct recovered {
	const struct run_host *h;
	char out[128];
	int n, rc;
	struct run_result res;
};

static void recover_one(const struct cel_event *start, void *ctx)
{
	struct recovered *rc = ctx;

	rc->n++;
	assert_string_equal(start->run_id, RUN_X);
	rc->rc = run_recover(rc->h, start, rc->out, &rc->res);
}

static void test_recover_interrupted(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct run_host h = {0};
	struct recovered rc = {.h = &h};
	struct bom b;
	char err[256], path[256];

	interrupted_run(f);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	h.ev = ev;
	h.tcti = swtpm_tcti;
	snprintf(rc.out, sizeof(rc.out), "%s/spool/" RUN_X, f->dir);
	assert_int_equal(evlog_unended(ev, recover_one, &rc), 0);
	assert_int_equal(rc.n, 1);
	assert_int_equal(rc.rc, 0);
	assert_false(rc.res.complete);
	assert_string_equal(rc.res.bundle, rc.out);
	/* the run has its run_end now: nothing left to recover */
	rc.n = 0;
	assert_int_equal(evlog_unended(ev, recover_one, &rc), 0);
	assert_int_equal(rc.n, 0);
	evlog_close(ev);

	/* the real verifier: everything holds but completeness (events lost) */
	assert_int_equal(
	    sh("%s %s --ak %s/ak.pub.pem >/dev/null 2>&1; test $? = 9", f->verify, rc.out, rc.out),
	    0);
	snprintf(path, sizeof(path), "%s/bom.json", rc.out);
	bom_init(&b);
	if (bom_read(&b, path, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(b.run.id, RUN_X);
	assert_string_equal(b.run.incomplete_reason, "monitor restarted");
	assert_int_equal(b.run.argc, 4);
	assert_string_equal(b.run.command[1], "train.py");
	assert_int_equal(b.run.events_lost, 2);
	assert_true(b.run.detached);
	assert_false(b.run.complete);
	assert_int_equal(b.nfiles, NFILES);
	bom_free(&b);
	/* every digest is sha256sum's */
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(
		    sh("grep -q \"$(sha256sum %s | cut -c1-64)\" %s", f->files[i], path), 0);
	/* a forged digest in bom.json fails verification (manifest and bom checks) */
	assert_int_equal(
	    sh("sed -i \"s/$(sha256sum %s | cut -c1-64)/%064d/\" %s", f->files[0], 0, path), 0);
	assert_int_equal(sh("%s %s --ak %s/ak.pub.pem >/dev/null 2>&1; rc=$?; test $rc != 0 -a "
			    "$rc != 9",
			    f->verify, rc.out, rc.out),
			 0);
}

/* A run that is not in the log, or ended, is not resumed: no bundle is made up. */
static void test_recover_refuses_ended(void **state)
{
	struct fx *f = *state;
	static const char *argv[] = {"true"};
	struct evlog *ev;
	struct evlog_run *r;
	struct run_host h = {0};
	struct run_result res;
	struct cel_event start = {
	    .kind = CEL_KIND_RUN_START, .run_id = RUN_X, .cwd = "/", .backend = "tracepoint"};
	char out[128];

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	h.ev = ev;
	snprintf(out, sizeof(out), "%s/b", f->dir);
	assert_int_equal(run_recover(&h, &start, out, &res), -1);
	assert_int_equal(
	    evlog_run_start(
		ev,
		&(struct evlog_run_info){
		    .run_id = RUN_X, .argv = argv, .argc = 1, .cwd = "/", .backend = "tracepoint"},
		&r),
	    0);
	assert_int_equal(evlog_run_end(r, &(struct evlog_run_end){0}), 0);
	evlog_run_free(r);
	assert_int_equal(run_recover(&h, &start, out, &res), -1);
	evlog_close(ev);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(sh("ls -d %s.partial-* 2>/dev/null", out), 2);
}

/* ---- a tracked cgroup, through the real BPF programs (tracepoint backend, root) ---- */

struct said {
	int n;
	bool written;
};

static void on_say(void *ctx, int level, const char *msg)
{
	struct said *s = ctx;

	(void)level;
	s->n++;
	s->written |= strstr(msg, "bundle written to ") != NULL;
}

static void on_rec(const void *rec, size_t len, void *ctx)
{
	run_on_record(ctx, rec, len);
}

/* A cgroup made by hand (as Slurm or systemd would) is adopted: the run's records are those of
 * its processes, bom.json names the cgroup and no command, and the cgroup is left in place.
 * The root's exit status comes from its BPF exit record. */
static void test_tracked_cgroup(void **state)
{
	struct fx *f = *state;
	char root[PATH_MAX], cg[PATH_MAX + 64], procs[PATH_MAX + 96], out[128], bomp[160];
	char outfile[128], cmd[512], err[256];
	struct run_host h = {0};
	struct run_result res;
	struct said said = {0};
	struct run *r;
	struct bom b;
	int e = 0, p[2], status;
	pid_t pid;
	FILE *fp;

	if (geteuid() != 0)
		skip();
	h.access = access_open(&(struct access_opts){.backend = ACCESS_BACKEND_TRACEPOINT}, &e);
	if (!h.access) {
		fprintf(stderr, "SKIPPED: the tracepoint BPF programs do not load here (%d)\n", e);
		skip();
	}
	assert_int_equal(cgroup2_root(root, sizeof(root)), 0);
	snprintf(cg, sizeof(cg), "%s/aicert-test-track-%d", root, (int)getpid());
	assert_int_equal(mkdir(cg, 0755), 0);
	assert_int_equal(evlog_open(&f->o, &h.ev), 0);
	h.tcti = swtpm_tcti;
	snprintf(out, sizeof(out), "%s/bundle", f->dir);
	snprintf(outfile, sizeof(outfile), "%s/out.txt", f->dir);
	assert_int_equal(run_begin(&h,
				   &(struct run_opts){.track_cgroup = cg,
						      .cwd = f->dir,
						      .out = out,
						      .policy = policy_default(),
						      .jobs = 1,
						      .say = on_say,
						      .say_ctx = &said},
				   &r),
			 0);
	assert_int_equal(access_start(h.access, on_rec, r), 0);
	/* a process that joins the cgroup, then reads an input and writes an output */
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(2);
		snprintf(cmd, sizeof(cmd), "cat %s %s > %s; exit 3", f->files[0], f->files[1],
			 outfile);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	run_set_root(r, pid);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	fp = fopen(procs, "w");
	assert_non_null(fp);
	fprintf(fp, "%d\n", (int)pid);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(write(p[1], "g", 1), 1);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	assert_int_equal(run_cgroup_wait_empty(run_cg(r), 10000), 1);
	access_stop(h.access);
	/* the root's exit as the BPF exit record saw it: the wait status waitpid gave */
	assert_true(run_root_exit(r, &e));
	assert_int_equal(e, status);
	assert_int_equal(run_finish(r, &(struct run_end_info){.status = -1}, &res), 0);
	assert_true(res.complete);
	assert_int_equal(res.exit_status, 0);
	assert_true(said.written);
	run_free(r);
	assert_int_equal(access(cg, F_OK), 0); /* adopted, not removed */
	assert_int_equal(rmdir(cg), 0);
	evlog_close(h.ev);
	access_close(h.access);

	assert_int_equal(sh("%s %s --ak %s/ak.pub.pem >/dev/null", f->verify, out, out), 0);
	snprintf(bomp, sizeof(bomp), "%s/bom.json", out);
	bom_init(&b);
	if (bom_read(&b, bomp, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(b.run.argc, 0);
	assert_string_equal(b.run.cgroup, cg + strlen(root));
	assert_null(b.run.incomplete_reason);
	bom_free(&b);
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    sh("grep -q \"$(sha256sum %s | cut -c1-64)\" %s", f->files[i], bomp), 0);
	assert_int_equal(sh("grep -q \"$(sha256sum %s | cut -c1-64)\" %s", outfile, bomp), 0);
	assert_int_equal(sh("grep -q '\"command\": \\[\\]' %s", bomp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_recover_interrupted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recover_refuses_ended, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tracked_cgroup, setup, teardown),
	};

	log_init("test_run", LOG_ERROR);
	return swtpm_main(tests);
}
