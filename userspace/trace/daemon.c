// SPDX-License-Identifier: BSD-2-Clause
/*
 * daemon.c - aicertd's core. The BPF backend is loaded once and its ring buffer drained on one
 * thread; every record carries the scope (the run's cgroup id) it matched, and goes to that run's
 * collector. The main thread owns everything else: the socket and its clients, the cgroup watcher
 * (track:), the runs' cgroup.events, signals and timers. A run that ended is finished (hashing
 * outputs, event log, quote, bundle) on a thread of its own, so one slow run never stalls others.
 *
 * State under <state dir>/aicertd/: "lock" (one daemon per state dir), runs/<id>.json for each
 * active run (removed once its bundle is written: what a restart after a crash recovers), and
 * done/<id>.json, a line of history per finished run for `aicert runs`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "lib/hex.h"
#include "lib/ipc.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "lib/policy.h"
#include "trace/cgroup.h"
#include "trace/cgwatch.h"
#include "trace/daemon.h"
#include "trace/eventlog.h"
#include "trace/hashcache.h"
#include "trace/imacorr.h"
#include "trace/jobstep.h"
#include "trace/logquote.h"
#include "trace/run.h"
#include "trace/runinfo.h"

#define MAX_CLIENTS 256
#define MAX_ACTIVE_RUNS 1024
#define HISTORY_MAX 1000 /* finished runs `aicert runs` lists (the newest) */
#define SYNC_TIMEOUT_MS 30000

enum drun_state { DR_RUNNING, DR_FINISHING, DR_DONE, DR_FAILED, DR_INTERRUPTED };

static const char *const state_names[] = { "running", "finishing", "done", "failed",
					   "interrupted" };

struct conn;

struct drun {
	struct drun *next;
	char id[37];
	struct run *run;
	uint64_t scope;
	uint32_t uid, gid;
	json_t *command; /* array of strings, or null for a tracked cgroup */
	char *cgroup;	 /* tracked: the cgroup's path below the v2 root */
	char started[64], finished[64];
	enum drun_state state;
	struct conn *client; /* NULL: none (tracked, or the client went away) */
	pthread_mutex_t client_mu;
	bool exited;	     /* the client said its command ended */
	int client_status;   /* what it said */
	int detach_timeout;  /* seconds; -1: wait for every process */
	long long detach_at; /* ms (CLOCK_MONOTONIC) when the detach timeout ends; 0: not armed */
	bool strict, tracked, gone, detached;
	bool adopted;		/* a job step's run on the scheduler's own cgroup (nothing moved) */
	struct job_info job;	/* a job step's run: its job; scheduler NULL: none */
	char *incomplete; /* a reason the run cannot be complete, or NULL */
	pthread_t worker;
	bool worker_started, worker_done;
	struct run_result res;
	int finish_rc;
};

struct conn {
	int fd;
	struct ucred peer;
	struct drun *run; /* the run this client started */
};

/* A finished run, as `aicert runs` shows it. */
struct hist {
	struct hist *next;
	json_t *j;
	uint32_t uid;
};

static struct {
	const struct daemon_opts *o;
	char state[PATH_MAX - 256], spool[PATH_MAX - 128], cgroot[PATH_MAX - 256];
	const char *socket;
	int lock_fd, listen_fd, sig_fd, done_fd;
	struct run_host host;
	struct access *access;
	struct evlog *ev;
	struct hashcache *cache;
	struct policy *policy; /* the daemon's own, for track: and for runs that bring none */
	char *policy_text;     /* its text: each run parses its own copy */
	size_t policy_len;
	struct cgwatch *cgw;
	bool cgw_initial; /* cgwatch_set() is reporting what exists already */
	struct conn *conns[MAX_CLIENTS];
	size_t nconns;
	struct drun *runs; /* active (running, finishing) */
	size_t nruns;
	struct hist *hist; /* newest first */
	size_t nhist;
	uint64_t runs_done;
	struct timespec started;
	bool stopping;
	/* the drain thread's view of the runs: scope -> run */
	pthread_rwlock_t tab_mu;
	struct drun **tab;
	size_t ntab, captab;
	uint64_t unrouted; /* records whose scope no run claims (a run that just ended) */
} D = { .lock_fd = -1, .listen_fd = -1, .sig_fd = -1, .done_fd = -1,
	.tab_mu = PTHREAD_RWLOCK_INITIALIZER };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static void now_text(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	time_rfc3339(&ts, buf, len);
}

/* ---- the drain thread's table: which run a record's scope belongs to ---- */

static int tab_add(struct drun *r)
{
	int ret = 0;

	pthread_rwlock_wrlock(&D.tab_mu);
	if (D.ntab == D.captab) {
		size_t cap = D.captab ? 2 * D.captab : 16;
		struct drun **t = realloc(D.tab, cap * sizeof(*t));

		if (t) {
			D.tab = t;
			D.captab = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret)
		D.tab[D.ntab++] = r;
	pthread_rwlock_unlock(&D.tab_mu);
	return ret;
}

/* After this returns, the drain thread never hands the run another record. */
static void tab_del(struct drun *r)
{
	pthread_rwlock_wrlock(&D.tab_mu);
	for (size_t i = 0; i < D.ntab; i++)
		if (D.tab[i] == r) {
			D.tab[i] = D.tab[--D.ntab];
			break;
		}
	pthread_rwlock_unlock(&D.tab_mu);
}

static void on_record(const void *rec, size_t len, void *ctx)
{
	const struct ac_hdr *h = rec;
	uint64_t scope;
	bool routed = false;

	(void)ctx;
	/* every record type starts with the header and the task */
	if (len < sizeof(*h) + sizeof(struct ac_task))
		return;
	memcpy(&scope, (const char *)rec + sizeof(*h) + offsetof(struct ac_task, scope),
	       sizeof(scope));
	pthread_rwlock_rdlock(&D.tab_mu);
	for (size_t i = 0; i < D.ntab; i++)
		if (D.tab[i]->scope == scope && D.tab[i]->run) {
			run_on_record(D.tab[i]->run, rec, len);
			routed = true;
			break;
		}
	pthread_rwlock_unlock(&D.tab_mu);
	if (!routed)
		__atomic_fetch_add(&D.unrouted, 1, __ATOMIC_RELAXED);
}

/* ---- talking to a run's client ---- */

static const char *level_name(int level)
{
	return level <= LOG_ERROR ? "err" : level == LOG_WARN ? "warn" : level == LOG_INFO ? "info"
										 : "debug";
}

/* A message to the run's client only; the caller holds client_mu and r->client is set. */
static void client_say(struct drun *r, int level, const char *msg)
{
	json_t *j = json_pack("{s:s,s:s,s:s}", "op", "say", "level", level_name(level), "message",
			      msg);

	if (j && ipc_send(r->client->fd, j, NULL, 0))
		log_debug("run %.8s: its client went away", r->id);
	json_decref(j);
}

/* The run module's messages: to the daemon's log (what is info for the user is debug here),
 * and to the run's client if it is there. */
static void run_say(void *ctx, int level, const char *msg)
{
	struct drun *r = ctx;

	log_msg(level >= LOG_INFO ? LOG_DEBUG : level, "run %.8s: %s", r->id, msg);
	pthread_mutex_lock(&r->client_mu);
	if (r->client)
		client_say(r, level, msg);
	pthread_mutex_unlock(&r->client_mu);
}

/* ---- state files ---- */

static void state_path(char *buf, size_t len, const char *sub, const char *id)
{
	snprintf(buf, len, "%s/aicertd/%s/%s.json", D.state, sub, id);
}

static int write_json_file(const char *path, json_t *j)
{
	char tmp[PATH_MAX + 8];
	int ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ret = json_dump_file(j, tmp, JSON_COMPACT) ? -EIO : 0;
	if (!ret) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
		if (rename(tmp, path))
			ret = -errno;
	}
	if (ret) {
		log_err("cannot write %s", path);
		unlink(tmp);
	}
	return ret;
}

static json_t *run_json(const struct drun *r)
{
	char bundle[PATH_MAX + 40];
	bool finished = r->state == DR_DONE || r->state == DR_FAILED || r->state == DR_INTERRUPTED;
	struct passwd *pw = getpwuid(r->uid);
	json_t *j;

	snprintf(bundle, sizeof(bundle), "%s/%s", D.spool, r->id);
	j = json_pack("{s:s,s:I,s:s,s:O,s:s?,s:s,s:s}", "id", r->id, "uid", (json_int_t)r->uid,
		      "user", pw ? pw->pw_name : "?", "command", r->command ? r->command : json_null(),
		      "cgroup", r->cgroup, "state", state_names[r->state], "started", r->started);
	if (!j)
		return NULL;
	if (r->job.scheduler)
		json_object_set_new(j, "job", json_pack("{s:s,s:s,s:s,s:s}", "scheduler",
							r->job.scheduler, "id", r->job.id, "step",
							r->job.step, "node", r->job.node));
	if (finished) {
		json_object_set_new(j, "finished", json_string(r->finished));
		json_object_set_new(j, "bundle", r->finish_rc ? json_null() : json_string(bundle));
		json_object_set_new(j, "complete", r->finish_rc ? json_null()
								: json_boolean(r->res.complete));
		json_object_set_new(j, "exit_status", r->finish_rc || r->tracked
							      ? json_null()
							      : json_integer(r->res.exit_status));
	} else {
		json_object_set_new(j, "finished", json_null());
		json_object_set_new(j, "bundle", json_null());
		json_object_set_new(j, "complete", json_null());
		json_object_set_new(j, "exit_status", json_null());
	}
	return j;
}

static void hist_push(json_t *j, uint32_t uid)
{
	struct hist *h = calloc(1, sizeof(*h)), **pp;

	if (!h) {
		json_decref(j);
		return;
	}
	h->j = j;
	h->uid = uid;
	h->next = D.hist;
	D.hist = h;
	if (++D.nhist <= HISTORY_MAX)
		return;
	for (pp = &D.hist; (*pp)->next; pp = &(*pp)->next)
		;
	json_decref((*pp)->j);
	free(*pp);
	*pp = NULL;
	D.nhist--;
}

/* The history that outlived the last daemon: done/<id>.json, newest last in the list we build. */
static void hist_load(void)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300];
	struct dirent *de;
	json_t **v = NULL;
	size_t n = 0, cap = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/aicertd/done", D.state);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		json_t *j;

		if (strlen(de->d_name) != 41 || strcmp(de->d_name + 36, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		if (!j || !json_is_object(j) || !json_is_string(json_object_get(j, "finished"))) {
			json_decref(j);
			continue;
		}
		if (n == cap) {
			json_t **nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*nv));

			if (!nv) {
				json_decref(j);
				break;
			}
			v = nv;
		}
		v[n++] = j;
	}
	closedir(d);
	/* oldest first, so that the newest end up at the head */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(json_string_value(json_object_get(v[k - 1], "finished")),
						   json_string_value(json_object_get(v[k], "finished"))) > 0; k--) {
			json_t *t = v[k];

			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		hist_push(v[i], (uint32_t)json_integer_value(json_object_get(v[i], "uid")));
	free(v);
}

/* ---- runs ---- */

static struct drun *drun_new(const char *id)
{
	struct drun *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	memcpy(r->id, id, 37);
	pthread_mutex_init(&r->client_mu, NULL);
	r->detach_timeout = -1;
	now_text(r->started, sizeof(r->started));
	return r;
}

static void drun_free(struct drun *r)
{
	if (!r)
		return;
	json_decref(r->command);
	job_free(&r->job);
	free(r->cgroup);
	free(r->incomplete);
	pthread_mutex_destroy(&r->client_mu);
	free(r);
}

static void runs_link(struct drun *r)
{
	r->next = D.runs;
	D.runs = r;
	D.nruns++;
}

static void runs_unlink(struct drun *r)
{
	for (struct drun **pp = &D.runs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			D.nruns--;
			return;
		}
}

static int state_save(const struct drun *r)
{
	char path[PATH_MAX + 64];
	json_t *j = run_json(r);
	int ret;

	if (!j)
		return -ENOMEM;
	state_path(path, sizeof(path), "runs", r->id);
	ret = write_json_file(path, j);
	json_decref(j);
	return ret;
}

static char *spool_dir(const char *id, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", D.spool, id) >= len)
		buf[0] = 0; /* cannot happen: the spool's name is bounded */
	return buf;
}

/* A copy of the policy a run brings (its text), else of the daemon's. NULL: *err says why. */
static struct policy *run_policy(const char *text, const char *name, char *err, size_t errlen)
{
	if (text)
		return policy_parse(text, strlen(text), name ? name : "the client's policy", err,
				    errlen);
	if (D.policy_text)
		return policy_parse(D.policy_text, D.policy_len, D.o->policy, err, errlen);
	snprintf(err, errlen, "cannot load the built-in policy");
	return policy_default();
}

static void *finish_thread(void *arg)
{
	struct drun *r = arg;
	struct run_end_info e = { .status = -1, .detached = r->detached,
				  .incomplete_reason = r->incomplete };
	uint64_t one = 1;
	ssize_t n;
	int st;

	/* every record the run's processes made is in the ring buffer: hand them all over */
	if (access_sync(D.access, SYNC_TIMEOUT_MS))
		run_say(r, LOG_WARN, "the ring buffer did not drain in time: events may be missing");
	if (!r->tracked) {
		if (run_root_exit(r->run, &st)) {
			e.status = st;
			if (r->exited && st != r->client_status)
				log_warn("run %.8s: the client said its command ended with status "
					 "%#x, the kernel saw %#x: the kernel's is recorded",
					 r->id, r->client_status, st);
		} else if (r->exited) {
			e.status = r->client_status;
			run_say(r, LOG_WARN, "the command's exit was not seen by the kernel side: "
					     "its status is the one aicert-trace reported");
		} else {
			e.status = -1;
		}
	}
	r->finish_rc = run_finish(r->run, &e, &r->res);
	/* done first, then the wake-up: the main thread looks for done runs when it wakes */
	__atomic_store_n(&r->worker_done, true, __ATOMIC_RELEASE);
	n = write(D.done_fd, &one, sizeof(one));
	(void)n;
	return NULL;
}

static void finish_start(struct drun *r, const char *reason)
{
	if (r->state != DR_RUNNING)
		return;
	if (reason && !r->incomplete)
		r->incomplete = strdup(reason);
	r->state = DR_FINISHING;
	r->detach_at = 0;
	if (pthread_create(&r->worker, NULL, finish_thread, r)) {
		log_err("run %.8s: cannot start a thread to finish it: %s", r->id, strerror(errno));
		r->finish_rc = -1;
		r->worker_done = true;
		return;
	}
	r->worker_started = true;
}

/* Is the run over? Its cgroup is empty and, for a client's run, the command is known to be gone. */
static void run_check(struct drun *r)
{
	int empty;

	if (r->state != DR_RUNNING)
		return;
	empty = run_cgroup_empty(run_cg(r->run));
	if (r->tracked) {
		/* an empty tracked cgroup is one no job has entered yet: only GONE ends it */
		if (r->gone)
			finish_start(r, NULL);
		return;
	}
	if (!r->exited && r->client)
		return;
	if (empty == 1 || empty < 0) {
		finish_start(r, NULL);
		return;
	}
	if (r->detach_timeout >= 0 && !r->detach_at) {
		r->detach_at = now_ms() + r->detach_timeout * 1000ll;
		run_say(r, LOG_INFO, "the command exited; waiting for the processes it left behind");
	} else if (r->detach_at && now_ms() >= r->detach_at) {
		run_say(r, LOG_WARN, "stopped waiting for the run's remaining processes: the "
				     "bundle is marked detached");
		r->detached = true;
		finish_start(r, NULL);
	}
}

static void conn_close(struct conn *c);

/* The worker is done: tell the client, record the history, let the run go. */
static void run_reap(struct drun *r)
{
	char path[PATH_MAX + 64], dir[PATH_MAX];
	json_t *j;

	if (r->worker_started)
		pthread_join(r->worker, NULL);
	now_text(r->finished, sizeof(r->finished));
	r->state = r->finish_rc ? DR_FAILED
		   : r->incomplete && !strcmp(r->incomplete, "monitor restarted") ? DR_INTERRUPTED
										  : DR_DONE;
	pthread_mutex_lock(&r->client_mu);
	if (r->client) {
		if (r->finish_rc) {
			ipc_error(r->client->fd, "internal", "run %s failed: no bundle (see aicertd's "
				  "log)", r->id);
		} else {
			int st = r->res.exit_status;

			/* --strict, as standalone: an incomplete record fails a successful command */
			if (r->strict && r->res.strict_fail && st == 0) {
				client_say(r, LOG_ERROR, "--strict: the record is incomplete (lost events, "
					"truncated paths, unmeasured files or a detached run)");
				st = 125;
			}
			j = json_pack("{s:s,s:s,s:i,s:b,s:b}", "op", "done", "id", r->id,
				      "exit_status", st, "strict_fail", r->res.strict_fail,
				      "complete", r->res.complete);
			if (!j || ipc_send_dir(r->client->fd, j, spool_dir(r->id, dir, sizeof(dir))))
				log_warn("run %.8s: cannot send the bundle to its client; it is in %s",
					 r->id, dir);
			json_decref(j);
		}
		r->client->run = NULL;
	}
	pthread_mutex_unlock(&r->client_mu);
	tab_del(r);
	run_free(r->run);
	r->run = NULL;
	if (r->tracked)
		cgwatch_forget(D.cgw, r->cgroup);
	j = run_json(r);
	if (j) {
		state_path(path, sizeof(path), "done", r->id);
		write_json_file(path, j);
		hist_push(j, r->uid);
	}
	state_path(path, sizeof(path), "runs", r->id);
	unlink(path);
	runs_unlink(r);
	D.runs_done++;
	log_info("run %.8s %s%s", r->id, state_names[r->state],
		 r->finish_rc ? "" : r->res.complete ? "" : " (incomplete)");
	drun_free(r);
	/* a run's collector, BOM and bundle were built on its finish thread's malloc arena: give
	 * what it freed back to the kernel, or a long-lived daemon keeps every arena's high mark */
	malloc_trim(0);
}

static struct run_host *host(void)
{
	return &D.host;
}

/*
 * Starts a run: argv (a client's command) or cgroup (a tracked one). The run is in the drain
 * thread's table before any process can be in its cgroup.
 */
static struct drun *run_open(const char *id, struct policy *pol, char *const *argv, json_t *cmd,
			     const char *cwd, uint32_t uid, uint32_t gid, const char *cgroup,
			     const struct job_info *job, const uint8_t *nonce, size_t nonce_len,
			     int jobs, char *err, size_t errlen)
{
	char out[PATH_MAX], abscg[PATH_MAX * 2];
	struct drun *r;
	struct run *run;
	struct run_opts ro = { 0 };
	int e;

	if (D.nruns >= MAX_ACTIVE_RUNS) {
		policy_free(pol);
		snprintf(err, errlen, "aicertd already holds %d runs", MAX_ACTIVE_RUNS);
		return NULL;
	}
	if (!(r = drun_new(id))) {
		policy_free(pol);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->uid = uid;
	r->gid = gid;
	r->command = cmd ? json_incref(cmd) : NULL;
	/* a job step's cgroup is adopted as the step's, not tracked by a glob */
	r->tracked = cgroup != NULL && !job;
	r->adopted = cgroup != NULL && job;
	if (job && job_copy(&r->job, job)) {
		policy_free(pol);
		drun_free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cgroup) {
		r->cgroup = strdup(cgroup);
		snprintf(abscg, sizeof(abscg), "%s%s", D.cgroot, cgroup);
	}
	ro.id = id;
	ro.argv = argv;
	ro.track_cgroup = cgroup ? abscg : NULL;
	ro.cwd = cwd;
	ro.uid = uid;
	ro.gid = gid;
	ro.out = spool_dir(id, out, sizeof(out));
	ro.policy = pol;
	ro.jobs = jobs > 0 && (jobs < D.o->jobs || D.o->jobs <= 0) ? jobs : D.o->jobs;
	ro.progress = false;
	ro.watchdog = false;
	ro.nonce = nonce;
	ro.nonce_len = nonce_len;
	ro.job = job;
	ro.say = run_say;
	ro.say_ctx = r;
	if (tab_add(r)) {
		policy_free(pol);
		drun_free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* scope first, table entry second would lose the first records: the entry waits for it */
	e = run_begin(host(), &ro, &run);
	if (e) {
		tab_del(r);
		drun_free(r);
		snprintf(err, errlen, "cannot start the run (see aicertd's log): %s", strerror(e < 0 ? -e : e));
		return NULL;
	}
	pthread_rwlock_wrlock(&D.tab_mu);
	r->run = run;
	r->scope = run_cg(run)->id;
	pthread_rwlock_unlock(&D.tab_mu);
	runs_link(r);
	state_save(r);
	return r;
}

/* ---- clients ---- */

static void conn_close(struct conn *c)
{
	if (c->run) {
		struct drun *r = c->run;

		pthread_mutex_lock(&r->client_mu);
		r->client = NULL;
		pthread_mutex_unlock(&r->client_mu);
		log_debug("run %.8s: its client went away; the run goes on", r->id);
		c->run = NULL;
		run_check(r);
	}
	close(c->fd);
	for (size_t i = 0; i < D.nconns; i++)
		if (D.conns[i] == c) {
			D.conns[i] = D.conns[--D.nconns];
			break;
		}
	free(c);
}

static bool is_root(const struct conn *c)
{
	return c->peer.uid == 0;
}

/* A request that names a uid, gid or pid must name the peer's own. */
static bool lies(const struct conn *c, const json_t *req)
{
	const json_t *v;

	if ((v = json_object_get(req, "uid")) && (!json_is_integer(v) ||
						  json_integer_value(v) != (json_int_t)c->peer.uid))
		return true;
	if ((v = json_object_get(req, "gid")) && (!json_is_integer(v) ||
						  json_integer_value(v) != (json_int_t)c->peer.gid))
		return true;
	if ((v = json_object_get(req, "pid")) && (!json_is_integer(v) ||
						  json_integer_value(v) != (json_int_t)c->peer.pid))
		return true;
	return false;
}

/* One "Key:\tvalue" line of a /proc file, as a number; -1 when absent. */
static long long proc_field(const char *path, const char *key, int which)
{
	char line[512];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) || line[kl] != ':')
			continue;
		char *p = line + kl + 1;

		for (int i = 0; i <= which; i++) {
			char *end;

			v = strtoll(p, &end, 10);
			if (end == p) {
				v = -1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return v;
}

/*
 * The pidfd a client sent must be its own child, of its own uid, not yet started: returns the
 * pid or -errno with *why set. (The child stays blocked until "started": the pid cannot be
 * reused while it lives, and the pidfd tells us afterwards that it still does.)
 */
static pid_t child_of_peer(const struct conn *c, int pidfd, bool same_uid, const char **why)
{
	char path[64];
	long long pid, ppid, ruid, euid;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	pid = proc_field(path, "Pid", 0);
	if (pid <= 0) {
		*why = "the descriptor sent is not a pidfd of a live process";
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/proc/%lld/status", pid);
	ppid = proc_field(path, "PPid", 0);
	ruid = proc_field(path, "Uid", 0);
	euid = proc_field(path, "Uid", 1);
	if (ppid != (long long)c->peer.pid) {
		*why = "the process to trace is not the caller's child";
		return -EPERM;
	}
	if (same_uid && (ruid != (long long)c->peer.uid || euid != (long long)c->peer.uid)) {
		*why = "the process to trace does not run as the caller";
		return -EPERM;
	}
	return (pid_t)pid;
}

static int cgroup_move(const struct run_cgroup *cg, pid_t pid)
{
	char path[sizeof(cg->path) + 16], num[24];
	int fd, n, ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->path);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(num, sizeof(num), "%d", (int)pid);
	if (write(fd, num, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static const char *jstr(const json_t *req, const char *key)
{
	const json_t *v = json_object_get(req, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void req_run(struct conn *c, const json_t *req, int *fds, size_t nfds)
{
	const json_t *argv = json_object_get(req, "argv"), *v;
	const char *cwd = jstr(req, "cwd"), *ptext = jstr(req, "policy"), *why = NULL;
	const char *nonce_hex = jstr(req, "nonce");
	uint8_t nonce[64];
	size_t nonce_len = 0, argc;
	char id[37], err[600], **av = NULL;
	struct policy *pol;
	struct drun *r;
	pid_t pid;
	int e;

	if (c->run) {
		ipc_error(c->fd, "bad-request", "this connection already has a run");
		return;
	}
	if (lies(c, req)) {
		log_warn("refused a request from pid %d (uid %u): it names another uid, gid or pid",
			 (int)c->peer.pid, c->peer.uid);
		ipc_error(c->fd, "denied", "the request names a uid, gid or pid that is not the "
			  "caller's");
		return;
	}
	if (!json_is_array(argv) || !(argc = json_array_size(argv)) || argc > 65536 || !cwd ||
	    cwd[0] != '/' || nfds != 1) {
		ipc_error(c->fd, "bad-request", "\"run\" needs argv (strings), an absolute cwd and "
			  "one pidfd");
		return;
	}
	if (nonce_hex) {
		nonce_len = strlen(nonce_hex) / 2;
		if (!nonce_len || nonce_len > sizeof(nonce) || strlen(nonce_hex) % 2 ||
		    hex_decode(nonce_hex, nonce, nonce_len)) {
			ipc_error(c->fd, "bad-request", "the nonce is not 1 to 64 bytes of hex");
			return;
		}
	}
	av = calloc(argc + 1, sizeof(*av));
	if (!av) {
		ipc_error(c->fd, "internal", "out of memory");
		return;
	}
	for (size_t i = 0; i < argc; i++) {
		v = json_array_get(argv, i);
		if (!json_is_string(v)) {
			ipc_error(c->fd, "bad-request", "argv[%zu] is not a string", i);
			goto out;
		}
		av[i] = (char *)json_string_value(v);
	}
	pid = child_of_peer(c, fds[0], true, &why);
	if (pid < 0) {
		log_warn("refused a run for pid %d (uid %u): %s", (int)c->peer.pid, c->peer.uid,
			 why);
		ipc_error(c->fd, "denied", "%s", why);
		goto out;
	}
	pol = run_policy(ptext, jstr(req, "policy_name"), err, sizeof(err));
	if (!pol) {
		ipc_error(c->fd, "bad-request", "%s", err);
		goto out;
	}
	if (run_id_new(id)) {
		policy_free(pol);
		ipc_error(c->fd, "internal", "cannot make a run id");
		goto out;
	}
	v = json_object_get(req, "jobs");
	r = run_open(id, pol, av, (json_t *)argv, cwd, c->peer.uid, c->peer.gid, NULL, NULL,
		     nonce_len ? nonce : NULL, nonce_len, json_is_integer(v) ? (int)json_integer_value(v) : 0,
		     err, sizeof(err));
	if (!r) {
		ipc_error(c->fd, "internal", "%s", err);
		goto out;
	}
	v = json_object_get(req, "detach_timeout");
	r->detach_timeout = json_is_integer(v) && json_integer_value(v) >= 0 &&
				    json_integer_value(v) < INT_MAX / 1000
			    ? (int)json_integer_value(v) : -1;
	r->strict = json_is_true(json_object_get(req, "strict"));
	e = cgroup_move(run_cg(r->run), pid);
	if (!e && syscall(SYS_pidfd_send_signal, fds[0], 0, NULL, 0))
		e = -ESRCH;
	if (e) {
		/* nothing of the command ran: the run is dropped, not written */
		ipc_error(c->fd, "internal", "cannot move the command into the run's cgroup: %s",
			  strerror(-e));
		r->incomplete = strdup("the command never started");
		r->exited = true;
		finish_start(r, NULL);
		goto out;
	}
	run_set_root(r->run, pid);
	run_inherit_fds(r->run, pid, 3);
	pthread_mutex_lock(&r->client_mu);
	r->client = c;
	pthread_mutex_unlock(&r->client_mu);
	c->run = r;
	{
		json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "op", "started", "id", id, "backend",
				      access_backend_name(D.access), "cgroup", run_cg(r->run)->path);

		if (!j || ipc_send(c->fd, j, NULL, 0))
			log_warn("run %.8s: cannot answer its client", id);
		json_decref(j);
	}
	log_info("run %.8s started for uid %u: %s", id, c->peer.uid, av[0]);
out:
	free(av);
}

static void req_exited(struct conn *c, const json_t *req)
{
	const json_t *s = json_object_get(req, "status");
	struct drun *r = c->run;

	if (!r || !json_is_integer(s)) {
		ipc_error(c->fd, "bad-request", "\"exited\" needs a run and a status");
		return;
	}
	r->exited = true;
	r->client_status = (int)json_integer_value(s);
	run_check(r);
}

/* The active run of a job step on this node, if any (finishing ones included). */
static struct drun *run_of_step(const struct job_info *job)
{
	for (struct drun *r = D.runs; r; r = r->next)
		if (r->job.scheduler && !strcmp(r->job.scheduler, job->scheduler) &&
		    !strcmp(r->job.id, job->id) && !strcmp(r->job.step, job->step) &&
		    !strcmp(r->job.node, job->node))
			return r;
	return NULL;
}

static void answer_started(struct conn *c, const struct drun *r, bool joined)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "started", "id", r->id, "backend",
			      access_backend_name(D.access), "cgroup", run_cg(r->run)->path,
			      "joined", joined);

	if (!j || ipc_send(c->fd, j, NULL, 0))
		log_warn("run %.8s: cannot answer the scheduler", r->id);
	json_decref(j);
}

/*
 * A task of a job step, from spank_aicert.so in slurmstepd (root), before the task executes:
 * the step's first task on this node opens its run, the others join it (see trace/jobstep.h for
 * the cgroup). The task is slurmstepd's child, blocked until slurmstepd is done with the plugins.
 */
static void req_slurm(struct conn *c, const json_t *req, int *fds, size_t nfds)
{
	struct jobstep_req js;
	char err[600], rel[PATH_MAX], scope[PATH_MAX], id[37];
	const char *why = NULL;
	struct policy *pol;
	struct drun *r;
	bool adopt;
	pid_t pid;
	int e;

	if (!is_root(c)) {
		log_warn("refused a job step from pid %d (uid %u): only root (slurmstepd) registers "
			 "job steps", (int)c->peer.pid, c->peer.uid);
		ipc_error(c->fd, "denied", "only root (slurmstepd) registers job steps");
		return;
	}
	if (nfds != 1) {
		ipc_error(c->fd, "bad-request", "\"slurm\" needs one pidfd: the task's");
		return;
	}
	if (jobstep_parse(req, &js, err, sizeof(err))) {
		ipc_error(c->fd, "bad-request", "%s", err);
		return;
	}
	pid = child_of_peer(c, fds[0], false, &why);
	if (pid < 0) {
		ipc_error(c->fd, "denied", "%s", why);
		goto out;
	}
	if ((e = cgroup_of_pid(pid, rel, sizeof(rel)))) {
		ipc_error(c->fd, "internal", "cannot read the task's cgroup: %s", strerror(-e));
		goto out;
	}
	e = jobstep_scope(rel, &js.job, scope, sizeof(scope));
	if (e < 0) {
		ipc_error(c->fd, "internal", "the task's cgroup path is too long");
		goto out;
	}
	adopt = e == 1;
	if ((r = run_of_step(&js.job))) {
		if (r->state != DR_RUNNING) {
			ipc_error(c->fd, "internal", "job %s step %s: its run %s on this node already "
				  "ended; a task that comes later is not traced", js.job.id,
				  js.job.step, r->id);
			goto out;
		}
		/* every task of the step in the step's run: Slurm's cgroup holds them already */
		if (adopt && strcmp(scope, r->cgroup ? r->cgroup : "")) {
			ipc_error(c->fd, "internal", "job %s step %s: task in cgroup %s, outside the "
				  "step's %s", js.job.id, js.job.step, rel, r->cgroup ? r->cgroup : "");
			goto out;
		}
		if (!adopt && (e = cgroup_move(run_cg(r->run), pid))) {
			ipc_error(c->fd, "internal", "cannot move the task into the step's cgroup: %s",
				  strerror(-e));
			goto out;
		}
		answer_started(c, r, true);
		log_info("run %.8s: task %ld of job %s step %s joined", r->id, js.task, js.job.id,
			 js.job.step);
		goto out;
	}
	if (!(pol = run_policy(NULL, NULL, err, sizeof(err))) || run_id_new(id)) {
		policy_free(pol);
		ipc_error(c->fd, "internal", "cannot start a run: %s", pol ? "no run id" : err);
		goto out;
	}
	r = run_open(id, pol, js.argv, (json_t *)json_object_get(req, "argv"), js.cwd, js.uid,
		     js.gid, adopt ? scope : NULL, &js.job, NULL, 0, 0, err, sizeof(err));
	if (!r) {
		ipc_error(c->fd, "internal", "%s", err);
		goto out;
	}
	e = adopt ? 0 : cgroup_move(run_cg(r->run), pid);
	if (!e && syscall(SYS_pidfd_send_signal, fds[0], 0, NULL, 0))
		e = -ESRCH;
	if (e) {
		ipc_error(c->fd, "internal", "cannot move the task into the step's cgroup: %s",
			  strerror(-e));
		r->incomplete = strdup("the job step's task never started");
		finish_start(r, NULL);
		goto out;
	}
	run_set_root(r->run, pid);
	answer_started(c, r, false);
	log_info("run %.8s started for job %s step %s on node %s (uid %u)%s", id, js.job.id,
		 js.job.step, js.job.node, js.uid, adopt ? ", on Slurm's cgroup" : "");
out:
	jobstep_req_free(&js);
}

static bool visible(const struct conn *c, uint32_t uid)
{
	return is_root(c) || c->peer.uid == uid;
}

static void req_runs(struct conn *c)
{
	json_t *a = json_array(), *j;

	for (struct drun *r = D.runs; r && a; r = r->next)
		if (visible(c, r->uid))
			json_array_append_new(a, run_json(r));
	for (struct hist *h = D.hist; h && a; h = h->next)
		if (visible(c, h->uid))
			json_array_append(a, h->j);
	j = json_pack("{s:s,s:o}", "op", "runs", "runs", a ? a : json_array());
	if (!j || ipc_send(c->fd, j, NULL, 0))
		log_debug("cannot answer a client");
	json_decref(j);
}

static void req_fetch(struct conn *c, const json_t *req)
{
	const char *id = jstr(req, "id");
	char dir[PATH_MAX];
	json_t *j;
	bool found = false;

	for (struct hist *h = D.hist; h && id; h = h->next)
		if (!strcmp(json_string_value(json_object_get(h->j, "id")), id) &&
		    visible(c, h->uid) && json_is_string(json_object_get(h->j, "bundle")))
			found = true;
	if (!found) {
		/* the same answer for another user's run as for no run at all */
		ipc_error(c->fd, "not-found", "no finished run %s of yours", id ? id : "(none)");
		return;
	}
	j = json_pack("{s:s,s:s}", "op", "bundle", "id", id);
	if (!j || ipc_send_dir(c->fd, j, spool_dir(id, dir, sizeof(dir))))
		ipc_error(c->fd, "internal", "cannot send the bundle of run %s", id);
	json_decref(j);
}

static long long rss_kib(void)
{
	return proc_field("/proc/self/status", "VmRSS", 0);
}

static void req_status(struct conn *c)
{
	struct access_stats as;
	json_t *j;
	size_t active = 0;
	uint64_t pending = 0;
	char started[64];

	time_rfc3339(&D.started, started, sizeof(started));
	access_stats(D.access, &as);
	for (struct drun *r = D.runs; r; r = r->next) {
		active += visible(c, r->uid);
		if (r->state == DR_RUNNING)
			pending += run_hash_pending(r->run);
	}
	j = json_pack("{s:s,s:s,s:i,s:s,s:s,s:{s:I,s:I},s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I},"
		      "s:I,s:I,s:I,s:{s:b,s:s?,s:i,s:I},s:{s:I}}",
		      "op", "status", "version", AICERT_VERSION, "pid", (int)getpid(), "started",
		      started, "backend", access_backend_name(D.access), "runs", "active",
		      (json_int_t)active, "done", (json_int_t)D.runs_done, "events",
		      (json_int_t)as.events, "lost", "ring_full", (json_int_t)as.ring_full,
		      "scratch_busy", (json_int_t)as.scratch_busy, "undelivered",
		      (json_int_t)as.undelivered, "prog_misses", (json_int_t)as.prog_misses,
		      "malformed", (json_int_t)as.malformed, "unrouted",
		      (json_int_t)__atomic_load_n(&D.unrouted, __ATOMIC_RELAXED),
		      "paths_truncated", (json_int_t)as.path_trunc, "dedup_hits",
		      (json_int_t)as.dedup_hits, "hash_queue", (json_int_t)pending, "tpm",
		      "attested", evlog_attested(D.ev), "tcti", D.o->tcti, "pcr", (int)evlog_pcr(D.ev), "commands",
		      (json_int_t)evlog_tpm_commands(D.ev), "memory", "rss_kib",
		      (json_int_t)rss_kib());
	if (!j || ipc_send(c->fd, j, NULL, 0))
		log_debug("cannot answer a client");
	json_decref(j);
}

/* Removes a directory of plain files (a quote's, once sent). */
static void rm_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/* A fresh quote of the host log as it is now, for a remote verifier's nonce (lib/logquote.h):
 * the asker's own runs in clear, other users' redacted; root sees every run. */
static void req_quote(struct conn *c, const json_t *req)
{
	const char *hexn = jstr(req, "nonce");
	char dir[PATH_MAX + 64], rid[37];
	struct evlog_view view = { .run_id = NULL,
				   .uid = is_root(c) ? EVLOG_VIEW_ALL : (int64_t)c->peer.uid };
	uint8_t nonce[64];
	size_t nl;
	json_t *j;
	int e;

	if (!evlog_attested(D.ev)) {
		ipc_error(c->fd, "bad-request", "aicertd runs without a TPM (--no-tpm): there is "
			  "nothing to quote");
		return;
	}
	nl = hexn ? strlen(hexn) / 2 : 0;
	if (!nl || nl > sizeof(nonce) || strlen(hexn) % 2 || hex_decode(hexn, nonce, nl)) {
		ipc_error(c->fd, "bad-request", "the nonce is not 1 to 64 bytes of hex");
		return;
	}
	if (run_id_new(rid)) {
		ipc_error(c->fd, "internal", "cannot make a name for the quote");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/aicertd/quotes/%s", D.state, rid);
	e = logquote_write(D.ev, &view, nonce, nl, dir);
	if (e) {
		ipc_error(c->fd, "internal", "cannot write the quote: %s (see aicertd's log)",
			  strerror(-e));
	} else {
		j = json_pack("{s:s}", "op", "quote");
		if (!j || ipc_send_dir(c->fd, j, dir))
			log_debug("cannot send a quote to its client");
		json_decref(j);
	}
	rm_flat(dir);
}

static void conn_request(struct conn *c)
{
	int fds[IPC_FDS_MAX];
	size_t nfds = 0;
	json_t *req = NULL;
	const char *op;
	int e = ipc_recv(c->fd, &req, fds, &nfds, 0);

	if (e == -EAGAIN || e == -ETIMEDOUT || e == -EINTR)
		return; /* nothing there after all */
	if (e) {
		if (e != -EPIPE)
			log_debug("dropped a client: %s", strerror(-e));
		conn_close(c);
		return;
	}
	op = jstr(req, "op");
	if (!op)
		ipc_error(c->fd, "bad-request", "a request needs \"op\"");
	else if (!strcmp(op, "run"))
		req_run(c, req, fds, nfds);
	else if (!strcmp(op, "exited"))
		req_exited(c, req);
	else if (!strcmp(op, "slurm"))
		req_slurm(c, req, fds, nfds);
	else if (!strcmp(op, "runs"))
		req_runs(c);
	else if (!strcmp(op, "fetch"))
		req_fetch(c, req);
	else if (!strcmp(op, "status"))
		req_status(c);
	else if (!strcmp(op, "quote"))
		req_quote(c, req);
	else
		ipc_error(c->fd, "bad-request", "unknown op \"%s\"", op);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	json_decref(req);
}

static void accept_conn(void)
{
	struct conn *c;
	int fd = accept4(D.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (D.nconns >= MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
		ipc_error(fd, "busy", "aicertd has too many clients; try again");
		close(fd);
		return;
	}
	c->fd = fd;
	if (ipc_peer(fd, &c->peer)) {
		close(fd);
		free(c);
		return;
	}
	D.conns[D.nconns++] = c;
}

/* ---- tracked cgroups ---- */

static uint32_t cgroup_owner(const char *rel, uint32_t *gid)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", D.cgroot, rel);
	if (stat(path, &st))
		return *gid = 0, 0;
	*gid = st.st_gid;
	return st.st_uid;
}

static struct drun *run_by_cgroup(const char *rel)
{
	for (struct drun *r = D.runs; r; r = r->next)
		if (r->tracked && !strcmp(r->cgroup, rel))
			return r;
	return NULL;
}

static void on_cgroup(void *ctx, enum cgwatch_ev ev, const char *rel, uint64_t id, bool populated)
{
	char err[600], rid[37];
	struct policy *pol;
	struct drun *r;
	uint32_t uid, gid;

	(void)ctx;
	(void)id;
	if (ev == CGW_GONE) {
		if ((r = run_by_cgroup(rel))) {
			r->gone = true;
			run_check(r);
		}
		return;
	}
	if (run_by_cgroup(rel))
		return;
	if (D.cgw_initial && populated) {
		log_warn("cgroup %s matches track: but already held processes when aicertd "
			 "started: not claimed as traced", rel);
		return;
	}
	if (!(pol = run_policy(NULL, NULL, err, sizeof(err))) || run_id_new(rid)) {
		policy_free(pol);
		log_err("cannot track cgroup %s: %s", rel, err);
		return;
	}
	uid = cgroup_owner(rel, &gid);
	r = run_open(rid, pol, NULL, NULL, "/", uid, gid, rel, NULL, NULL, 0, 0, err, sizeof(err));
	if (!r) {
		log_err("cannot track cgroup %s: %s", rel, err);
		return;
	}
	/* processes that joined before the scope did were not traced from their start */
	if (populated || run_cgroup_empty(run_cg(r->run)) == 0)
		r->incomplete = strdup("processes ran before aicertd saw the cgroup");
	log_info("run %.8s: tracking cgroup %s", rid, rel);
}

static int track_load(void)
{
	const char *const *globs;
	size_t n = policy_track(D.policy, &globs);
	int e;

	D.cgw_initial = true;
	e = cgwatch_set(D.cgw, globs, n);
	D.cgw_initial = false;
	if (e)
		log_err("cannot watch the cgroups that track: names: %s", strerror(-e));
	return e;
}

/* ---- policy ---- */

static int policy_read(struct policy **out, char **text, size_t *len)
{
	char err[600];
	struct policy *p;

	*text = NULL;
	*len = 0;
	if (!D.o->policy) {
		p = policy_default();
		if (!p) {
			log_err("cannot load the built-in policy");
			return -1;
		}
		*text = strdup(policy_default_text());
		*len = *text ? strlen(*text) : 0;
		*out = p;
		return *text ? 0 : -1;
	}
	{
		FILE *f = fopen(D.o->policy, "re");
		long sz;

		if (!f) {
			log_err("cannot open the policy %s: %s", D.o->policy, strerror(errno));
			return -1;
		}
		if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || sz > (16 << 20) ||
		    fseek(f, 0, SEEK_SET) || !(*text = malloc((size_t)sz + 1)) ||
		    fread(*text, 1, (size_t)sz, f) != (size_t)sz) {
			log_err("cannot read the policy %s", D.o->policy);
			fclose(f);
			free(*text);
			*text = NULL;
			return -1;
		}
		fclose(f);
		(*text)[sz] = 0;
		*len = (size_t)sz;
	}
	p = policy_parse(*text, *len, D.o->policy, err, sizeof(err));
	if (!p) {
		log_err("%s", err);
		free(*text);
		*text = NULL;
		return -1;
	}
	*out = p;
	return 0;
}

static void reload(void)
{
	struct policy *p;
	char *text;
	size_t len;

	sd_notify(0, "RELOADING=1");
	if (policy_read(&p, &text, &len)) {
		log_err("SIGHUP: the new policy is refused; the old one stays in force");
	} else {
		policy_free(D.policy);
		free(D.policy_text);
		D.policy = p;
		D.policy_text = text;
		D.policy_len = len;
		track_load();
		log_info("SIGHUP: policy reloaded%s%s", D.o->policy ? " from " : "",
			 D.o->policy ? D.o->policy : "");
	}
	sd_notify(0, "READY=1");
}

/* ---- start, recovery, stop ---- */

static int lock_state(void)
{
	char path[PATH_MAX + 32];
	int e;

	snprintf(path, sizeof(path), "%s/aicertd", D.state);
	if ((e = fileio_mkdirs(path, 0755, 0700))) {
		log_err("cannot create %s: %s", path, strerror(-e));
		return -1;
	}
	static const char *const subs[] = { "runs", "done", "quotes" };

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		const char *sub = subs[i];

		snprintf(path, sizeof(path), "%s/aicertd/%s", D.state, sub);
		if ((e = fileio_mkdirs(path, 0755, 0700))) {
			log_err("cannot create %s: %s", path, strerror(-e));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/aicertd/lock", D.state);
	D.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (D.lock_fd < 0) {
		log_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	/* a daemon that was just killed may still be tearing its BPF programs down */
	for (int i = 0; flock(D.lock_fd, LOCK_EX | LOCK_NB); i++) {
		if (errno != EWOULDBLOCK || i == 100) {
			log_err("another aicertd holds %s (state dir %s)", path, D.state);
			return -1;
		}
		if (i == 0)
			log_info("waiting (up to 10 s) for the aicertd that holds %s to exit", path);
		usleep(100 * 1000);
	}
	return 0;
}

struct unended {
	const char *id;
	struct cel_event *found;
};

static void on_unended(const struct cel_event *rs, void *ctx)
{
	struct unended *u = ctx;

	if (!u->found && !strcmp(rs->run_id, u->id)) {
		uint8_t *buf = NULL;
		size_t len = 0;

		/* a deep copy (encode, decode): the log's reader owns rs */
		u->found = calloc(1, sizeof(*u->found));
		if (u->found && (cel_event_encode(rs, &buf, &len) ||
				 cel_event_decode(buf, len, u->found, NULL))) {
			free(u->found);
			u->found = NULL;
		}
		free(buf);
	}
}

/*
 * A run this daemon held when it died (its state file is there): written now, marked incomplete
 * with reason "monitor restarted". Its processes, if any are left, are not claimed: its cgroup is
 * out of the new scope.
 */
static void recover(void)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300], out[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/aicertd/runs", D.state);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char id[37];
		struct unended u = { .id = id };
		struct run_result res;
		json_t *j;

		if (strlen(de->d_name) != 41 || strcmp(de->d_name + 36, ".json"))
			continue;
		memcpy(id, de->d_name, 36);
		id[36] = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		evlog_unended(D.ev, on_unended, &u);
		if (!u.found) {
			log_warn("run %.8s was left by an earlier aicertd, but the event log holds no "
				 "unfinished run of that id: nothing to recover", id);
		} else {
			char partial[PATH_MAX + 24];
			int e;

			/* what the dead daemon had begun writing for the run is its own leftover */
			snprintf(partial, sizeof(partial), "%s.partial-%.8s",
				 spool_dir(id, out, sizeof(out)), id);
			rm_flat(partial);
			e = run_recover(host(), u.found, out, &res);
			struct drun *r = drun_new(id);

			log_warn("run %.8s was interrupted by a restart of aicertd: %s", id,
				 e ? "its bundle could not be written" : "bundle written, marked incomplete");
			if (r && j) {
				const char *st = jstr(j, "started");

				r->uid = (uint32_t)json_integer_value(json_object_get(j, "uid"));
				r->command = json_incref(json_object_get(j, "command"));
				if (jstr(j, "cgroup"))
					r->cgroup = strdup(jstr(j, "cgroup"));
				r->tracked = r->cgroup != NULL;
				if (st)
					snprintf(r->started, sizeof(r->started), "%s", st);
				now_text(r->finished, sizeof(r->finished));
				r->state = e ? DR_FAILED : DR_INTERRUPTED;
				r->finish_rc = e;
				r->res = res;
				json_t *h = run_json(r);

				if (h) {
					char hp[PATH_MAX + 64];

					state_path(hp, sizeof(hp), "done", id);
					write_json_file(hp, h);
					hist_push(h, r->uid);
				}
			}
			drun_free(r);
			cel_event_free(u.found);
			free(u.found);
		}
		json_decref(j);
		unlink(path);
	}
	closedir(d);
}

static int signals_open(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &s, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	D.sig_fd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
	return D.sig_fd < 0 ? -1 : 0;
}

static int setup(const struct daemon_opts *o)
{
	int e = 0;

	D.o = o;
	clock_gettime(CLOCK_REALTIME, &D.started);
	if ((size_t)snprintf(D.state, sizeof(D.state), "%s",
			     o->state_dir ? o->state_dir : EVLOG_STATEDIR) >= sizeof(D.state) ||
	    (size_t)snprintf(D.spool, sizeof(D.spool), o->spool ? "%s" : "%s/runs",
			     o->spool ? o->spool : D.state) >= sizeof(D.spool)) {
		log_err("--state-dir or --spool: %s", strerror(ENAMETOOLONG));
		return -1;
	}
	D.socket = ipc_socket_path(o->socket);
	if (geteuid() != 0) {
		log_err("aicertd must run as root (it loads BPF programs and owns the TPM PCR)");
		return -1;
	}
	if (signals_open() || (D.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		log_err("cannot set up signals: %s", strerror(errno));
		return -1;
	}
	if (lock_state())
		return -1;
	if ((e = fileio_mkdirs(D.spool, 0755, 0700))) {
		log_err("cannot create the spool %s: %s", D.spool, strerror(-e));
		return -1;
	}
	if (policy_read(&D.policy, &D.policy_text, &D.policy_len))
		return -1;
	if (o->cache_dir) {
		D.cache = hashcache_open(o->cache_dir, &e);
		if (!D.cache) {
			log_err("the hash cache %s is unusable (%s); --no-cache hashes without one",
				o->cache_dir, strerror(e < 0 ? -e : e));
			return -1;
		}
	}
	if (evlog_open(&(struct evlog_opts){ .statedir = D.state, .tcti = o->tcti,
					     .pcr = (uint32_t)(o->pcr ? o->pcr : TPM_PCR_DEFAULT),
					     .allow_resettable = o->allow_resettable,
					     .no_tpm = o->no_tpm, .batch_hz = (unsigned)o->batch_hz,
					     .ak = o->ak, .tpm_timeout_ms = o->tpm_timeout * 1000 },
		       &D.ev)) {
		if (!o->no_tpm)
			log_err("no usable TPM; use --tcti to name one, or --no-tpm for unattested "
				"bundles");
		return -1;
	}
	if (cgroup2_root(D.cgroot, sizeof(D.cgroot)) || run_cgroup_sweep() < 0)
		return -1;
	D.access = access_open(&(struct access_opts){ .backend = o->backend }, &e);
	if (!D.access)
		return -1;
	D.host = (struct run_host){ .access = D.access, .ev = D.ev, .cache = D.cache,
				    .tcti = o->tcti, .allow_resettable = o->allow_resettable };
	if (access_start(D.access, on_record, NULL)) {
		log_err("cannot start draining the ring buffer");
		return -1;
	}
	hist_load();
	recover();
	if ((e = cgwatch_new(D.cgroot, on_cgroup, NULL, &D.cgw))) {
		log_err("cannot watch the cgroup tree %s: %s", D.cgroot, strerror(-e));
		return -1;
	}
	if (track_load())
		return -1;
	D.listen_fd = ipc_listen(D.socket);
	if (D.listen_fd < 0) {
		log_err("cannot listen on %s: %s", D.socket, strerror(-D.listen_fd));
		return -1;
	}
	fcntl(D.listen_fd, F_SETFL, fcntl(D.listen_fd, F_GETFL) | O_NONBLOCK);
	log_info("aicertd %s ready: backend %s, %s, socket %s, spool %s", AICERT_VERSION,
		 access_backend_name(D.access), evlog_attested(D.ev) ? "attested" : "UNATTESTED (--no-tpm)",
		 D.socket, D.spool);
	return 0;
}

static void teardown(void)
{
	while (D.nconns)
		conn_close(D.conns[0]);
	if (D.listen_fd >= 0) {
		close(D.listen_fd);
		unlink(D.socket);
	}
	cgwatch_free(D.cgw);
	if (D.access)
		access_stop(D.access);
	evlog_close(D.ev);
	access_close(D.access);
	if (D.cache && hashcache_save(D.cache))
		log_warn("the hash cache could not be saved");
	hashcache_close(D.cache);
	policy_free(D.policy);
	free(D.policy_text);
	while (D.hist) {
		struct hist *h = D.hist;

		D.hist = h->next;
		json_decref(h->j);
		free(h);
	}
	free(D.tab);
	if (D.lock_fd >= 0)
		close(D.lock_fd);
}

static void reap_finished(void)
{
	uint64_t v;
	ssize_t n = read(D.done_fd, &v, sizeof(v));
	struct drun *r, *next;

	(void)n;
	for (r = D.runs; r; r = next) {
		next = r->next;
		if (r->state == DR_FINISHING && __atomic_load_n(&r->worker_done, __ATOMIC_ACQUIRE))
			run_reap(r);
	}
}

/* SIGTERM: every active run is finished, as incomplete ("monitor stopped"), before exiting. */
static void stop_all(void)
{
	struct pollfd p = { .fd = D.done_fd, .events = POLLIN };

	sd_notify(0, "STOPPING=1");
	D.stopping = true;
	if (D.listen_fd >= 0) {
		close(D.listen_fd);
		unlink(D.socket);
		D.listen_fd = -1;
	}
	for (struct drun *r = D.runs; r; r = r->next)
		if (r->state == DR_RUNNING) {
			run_say(r, LOG_WARN, "aicertd is stopping: the run's bundle is written now, "
					     "marked incomplete");
			finish_start(r, "monitor stopped");
		}
	while (D.runs) {
		poll(&p, 1, 1000);
		reap_finished();
	}
}

static void on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(D.sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload();
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			D.stopping = true;
		else if (si.ssi_signo == SIGCHLD)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
	}
}

int daemon_main(const struct daemon_opts *o)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0;
	int rc = 1;

	/* every run is finished on a thread of its own: without a cap glibc makes up to 8 arenas
	 * per core, each keeping the peak of the runs it served (bench/soak.sh) */
	mallopt(M_ARENA_MAX, 4);
	if (setup(o))
		goto out;
	sd_notify(0, "READY=1");
	if (o->ready_fd >= 0) {
		ssize_t n = write(o->ready_fd, "r", 1);

		(void)n;
		close(o->ready_fd);
	}
	while (!D.stopping) {
		size_t n = 0, want = 4 + D.nconns + D.nruns, nc = D.nconns;
		int timeout = -1;
		long long now = now_ms();

		if (want > cap) {
			struct pollfd *np = realloc(pfd, (cap = want + 16) * sizeof(*np));

			if (!np) {
				log_err("out of memory");
				break;
			}
			pfd = np;
		}
		pfd[n++] = (struct pollfd){ .fd = D.sig_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = D.done_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = D.listen_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = cgwatch_fd(D.cgw), .events = POLLIN };
		for (size_t i = 0; i < D.nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = D.conns[i]->fd, .events = POLLIN };
		for (struct drun *r = D.runs; r; r = r->next) {
			pfd[n++] = (struct pollfd){
				.fd = r->state == DR_RUNNING ? run_cg(r->run)->events_fd : -1,
				.events = POLLPRI };
			if (r->detach_at) {
				long long left = r->detach_at - now;

				left = left < 0 ? 0 : left;
				if (timeout < 0 || left < timeout)
					timeout = (int)left;
			}
		}
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			on_signal();
		if (pfd[1].revents)
			reap_finished();
		if (pfd[2].revents)
			accept_conn();
		if (pfd[3].revents)
			cgwatch_process(D.cgw);
		/* clients may go away while we walk: take the ones polled, by fd */
		for (size_t i = 4; i < 4 + nc; i++) {
			if (!pfd[i].revents)
				continue;
			for (size_t k = 0; k < D.nconns; k++)
				if (D.conns[k]->fd == pfd[i].fd) {
					conn_request(D.conns[k]);
					break;
				}
		}
		for (struct drun *r = D.runs, *next; r; r = next) {
			next = r->next;
			run_check(r);
		}
	}
	stop_all();
	rc = 0;
out:
	teardown();
	free(pfd);
	return rc;
}
