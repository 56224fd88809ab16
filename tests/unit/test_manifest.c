// SPDX-License-Identifier: BSD-2-Clause
/* test_manifest.c - manifest.json round trip, the aicert-binding/v1 digest, strict parsing and
 * the bundle directory checks. */
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
#include <openssl/sha.h>

#include "lib/hex.h"
#include "lib/manifest.h"
#include "testutil.h"

static const uint8_t nonce[] = {0xa1, 0xb2, 0xc3};

/* Computed independently (Python hashlib) over the text in manifest.h for the bundle that
 * make_bundle() writes: a change here is a change of the binding format. */
#define GOLDEN_BINDING_NONCE "0db7bf2dcad0a8deda151ce06613536781b79a9cb67c3195fc4177e58f65e3a0"
#define GOLDEN_BINDING "28ec6527956fdd786193280e31482bd99a533a2065a78fed9de2c23477f25b40"
/* "aicert-binding/v1\nkind log-quote\nevents.cel <sha256>\npcr 15\nnonce a1b2c3\n" (Python) */
#define GOLDEN_BINDING_LOG_QUOTE "1e814fe76462aaedffb45151c45215b11e56af4b58d4be7b6112d3a131643e23"

static void put(const char *dir, const char *name, const void *data, size_t len)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	tu_write_file(p, data, len);
}

static void put_str(const char *dir, const char *name, const char *s)
{
	put(dir, name, s, strlen(s));
}

static void rm(const char *dir, const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(unlink(p), 0);
}

static int setup(void **state)
{
	char *dir = strdup("/tmp/aicert-test-manifest-XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	put_str(dir, "bom.json", "{\"schema\":\"aicert.bom/v1\"}\n");
	put(dir, "events.cel",
	    "\x00\x01\x02"
	    "cel",
	    6);
	put(dir, "ima.bin", "", 0);
	put_str(dir, "quote.msg", "msg");
	put_str(dir, "quote.sig", "sig");
	put_str(dir, "ak.pub.pem", "pem");
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	int ret = tu_rmrf(*state);

	free(*state);
	return ret;
}

static void binding_hex(const struct manifest *m, char out[65])
{
	uint8_t b[32];

	assert_int_equal(manifest_binding(m, b), 0);
	hex_encode(b, 32, out);
}

static void test_build_round_trip(void **state)
{
	const char *dir = *state;
	struct manifest *m = NULL, *r = NULL;
	char why[MANIFEST_WHY_MAX], p[512], h[65];
	struct stat st;

	assert_int_equal(manifest_build(dir, 15, nonce, sizeof(nonce), &m, why), 0);
	assert_int_equal(m->n_files, 6);
	assert_string_equal(m->files[0].name, "ak.pub.pem");
	assert_string_equal(m->files[5].name, "quote.sig");
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	assert_int_equal(manifest_read(p, &r, why), 0);
	snprintf(p, sizeof(p), "%s/manifest.json.tmp", dir);
	assert_int_not_equal(stat(p, &st), 0);

	assert_int_equal(r->n_files, m->n_files);
	for (size_t i = 0; i < m->n_files; i++) {
		assert_string_equal(r->files[i].name, m->files[i].name);
		assert_memory_equal(r->files[i].sha256, m->files[i].sha256, 32);
		assert_int_equal(r->files[i].size, m->files[i].size);
	}
	assert_int_equal(r->files[1].size, 27); /* bom.json */
	assert_int_equal(r->pcr, 15);
	assert_string_equal(r->pcr_bank, "sha256");
	assert_true(r->has_nonce);
	assert_int_equal(r->nonce_len, 3);
	assert_memory_equal(r->nonce, nonce, 3);
	assert_memory_equal(r->qualifying_data, m->qualifying_data, 32);
	assert_string_equal(r->qualifying_data_of, MANIFEST_BINDING_TEXT);
	hex_encode(r->qualifying_data, 32, h);
	assert_string_equal(h, GOLDEN_BINDING_NONCE);
	assert_int_equal(manifest_check_binding(r, why), 0);
	assert_int_equal(manifest_check_files(dir, r, NULL, NULL), 0);

	/* dump of the parsed manifest is byte-identical to the file */
	char *a = manifest_dump(m), *b = manifest_dump(r);
	assert_non_null(a);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"nonce\": \"a1b2c3\""));
	assert_non_null(strstr(a, "\"schema\": \"aicert.manifest/v1\""));
	free(a);
	free(b);
	manifest_free(m);
	manifest_free(r);
	manifest_free(NULL);
}

/* The binding is exactly the documented text, hashed. */
static void test_binding_documented(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX], h[65], text[1024], fh[65];
	uint8_t d[32];
	struct manifest *m = NULL;
	size_t n = 0;

	assert_int_equal(manifest_scan(dir, 15, NULL, 0, &m, why), 0);
	assert_false(m->has_nonce);
	binding_hex(m, h);
	assert_string_equal(h, GOLDEN_BINDING);
	assert_memory_equal(m->qualifying_data, (hex_decode(h, d, 32), d), 32);

	n += (size_t)snprintf(text + n, sizeof(text) - n, "aicert-binding/v1\n");
	for (size_t i = 0; i < m->n_files; i++) {
		if (manifest_name_unbound(m->files[i].name))
			continue;
		hex_encode(m->files[i].sha256, 32, fh);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s %s\n", m->files[i].name, fh);
	}
	n += (size_t)snprintf(text + n, sizeof(text) - n, "pcr 15\n");
	assert_non_null(strstr(text, "bom.json 7688168e"));
	assert_null(strstr(text, "quote.msg"));
	/* ima.bin is read after the quote: PCR 10's replay attests it, not the binding */
	assert_null(strstr(text, "ima.bin"));
	SHA256((const uint8_t *)text, n, d);
	assert_memory_equal(d, m->qualifying_data, 32);

	/* with the nonce appended as "nonce <hex>\n" */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "nonce a1b2c3\n");
	SHA256((const uint8_t *)text, n, d);
	m->has_nonce = true;
	m->nonce_len = 3;
	memcpy(m->nonce, nonce, 3);
	binding_hex(m, h);
	assert_string_equal(h, GOLDEN_BINDING_NONCE);
	assert_int_equal(manifest_check_binding(m, why), -1);
	assert_non_null(strstr(why, "is not the aicert-binding/v1 binding"));
	manifest_free(m);
}

/* TPM evidence is not bound; everything else, the PCR and the nonce are. */
static void test_binding_covers(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX], base[65], h[65];
	struct manifest *m = NULL;

	assert_int_equal(manifest_scan(dir, 15, nonce, 3, &m, why), 0);
	binding_hex(m, base);
	manifest_free(m);

	put_str(dir, "quote.msg", "another quote");
	put_str(dir, "ak.cert.pem", "cert");
	assert_int_equal(manifest_scan(dir, 15, nonce, 3, &m, why), 0);
	binding_hex(m, h);
	assert_string_equal(h, base);
	manifest_free(m);
	rm(dir, "ak.cert.pem");

	assert_int_equal(manifest_scan(dir, 16, nonce, 3, &m, why), 0);
	binding_hex(m, h);
	assert_string_not_equal(h, base);
	manifest_free(m);
	assert_int_equal(manifest_scan(dir, 15, nonce, 2, &m, why), 0);
	binding_hex(m, h);
	assert_string_not_equal(h, base);
	manifest_free(m);

	put_str(dir, "bom.json", "{\"schema\":\"aicert.bom/v1\"} \n");
	assert_int_equal(manifest_scan(dir, 15, nonce, 3, &m, why), 0);
	binding_hex(m, h);
	assert_string_not_equal(h, base);
	manifest_free(m);
	put_str(dir, "bom.json", "{\"schema\":\"aicert.bom/v1\"}\n");

	put_str(dir, "weights.bin", "w");
	assert_int_equal(manifest_scan(dir, 15, nonce, 3, &m, why), 0);
	binding_hex(m, h);
	assert_string_not_equal(h, base);
	manifest_free(m);
	rm(dir, "weights.bin");
}

static void test_scan_rejects(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX], p[512];
	uint8_t big[MANIFEST_NONCE_MAX + 1] = {0};
	struct manifest *m = (struct manifest *)1;

	assert_int_equal(manifest_scan(dir, 24, NULL, 0, &m, why), -1);
	assert_null(m);
	assert_int_equal(manifest_scan(dir, 15, big, sizeof(big), &m, why), -1);
	assert_non_null(strstr(why, "nonce must be 1 to 64 bytes"));
	assert_int_equal(manifest_scan(dir, 15, big, 0, &m, why), -1);
	assert_int_equal(manifest_scan("/nonexistent", 15, NULL, 0, &m, why), -1);
	assert_non_null(strstr(why, "No such file"));

	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(manifest_scan(dir, 15, NULL, 0, &m, why), -1);
	assert_non_null(strstr(why, "sub: not a regular file"));
	assert_int_equal(rmdir(p), 0);

	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("bom.json", p), 0);
	assert_int_equal(manifest_scan(dir, 15, NULL, 0, &m, why), -1);
	assert_non_null(strstr(why, "link: cannot open: is a symbolic link"));
	assert_int_equal(unlink(p), 0);

	put_str(dir, "a b", "x");
	assert_int_equal(manifest_build(dir, 15, NULL, 0, NULL, why), -1);
	assert_non_null(strstr(why, "file name 'a b' is not allowed"));
	rm(dir, "a b");
	put_str(dir, "x..y", "x");
	assert_int_equal(manifest_scan(dir, 15, NULL, 0, &m, why), -1);
	rm(dir, "x..y");
	assert_int_equal(manifest_build(dir, 15, NULL, 0, NULL, why), 0);
}

static void test_names(void **state)
{
	static const char *const bad[] = {"",	 ".",	 "..",	 "a/b",		  "/etc", "a..b",
					  "a b", "a\nb", "a\tb", "manifest.json", "\x7f"};
	static const char *const good[] = {"bom.json", ".hidden", "a.b.c", "ak.cert.pem",
					   "\xc3\xa9t\xc3\xa9.txt"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (manifest_name_ok(bad[i]))
			fail_msg("name '%s' accepted", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(manifest_name_ok(good[i]));
	assert_true(manifest_name_unbound("quote.sig"));
	assert_true(manifest_name_unbound("manifest.json"));
	assert_false(manifest_name_unbound("bom.json"));
}

#define H64 "7688168ead4a339446260032f2e60ea798e16198c3f273ea7595550683cb239b"
#define FILE0 "{\"name\":\"bom.json\",\"sha256\":\"" H64 "\",\"size\":26}"
#define TAIL                                                                                       \
	"\"pcr\":15,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64 "\","                      \
	"\"qualifying_data_of\":\"x\""
#define M(files, rest) "{\"schema\":\"aicert.manifest/v1\",\"files\":[" files "]," rest "}"

struct bad_case {
	const char *json;
	const char *why;
};

static void test_parse_rejects(void **state)
{
	static const struct bad_case bad[] = {
	    {"", "invalid JSON"},
	    {"[]", "not a JSON object"},
	    {M(FILE0, TAIL) " x", "invalid JSON"},
	    {"{\"files\":[]," TAIL "}", "schema is not"},
	    {"{\"schema\":\"aicert.manifest/v2\",\"files\":[]," TAIL "}", "schema is not"},
	    {"{\"schema\":1,\"files\":[]," TAIL "}", "schema is not"},
	    {M(FILE0, TAIL ",\"extra\":1"), "unknown field 'extra'"},
	    {M(FILE0, TAIL ",\"pcr\":15"), "invalid JSON"}, /* duplicate key */
	    {"{\"schema\":\"aicert.manifest/v1\",\"files\":{}," TAIL "}", "files missing"},
	    {"{\"schema\":\"aicert.manifest/v1\"," TAIL "}", "files missing"},
	    {M("1", TAIL), "files[0] is not an object"},
	    {M("{\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "files[0].name missing"},
	    {M("{\"name\":7,\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "files[0].name missing"},
	    {M("{\"name\":\"a/b\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "not a plain"},
	    {M("{\"name\":\"..\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "not a plain"},
	    {M("{\"name\":\"../x\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "not a plain"},
	    {M("{\"name\":\"a b\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "not a plain"},
	    {M("{\"name\":\"a\\nb\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "not a plain"},
	    {M("{\"name\":\"\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL), "not a plain"},
	    {M("{\"name\":\"manifest.json\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL),
	     "not a plain"},
	    {M("{\"name\":\"a\\u0000b\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL),
	     "is not allowed without JSON_ALLOW_NUL"},
	    {M("{\"name\":\"a\",\"sha256\":\"" H64 "\",\"size\":1,\"mode\":1}", TAIL),
	     "files[0] has unknown field 'mode'"},
	    {M("{\"name\":\"a\",\"size\":1}", TAIL), "files[0].sha256 is not a string"},
	    {M("{\"name\":\"a\",\"sha256\":\"abcd\",\"size\":1}", TAIL),
	     "files[0].sha256 has 4 hex digits, expected 64"},
	    {M("{\"name\":\"a\",\"sha256\":\"" H64 "0\",\"size\":1}", TAIL), "65 hex digits"},
	    {M("{\"name\":\"a\",\"sha256\":\"g" H64 "\",\"size\":1}", TAIL), "65 hex digits"},
	    {M("{\"name\":\"a\",\"sha256\":\"x688168ead4a339446260032f2e60ea798e16198c3f273ea75"
	       "95550683cb239b\",\"size\":1}",
	       TAIL),
	     "files[0].sha256 is not hex"},
	    {M("{\"name\":\"a\",\"sha256\":\"" H64 "\"}", TAIL), "files[0].size missing"},
	    {M("{\"name\":\"a\",\"sha256\":\"" H64 "\",\"size\":-1}", TAIL), "size missing"},
	    {M("{\"name\":\"a\",\"sha256\":\"" H64 "\",\"size\":\"1\"}", TAIL), "size missing"},
	    {M("{\"name\":\"a\",\"sha256\":\"" H64 "\",\"size\":1.0}", TAIL), "size missing"},
	    {M(FILE0 "," FILE0, TAIL), "files[1] 'bom.json' is listed twice"},
	    {M(FILE0 ",{\"name\":\"ak.pub.pem\",\"sha256\":\"" H64 "\",\"size\":1}", TAIL),
	     "out of byte order"},
	    {M(FILE0, "\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":\"x\""),
	     "pcr missing"},
	    {M(FILE0, TAIL ",\"pcr\":24"), "invalid JSON"},
	    {M(FILE0, "\"pcr\":24,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":\"x\""),
	     "pcr missing or not an integer 0-23"},
	    {M(FILE0, "\"pcr\":-1,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":\"x\""),
	     "pcr missing"},
	    {M(FILE0, "\"pcr\":\"15\",\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":\"x\""),
	     "pcr missing"},
	    {M(FILE0, "\"pcr\":15,\"pcr_bank\":\"sha1\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":\"x\""),
	     "pcr_bank is not"},
	    {M(FILE0, "\"pcr\":15,\"qualifying_data\":\"" H64 "\",\"qualifying_data_of\":\"x\""),
	     "pcr_bank is not"},
	    {M(FILE0, "\"pcr\":15,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"abcd\","
		      "\"qualifying_data_of\":\"x\""),
	     "qualifying_data has 4 hex digits, expected 64"},
	    {M(FILE0, "\"pcr\":15,\"pcr_bank\":\"sha256\",\"qualifying_data_of\":\"x\""),
	     "qualifying_data is not a string"},
	    {M(FILE0, "\"pcr\":15,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":\"\""),
	     "qualifying_data_of missing"},
	    {M(FILE0, "\"pcr\":15,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64 "\""),
	     "qualifying_data_of missing"},
	    {M(FILE0, "\"pcr\":15,\"pcr_bank\":\"sha256\",\"qualifying_data\":\"" H64
		      "\",\"qualifying_data_of\":[]"),
	     "qualifying_data_of missing"},
	    {M(FILE0, TAIL ",\"nonce\":null"), "nonce is not a string"},
	    {M(FILE0, TAIL ",\"nonce\":\"\""), "nonce has 0 hex digits, expected 2 to 128"},
	    {M(FILE0, TAIL ",\"nonce\":\"abc\""), "nonce has 3 hex digits"},
	    {M(FILE0, TAIL ",\"nonce\":\"zz\""), "nonce is not hex"},
	    {M(FILE0, TAIL ",\"nonce\":\"" H64 H64 "00\""), "nonce has 130 hex digits"},
	    {M(FILE0, TAIL ",\"nonce\":\"aa\",\"kind\":\"run\""), "kind is not"},
	    {M(FILE0, TAIL ",\"nonce\":\"aa\",\"kind\":1"), "kind is not"},
	    {M(FILE0, TAIL ",\"nonce\":\"aa\",\"kind\":\"Log-Quote\""), "kind is not"},
	    {M(FILE0, TAIL ",\"kind\":\"log-quote\""), "a log quote without a nonce"},
	};
	char why[MANIFEST_WHY_MAX];
	struct manifest *m = NULL;

	/* the base document is valid, so each rejection is the mutation's */
	assert_int_equal(manifest_parse(M(FILE0, TAIL), strlen(M(FILE0, TAIL)), &m, why), 0);
	assert_false(m->has_nonce);
	manifest_free(m);
	assert_int_equal(manifest_parse(M(, TAIL ",\"nonce\":\"" H64 H64 "\""),
					strlen(M(, TAIL ",\"nonce\":\"" H64 H64 "\"")), &m, why),
			 0);
	assert_int_equal(m->n_files, 0);
	assert_int_equal(m->nonce_len, 64);
	manifest_free(m);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = (struct manifest *)1;
		why[0] = '\0';
		if (manifest_parse(bad[i].json, strlen(bad[i].json), &m, why) != -1)
			fail_msg("case %zu accepted: %s", i, bad[i].json);
		assert_null(m);
		if (!strstr(why, bad[i].why))
			fail_msg("case %zu: reason '%s' lacks '%s'", i, why, bad[i].why);
		assert_non_null(strstr(why, "manifest: "));
	}
}

/* A log quote: "kind log-quote" in its binding and its manifest, a nonce always; a bundle's
 * manifest and binding are as they were before kinds. */
static void test_log_quote_kind(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX], h[65], p[512], *a;
	struct manifest *m = NULL, *r = NULL;

	rm(dir, "bom.json");
	assert_int_equal(manifest_scan_kind(dir, MANIFEST_LOG_QUOTE, 15, NULL, 0, &m, why), -1);
	assert_non_null(strstr(why, "needs a nonce"));
	assert_null(m);
	assert_int_equal(
	    manifest_build_kind(dir, MANIFEST_LOG_QUOTE, 15, nonce, sizeof(nonce), &m, why), 0);
	hex_encode(m->qualifying_data, 32, h);
	assert_string_equal(h, GOLDEN_BINDING_LOG_QUOTE);
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	assert_int_equal(manifest_read(p, &r, why), 0);
	assert_int_equal(r->kind, MANIFEST_LOG_QUOTE);
	assert_true(r->has_kind);
	assert_string_equal(r->qualifying_data_of, MANIFEST_BINDING_TEXT_LOG_QUOTE);
	assert_string_equal(manifest_binding_text(r->kind), MANIFEST_BINDING_TEXT_LOG_QUOTE);
	assert_string_equal(manifest_kind_name(r->kind), "log-quote");
	assert_int_equal(manifest_check_binding(r, why), 0);
	a = manifest_dump(r);
	assert_non_null(strstr(a, "\"kind\": \"log-quote\""));
	free(a);
	/* the same files, pcr and nonce as a bundle: another binding */
	r->kind = MANIFEST_BUNDLE;
	assert_int_equal(manifest_check_binding(r, why), -1);
	assert_non_null(strstr(why, "binding of its kind (bundle)"));
	manifest_free(r);
	manifest_free(m);

	/* a bundle: no kind written, the binding without the kind line */
	put_str(dir, "bom.json", "{\"schema\":\"aicert.bom/v1\"}\n");
	assert_int_equal(manifest_build(dir, 15, nonce, sizeof(nonce), &m, why), 0);
	hex_encode(m->qualifying_data, 32, h);
	assert_string_equal(h, GOLDEN_BINDING_NONCE);
	a = manifest_dump(m);
	assert_null(strstr(a, "\"kind\""));
	free(a);
	/* "kind": "bundle" written out reads as a bundle, with the same binding */
	m->has_kind = true;
	a = manifest_dump(m);
	assert_non_null(strstr(a, "\"kind\": \"bundle\""));
	assert_int_equal(manifest_parse(a, strlen(a), &r, why), 0);
	assert_int_equal(r->kind, MANIFEST_BUNDLE);
	assert_int_equal(manifest_check_binding(r, why), 0);
	free(a);
	manifest_free(r);
	manifest_free(m);
}

static void test_read_errors(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX], p[512];
	struct manifest *m = NULL;

	assert_int_equal(manifest_read("/nonexistent/manifest.json", &m, why), -1);
	assert_non_null(strstr(why, "cannot open /nonexistent/manifest.json: No such file"));
	put_str(dir, "bad.json", "{\"schema\":");
	snprintf(p, sizeof(p), "%s/bad.json", dir);
	assert_int_equal(manifest_read(p, &m, why), -1);
	assert_non_null(strstr(why, "bad.json: manifest: invalid JSON"));
	rm(dir, "bad.json");
}

struct problems {
	int n;
	char text[8][MANIFEST_WHY_MAX];
};

static void collect(void *ctx, const char *reason)
{
	struct problems *p = ctx;

	assert_null(strchr(reason, '\n'));
	if (p->n < 8)
		snprintf(p->text[p->n], MANIFEST_WHY_MAX, "%s", reason);
	p->n++;
}

static int has(const struct problems *p, const char *s)
{
	for (int i = 0; i < p->n && i < 8; i++)
		if (strstr(p->text[i], s))
			return 1;
	return 0;
}

static void test_check_files(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX], p[512];
	struct manifest *m = NULL;
	struct problems pr = {0};

	assert_int_equal(manifest_build(dir, 15, NULL, 0, &m, why), 0);
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 0);
	assert_int_equal(pr.n, 0);

	/* added */
	put_str(dir, "extra.txt", "x");
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 1);
	assert_true(has(&pr, "extra.txt: in the bundle but not in the manifest"));
	rm(dir, "extra.txt");

	/* removed */
	memset(&pr, 0, sizeof(pr));
	rm(dir, "events.cel");
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 1);
	assert_true(has(&pr, "events.cel: cannot open: No such file or directory"));

	/* changed: same size, other content; other size */
	memset(&pr, 0, sizeof(pr));
	put(dir, "events.cel",
	    "\x00\x01\x02"
	    "CEL",
	    6);
	put_str(dir, "quote.sig", "sig2");
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 2);
	assert_true(has(&pr, "events.cel: sha256 "));
	assert_true(has(&pr, "differs from the manifest"));
	assert_true(has(&pr, "quote.sig: size 4, manifest says 3"));

	/* replaced by a symlink / a directory */
	memset(&pr, 0, sizeof(pr));
	put(dir, "events.cel",
	    "\x00\x01\x02"
	    "cel",
	    6);
	put_str(dir, "quote.sig", "sig");
	rm(dir, "ima.bin");
	snprintf(p, sizeof(p), "%s/ima.bin", dir);
	assert_int_equal(symlink("bom.json", p), 0);
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 1);
	assert_true(has(&pr, "ima.bin: cannot open: is a symbolic link"));
	rm(dir, "ima.bin");
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 1);
	assert_true(has(&pr, "ima.bin: not a regular file"));
	assert_int_equal(rmdir(p), 0);
	put(dir, "ima.bin", "", 0);

	assert_int_equal(manifest_check_files(dir, m, NULL, NULL), 0);
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(manifest_check_files("/nonexistent", m, collect, &pr), 1);
	assert_true(has(&pr, "cannot open directory /nonexistent"));
	manifest_free(m);
}

/* A hand-edited manifest (file removed from the list) still parses but fails the checks. */
static void test_tampered_manifest(void **state)
{
	const char *dir = *state;
	char why[MANIFEST_WHY_MAX];
	struct manifest *m = NULL;
	struct problems pr = {0};

	assert_int_equal(manifest_build(dir, 15, nonce, 3, &m, why), 0);
	free(m->files[1].name); /* bom.json */
	memmove(&m->files[1], &m->files[2], (m->n_files - 2) * sizeof(*m->files));
	m->n_files--;
	assert_int_equal(manifest_write(dir, m, why), 0);
	manifest_free(m);
	m = NULL;
	assert_int_equal(manifest_read("/dev/null", &m, why), -1);
	char p[512];
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	assert_int_equal(manifest_read(p, &m, why), 0);
	assert_int_equal(manifest_check_binding(m, why), -1);
	assert_int_equal(manifest_check_files(dir, m, collect, &pr), 1);
	assert_true(has(&pr, "bom.json: in the bundle but not in the manifest"));
	manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_build_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binding_documented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binding_covers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_rejects, setup, teardown),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test_setup_teardown(test_log_quote_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_manifest, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
