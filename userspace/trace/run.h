/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * run.h - one traced run, from its cgroup to its published bundle, for the standalone
 * aicert-trace and for aicertd alike: the bundle directory (<out>.partial-<id>, renamed when
 * complete and checked), the cgroup, the watchdog (standalone), the run's processes (escapes
 * from the cgroup), the collector, the run in the event log, and at the end the BOM, the log's
 * run_end, bom.json / bom.cdx.json / provenance.intoto.json, the seal (events.cel, quote,
 * ima.bin, manifest.json), the verifier's own checks, and the summary.
 *
 * What a process holds once (the BPF programs, the host log and TPM, the hash cache) is the
 * run_host, shared by all its runs. Functions return 0 or -1 (or -errno) and say what failed.
 */
#ifndef AICERT_TRACE_RUN_H
#define AICERT_TRACE_RUN_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/cel.h"
#include "lib/policy.h"
#include "trace/access.h"
#include "trace/cgroup.h"
#include "trace/eventlog.h"
#include "trace/hashcache.h"

struct run_host {	       /* held once per process, shared by its runs */
	struct access *access; /* loaded and started by the owner */
	struct evlog *ev;
	struct hashcache *cache; /* may be NULL */
	const char *tcti;	 /* for bom host.tpm */
	bool allow_resettable;
};

struct run_opts {
	const char *id;		  /* NULL: a new UUID */
	char *const *argv;	  /* the command; NULL for a tracked cgroup */
	const char *track_cgroup; /* absolute path of an existing cgroup to adopt, NULL: create
				   * <v2 root>/aicert/<id> */
	const char *cwd;
	uint32_t uid, gid;	 /* the run's owner, recorded in run_start */
	const char *out;	 /* bundle directory (final name); NULL: ./aicert-<date>-<id> */
	struct policy *policy;	 /* the run takes ownership (also when run_begin fails) */
	int jobs;		 /* hash threads */
	bool progress, watchdog; /* watchdog: standalone's aicert-watchdog child */
	const uint8_t *nonce;
	size_t nonce_len;
	const struct job_info *job; /* the job step the run is (copied); NULL: none */
	/* the run's user-facing messages (warnings, INCOMPLETE, summary), one line each, no
	 * prefix; NULL: log_msg on stderr. The daemon relays them to the client. */
	void (*say)(void *ctx, int level, const char *msg);
	void *say_ctx;
};

struct run_end_info {
	int status; /* wait status; -1: none (tracked cgroup) */
	bool detached;
	const char *incomplete_reason; /* NULL: none */
};

struct run_result {
	int exit_status; /* as a shell reports it: 128+N for signal N */
	bool strict_fail, complete, cache_failed;
	char bundle[PATH_MAX];
};

struct run;

/* The bundle directory, the cgroup (created or adopted), run_start in the log, the scope, the
 * collector: records flow from here. On failure *out is NULL and everything is released. */
int run_begin(const struct run_host *h, const struct run_opts *o, struct run **out);
const char *run_id(const struct run *r);
const struct run_cgroup *run_cg(const struct run *r);
/* An access_cb body: follows the run's processes, then hands the record to the collector. */
void run_on_record(struct run *r, const void *rec, size_t len);
/* fds 0..n-1 of pid (0: this process), which the command inherits: files among them count. */
int run_inherit_fds(struct run *r, pid_t pid, int n);
/* Files of the run waiting in the hash pool now. */
uint64_t run_hash_pending(struct run *r);
/* The command's pid, once spawned: its exit is the run's exit. */
void run_set_root(struct run *r, pid_t pid);
/* The root's exit as the BPF exit record saw it (a wait status); false when none came. */
bool run_root_exit(const struct run *r, int *wait_status);
/*
 * The drain must have delivered the run's records (standalone: access_stop; daemon:
 * access_sync). Writes, seals, checks and publishes the bundle. 0, or -1 when no bundle was
 * published (what was written stays in the .partial directory, said).
 */
int run_finish(struct run *r, const struct run_end_info *e, struct run_result *res);
/* Scope removed, cgroup removed (a created one), everything released. NULL is fine. */
void run_free(struct run *r);
/*
 * An interrupted run (its run_start in the log, no run_end: the monitor was killed): its bundle
 * from the log's own measurements, with a run_end, marked incomplete with reason "monitor
 * restarted", sealed, checked and published under out.
 */
int run_recover(const struct run_host *h, const struct cel_event *run_start, const char *out,
		struct run_result *res);

#endif
