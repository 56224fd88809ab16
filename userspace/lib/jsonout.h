/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jsonout.h - a JSON document written as text, piece by piece: the fixed parts as literal text,
 * each value dumped by jansson (compact, keys in insertion order) as soon as it is made. For
 * the per-file documents (bom.cdx.json, provenance.intoto.json), whose jansson tree for 200,000
 * files took seconds and a gigabyte to build, dump and free: here at most one file's objects
 * exist at a time. The output is a function of the calls alone.
 */
#ifndef AICERT_LIB_JSONOUT_H
#define AICERT_LIB_JSONOUT_H
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Receives the text in pieces, in order; a non-zero return stops the document (it fails). */
typedef int (*jsonout_sink)(void *ctx, const char *p, size_t n);

struct jsonout {
	char *p;
	size_t n, cap;
	bool err; /* out of memory, or a NULL value given: jsonout_finish fails */
	/* when set, the text goes to sink in pieces of about 1 MiB instead of growing p: a
	 * document of hundreds of MB is compared or written without being held */
	jsonout_sink sink;
	void *sink_ctx;
};

/* Literal JSON text (the caller's own: keys, punctuation). */
void jsonout_raw(struct jsonout *o, const char *text);
/* The value v, compact; the reference is stolen (NULL marks the document failed). */
void jsonout_value(struct jsonout *o, json_t *v);
/* The object v without its closing brace, so that members can follow (a non-empty object;
 * the reference is stolen). */
void jsonout_open(struct jsonout *o, json_t *v);
/* A JSON string of s, which must be valid UTF-8 (quotes, backslashes and control characters
 * escaped); NULL marks the document failed. */
void jsonout_str(struct jsonout *o, const char *s);
/* The JSON string of bom_display_name(s): s itself when it is valid UTF-8 without '%'. */
void jsonout_name(struct jsonout *o, const char *s);
/* "key": as literal text (the caller's own key, nothing to escape). */
void jsonout_key(struct jsonout *o, const char *key);
/* "," before every element but the first of an array: *first starts true. */
void jsonout_sep(struct jsonout *o, bool *first);
/* The text and a newline, NUL-terminated, malloc'd; NULL with errno ENOMEM when anything
 * failed (the buffer is freed either way). */
char *jsonout_finish(struct jsonout *o);
/* With a sink: the rest of the text and the newline go to it, the buffer is freed; 0, or -1
 * when anything failed (the sink's refusal included). */
int jsonout_end(struct jsonout *o);

#endif
