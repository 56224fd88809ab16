// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_cdx.c - bom.cdx.json: a BOM with inputs, outputs, a dataset, a model, a library and
 * non-UTF-8 names gives a CycloneDX 1.6 document with the component types, digests,
 * references and run facts cdx.h promises, and the schema's required fields.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/bom.h"
#include "lib/cdx.h"
#include "testutil.h"

static const char sha_data[] = TU_SHA256_ABC;
static const char sha_model[] = TU_SHA256_EMPTY;
static const char sha_py[] = TU_SHA256_448BIT;
static const char sha_so[] = TU_SHA256_MILLION_A;
static const char sha_cfg[] = TU_SHA256_TEST;
static const char bad_name[] = "/data/raw \xff\nrows.csv";

static struct bom_file *add(struct bom *b, const char *path, const char *sha, unsigned roles,
			    const char *cat)
{
	struct bom_file *f = tu_add_file(b, path, sha, roles, cat);

	f->size = 100;
	return f;
}

static void fill(struct bom *b, int models)
{
	static char *const argv[] = {"python3", "train.py", "--out", "it's here", "\xfe"};

	bom_init(b);
	b->run.id = strdup("3F2A1B4C-0000-4000-8000-00000000ABCD");
	assert_int_equal(bom_set_command(b, argv, 5), 0);
	b->run.cwd = strdup("/home/u/proj");
	b->run.exit_code = 0;
	b->run.started = strdup("2026-11-25T18:00:00.000Z");
	b->run.finished = strdup("2026-11-25T18:05:00.123Z");
	b->run.backend = strdup("lsm");
	b->run.events_lost = 2;
	b->run.complete = 1;
	b->host.hostname = strdup("gpu01");
	b->host.kernel = strdup("6.1.0");
	b->host.boot_id = strdup("b0e1");
	b->host.tpm = strdup("none (unattested)");
	add(b, "/out/model.safetensors", sha_model, BOM_ROLE_OUTPUT, "model");
	if (models > 1)
		add(b, "/out/model2.onnx", sha_model, BOM_ROLE_OUTPUT, "model");
	add(b, bad_name, sha_data, BOM_ROLE_INPUT, "dataset");
	add(b, "/home/u/proj/train.py", sha_py, BOM_ROLE_INPUT, "code");
	add(b, "/usr/lib/x86_64-linux-gnu/libc.so.6", sha_so, BOM_ROLE_LIBRARY, "library");
	add(b, "/usr/bin/python3.11", sha_so, BOM_ROLE_EXECUTABLE, "interpreter");
	add(b, "/home/u/proj/conf.yaml", sha_cfg, BOM_ROLE_INPUT, "config");
	add(b, "/out/train.log", NULL, BOM_ROLE_OUTPUT, "other")->status = strdup("vanished");
}

/* The component (or metadata.component) with this name. */
static json_t *find_component(json_t *doc, const char *name)
{
	json_t *c, *m = json_object_get(json_object_get(doc, "metadata"), "component");
	size_t i;

	if (m && !strcmp(json_string_value(json_object_get(m, "name")), name))
		return m;
	json_array_foreach(json_object_get(doc, "components"), i, c)
	{
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	}
	fail_msg("no component %s", name);
	return NULL;
}

static const char *prop(json_t *obj, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(obj, "properties"), i, p)
	{
		if (!strcmp(json_string_value(json_object_get(p, "name")), name))
			return json_string_value(json_object_get(p, "value"));
	}
	return NULL;
}

static void check_component(json_t *doc, const char *name, const char *type, const char *sha)
{
	json_t *c = find_component(doc, name), *h = json_object_get(c, "hashes");

	assert_string_equal(json_string_value(json_object_get(c, "type")), type);
	assert_non_null(json_string_value(json_object_get(c, "bom-ref")));
	if (!sha) {
		assert_null(h);
		return;
	}
	assert_int_equal(json_array_size(h), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "alg")),
			    "SHA-256");
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "content")),
			    sha);
}

/* Every ref in a workflow's inputs or outputs names a component's bom-ref. */
static int refs_resolve(json_t *doc, json_t *list, const char *want_ref)
{
	json_t *it, *c, *m = json_object_get(json_object_get(doc, "metadata"), "component");
	size_t i, j;
	int found = 0;

	json_array_foreach(list, i, it)
	{
		const char *ref =
		    json_string_value(json_object_get(json_object_get(it, "resource"), "ref"));
		int ok = 0;

		assert_non_null(ref);
		if (m && !strcmp(json_string_value(json_object_get(m, "bom-ref")), ref))
			ok = 1;
		json_array_foreach(json_object_get(doc, "components"), j, c)
		{
			ok |= !strcmp(json_string_value(json_object_get(c, "bom-ref")), ref);
		}
		assert_true(ok);
		found |= want_ref && !strcmp(ref, want_ref);
	}
	return found;
}

static void test_document(void **state)
{
	struct bom b;
	char *text, *disp;
	json_t *doc, *meta, *tool, *wf, *c, *d;
	const char *model_ref;

	fill(&b, 1);
	text = cdx_dumps(&b);
	assert_non_null(text);
	doc = tu_json_parse(text);
	assert_string_equal(json_string_value(json_object_get(doc, "bomFormat")), "CycloneDX");
	assert_string_equal(json_string_value(json_object_get(doc, "specVersion")), "1.6");
	assert_string_equal(json_string_value(json_object_get(doc, "serialNumber")),
			    "urn:uuid:3f2a1b4c-0000-4000-8000-00000000abcd");
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);

	meta = json_object_get(doc, "metadata");
	assert_string_equal(json_string_value(json_object_get(meta, "timestamp")),
			    "2026-11-25T18:05:00.123Z");
	tool = json_array_get(json_object_get(json_object_get(meta, "tools"), "components"), 0);
	assert_string_equal(json_string_value(json_object_get(tool, "name")), "aicert");
	assert_string_equal(json_string_value(json_object_get(tool, "version")), AICERT_VERSION);
	assert_string_equal(prop(meta, "aicert:host.hostname"), "gpu01");
	assert_string_equal(prop(meta, "aicert:attested"), "false");
	/* The one model output is what the BOM describes. */
	c = json_object_get(meta, "component");
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "name")),
			    "/out/model.safetensors");
	model_ref = json_string_value(json_object_get(c, "bom-ref"));

	check_component(doc, "/out/model.safetensors", "machine-learning-model", sha_model);
	disp = bom_display_name(bad_name);
	check_component(doc, disp, "data", sha_data);
	c = find_component(doc, disp);
	d = json_array_get(json_object_get(c, "data"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "dataset");
	assert_string_equal(prop(c, "aicert:path_b64"), "L2RhdGEvcmF3IP8Kcm93cy5jc3Y=");
	assert_string_equal(prop(c, "aicert:roles"), "input");
	assert_string_equal(prop(c, "aicert:category"), "dataset");
	free(disp);
	check_component(doc, "/home/u/proj/train.py", "file", sha_py);
	check_component(doc, "/usr/lib/x86_64-linux-gnu/libc.so.6", "library", sha_so);
	check_component(doc, "/usr/bin/python3.11", "application", sha_so);
	check_component(doc, "/home/u/proj/conf.yaml", "data", sha_cfg);
	d = json_array_get(json_object_get(find_component(doc, "/home/u/proj/conf.yaml"), "data"),
			   0);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "configuration");
	/* Not hashed: no hashes, and the reason. Any output is a model unless known otherwise. */
	check_component(doc, "/out/train.log", "machine-learning-model", NULL);
	assert_string_equal(prop(find_component(doc, "/out/train.log"), "aicert:status"),
			    "vanished");
	assert_int_equal(json_array_size(json_object_get(doc, "components")), 6);

	wf = json_array_get(
	    json_object_get(json_array_get(json_object_get(doc, "formulation"), 0), "workflows"),
	    0);
	assert_non_null(wf);
	assert_string_equal(json_string_value(json_object_get(wf, "uid")), b.run.id);
	assert_string_equal(json_string_value(json_array_get(json_object_get(wf, "taskTypes"), 0)),
			    "build");
	assert_string_equal(json_string_value(json_object_get(wf, "timeStart")), b.run.started);
	assert_string_equal(json_string_value(json_object_get(wf, "timeEnd")), b.run.finished);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(
		    json_object_get(json_array_get(json_object_get(wf, "steps"), 0), "commands"),
		    0),
		"executed")),
	    "python3 train.py --out 'it'\\''s here' %FE");
	assert_int_equal(json_array_size(json_object_get(wf, "inputs")), 5);
	assert_int_equal(json_array_size(json_object_get(wf, "outputs")), 2);
	assert_false(refs_resolve(doc, json_object_get(wf, "inputs"), model_ref));
	assert_true(refs_resolve(doc, json_object_get(wf, "outputs"), model_ref));
	assert_string_equal(prop(wf, "aicert:events_lost"), "2");
	assert_string_equal(prop(wf, "aicert:complete"), "true");
	assert_string_equal(prop(wf, "aicert:cwd"), "/home/u/proj");

	/* Deterministic: the same BOM gives the same bytes. */
	{
		char *again = cdx_dumps(&b);

		assert_string_equal(again, text);
		free(again);
	}
	json_decref(doc);
	free(text);
	bom_free(&b);
}

static void test_two_models_and_non_uuid(void **state)
{
	struct bom b;
	char path[] = "/tmp/aicert-test-cdx.XXXXXX", file[64];
	char *text;
	json_t *doc;
	json_error_t e;
	const char *serial;

	fill(&b, 2);
	free(b.run.id);
	b.run.id = strdup("not-a-uuid");
	text = cdx_dumps(&b);
	assert_non_null(text);
	doc = tu_json_parse(text);
	/* Two models: neither is promoted to metadata.component. */
	assert_null(json_object_get(json_object_get(doc, "metadata"), "component"));
	assert_int_equal(json_array_size(json_object_get(doc, "components")), 8);
	check_component(doc, "/out/model2.onnx", "machine-learning-model", sha_model);
	serial = json_string_value(json_object_get(doc, "serialNumber"));
	assert_int_equal(strlen(serial), 45);
	assert_memory_equal(serial, "urn:uuid:", 9);
	assert_int_equal(serial[9 + 14], '8'); /* version 8 */
	json_decref(doc);

	/* cdx_write puts the same text on disk. */
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/bom.cdx.json", path);
	assert_int_equal(cdx_write(&b, file), 0);
	doc = json_load_file(file, 0, &e);
	assert_non_null(doc);
	json_decref(doc);
	{
		FILE *f = fopen(file, "r");
		char *disk = calloc(1, strlen(text) + 2);
		size_t got;

		assert_non_null(f);
		assert_non_null(disk);
		got = fread(disk, 1, strlen(text) + 1, f);
		fclose(f);
		/* byte for byte, and one line: no indentation repeated per file */
		assert_int_equal(got, strlen(text));
		assert_string_equal(disk, text);
		assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
		free(disk);
	}
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(cdx_write(&b, "/nonexistent-dir/bom.cdx.json"), -ENOENT);
	free(text);
	bom_free(&b);
}

static void test_empty(void **state)
{
	struct bom b;
	char *text;
	json_t *doc, *wf;

	bom_init(&b);
	text = cdx_dumps(&b);
	assert_non_null(text);
	doc = tu_json_parse(text);
	assert_int_equal(json_array_size(json_object_get(doc, "components")), 0);
	wf = json_array_get(
	    json_object_get(json_array_get(json_object_get(doc, "formulation"), 0), "workflows"),
	    0);
	/* Required by the schema even when the BOM knows nothing. */
	assert_non_null(json_object_get(wf, "bom-ref"));
	assert_non_null(json_object_get(wf, "uid"));
	assert_non_null(json_object_get(wf, "taskTypes"));
	assert_null(json_object_get(wf, "inputs")); /* optional arrays are left out, not [] */
	/* no run time: no timestamp, never the time of writing (the document is bom.json's) */
	assert_null(json_object_get(json_object_get(doc, "metadata"), "timestamp"));
	json_decref(doc);
	free(text);
	bom_free(&b);
}

/* cdx_render is a function of the bom and the version: aicert-verify regenerates it. */
static void test_render(void **state)
{
	struct bom b;
	char *a, *c, *v;
	json_t *doc, *tool;

	fill(&b, 2);
	a = cdx_render(&b, "9.9.9");
	c = cdx_render(&b, "9.9.9");
	v = cdx_render(&b, "1.0");
	assert_non_null(a);
	assert_non_null(c);
	assert_non_null(v);
	assert_string_equal(a, c);
	assert_string_not_equal(a, v);
	doc = tu_json_parse(a);
	tool = json_array_get(
	    json_object_get(json_object_get(json_object_get(doc, "metadata"), "tools"),
			    "components"),
	    0);
	assert_string_equal(json_string_value(json_object_get(tool, "version")), "9.9.9");
	json_decref(doc);
	errno = 0;
	assert_null(cdx_render(&b, NULL));
	assert_int_equal(errno, EINVAL);
	free(a);
	free(c);
	free(v);
	bom_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_document),
	    cmocka_unit_test(test_two_models_and_non_uuid),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
