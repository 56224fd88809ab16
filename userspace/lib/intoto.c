// SPDX-License-Identifier: BSD-2-Clause
/*
 * intoto.c - provenance.intoto.json, in-toto Statement v1 + SLSA Provenance v1 (layout:
 * intoto.h).
 *
 * Made from the same struct bom as bom.json and in the same file order, so the subjects and
 * dependencies are exactly the files bom.json lists with the same digests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/bom.h"
#include "lib/bomjson.h"
#include "lib/intoto.h"

#ifndef AICERT_VERSION
#define AICERT_VERSION "0"
#endif

/* json null for a NULL string. */
static json_t *jdisp_null(const char *s)
{
	return s ? bomjson_name(s) : json_null();
}

/* "file://" and every byte but RFC 3986 unreserved characters and '/' as %XX: exact for any
 * name, and always ASCII. */
static json_t *file_uri(const char *path)
{
	static const char hexd[] = "0123456789ABCDEF";
	char *u = malloc(3 * strlen(path) + 8), *o;
	json_t *j;

	if (!u)
		return NULL;
	o = u + sprintf(u, "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hexd[*p >> 4];
			*o++ = hexd[*p & 15];
		}
	}
	*o = '\0';
	j = json_string(u);
	free(u);
	return j;
}

static json_t *digest(const char *hex)
{
	return json_pack("{s:s}", "sha256", hex);
}

static json_t *subjects(const struct bom *b, const struct bom_file **files)
{
	json_t *a = json_array();
	int err = !a;

	for (size_t i = 0; !err && i < b->nfiles; i++) {
		const struct bom_file *f = files[i];

		if (!(f->roles & BOM_ROLE_OUTPUT) || !f->sha256[0])
			continue;
		err |=
		    json_array_append_new(a, json_pack("{s:o,s:o}", "name", bomjson_name(f->path),
						       "digest", digest(f->sha256)));
	}
	if (err) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *annotations(const struct bom_file *f)
{
	json_t *o = json_object(), *roles = json_array();
	int err = !o || !roles;

	for (unsigned bit = 1; !err && bit <= BOM_ROLE_LIBRARY; bit <<= 1)
		if (f->roles & bit)
			err |= json_array_append_new(roles, json_string(bom_role_name(bit)));
	err |= json_object_set_new(o, "roles", roles);
	err |= json_object_set_new(o, "category", jdisp_null(f->category));
	err |= json_object_set_new(o, "ima", json_string(bom_ima_name(f->ima)));
	if (f->status)
		err |= json_object_set_new(o, "status", bomjson_name(f->status));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *dependency(const struct bom_file *f)
{
	json_t *d = json_object();
	int err = !d;

	err |= json_object_set_new(d, "uri", file_uri(f->path));
	err |= json_object_set_new(d, "name", bomjson_name(f->path));
	if (f->sha256[0])
		err |= json_object_set_new(d, "digest", digest(f->sha256));
	err |= json_object_set_new(d, "annotations", annotations(f));
	if (err) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static json_t *dependencies(const struct bom *b, const struct bom_file **files)
{
	const unsigned used = BOM_ROLE_INPUT | BOM_ROLE_EXECUTABLE | BOM_ROLE_LIBRARY;
	json_t *a = json_array();
	int err = !a;

	for (size_t i = 0; !err && i < b->nfiles; i++)
		if (files[i]->roles & used)
			err |= json_array_append_new(a, dependency(files[i]));
	if (err) {
		json_decref(a);
		return NULL;
	}
	return a;
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

static json_t *build_definition(const struct bom *b, const struct bom_file **files)
{
	const struct bom_host *h = &b->host;

	return json_pack("{s:s,s:{s:o,s:o},s:{s:o,s:{s:o,s:o,s:o,s:o},s:b},s:o}", "buildType",
			 INTOTO_BUILD_TYPE, "externalParameters", "command", command(&b->run),
			 "cwd", jdisp_null(b->run.cwd), "internalParameters", "backend",
			 jdisp_null(b->run.backend), "host", "hostname", jdisp_null(h->hostname),
			 "kernel", jdisp_null(h->kernel), "boot_id", jdisp_null(h->boot_id), "tpm",
			 jdisp_null(h->tpm), "attested", b->attested, "resolvedDependencies",
			 dependencies(b, files));
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

char *intoto_render(const struct bom *b, const char *events_sha256_hex, const char *version)
{
	const struct bom_file **files = NULL;
	char ev[65] = "";
	json_t *doc = NULL;
	char *t = NULL;

	if (!version) {
		errno = EINVAL;
		return NULL;
	}
	if (events_sha256_hex) {
		if (!valid_hex64(events_sha256_hex)) {
			errno = EINVAL;
			return NULL;
		}
		/* in-toto digests are lowercase hex. */
		for (int i = 0; i < 64; i++)
			ev[i] = (char)(events_sha256_hex[i] | 0x20);
	}
	files = bom_sorted_files(b);
	if (!files)
		return NULL; /* errno from bom_sorted_files */
	doc = json_pack("{s:s,s:o,s:s,s:{s:o,s:o}}", "_type", INTOTO_STATEMENT_TYPE, "subject",
			subjects(b, files), "predicateType", INTOTO_PREDICATE_TYPE, "predicate",
			"buildDefinition", build_definition(b, files), "runDetails",
			run_details(b, events_sha256_hex ? ev : NULL, version));
	t = bomjson_dumps(doc);
	free(files);
	return t;
}

char *intoto_dumps(const struct bom *b, const char *events_sha256_hex)
{
	return intoto_render(b, events_sha256_hex, AICERT_VERSION);
}

int intoto_write(const struct bom *b, const char *path, const char *events_sha256_hex)
{
	return bom_write_dumped(path, intoto_dumps(b, events_sha256_hex));
}
