/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * quote.h - offline decode and verification of a TPM2 quote (TPM2_Quote evidence).
 *
 * Inputs are the files tpm2-tools writes: quote.msg (TPMS_ATTEST, marshalled), quote.sig
 * (TPMT_SIGNATURE, marshalled) and the AK public key as PEM. Needs tpm2-tss MU and OpenSSL
 * only: no TPM. Every check is its own function; each returns QUOTE_OK or the status of the
 * failed check and, on failure, writes a one-line reason (no newline) into why[QUOTE_WHY_MAX].
 * A verifier runs all of them; none "logs and continues".
 */
#ifndef AICERT_QUOTE_H
#define AICERT_QUOTE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <openssl/types.h>
#include <tss2/tss2_tpm2_types.h>

#define QUOTE_WHY_MAX 256

/* Append-only: values may be mapped to exit codes. */
enum quote_status {
	QUOTE_OK = 0,
	QUOTE_ERR_IO,		 /* a file could not be read */
	QUOTE_ERR_DECODE,	 /* quote.msg / quote.sig / a PEM is malformed */
	QUOTE_ERR_MAGIC,	 /* magic is not TPM2_GENERATED_VALUE */
	QUOTE_ERR_TYPE,		 /* not a TPM2_ST_ATTEST_QUOTE */
	QUOTE_ERR_SIGNATURE,	 /* signature does not verify under the AK */
	QUOTE_ERR_QUALIFYING,	 /* extraData is not the expected qualifying data */
	QUOTE_ERR_CLOCK,	 /* clockInfo.safe is NO */
	QUOTE_ERR_PCR_SELECTION, /* quoted PCR selection is not the expected one */
	QUOTE_ERR_PCR_DIGEST,	 /* pcrDigest does not match the given PCR values */
	QUOTE_ERR_AK_PIN,	 /* AK is not the pinned key */
	QUOTE_ERR_AK_CHAIN,	 /* AK certificate does not chain to a trusted CA */
	QUOTE_ERR_AK_CERT_KEY,	 /* AK certificate's key is not the AK */
	QUOTE_ERR_UNSUPPORTED,	 /* signature scheme / hash / key type not supported */
};

struct quote {
	TPMS_ATTEST attest;
	TPMT_SIGNATURE sig;
	uint8_t *msg; /* quote.msg as read: the bytes the AK signed */
	size_t msg_len;
};

/* Decoders: the whole buffer must be one structure (trailing bytes are an error). */
enum quote_status quote_decode_attest(const uint8_t *buf, size_t len, TPMS_ATTEST *out,
				      char why[QUOTE_WHY_MAX]);
enum quote_status quote_decode_signature(const uint8_t *buf, size_t len, TPMT_SIGNATURE *out,
					 char why[QUOTE_WHY_MAX]);
/* Decodes both and keeps a copy of msg; *out is freed with quote_free(). */
enum quote_status quote_decode(const uint8_t *msg, size_t msg_len, const uint8_t *sig,
			       size_t sig_len, struct quote **out, char why[QUOTE_WHY_MAX]);
/* quote_decode() of the files msg_path (quote.msg) and sig_path (quote.sig). */
enum quote_status quote_load(const char *msg_path, const char *sig_path, struct quote **out,
			     char why[QUOTE_WHY_MAX]);
void quote_free(struct quote *q);

/* Reads a PEM public key ("PUBLIC KEY") or, failing that, the key of a PEM certificate. */
enum quote_status quote_load_pubkey(const char *path, EVP_PKEY **out, char why[QUOTE_WHY_MAX]);

/* "sha256:10,15" or several banks joined by '+' ("sha256:10,15+sha1:0"), as tpm2-tools. */
enum quote_status quote_parse_selection(const char *text, TPML_PCR_SELECTION *out,
					char why[QUOTE_WHY_MAX]);
/* Writes the selection in the same text form; returns snprintf's result. */
int quote_format_selection(const TPML_PCR_SELECTION *sel, char *buf, size_t len);
/* Bytes of PCR values a selection covers (sum over banks of digest size * PCRs); 0 if a bank's
 * hash is unknown. */
size_t quote_selection_values_len(const TPML_PCR_SELECTION *sel);
/* The signature scheme's hash (TPM2_ALG_SHA256...), TPM2_ALG_ERROR for unsupported schemes. */
TPMI_ALG_HASH quote_sig_hash(const TPMT_SIGNATURE *sig);

/* The checks. */
enum quote_status quote_check_magic(const struct quote *q, char why[QUOTE_WHY_MAX]);
enum quote_status quote_check_type(const struct quote *q, char why[QUOTE_WHY_MAX]);
/* ECDSA, RSASSA-PKCS1-v1_5 or RSA-PSS over q->msg, the hash taken from the signature scheme. */
enum quote_status quote_check_signature(const struct quote *q, EVP_PKEY *ak,
					char why[QUOTE_WHY_MAX]);
enum quote_status quote_check_qualifying(const struct quote *q, const uint8_t *expected, size_t len,
					 char why[QUOTE_WHY_MAX]);
enum quote_status quote_check_clock(const TPMS_ATTEST *attest, char why[QUOTE_WHY_MAX]);
/* Same banks in the same order with the same PCRs (trailing zero select bytes ignored). */
enum quote_status quote_check_selection(const struct quote *q, const TPML_PCR_SELECTION *expected,
					char why[QUOTE_WHY_MAX]);
/*
 * values: the selected PCR values concatenated in selection order (bank by bank, PCR index
 * ascending), as `tpm2_pcrread -o` writes them. pcrDigest must equal their hash under the
 * signature scheme's hash (TPM 2.0 Part 3, TPM2_Quote; the check tpm2_checkquote makes).
 */
enum quote_status quote_check_pcr_digest(const struct quote *q, const uint8_t *values, size_t len,
					 char why[QUOTE_WHY_MAX]);

/* --ak: the AK equals the pinned key (public key comparison, not PEM text). */
enum quote_status quote_check_ak_pin(EVP_PKEY *ak, EVP_PKEY *pinned, char why[QUOTE_WHY_MAX]);
/*
 * --ca: cert_path (PEM: the AK certificate, then any intermediates) verifies with
 * X509_verify_cert against the CA certificates in ca_paths, and its public key is the AK.
 * Any verification error fails.
 */
enum quote_status quote_check_ak_cert(const char *cert_path, const char *const *ca_paths,
				      size_t n_ca, EVP_PKEY *ak, char why[QUOTE_WHY_MAX]);

/* Human-readable multi-line description: type, clock, firmware, signer, selection, digest. */
void quote_describe(const struct quote *q, FILE *out);

#endif
