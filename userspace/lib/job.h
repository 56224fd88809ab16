/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * job.h - the scheduler job a run belongs to (a Slurm job step on one node): recorded in the
 * run's run_start record (so the quote attests it) and in bom.json's "job". A job certificate
 * (aicert merge) binds the bundles of every node of a step by these fields.
 *
 * Also the Slurm hostlist syntax ("gpu[01-03,07],login1"), which the step's node list comes in.
 */
#ifndef AICERT_JOB_H
#define AICERT_JOB_H
#include <stdbool.h>
#include <stddef.h>

#define JOB_FIELD_MAX 256     /* bytes of scheduler, id, step and node (each, NUL excluded) */
#define JOB_NODES_MAX 65536   /* nodes of one step */
#define HOSTLIST_TEXT_MAX 65536 /* bytes of a hostlist expression */

struct job_info {
	char *scheduler; /* "slurm"; NULL: the run belongs to no job (nothing else is set) */
	char *id;	 /* the job id, as the scheduler prints it ("4242", "4242_7" for an array) */
	char *step;	 /* the step: "0", "1", ..., "batch", "extern", "interactive" */
	char *node;	 /* the scheduler's name of the node the run traced (SLURMD_NODENAME) */
	char **nodes;	 /* every node of the step, the scheduler's order; includes node */
	size_t n_nodes;
};

void job_free(struct job_info *j); /* fields freed, *j zeroed */
/* Deep copy; dst is overwritten (not freed first). 0 or -ENOMEM (dst then zeroed). */
int job_copy(struct job_info *dst, const struct job_info *src);
/* Same scheduler, id, step, node and nodes (in order); two jobless runs are equal. */
bool job_equal(const struct job_info *a, const struct job_info *b);
/*
 * Checks a job as the writer and the readers accept it: scheduler, id, step and node are 1 to
 * JOB_FIELD_MAX printable ASCII bytes with no space, '/', ',' or '[' ']'; 1 to JOB_NODES_MAX
 * nodes of the same kind, no name twice, node among them. 0, or -EINVAL with why (when not NULL)
 * pointing at a static text. A jobless one (scheduler NULL, nothing else set) is valid.
 */
int job_check(const struct job_info *j, const char **why);

/*
 * Expands a Slurm hostlist: comma-separated names, each with at most one bracketed range list
 * ("n[1-3,7]", "gpu[001-012]" keeps the width of the lower bound, "a[1-2]-ib" keeps the suffix).
 * At most JOB_NODES_MAX names, each 1..JOB_FIELD_MAX bytes; a name given twice is kept once.
 * *out (malloc'd array of malloc'd strings, free with hostlist_free) and *n on success: 0, or
 * -EINVAL (with why) for a malformed or oversized expression, -E2BIG for too many names,
 * -ENOMEM. Time and memory are bounded by JOB_NODES_MAX whatever the input.
 */
int hostlist_expand(const char *text, char ***out, size_t *n, const char **why);
void hostlist_free(char **names, size_t n);

#endif
