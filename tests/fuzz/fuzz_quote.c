// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_quote.c - libFuzzer target for the TPMS_ATTEST and TPMT_SIGNATURE decoders and the
 * checks that read decoded fields. Input: a 2-byte big-endian length L, then L bytes of
 * quote.msg, then quote.sig (the corpus seeds are captured swtpm quotes in this layout).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/quote.h"

static EVP_PKEY *ec_key, *rsa_key;
static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* tpm2-tss MU logs each rejected input */
	setenv("TSS2_LOG", "all+none", 1);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	sink = fopen("/dev/null", "w");
	if (!ec_key || !rsa_key || !sink)
		abort();
	return 0;
}

static void checks(const struct quote *q, const uint8_t *data, size_t size)
{
	char why[QUOTE_WHY_MAX];
	TPML_PCR_SELECTION sel;
	uint8_t values[16 * 24 * 64] = {0};
	size_t n = quote_selection_values_len(&q->attest.attested.quote.pcrSelect);

	quote_check_magic(q, why);
	quote_check_type(q, why);
	quote_check_clock(&q->attest, why);
	quote_check_qualifying(q, data, size < 64 ? size : 64, why);
	if (quote_parse_selection("sha256:10,15", &sel, why) != QUOTE_OK)
		abort();
	quote_check_selection(q, &sel, why);
	quote_check_pcr_digest(q, values, n <= sizeof(values) ? n : 64, why);
	quote_check_signature(q, ec_key, why);
	quote_check_signature(q, rsa_key, why);
	quote_describe(q, sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[QUOTE_WHY_MAX];
	TPMT_SIGNATURE sig;
	TPMS_ATTEST attest;
	struct quote *q = NULL;
	size_t msg_len;

	quote_decode_attest(data, size, &attest, why);
	quote_decode_signature(data, size, &sig, why);
	if (size < 2)
		return 0;
	msg_len = (size_t)data[0] << 8 | data[1];
	if (msg_len > size - 2)
		return 0;
	if (quote_decode(data + 2, msg_len, data + 2 + msg_len, size - 2 - msg_len, &q, why) ==
	    QUOTE_OK)
		checks(q, data, size);
	quote_free(q);
	return 0;
}
