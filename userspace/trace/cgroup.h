/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgroup.h - every traced run gets its own cgroup v2 so the BPF programs can scope on its id:
 * children, threads and daemonised descendants stay in it whatever they do.
 */
#ifndef AICERT_TRACE_CGROUP_H
#define AICERT_TRACE_CGROUP_H
#include <stddef.h>
#include <stdint.h>

struct run_cgroup {
	char path[4096]; /* absolute path of the run's cgroup directory */
	uint64_t id;     /* cgroup v2 id (the directory's inode number) */
	int events_fd;   /* open cgroup.events, for waiting until the cgroup is empty */
	int lock_fd;     /* the directory, flock'ed for the run's life: the run is alive */
};

/*
 * Finds the cgroup v2 hierarchy through /proc/mounts (mounting one under /run/aicert/cgroup2
 * when the system has none) and creates <root>/aicert/<name>, holding a flock on it for as long
 * as lock_fd is open (in this process or a child that inherited it). Returns 0 or -errno
 * (logged).
 */
int run_cgroup_create(struct run_cgroup *cg, const char *name);
/*
 * Removes the cgroups left under <root>/aicert/ by runs whose aicert-trace is gone (no flock
 * held) and that no process uses any more; warns about such a cgroup that still has processes.
 * Returns how many it removed, or -errno.
 */
int run_cgroup_sweep(void);
/* Moves the calling process into the cgroup (in the child, before exec). 0 or -errno. */
int run_cgroup_join(const struct run_cgroup *cg);
/* 1 when no process is left in the cgroup, 0 when some is, -errno on error. */
int run_cgroup_empty(const struct run_cgroup *cg);
/*
 * Waits until the cgroup is empty or timeout_ms passes (-1: forever). Returns 1 when empty, 0 on
 * timeout, -errno on error (-EINTR when a signal interrupted the wait).
 */
int run_cgroup_wait_empty(const struct run_cgroup *cg, int timeout_ms);
/* Kills what is left (cgroup.kill, else SIGKILL to each pid) and removes the directory. */
void run_cgroup_destroy(struct run_cgroup *cg, int kill_rest);

/*
 * Mount point of the cgroup v2 hierarchy (the first "cgroup2" in /proc/mounts), mounting one at
 * /run/aicert/cgroup2 when there is none. 0 or -errno (logged).
 */
int cgroup2_root(char *buf, size_t len);
/*
 * Depth of the cgroup with this id below the hierarchy's root (root: 0), found through its file
 * handle: what bpf_get_current_ancestor_cgroup_id() takes. -errno when no such cgroup.
 */
int cgroup_level(uint64_t id);

#endif
