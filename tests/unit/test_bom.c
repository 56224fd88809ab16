// SPDX-License-Identifier: BSD-2-Clause
/* test_bom.c - bom.json: round trips (non-UTF-8 names included) and strict rejection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/bom.h"
#include "testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
	return tu_mkdtemp(tmpdir, "bom");
}

static int teardown(void **state)
{
	return tu_rmrf(tmpdir);
}

static const char sha_a[] = TU_SHA256_ABC;
static const char sha_b[] = TU_SHA256_EMPTY;

/* Names that are not UTF-8, or hold newlines, spaces, quotes and '%'. */
static const char weird1[] = "/data/new\nline and space \xff\xfe.csv";
static const char weird2[] = "/data/100%\xc3(bad continuation)";
static const char weird3[] = "/data/\xed\xa0\x80surrogate";
static const char utf8ok[] = "/data/caf\xc3\xa9 \"quoted\" 100%\ttab.csv";

static void fill(struct bom *b)
{
	static char *const argv[] = {"python3", "train.py", "--lr=0.1", "\xff\x01arg", "50%"};
	struct bom_file *f;

	bom_init(b);
	b->run.id = strdup("3f2a");
	assert_int_equal(bom_set_command(b, argv, 5), 0);
	b->run.cwd = strdup("/home/u/\x80proj");
	b->run.exit_code = -1;
	b->run.signal = 9;
	b->run.started = strdup("2026-11-25T18:00:00Z");
	b->run.finished = strdup("2026-11-25T18:05:00.123456Z");
	b->run.backend = strdup("lsm");
	b->run.events_lost = 3;
	b->run.paths_truncated = 1;
	b->run.complete = 0;
	b->run.detached = 1;
	b->host.hostname = strdup("gpu01");
	b->host.kernel = strdup("6.1.0-13-amd64");
	b->host.boot_id = strdup("b0e1");
	b->host.tpm = strdup("none (unattested)");
	b->attested = 0;
	/* added out of order: the writer sorts */
	f = bom_add_file(b, "/out/model.pt", sha_b);
	f->roles = BOM_ROLE_OUTPUT;
	f->size = 1 << 20;
	f->category = strdup("model");
	f->ima = BOM_IMA_MATCH;
	f = bom_add_file(b, weird1, sha_a);
	f->roles = BOM_ROLE_INPUT;
	f->size = 42;
	f->category = strdup("dataset");
	f->ima = BOM_IMA_ABSENT;
	f = bom_add_file(b, "/out/model.pt", sha_a); /* same path, two versions */
	f->roles = BOM_ROLE_INPUT | BOM_ROLE_OUTPUT;
	f->category = strdup("model");
	f = bom_add_file(b, weird2, NULL);
	f->status = strdup("vanished");
	f->ima = BOM_IMA_MISMATCH;
	f = bom_add_file(b, weird3, NULL);
	f->status = strdup("unreadable: Permission denied");
	f = bom_add_file(b, utf8ok, sha_a);
	f->roles = BOM_ROLE_EXECUTABLE | BOM_ROLE_LIBRARY | BOM_ROLE_INPUT;
	f->category = NULL;
	f = bom_add_file(b, "/lib64/ld-linux-x86-64.so.2", sha_b);
	f->roles = BOM_ROLE_LIBRARY;
	f->category = strdup("library");
	f->derived = BOM_DERIVED_ELF_INTERP;
}

static int cmp_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int cmp_file(const struct bom_file *x, const struct bom_file *y)
{
	return !strcmp(x->path, y->path) && !strcmp(x->sha256, y->sha256) && x->size == y->size &&
	       x->roles == y->roles && cmp_str(x->category, y->category) && x->ima == y->ima &&
	       cmp_str(x->status, y->status) && x->derived == y->derived;
}

static void test_round_trip(void **state)
{
	struct bom a, b;
	char path[128], err[256] = "";
	char *t1, *t2;

	fill(&a);
	snprintf(path, sizeof(path), "%s/bom.json", tmpdir);
	assert_int_equal(bom_write(&a, path), 0);
	bom_init(&b);
	if (bom_read(&b, path, err, sizeof(err)))
		fail_msg("%s", err);

	assert_string_equal(b.run.id, "3f2a");
	assert_int_equal(b.run.argc, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(b.run.command[i], a.run.command[i]);
	assert_string_equal(b.run.cwd, a.run.cwd);
	assert_int_equal(b.run.exit_code, -1);
	assert_int_equal(b.run.signal, 9);
	assert_string_equal(b.run.started, a.run.started);
	assert_string_equal(b.run.finished, a.run.finished);
	assert_string_equal(b.run.backend, "lsm");
	assert_int_equal(b.run.events_lost, 3);
	assert_int_equal(b.run.paths_truncated, 1);
	assert_int_equal(b.run.complete, 0);
	assert_int_equal(b.run.detached, 1);
	assert_string_equal(b.host.hostname, "gpu01");
	assert_string_equal(b.host.tpm, "none (unattested)");
	assert_int_equal(b.attested, 0);
	assert_int_equal(b.nfiles, a.nfiles);
	/* Every file comes back exactly, in (path, sha256) byte order. */
	for (size_t i = 0; i < b.nfiles; i++) {
		size_t j;

		if (i > 0) {
			int c = strcmp(b.files[i - 1].path, b.files[i].path);

			assert_true(c < 0 || (c == 0 && strcmp(b.files[i - 1].sha256,
							       b.files[i].sha256) < 0));
		}
		for (j = 0; j < a.nfiles && !cmp_file(&a.files[j], &b.files[i]); j++)
			;
		if (j == a.nfiles)
			fail_msg("file %zu (%s) did not round-trip", i, b.files[i].path);
	}
	/* Writing what was read gives the same bytes: the text is canonical. */
	t1 = bom_dumps(&a);
	t2 = bom_dumps(&b);
	assert_non_null(t1);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	bom_free(&a);
	bom_free(&b);
	bom_free(NULL);
}

static void test_encoding(void **state)
{
	struct bom a;
	char *t;

	fill(&a);
	t = bom_dumps(&a);
	assert_non_null(t);
	/* Lossless without replacement characters, invalid bytes shown as %XX. */
	assert_null(strstr(t, "\\ufffd"));
	assert_null(strstr(t, "\xef\xbf\xbd"));
	assert_non_null(strstr(t, "\"path\": \"/data/new\\nline and space %FF%FE.csv\""));
	assert_non_null(strstr(t, "\"path_b64\": \""));
	assert_non_null(strstr(t, "\"path\": \"/data/100%25%C3(bad continuation)\""));
	assert_non_null(strstr(t, "\"path\": \"/data/%ED%A0%80surrogate\""));
	/* Valid UTF-8 is kept as is, '%' included, with no _b64 twin. */
	assert_non_null(strstr(t, "\"path\": \"/data/caf\xc3\xa9 \\\"quoted\\\" 100%\\ttab.csv\""));
	assert_non_null(strstr(t, "\"cwd\": \"/home/u/%80proj\""));
	assert_non_null(strstr(t, "\"cwd_b64\": \"L2hvbWUvdS+AcHJvag==\""));
	assert_non_null(strstr(t, "\"command_b64\": ["));
	assert_non_null(strstr(t, "\"50%25\""));
	assert_non_null(strstr(t, "\"schema\": \"aicert.bom/v1\""));
	assert_non_null(strstr(t, "\"sha256\": null"));
	assert_non_null(strstr(t, "\"roles\": [\n        \"input\",\n        \"executable\",\n"
				  "        \"library\"\n      ]"));
	free(t);
	bom_free(&a);
}

static void test_plain_document(void **state)
{
	struct bom a, b;
	char *t, err[256];

	bom_init(&a);
	t = bom_dumps(&a);
	assert_non_null(t);
	/* Unset strings are null; no _b64 keys for plain data. */
	assert_non_null(strstr(t, "\"id\": null"));
	assert_null(strstr(t, "_b64"));
	bom_init(&b);
	if (bom_loads(&b, t, strlen(t), err, sizeof(err)))
		fail_msg("%s", err);
	assert_null(b.run.id);
	assert_int_equal(b.nfiles, 0);
	assert_int_equal(b.run.argc, 0);
	free(t);
	bom_free(&a);
	bom_free(&b);
}

/* "job": written only for a job step's run, read back equal; a node outside its step's list, an
 * unknown key or a missing one is refused. */
static void test_job(void **state)
{
	struct bom a, b;
	char *t, *bad, err[256];
	char *p;

	bom_init(&a);
	t = bom_dumps(&a);
	assert_null(strstr(t, "\"job\""));
	free(t);
	assert_int_equal(hostlist_expand("gpu[01-02]", &a.job.nodes, &a.job.n_nodes, NULL), 0);
	a.job.scheduler = strdup("slurm");
	a.job.id = strdup("4242");
	a.job.step = strdup("batch");
	a.job.node = strdup("gpu02");
	t = bom_dumps(&a);
	assert_non_null(strstr(t, "\"job\": {"));
	bom_init(&b);
	if (bom_loads(&b, t, strlen(t), err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(job_equal(&a.job, &b.job));
	bom_free(&b);

	bad = strdup(t);
	p = strstr(bad, "\"node\": \"gpu02\"");
	assert_non_null(p);
	memcpy(p, "\"node\": \"gpu09\"", 15);
	assert_int_equal(bom_loads(&b, bad, strlen(bad), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not among the step's nodes"));
	memcpy(p, "\"nods\"", 6);
	assert_int_equal(bom_loads(&b, bad, strlen(bad), err, sizeof(err)), -1);
	free(bad);
	free(t);
	bom_free(&a);
}

static void test_add_file(void **state)
{
	struct bom b;
	struct bom_file *f;

	bom_init(&b);
	assert_null(bom_add_file(&b, "/x", "abc"));
	assert_null(bom_add_file(
	    &b, "/x", "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	f = bom_add_file(&b, "/x",
			 "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
	assert_non_null(f);
	assert_string_equal(f->sha256, sha_a);
	f = bom_add_file(&b, "/y", NULL);
	assert_string_equal(f->sha256, "");
	assert_int_equal(f->ima, BOM_IMA_UNAVAILABLE);
	assert_null(f->status);
	for (int i = 0; i < 1000; i++)
		assert_non_null(bom_add_file(&b, "/z", sha_b));
	assert_int_equal(b.nfiles, 1002);
	bom_free(&b);
	assert_int_equal(b.nfiles, 0);
}

static void test_ima_names(void **state)
{
	for (int v = BOM_IMA_UNAVAILABLE; v <= BOM_IMA_ABSENT; v++)
		assert_int_equal(bom_ima_parse(bom_ima_name(v)), v);
	assert_string_equal(bom_ima_name(BOM_IMA_MATCH), "match");
	assert_int_equal(bom_ima_parse("Match"), -1);
	assert_int_equal(bom_ima_parse(NULL), -1);
}

/* A valid document with one file; each bad case replaces one fragment of it. */
static const char good[] =
    "{\"schema\": \"aicert.bom/v1\", \"run\": {\"id\": \"r\", \"command\": [\"a\"], "
    "\"cwd\": \"/\", \"exit_code\": 0, \"signal\": 0, \"started\": \"2026-01-01T00:00:00Z\", "
    "\"finished\": null, \"backend\": \"lsm\", \"events_lost\": 0, \"paths_truncated\": 0, "
    "\"complete\": true, \"detached\": false}, \"host\": {\"hostname\": \"h\", \"kernel\": "
    "\"k\", \"boot_id\": \"b\", \"tpm\": \"t\"}, \"attested\": true, \"files\": [{\"path\": "
    "\"/f\", \"sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\", "
    "\"size\": 3, \"roles\": [\"input\"], \"category\": \"code\", \"ima\": \"match\"}]}";

static void expect_bad(const char *from, const char *to, const char *want)
{
	char *doc = malloc(sizeof(good) + strlen(to) + 1), err[256] = "";
	const char *at = strstr(good, from);
	struct bom b;

	assert_non_null(at);
	sprintf(doc, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	bom_init(&b);
	if (bom_loads(&b, doc, strlen(doc), err, sizeof(err)) == 0)
		fail_msg("accepted: %s", doc);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	assert_int_equal(b.nfiles, 0);
	assert_null(b.run.id);
	free(doc);
}

static void test_strict(void **state)
{
	struct bom b;
	char err[256] = "";

	bom_init(&b);
	if (bom_loads(&b, good, strlen(good), err, sizeof(err)))
		fail_msg("the good document was rejected: %s", err);
	assert_int_equal(b.nfiles, 1);
	bom_free(&b);

	expect_bad("aicert.bom/v1", "aicert.bom/v2", "schema");
	expect_bad("\"attested\": true", "\"attested\": 1", "bom.attested: not a boolean");
	expect_bad("\"attested\": true, ", "", "bom: missing \"attested\"");
	expect_bad("\"attested\": true", "\"attested\": true, \"extra\": 1",
		   "unknown key \"extra\"");
	expect_bad("\"size\": 3", "\"size\": -3", "files[0].size: not a non-negative integer");
	expect_bad("\"size\": 3", "\"size\": \"3\"", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": 3.0", "files[0].size");
	expect_bad("\"ba7816", "\"BA7816", "files[0].sha256");
	expect_bad("15ad\"", "15a\"", "files[0].sha256");
	expect_bad("[\"input\"]", "[\"inptu\"]", "files[0].roles[0]");
	expect_bad("[\"input\"]", "[\"input\", \"input\"]", "twice");
	expect_bad("\"input\"]", "\"input\"], \"roles\": []", "duplicate");
	expect_bad("\"match\"", "\"maybe\"", "files[0].ima");
	expect_bad("\"match\"", "\"match\", \"derived\": \"guessed\"", "files[0].derived");
	expect_bad("\"match\"", "\"match\", \"derived\": null", "files[0].derived");
	expect_bad("\"path\": \"/f\"", "\"path\": \"\"", "files[0].path: empty");
	expect_bad("\"path\": \"/f\"", "\"path\": 7", "files[0].path: not a string");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/f\\u0000x\"", "line");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/%ff\", \"path_b64\": \"L/8=\"",
		   "does not match files[0].path_b64"); /* the display form is upper case */
	expect_bad("\"path\": \"/f\"", "\"path\": \"/f\", \"path_b64\": \"L2Y=\"",
		   "present although the value is valid UTF-8");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/%FF\", \"path_b64\": \"L/8\"", "not base64");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/%FF\", \"path_b64\": \"L/9=\"",
		   "not base64"); /* non-canonical padding bits */
	expect_bad("\"path\": \"/f\"", "\"path\": \"/%00\", \"path_b64\": \"LwA=\"", "not base64");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/%FE\", \"path_b64\": \"L/8=\"",
		   "does not match files[0].path_b64");
	expect_bad("\"exit_code\": 0", "\"exit_code\": -2", "run.exit_code");
	expect_bad("\"exit_code\": 0", "\"exit_code\": 4294967296", "run.exit_code");
	expect_bad("\"signal\": 0", "\"signal\": -1", "run.signal");
	expect_bad("\"complete\": true", "\"complete\": \"yes\"", "run.complete");
	expect_bad("\"command\": [\"a\"]", "\"command\": \"a\"", "run.command: not an array");
	expect_bad("\"command\": [\"a\"]", "\"command\": [1]", "run.command[0]");
	expect_bad("\"command\": [\"a\"]", "\"command\": [\"a\"], \"command_b64\": [\"YQ==\"]",
		   "present although every argument is UTF-8");
	expect_bad("\"command\": [\"a\"]", "\"command\": [\"%FF\"], \"command_b64\": []",
		   "not an array as long as run.command");
	expect_bad("\"command\": [\"a\"]", "\"command\": [\"%FE\"], \"command_b64\": [\"/w==\"]",
		   "run.command[0]: does not match");
	expect_bad("2026-01-01T00:00:00Z", "2026-01-01 00:00:00", "RFC 3339");
	expect_bad("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "RFC 3339");
	expect_bad("\"hostname\": \"h\"", "\"hostname\": [\"h\"]", "host.hostname");
	expect_bad("\"tpm\": \"t\"", "\"tpm\": \"t\", \"pcr\": 15", "host: unknown key \"pcr\"");
	expect_bad("\"files\": [", "\"files\": {\"a\": [", "line");
	expect_bad("\"files\": [{", "\"files\": [7, {", "files[0]: not an object");
	expect_bad("{\"path\"", "{\"sha256\": null, \"path\"", "duplicate");
	expect_bad("\"events_lost\": 0", "\"events_lost\": null", "run.events_lost");
	expect_bad("\"run\": {", "\"run\": [{", "line");
	expect_bad("{\"schema\"", "[{\"schema\"", "line");
}

/* good with one fragment replaced; must be accepted. */
static void expect_good(const char *from, const char *to, struct bom *b)
{
	char *doc = malloc(sizeof(good) + strlen(to) + 1), err[256] = "";
	const char *at = strstr(good, from);

	assert_non_null(at);
	sprintf(doc, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	bom_init(b);
	if (bom_loads(b, doc, strlen(doc), err, sizeof(err)))
		fail_msg("rejected: %s: %s", doc, err);
	free(doc);
}

static void test_escapes(void **state)
{
	struct bom b;

	/* \uXXXX, a surrogate pair, every short escape; the bytes are what the path holds. */
	expect_good("\"path\": \"/f\"",
		    "\"path\": \"/\\u0066\\u00e9\\u20ac\\ud83d\\ude00 \\\"\\\\\\/\\b\\f\\n\\r\\t\"",
		    &b);
	assert_string_equal(b.files[0].path,
			    "/f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \"\\/\b\f\n\r\t");
	bom_free(&b);
	/* Upper- and lower-case hex digits; raw UTF-8 as is. */
	expect_good("\"path\": \"/f\"", "\"path\": \"/\\u00C9\\u00e9\xc3\xa9\"", &b);
	assert_string_equal(b.files[0].path, "/\xc3\x89\xc3\xa9\xc3\xa9");
	bom_free(&b);
	/* Escaped key names are the same keys. */
	expect_good("\"path\": \"/f\"", "\"p\\u0061th\": \"/f\"", &b);
	assert_string_equal(b.files[0].path, "/f");
	bom_free(&b);

	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\ud83d\"", "line 1");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\ud83dx\"", "surrogate");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\ud83d\\u0041\"", "surrogate");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\ude00\\ud83d\"", "surrogate");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\u00\"", "invalid escape");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\u00g0\"", "invalid escape");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\x41\"", "invalid escape");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\U0041\"", "invalid escape");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\'\"", "invalid escape");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\\u0000\"", "\\u0000");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\tx\"", "control character");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\nx\"", "control character");
	/* Raw bytes that are not UTF-8 (names that are not go through path_b64). */
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\xff\"", "invalid UTF-8");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\xc3\"", "invalid UTF-8");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\xc0\xaf\"", "invalid UTF-8");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\xed\xa0\x80\"", "invalid UTF-8");
	expect_bad("\"path\": \"/f\"", "\"path\": \"/\xf4\x90\x80\x80\"", "invalid UTF-8");
	expect_bad("\"path\": \"/f\"", "\"pa\xffth\": \"/f\"", "invalid UTF-8");
}

static void test_numbers(void **state)
{
	struct bom b;

	expect_good("\"size\": 3", "\"size\": 9223372036854775807", &b);
	assert_true(b.files[0].size == INT64_MAX);
	bom_free(&b);
	expect_good("\"size\": 3", "\"size\": -0", &b); /* JSON's -0 is the integer 0 */
	assert_int_equal(b.files[0].size, 0);
	bom_free(&b);
	expect_good("\"exit_code\": 0", "\"exit_code\": 2147483647", &b);
	assert_int_equal(b.run.exit_code, INT32_MAX);
	bom_free(&b);
	expect_good("\"exit_code\": 0", "\"exit_code\": -1", &b);
	assert_int_equal(b.run.exit_code, -1);
	bom_free(&b);

	expect_bad("\"size\": 3", "\"size\": 9223372036854775808", "too big integer");
	expect_bad("\"size\": 3", "\"size\": 99999999999999999999999", "too big integer");
	expect_bad("\"size\": 3", "\"size\": -9223372036854775809", "too big negative integer");
	expect_bad("\"size\": 3", "\"size\": -9223372036854775808", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": 3e0", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": 3E+2", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": 30e-1", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": 1e999", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": -0.0", "files[0].size");
	expect_bad("\"size\": 3", "\"size\": 03", "invalid token");
	expect_bad("\"size\": 3", "\"size\": +3", "invalid token");
	expect_bad("\"size\": 3", "\"size\": .3", "invalid token");
	expect_bad("\"size\": 3", "\"size\": 3.", "invalid token");
	expect_bad("\"size\": 3", "\"size\": 3e", "invalid token");
	expect_bad("\"size\": 3", "\"size\": 3e+", "invalid token");
	expect_bad("\"size\": 3", "\"size\": -", "invalid token");
	expect_bad("\"size\": 3", "\"size\": 3x", "line 1");
	expect_bad("\"size\": 3", "\"size\": 0x10", "line 1");
	expect_bad("\"size\": 3", "\"size\": NaN", "line 1");
	expect_bad("\"size\": 3", "\"size\": Infinity", "line 1");
	expect_bad("\"exit_code\": 0", "\"exit_code\": 2147483648", "run.exit_code");
	expect_bad("\"exit_code\": 0", "\"exit_code\": -9223372036854775808", "run.exit_code");
	expect_bad("\"signal\": 0", "\"signal\": 1.5", "run.signal");
	expect_bad("\"events_lost\": 0", "\"events_lost\": -1", "run.events_lost");
	expect_bad("\"attested\": true", "\"attested\": tru", "invalid token");
	expect_bad("\"attested\": true", "\"attested\": True", "line 1");
	expect_bad("\"finished\": null", "\"finished\": nul", "invalid token");
	expect_bad("\"finished\": null", "\"finished\": nullnull", "line 1");
}

static void test_structure(void **state)
{
	/* Keys in any order, every JSON whitespace between every token, none at all. */
	static const char reordered[] =
	    "\r\n\t {\"files\":[{\"ima\":\"absent\",\"category\":null,\"roles\":[],\"size\":0,"
	    "\"sha256\":null,\"path\":\"/x\",\"status\":\"vanished\"}],\"attested\":false,"
	    "\"host\"\t:\n{\"tpm\":null,\"boot_id\":null,\"kernel\":null,\"hostname\":null},"
	    "\"run\":{\"detached\":false,\"complete\":true,\"paths_truncated\":0,"
	    "\"events_lost\":0,\"backend\":null,\"finished\":null,\"started\":null,"
	    "\"signal\":0,\"exit_code\":0,\"cwd\":null,\"command\":[],\"id\":null},"
	    "\"schema\"\r:\r\"aicert.bom/v1\"} \n\t\r";
	static const char *const junk[] = {"\f", "\v", "\xc2\xa0", "/* */", "x", ",", "{}", "\"\""};
	struct bom b;
	char err[256] = "", doc[2048];

	bom_init(&b);
	if (bom_loads(&b, reordered, strlen(reordered), err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(b.nfiles, 1);
	assert_string_equal(b.files[0].status, "vanished");
	bom_free(&b);
	/* Trailing bytes other than whitespace, or whitespace JSON does not have. */
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(doc, sizeof(doc), "%s%s", good, junk[i]);
		assert_int_equal(bom_loads(&b, doc, strlen(doc), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "line 1"));
		snprintf(doc, sizeof(doc), "%s%s", junk[i], good);
		assert_int_equal(bom_loads(&b, doc, strlen(doc), err, sizeof(err)), -1);
	}
	/* A NUL byte anywhere (bom_loads takes a length, not a C string). */
	memcpy(doc, good, sizeof(good));
	doc[30] = '\0';
	assert_int_equal(bom_loads(&b, doc, sizeof(good) - 1, err, sizeof(err)), -1);
	assert_int_equal(bom_loads(&b, good, sizeof(good), err, sizeof(err)), -1);

	expect_bad("{\"schema\"", "[{\"schema\"", "line"); /* broken JSON beats the schema */
	expect_bad("\"match\"}]}", "\"match\"}]]", "line");
	expect_bad("\"attested\": true", "\"attested\": true,", "line");
	expect_bad("\"input\"]", "\"input\",]", "line");
	expect_bad("\"input\"]", "\"input\" \"output\"]", "line");
	expect_bad("[\"input\"]", "[,\"input\"]", "line");
	expect_bad("\"size\": 3", "\"size\" 3", "':' expected");
	expect_bad("\"size\": 3", "\"size\":: 3", "line");
	expect_bad("\"size\": 3", "size: 3", "line");
	expect_bad("\"size\": 3", "'size': 3", "line");
	/* Nested values have no place in the schema, deep or not, and do not exhaust the stack. */
	expect_bad("\"attested\": true", "\"attested\": [[true]]", "bom.attested: not a boolean");
	expect_bad("\"attested\": true", "\"attested\": true, \"x\": {\"y\": [[{}]]}",
		   "unknown key \"x\"");
	expect_bad("\"tpm\": \"t\"", "\"tpm\": {\"a\": 1}", "host.tpm: not a string or null");
	expect_bad("\"command\": [\"a\"]", "\"command\": [[\"a\"]]", "run.command[0]");
	expect_bad("\"ima\": \"match\"", "\"ima\": [\"match\"]", "files[0].ima");
	{
		size_t depth = 100000, n = strlen(good);
		char *deep = malloc(n + 2 * depth + 16);
		const char *at = strstr(good, "\"attested\": true") + strlen("\"attested\": ");

		assert_non_null(deep);
		memcpy(deep, good, at - good);
		memset(deep + (at - good), '[', depth);
		memset(deep + (at - good) + depth, ']', depth);
		strcpy(deep + (at - good) + 2 * depth, at + 4);
		assert_int_equal(bom_loads(&b, deep, strlen(deep), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "depth"));
		free(deep);
	}
	/* A schema error early and a syntax error late: the syntax error is reported. */
	expect_bad("\"attested\": true", "\"attested\": 1", "bom.attested: not a boolean");
	expect_bad("\"match\"}]}", "\"match\"}]", "premature end of input");
	{
		char *doc2 = strdup(good);

		memcpy(strstr(doc2, "true, \"files\""), "1   ", 4);
		doc2[strlen(doc2) - 1] = '\0';
		assert_int_equal(bom_loads(&b, doc2, strlen(doc2), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "premature end of input"));
		free(doc2);
	}
	/* Duplicates in every object. */
	expect_bad("\"schema\"", "\"files\": [], \"schema\"", "duplicate");
	expect_bad("\"id\": \"r\"", "\"id\": \"r\", \"id\": null", "duplicate");
	expect_bad("\"tpm\": \"t\"", "\"tpm\": \"t\", \"t\\u0070m\": \"t\"", "duplicate");
	expect_bad("\"ima\": \"match\"", "\"ima\": \"match\", \"size\": 3", "duplicate");
	/* Missing members of each object. */
	expect_bad("\"tpm\": \"t\"", "\"tpm2\": \"t\"", "unknown key \"tpm2\"");
	expect_bad(", \"tpm\": \"t\"", "", "host: missing \"tpm\"");
	expect_bad("\"id\": \"r\", ", "", "run: missing \"id\"");
	expect_bad("\"size\": 3, ", "", "files[0]: missing \"size\"");
	expect_bad("\"files\": [{", "\"files\": [{}, {", "files[0]: missing \"path\"");
	expect_bad("\"run\": {", "\"run\": 1, \"x\": {", "run: not an object");
	expect_bad("\"host\": {", "\"host\": null, \"x\": {", "host: not an object");
	expect_bad("\"files\": [", "\"files\": null, \"x\": [", "files: not an array");
	expect_bad("\"roles\": [\"input\"]", "\"roles\": \"input\"",
		   "files[0].roles: not an array");
	expect_bad("[\"input\"]", "[null]", "files[0].roles[0]");
	expect_bad("\"ima\": \"match\"", "\"ima\": \"match\", \"status\": null", "files[0].status");
	expect_bad("\"ima\": \"match\"", "\"ima\": \"match\", \"path_b64\": 1",
		   "files[0].path_b64");
	expect_bad("\"cwd\": \"/\"", "\"cwd\": null, \"cwd_b64\": \"/w==\"",
		   "present although cwd is null");
	expect_bad("\"cwd\": \"/\"", "\"cwd\": \"%FF\", \"cwd_b64\": 7", "run.cwd_b64");
	expect_bad("\"command\": [\"a\"]", "\"command\": [\"%FF\"], \"command_b64\": [7]",
		   "run.command_b64[0]");
	expect_bad("\"command\": [\"a\"]", "\"command\": [\"%FF\"], \"command_b64\": \"/w==\"",
		   "run.command_b64");
	expect_bad("2026-01-01T00:00:00Z", "2026-+1-01T00:00:00Z", "RFC 3339");
	expect_bad("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.Z", "RFC 3339");
	expect_bad("2026-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "RFC 3339");
	expect_bad("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Zx", "RFC 3339");
	expect_bad("2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "RFC 3339");
}

/* Every proper prefix of a document (pretty or not, with escapes) is rejected, with a reason. */
static void test_truncation(void **state)
{
	struct bom a, b;
	char err[256];
	char *t;
	size_t n;

	fill(&a);
	t = bom_dumps(&a);
	assert_non_null(t);
	n = strlen(t);
	bom_init(&b);
	assert_int_equal(bom_loads(&b, t, n, err, sizeof(err)), 0);
	assert_int_equal(bom_loads(&b, t, n - 1, err, sizeof(err)), 0); /* the final newline */
	for (size_t i = 0; i + 1 < n; i++) {
		err[0] = '\0';
		if (bom_loads(&b, t, i, err, sizeof(err)) == 0)
			fail_msg("the first %zu bytes were accepted", i);
		assert_true(err[0] != '\0');
		assert_int_equal(b.nfiles, 0);
	}
	for (size_t i = 0; i + 1 < sizeof(good); i++)
		assert_int_equal(bom_loads(&b, good, i, err, sizeof(err)), -1);
	free(t);
	bom_free(&a);
}

/* Many files, all their fields, and the writer's own text: read back exactly. */
static void test_many_files(void **state)
{
	struct bom a, b;
	char path[64], err[256];
	char *t1, *t2;

	bom_init(&a);
	for (unsigned i = 0; i < 20000; i++) {
		struct bom_file *f;

		snprintf(path, sizeof(path), "/d/%05u%s", i, i % 7 ? "" : "\xff\n%");
		f = bom_add_file(&a, path, i % 5 ? sha_a : NULL);
		assert_non_null(f);
		f->size = (uint64_t)i * 4294967311u;
		f->roles = i % 16;
		f->ima = (enum bom_ima)(i % 4);
		f->category = i % 3 ? strdup(i % 2 ? "code" : "dataset") : NULL;
		f->status = i % 5 ? NULL : strdup("unreadable: Permission denied");
	}
	t1 = bom_dumps(&a);
	assert_non_null(t1);
	bom_init(&b);
	if (bom_loads(&b, t1, strlen(t1), err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(b.nfiles, 20000);
	for (unsigned i = 0; i < 20000; i++)
		assert_true(cmp_file(&a.files[i], &b.files[i])); /* added in order: no sort */
	t2 = bom_dumps(&b);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	bom_free(&a);
	bom_free(&b);
}

static void test_command_b64_good(void **state)
{
	/* A valid argument next to an invalid one is its own display form, '%' escaped. */
	static const char doc_fmt[] =
	    "{\"schema\": \"aicert.bom/v1\", \"run\": {\"id\": null, \"command\": [\"a%%25\", "
	    "\"%%FF\"], \"command_b64\": [\"YSU=\", \"/w==\"], \"cwd\": null, \"exit_code\": 0, "
	    "\"signal\": 0, \"started\": null, \"finished\": null, \"backend\": null, "
	    "\"events_lost\": 0, \"paths_truncated\": 0, \"complete\": true, \"detached\": "
	    "false}, \"host\": {\"hostname\": null, \"kernel\": null, \"boot_id\": null, "
	    "\"tpm\": null}, \"attested\": false, \"files\": []}";
	char doc[1024], err[256] = "";
	struct bom b;

	snprintf(doc, sizeof(doc), doc_fmt);
	bom_init(&b);
	if (bom_loads(&b, doc, strlen(doc), err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(b.run.argc, 2);
	assert_string_equal(b.run.command[0], "a%");
	assert_string_equal(b.run.command[1], "\xff");
	bom_free(&b);
}

static void test_read_errors(void **state)
{
	struct bom b;
	char err[256] = "", path[128];
	FILE *f;

	bom_init(&b);
	assert_int_equal(bom_read(&b, "/nonexistent/bom.json", err, sizeof(err)), -1);
	assert_string_equal(err, "cannot open /nonexistent/bom.json: No such file or directory");
	assert_int_equal(bom_read(&b, tmpdir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/trunc.json", tmpdir);
	f = fopen(path, "w");
	fputs(good, f);
	fseek(f, -5, SEEK_END);
	fputs("\n", f);
	fclose(f);
	truncate(path, sizeof(good) - 5);
	assert_int_equal(bom_read(&b, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(bom_write(&b, "/nonexistent/dir/bom.json"), -ENOENT);
}

/* run.cgroup and run.incomplete_reason: written only when set, read back; wrong types refused. */
static void test_run_optional_fields(void **state)
{
	struct bom a, b;
	char *t, *bad, err[256];

	bom_init(&a);
	t = bom_dumps(&a);
	assert_null(strstr(t, "cgroup"));
	assert_null(strstr(t, "incomplete_reason"));
	free(t);
	a.run.cgroup = strdup("/system.slice/slurmstepd.scope/job_7/step_0");
	a.run.incomplete_reason = strdup("monitor restarted");
	t = bom_dumps(&a);
	assert_non_null(strstr(t, "\"cgroup\": \"/system.slice/slurmstepd.scope/job_7/step_0\""));
	assert_non_null(strstr(t, "\"incomplete_reason\": \"monitor restarted\""));
	bom_init(&b);
	if (bom_loads(&b, t, strlen(t), err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(b.run.cgroup, "/system.slice/slurmstepd.scope/job_7/step_0");
	assert_string_equal(b.run.incomplete_reason, "monitor restarted");
	bom_free(&b);
	/* a number where the reason's string goes is refused */
	bad = strstr(t, "\"monitor restarted\"");
	memcpy(bad, "17                 ", strlen("\"monitor restarted\""));
	bom_init(&b);
	assert_int_equal(bom_loads(&b, t, strlen(t), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "incomplete_reason"));
	free(t);
	bom_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	     cmocka_unit_test(test_encoding),
	    cmocka_unit_test(test_plain_document),   cmocka_unit_test(test_job),   cmocka_unit_test(test_add_file),
	    cmocka_unit_test(test_ima_names),	     cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_command_b64_good), cmocka_unit_test(test_read_errors),
	    cmocka_unit_test(test_escapes),	     cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_structure),	     cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_many_files),	     cmocka_unit_test(test_run_optional_fields),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
