// SPDX-License-Identifier: BSD-2-Clause
/*
 * job.c - the job a run belongs to, and Slurm hostlist expansion (see job.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/job.h"

void job_free(struct job_info *j)
{
	if (!j)
		return;
	free(j->scheduler);
	free(j->id);
	free(j->step);
	free(j->node);
	hostlist_free(j->nodes, j->n_nodes);
	memset(j, 0, sizeof(*j));
}

static int dup_or_null(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int job_copy(struct job_info *dst, const struct job_info *src)
{
	memset(dst, 0, sizeof(*dst));
	if (dup_or_null(&dst->scheduler, src->scheduler) || dup_or_null(&dst->id, src->id) ||
	    dup_or_null(&dst->step, src->step) || dup_or_null(&dst->node, src->node))
		goto nomem;
	if (src->n_nodes) {
		dst->nodes = calloc(src->n_nodes, sizeof(*dst->nodes));
		if (!dst->nodes)
			goto nomem;
		dst->n_nodes = src->n_nodes;
		for (size_t i = 0; i < src->n_nodes; i++)
			if (dup_or_null(&dst->nodes[i], src->nodes[i]))
				goto nomem;
	}
	return 0;
nomem:
	job_free(dst);
	return -ENOMEM;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool job_equal(const struct job_info *a, const struct job_info *b)
{
	if (!same_str(a->scheduler, b->scheduler) || !same_str(a->id, b->id) ||
	    !same_str(a->step, b->step) || !same_str(a->node, b->node) || a->n_nodes != b->n_nodes)
		return false;
	for (size_t i = 0; i < a->n_nodes; i++)
		if (!same_str(a->nodes[i], b->nodes[i]))
			return false;
	return true;
}

/* 1..JOB_FIELD_MAX printable ASCII bytes, none of " /,[]" */
static bool field_ok(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		unsigned char ch = (unsigned char)s[n];

		if (n >= JOB_FIELD_MAX || ch <= ' ' || ch >= 0x7f || strchr("/,[]", ch))
			return false;
	}
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is any name there twice? Sorts a copy of the pointers: O(n log n). */
static int has_dup(char *const *names, size_t n, bool *dup)
{
	char **s;

	*dup = false;
	if (n < 2)
		return 0;
	if (!(s = malloc(n * sizeof(*s))))
		return -ENOMEM;
	memcpy(s, names, n * sizeof(*s));
	qsort(s, n, sizeof(*s), name_cmp);
	for (size_t i = 1; i < n && !*dup; i++)
		*dup = !strcmp(s[i - 1], s[i]);
	free(s);
	return 0;
}

int job_check(const struct job_info *j, const char **why)
{
	const char *w = NULL;
	bool found = false, dup;

	if (!j->scheduler) {
		if (j->id || j->step || j->node || j->n_nodes)
			w = "a job without a scheduler";
		goto out;
	}
	if (!field_ok(j->scheduler) || !field_ok(j->id) || !field_ok(j->step) ||
	    !field_ok(j->node)) {
		w = "the scheduler, job id, step and node must be 1 to 256 printable characters "
		    "without spaces, '/', ',', '[' or ']'";
		goto out;
	}
	if (!j->n_nodes || j->n_nodes > JOB_NODES_MAX) {
		w = "a job step has 1 to 65536 nodes";
		goto out;
	}
	for (size_t i = 0; i < j->n_nodes; i++) {
		if (!field_ok(j->nodes[i])) {
			w = "a node name must be 1 to 256 printable characters without spaces, '/', "
			    "',', '[' or ']'";
			goto out;
		}
		found |= !strcmp(j->nodes[i], j->node);
	}
	if (!found) {
		w = "the run's node is not among the step's nodes";
		goto out;
	}
	if (has_dup(j->nodes, j->n_nodes, &dup))
		return -ENOMEM;
	if (dup)
		w = "a node is listed twice";
out:
	if (why)
		*why = w;
	return w ? -EINVAL : 0;
}

/* ---- hostlists ---- */

struct names {
	char **v;
	size_t n, cap;
};

void hostlist_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static int names_add(struct names *s, const char *name, size_t len)
{
	if (!len || len > JOB_FIELD_MAX)
		return -EINVAL;
	if (s->n >= JOB_NODES_MAX)
		return -E2BIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strndup(name, len)))
		return -ENOMEM;
	s->n++;
	return 0;
}

/* A decimal number of at most 9 digits (Slurm's ranges are far below that). */
static int num(const char *s, size_t len, unsigned long *v, size_t *width)
{
	if (!len || len > 9)
		return -EINVAL;
	*v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	}
	*width = len;
	return 0;
}

/*
 * Expands pat[0..len) (one name of the list, any number of [..] groups) after the prefix
 * already in buf[0..blen): every combination, left to right.
 */
static int expand_one(const char *pat, size_t len, char *buf, size_t blen, struct names *out)
{
	const char *lb = memchr(pat, '[', len), *rb, *p;

	if (!lb) {
		if (memchr(pat, ']', len))
			return -EINVAL;
		if (blen + len > JOB_FIELD_MAX)
			return -EINVAL;
		memcpy(buf + blen, pat, len);
		return names_add(out, buf, blen + len);
	}
	if (blen + (size_t)(lb - pat) > JOB_FIELD_MAX || memchr(pat, ']', lb - pat))
		return -EINVAL;
	memcpy(buf + blen, pat, lb - pat);
	blen += lb - pat;
	rb = memchr(lb, ']', len - (lb - pat));
	if (!rb || rb == lb + 1 || memchr(lb + 1, '[', rb - lb - 1))
		return -EINVAL;
	for (p = lb + 1; p < rb;) {
		const char *comma = memchr(p, ',', rb - p), *dash;
		const char *end = comma ? comma : rb;
		unsigned long lo, hi;
		size_t wlo, whi;
		int e;

		dash = memchr(p, '-', end - p);
		if ((e = num(p, (dash ? dash : end) - p, &lo, &wlo)))
			return e;
		hi = lo;
		whi = wlo;
		if (dash && (e = num(dash + 1, end - dash - 1, &hi, &whi)))
			return e;
		if (hi < lo)
			return -EINVAL;
		if (hi - lo >= JOB_NODES_MAX)
			return -E2BIG;
		for (unsigned long v = lo; v <= hi; v++) {
			char digits[16];
			int dl = snprintf(digits, sizeof(digits), "%0*lu", (int)wlo, v);

			if (blen + (size_t)dl > JOB_FIELD_MAX)
				return -EINVAL;
			memcpy(buf + blen, digits, dl);
			if ((e = expand_one(rb + 1, len - (rb + 1 - pat), buf, blen + dl, out)))
				return e;
		}
		p = comma ? comma + 1 : rb;
		if (comma && p == rb)
			return -EINVAL;
	}
	return 0;
}

struct slot {
	const char *name;
	size_t idx;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keeps the first of each name, in order: O(n log n). */
static int dedup(struct names *s)
{
	struct slot *t;
	bool *drop;
	size_t w = 0;

	if (s->n < 2)
		return 0;
	t = malloc(s->n * sizeof(*t));
	drop = calloc(s->n, sizeof(*drop));
	if (!t || !drop) {
		free(t);
		free(drop);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++)
		t[i] = (struct slot){ s->v[i], i };
	qsort(t, s->n, sizeof(*t), slot_cmp);
	for (size_t i = 1; i < s->n; i++)
		if (!strcmp(t[i - 1].name, t[i].name))
			drop[t[i].idx] = true;
	for (size_t r = 0; r < s->n; r++) {
		if (drop[r])
			free(s->v[r]);
		else
			s->v[w++] = s->v[r];
	}
	s->n = w;
	free(t);
	free(drop);
	return 0;
}

int hostlist_expand(const char *text, char ***out, size_t *n, const char **why)
{
	struct names s = { 0 };
	char buf[JOB_FIELD_MAX + 1];
	size_t len, i = 0;
	int e = 0;

	*out = NULL;
	*n = 0;
	if (why)
		*why = NULL;
	len = text ? strnlen(text, HOSTLIST_TEXT_MAX + 1) : 0;
	if (!len || len > HOSTLIST_TEXT_MAX) {
		e = -EINVAL;
		goto fail;
	}
	for (size_t k = 0; k < len && !e; k++)
		if ((unsigned char)text[k] <= ' ' || (unsigned char)text[k] >= 0x7f ||
		    text[k] == '/')
			e = -EINVAL;
	while (!e && i < len) {
		/* a name runs to the next comma outside brackets */
		size_t j = i;
		int depth = 0;

		for (; j < len && (depth || text[j] != ','); j++)
			depth += text[j] == '[' ? 1 : text[j] == ']' ? -1 : 0;
		if (j == i || depth) {
			e = -EINVAL;
			break;
		}
		e = expand_one(text + i, j - i, buf, 0, &s);
		i = j + 1;
		if (j + 1 == len) /* a trailing comma */
			e = e ? e : -EINVAL;
	}
	if (e)
		goto fail;
	if ((e = dedup(&s)))
		goto fail;
	*out = s.v;
	*n = s.n;
	return 0;
fail:
	hostlist_free(s.v, s.n);
	if (why)
		*why = e == -E2BIG ? "more than 65536 nodes"
		       : e == -ENOMEM ? "out of memory"
				      : "not a Slurm hostlist (names, or name[1-3,5] ranges, "
					"separated by commas)";
	return e;
}
