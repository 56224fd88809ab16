// SPDX-License-Identifier: BSD-2-Clause
/*
 * aicert-probe - debug tool for the kernel side of tracing: loads a backend, runs a command in
 * a run cgroup and prints every record as one line on stdout, the counters on stderr.
 *
 *   aicert-probe [-v] [--backend auto|lsm|tracepoint] [--linger MS] [--dedup N]
 *                [--ringbuf BYTES] [--quiet] -- command [args...]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "trace/access.h"
#include "trace/cgroup.h"

struct probe {
	int quiet;
	uint64_t records;
};

static const char *const kinds[] = {"?", "read", "write", "exec", "mmap"};

static void print_task(const struct ac_task *t)
{
	printf(" pid=%u tgid=%u ppid=%u start=%llu uid=%u cgroup=%llu scope=%llu comm=%.*s", t->pid,
	       t->tgid, t->ppid, (unsigned long long)t->start_time, t->uid,
	       (unsigned long long)t->cgroup_id, (unsigned long long)t->scope, AC_COMM_LEN,
	       t->comm);
}

static void print_flags(uint32_t f)
{
	static const char *const names[] = {"trunc", "rel", "unlinked", "created", "truncated"};
	int first = 1;

	printf(" flags=");
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(f & (1u << i)))
			continue;
		printf("%s%s", first ? "" : ",", names[i]);
		first = 0;
	}
	if (first)
		printf("-");
}

/* The path goes last so that names with spaces stay readable: everything after "path=". */
static void on_record(const void *rec, size_t len, void *ctx)
{
	const struct ac_hdr *h = rec;
	struct probe *p = ctx;

	p->records++;
	if (p->quiet)
		return;
	if (h->type == AC_REC_FILE) {
		const struct ac_file *f = rec;

		printf("file %s", f->kind < AC_KIND_MAX ? kinds[f->kind] : "?");
		print_task(&f->task);
		print_flags(h->flags);
		printf(" dev=%llu ino=%llu size=%llu mtime=%lld ctime=%lld iver=%llu magic=0x%x "
		       "fmode=0x%x fd=%d path=%s\n",
		       (unsigned long long)f->dev, (unsigned long long)f->ino,
		       (unsigned long long)f->size, (long long)f->mtime_ns, (long long)f->ctime_ns,
		       (unsigned long long)f->i_version, f->magic, f->fmode, f->fd, f->path);
	} else if (h->type == AC_REC_RENAME) {
		const struct ac_rename *r = rec;

		printf("rename");
		print_task(&r->task);
		print_flags(h->flags);
		printf(" dev=%llu ino=%llu dir=%s name=%s\n", (unsigned long long)r->dev,
		       (unsigned long long)r->ino, r->path_len ? r->path : "-", r->name);
	} else {
		const struct ac_proc *pr = rec;
		const char *what = h->type == AC_REC_EXEC   ? "exec"
				   : h->type == AC_REC_FORK ? "fork"
							    : "exit";

		printf("%s", what);
		print_task(&pr->task);
		printf(" child=%u child_start=%llu exit_code=%d\n", pr->child_tgid,
		       (unsigned long long)pr->child_start_time, pr->exit_code);
	}
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: aicert-probe [-v] [--backend auto|lsm|tracepoint] [--linger MS]\n"
		"                    [--dedup N] [--ringbuf BYTES] [--quiet] -- cmd [args...]\n");
}

/* The child waits for `go` so that the scope is set before it runs anything. */
static pid_t spawn(const struct run_cgroup *cg, char **argv, int *go)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) != 1 || run_cgroup_join(cg))
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "aicert-probe: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	*go = fds[1];
	return pid;
}

static int run(struct access *a, char **argv, int linger_ms, struct probe *p)
{
	struct run_cgroup cg = {.events_fd = -1};
	char name[64];
	int go = -1, status = 0, ret = 1;
	pid_t pid;

	snprintf(name, sizeof(name), "probe-%d", (int)getpid());
	if (run_cgroup_create(&cg, name))
		return 1;
	if (access_scope_add(a, cg.id) || access_start(a, on_record, p))
		goto cleanup;
	pid = spawn(&cg, argv, &go);
	if (pid < 0) {
		log_err("cannot fork: %s", strerror(errno));
		goto cleanup;
	}
	if (write(go, "g", 1) != 1)
		log_err("cannot start the command: %s", strerror(errno));
	close(go);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* daemons the command left behind are part of the run until the cgroup is empty */
	if (run_cgroup_wait_empty(&cg, linger_ms) == 0)
		log_warn("processes still in %s after %d ms: killing them", cg.path, linger_ms);
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
cleanup:
	access_stop(a);
	run_cgroup_destroy(&cg, 1);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"backend", required_argument, 0, 'b'}, {"linger", required_argument, 0, 'l'},
	    {"dedup", required_argument, 0, 'd'},   {"ringbuf", required_argument, 0, 'r'},
	    {"quiet", no_argument, 0, 'q'},	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},	    {0},
	};
	struct access_opts o = {.backend = ACCESS_BACKEND_AUTO};
	struct probe p = {0};
	struct access_stats st;
	struct access *a;
	int c, err, linger_ms = 10000, verbose = LOG_WARN, ret;

	while ((c = getopt_long(argc, argv, "+b:l:d:r:qvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if ((err = access_backend_parse(optarg)) < 0) {
				usage();
				return 2;
			}
			o.backend = err;
			break;
		case 'l':
			linger_ms = atoi(optarg);
			break;
		case 'd':
			o.dedup_entries = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o.ringbuf_bytes = strtoul(optarg, NULL, 0);
			break;
		case 'q':
			p.quiet = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		usage();
		return 2;
	}
	log_init("aicert-probe", verbose > LOG_DEBUG ? LOG_DEBUG : verbose);
	signal(SIGPIPE, SIG_IGN);
	a = access_open(&o, &err);
	if (!a)
		return 1;
	ret = run(a, argv + optind, linger_ms, &p);
	access_stats(a, &st);
	fprintf(stderr,
		"aicert-probe: backend=%s records=%" PRIu64 " events=%" PRIu64 " rb_drops=%" PRIu64
		" path_trunc=%" PRIu64 " dedup_hits=%" PRIu64 " errors=%" PRIu64
		" malformed=%" PRIu64 " ring_full=%" PRIu64 " scratch_busy=%" PRIu64
		" undelivered=%" PRIu64 " prog_misses=%" PRIu64 "\n",
		access_backend_name(a), p.records, st.events, st.rb_drops, st.path_trunc,
		st.dedup_hits, st.errors, st.malformed, st.ring_full, st.scratch_busy,
		st.undelivered, st.prog_misses);
	access_close(a);
	return ret;
}
