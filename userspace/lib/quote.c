// SPDX-License-Identifier: BSD-2-Clause
/* quote.c - offline decode and verification of TPM2 quotes (tpm2-tss MU + OpenSSL 3). */
#include "lib/quote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <tss2/tss2_mu.h>

#include "lib/cel.h"
#include "lib/fileio.h"
#include "lib/hex.h"

/* quote.msg is a few hundred bytes; anything this large is not one. */
#define QUOTE_FILE_MAX (64 * 1024)

static enum quote_status fail(char *why, enum quote_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum quote_status fail(char *why, enum quote_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, QUOTE_WHY_MAX, fmt, ap);
	va_end(ap);
	return st;
}

static const char *ssl_err(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (!e)
		return "no OpenSSL error detail";
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

static enum quote_status read_file(const char *path, uint8_t **out, size_t *len, char *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return fail(why, QUOTE_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	ret = fileio_read_fd(fd, QUOTE_FILE_MAX, out, len);
	close(fd);
	if (ret == -EFBIG)
		return fail(why, QUOTE_ERR_DECODE, "%s: larger than %d bytes", path,
			    QUOTE_FILE_MAX);
	if (ret)
		return fail(why, QUOTE_ERR_IO, "cannot read %s: %s", path, strerror(-ret));
	return QUOTE_OK;
}

static const char *alg_name(TPM2_ALG_ID alg)
{
	switch (alg) {
	case TPM2_ALG_ECDSA:
		return "ecdsa";
	case TPM2_ALG_RSASSA:
		return "rsassa";
	case TPM2_ALG_RSAPSS:
		return "rsapss";
	default:
		return cel_alg_name(alg);
	}
}

/* Quotes are checked over SHA-1 and SHA-2 digests only: SM3 stays unsupported here. */
static const EVP_MD *hash_md(TPM2_ALG_ID alg)
{
	return alg == TPM2_ALG_SM3_256 ? NULL : cel_alg_md(alg);
}

/* name: what the caller calls the input ("quote message" or a path), for the reason. */
static enum quote_status decode_attest(const uint8_t *buf, size_t len, TPMS_ATTEST *out,
				       const char *name, char *why)
{
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(buf, len, &off, out);
	if (rc != TSS2_RC_SUCCESS)
		return fail(why, QUOTE_ERR_DECODE,
			    "%s: not a TPMS_ATTEST (Tss2_MU_TPMS_ATTEST_Unmarshal 0x%x)", name, rc);
	if (off != len)
		return fail(why, QUOTE_ERR_DECODE, "%s: %zu trailing bytes after TPMS_ATTEST", name,
			    len - off);
	return QUOTE_OK;
}

static enum quote_status decode_signature(const uint8_t *buf, size_t len, TPMT_SIGNATURE *out,
					  const char *name, char *why)
{
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, len, &off, out);
	if (rc != TSS2_RC_SUCCESS)
		return fail(why, QUOTE_ERR_DECODE,
			    "%s: not a TPMT_SIGNATURE (Tss2_MU_TPMT_SIGNATURE_Unmarshal 0x%x)",
			    name, rc);
	if (off != len)
		return fail(why, QUOTE_ERR_DECODE, "%s: %zu trailing bytes after TPMT_SIGNATURE",
			    name, len - off);
	return QUOTE_OK;
}

enum quote_status quote_decode_attest(const uint8_t *buf, size_t len, TPMS_ATTEST *out,
				      char why[QUOTE_WHY_MAX])
{
	return decode_attest(buf, len, out, "quote message", why);
}

enum quote_status quote_decode_signature(const uint8_t *buf, size_t len, TPMT_SIGNATURE *out,
					 char why[QUOTE_WHY_MAX])
{
	return decode_signature(buf, len, out, "quote signature", why);
}

static enum quote_status decode(const uint8_t *msg, size_t msg_len, const uint8_t *sig,
				size_t sig_len, const char *msg_name, const char *sig_name,
				struct quote **out, char *why)
{
	enum quote_status st;
	struct quote *q;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return fail(why, QUOTE_ERR_IO, "cannot decode quote: out of memory");
	st = decode_attest(msg, msg_len, &q->attest, msg_name, why);
	if (st == QUOTE_OK)
		st = decode_signature(sig, sig_len, &q->sig, sig_name, why);
	if (st != QUOTE_OK)
		goto cleanup;
	q->msg = malloc(msg_len ? msg_len : 1);
	if (!q->msg) {
		st = fail(why, QUOTE_ERR_IO, "cannot decode quote: out of memory");
		goto cleanup;
	}
	memcpy(q->msg, msg, msg_len);
	q->msg_len = msg_len;
	*out = q;
	q = NULL;
cleanup:
	quote_free(q);
	return st;
}

enum quote_status quote_decode(const uint8_t *msg, size_t msg_len, const uint8_t *sig,
			       size_t sig_len, struct quote **out, char why[QUOTE_WHY_MAX])
{
	return decode(msg, msg_len, sig, sig_len, "quote message", "quote signature", out, why);
}

enum quote_status quote_load(const char *msg_path, const char *sig_path, struct quote **out,
			     char why[QUOTE_WHY_MAX])
{
	uint8_t *msg = NULL, *sig = NULL;
	size_t msg_len = 0, sig_len = 0;
	enum quote_status st;

	*out = NULL;
	st = read_file(msg_path, &msg, &msg_len, why);
	if (st != QUOTE_OK)
		goto cleanup;
	st = read_file(sig_path, &sig, &sig_len, why);
	if (st != QUOTE_OK)
		goto cleanup;
	st = decode(msg, msg_len, sig, sig_len, msg_path, sig_path, out, why);
cleanup:
	free(msg);
	free(sig);
	return st;
}

void quote_free(struct quote *q)
{
	if (!q)
		return;
	free(q->msg);
	free(q);
}

enum quote_status quote_load_pubkey(const char *path, EVP_PKEY **out, char why[QUOTE_WHY_MAX])
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *bio;

	*out = NULL;
	bio = BIO_new_file(path, "r");
	if (!bio)
		return fail(why, QUOTE_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!key) {
		ERR_clear_error();
		(void)BIO_reset(bio);
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (cert)
			key = X509_get_pubkey(cert);
	}
	BIO_free(bio);
	X509_free(cert);
	if (!key)
		return fail(why, QUOTE_ERR_DECODE,
			    "%s: no PEM public key or certificate in it (%s)", path, ssl_err());
	*out = key;
	return QUOTE_OK;
}

static int parse_alg(const char *s, size_t n, TPMI_ALG_HASH *alg)
{
	static const TPMI_ALG_HASH algs[] = {TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384,
					     TPM2_ALG_SHA512, TPM2_ALG_SM3_256};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		const char *name = alg_name(algs[i]);

		if (strlen(name) == n && !strncasecmp(s, name, n)) {
			*alg = algs[i];
			return 0;
		}
	}
	return -1;
}

static enum quote_status parse_bank(const char *s, size_t n, TPMS_PCR_SELECTION *bank, char *why)
{
	const char *colon = memchr(s, ':', n), *p, *end = s + n;

	memset(bank, 0, sizeof(*bank));
	bank->sizeofSelect = 3;
	if (!colon || parse_alg(s, colon - s, &bank->hash))
		return fail(why, QUOTE_ERR_DECODE, "PCR selection '%.*s': expected ALG:N[,N...]",
			    (int)n, s);
	for (p = colon + 1; p < end;) {
		unsigned v = 0;
		const char *start = p;

		while (p < end && *p >= '0' && *p <= '9' && p - start < 3)
			v = v * 10 + (unsigned)(*p++ - '0');
		if (p == start || v >= 24 || (p < end && *p != ','))
			return fail(why, QUOTE_ERR_DECODE,
				    "PCR selection '%.*s': bad PCR index (0-23 expected)", (int)n,
				    s);
		bank->pcrSelect[v / 8] |= (uint8_t)(1u << (v % 8));
		if (p < end && ++p == end)
			return fail(why, QUOTE_ERR_DECODE, "PCR selection '%.*s': trailing comma",
				    (int)n, s);
	}
	if (p == colon + 1)
		return fail(why, QUOTE_ERR_DECODE, "PCR selection '%.*s': no PCR listed", (int)n,
			    s);
	return QUOTE_OK;
}

enum quote_status quote_parse_selection(const char *text, TPML_PCR_SELECTION *out,
					char why[QUOTE_WHY_MAX])
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *plus = strchr(p, '+');
		size_t n = plus ? (size_t)(plus - p) : strlen(p);
		enum quote_status st;

		if (out->count == TPM2_NUM_PCR_BANKS)
			return fail(why, QUOTE_ERR_DECODE, "PCR selection: more than %d banks",
				    TPM2_NUM_PCR_BANKS);
		st = parse_bank(p, n, &out->pcrSelections[out->count++], why);
		if (st != QUOTE_OK)
			return st;
		if (!plus)
			return QUOTE_OK;
		p = plus + 1;
	}
}

int quote_format_selection(const TPML_PCR_SELECTION *sel, char *buf, size_t len)
{
	size_t used = 0;
	int n;

	if (len)
		buf[0] = '\0';
	for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *b = &sel->pcrSelections[i];
		const char *name = alg_name(b->hash);
		char sep = ':';

		if (name)
			n = snprintf(buf + used, used < len ? len - used : 0, "%s%s", i ? "+" : "",
				     name);
		else
			n = snprintf(buf + used, used < len ? len - used : 0, "%s0x%04x",
				     i ? "+" : "", b->hash);
		used += (size_t)n;
		for (unsigned p = 0; p < 8u * b->sizeofSelect && p < 8u * TPM2_PCR_SELECT_MAX;
		     p++) {
			if (!(b->pcrSelect[p / 8] & (1u << (p % 8))))
				continue;
			n = snprintf(buf + used, used < len ? len - used : 0, "%c%u", sep, p);
			used += (size_t)n;
			sep = ',';
		}
	}
	return (int)used;
}

static unsigned bank_pcrs(const TPMS_PCR_SELECTION *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < b->sizeofSelect && i < TPM2_PCR_SELECT_MAX; i++)
		n += (unsigned)__builtin_popcount(b->pcrSelect[i]);
	return n;
}

size_t quote_selection_values_len(const TPML_PCR_SELECTION *sel)
{
	size_t total = 0;

	for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		size_t hs = cel_alg_size(sel->pcrSelections[i].hash);

		if (!hs)
			return 0;
		total += hs * bank_pcrs(&sel->pcrSelections[i]);
	}
	return total;
}

TPMI_ALG_HASH quote_sig_hash(const TPMT_SIGNATURE *sig)
{
	switch (sig->sigAlg) {
	case TPM2_ALG_ECDSA:
		return sig->signature.ecdsa.hash;
	case TPM2_ALG_RSASSA:
		return sig->signature.rsassa.hash;
	case TPM2_ALG_RSAPSS:
		return sig->signature.rsapss.hash;
	default:
		return TPM2_ALG_ERROR;
	}
}

enum quote_status quote_check_magic(const struct quote *q, char why[QUOTE_WHY_MAX])
{
	if (q->attest.magic != TPM2_GENERATED_VALUE)
		return fail(
		    why, QUOTE_ERR_MAGIC,
		    "quote magic is 0x%08x, not TPM2_GENERATED_VALUE (0x%08x): not made by a TPM",
		    q->attest.magic, TPM2_GENERATED_VALUE);
	return QUOTE_OK;
}

enum quote_status quote_check_type(const struct quote *q, char why[QUOTE_WHY_MAX])
{
	if (q->attest.type != TPM2_ST_ATTEST_QUOTE)
		return fail(why, QUOTE_ERR_TYPE,
			    "attestation type is 0x%04x, not TPM2_ST_ATTEST_QUOTE (0x%04x)",
			    q->attest.type, TPM2_ST_ATTEST_QUOTE);
	return QUOTE_OK;
}

/* TPM ECDSA signatures are (r, s) big-endian integers; OpenSSL verifies DER ECDSA-Sig-Value. */
static enum quote_status ecdsa_der(const TPMS_SIGNATURE_ECC *e, uint8_t **der, size_t *len,
				   char *why)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
	BIGNUM *ss = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
	enum quote_status st = QUOTE_OK;
	int n;

	*der = NULL;
	if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
		BN_free(r);
		BN_free(ss);
		st = fail(why, QUOTE_ERR_DECODE, "cannot convert ECDSA signature: %s", ssl_err());
		goto cleanup;
	}
	n = i2d_ECDSA_SIG(s, der);
	if (n <= 0) {
		st = fail(why, QUOTE_ERR_DECODE, "cannot encode ECDSA signature: %s", ssl_err());
		goto cleanup;
	}
	*len = (size_t)n;
cleanup:
	ECDSA_SIG_free(s);
	return st;
}

/* Picks the signature bytes, the padding and checks the key type fits the scheme. */
static enum quote_status sig_bytes(const TPMT_SIGNATURE *sig, EVP_PKEY *ak, uint8_t **der,
				   const uint8_t **bytes, size_t *len, int *padding, char *why)
{
	int type = EVP_PKEY_get_base_id(ak);
	bool rsa = type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS;

	switch (sig->sigAlg) {
	case TPM2_ALG_ECDSA:
		if (type != EVP_PKEY_EC)
			return fail(why, QUOTE_ERR_SIGNATURE,
				    "quote signature is ECDSA but the AK is not an EC key");
		*padding = 0;
		if (ecdsa_der(&sig->signature.ecdsa, der, len, why) != QUOTE_OK)
			return QUOTE_ERR_SIGNATURE;
		*bytes = *der;
		return QUOTE_OK;
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS:
		if (!rsa)
			return fail(why, QUOTE_ERR_SIGNATURE,
				    "quote signature is %s but the AK is not an RSA key",
				    alg_name(sig->sigAlg));
		*padding =
		    sig->sigAlg == TPM2_ALG_RSASSA ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING;
		*bytes = sig->signature.rsassa.sig.buffer;
		*len = sig->signature.rsassa.sig.size;
		return QUOTE_OK;
	default:
		return fail(why, QUOTE_ERR_UNSUPPORTED,
			    "quote signature scheme 0x%04x not supported (ECDSA, RSASSA, RSAPSS)",
			    sig->sigAlg);
	}
}

enum quote_status quote_check_signature(const struct quote *q, EVP_PKEY *ak,
					char why[QUOTE_WHY_MAX])
{
	TPMI_ALG_HASH h = quote_sig_hash(&q->sig);
	const EVP_MD *md = hash_md(h);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const uint8_t *bytes = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	int padding = 0;
	enum quote_status st;

	st = sig_bytes(&q->sig, ak, &der, &bytes, &len, &padding, why);
	if (st != QUOTE_OK)
		goto cleanup;
	if (!md) {
		st = fail(why, QUOTE_ERR_UNSUPPORTED, "quote signature hash 0x%04x not supported",
			  h);
		goto cleanup;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, ak) != 1 ||
	    (padding && EVP_PKEY_CTX_set_rsa_padding(pctx, padding) <= 0) ||
	    (padding == RSA_PKCS1_PSS_PADDING &&
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) <= 0)) {
		st = fail(why, QUOTE_ERR_SIGNATURE, "cannot set up signature verification: %s",
			  ssl_err());
		goto cleanup;
	}
	if (EVP_DigestVerify(ctx, bytes, len, q->msg, q->msg_len) != 1) {
		ERR_clear_error();
		st = fail(why, QUOTE_ERR_SIGNATURE,
			  "quote signature (%s/%s) does not verify under the AK public key",
			  alg_name(q->sig.sigAlg), alg_name(h));
		goto cleanup;
	}
	st = QUOTE_OK;
cleanup:
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return st;
}

enum quote_status quote_check_qualifying(const struct quote *q, const uint8_t *expected, size_t len,
					 char why[QUOTE_WHY_MAX])
{
	const TPM2B_DATA *d = &q->attest.extraData;
	char got[2 * sizeof(d->buffer) + 1];

	if (d->size == len && !memcmp(d->buffer, expected, len))
		return QUOTE_OK;
	hex_encode(d->buffer, d->size < sizeof(d->buffer) ? d->size : sizeof(d->buffer), got);
	return fail(why, QUOTE_ERR_QUALIFYING,
		    "quote qualifying data %.16s%s (%u bytes) is not the expected one (%zu bytes)",
		    got, d->size > 8 ? "..." : "", d->size, len);
}

enum quote_status quote_check_clock(const TPMS_ATTEST *attest, char why[QUOTE_WHY_MAX])
{
	if (attest->clockInfo.safe != TPM2_YES)
		return fail(why, QUOTE_ERR_CLOCK,
			    "quote clock is not safe (clockInfo.safe = %u): the TPM clock may have "
			    "been rolled back",
			    attest->clockInfo.safe);
	return QUOTE_OK;
}

static bool bank_equal(const TPMS_PCR_SELECTION *a, const TPMS_PCR_SELECTION *b)
{
	if (a->hash != b->hash)
		return false;
	for (unsigned i = 0; i < TPM2_PCR_SELECT_MAX; i++) {
		uint8_t x = i < a->sizeofSelect ? a->pcrSelect[i] : 0;
		uint8_t y = i < b->sizeofSelect ? b->pcrSelect[i] : 0;

		if (x != y)
			return false;
	}
	return true;
}

enum quote_status quote_check_selection(const struct quote *q, const TPML_PCR_SELECTION *expected,
					char why[QUOTE_WHY_MAX])
{
	const TPML_PCR_SELECTION *got = &q->attest.attested.quote.pcrSelect;
	char g[128], e[128];
	bool same = got->count == expected->count && got->count <= TPM2_NUM_PCR_BANKS;

	for (uint32_t i = 0; same && i < got->count; i++)
		same = bank_equal(&got->pcrSelections[i], &expected->pcrSelections[i]);
	if (same)
		return QUOTE_OK;
	quote_format_selection(got, g, sizeof(g));
	quote_format_selection(expected, e, sizeof(e));
	return fail(why, QUOTE_ERR_PCR_SELECTION, "quote covers PCRs %s, expected %s", g, e);
}

enum quote_status quote_check_pcr_digest(const struct quote *q, const uint8_t *values, size_t len,
					 char why[QUOTE_WHY_MAX])
{
	const TPMS_QUOTE_INFO *qi = &q->attest.attested.quote;
	TPMI_ALG_HASH h = quote_sig_hash(&q->sig);
	const EVP_MD *md = hash_md(h);
	size_t want = quote_selection_values_len(&qi->pcrSelect);
	uint8_t dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;

	if (!md)
		return fail(why, QUOTE_ERR_UNSUPPORTED, "quote signature hash 0x%04x not supported",
			    h);
	if (!want || len != want)
		return fail(why, QUOTE_ERR_PCR_DIGEST,
			    "PCR values are %zu bytes, the quoted selection needs %zu", len, want);
	if (EVP_Digest(values, len, dig, &dlen, md, NULL) != 1)
		return fail(why, QUOTE_ERR_PCR_DIGEST, "cannot hash PCR values: %s", ssl_err());
	if (qi->pcrDigest.size != dlen || memcmp(qi->pcrDigest.buffer, dig, dlen))
		return fail(why, QUOTE_ERR_PCR_DIGEST,
			    "quote PCR digest does not match the PCR values (%s of their "
			    "concatenation)",
			    alg_name(h));
	return QUOTE_OK;
}

enum quote_status quote_check_ak_pin(EVP_PKEY *ak, EVP_PKEY *pinned, char why[QUOTE_WHY_MAX])
{
	if (EVP_PKEY_eq(ak, pinned) == 1)
		return QUOTE_OK;
	ERR_clear_error();
	return fail(why, QUOTE_ERR_AK_PIN, "the bundle's AK is not the pinned AK public key");
}

/* The AK certificate file: the leaf first, then any untrusted intermediates. */
static enum quote_status load_chain(const char *path, X509 **leaf, STACK_OF(X509) * *rest,
				    char *why)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *c;

	*leaf = NULL;
	*rest = NULL;
	if (!bio)
		return fail(why, QUOTE_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	*leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	*rest = sk_X509_new_null();
	while (*leaf && *rest && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (!sk_X509_push(*rest, c))
			X509_free(c);
	ERR_clear_error();
	BIO_free(bio);
	if (!*leaf || !*rest)
		return fail(why, QUOTE_ERR_DECODE, "%s: no PEM certificate in it", path);
	return QUOTE_OK;
}

static enum quote_status load_cas(X509_STORE *store, const char *const *paths, size_t n, char *why)
{
	if (!n)
		return fail(why, QUOTE_ERR_AK_CHAIN, "no CA certificate given");
	for (size_t i = 0; i < n; i++)
		if (X509_STORE_load_file(store, paths[i]) != 1)
			return fail(why, QUOTE_ERR_IO, "cannot load CA certificates from %s: %s",
				    paths[i], ssl_err());
	return QUOTE_OK;
}

enum quote_status quote_check_ak_cert(const char *cert_path, const char *const *ca_paths,
				      size_t n_ca, EVP_PKEY *ak, char why[QUOTE_WHY_MAX])
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *rest = NULL;
	X509 *leaf = NULL;
	enum quote_status st;

	if (!store || !ctx) {
		st = fail(why, QUOTE_ERR_IO, "cannot verify %s: out of memory", cert_path);
		goto cleanup;
	}
	st = load_chain(cert_path, &leaf, &rest, why);
	if (st == QUOTE_OK)
		st = load_cas(store, ca_paths, n_ca, why);
	if (st != QUOTE_OK)
		goto cleanup;
	if (X509_STORE_CTX_init(ctx, store, leaf, rest) != 1) {
		st = fail(why, QUOTE_ERR_AK_CHAIN, "cannot verify %s: %s", cert_path, ssl_err());
		goto cleanup;
	}
	if (X509_verify_cert(ctx) != 1) {
		ERR_clear_error();
		st = fail(why, QUOTE_ERR_AK_CHAIN, "%s does not chain to a trusted CA: %s",
			  cert_path, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto cleanup;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), ak) != 1) {
		ERR_clear_error();
		st = fail(why, QUOTE_ERR_AK_CERT_KEY, "%s certifies another key than the AK",
			  cert_path);
		goto cleanup;
	}
	st = QUOTE_OK;
cleanup:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	return st;
}

static void put_hex(FILE *out, const char *label, const uint8_t *b, size_t n)
{
	char hex[2 * 128 + 1];

	hex_encode(b, n < 128 ? n : 128, hex);
	fprintf(out, "%s: %s\n", label, n ? hex : "(empty)");
}

void quote_describe(const struct quote *q, FILE *out)
{
	const TPMS_ATTEST *a = &q->attest;
	const TPMS_CLOCK_INFO *c = &a->clockInfo;
	const char *sig = alg_name(q->sig.sigAlg), *h = alg_name(quote_sig_hash(&q->sig));
	char sel[256];

	fprintf(out, "magic: 0x%08x%s\n", a->magic,
		a->magic == TPM2_GENERATED_VALUE ? " (TPM generated)" : " (NOT TPM generated)");
	fprintf(out, "type: 0x%04x%s\n", a->type,
		a->type == TPM2_ST_ATTEST_QUOTE ? " (quote)" : " (not a quote)");
	fprintf(out, "clock: %llu ms, reset count %u, restart count %u, safe %s\n",
		(unsigned long long)c->clock, c->resetCount, c->restartCount,
		c->safe == TPM2_YES ? "yes" : "no");
	fprintf(out, "firmware: 0x%016llx\n", (unsigned long long)a->firmwareVersion);
	put_hex(out, "signer", a->qualifiedSigner.name, a->qualifiedSigner.size);
	put_hex(out, "qualifying data", a->extraData.buffer, a->extraData.size);
	if (a->type == TPM2_ST_ATTEST_QUOTE) {
		quote_format_selection(&a->attested.quote.pcrSelect, sel, sizeof(sel));
		fprintf(out, "pcr selection: %s\n", sel);
		put_hex(out, "pcr digest", a->attested.quote.pcrDigest.buffer,
			a->attested.quote.pcrDigest.size);
	}
	if (sig && h)
		fprintf(out, "signature: %s %s\n", sig, h);
	else
		fprintf(out, "signature: scheme 0x%04x (unsupported)\n", q->sig.sigAlg);
}
