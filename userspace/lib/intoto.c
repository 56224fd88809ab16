// SPDX-License-Identifier: BSD-2-Clause
/*
 * intoto.c - provenance.intoto.json, in-toto Statement v1 + SLSA Provenance v1 (layout:
 * intoto.h).
 *
 * Made from the same struct bom as bom.json and in the same file order, so the subjects and
 * dependencies are exactly the files bom.json lists with the same digests.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/bom.h"
#include "lib/bomjson.h"
#include "lib/fileio.h"
#include "lib/intoto.h"
#include "lib/jsonout.h"

#ifndef AICERT_VERSION
#define AICERT_VERSION "0"
#endif

/* json null for a NULL string. */
static json_t *jdisp_null(const char *s)
{
	return s ? bomjson_name(s) : json_null();
}

/* "file://" and every byte but RFC 3986 unreserved characters and '/' as %XX: exact for any
 * name, and always ASCII (written as is). */
static void emit_uri(struct jsonout *o, const char *path)
{
	static const char hexd[] = "0123456789ABCDEF";
	char *u = malloc(3 * strlen(path) + 8), *w;

	if (!u) {
		o->err = true;
		return;
	}
	w = u + sprintf(u, "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
			*w++ = (char)*p;
		} else {
			*w++ = '%';
			*w++ = hexd[*p >> 4];
			*w++ = hexd[*p & 15];
		}
	}
	*w = '\0';
	jsonout_raw(o, "\"");
	jsonout_raw(o, u);
	jsonout_raw(o, "\"");
	free(u);
}

static json_t *digest(const char *hex)
{
	return json_pack("{s:s}", "sha256", hex);
}

static void emit_digest(struct jsonout *o, const char *hex)
{
	jsonout_raw(o, ",\"digest\":{\"sha256\":\"");
	jsonout_raw(o, hex); /* lowercase hex */
	jsonout_raw(o, "\"}");
}

/* Each file as text: as jansson objects, 200,000 files took seconds. */
static void emit_subjects(struct jsonout *o, const struct bom *b, const struct bom_file **files)
{
	bool first = true;

	jsonout_raw(o, "[");
	for (size_t i = 0; i < b->nfiles && !o->err; i++) {
		const struct bom_file *f = files[i];

		if (!(f->roles & BOM_ROLE_OUTPUT) || !f->sha256[0])
			continue;
		jsonout_sep(o, &first);
		jsonout_raw(o, "{\"name\":");
		jsonout_name(o, f->path);
		emit_digest(o, f->sha256);
		jsonout_raw(o, "}");
	}
	jsonout_raw(o, "]");
}

static void emit_annotations(struct jsonout *o, const struct bom_file *f)
{
	bool first = true;

	jsonout_raw(o, ",\"annotations\":{\"roles\":[");
	for (unsigned bit = 1; bit <= BOM_ROLE_LIBRARY; bit <<= 1)
		if (f->roles & bit) {
			jsonout_sep(o, &first);
			jsonout_raw(o, "\"");
			jsonout_raw(o, bom_role_name(bit));
			jsonout_raw(o, "\"");
		}
	jsonout_raw(o, "],\"category\":");
	if (f->category)
		jsonout_name(o, f->category);
	else
		jsonout_raw(o, "null");
	jsonout_raw(o, ",\"ima\":\"");
	jsonout_raw(o, bom_ima_name(f->ima));
	jsonout_raw(o, "\"");
	if (f->status) {
		jsonout_raw(o, ",\"status\":");
		jsonout_name(o, f->status);
	}
	jsonout_raw(o, "}");
}

static void emit_dependencies(struct jsonout *o, const struct bom *b, const struct bom_file **files)
{
	const unsigned used = BOM_ROLE_INPUT | BOM_ROLE_EXECUTABLE | BOM_ROLE_LIBRARY;
	bool first = true;

	jsonout_raw(o, ",\"resolvedDependencies\":[");
	for (size_t i = 0; i < b->nfiles && !o->err; i++) {
		const struct bom_file *f = files[i];

		if (!(f->roles & used))
			continue;
		jsonout_sep(o, &first);
		jsonout_raw(o, "{\"uri\":");
		emit_uri(o, f->path);
		jsonout_raw(o, ",\"name\":");
		jsonout_name(o, f->path);
		if (f->sha256[0])
			emit_digest(o, f->sha256);
		emit_annotations(o, f);
		jsonout_raw(o, "}");
	}
	jsonout_raw(o, "]");
}

static json_t *command(const struct bom_run *r)
{
	json_t *a = json_array();
	int err = !a;

	for (size_t i = 0; !err && i < r->argc; i++)
		err |= json_array_append_new(a, bomjson_name(r->command[i]));
	if (err) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* buildDefinition but its resolvedDependencies */
static json_t *build_head(const struct bom *b)
{
	const struct bom_host *h = &b->host;

	return json_pack("{s:s,s:{s:o,s:o},s:{s:o,s:{s:o,s:o,s:o,s:o},s:b}}", "buildType",
			 INTOTO_BUILD_TYPE, "externalParameters", "command", command(&b->run),
			 "cwd", jdisp_null(b->run.cwd), "internalParameters", "backend",
			 jdisp_null(b->run.backend), "host", "hostname", jdisp_null(h->hostname),
			 "kernel", jdisp_null(h->kernel), "boot_id", jdisp_null(h->boot_id), "tpm",
			 jdisp_null(h->tpm), "attested", b->attested);
}

static json_t *run_details(const struct bom *b, const char *events_hex, const char *version)
{
	char id[256];

	const struct bom_run *r = &b->run;
	json_t *d = json_object(), *meta = json_object();
	int err = !d || !meta;

	snprintf(id, sizeof(id), "%s%s", INTOTO_BUILDER_ID_PREFIX, version);
	err |= json_object_set_new(
	    d, "builder", json_pack("{s:s,s:{s:s}}", "id", id, "version", "aicert", version));
	if (r->id)
		err |= json_object_set_new(meta, "invocationId", bomjson_name(r->id));
	if (r->started)
		err |= json_object_set_new(meta, "startedOn", bomjson_name(r->started));
	if (r->finished)
		err |= json_object_set_new(meta, "finishedOn", bomjson_name(r->finished));
	err |= json_object_set_new(d, "metadata", meta);
	if (events_hex)
		err |= json_object_set_new(
		    d, "byproducts",
		    json_pack("[{s:s,s:o}]", "name", "events.cel", "digest", digest(events_hex)));
	if (err) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static int valid_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

/* The statement into o, one line: no indentation repeated per file. -1 (errno EINVAL) when
 * the arguments are refused before anything is written. */
static int emit(struct jsonout *o, const struct bom *b, const char *events_sha256_hex,
		const char *version)
{
	const struct bom_file **files = NULL;
	char ev[65] = "";

	if (!version) {
		errno = EINVAL;
		return -1;
	}
	if (events_sha256_hex) {
		if (!valid_hex64(events_sha256_hex)) {
			errno = EINVAL;
			return -1;
		}
		/* in-toto digests are lowercase hex. */
		for (int i = 0; i < 64; i++)
			ev[i] = (char)(events_sha256_hex[i] | 0x20);
	}
	files = bom_sorted_files(b);
	if (!files) {
		o->err = true; /* errno from bom_sorted_files */
		return 0;
	}
	jsonout_raw(o, "{\"_type\":\"" INTOTO_STATEMENT_TYPE "\",\"subject\":");
	emit_subjects(o, b, files);
	jsonout_raw(o, ",\"predicateType\":\"" INTOTO_PREDICATE_TYPE
		       "\",\"predicate\":{\"buildDefinition\":");
	jsonout_open(o, build_head(b));
	emit_dependencies(o, b, files);
	jsonout_raw(o, "},\"runDetails\":");
	jsonout_value(o, run_details(b, events_sha256_hex ? ev : NULL, version));
	jsonout_raw(o, "}}");
	free(files);
	return 0;
}

char *intoto_render(const struct bom *b, const char *events_sha256_hex, const char *version)
{
	struct jsonout o = {.err = false};

	if (emit(&o, b, events_sha256_hex, version))
		return NULL;
	return jsonout_finish(&o);
}

int intoto_stream(const struct bom *b, const char *events_sha256_hex, const char *version,
		  jsonout_sink sink, void *ctx)
{
	struct jsonout o = {.sink = sink, .sink_ctx = ctx};

	if (emit(&o, b, events_sha256_hex, version))
		return -1;
	return jsonout_end(&o);
}

char *intoto_dumps(const struct bom *b, const char *events_sha256_hex)
{
	return intoto_render(b, events_sha256_hex, AICERT_VERSION);
}

int intoto_write(const struct bom *b, const char *path, const char *events_sha256_hex)
{
	struct fileio_atomic a;
	int failed;

	if (events_sha256_hex && !valid_hex64(events_sha256_hex))
		return -EINVAL;
	/* streamed: a large statement is never held whole */
	if (fileio_atomic_begin(&a, path, 0644, 0))
		return fileio_atomic_end(&a, 0);
	failed = intoto_stream(b, events_sha256_hex, AICERT_VERSION, fileio_atomic_sink, &a);
	return fileio_atomic_end(&a, failed ? -ENOMEM : 0);
}
