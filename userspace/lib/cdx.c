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

#include <jansson.h>
#include <openssl/sha.h>

#include "lib/bom.h"
#include "lib/bomjson.h"
#include "lib/cdx.h"

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

static json_t *roles_text(unsigned roles)
{
	char buf[64] = "";

	for (unsigned bit = 1; bit <= BOM_ROLE_LIBRARY; bit <<= 1) {
		if (!(roles & bit))
			continue;
		if (buf[0])
			strcat(buf, ",");
		strcat(buf, bom_role_name(bit));
	}
	return json_string(buf);
}

static json_t *file_props(const struct bom_file *f)
{
	json_t *p = json_array();
	int err = !p;

	if (!err && !bom_utf8_valid(f->path)) {
		char *e = bom_b64(f->path);

		err |= !e || add_prop(p, "aicert:path_b64", json_string(e));
		free(e);
	}
	err |= add_prop(p, "aicert:roles", roles_text(f->roles));
	err |= add_prop_str(p, "aicert:category", f->category);
	err |= add_prop_u64(p, "aicert:size", f->size);
	err |= add_prop_str(p, "aicert:ima", bom_ima_name(f->ima));
	err |= add_prop_str(p, "aicert:status", f->status);
	if (err) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static json_t *data_entry(const struct bom_file *f, const char *type)
{
	json_t *a = json_array(), *d = json_object();

	if (!a || !d || json_object_set_new(d, "type", json_string(type)) ||
	    json_object_set_new(d, "name", bomjson_name(f->path)) || json_array_append(a, d)) {
		json_decref(a);
		a = NULL;
	}
	json_decref(d);
	return a;
}

static json_t *component(const struct bom_file *f, const char *ref)
{
	const char *type = component_type(f);
	json_t *c = json_object();
	int err = !c;

	err |= json_object_set_new(c, "type", json_string(type));
	err |= json_object_set_new(c, "bom-ref", json_string(ref));
	err |= json_object_set_new(c, "name", bomjson_name(f->path));
	if (f->sha256[0]) {
		json_t *h = json_pack("[{s:s,s:s}]", "alg", "SHA-256", "content", f->sha256);

		err |= json_object_set_new(c, "hashes", h);
	}
	if (!strcmp(type, "data"))
		err |= json_object_set_new(
		    c, "data", data_entry(f, cat_is(f, "dataset") ? "dataset" : "configuration"));
	err |= json_object_set_new(c, "properties", file_props(f));
	if (err) {
		json_decref(c);
		return NULL;
	}
	return c;
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

static json_t *ref_item(const char *ref, int output)
{
	return output ? json_pack("{s:s,s:{s:s}}", "type", "artifact", "resource", "ref", ref)
		      : json_pack("{s:{s:s}}", "resource", "ref", ref);
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

static json_t *workflow(const struct bom *b, const struct bom_file **files, char (*refs)[32])
{
	const struct bom_run *r = &b->run;
	json_t *w = json_object(), *in = json_array(), *out = json_array();
	json_t *steps = json_pack("[{s:s,s:[{s:o}]}]", "name", "command", "commands", "executed",
				  command_line(r));
	int err = !w || !in || !out;

	for (size_t i = 0; !err && i < b->nfiles; i++) {
		unsigned roles = files[i]->roles;

		if (roles & (BOM_ROLE_INPUT | BOM_ROLE_EXECUTABLE | BOM_ROLE_LIBRARY))
			err |= json_array_append_new(in, ref_item(refs[i], 0));
		if (roles & BOM_ROLE_OUTPUT)
			err |= json_array_append_new(out, ref_item(refs[i], 1));
	}
	err |= json_object_set_new(w, "bom-ref", json_string("run"));
	err |= json_object_set_new(w, "uid", bomjson_name(r->id ? r->id : "unknown"));
	err |= json_object_set_new(w, "name", json_string("aicert-trace run"));
	err |= json_object_set_new(w, "taskTypes", json_pack("[s]", "build"));
	if (r->started)
		err |= json_object_set_new(w, "timeStart", bomjson_name(r->started));
	if (r->finished)
		err |= json_object_set_new(w, "timeEnd", bomjson_name(r->finished));
	err |= json_object_set_new(w, "steps", steps);
	err |= set_nonempty(w, "inputs", in);
	err |= set_nonempty(w, "outputs", out);
	err |= json_object_set_new(w, "properties", run_props(r));
	if (err) {
		json_decref(w);
		return NULL;
	}
	return w;
}

/* The run's time, never the time of writing: the document is a function of bom.json alone. */
static const char *timestamp(const struct bom_run *r)
{
	return r->finished ? r->finished : r->started;
}

static json_t *metadata(const struct bom *b, json_t *main_component, const char *version)
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
	if (main_component)
		err |= json_object_set(m, "component", main_component);
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

static json_t *document(const struct bom *b, const struct bom_file **files, char (*refs)[32],
			const char *version)
{
	json_t *doc = json_object(), *comps = json_array(), *main_c = NULL, *wf, *formula;
	char serial[46];
	ssize_t main_idx = main_model(b, files);
	int err = !doc || !comps;

	for (size_t i = 0; i < b->nfiles; i++)
		snprintf(refs[i], sizeof(refs[i]), "file-%zu", i + 1);
	for (size_t i = 0; !err && i < b->nfiles; i++) {
		json_t *c = component(files[i], refs[i]);

		if ((ssize_t)i == main_idx) {
			main_c = c;
			err |= !c;
		} else {
			err |= json_array_append_new(comps, c);
		}
	}
	serial_number(b->run.id, serial);
	wf = err ? NULL : workflow(b, files, refs);
	formula = json_pack("[{s:s,s:[o]}]", "bom-ref", "formula-1", "workflows", wf);
	err |= json_object_set_new(doc, "$schema",
				   json_string("http://cyclonedx.org/schema/bom-1.6.schema.json"));
	err |= json_object_set_new(doc, "bomFormat", json_string("CycloneDX"));
	err |= json_object_set_new(doc, "specVersion", json_string("1.6"));
	err |= json_object_set_new(doc, "serialNumber", json_string(serial));
	err |= json_object_set_new(doc, "version", json_integer(1));
	err |= json_object_set_new(doc, "metadata", err ? NULL : metadata(b, main_c, version));
	err |= json_object_set_new(doc, "components", comps);
	err |= json_object_set_new(doc, "formulation", formula);
	json_decref(main_c);
	if (err) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* One line: indentation would be most of a 200,000-file document, repeated per file. Dumped
 * straight into its buffer (json_dumpb), as the document can be large. */
static char *dump_compact(json_t *doc)
{
	const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
	size_t n = doc ? json_dumpb(doc, NULL, 0, flags) : 0;
	char *t = n ? malloc(n + 2) : NULL;

	if (t && json_dumpb(doc, t, n, flags) == n) {
		t[n] = '\n';
		t[n + 1] = '\0';
	} else {
		free(t);
		t = NULL;
		errno = ENOMEM;
	}
	json_decref(doc);
	return t;
}

char *cdx_render(const struct bom *b, const char *version)
{
	const struct bom_file **files = NULL;
	char(*refs)[32] = NULL;
	json_t *doc = NULL;
	char *t = NULL;

	if (!version) {
		errno = EINVAL;
		return NULL;
	}
	if (!(files = bom_sorted_files(b)))
		return NULL; /* errno from bom_sorted_files */
	refs = calloc(b->nfiles + 1, sizeof(*refs));
	doc = refs ? document(b, files, refs, version) : NULL;
	t = dump_compact(doc);
	free(refs);
	free(files);
	return t;
}

char *cdx_dumps(const struct bom *b)
{
	return cdx_render(b, AICERT_VERSION);
}

int cdx_write(const struct bom *b, const char *path)
{
	return bom_write_dumped(path, cdx_dumps(b));
}
