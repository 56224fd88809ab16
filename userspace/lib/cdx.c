// SPDX-License-Identifier: BSD-2-Clause
/*
 * cdx.c - bom.cdx.json, CycloneDX 1.6 (layout: cdx.h).
 *
 * Built from the same struct bom as bom.json, in the same file order, so the two documents cannot
 * disagree about what the run touched; CycloneDX has no field for most of aicert's facts (roles,
 * IMA state, lost events), so they travel as "aicert:" properties rather than being dropped.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <stdbool.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "lib/bom.h"
#include "lib/bomjson.h"
#include "lib/cdx.h"
#include "lib/fileio.h"
#include "lib/jsonout.h"

#ifndef AICERT_VERSION
#define AICERT_VERSION "0"
#endif

static int add_prop(json_t *props, const char *name, json_t *value)
{
	json_t *p = json_object();

	if (!value || !p || json_object_set_new(p, "name", json_string(name)) ||
	    json_object_set_new(p, "value", value)) {
		json_decref(value);
		json_decref(p);
		return -1;
	}
	return json_array_append_new(props, p);
}

static int add_prop_str(json_t *props, const char *name, const char *value)
{
	return value ? add_prop(props, name, bomjson_name(value)) : 0;
}

static int add_prop_num(json_t *props, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return add_prop(props, name, json_string(buf));
}

static int add_prop_u64(json_t *props, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return add_prop(props, name, json_string(buf));
}

static int add_prop_bool(json_t *props, const char *name, int v)
{
	return add_prop(props, name, json_string(v ? "true" : "false"));
}

/* Sets key only when the array is not empty (CycloneDX arrays are optional, never empty). */
static int set_nonempty(json_t *o, const char *key, json_t *a)
{
	if (!a)
		return -1;
	if (!json_array_size(a)) {
		json_decref(a);
		return 0;
	}
	return json_object_set_new(o, key, a);
}

/* serialNumber: "urn:uuid:" and the run id lowercased, or a UUID made from its SHA-256. */
static void serial_number(const char *id, char out[46])
{
	static const int dash[] = {8, 13, 18, 23};
	uint8_t md[32];
	int uuid = id && strlen(id) == 36;

	for (int i = 0; uuid && i < 36; i++) {
		int is_dash = i == dash[0] || i == dash[1] || i == dash[2] || i == dash[3];

		uuid = is_dash ? id[i] == '-' : isxdigit((unsigned char)id[i]) != 0;
	}
	strcpy(out, "urn:uuid:");
	if (uuid) {
		for (int i = 0; i < 36; i++)
			out[9 + i] = (char)tolower((unsigned char)id[i]);
		out[45] = '\0';
		return;
	}
	SHA256((const uint8_t *)(id ? id : ""), id ? strlen(id) : 0, md);
	md[6] = (md[6] & 0x0f) | 0x80; /* RFC 9562 version 8: a custom, name-derived UUID */
	md[8] = (md[8] & 0x3f) | 0x80;
	snprintf(out + 9, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
		 md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11],
		 md[12], md[13], md[14], md[15]);
}

static int cat_is(const struct bom_file *f, const char *c)
{
	return f->category && !strcmp(f->category, c);
}

static const char *component_type(const struct bom_file *f)
{
	if (cat_is(f, "dataset") || cat_is(f, "config"))
		return "data";
	if (cat_is(f, "model"))
		return "machine-learning-model";
	if ((f->roles & BOM_ROLE_LIBRARY) || cat_is(f, "library"))
		return "library";
	if ((f->roles & BOM_ROLE_EXECUTABLE) || cat_is(f, "interpreter"))
		return "application";
	if ((f->roles & BOM_ROLE_OUTPUT) && !cat_is(f, "code"))
		return "machine-learning-model";
	return "file";
}

static int is_model_output(const struct bom_file *f)
{
	return (f->roles & BOM_ROLE_OUTPUT) && !strcmp(component_type(f), "machine-learning-model");
}

/*
 * The file metadata.component describes: the one output the policy calls a model, else the one
 * output taken for a model; -1 when there is no single one (several outputs stay peers).
 */
static ssize_t main_model(const struct bom *b, const struct bom_file **files)
{
	ssize_t by_cat = -1, by_role = -1;
	size_t ncat = 0, nrole = 0;

	for (size_t i = 0; i < b->nfiles; i++) {
		if (!is_model_output(files[i]))
			continue;
		nrole++;
		by_role = (ssize_t)i;
		if (cat_is(files[i], "model")) {
			ncat++;
			by_cat = (ssize_t)i;
		}
	}
	if (ncat)
		return ncat == 1 ? by_cat : -1;
	return nrole == 1 ? by_role : -1;
}

static void roles_text(unsigned roles, char buf[64])
{
	buf[0] = '\0';
	for (unsigned bit = 1; bit <= BOM_ROLE_LIBRARY; bit <<= 1) {
		if (!(roles & bit))
			continue;
		if (buf[0])
			strcat(buf, ",");
		strcat(buf, bom_role_name(bit));
	}
}

static void emit_prop(struct jsonout *o, bool *first, const char *name, const char *value)
{
	jsonout_sep(o, first);
	jsonout_raw(o, "{\"name\":\"");
	jsonout_raw(o, name);
	jsonout_raw(o, "\",\"value\":");
	jsonout_name(o, value);
	jsonout_raw(o, "}");
}

/* What CycloneDX has no field for; the IMA result only when there is one. */
static void emit_file_props(struct jsonout *o, const struct bom_file *f)
{
	char roles[64], size[24];
	bool first = true;

	jsonout_raw(o, ",\"properties\":[");
	if (!bom_utf8_valid(f->path)) {
		char *e = bom_b64(f->path);

		emit_prop(o, &first, "aicert:path_b64", e);
		free(e);
	}
	roles_text(f->roles, roles);
	emit_prop(o, &first, "aicert:roles", roles);
	if (f->category)
		emit_prop(o, &first, "aicert:category", f->category);
	snprintf(size, sizeof(size), "%" PRIu64, f->size);
	emit_prop(o, &first, "aicert:size", size);
	if (f->ima != BOM_IMA_UNAVAILABLE)
		emit_prop(o, &first, "aicert:ima", bom_ima_name(f->ima));
	if (f->status)
		emit_prop(o, &first, "aicert:status", f->status);
	jsonout_raw(o, "]");
}

/* One file, written as text: built as jansson objects, 200,000 files took seconds. */
static void emit_component(struct jsonout *o, const struct bom_file *f, const char *ref)
{
	const char *type = component_type(f);

	jsonout_raw(o, "{\"type\":\"");
	jsonout_raw(o, type);
	jsonout_raw(o, "\",\"bom-ref\":\"");
	jsonout_raw(o, ref); /* "file-<n>" */
	jsonout_raw(o, "\",\"name\":");
	jsonout_name(o, f->path);
	if (f->sha256[0]) { /* lowercase hex */
		jsonout_raw(o, ",\"hashes\":[{\"alg\":\"SHA-256\",\"content\":\"");
		jsonout_raw(o, f->sha256);
		jsonout_raw(o, "\"}]");
	}
	if (!strcmp(type, "data"))
		jsonout_raw(o, cat_is(f, "dataset") ? ",\"data\":[{\"type\":\"dataset\"}]"
						    : ",\"data\":[{\"type\":\"configuration\"}]");
	emit_file_props(o, f);
	jsonout_raw(o, "}");
}

/* A POSIX shell word for s: as is when it needs no quoting, else in single quotes. */
static char *shell_word(const char *s)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789@%+=:,./_-";
	char *d = bom_display_name(s), *out, *o;

	if (!d)
		return NULL;
	if (d[0] && strspn(d, safe) == strlen(d))
		return d;
	out = malloc(4 * strlen(d) + 3);
	if (out) {
		o = out;
		*o++ = '\'';
		for (const char *p = d; *p; p++) {
			if (*p == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else {
				*o++ = *p;
			}
		}
		*o++ = '\'';
		*o = '\0';
	}
	free(d);
	return out;
}

static json_t *command_line(const struct bom_run *r)
{
	size_t len = 1, used = 0;
	char *line = malloc(len), *w;
	json_t *j = NULL;

	if (!line)
		return NULL;
	line[0] = '\0';
	for (size_t i = 0; i < r->argc; i++) {
		char *grown;
		size_t wl;

		w = shell_word(r->command[i]);
		if (!w)
			goto cleanup;
		wl = strlen(w);
		grown = realloc(line, len + wl + 1);
		if (!grown) {
			free(w);
			goto cleanup;
		}
		line = grown;
		len += wl + 1;
		used += (size_t)sprintf(line + used, "%s%s", i ? " " : "", w);
		free(w);
	}
	j = json_string(line);
cleanup:
	free(line);
	return j;
}

static json_t *run_props(const struct bom_run *r)
{
	json_t *p = json_array();
	int err = !p;

	err |= add_prop_str(p, "aicert:cwd", r->cwd);
	err |= add_prop_num(p, "aicert:exit_code", r->exit_code);
	err |= add_prop_num(p, "aicert:signal", r->signal);
	err |= add_prop_str(p, "aicert:backend", r->backend);
	err |= add_prop_u64(p, "aicert:events_lost", r->events_lost);
	err |= add_prop_u64(p, "aicert:paths_truncated", r->paths_truncated);
	err |= add_prop_bool(p, "aicert:complete", r->complete);
	err |= add_prop_bool(p, "aicert:detached", r->detached);
	if (err) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* The workflow's members before its inputs: a small object. */
static json_t *workflow_head(const struct bom_run *r)
{
	json_t *w = json_object();
	json_t *steps = json_pack("[{s:s,s:[{s:o}]}]", "name", "command", "commands", "executed",
				  command_line(r));
	int err = !w;

	err |= json_object_set_new(w, "bom-ref", json_string("run"));
	err |= json_object_set_new(w, "uid", bomjson_name(r->id ? r->id : "unknown"));
	err |= json_object_set_new(w, "name", json_string("aicert-trace run"));
	err |= json_object_set_new(w, "taskTypes", json_pack("[s]", "build"));
	if (r->started)
		err |= json_object_set_new(w, "timeStart", bomjson_name(r->started));
	if (r->finished)
		err |= json_object_set_new(w, "timeEnd", bomjson_name(r->finished));
	err |= json_object_set_new(w, "steps", steps);
	if (err) {
		json_decref(w);
		return NULL;
	}
	return w;
}

/* "inputs" or "outputs": a reference to each file with one of roles; nothing when none. */
static void emit_refs(struct jsonout *o, const struct bom *b, const struct bom_file **files,
		      char (*refs)[32], const char *key, unsigned roles)
{
	bool first = true;

	for (size_t i = 0; i < b->nfiles; i++) {
		if (!(files[i]->roles & roles))
			continue;
		if (first) {
			jsonout_raw(o, ",\"");
			jsonout_raw(o, key);
			jsonout_raw(o, "\":[");
		}
		jsonout_sep(o, &first);
		/* refs are "file-<n>": ASCII, nothing to escape */
		jsonout_raw(o, roles & BOM_ROLE_OUTPUT
				   ? "{\"type\":\"artifact\",\"resource\":{\"ref\":\""
				   : "{\"resource\":{\"ref\":\"");
		jsonout_raw(o, refs[i]);
		jsonout_raw(o, "\"}}");
	}
	if (!first)
		jsonout_raw(o, "]");
}

static void emit_workflow(struct jsonout *o, const struct bom *b, const struct bom_file **files,
			  char (*refs)[32])
{
	jsonout_open(o, workflow_head(&b->run));
	emit_refs(o, b, files, refs, "inputs",
		  BOM_ROLE_INPUT | BOM_ROLE_EXECUTABLE | BOM_ROLE_LIBRARY);
	emit_refs(o, b, files, refs, "outputs", BOM_ROLE_OUTPUT);
	jsonout_raw(o, ",\"properties\":");
	jsonout_value(o, run_props(&b->run));
	jsonout_raw(o, "}");
}

/* The run's time, never the time of writing: the document is a function of bom.json alone. */
static const char *timestamp(const struct bom_run *r)
{
	return r->finished ? r->finished : r->started;
}

static json_t *metadata(const struct bom *b, const char *version)
{
	json_t *m = json_object(), *p = json_array();
	json_t *tools =
	    json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "components", "type", "application", "name",
		      "aicert", "version", version, "description",
		      "aicert-trace: file accesses of a training run, hashed and attested");
	int err = !m || !p;

	if (timestamp(&b->run))
		err |= json_object_set_new(m, "timestamp", bomjson_name(timestamp(&b->run)));
	err |= json_object_set_new(m, "tools", tools);
	err |= add_prop_str(p, "aicert:run.id", b->run.id);
	err |= add_prop_str(p, "aicert:host.hostname", b->host.hostname);
	err |= add_prop_str(p, "aicert:host.kernel", b->host.kernel);
	err |= add_prop_str(p, "aicert:host.boot_id", b->host.boot_id);
	err |= add_prop_str(p, "aicert:host.tpm", b->host.tpm);
	err |= add_prop_bool(p, "aicert:attested", b->attested);
	err |= set_nonempty(m, "properties", p);
	if (err) {
		json_decref(m);
		return NULL;
	}
	return m;
}

static void emit_document(struct jsonout *o, const struct bom *b, const struct bom_file **files,
			  char (*refs)[32], const char *version)
{
	ssize_t main_idx = main_model(b, files);
	char serial[46];
	bool first = true;

	for (size_t i = 0; i < b->nfiles; i++)
		snprintf(refs[i], sizeof(refs[i]), "file-%zu", i + 1);
	serial_number(b->run.id, serial);
	jsonout_raw(o, "{\"$schema\":\"http://cyclonedx.org/schema/bom-1.6.schema.json\","
		       "\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\",\"serialNumber\":\"");
	jsonout_raw(o, serial); /* "urn:uuid:" and hex */
	jsonout_raw(o, "\",\"version\":1,\"metadata\":");
	jsonout_open(o, metadata(b, version));
	if (main_idx >= 0) {
		jsonout_raw(o, ",\"component\":");
		emit_component(o, files[main_idx], refs[main_idx]);
	}
	jsonout_raw(o, "},\"components\":[");
	for (size_t i = 0; i < b->nfiles && !o->err; i++) {
		if ((ssize_t)i == main_idx)
			continue;
		jsonout_sep(o, &first);
		emit_component(o, files[i], refs[i]);
	}
	jsonout_raw(o, "],\"formulation\":[{\"bom-ref\":\"formula-1\",\"workflows\":[");
	emit_workflow(o, b, files, refs);
	jsonout_raw(o, "]}]}");
}

/* The document into o, one line (indentation would be most of a large document). */
static void emit(struct jsonout *o, const struct bom *b, const char *version)
{
	const struct bom_file **files = NULL;
	char(*refs)[32] = NULL;

	if (!version) {
		errno = EINVAL;
		o->err = true;
		return;
	}
	if (!(files = bom_sorted_files(b))) {
		o->err = true; /* errno from bom_sorted_files */
		return;
	}
	refs = calloc(b->nfiles + 1, sizeof(*refs));
	if (refs)
		emit_document(o, b, files, refs, version);
	else
		o->err = true;
	free(refs);
	free(files);
}

char *cdx_render(const struct bom *b, const char *version)
{
	struct jsonout o = {.err = false};

	emit(&o, b, version);
	if (o.err && errno == EINVAL) {
		free(o.p);
		return NULL;
	}
	return jsonout_finish(&o);
}

int cdx_stream(const struct bom *b, const char *version, jsonout_sink sink, void *ctx)
{
	struct jsonout o = {.sink = sink, .sink_ctx = ctx};

	emit(&o, b, version);
	return jsonout_end(&o);
}

char *cdx_dumps(const struct bom *b)
{
	return cdx_render(b, AICERT_VERSION);
}

int cdx_write(const struct bom *b, const char *path)
{
	struct fileio_atomic a;

	/* streamed: a large document is never held whole */
	if (fileio_atomic_begin(&a, path, 0644, 0))
		return fileio_atomic_end(&a, 0);
	return fileio_atomic_end(&a, cdx_stream(b, AICERT_VERSION, fileio_atomic_sink, &a) ? -ENOMEM
											   : 0);
}
