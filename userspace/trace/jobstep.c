// SPDX-License-Identifier: BSD-2-Clause
/*
 * jobstep.c - a job step's registration with aicertd, and the cgroup its run is scoped on (see
 * jobstep.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/jobstep.h"

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jid(const json_t *o, const char *key, uint32_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX - 1)
		return -EINVAL;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

void jobstep_req_free(struct jobstep_req *r)
{
	job_free(&r->job);
	free(r->argv);
	memset(r, 0, sizeof(*r));
}

int jobstep_parse(const json_t *req, struct jobstep_req *out, char *err, size_t errlen)
{
	const char *nodes = jstr(req, "nodes"), *why = NULL;
	const json_t *argv = json_object_get(req, "argv"), *task = json_object_get(req, "task");
	int e;

	memset(out, 0, sizeof(*out));
	out->task = -1;
	if (jid(req, "user_uid", &out->uid) || jid(req, "user_gid", &out->gid)) {
		snprintf(err, errlen, "\"slurm\" needs the job's user_uid and user_gid");
		return -EINVAL;
	}
	out->cwd = jstr(req, "cwd");
	if (!out->cwd || out->cwd[0] != '/') {
		snprintf(err, errlen, "\"slurm\" needs an absolute cwd");
		return -EINVAL;
	}
	if (json_is_integer(task) && json_integer_value(task) >= 0)
		out->task = (long)json_integer_value(task);
	if (!json_is_array(argv) || !json_array_size(argv) || json_array_size(argv) > 65536) {
		snprintf(err, errlen, "\"slurm\" needs the step's argv (1 to 65536 strings)");
		return -EINVAL;
	}
	out->argc = json_array_size(argv);
	if (!(out->argv = calloc(out->argc + 1, sizeof(*out->argv))))
		goto nomem;
	for (size_t i = 0; i < out->argc; i++) {
		const json_t *a = json_array_get(argv, i);

		if (!json_is_string(a)) {
			snprintf(err, errlen, "argv[%zu] is not a string", i);
			goto bad;
		}
		out->argv[i] = (char *)json_string_value(a);
	}
	if (!(out->job.scheduler = strdup("slurm")))
		goto nomem;
	if ((jstr(req, "job") && !(out->job.id = strdup(jstr(req, "job")))) ||
	    (jstr(req, "step") && !(out->job.step = strdup(jstr(req, "step")))) ||
	    (jstr(req, "node") && !(out->job.node = strdup(jstr(req, "node")))))
		goto nomem;
	e = hostlist_expand(nodes, &out->job.nodes, &out->job.n_nodes, &why);
	if (e) {
		snprintf(err, errlen, "the step's node list %.200s: %s", nodes ? nodes : "(none)",
			 why);
		goto bad;
	}
	if (job_check(&out->job, &why)) {
		snprintf(err, errlen, "job %.64s step %.64s on node %.64s: %s",
			 out->job.id ? out->job.id : "(none)", out->job.step ? out->job.step : "(none)",
			 out->job.node ? out->job.node : "(none)", why ? why : "out of memory");
		goto bad;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
bad:
	jobstep_req_free(out);
	return -EINVAL;
}

int cgroup_of_pid(pid_t pid, char *rel, size_t len)
{
	char path[64], line[4096 + 8];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n;

		if (strncmp(line, "0::", 3))
			continue;
		n = strcspn(line + 3, "\n");
		if (line[3] != '/' || n >= len) {
			ret = -ENAMETOOLONG;
			break;
		}
		memcpy(rel, line + 3, n);
		rel[n] = '\0';
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* Is [s, s+n) exactly prefix + name? */
static int comp_is(const char *s, size_t n, const char *prefix, const char *name)
{
	size_t p = strlen(prefix), k = strlen(name);

	return n == p + k && !memcmp(s, prefix, p) && !memcmp(s + p, name, k);
}

int jobstep_scope(const char *task_rel, const struct job_info *job, char *out, size_t len)
{
	const char *p = task_rel, *prev = NULL, *prev_end = NULL;

	while (*p == '/')
		p++;
	while (*p) {
		const char *end = p + strcspn(p, "/");

		if (prev && comp_is(prev, prev_end - prev, "job_", job->id) &&
		    comp_is(p, end - p, "step_", job->step)) {
			const char *next = end + (*end == '/'), *stop = end;
			size_t nl = strcspn(next, "/");

			if (nl == 4 && !memcmp(next, "user", 4))
				stop = next + 4;
			if ((size_t)(stop - task_rel) >= len)
				return -ENAMETOOLONG;
			memcpy(out, task_rel, stop - task_rel);
			out[stop - task_rel] = '\0';
			return 1;
		}
		prev = p;
		prev_end = end;
		p = end;
		while (*p == '/')
			p++;
	}
	return 0;
}
