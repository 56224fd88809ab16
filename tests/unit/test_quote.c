// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_quote.c - quote decode/verify against quotes captured from swtpm
 * (scripts/capture-quote-fixtures.sh -> tests/fixtures/quote/), and forgeries of each.
 * Run from the repository root, or set AICERT_FIXTURES to the fixtures directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "lib/hex.h"
#include "lib/quote.h"
#include "testutil.h"

static const char *const cases[] = {"ecc", "ecc-sha384", "rsa", "rsapss"};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

struct fixture {
	char dir[512];
	uint8_t *msg, *sig, *pcrs;
	size_t msg_len, sig_len, pcrs_len;
	uint8_t qual[64];
	size_t qual_len;
	TPML_PCR_SELECTION sel;
	EVP_PKEY *ak;
	struct quote *q;
};

static void path(char *out, size_t len, const char *rel)
{
	const char *root = getenv("AICERT_FIXTURES");

	snprintf(out, len, "%s/quote/%s", root ? root : "tests/fixtures", rel);
}

static uint8_t *slurp(const char *file, size_t *len)
{
	uint8_t *buf = tu_read_file(file, len);

	if (!buf)
		fail_msg("cannot open fixture %s (run from the repository root)", file);
	return buf;
}

static void read_line(const char *dir, const char *name, char *out, size_t len)
{
	char p[600];
	size_t n;
	uint8_t *b;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	b = slurp(p, &n);
	assert_true(n > 0 && n < len);
	memcpy(out, b, n);
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	free(b);
}

static void load(struct fixture *fx, const char *name)
{
	char p[600], line[256], why[QUOTE_WHY_MAX];

	memset(fx, 0, sizeof(*fx));
	path(fx->dir, sizeof(fx->dir), name);
	snprintf(p, sizeof(p), "%s/quote.msg", fx->dir);
	fx->msg = slurp(p, &fx->msg_len);
	snprintf(p, sizeof(p), "%s/quote.sig", fx->dir);
	fx->sig = slurp(p, &fx->sig_len);
	snprintf(p, sizeof(p), "%s/pcrs.bin", fx->dir);
	fx->pcrs = slurp(p, &fx->pcrs_len);
	read_line(fx->dir, "qualifying.hex", line, sizeof(line));
	fx->qual_len = strlen(line) / 2;
	assert_int_equal(hex_decode(line, fx->qual, fx->qual_len), 0);
	read_line(fx->dir, "selection.txt", line, sizeof(line));
	assert_int_equal(quote_parse_selection(line, &fx->sel, why), QUOTE_OK);
	snprintf(p, sizeof(p), "%s/ak.pub.pem", fx->dir);
	assert_int_equal(quote_load_pubkey(p, &fx->ak, why), QUOTE_OK);
	assert_int_equal(quote_decode(fx->msg, fx->msg_len, fx->sig, fx->sig_len, &fx->q, why),
			 QUOTE_OK);
}

static void unload(struct fixture *fx)
{
	free(fx->msg);
	free(fx->sig);
	free(fx->pcrs);
	EVP_PKEY_free(fx->ak);
	quote_free(fx->q);
}

/* Every check a verifier makes; returns the first failure. */
static enum quote_status verify_all(const struct fixture *fx, const struct quote *q, EVP_PKEY *ak,
				    char *why)
{
	enum quote_status st;

	if ((st = quote_check_magic(q, why)) || (st = quote_check_type(q, why)) ||
	    (st = quote_check_signature(q, ak, why)) ||
	    (st = quote_check_qualifying(q, fx->qual, fx->qual_len, why)) ||
	    (st = quote_check_clock(&q->attest, why)) ||
	    (st = quote_check_selection(q, &fx->sel, why)) ||
	    (st = quote_check_pcr_digest(q, fx->pcrs, fx->pcrs_len, why)))
		return st;
	return QUOTE_OK;
}

static void test_fixtures_verify(void **state)
{
	char why[QUOTE_WHY_MAX] = "";

	for (size_t i = 0; i < N_CASES; i++) {
		struct fixture fx;

		load(&fx, cases[i]);
		if (verify_all(&fx, fx.q, fx.ak, why) != QUOTE_OK)
			fail_msg("%s: %s", cases[i], why);
		unload(&fx);
	}
}

static void test_load_files(void **state)
{
	char msg[600], sig[600], why[QUOTE_WHY_MAX];
	struct quote *q = NULL;

	path(msg, sizeof(msg), "rsa/quote.msg");
	path(sig, sizeof(sig), "rsa/quote.sig");
	assert_int_equal(quote_load(msg, sig, &q, why), QUOTE_OK);
	assert_int_equal(q->sig.sigAlg, TPM2_ALG_RSASSA);
	assert_int_equal(quote_sig_hash(&q->sig), TPM2_ALG_SHA256);
	quote_free(q);
	/* a signature is not an attestation */
	assert_int_equal(quote_load(sig, sig, &q, why), QUOTE_ERR_DECODE);
	assert_null(q);
	assert_non_null(strstr(why, "quote.sig"));
	assert_int_equal(quote_load("/nonexistent/quote.msg", sig, &q, why), QUOTE_ERR_IO);
	assert_non_null(strstr(why, "No such file"));
	quote_free(NULL);
}

/* Value of "key: value" in tpm2_print's YAML (first occurrence). */
static void yaml_value(const char *yaml, const char *key, char *out, size_t len)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "%s: ", key);
	p = strstr(yaml, k);
	assert_non_null(p);
	p += strlen(k);
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
}

/* The decode agrees with tpm2_print's decode of the same quote.msg. */
static void test_golden_decode(void **state)
{
	for (size_t i = 0; i < N_CASES; i++) {
		char p[600], v[256], want[300], *text = NULL;
		const TPMS_ATTEST *a;
		size_t n, tlen = 0;
		struct fixture fx;
		char *yaml;
		FILE *out;

		load(&fx, cases[i]);
		a = &fx.q->attest;
		snprintf(p, sizeof(p), "%s/attest.yaml", fx.dir);
		yaml = (char *)slurp(p, &n);
		yaml[n < 65535 ? n : 65535] = '\0';
		out = open_memstream(&text, &tlen);
		quote_describe(fx.q, out);
		fclose(out);

		yaml_value(yaml, "clock", v, sizeof(v));
		assert_int_equal(a->clockInfo.clock, strtoull(v, NULL, 10));
		snprintf(want, sizeof(want), "clock: %s ms", v);
		assert_non_null(strstr(text, want));
		yaml_value(yaml, "resetCount", v, sizeof(v));
		assert_int_equal(a->clockInfo.resetCount, strtoul(v, NULL, 10));
		yaml_value(yaml, "restartCount", v, sizeof(v));
		assert_int_equal(a->clockInfo.restartCount, strtoul(v, NULL, 10));
		/* tpm2_print dumps the uint64's bytes in host (little-endian) order */
		yaml_value(yaml, "firmwareVersion", v, sizeof(v));
		uint8_t fw[8];
		uint64_t fw_le = 0;
		assert_int_equal(hex_decode(v, fw, 8), 0);
		for (int b = 7; b >= 0; b--)
			fw_le = fw_le << 8 | fw[b];
		assert_int_equal(a->firmwareVersion, fw_le);
		snprintf(want, sizeof(want), "firmware: 0x%016llx\n", (unsigned long long)fw_le);
		assert_non_null(strstr(text, want));
		yaml_value(yaml, "extraData", v, sizeof(v));
		snprintf(want, sizeof(want), "qualifying data: %s\n", v);
		assert_non_null(strstr(text, want));
		yaml_value(yaml, "qualifiedSigner", v, sizeof(v));
		snprintf(want, sizeof(want), "signer: %s\n", v);
		assert_non_null(strstr(text, want));
		yaml_value(yaml, "pcrDigest", v, sizeof(v));
		snprintf(want, sizeof(want), "pcr digest: %s\n", v);
		assert_non_null(strstr(text, want));
		assert_non_null(strstr(text, "pcr selection: sha256:10,15\n"));
		assert_non_null(strstr(text, "safe yes"));
		assert_non_null(strstr(text, "(quote)"));
		read_line(fx.dir, "hash.txt", v, sizeof(v));
		snprintf(want, sizeof(want), " %s\n", v);
		assert_non_null(strstr(strstr(text, "signature: "), want));
		free(text);
		free(yaml);
		unload(&fx);
	}
}

/* Any flipped byte of quote.msg is either undecodable or caught by a check. */
static void test_flipped_msg_byte(void **state)
{
	char why[QUOTE_WHY_MAX];

	for (size_t c = 0; c < N_CASES; c++) {
		struct fixture fx;

		load(&fx, cases[c]);
		for (size_t i = 0; i < fx.msg_len; i++) {
			struct quote *q = NULL;
			enum quote_status st;

			fx.msg[i] ^= 0x01;
			st = quote_decode(fx.msg, fx.msg_len, fx.sig, fx.sig_len, &q, why);
			if (st == QUOTE_OK) {
				assert_int_equal(quote_check_signature(q, fx.ak, why),
						 QUOTE_ERR_SIGNATURE);
				assert_int_not_equal(verify_all(&fx, q, fx.ak, why), QUOTE_OK);
			} else {
				assert_int_equal(st, QUOTE_ERR_DECODE);
			}
			if (i < 4 && q)
				assert_int_equal(quote_check_magic(q, why), QUOTE_ERR_MAGIC);
			if (i >= 4 && i < 6 && q)
				assert_int_equal(quote_check_type(q, why), QUOTE_ERR_TYPE);
			quote_free(q);
			fx.msg[i] ^= 0x01;
		}
		unload(&fx);
	}
}

/* Any flipped byte of quote.sig: undecodable, unsupported scheme or a bad signature. */
static void test_flipped_sig_byte(void **state)
{
	char why[QUOTE_WHY_MAX];

	for (size_t c = 0; c < N_CASES; c++) {
		struct fixture fx;

		load(&fx, cases[c]);
		for (size_t i = 0; i < fx.sig_len; i++) {
			struct quote *q = NULL;
			enum quote_status st;

			fx.sig[i] ^= 0x80;
			st = quote_decode(fx.msg, fx.msg_len, fx.sig, fx.sig_len, &q, why);
			if (st == QUOTE_OK) {
				st = quote_check_signature(q, fx.ak, why);
				if (st != QUOTE_ERR_SIGNATURE && st != QUOTE_ERR_UNSUPPORTED)
					fail_msg("%s: sig byte %zu flipped: status %d", cases[c], i,
						 st);
			} else {
				assert_int_equal(st, QUOTE_ERR_DECODE);
			}
			quote_free(q);
			fx.sig[i] ^= 0x80;
		}
		unload(&fx);
	}
}

static void test_corrupt_signature_reason(void **state)
{
	char why[QUOTE_WHY_MAX];
	struct fixture fx;

	load(&fx, "ecc");
	fx.q->sig.signature.ecdsa.signatureS.buffer[5] ^= 0xff;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	assert_string_equal(why, "quote signature (ecdsa/sha256) does not verify under the AK "
				 "public key");
	unload(&fx);

	load(&fx, "rsapss");
	fx.q->sig.signature.rsapss.sig.buffer[100] ^= 0x01;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	unload(&fx);
}

/* The hash and the padding come from the signature: claiming others must fail. */
static void test_scheme_substitution(void **state)
{
	char why[QUOTE_WHY_MAX];
	struct fixture fx;

	load(&fx, "rsa");
	fx.q->sig.sigAlg = TPM2_ALG_RSAPSS;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	fx.q->sig.sigAlg = TPM2_ALG_RSASSA;
	fx.q->sig.signature.rsassa.hash = TPM2_ALG_SHA384;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	fx.q->sig.signature.rsassa.hash = TPM2_ALG_SHA256;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_OK);
	fx.q->sig.sigAlg = TPM2_ALG_SM2;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_ERR_UNSUPPORTED);
	unload(&fx);

	load(&fx, "ecc-sha384");
	fx.q->sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
	assert_int_equal(quote_check_signature(fx.q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	/* the PCR digest is taken with the signature's hash too */
	assert_int_equal(quote_check_pcr_digest(fx.q, fx.pcrs, fx.pcrs_len, why),
			 QUOTE_ERR_PCR_DIGEST);
	unload(&fx);
}

static void test_other_ak(void **state)
{
	char p[600], why[QUOTE_WHY_MAX];
	struct fixture ecc, rsa;
	EVP_PKEY *other = NULL, *same = NULL;

	load(&ecc, "ecc");
	load(&rsa, "rsa");
	path(p, sizeof(p), "other-ak/ak.pub.pem");
	assert_int_equal(quote_load_pubkey(p, &other, why), QUOTE_OK);
	assert_int_equal(quote_check_signature(ecc.q, other, why), QUOTE_ERR_SIGNATURE);
	assert_int_equal(quote_check_signature(ecc.q, rsa.ak, why), QUOTE_ERR_SIGNATURE);
	assert_non_null(strstr(why, "not an EC key"));
	assert_int_equal(quote_check_signature(rsa.q, ecc.ak, why), QUOTE_ERR_SIGNATURE);
	assert_non_null(strstr(why, "not an RSA key"));
	/* --ak pins by key, not by PEM text: the same key read from its certificate matches */
	assert_int_equal(quote_check_ak_pin(ecc.ak, other, why), QUOTE_ERR_AK_PIN);
	assert_int_equal(quote_check_ak_pin(ecc.ak, rsa.ak, why), QUOTE_ERR_AK_PIN);
	path(p, sizeof(p), "ca/ak.cert.pem");
	assert_int_equal(quote_load_pubkey(p, &same, why), QUOTE_OK);
	assert_int_equal(quote_check_ak_pin(ecc.ak, same, why), QUOTE_OK);
	EVP_PKEY_free(same);
	path(p, sizeof(p), "ecc/quote.msg");
	assert_int_equal(quote_load_pubkey(p, &same, why), QUOTE_ERR_DECODE);
	assert_null(same);
	assert_int_equal(quote_load_pubkey("/nonexistent.pem", &same, why), QUOTE_ERR_IO);
	EVP_PKEY_free(other);
	unload(&ecc);
	unload(&rsa);
}

static void test_wrong_qualifying(void **state)
{
	char why[QUOTE_WHY_MAX];
	struct fixture fx;

	load(&fx, "ecc");
	fx.qual[31] ^= 0x01;
	assert_int_equal(quote_check_qualifying(fx.q, fx.qual, fx.qual_len, why),
			 QUOTE_ERR_QUALIFYING);
	assert_non_null(strstr(why, "is not the expected one"));
	fx.qual[31] ^= 0x01;
	assert_int_equal(quote_check_qualifying(fx.q, fx.qual, fx.qual_len - 1, why),
			 QUOTE_ERR_QUALIFYING);
	assert_int_equal(quote_check_qualifying(fx.q, fx.qual, 0, why), QUOTE_ERR_QUALIFYING);
	assert_int_equal(quote_check_qualifying(fx.q, fx.qual, fx.qual_len, why), QUOTE_OK);
	unload(&fx);
}

static void test_other_selection(void **state)
{
	static const char *const wrong[] = {
	    "sha256:10",    "sha256:15",    "sha256:10,15,16",	   "sha1:10,15",
	    "sha384:10,15", "sha256:10,14", "sha256:10,15+sha1:10"};
	char why[QUOTE_WHY_MAX];
	TPML_PCR_SELECTION sel;
	struct fixture fx;

	load(&fx, "rsa");
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		assert_int_equal(quote_parse_selection(wrong[i], &sel, why), QUOTE_OK);
		assert_int_equal(quote_check_selection(fx.q, &sel, why), QUOTE_ERR_PCR_SELECTION);
		assert_non_null(strstr(why, "quote covers PCRs sha256:10,15, expected"));
	}
	assert_int_equal(quote_parse_selection("sha256:15,10", &sel, why), QUOTE_OK);
	assert_int_equal(quote_check_selection(fx.q, &sel, why), QUOTE_OK);
	/* a wider select bitmap with the same PCRs is the same selection */
	sel.pcrSelections[0].sizeofSelect = 4;
	assert_int_equal(quote_check_selection(fx.q, &sel, why), QUOTE_OK);
	unload(&fx);
}

static void test_parse_selection(void **state)
{
	static const char *const bad[] = {"",	       "sha256",      "sha256:",   "sha256:24",
					  "md5:1",     "sha256:1,",   "sha256:,1", "sha256:1;2",
					  "sha256:1+", "sha256:0001", "sha256:-1", ":1",
					  "sha256:1 "};
	char why[QUOTE_WHY_MAX], buf[128];
	TPML_PCR_SELECTION sel;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (quote_parse_selection(bad[i], &sel, why) != QUOTE_ERR_DECODE)
			fail_msg("selection '%s' accepted", bad[i]);
	assert_int_equal(quote_parse_selection("SHA256:0,23+sha1:7", &sel, why), QUOTE_OK);
	assert_int_equal(sel.count, 2);
	assert_int_equal(quote_selection_values_len(&sel), 2 * 32 + 20);
	quote_format_selection(&sel, buf, sizeof(buf));
	assert_string_equal(buf, "sha256:0,23+sha1:7");
	assert_int_equal(quote_format_selection(&sel, buf, 4), strlen("sha256:0,23+sha1:7"));
	assert_string_equal(buf, "sha");
}

static void test_wrong_pcr_values(void **state)
{
	char why[QUOTE_WHY_MAX];
	struct fixture fx;

	for (size_t c = 0; c < N_CASES; c++) {
		load(&fx, cases[c]);
		for (size_t i = 0; i < fx.pcrs_len; i += 7) {
			fx.pcrs[i] ^= 0x01;
			assert_int_equal(quote_check_pcr_digest(fx.q, fx.pcrs, fx.pcrs_len, why),
					 QUOTE_ERR_PCR_DIGEST);
			fx.pcrs[i] ^= 0x01;
		}
		assert_non_null(strstr(why, "does not match the PCR values"));
		assert_int_equal(quote_check_pcr_digest(fx.q, fx.pcrs, fx.pcrs_len - 1, why),
				 QUOTE_ERR_PCR_DIGEST);
		assert_non_null(strstr(why, "the quoted selection needs 64"));
		assert_int_equal(quote_check_pcr_digest(fx.q, fx.pcrs, 0, why),
				 QUOTE_ERR_PCR_DIGEST);
		/* PCR 15's value in PCR 10's place: same bytes, wrong order */
		uint8_t swapped[64];
		memcpy(swapped, fx.pcrs + 32, 32);
		memcpy(swapped + 32, fx.pcrs, 32);
		assert_int_equal(quote_check_pcr_digest(fx.q, swapped, 64, why),
				 QUOTE_ERR_PCR_DIGEST);
		unload(&fx);
	}
}

/* Re-marshals a modified TPMS_ATTEST and decodes it as a new quote. */
static struct quote *remarshal(const struct fixture *fx, const TPMS_ATTEST *a)
{
	uint8_t buf[sizeof(TPMS_ATTEST)];
	char why[QUOTE_WHY_MAX];
	struct quote *q = NULL;
	size_t off = 0;

	assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(a, buf, sizeof(buf), &off), TSS2_RC_SUCCESS);
	assert_int_equal(quote_decode(buf, off, fx->sig, fx->sig_len, &q, why), QUOTE_OK);
	return q;
}

static void test_remarshalled_forgeries(void **state)
{
	char why[QUOTE_WHY_MAX];
	struct fixture fx;
	struct quote *q;
	TPMS_ATTEST a;

	load(&fx, "ecc");
	/* unmodified: the re-marshalled bytes are the original bytes */
	q = remarshal(&fx, &fx.q->attest);
	assert_int_equal(q->msg_len, fx.msg_len);
	assert_memory_equal(q->msg, fx.msg, fx.msg_len);
	assert_int_equal(verify_all(&fx, q, fx.ak, why), QUOTE_OK);
	quote_free(q);

	a = fx.q->attest;
	a.clockInfo.safe = TPM2_NO;
	q = remarshal(&fx, &a);
	assert_int_equal(quote_check_clock(&q->attest, why), QUOTE_ERR_CLOCK);
	assert_non_null(strstr(why, "clock is not safe"));
	assert_int_equal(quote_check_signature(q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	quote_free(q);
	/* the safe check on its own */
	assert_int_equal(quote_check_clock(&a, why), QUOTE_ERR_CLOCK);
	a.clockInfo.safe = TPM2_YES;
	assert_int_equal(quote_check_clock(&a, why), QUOTE_OK);

	a = fx.q->attest;
	a.magic = 0x12345678;
	q = remarshal(&fx, &a);
	assert_int_equal(quote_check_magic(q, why), QUOTE_ERR_MAGIC);
	quote_free(q);

	a = fx.q->attest;
	a.type = TPM2_ST_ATTEST_CERTIFY;
	a.attested.certify.name.size = 0;
	a.attested.certify.qualifiedName.size = 0;
	q = remarshal(&fx, &a);
	assert_int_equal(quote_check_type(q, why), QUOTE_ERR_TYPE);
	assert_int_equal(quote_check_signature(q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	quote_free(q);

	/* another selection / digest, re-signed by nobody */
	a = fx.q->attest;
	a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[2] = 0x01;
	q = remarshal(&fx, &a);
	assert_int_equal(quote_check_selection(q, &fx.sel, why), QUOTE_ERR_PCR_SELECTION);
	assert_int_equal(quote_check_signature(q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	quote_free(q);

	a = fx.q->attest;
	a.extraData.size = 16;
	q = remarshal(&fx, &a);
	assert_int_equal(quote_check_qualifying(q, fx.qual, fx.qual_len, why),
			 QUOTE_ERR_QUALIFYING);
	assert_int_equal(quote_check_signature(q, fx.ak, why), QUOTE_ERR_SIGNATURE);
	quote_free(q);
	unload(&fx);
}

static void test_ak_cert_chain(void **state)
{
	char cert[600], ca[600], other_ca[600], bad[600], other_cert[600], why[QUOTE_WHY_MAX];
	const char *cas[2];
	struct fixture fx;

	load(&fx, "ecc");
	path(cert, sizeof(cert), "ca/ak.cert.pem");
	path(ca, sizeof(ca), "ca/ca.pem");
	path(other_ca, sizeof(other_ca), "ca/other-ca.pem");
	path(bad, sizeof(bad), "ca/ak-other-ca.cert.pem");
	path(other_cert, sizeof(other_cert), "ca/other-ak.cert.pem");

	cas[0] = ca;
	assert_int_equal(quote_check_ak_cert(cert, cas, 1, fx.ak, why), QUOTE_OK);
	cas[0] = other_ca;
	cas[1] = ca;
	assert_int_equal(quote_check_ak_cert(cert, cas, 2, fx.ak, why), QUOTE_OK);
	/* untrusted CA */
	assert_int_equal(quote_check_ak_cert(cert, cas, 1, fx.ak, why), QUOTE_ERR_AK_CHAIN);
	assert_non_null(strstr(why, "does not chain to a trusted CA"));
	cas[0] = ca;
	assert_int_equal(quote_check_ak_cert(bad, cas, 1, fx.ak, why), QUOTE_ERR_AK_CHAIN);
	/* a valid certificate, but for another key */
	assert_int_equal(quote_check_ak_cert(other_cert, cas, 1, fx.ak, why),
			 QUOTE_ERR_AK_CERT_KEY);
	assert_non_null(strstr(why, "certifies another key"));
	/* the CA itself is not an AK certificate for this AK */
	assert_int_equal(quote_check_ak_cert(ca, cas, 1, fx.ak, why), QUOTE_ERR_AK_CERT_KEY);
	/* fail closed on every error */
	assert_int_equal(quote_check_ak_cert(cert, cas, 0, fx.ak, why), QUOTE_ERR_AK_CHAIN);
	cas[0] = "/nonexistent/ca.pem";
	assert_int_equal(quote_check_ak_cert(cert, cas, 1, fx.ak, why), QUOTE_ERR_IO);
	cas[0] = ca;
	assert_int_equal(quote_check_ak_cert("/nonexistent.pem", cas, 1, fx.ak, why), QUOTE_ERR_IO);
	path(bad, sizeof(bad), "ecc/ak.pub.pem");
	assert_int_equal(quote_check_ak_cert(bad, cas, 1, fx.ak, why), QUOTE_ERR_DECODE);
	cas[0] = bad;
	assert_int_equal(quote_check_ak_cert(cert, cas, 1, fx.ak, why), QUOTE_ERR_IO);
	unload(&fx);
}

/* Every proper prefix and any trailing byte are rejected by the decoders. */
static void test_truncated_and_trailing(void **state)
{
	char why[QUOTE_WHY_MAX];
	TPMT_SIGNATURE sig;
	TPMS_ATTEST a;

	for (size_t c = 0; c < N_CASES; c++) {
		struct fixture fx;
		uint8_t *longer;

		load(&fx, cases[c]);
		for (size_t n = 0; n < fx.msg_len; n++)
			assert_int_equal(quote_decode_attest(fx.msg, n, &a, why), QUOTE_ERR_DECODE);
		for (size_t n = 0; n < fx.sig_len; n++)
			assert_int_equal(quote_decode_signature(fx.sig, n, &sig, why),
					 QUOTE_ERR_DECODE);
		longer = malloc(fx.sig_len + 1);
		assert_non_null(longer);
		memcpy(longer, fx.sig, fx.sig_len);
		longer[fx.sig_len] = 0;
		assert_int_equal(quote_decode_signature(longer, fx.sig_len + 1, &sig, why),
				 QUOTE_ERR_DECODE);
		assert_string_equal(why, "quote signature: 1 trailing bytes after TPMT_SIGNATURE");
		free(longer);
		longer = malloc(fx.msg_len + 3);
		assert_non_null(longer);
		memcpy(longer, fx.msg, fx.msg_len);
		memset(longer + fx.msg_len, 0, 3);
		assert_int_equal(quote_decode_attest(longer, fx.msg_len + 3, &a, why),
				 QUOTE_ERR_DECODE);
		assert_non_null(strstr(why, "3 trailing bytes"));
		free(longer);
		unload(&fx);
	}
}

int main(void)
{
	/* tpm2-tss MU logs every rejected input; the forgery tests make thousands */
	setenv("TSS2_LOG", "all+none", 1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures_verify),
	    cmocka_unit_test(test_load_files),
	    cmocka_unit_test(test_golden_decode),
	    cmocka_unit_test(test_flipped_msg_byte),
	    cmocka_unit_test(test_flipped_sig_byte),
	    cmocka_unit_test(test_corrupt_signature_reason),
	    cmocka_unit_test(test_scheme_substitution),
	    cmocka_unit_test(test_other_ak),
	    cmocka_unit_test(test_wrong_qualifying),
	    cmocka_unit_test(test_other_selection),
	    cmocka_unit_test(test_parse_selection),
	    cmocka_unit_test(test_wrong_pcr_values),
	    cmocka_unit_test(test_remarshalled_forgeries),
	    cmocka_unit_test(test_ak_cert_chain),
	    cmocka_unit_test(test_truncated_and_trailing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
