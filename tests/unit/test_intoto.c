// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_intoto.c - provenance.intoto.json: a BOM with inputs, outputs, a dataset, a model, a
 * library and non-UTF-8 names gives an in-toto Statement v1 / SLSA Provenance v1 whose
 * subjects, dependencies and byproducts carry bom.json's digests.
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
#include "lib/intoto.h"
#include "testutil.h"

static const char sha_data[] = TU_SHA256_ABC;
static const char sha_model[] = TU_SHA256_EMPTY;
static const char sha_py[] = TU_SHA256_448BIT;
static const char sha_so[] = TU_SHA256_MILLION_A;
static const char sha_ev[] = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
static const char bad_name[] = "/data/raw \xff\nrows 100%.csv";

static void fill(struct bom *b)
{
	static char *const argv[] = {"python3", "train.py", "--name=\xfe"};

	bom_init(b);
	b->run.id = strdup("3f2a1b4c-0000-4000-8000-00000000abcd");
	assert_int_equal(bom_set_command(b, argv, 3), 0);
	b->run.cwd = strdup("/home/u/proj");
	b->run.started = strdup("2026-11-25T18:00:00.000Z");
	b->run.finished = strdup("2026-11-25T18:05:00.123Z");
	b->run.backend = strdup("tracepoint");
	b->host.hostname = strdup("gpu01");
	b->host.kernel = strdup("6.1.0");
	b->host.boot_id = strdup("b0e1");
	b->host.tpm = strdup("TPM 2.0, AK from EK");
	b->attested = 1;
	tu_add_file(b, "/out/model.safetensors", sha_model, BOM_ROLE_OUTPUT, "model");
	tu_add_file(b, "/out/metrics.json", sha_data, BOM_ROLE_OUTPUT, "config");
	tu_add_file(b, "/out/gone.pt", NULL, BOM_ROLE_OUTPUT, "model")->status = strdup("vanished");
	tu_add_file(b, bad_name, sha_data, BOM_ROLE_INPUT, "dataset")->ima = BOM_IMA_MATCH;
	tu_add_file(b, "/home/u/proj/train.py", sha_py, BOM_ROLE_INPUT, "code");
	tu_add_file(b, "/usr/lib/libtorch.so", sha_so, BOM_ROLE_LIBRARY, "library");
	tu_add_file(b, "/usr/bin/python3.11", sha_so, BOM_ROLE_EXECUTABLE, "interpreter");
	tu_add_file(b, "/tmp/unreadable", NULL, BOM_ROLE_INPUT, "other")->status =
	    strdup("unreadable: Permission denied");
	/* Read and rewritten: both a dependency and a subject. */
	tu_add_file(b, "/home/u/proj/ckpt.pt", sha_model, BOM_ROLE_INPUT | BOM_ROLE_OUTPUT,
		    "model");
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		fail_msg("no string %s", key);
	return s;
}

static const char *sha(json_t *o)
{
	return str(json_object_get(o, "digest"), "sha256");
}

static json_t *find_by(json_t *a, const char *key, const char *value)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		if (!strcmp(str(e, key), value))
			return e;
	}
	fail_msg("no %s %s", key, value);
	return NULL;
}

static void test_statement(void **state)
{
	struct bom b;
	char *text, *disp;
	json_t *doc, *subj, *pred, *bd, *rd, *deps, *d, *cmd;

	fill(&b);
	text = intoto_dumps(&b, sha_ev);
	assert_non_null(text);
	doc = tu_json_parse(text);
	assert_string_equal(str(doc, "_type"), "https://in-toto.io/Statement/v1");
	assert_string_equal(str(doc, "predicateType"), "https://slsa.dev/provenance/v1");

	/* Subjects: hashed outputs only, bom.json's order and digests. */
	subj = json_object_get(doc, "subject");
	assert_int_equal(json_array_size(subj), 3);
	assert_string_equal(str(json_array_get(subj, 0), "name"), "/home/u/proj/ckpt.pt");
	assert_string_equal(str(json_array_get(subj, 1), "name"), "/out/metrics.json");
	assert_string_equal(str(json_array_get(subj, 2), "name"), "/out/model.safetensors");
	assert_string_equal(sha(json_array_get(subj, 2)), sha_model);
	assert_string_equal(sha(json_array_get(subj, 1)), sha_data);

	pred = json_object_get(doc, "predicate");
	bd = json_object_get(pred, "buildDefinition");
	assert_string_equal(str(bd, "buildType"), INTOTO_BUILD_TYPE);
	cmd = json_object_get(json_object_get(bd, "externalParameters"), "command");
	assert_int_equal(json_array_size(cmd), 3);
	assert_string_equal(json_string_value(json_array_get(cmd, 2)), "--name=%FE");
	assert_string_equal(str(json_object_get(bd, "externalParameters"), "cwd"), "/home/u/proj");
	assert_string_equal(str(json_object_get(bd, "internalParameters"), "backend"),
			    "tracepoint");
	assert_string_equal(
	    str(json_object_get(json_object_get(bd, "internalParameters"), "host"), "hostname"),
	    "gpu01");
	assert_true(
	    json_is_true(json_object_get(json_object_get(bd, "internalParameters"), "attested")));

	/* Dependencies: everything read, executed or loaded; never a write-only output. */
	deps = json_object_get(bd, "resolvedDependencies");
	assert_int_equal(json_array_size(deps), 6);
	disp = bom_display_name(bad_name);
	d = find_by(deps, "name", disp);
	free(disp);
	assert_string_equal(str(d, "uri"), "file:///data/raw%20%FF%0Arows%20100%25.csv");
	assert_string_equal(sha(d), sha_data);
	assert_string_equal(str(json_object_get(d, "annotations"), "category"), "dataset");
	assert_string_equal(str(json_object_get(d, "annotations"), "ima"), "match");
	assert_string_equal(sha(find_by(deps, "uri", "file:///usr/lib/libtorch.so")), sha_so);
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_object_get(find_by(deps, "uri", "file:///usr/lib/libtorch.so"),
						"annotations"),
				"roles"),
		0)),
	    "library");
	assert_string_equal(sha(find_by(deps, "uri", "file:///usr/bin/python3.11")), sha_so);
	assert_string_equal(sha(find_by(deps, "uri", "file:///home/u/proj/train.py")), sha_py);
	assert_string_equal(sha(find_by(deps, "uri", "file:///home/u/proj/ckpt.pt")), sha_model);
	/* Not hashed: no digest, and the reason. */
	d = find_by(deps, "uri", "file:///tmp/unreadable");
	assert_null(json_object_get(d, "digest"));
	assert_string_equal(str(json_object_get(d, "annotations"), "status"),
			    "unreadable: Permission denied");

	rd = json_object_get(pred, "runDetails");
	assert_string_equal(str(json_object_get(rd, "builder"), "id"),
			    "https://aicert.dev/aicert-trace@" AICERT_VERSION);
	assert_string_equal(str(json_object_get(rd, "metadata"), "invocationId"), b.run.id);
	assert_string_equal(str(json_object_get(rd, "metadata"), "startedOn"), b.run.started);
	assert_string_equal(str(json_object_get(rd, "metadata"), "finishedOn"), b.run.finished);
	d = json_array_get(json_object_get(rd, "byproducts"), 0);
	assert_string_equal(str(d, "name"), "events.cel");
	/* Lowercased, as in-toto digests are. */
	assert_string_equal(sha(d),
			    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	json_decref(doc);
	free(text);
	bom_free(&b);
}

static void test_write_and_options(void **state)
{
	struct bom b;
	char dir[] = "/tmp/aicert-test-intoto.XXXXXX", file[64];
	char *text;
	json_t *doc, *rd;
	json_error_t e;

	fill(&b);
	/* No event log digest: no byproducts. */
	text = intoto_dumps(&b, NULL);
	assert_non_null(text);
	doc = tu_json_parse(text);
	rd = json_object_get(json_object_get(doc, "predicate"), "runDetails");
	assert_null(json_object_get(rd, "byproducts"));
	json_decref(doc);
	free(text);
	/* A malformed digest is refused, not written. */
	errno = 0;
	assert_null(intoto_dumps(&b, "abc"));
	assert_int_equal(errno, EINVAL);
	assert_null(
	    intoto_dumps(&b, "zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/provenance.intoto.json", dir);
	assert_int_equal(intoto_write(&b, file, sha_ev), 0);
	doc = json_load_file(file, 0, &e);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(doc, "subject")), 3);
	json_decref(doc);
	assert_int_equal(intoto_write(&b, file, "bad"), -EINVAL);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
	bom_free(&b);

	/* An empty BOM still gives a well-formed statement. */
	bom_init(&b);
	text = intoto_dumps(&b, NULL);
	assert_non_null(text);
	doc = tu_json_parse(text);
	assert_int_equal(json_array_size(json_object_get(doc, "subject")), 0);
	json_decref(doc);
	free(text);
	bom_free(&b);
}

/* intoto_render is a function of its arguments: aicert-verify regenerates it byte for byte. */
static void test_render(void **state)
{
	struct bom b;
	char *a, *c;
	json_t *doc, *builder;

	fill(&b);
	a = intoto_render(&b, sha_ev, "9.9.9");
	c = intoto_render(&b, sha_ev, "9.9.9");
	assert_non_null(a);
	assert_non_null(c);
	assert_string_equal(a, c);
	assert_ptr_equal(strchr(a, '\n'), a + strlen(a) - 1); /* one line */
	doc = tu_json_parse(a);
	builder = json_object_get(json_object_get(json_object_get(doc, "predicate"), "runDetails"),
				  "builder");
	assert_string_equal(json_string_value(json_object_get(builder, "id")),
			    INTOTO_BUILDER_ID_PREFIX "9.9.9");
	json_decref(doc);
	errno = 0;
	assert_null(intoto_render(&b, sha_ev, NULL));
	assert_int_equal(errno, EINVAL);
	free(a);
	free(c);
	bom_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_statement),
	    cmocka_unit_test(test_write_and_options),
	    cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
