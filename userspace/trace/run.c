// SPDX-License-Identifier: BSD-2-Clause
/*
 * run.c - one traced run's lifecycle (run.h): bundle directory, cgroup, watchdog, the run's
 * processes, collector, event log run, and the bundle written, sealed, checked and published.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/bom.h"
#include "lib/cdx.h"
#include "lib/hex.h"
#include "lib/intoto.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "lib/verify.h"
#include "trace/collector.h"
#include "trace/hashpool.h"
#include "trace/imacorr.h"
#include "trace/run.h"
#include "trace/runinfo.h"

/* 1 when dir has any entry besides . and .., 0 when empty, -1 when unreadable. */
static int nonempty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return -1;
	while (!found && (de = readdir(d)))
		found = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return found;
}

/* A process of the run, from its fork record until its exit record: (tgid, start time). */
struct proc_id {
	uint32_t tgid;
	uint64_t start; /* 0: the command itself, whose start time aicert did not see */
};

struct procs {
	pthread_mutex_t mu;	  /* the drain thread adds and removes, main adds the command */
	struct proc_id *v, *gone; /* live ones; exits of processes whose fork was not seen */
	size_t n, cap, ngone, capgone;
	uint32_t root; /* the command's pid, once spawned */
	bool nomem;
};

struct run {
	struct run_host h;
	struct run_opts o; /* o.argv, o.out, o.policy are the run's own copies */
	char **argv;	   /* NULL: a tracked cgroup */
	char backend[32];
	size_t argc;
	char *cwd, *out_opt, *track;
	char id[37];
	uint8_t nonce[CEL_NONCE_MAX];
	size_t nonce_len;
	struct job_info job; /* scheduler NULL: no job's run */
	char out[PATH_MAX];	   /* where the bundle is written: <final>.partial-<id> */
	char final[PATH_MAX - 32]; /* where it is published once complete and checked */
	int out_made, published;
	bool finishing; /* run_finish began: the bundle directory is not empty */
	int wd_fd;	/* the watchdog's pipe (write end), -1: none */
	pid_t wd_pid;
	struct procs procs; /* the run's live processes, as the BPF side reported them */
	int root_status;    /* the root's exit (wait status) from its BPF exit record */
	bool root_exited;
	struct timespec started, finished;
	struct policy *policy;
	struct run_cgroup cg;
	int cg_made; /* created here (removed at the end); else adopted */
	bool scoped;
	struct collector *coll;
	struct evlog_run *evr;
	int ev_err;		 /* first event-log error: the bundle cannot be attested */
	struct access_stats as0; /* the host-wide counters when the run began */
	struct bom bom;
};

/* The run's user-facing messages: to the say callback (the daemon relays them all; the client
 * filters them by its own -q/-v), else stderr through the logger's level. */
static void say(const struct run *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct run *r, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!r->o.say && level > log_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->o.say)
		r->o.say(r->o.say_ctx, level, msg);
	else
		log_msg(level, "%s", msg);
}

/* An existing --out must be an empty directory: an earlier bundle, or the user's files, must never
 * be mixed into this one. */
static int check_out(const struct run *r, const char *out)
{
	struct stat st;
	int ne;

	if (stat(out, &st))
		return errno == ENOENT
			   ? 0
			   : (say(r, LOG_ERROR, "cannot use %s: %s", out, strerror(errno)), -1);
	if (!S_ISDIR(st.st_mode)) {
		say(r, LOG_ERROR, "%s is not a directory", out);
		return -1;
	}
	ne = nonempty(out);
	if (ne < 0)
		say(r, LOG_ERROR, "cannot read the bundle directory %s: %s", out, strerror(errno));
	else if (ne > 0)
		say(r, LOG_ERROR,
		    "the bundle directory %s is not empty; choose a new --out directory", out);
	return ne ? -1 : 0;
}

/*
 * The bundle is written into <out>.partial-<id> beside <out> and renamed to <out> at the end, so
 * a bundle directory is either complete or recognisably partial. Everything under either name
 * is excluded from the trace (policy_add_exclude, in setup).
 */
static int prepare_out(struct run *r)
{
	char def[128];
	char buf[PATH_MAX], abs[PATH_MAX], *slash;
	const char *parent = ".", *base = buf;
	time_t now = time(NULL);
	const char *out = r->o.out;
	struct tm tm;
	size_t n;

	if (!out) {
		gmtime_r(&now, &tm);
		strftime(def, sizeof(def), "aicert-%Y%m%d-%H%M%S", &tm);
		snprintf(def + strlen(def), sizeof(def) - strlen(def), "-%.8s", r->id);
		out = def;
	}
	if (check_out(r, out))
		return -1;
	n = strlen(out);
	if (n >= sizeof(buf)) {
		say(r, LOG_ERROR, "--out: %s", strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(buf, out, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if ((slash = strrchr(buf, '/'))) {
		base = slash + 1;
		*slash = '\0';
		parent = slash == buf ? "/" : buf;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		say(r, LOG_ERROR, "--out %s: name a new directory for the bundle", out);
		return -1;
	}
	if (fileio_mkdirs(parent, 0755, 0755) || !realpath(parent, abs)) {
		say(r, LOG_ERROR, "cannot create %s: %s", parent, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(r->final, sizeof(r->final), "%s/%s", strcmp(abs, "/") ? abs : "",
			     base) >= sizeof(r->final)) {
		say(r, LOG_ERROR, "--out: %s", strerror(ENAMETOOLONG));
		return -1;
	}
	snprintf(r->out, sizeof(r->out), "%s.partial-%.8s", r->final, r->id);
	if (mkdir(r->out, 0755)) {
		say(r, LOG_ERROR, "cannot create the bundle directory %s: %s", r->out,
		    strerror(errno));
		return -1;
	}
	r->out_made = 1;
	return 0;
}

/* The bundle is complete and passed the verifier's checks: it takes its name. */
static int publish(struct run *r)
{
	if (rename(r->out, r->final)) {
		say(r, LOG_ERROR, "cannot rename the bundle %s to %s: %s", r->out, r->final,
		    strerror(errno));
		return -1;
	}
	r->published = 1;
	return 0;
}

/* Closes every descriptor from 3 up but the n in keep. */
static void keep_fds(const int *keep, size_t n)
{
	unsigned lo = 3;

	for (unsigned fd = 3; fd < 1024 && n; fd++) {
		bool kept = false;

		for (size_t i = 0; i < n; i++)
			kept |= keep[i] == (int)fd;
		if (!kept)
			continue;
		if (fd > lo)
			close_range(lo, fd - 1, 0);
		lo = fd + 1;
	}
	close_range(lo, ~0U, 0);
}

/*
 * A child that outlives a SIGKILL of aicert-trace: it waits on a pipe only aicert writes to. EOF
 * without aicert's "done" byte means aicert is gone, and the run's processes would go on untraced:
 * the watchdog kills the run's cgroup and removes it. (A pipe, not PR_SET_PDEATHSIG: no race with
 * a parent that dies before the child could ask.)
 */
static void watchdog(struct run *r, int rfd)
{
	const int keep[] = {rfd, r->cg.events_fd, r->cg.lock_fd};
	ssize_t n;
	char c;

	/* aicert-trace's handlers forward signals to the command: not the watchdog's business */
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	/* a terminal's ^C or a hang-up reaches the whole process group; it is aicert's to handle */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	keep_fds(keep, sizeof(keep) / sizeof(keep[0]));
	prctl(PR_SET_NAME, "aicert-watchdog");
	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	log_err("aicert-trace died during run %s: killing the run's processes (cgroup %s), "
		"which would go on untraced",
		r->id, r->cg.path);
	run_cgroup_destroy(&r->cg, 1);
	_exit(0);
}

static int watchdog_start(struct run *r)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		say(r, LOG_ERROR, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		say(r, LOG_ERROR, "cannot fork the watchdog: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		watchdog(r, p[0]);
	}
	close(p[0]);
	r->wd_fd = p[1];
	r->wd_pid = pid;
	return 0;
}

/* aicert ends normally (the run's processes are gone, or left on purpose: detached). */
static void watchdog_stop(struct run *r)
{
	ssize_t n;

	if (r->wd_fd < 0)
		return;
	n = write(r->wd_fd, "q", 1);
	(void)n;
	close(r->wd_fd);
	r->wd_fd = -1;
	while (waitpid(r->wd_pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void push(struct procs *p, struct proc_id **v, size_t *n, size_t *cap, struct proc_id id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct proc_id *nv = realloc(*v, c * sizeof(*nv));

		if (!nv) {
			p->nomem = true;
			return;
		}
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = id;
}

static void procs_add(struct procs *p, uint32_t tgid, uint64_t start)
{
	pthread_mutex_lock(&p->mu);
	push(p, &p->v, &p->n, &p->cap, (struct proc_id){tgid, start});
	pthread_mutex_unlock(&p->mu);
}

static void procs_del(struct procs *p, uint32_t tgid, uint64_t start)
{
	size_t i;

	pthread_mutex_lock(&p->mu);
	for (i = p->n; i-- > 0;)
		if (p->v[i].tgid == tgid && p->v[i].start == start) {
			p->v[i] = p->v[--p->n];
			break;
		}
	if (i == (size_t)-1) /* the command itself: its fork came before it was in scope */
		push(p, &p->gone, &p->ngone, &p->capgone, (struct proc_id){tgid, start});
	pthread_mutex_unlock(&p->mu);
}

/* The command left the cgroup if its exit was never seen in scope. */
static bool root_escaped(struct procs *p)
{
	bool seen = false;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->ngone && !seen; i++)
		seen = p->gone[i].tgid == p->root;
	pthread_mutex_unlock(&p->mu);
	return p->root && !seen;
}

/*
 * The drain thread's callback: it follows the run's processes (a fork record adds one, an exit
 * record removes it) before the collector gets the record. A process still listed when the
 * cgroup is empty left the cgroup while it ran: out of the BPF programs' scope.
 */
void run_on_record(struct run *r, const void *rec, size_t len)
{
	const struct ac_proc *p = rec;

	if (len >= sizeof(*p) && p->hdr.size >= sizeof(*p)) {
		if (p->hdr.type == AC_REC_FORK) {
			procs_add(&r->procs, p->child_tgid, p->child_start_time);
		} else if (p->hdr.type == AC_REC_EXIT) {
			procs_del(&r->procs, p->task.tgid, p->task.start_time);
			pthread_mutex_lock(&r->procs.mu);
			if (r->procs.root && p->task.tgid == r->procs.root) {
				r->root_status = p->exit_code;
				r->root_exited = true;
			}
			pthread_mutex_unlock(&r->procs.mu);
		}
	}
	collector_on_record(rec, len, r->coll);
}

static void tell_escape(const struct run *r, uint32_t pid)
{
	say(r, LOG_WARN,
	    "INCOMPLETE: process %u left the run's cgroup while it ran: what it did after is "
	    "not recorded; the bundle marks the run detached",
	    pid);
}

/* After the final drain: the processes that left the run's cgroup (0 when none). */
static size_t escaped(struct run *r, const struct access_stats *as)
{
	size_t n = r->procs.n + root_escaped(&r->procs);

	if (root_escaped(&r->procs))
		tell_escape(r, r->procs.root);
	for (size_t i = 0; i < r->procs.n; i++)
		tell_escape(r, r->procs.v[i].tgid);
	if (r->procs.nomem)
		say(r, LOG_WARN,
		    "out of memory while following the run's processes: escapes from its "
		    "cgroup may have gone unnoticed");
	if (n && as->rb_drops)
		say(r, LOG_WARN,
		    "(with events lost, some of those may simply be exits that were lost)");
	return n;
}

/* A cgroup's path as track: globs name it: below the v2 root, starting with '/'. */
static const char *cgroup_rel(const char *path)
{
	char root[PATH_MAX];
	size_t n;

	if (cgroup2_root(root, sizeof(root)))
		return path;
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (!strncmp(path, root, n) && path[n] == '/')
		return path + n;
	return path;
}

static int fill_bom(struct run *r, int status, int detached, const struct access_stats *as,
		    const char *reason)
{
	struct bom *b = &r->bom;
	char t[64];

	b->run.id = strdup(r->id);
	if (!b->run.id || bom_set_command(b, r->argv, r->argc))
		return -1;
	if (r->track && !(b->run.cgroup = strdup(cgroup_rel(r->track))))
		return -1;
	if (reason && !(b->run.incomplete_reason = strdup(reason)))
		return -1;
	if (r->job.scheduler && job_copy(&b->job, &r->job))
		return -1;
	b->run.cwd = strdup(r->cwd);
	b->run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	b->run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	time_rfc3339(&r->started, t, sizeof(t));
	b->run.started = strdup(t);
	time_rfc3339(&r->finished, t, sizeof(t));
	b->run.finished = strdup(t);
	b->run.backend = strdup(r->backend);
	b->run.events_lost = as->rb_drops;
	b->run.paths_truncated = as->path_trunc;
	b->run.detached = detached;
	b->run.complete = !as->rb_drops && !as->path_trunc && !detached;
	if (!b->run.cwd || !b->run.started || !b->run.finished || !b->run.backend)
		return -1;
	if (host_fill(&b->host))
		return -1;
	if (evlog_attested(r->h.ev)) {
		char tpm[256];

		snprintf(tpm, sizeof(tpm), "TPM 2.0 (%s), PCR %u",
			 r->h.tcti ? r->h.tcti : "default TCTI", evlog_pcr(r->h.ev));
		b->host.tpm = strdup(tpm);
		b->attested = 1;
	} else {
		b->host.tpm = strdup("none (unattested: --no-tpm)");
		b->attested = 0;
	}
	return b->host.tpm ? 0 : -1;
}

static void summary(struct run *r, const struct collector_stats *cs, const struct access_stats *as)
{
	size_t in = 0, out = 0, bad = 0;

	for (size_t i = 0; i < r->bom.nfiles; i++) {
		if (r->bom.files[i].roles & BOM_ROLE_OUTPUT)
			out++;
		else
			in++;
		if (!r->bom.files[i].sha256[0])
			bad++;
	}
	say(r, LOG_INFO,
	    "%zu files measured (%zu inputs, %zu outputs), %.1f MiB hashed, %llu from the "
	    "cache",
	    r->bom.nfiles, in, out, (double)cs->bytes_hashed / (1 << 20),
	    (unsigned long long)cs->cache_hits);
	if (as->rb_drops || as->path_trunc)
		say(r, LOG_WARN, "INCOMPLETE: %llu events lost, %llu paths truncated",
		    (unsigned long long)as->rb_drops, (unsigned long long)as->path_trunc);
	if (bad)
		say(r, LOG_WARN, "%zu files could not be measured (see \"status\" in bom.json)",
		    bad);
	if (r->bom.attested)
		say(r, LOG_INFO,
		    "attested: %llu log records extended into PCR %u (%llu batches, %llu TPM "
		    "commands) and quoted",
		    (unsigned long long)evlog_run_records(r->evr), evlog_pcr(r->h.ev),
		    (unsigned long long)evlog_run_batches(r->evr),
		    (unsigned long long)evlog_tpm_commands(r->h.ev));
	else
		say(r, LOG_WARN, "UNATTESTED bundle (--no-tpm): nothing binds it to a TPM");
	say(r, LOG_INFO, "bundle written to %s", r->final);
}

/* bom.json's status text -> the event log's code (lib/cel.h; aicert-verify maps it back) */
static enum cel_file_status cel_status(const struct bom_file *f)
{
	int64_t st = cel_file_status_of(f->status);

	return st < 0 ? CEL_FILE_UNREADABLE : (enum cel_file_status)st; /* "unreadable: <why>" */
}

/* NULL for CEL_FILE_OK */
static const char *status_text(uint32_t code)
{
	const char *t = cel_file_status_text(code);

	if (code == CEL_FILE_OK)
		return NULL;
	return t ? t : "unreadable: as the event log recorded it";
}

/* Every BOM entry goes into the event log, so the log replays to what bom.json says. */
static void on_measured(const struct bom_file *f, void *ctx)
{
	struct run *r = ctx;
	uint8_t sha[32] = {0};
	int e;

	if (f->sha256[0])
		hex_decode(f->sha256, sha, sizeof(sha));
	e = evlog_measure(r->evr, f->path, sha, f->size, f->roles, cel_status(f));
	if (e && !r->ev_err)
		r->ev_err = e;
}

/* As a shell reports it; 125 (aicert failed, as env(1)) for a status that is neither. */
static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 125;
}

static int log_run_end(struct run *r, int status, int detached, const struct access_stats *as)
{
	struct cel_output *outs = calloc(r->bom.nfiles + 1, sizeof(*outs));
	size_t n = 0;
	int e;

	if (!outs)
		return -ENOMEM;
	for (size_t i = 0; i < r->bom.nfiles; i++) {
		const struct bom_file *f = &r->bom.files[i];

		if (!(f->roles & BOM_ROLE_OUTPUT) || !f->sha256[0])
			continue;
		outs[n].path = f->path;
		outs[n].size = f->size;
		hex_decode(f->sha256, outs[n].sha256, sizeof(outs[n].sha256));
		n++;
	}
	e = as->rb_drops ? evlog_loss(r->evr, as->rb_drops) : 0;
	if (!e)
		e = evlog_run_end(r->evr, &(struct evlog_run_end){
					      .exit_status = exit_status(status),
					      .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
					      .detached = detached,
					      .paths_truncated = as->path_trunc,
					      .outputs = outs,
					      .n_outputs = n});
	free(outs);
	return e;
}

static int write_docs(struct run *r)
{
	char path[PATH_MAX + 32];
	int e;

	/* imacorr says what it found; a failure leaves every file "unavailable", not fatal */
	e = imacorr_run(&r->bom, r->out, NULL, NULL);
	if (e)
		say(r, LOG_WARN, "IMA correlation failed (%s): files marked unavailable",
		    strerror(-e));
	snprintf(path, sizeof(path), "%s/bom.json", r->out);
	e = bom_write(&r->bom, path);
	if (e) {
		say(r, LOG_ERROR, "cannot write %s: %s", path, strerror(-e));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/bom.cdx.json", r->out);
	if (cdx_write(&r->bom, path)) {
		say(r, LOG_ERROR, "cannot write %s", path);
		return -1;
	}
	return 0;
}

/* provenance.intoto.json names events.cel as a byproduct, by digest. */
static int write_provenance(struct run *r, const char *events)
{
	struct hash_job job = {.path = events, .pid = -1, .fd = -1};
	struct hash_result res;
	char path[PATH_MAX + 32], hex[65];

	if (hash_file(&job, NULL, &res) != HASH_OK) {
		say(r, LOG_ERROR, "cannot hash %s", events);
		return -1;
	}
	hex_encode(res.sha256, sizeof(res.sha256), hex);
	snprintf(path, sizeof(path), "%s/provenance.intoto.json", r->out);
	if (intoto_write(&r->bom, path, hex)) {
		say(r, LOG_ERROR, "cannot write %s", path);
		return -1;
	}
	return 0;
}

/* Binding -> quote -> the final IMA list -> manifest.json; see lib/manifest.h for why. */
static int seal(struct run *r)
{
	char path[PATH_MAX + 32], why[MANIFEST_WHY_MAX];
	struct manifest *m = NULL;
	struct bom none;
	uint8_t q[32];
	int rc = -1;

	snprintf(path, sizeof(path), "%s/events.cel", r->out);
	if (evlog_export(r->h.ev, &(struct evlog_view){r->id, EVLOG_VIEW_NOUID}, path)) {
		say(r, LOG_ERROR, "cannot write %s", path);
		return -1;
	}
	if (write_provenance(r, path)) {
		evlog_release(r->h.ev);
		return -1;
	}
	if (manifest_scan(r->out, (unsigned)evlog_pcr(r->h.ev), r->nonce_len ? r->nonce : NULL,
			  r->nonce_len, &m, why) ||
	    manifest_binding(m, q)) {
		say(r, LOG_ERROR, "cannot bind the bundle: %s", why);
		evlog_release(r->h.ev);
		goto cleanup;
	}
	if (!evlog_attested(r->h.ev))
		evlog_release(r->h.ev);
	else if (evlog_quote(r->h.ev, q, sizeof(q), r->out)) {
		say(r, LOG_ERROR, "cannot take the TPM quote");
		goto cleanup;
	}
	bom_init(&none);
	if (imacorr_run(&none, r->out, NULL, NULL))
		say(r, LOG_WARN,
		    "cannot refresh ima.bin after the quote: its replay may stop short of the "
		    "quoted PCR 10");
	bom_free(&none);
	if (manifest_build(r->out, (unsigned)evlog_pcr(r->h.ev), r->nonce_len ? r->nonce : NULL,
			   r->nonce_len, NULL, why)) {
		say(r, LOG_ERROR, "cannot write manifest.json: %s", why);
		goto cleanup;
	}
	rc = 0;
cleanup:
	manifest_free(m);
	return rc;
}

/*
 * The verifier's own checks (verify_bundle, what aicert-verify runs) on the bundle just written,
 * with the run's own AK pinned and its nonce: a run never reports success for a bundle that
 * aicert-verify would reject. An incomplete run may fail only the "complete" check.
 */
static int self_check(struct run *r)
{
	char ak[PATH_MAX + 48];
	struct verify_report rep;
	struct verify_opts vo = {.bundle = r->out,
				 .ak_pem = ak,
				 .nonce = r->nonce_len ? r->nonce : NULL,
				 .nonce_len = r->nonce_len,
				 .allow_resettable = r->h.allow_resettable};
	int code;

	if (!r->bom.attested)
		return 0; /* nothing to check it against: summary() says UNATTESTED */
	snprintf(ak, sizeof(ak), "%s/ak.pub.pem", r->out);
	code = verify_bundle(&vo, &rep);
	if (code == VERIFY_EXIT_OK || (code == VERIFY_EXIT_INCOMPLETE && !r->bom.run.complete))
		return 0;
	for (int i = 0; i < VERIFY_N_CHECKS; i++)
		if (!rep.checks[i].ok)
			say(r, LOG_ERROR, "aicert-verify would reject this bundle: FAIL %s: %s",
			    rep.checks[i].name, rep.checks[i].reason);
	return -1;
}

/* The host-wide counters since the run began: every loss meanwhile counts as the run's. */
static void stats_since(const struct access_stats *a, const struct access_stats *now,
			struct access_stats *d)
{
	d->events = now->events - a->events;
	d->rb_drops = now->rb_drops - a->rb_drops;
	d->path_trunc = now->path_trunc - a->path_trunc;
	d->dedup_hits = now->dedup_hits - a->dedup_hits;
	d->errors = now->errors - a->errors;
	d->malformed = now->malformed - a->malformed;
	d->ring_full = now->ring_full - a->ring_full;
	d->scratch_busy = now->scratch_busy - a->scratch_busy;
	d->undelivered = now->undelivered - a->undelivered;
	d->prog_misses = now->prog_misses - a->prog_misses;
}

/* run_end, bom.json and the rest, seal, the verifier's checks, the bundle's name. */
static int bundle(struct run *r, int status, int detached, const struct access_stats *as)
{
	if (r->ev_err || log_run_end(r, status, detached, as)) {
		say(r, LOG_ERROR, "cannot append the run to the event log %s", evlog_path(r->h.ev));
		return -1;
	}
	return write_docs(r) || seal(r) || self_check(r) || publish(r) ? -1 : 0;
}

static void result(const struct run *r, int status, struct run_result *res)
{
	res->exit_status = exit_status(status);
	res->complete = r->bom.run.complete;
	snprintf(res->bundle, sizeof(res->bundle), "%s", r->published ? r->final : r->out);
}

int run_finish(struct run *r, const struct run_end_info *e, struct run_result *res)
{
	struct access_stats now, as;
	struct collector_stats cs;
	/* a tracked cgroup has no exit status of its own: recorded as 0 */
	int status = e->status < 0 ? 0 : e->status;
	/* run_end's only incomplete mark that is not a loss: the run was not traced to its end */
	int detached = e->detached || e->incomplete_reason;

	memset(res, 0, sizeof(*res));
	r->finishing = true;
	access_stats(r->h.access, &now);
	stats_since(&r->as0, &now, &as);
	if (escaped(r, &as))
		detached = 1;
	clock_gettime(CLOCK_REALTIME, &r->finished);
	if (fill_bom(r, status, detached, &as, e->incomplete_reason)) {
		say(r, LOG_ERROR, "out of memory");
		return -1;
	}
	if (collector_finish(r->coll, &r->bom, on_measured, r)) {
		say(r, LOG_ERROR, "cannot finish measuring: %s", strerror(ENOMEM));
		return -1;
	}
	collector_stats(r->coll, &cs);
	/* hashcache_save logged why; the bundle is still written, but the run fails */
	res->cache_failed = r->h.cache && hashcache_save(r->h.cache);
	if (e->incomplete_reason)
		say(r, LOG_WARN, "INCOMPLETE: %s", e->incomplete_reason);
	if (bundle(r, status, detached, &as)) {
		result(r, status, res);
		return -1;
	}
	summary(r, &cs, &as);
	result(r, status, res);
	res->strict_fail = as.rb_drops || as.path_trunc || cs.unhashed || detached;
	return 0;
}

/* ---- begin / free ---- */

/* An existing cgroup (track:): its id is its directory's inode; no lock, never removed. */
static int adopt_cgroup(struct run *r)
{
	char ev[sizeof(r->cg.path) + 16];
	struct stat st;

	if (snprintf(r->cg.path, sizeof(r->cg.path), "%s", r->track) >= (int)sizeof(r->cg.path) ||
	    stat(r->track, &st) || !S_ISDIR(st.st_mode)) {
		say(r, LOG_ERROR, "cannot adopt the cgroup %s: %s", r->track,
		    errno ? strerror(errno) : "not a directory");
		return -1;
	}
	r->cg.id = st.st_ino;
	snprintf(ev, sizeof(ev), "%s/cgroup.events", r->cg.path);
	r->cg.events_fd = open(ev, O_RDONLY | O_CLOEXEC);
	if (r->cg.events_fd < 0) {
		say(r, LOG_ERROR, "cannot open %s: %s", ev, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_cgroup(struct run *r)
{
	if (r->track)
		return adopt_cgroup(r);
	if (run_cgroup_sweep() < 0 || run_cgroup_create(&r->cg, r->id))
		return -1;
	r->cg_made = 1;
	return 0;
}

static int start_log(struct run *r)
{
	uint8_t pdigest[32];

	policy_digest(r->policy, pdigest);
	if (evlog_run_start(r->h.ev,
			    &(struct evlog_run_info){.run_id = r->id,
						     .argv = (const char *const *)r->argv,
						     .argc = r->argc,
						     .cwd = r->cwd,
						     .uid = r->o.uid,
						     .policy_sha256 = pdigest,
						     .backend = r->backend,
						     .nonce = r->nonce,
						     .nonce_len = r->nonce_len,
						     .job = &r->job},
			    &r->evr)) {
		say(r, LOG_ERROR, "cannot start the run in the event log %s", evlog_path(r->h.ev));
		return -1;
	}
	return 0;
}

static char **copy_argv(char *const *argv, size_t *argc)
{
	size_t n = 0;
	char **v;

	while (argv && argv[n])
		n++;
	if (!(v = calloc(n + 1, sizeof(*v))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(argv[i]))) {
			while (i--)
				free(v[i]);
			free(v);
			return NULL;
		}
	*argc = n;
	return v;
}

/* The run's own copies of what it keeps from o; o's pointers are not needed afterwards. */
static struct run *run_new(const struct run_host *h, const struct run_opts *o)
{
	struct run *r = calloc(1, sizeof(*r));

	if (!r) {
		log_err("out of memory");
		policy_free(o->policy);
		return NULL;
	}
	r->h = *h;
	r->o = *o;
	r->wd_fd = -1;
	r->cg.events_fd = r->cg.lock_fd = -1;
	pthread_mutex_init(&r->procs.mu, NULL);
	bom_init(&r->bom);
	r->policy = o->policy;
	r->o.policy = NULL;
	if (o->nonce_len > sizeof(r->nonce)) {
		say(r, LOG_ERROR, "a nonce holds at most %zu bytes", sizeof(r->nonce));
		goto fail;
	}
	if (o->nonce_len)
		memcpy(r->nonce, o->nonce, o->nonce_len);
	r->nonce_len = o->nonce_len;
	r->o.nonce = NULL;
	r->o.job = NULL;
	if (o->job && (job_check(o->job, NULL) || job_copy(&r->job, o->job))) {
		say(r, LOG_ERROR, "the run's job is malformed, or memory ran out");
		goto fail;
	}
	if (o->id)
		snprintf(r->id, sizeof(r->id), "%s", o->id);
	else if (run_id_new(r->id)) {
		say(r, LOG_ERROR, "cannot make a run id: %s", strerror(errno));
		goto fail;
	}
	if ((o->argv && !(r->argv = copy_argv(o->argv, &r->argc))) ||
	    !(r->cwd = strdup(o->cwd ? o->cwd : "/")) ||
	    (o->out && !(r->out_opt = strdup(o->out))) ||
	    (o->track_cgroup && !(r->track = strdup(o->track_cgroup)))) {
		say(r, LOG_ERROR, "out of memory");
		goto fail;
	}
	r->o.argv = NULL;
	r->o.out = r->out_opt;
	r->o.cwd = r->cwd;
	r->o.track_cgroup = r->track;
	return r;
fail:
	run_free(r);
	return NULL;
}

int run_begin(const struct run_host *h, const struct run_opts *o, struct run **out)
{
	struct run *r = run_new(h, o);

	*out = NULL;
	if (!r)
		return -1;
	snprintf(r->backend, sizeof(r->backend), "%s", access_backend_name(h->access));
	if (prepare_out(r))
		goto fail;
	if (policy_add_exclude(r->policy, r->out) || policy_add_exclude(r->policy, r->final)) {
		say(r, LOG_ERROR, "cannot exclude the bundle directory %s from the trace",
		    r->final);
		goto fail;
	}
	if (make_cgroup(r) || (o->watchdog && watchdog_start(r)) || start_log(r))
		goto fail;
	access_stats(h->access, &r->as0);
	if (access_scope_add(h->access, r->cg.id)) {
		say(r, LOG_ERROR, "cannot scope the BPF programs to the run's cgroup");
		goto fail;
	}
	r->scoped = true;
	r->coll = collector_new(&(struct collector_opts){
	    .policy = r->policy, .cache = h->cache, .jobs = o->jobs, .progress = o->progress});
	if (!r->coll) {
		say(r, LOG_ERROR, "cannot start the collector: %s", strerror(ENOMEM));
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &r->started);
	*out = r;
	return 0;
fail:
	run_free(r);
	return -1;
}

const char *run_id(const struct run *r)
{
	return r->id;
}

const struct run_cgroup *run_cg(const struct run *r)
{
	return &r->cg;
}

int run_inherit_fds(struct run *r, pid_t pid, int n)
{
	return collector_inherit_fds_of(r->coll, pid == getpid() ? 0 : pid, n);
}

uint64_t run_hash_pending(struct run *r)
{
	struct collector_stats cs;

	collector_stats(r->coll, &cs);
	return cs.hash_pending;
}

void run_set_root(struct run *r, pid_t pid)
{
	pthread_mutex_lock(&r->procs.mu);
	r->procs.root = (uint32_t)pid;
	pthread_mutex_unlock(&r->procs.mu);
}

bool run_root_exit(const struct run *r, int *wait_status)
{
	bool seen;

	pthread_mutex_lock((pthread_mutex_t *)&r->procs.mu);
	seen = r->root_exited;
	if (seen)
		*wait_status = r->root_status;
	pthread_mutex_unlock((pthread_mutex_t *)&r->procs.mu);
	return seen;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	if (r->scoped)
		access_scope_del(r->h.access, r->cg.id);
	collector_free(r->coll);
	evlog_run_free(r->evr);
	watchdog_stop(r);
	if (r->cg_made)
		run_cgroup_destroy(&r->cg, 0);
	else if (r->cg.events_fd >= 0)
		close(r->cg.events_fd);
	/* nothing ran: leave no empty bundle directory behind (rmdir keeps a non-empty one) */
	if (!r->finishing && r->out_made)
		rmdir(r->out);
	else if (r->out_made && !r->published)
		say(r, LOG_ERROR, "no bundle: what was written is left in %s", r->out);
	policy_free(r->policy);
	bom_free(&r->bom);
	if (r->argv)
		for (size_t i = 0; i < r->argc; i++)
			free(r->argv[i]);
	free(r->argv);
	free(r->cwd);
	free(r->out_opt);
	free(r->track);
	job_free(&r->job);
	free(r->procs.v);
	free(r->procs.gone);
	pthread_mutex_destroy(&r->procs.mu);
	free(r);
}

/* ---- recovery ---- */

/* A measurement the log holds for the interrupted run: into its BOM as recorded. */
static void add_logged(const struct cel_file *f, void *ctx)
{
	struct run *r = ctx;
	static const uint8_t zero[32];
	const char *status = status_text(f->status);
	struct bom_file *b;
	char hex[65];

	hex_encode(f->sha256, sizeof(f->sha256), hex);
	b = bom_add_file(&r->bom, f->path, memcmp(f->sha256, zero, 32) ? hex : NULL);
	if (!b || (status && !(b->status = strdup(status)))) {
		r->ev_err = -ENOMEM;
		return;
	}
	b->size = f->size;
	b->roles = f->roles;
}

int run_recover(const struct run_host *h, const struct cel_event *run_start, const char *out,
		struct run_result *res)
{
	static const char reason[] = "monitor restarted";
	struct run_opts o = {.id = run_start->run_id,
			     .argv = run_start->argv,
			     .cwd = run_start->cwd,
			     .uid = run_start->uid,
			     .job = &run_start->job,
			     .out = out};
	struct access_stats as = {0}, none = {0};
	char **argv = NULL; /* the record's argv has argc entries, no NULL after them */
	struct run *r;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (run_start->argc) {
		if (!(argv = calloc(run_start->argc + 1, sizeof(*argv)))) {
			log_err("out of memory");
			return -1;
		}
		memcpy(argv, run_start->argv, run_start->argc * sizeof(*argv));
	}
	o.argv = argv;
	r = run_new(h, &o);
	free(argv);
	if (!r)
		return -1;
	snprintf(r->backend, sizeof(r->backend), "%s",
		 run_start->backend ? run_start->backend : "unknown");
	r->started.tv_sec = run_start->time_ns / 1000000000ull;
	r->started.tv_nsec = run_start->time_ns % 1000000000ull;
	if (run_start->nonce_len <= sizeof(r->nonce)) {
		memcpy(r->nonce, run_start->nonce, run_start->nonce_len);
		r->nonce_len = run_start->nonce_len;
	}
	if (prepare_out(r) || evlog_run_resume(h->ev, r->id, &r->evr))
		goto cleanup;
	r->finishing = true;
	clock_gettime(CLOCK_REALTIME, &r->finished);
	if (evlog_run_files(h->ev, r->id, add_logged, r) || r->ev_err) {
		say(r, LOG_ERROR, "cannot read the measurements of run %s from %s", r->id,
		    evlog_path(h->ev));
		goto cleanup;
	}
	/* the losses are in the log already: bom.json counts them, run_end adds none */
	as.rb_drops = evlog_run_lost(r->evr);
	if (fill_bom(r, 0, 1, &as, reason)) {
		say(r, LOG_ERROR, "out of memory");
		goto cleanup;
	}
	say(r, LOG_WARN,
	    "INCOMPLETE: run %s was interrupted (%s): its bundle holds what the "
	    "event log recorded",
	    r->id, reason);
	rc = bundle(r, 0, 1, &none);
	result(r, 0, res);
cleanup:
	run_free(r);
	return rc;
}
