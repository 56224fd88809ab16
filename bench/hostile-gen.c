// SPDX-License-Identifier: BSD-2-Clause
/*
 * hostile-gen.c - turns a generated bundle (tests/unit/test_verify.c, -DVERIFY_GEN_ONLY) into
 * the hostile inputs of bench/hostile.sh. Run "gen-bundle --reseal DIR KEY" afterwards: that
 * re-signs quote.msg (the binding changed) and rewrites manifest.json.
 *
 *   hostile-gen cel DIR N [--match]   N redacted records (other runs' records, reduced to their
 *                                     digests) inserted after the baseline of DIR/events.cel
 *   hostile-gen ima DIR N [--match]   N legacy "ima"-template violation entries appended to
 *                                     DIR/ima.bin
 *   hostile-gen policy FILE N         a policy nested N levels deep (flow sequences)
 *
 * With --match the quote's PCR digest is set to the replay of the new log / list, as a TPM
 * that really measured them would sign it: the bundle then verifies, and the figure is the
 * cost of an honest host with a long history. Without it the bundle is what an attacker who
 * holds the AK hands over: the quote no longer matches, and the verifier goes down every
 * fallback it has before it fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/cel.h"
#include "lib/fileio.h"
#include "lib/ima.h"

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "hostile-gen: %s\n", what);
	exit(1);
}

static uint8_t *get(const char *dir, const char *name, size_t *n)
{
	char p[4096];
	uint8_t *buf = NULL;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (fileio_read(p, SIZE_MAX, &buf, n))
		die(p);
	return buf;
}

static FILE *create(const char *dir, const char *name)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!(f = fopen(p, "wb")))
		die(p);
	return f;
}

static void put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	FILE *f = create(dir, name);

	if (fwrite(p, 1, n, f) != n || fclose(f))
		die(name);
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	if (!EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL))
		die("sha256");
}

/* quote.msg is a TPMS_ATTEST whose last field is the TPM2B_DIGEST pcrDigest. */
static void set_pcr_digest(const char *dir, const uint8_t *vals, size_t n)
{
	size_t len;
	uint8_t *q = get(dir, "quote.msg", &len);

	if (len < 34 || q[len - 34] != 0 || q[len - 33] != 32)
		die("quote.msg does not end in a sha256 pcrDigest");
	sha256(vals, n, q + len - 32);
	put(dir, "quote.msg", q, len);
	free(q);
}

/* buf: scratch for the encoding, reused from record to record */
static void write_rec(FILE *f, const struct cel_record *r, uint8_t **buf)
{
	size_t len = 0;

	if (cel_record_encode(r, buf, &len) || fwrite(*buf, 1, len, f) != len)
		die("cannot write a record");
}

/* The bundle's PCR values: the dedicated PCR (events.cel), and PCR 10 when ima.bin exists. */
static void match_quote(const char *dir, unsigned pcr, const uint8_t pcrv[32])
{
	struct ima_list l;
	char p[4096], err[256];
	uint8_t vals[64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/ima.bin", dir);
	if (!(f = fopen(p, "rb"))) {
		set_pcr_digest(dir, pcrv, 32);
		return;
	}
	fclose(f);
	if (ima_read_file(p, NULL, &l, err, sizeof(err)) ||
	    ima_replay(&l, 10, "sha256", 0, SIZE_MAX, vals + (pcr > 10 ? 0 : 32), NULL, err,
		       sizeof(err)))
		die(err);
	ima_list_free(&l);
	memcpy(vals + (pcr > 10 ? 32 : 0), pcrv, 32);
	set_pcr_digest(dir, vals, 64);
}

static void replay_file(const char *dir, unsigned *pcr, uint8_t out[32])
{
	struct cel_log log;
	char err[CEL_ERR_MAX];
	size_t len;
	uint8_t *buf = get(dir, "events.cel", &len);

	if (cel_log_decode(buf, len, &log, NULL, err) ||
	    cel_replay_baseline(&log, log.recs[0].index, TPM2_ALG_SHA256, out, err))
		die(err);
	*pcr = log.recs[0].index;
	cel_log_free(&log);
	free(buf);
}

static void cel(const char *dir, size_t n, int match)
{
	size_t len, pos = 0, used;
	uint8_t *in = get(dir, "events.cel", &len), *enc = NULL, pcrv[32];
	struct cel_record r, red = {0};
	char err[CEL_ERR_MAX];
	FILE *f = create(dir, "events.cel");
	unsigned pcr;
	uint64_t k = 0;

	if (cel_record_decode(in, len, 0, &r, &used, err))
		die(err);
	write_rec(f, &r, &enc);
	red = r;
	red.content = NULL;
	if (cel_record_redact(&red))
		die("redact");
	for (k = 0; k < n; k++) {
		red.recnum = r.recnum + 1 + k;
		for (size_t i = 0; i < red.digests.n; i++) {
			uint64_t seed[2] = {k, red.digests.v[i].alg};
			uint8_t d[32];

			sha256(seed, sizeof(seed), d);
			memset(red.digests.v[i].d, 0, red.digests.v[i].len);
			memcpy(red.digests.v[i].d, d,
			       red.digests.v[i].len < 32 ? red.digests.v[i].len : 32);
		}
		write_rec(f, &red, &enc);
	}
	cel_record_free(&r);
	for (pos = used; pos < len; pos += used) {
		if (cel_record_decode(in + pos, len - pos, pos, &r, &used, err))
			die(err);
		r.recnum += n;
		write_rec(f, &r, &enc);
		cel_record_free(&r);
	}
	if (fclose(f))
		die("events.cel");
	cel_record_free(&red);
	free(enc);
	free(in);
	if (match) {
		replay_file(dir, &pcr, pcrv);
		match_quote(dir, pcr, pcrv);
	}
}

/* Violations of the "ima" template, as ima_add_violation() logs them. */
static void ima(const char *dir, size_t n, int match)
{
	uint8_t *buf = NULL, pcrv[32];
	size_t len = 0;
	unsigned pcr;
	FILE *f;
	char p[4096];

	snprintf(p, sizeof(p), "%s/ima.bin", dir);
	if (!(f = fopen(p, "ab")))
		die(p);
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "/tmp/v%zu", i);
		len = 0;
		if (ima_append_violation(&buf, &len, name) || fwrite(buf, 1, len, f) != len)
			die(p);
	}
	free(buf);
	if (fclose(f))
		die(p);
	if (match) {
		replay_file(dir, &pcr, pcrv);
		match_quote(dir, pcr, pcrv);
	}
}

static void policy(const char *path, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path);
	fputs("version: 1\nexclude:\n  prefixes: ", f);
	for (size_t i = 0; i < n; i++)
		fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fputc(']', f);
	fputc('\n', f);
	if (fclose(f))
		die(path);
}

int main(int argc, char **argv)
{
	int match = argc > 4 && !strcmp(argv[4], "--match");
	size_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;

	if (argc < 4)
		die("usage: hostile-gen cel|ima DIR N [--match] | policy FILE N");
	if (!strcmp(argv[1], "cel"))
		cel(argv[2], n, match);
	else if (!strcmp(argv[1], "ima"))
		ima(argv[2], n, match);
	else if (!strcmp(argv[1], "policy"))
		policy(argv[2], n);
	else
		die("usage: hostile-gen cel|ima DIR N [--match] | policy FILE N");
	return 0;
}
