// SPDX-License-Identifier: BSD-2-Clause
#include "lib/jsonout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bom.h"

#define JSONOUT_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
#define JSONOUT_PIECE (1u << 20)

static void flush(struct jsonout *o)
{
	if (o->n && o->sink(o->sink_ctx, o->p, o->n))
		o->err = true;
	o->n = 0;
}

/* Room for more bytes; with a sink, what is held goes first once it reaches a piece (never in
 * the middle of a call, so jsonout_open can take back the brace it just wrote). */
static bool reserve(struct jsonout *o, size_t more)
{
	size_t cap = o->cap ? o->cap : 4096;
	char *p;

	if (!o->err && o->sink && o->n >= JSONOUT_PIECE)
		flush(o);
	if (o->err)
		return false;
	while (cap - o->n < more + 2) /* room for "\n" and NUL at the end */
		cap *= 2;
	if (cap != o->cap) {
		if (!(p = realloc(o->p, cap))) {
			o->err = true;
			return false;
		}
		o->p = p;
		o->cap = cap;
	}
	return true;
}

void jsonout_raw(struct jsonout *o, const char *text)
{
	size_t n = strlen(text);

	if (reserve(o, n)) {
		memcpy(o->p + o->n, text, n);
		o->n += n;
	}
}

void jsonout_value(struct jsonout *o, json_t *v)
{
	size_t n = v ? json_dumpb(v, NULL, 0, JSONOUT_FLAGS) : 0;

	if (!n)
		o->err = true;
	else if (reserve(o, n) && json_dumpb(v, o->p + o->n, n, JSONOUT_FLAGS) == n)
		o->n += n;
	else
		o->err = true;
	json_decref(v);
}

void jsonout_open(struct jsonout *o, json_t *v)
{
	bool empty = !json_is_object(v) || !json_object_size(v);

	jsonout_value(o, v);
	if (empty || o->err || o->p[o->n - 1] != '}')
		o->err = true;
	else
		o->n--;
}

void jsonout_str(struct jsonout *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		o->err = true;
		return;
	}
	/* at most 6 bytes out per byte in, and the quotes */
	if (!reserve(o, 6 * strlen(s) + 2))
		return;
	o->p[o->n++] = '"';
	for (; *p; p++) {
		if (*p == '"' || *p == '\\') {
			o->p[o->n++] = '\\';
			o->p[o->n++] = (char)*p;
		} else if (*p < 0x20) {
			o->n += (size_t)sprintf(o->p + o->n, "\\u%04x", *p);
		} else {
			o->p[o->n++] = (char)*p;
		}
	}
	o->p[o->n++] = '"';
}

void jsonout_name(struct jsonout *o, const char *s)
{
	char *d;

	if (s && !strchr(s, '%') && bom_utf8_valid(s)) {
		jsonout_str(o, s);
		return;
	}
	d = s ? bom_display_name(s) : NULL;
	jsonout_str(o, d);
	free(d);
}

void jsonout_key(struct jsonout *o, const char *key)
{
	jsonout_raw(o, "\"");
	jsonout_raw(o, key);
	jsonout_raw(o, "\":");
}

void jsonout_sep(struct jsonout *o, bool *first)
{
	if (!*first)
		jsonout_raw(o, ",");
	*first = false;
}

char *jsonout_finish(struct jsonout *o)
{
	char *p = NULL;

	if (!o->err && reserve(o, 0)) {
		o->p[o->n++] = '\n';
		o->p[o->n] = '\0';
		p = o->p;
	} else {
		free(o->p);
		errno = ENOMEM;
	}
	o->p = NULL;
	o->n = o->cap = 0;
	return p;
}

int jsonout_end(struct jsonout *o)
{
	if (!o->err && reserve(o, 0)) {
		o->p[o->n++] = '\n';
		flush(o);
	}
	free(o->p);
	o->p = NULL;
	o->n = o->cap = 0;
	return o->err ? -1 : 0;
}
