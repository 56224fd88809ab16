/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * access.h - the kernel side of tracing, seen from userspace: loads one of the two BPF backends
 * (bpf/access_lsm.bpf.c, bpf/access_tp.bpf.c), scopes it to the run's cgroup, and drains its ring
 * buffer on a thread of its own, handing each record (a copy, struct ac_* from include/access.h)
 * to a callback.
 */
#ifndef AICERT_TRACE_ACCESS_H
#define AICERT_TRACE_ACCESS_H
#include <stddef.h>
#include <stdint.h>

#include <access.h> /* include/access.h, the records (not this file) */

enum access_backend {
	ACCESS_BACKEND_AUTO = 0,
	ACCESS_BACKEND_LSM = 1,
	ACCESS_BACKEND_TRACEPOINT = 2,
};

struct access_opts {
	enum access_backend backend;
	uint32_t ringbuf_bytes; /* 0: default (64 MiB) */
	uint32_t dedup_entries; /* 0: default (262144) */
};

/* Sums of the per-CPU counters (enum ac_stat). */
struct access_stats {
	uint64_t events; /* records the programs committed to the ring buffer */
	/* accesses lost, all causes: ring_full + scratch_busy + undelivered + prog_misses */
	uint64_t rb_drops;
	uint64_t path_trunc, dedup_hits, errors;
	uint64_t malformed;    /* records dropped by the collector: size or lengths inconsistent */
	uint64_t ring_full;    /* the ring buffer had no room (AC_STAT_RB_DROPS) */
	uint64_t scratch_busy; /* all scratch buffers of the CPU taken (AC_STAT_SCRATCH_BUSY) */
	uint64_t undelivered;  /* committed but never handed over (after access_stop; else 0) */
	uint64_t prog_misses;  /* program runs the kernel skipped (recursion_misses) */
};

/* Called on the drain thread with a record copied out of the ring buffer (len bytes). */
typedef void (*access_cb)(const void *rec, size_t len, void *ctx);

struct access;

/*
 * Loads and attaches a backend. AUTO tries LSM when "bpf" is in /sys/kernel/security/lsm and
 * falls back to tracepoints when LSM programs do not load (saying why at -v). Returns NULL with
 * a logged reason on failure; *err is set to a negative errno (-EPERM when not privileged).
 */
struct access *access_open(const struct access_opts *opts, int *err);
/* The backend that is attached: "lsm" or "tracepoint". */
const char *access_backend_name(const struct access *a);
/* Adds a cgroup v2 id to the scope: accesses by tasks in that cgroup (or below) are recorded. */
int access_scope_add(struct access *a, uint64_t cgroup_id);
int access_scope_del(struct access *a, uint64_t cgroup_id);
/* Starts the drain thread; cb gets every record until access_stop(). */
int access_start(struct access *a, access_cb cb, void *ctx);
/*
 * Returns once every record committed to the ring buffer before the call has been handed to the
 * callback: the drain thread is woken and finishes a pass that began after the call. With no
 * drain thread running, drains on the caller's thread. timeout_ms < 0: no limit. 0, -ETIMEDOUT,
 * or -errno (the drain thread failed or was stopped meanwhile).
 */
int access_sync(struct access *a, int timeout_ms);
/* Drains what is left in the ring buffer, then stops the thread. Safe to call twice. */
void access_stop(struct access *a);
void access_stats(const struct access *a, struct access_stats *out);
void access_close(struct access *a);

/* Name of a backend, for options: "auto" | "lsm" | "tracepoint"; -1 on anything else. */
int access_backend_parse(const char *s);

#endif
