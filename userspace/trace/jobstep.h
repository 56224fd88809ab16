/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobstep.h - a scheduler's job step as aicertd takes it from spank_aicert.so (socket op
 * "slurm"): the request read and checked, and the cgroup the step's run is scoped on.
 *
 * Where Slurm runs its tasks in cgroup v2 (a pure v2 node), the step's run adopts Slurm's own
 * step cgroup and nothing is moved. Where the tasks stay in the v2 root (a hybrid node, Slurm on
 * cgroup v1), aicertd gives the step a v2 cgroup of its own and moves the tasks there; their v1
 * cgroups, which Slurm tracks and signals, are untouched.
 */
#ifndef AICERT_TRACE_JOBSTEP_H
#define AICERT_TRACE_JOBSTEP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "lib/job.h"

struct jobstep_req {
	struct job_info job; /* scheduler "slurm" */
	uint32_t uid, gid;   /* the job's user */
	const char *cwd;     /* absolute; borrowed from the request */
	char **argv;	     /* NULL-terminated, borrowed strings (free the array only) */
	size_t argc;
	long task; /* the task's rank on the node, -1: not said */
};

/*
 * Reads {"job","step","node","nodes" (a hostlist),"user_uid","user_gid","cwd","argv","task"}.
 * 0, or -EINVAL with err set (one line). Free with jobstep_req_free.
 */
int jobstep_parse(const json_t *req, struct jobstep_req *out, char *err, size_t errlen);
void jobstep_req_free(struct jobstep_req *r);

/* pid's cgroup v2 path below the hierarchy's root ("/" for the root). 0 or -errno. */
int cgroup_of_pid(pid_t pid, char *rel, size_t len);

/*
 * The Slurm cgroup a step's run adopts, for a task in task_rel: when it has the components
 * "job_<job>/step_<step>" (Slurm's cgroup v2 layout), that step cgroup, or its "user" child when
 * the task is below that (every task of the step, not slurmstepd). Returns 1 with out set; 0
 * when task_rel is no cgroup of this step (the v2 root of a hybrid node, a systemd unit): the
 * run then makes a cgroup of its own. -ENAMETOOLONG.
 */
int jobstep_scope(const char *task_rel, const struct job_info *job, char *out, size_t len);

#endif
