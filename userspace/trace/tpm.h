/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm.h - the TPM side of aicert through tpm2-tss ESAPI: pick a TCTI, extend the dedicated PCR in
 * every allocated bank, read PCRs, keep an attestation key, quote. Functions return 0 or a
 * negative errno (-EIO for a failed TPM command); each failure is logged once where it happens,
 * ESAPI failures as "Esys_X(0xRC) - <decoded>".
 */
#ifndef AICERT_TRACE_TPM_H
#define AICERT_TRACE_TPM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cel.h"

#define TPM_PCR_DEFAULT 15
#define TPM_PCR_IMA 10
#define TPM_AK_HANDLE_DEFAULT 0x81010020u
#define TPM_AK_CERT_NV 0x01C101D0u /* TCG's AK certificate index */
/* The longest a TPM command may take; an RSA key is created once, within it on real TPMs. */
#define TPM_TIMEOUT_DEFAULT_MS 60000

enum tpm_ak_alg {
	TPM_AK_ECC = 0, /* NIST P-256, ECDSA with SHA-256 (default) */
	TPM_AK_RSA = 1, /* RSA 2048, RSASSA-PKCS1-v1_5 with SHA-256 */
};

struct tpm;

/*
 * Opens a TPM. tcti NULL or "": $TPM2TOOLS_TCTI, $TCTI, $TSS2_TCTI (each one set, in that order),
 * then device:/dev/tpmrm0 when it exists; the first that initialises wins. When none does, the
 * error names every TCTI tried and why it failed. Every command then gets at most timeout_ms
 * (0: TPM_TIMEOUT_DEFAULT_MS) to answer; past it the command fails with -ETIMEDOUT, and so does
 * every later one (the TPM is treated as gone).
 */
int tpm_open(const char *tcti, int timeout_ms, struct tpm **out);
void tpm_close(struct tpm *t);
/* The TCTI configuration string in use. */
const char *tpm_tcti(const struct tpm *t);

/* 0 when pcr may be aicert's dedicated PCR: 0..23, not 10 (IMA's), and not 16 or 23 (resettable
 * by anyone, so forgeable: -EPERM) unless allow_resettable. Logs why it refuses. */
int tpm_pcr_check(uint32_t pcr, bool allow_resettable);

/* TPM2_ReadClock's clockInfo.safe: false after the TPM restarted without an orderly shutdown,
 * until it next saves its clock; a quote made meanwhile is refused by aicert-verify. */
int tpm_clock_safe(struct tpm *t, bool *safe);

/* The hash banks in which pcr is allocated (TPM2_CAP_PCRS), at most CEL_MAX_BANKS. */
int tpm_banks(struct tpm *t, uint32_t pcr, uint16_t *algs, size_t *n);
/* One PCR of one bank; *len gets the digest size. out holds CEL_MAX_DIGEST bytes. */
int tpm_pcr_read(struct tpm *t, uint32_t pcr, uint16_t alg, uint8_t *out, size_t *len);
/* One TPM2_PCR_Extend with one digest per bank (d must cover every allocated bank). */
int tpm_pcr_extend(struct tpm *t, uint32_t pcr, const struct cel_digests *d);

struct tpm_ak_opts {
	uint32_t handle; /* persistent handle; 0: TPM_AK_HANDLE_DEFAULT */
	enum tpm_ak_alg alg;
};

/*
 * Makes sure the AK exists at opts->handle: reuses it when its public area matches aicert's
 * template, otherwise (handle empty) creates it under the owner hierarchy's ECC SRK (made from
 * the TCG template each time) and persists it. Fails when the handle holds a different key.
 */
int tpm_ak_ensure(struct tpm *t, const struct tpm_ak_opts *opts);

/*
 * TPM2_Quote with the AK over sha256:{10, pcr} and qualifying data qual (<= 64 bytes). Writes
 * into dir: quote.msg (marshalled TPMS_ATTEST), quote.sig (marshalled TPMT_SIGNATURE),
 * ak.pub.pem, and ak.cert.pem when NV index TPM_AK_CERT_NV holds a certificate.
 */
int tpm_quote(struct tpm *t, const struct tpm_ak_opts *opts, uint32_t pcr, const uint8_t *qual,
	      size_t len, const char *dir);

/* TPM commands sent so far through this handle. */
uint64_t tpm_commands(const struct tpm *t);

#endif
