// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_verify.c - aicert-verify's checks against a synthetic bundle and its forgeries.
 *
 * The bundle is made with the library the tracer uses (cel, bom, manifest) and a quote signed
 * by a software ECDSA P-256 "AK" over the replayed PCR values, marshalled with tpm2-tss MU
 * exactly as TPM2_Quote would give it; ima.bin is a real list (tests/fixtures/ima) with the
 * PCR 10 value the TPM held. Each forgery must fail the right check with the right exit code,
 * both as made (the manifest catches it) and "resealed" (manifest and quote redone with the
 * AK, as an attacker holding the TPM could), where the deeper check must catch it.
 *
 * Built with -DVERIFY_GEN_ONLY it is instead the generator used by bench/verify.sh and
 * tests/integration/40-verify-tamper.sh (see gen_main()).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>

#include "lib/bom.h"
#include "lib/cdx.h"
#include "lib/cel.h"
#include "lib/hex.h"
#include "lib/ima.h"
#include "lib/intoto.h"
#include "lib/manifest.h"
#include "lib/quote.h"
#include "lib/verify.h"

#define RUN_ID "6f1c1f3e-8a5e-4f7b-9a47-0d7f3c2b1a90"
#define OTHER_RUN "11111111-2222-4333-8444-555555555555"
#define BOOT_ID "0b5e7c1a-3d4f-4e2a-9b8c-7d6e5f4a3b2c"
#define WEIGHTS "trained weights\n"
#define GEN_VERSION "0.1.0" /* the aicert version run_start records */
/* run_start and run_end times: bom.json's started/finished lie within them */
#define T_START 1795629599849123000ull /* 2026-11-25T17:59:59.849123Z */
#define T_END 1795629900973268000ull   /* 2026-11-25T18:05:00.973268Z */

struct gen {
	const char *dir;
	size_t n_files, batch;
	unsigned pcr;
	const char *ima_dir; /* fixture dir with binary_after and pcr10.sha256; NULL: no IMA */
	size_t
	    ima_quoted; /* quote PCR 10 after this many entries of binary_after (0: pcr10.sha256) */
	bool zero10;	/* no IMA, but the quote covers PCR 10 (zero), as aicert-trace may */
	uint64_t lost;
	bool unattested;
	const uint8_t *nonce;
	size_t nonce_len;
	EVP_PKEY *key; /* the software AK */
	int signal;    /* the command was killed by it (exit status 128 + signal) */
	bool detached;
	uint64_t paths_truncated;
	/* one more input, as IMA measured it: its path, sha256 and bom.json's ima claim */
	const char *ima_path;
	uint8_t ima_sha[32];
	enum bom_ima ima_claim;
	const char *arg1; /* the command's argument (NULL: "train.py") */
	/* one more output without a digest, with this status: CEL_FILE_UNREADABLE (exit 12),
	 * CEL_FILE_DELETED (not counted); 0: none */
	int unmeasured;
};

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "gen: %s\n", what);
	exit(99);
}

static void sha(const void *p, size_t n, uint8_t out[32])
{
	EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL);
}

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		die(path);
}

static uint8_t *get_file(const char *dir, const char *name, size_t *n)
{
	char path[4096];
	uint8_t *buf;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")) || fstat(fileno(f), &st))
		die(path);
	buf = malloc(st.st_size + 1);
	if (!buf || fread(buf, 1, st.st_size, f) != (size_t)st.st_size)
		die(path);
	fclose(f);
	*n = st.st_size;
	return buf;
}

/* ---- the event log ---- */

static const uint16_t algs[] = {TPM2_ALG_SHA1, TPM2_ALG_SHA256};

static void add_event(struct cel_log *log, unsigned pcr, const struct cel_event *e, bool redact)
{
	struct cel_record r = {0};
	uint8_t *c = NULL;
	size_t n = 0;

	if (cel_event_encode(e, &c, &n) ||
	    cel_record_make(&r, log->n, pcr, CEL_CT_AICERT, c, n, algs, 2) ||
	    (redact && cel_record_redact(&r)) || cel_log_append(log, &r))
		die("cannot make a record");
	cel_record_free(&r);
	free(c);
}

static char *path_of(size_t i)
{
	char *p = malloc(64);

	snprintf(p, 64, "/data/shard-%07zu.bin", i);
	return p;
}

static void file_digest(size_t i, uint8_t out[32])
{
	sha(&i, sizeof(i), out);
}

static void make_log(const struct gen *g, struct cel_log *log, struct bom *b)
{
	char *argv[] = {"python3", g->arg1 ? (char *)g->arg1 : "train.py"};
	struct cel_event e = {0};
	struct cel_output out = {.path = "/out/model.bin", .size = strlen(WEIGHTS)};
	uint64_t batches = 0;

	e.kind = CEL_KIND_BASELINE;
	memcpy(e.boot_id, BOOT_ID, 37);
	e.hostname = "gpu01";
	e.kernel = "Linux 6.1.0 #1 SMP Debian x86_64";
	e.pcr_values.n = 2;
	for (int i = 0; i < 2; i++) {
		e.pcr_values.v[i].alg = algs[i];
		e.pcr_values.v[i].len = cel_alg_size(algs[i]);
	}
	add_event(log, g->pcr, &e, false);
	/* a record of an earlier run on the host: in the bundle by its digests only */
	memset(&e, 0, sizeof(e));
	e.kind = CEL_KIND_RUN_START;
	memcpy(e.run_id, OTHER_RUN, 37);
	e.argv = argv, e.argc = 1, e.cwd = "/secret", e.backend = "lsm", e.version = GEN_VERSION;
	add_event(log, g->pcr, &e, true);
	memcpy(e.run_id, RUN_ID, 37);
	e.argc = 2, e.cwd = "/home/u";
	e.time_ns = T_START;
	if (g->nonce) /* given before the run: aicert-trace --nonce records it in run_start */
		memcpy(e.nonce, g->nonce, e.nonce_len = g->nonce_len);
	add_event(log, g->pcr, &e, false);
	for (size_t i = 0; i < g->n_files; i += g->batch) {
		struct cel_event be = {.kind = CEL_KIND_BATCH};
		size_t n = g->n_files - i < g->batch ? g->n_files - i : g->batch;

		memcpy(be.run_id, RUN_ID, 37);
		be.files = calloc(n, sizeof(*be.files));
		be.n_files = n;
		for (size_t j = 0; j < n; j++) {
			struct cel_file *f = &be.files[j];

			f->path = path_of(i + j);
			file_digest(i + j, f->sha256);
			f->size = 4096;
			f->roles = (i + j) ? BOM_ROLE_INPUT : BOM_ROLE_EXECUTABLE;
		}
		add_event(log, g->pcr, &be, false);
		for (size_t j = 0; j < n; j++) {
			char hx[65];
			struct bom_file *bf;

			hex_encode(be.files[j].sha256, 32, hx);
			if (!(bf = bom_add_file(b, be.files[j].path, hx)))
				die("bom_add_file");
			bf->size = 4096;
			bf->roles = be.files[j].roles;
			bf->category = strdup((i + j) ? "dataset" : "code");
			/* the shards are made up: a real list never measured them */
			bf->ima = g->ima_dir ? BOM_IMA_ABSENT : BOM_IMA_UNAVAILABLE;
		}
		for (size_t j = 0; j < n; j++)
			free(be.files[j].path);
		free(be.files);
		batches++;
	}
	if (g->ima_path) {
		struct cel_file f = {
		    .path = (char *)g->ima_path, .size = 1, .roles = BOM_ROLE_INPUT};
		struct cel_event be = {.kind = CEL_KIND_BATCH, .files = &f, .n_files = 1};
		struct bom_file *bf;
		char hx[65];

		memcpy(be.run_id, RUN_ID, 37);
		memcpy(f.sha256, g->ima_sha, 32);
		add_event(log, g->pcr, &be, false);
		batches++;
		hex_encode(f.sha256, 32, hx);
		if (!(bf = bom_add_file(b, f.path, hx)))
			die("bom_add_file");
		bf->size = 1;
		bf->roles = BOM_ROLE_INPUT;
		bf->category = strdup("code");
		bf->ima = g->ima_claim;
	}
	if (g->unmeasured) {
		struct cel_file f = {.path = "/out/ckpt.bin",
				     .size = 7,
				     .roles = BOM_ROLE_OUTPUT,
				     .status = g->unmeasured};
		struct cel_event be = {.kind = CEL_KIND_BATCH, .files = &f, .n_files = 1};
		struct bom_file *bf;

		memcpy(be.run_id, RUN_ID, 37);
		add_event(log, g->pcr, &be, false);
		batches++;
		if (!(bf = bom_add_file(b, f.path, NULL)))
			die("bom_add_file");
		bf->size = 7;
		bf->roles = BOM_ROLE_OUTPUT;
		bf->status =
		    strdup(g->unmeasured == CEL_FILE_DELETED ? "deleted before the run ended"
							     : "unreadable: Permission denied");
	}
	if (g->lost) {
		struct cel_event le = {.kind = CEL_KIND_LOSS, .lost = g->lost};

		memcpy(le.run_id, RUN_ID, 37);
		add_event(log, g->pcr, &le, false);
	}
	memset(&e, 0, sizeof(e));
	e.kind = CEL_KIND_RUN_END;
	e.time_ns = T_END;
	memcpy(e.run_id, RUN_ID, 37);
	sha(WEIGHTS, strlen(WEIGHTS), out.sha256);
	e.outputs = &out, e.n_outputs = 1;
	e.total_files = g->n_files + !!g->ima_path + !!g->unmeasured, e.total_lost = g->lost,
	e.total_batches = batches;
	e.exit_status = g->signal ? 128 + g->signal : 0;
	e.signal = g->signal;
	e.detached = g->detached;
	e.paths_truncated = g->paths_truncated;
	add_event(log, g->pcr, &e, false);
	{
		char hx[65];
		struct bom_file *bf;

		hex_encode(out.sha256, 32, hx);
		if (!(bf = bom_add_file(b, out.path, hx)))
			die("bom_add_file");
		bf->size = strlen(WEIGHTS);
		bf->roles = BOM_ROLE_OUTPUT;
		bf->category = strdup("model");
		bf->ima = g->ima_dir ? BOM_IMA_ABSENT : BOM_IMA_UNAVAILABLE;
	}
}

static void fill_bom(const struct gen *g, struct bom *b)
{
	char *argv[] = {"python3", g->arg1 ? (char *)g->arg1 : "train.py"};

	b->run.id = strdup(RUN_ID);
	bom_set_command(b, argv, 2);
	b->run.cwd = strdup("/home/u");
	b->run.exit_code = g->signal ? -1 : 0;
	b->run.signal = g->signal;
	b->run.detached = g->detached;
	b->run.paths_truncated = g->paths_truncated;
	b->run.started = strdup("2026-11-25T17:59:59.851Z");
	b->run.finished = strdup("2026-11-25T18:05:00.969Z");
	b->run.backend = strdup("lsm");
	b->run.events_lost = g->lost;
	b->run.complete = !g->lost && !g->detached && !g->paths_truncated;
	b->host.hostname = strdup("gpu01");
	b->host.kernel = strdup("6.1.0");
	b->host.boot_id = strdup(BOOT_ID);
	b->host.tpm = strdup(g->unattested ? "none (unattested)" : "software AK (test)");
	b->attested = !g->unattested;
}

/* ---- the quote, as a TPM would make it ---- */

static void pcr10_value(const char *ima_dir, uint8_t out[32])
{
	size_t n;
	char *txt = (char *)get_file(ima_dir, "pcr10.sha256", &n);

	txt[64] = '\0';
	if (n < 64 || hex_decode(txt, out, 32))
		die("pcr10.sha256");
	free(txt);
}

/* PCR 10 (sha256) after the first n entries of the fixture's binary_after. */
static void ima_prefix_value(const char *ima_dir, size_t n, uint8_t out[32])
{
	struct ima_list l = {0};
	char p[4096], err[256];

	snprintf(p, sizeof(p), "%s/binary_after", ima_dir);
	if (ima_read_file(p, NULL, &l, err, sizeof(err)) ||
	    ima_replay(&l, 10, "sha256", 0, n, out, NULL, err, sizeof(err)))
		die(err);
	ima_list_free(&l);
}

static void sign_msg(EVP_PKEY *key, const uint8_t *msg, size_t n, TPMT_SIGNATURE *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[128];
	const uint8_t *p = der;
	size_t dl = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;

	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, der, &dl, msg, n) != 1 || !(es = d2i_ECDSA_SIG(NULL, &p, dl)))
		die("ECDSA sign");
	ECDSA_SIG_get0(es, &r, &s);
	memset(sig, 0, sizeof(*sig));
	sig->sigAlg = TPM2_ALG_ECDSA;
	sig->signature.ecdsa.hash = TPM2_ALG_SHA256;
	sig->signature.ecdsa.signatureR.size =
	    BN_bn2binpad(r, sig->signature.ecdsa.signatureR.buffer, 32);
	sig->signature.ecdsa.signatureS.size =
	    BN_bn2binpad(s, sig->signature.ecdsa.signatureS.buffer, 32);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
}

/* Signs attest with key and writes quote.msg, quote.sig. */
static void write_quote(const char *dir, EVP_PKEY *key, const TPMS_ATTEST *a)
{
	uint8_t msg[sizeof(TPMS_ATTEST)], sb[sizeof(TPMT_SIGNATURE)];
	size_t mn = 0, sn = 0;
	TPMT_SIGNATURE sig;

	if (Tss2_MU_TPMS_ATTEST_Marshal(a, msg, sizeof(msg), &mn))
		die("marshal attest");
	sign_msg(key, msg, mn, &sig);
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sb, sizeof(sb), &sn))
		die("marshal signature");
	put_file(dir, "quote.msg", msg, mn);
	put_file(dir, "quote.sig", sb, sn);
}

static void quote(const struct gen *g, const uint8_t pcr_value[32], const uint8_t qual[32])
{
	TPMS_ATTEST a = {0};
	uint8_t vals[64], p10[32];
	char sel[32], why[QUOTE_WHY_MAX];
	size_t vn = 32;

	if (g->ima_dir || g->zero10) {
		memset(p10, 0, sizeof(p10));
		if (g->ima_dir && !g->ima_quoted)
			pcr10_value(g->ima_dir, p10);
		else if (g->ima_dir)
			ima_prefix_value(g->ima_dir, g->ima_quoted, p10);
		memcpy(vals + (g->pcr > 10 ? 0 : 32), p10, 32);
		memcpy(vals + (g->pcr > 10 ? 32 : 0), pcr_value, 32);
		vn = 64;
		snprintf(sel, sizeof(sel), "sha256:%u,%u", g->pcr > 10 ? 10 : g->pcr,
			 g->pcr > 10 ? g->pcr : 10);
	} else {
		memcpy(vals, pcr_value, 32);
		snprintf(sel, sizeof(sel), "sha256:%u", g->pcr);
	}
	a.magic = TPM2_GENERATED_VALUE;
	a.type = TPM2_ST_ATTEST_QUOTE;
	a.qualifiedSigner.size = 34;
	a.qualifiedSigner.name[1] = 0x0b;
	a.extraData.size = 32;
	memcpy(a.extraData.buffer, qual, 32);
	a.clockInfo.clock = 123456;
	a.clockInfo.resetCount = 1;
	a.clockInfo.safe = TPM2_YES;
	a.firmwareVersion = 0x2000000000000ull;
	if (quote_parse_selection(sel, &a.attested.quote.pcrSelect, why))
		die(why);
	a.attested.quote.pcrDigest.size = 32;
	sha(vals, vn, a.attested.quote.pcrDigest.buffer);
	write_quote(g->dir, g->key, &a);
}

static void write_pub(const char *dir, const char *name, EVP_PKEY *key)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")) || PEM_write_PUBKEY(f, key) != 1 || fclose(f))
		die(path);
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		die("EVP_EC_gen");
	return k;
}

static void binding(const char *dir, unsigned pcr, const uint8_t *nonce, size_t nn, uint8_t out[32])
{
	struct manifest *m = NULL;
	char why[MANIFEST_WHY_MAX];

	if (manifest_scan(dir, pcr, nonce, nn, &m, why) || manifest_binding(m, out))
		die(why);
	manifest_free(m);
}

/* bom.cdx.json and provenance.intoto.json as aicert-trace writes them (the run_start version). */
static void write_docs(const char *dir, const struct bom *b, const uint8_t *cel, size_t n)
{
	uint8_t d[32];
	char hx[65], *cdx, *prov;

	SHA256(cel, n, d);
	hex_encode(d, 32, hx);
	cdx = cdx_render(b, GEN_VERSION);
	prov = intoto_render(b, hx, GEN_VERSION);
	if (!cdx || !prov)
		die("cdx_render/intoto_render");
	put_file(dir, "bom.cdx.json", cdx, strlen(cdx));
	put_file(dir, "provenance.intoto.json", prov, strlen(prov));
	free(cdx);
	free(prov);
}

#ifdef VERIFY_GEN_ONLY
/* --docs DIR: bom.cdx.json and provenance.intoto.json again from the bundle's bom.json and
 * events.cel, after a change to either (the hostile-input bench appends to the log). */
static void redo_docs(const char *dir)
{
	struct bom b;
	uint8_t *cel;
	size_t n;
	char path[4096], err[256];

	bom_init(&b);
	snprintf(path, sizeof(path), "%s/bom.json", dir);
	if (bom_read(&b, path, err, sizeof(err)))
		die(err);
	cel = get_file(dir, "events.cel", &n);
	write_docs(dir, &b, cel, n);
	free(cel);
	bom_free(&b);
}

#endif

static void make_bundle(const struct gen *g)
{
	struct cel_log log = {0};
	struct bom b;
	uint8_t *enc = NULL, pcrv[32], qual[32];
	size_t n = 0;
	char err[CEL_ERR_MAX], why[MANIFEST_WHY_MAX];

	if (mkdir(g->dir, 0755) && errno != EEXIST)
		die(g->dir);
	bom_init(&b);
	fill_bom(g, &b);
	make_log(g, &log, &b);
	if (cel_log_encode(&log, &enc, &n))
		die("cel_log_encode");
	put_file(g->dir, "events.cel", enc, n);
	if (cel_replay_baseline(&log, g->pcr, TPM2_ALG_SHA256, pcrv, err))
		die(err);
	snprintf(err, sizeof(err), "%s/bom.json", g->dir);
	if (bom_write(&b, err))
		die("bom_write");
	write_docs(g->dir, &b, enc, n);
	if (g->ima_dir) {
		uint8_t *ima = get_file(g->ima_dir, "binary_after", &n);

		put_file(g->dir, "ima.bin", ima, n);
		free(ima);
	}
	if (!g->unattested) {
		binding(g->dir, g->pcr, g->nonce, g->nonce_len, qual);
		quote(g, pcrv, qual);
		write_pub(g->dir, "ak.pub.pem", g->key);
	}
	if (manifest_build(g->dir, g->pcr, g->nonce, g->nonce_len, NULL, why))
		die(why);
	free(enc);
	cel_log_free(&log);
	bom_free(&b);
}

/*
 * What an attacker holding the AK does after editing a bundle: recompute the binding, quote
 * it again (the PCR digest stays: the TPM's PCRs did not change), and rewrite manifest.json.
 * sel: a PCR selection to quote instead (NULL: keep).
 */
static void reseal(const char *dir, EVP_PKEY *key, const uint8_t *nonce, size_t nn, const char *sel)
{
	struct manifest *m = NULL;
	struct quote *q = NULL;
	char why[QUOTE_WHY_MAX], mp[4096], sp[4096];
	uint8_t qual[32];

	snprintf(mp, sizeof(mp), "%s/manifest.json", dir);
	if (manifest_read(mp, &m, why))
		die(why);
	snprintf(mp, sizeof(mp), "%s/quote.msg", dir);
	snprintf(sp, sizeof(sp), "%s/quote.sig", dir);
	if (quote_load(mp, sp, &q, why))
		die(why);
	unlink(mp), unlink(sp);
	binding(dir, m->pcr, nonce, nn, qual);
	q->attest.extraData.size = 32;
	memcpy(q->attest.extraData.buffer, qual, 32);
	if (sel && quote_parse_selection(sel, &q->attest.attested.quote.pcrSelect, why))
		die(why);
	write_quote(dir, key, &q->attest);
	if (manifest_build(dir, m->pcr, nonce, nn, NULL, why))
		die(why);
	quote_free(q);
	manifest_free(m);
}

/* ---- forgeries of events.cel ---- */

enum log_tamper {
	T_FLIP,		    /* a byte of a record's content */
	T_DELETE,	    /* a record */
	T_REORDER,	    /* two records swapped, recnums kept in order */
	T_DUPLICATE,	    /* a record repeated */
	T_APPEND,	    /* a well-formed redacted record at the end */
	T_TRUNCATE,	    /* the file cut inside its last record */
	T_REDACTED_DIGEST,  /* the redacted record's sha256 digest */
	T_REDACTED_CONTENT, /* the redacted record's marker */
	T_REDACT_OWN,	    /* one of the run's batch records redacted (digests kept) */
	T_RENUMBER,	    /* recnums shifted after a deleted record, so they stay contiguous */
};

static const char *const log_tamper_names[] = {
    "flip",	"delete",	   "reorder",	       "duplicate",  "append",
    "truncate", "redacted-digest", "redacted-content", "redact-own", "renumber",
};
#define N_LOG_TAMPERS (sizeof(log_tamper_names) / sizeof(log_tamper_names[0]))

static size_t find_kind(const struct cel_log *log, enum cel_kind k)
{
	for (size_t i = 0; i < log->n; i++) {
		struct cel_event e;
		char err[CEL_ERR_MAX];
		enum cel_kind got;

		if (log->recs[i].content_type != CEL_CT_AICERT ||
		    cel_event_decode(log->recs[i].content, log->recs[i].content_len, &e, err))
			continue;
		got = e.kind;
		cel_event_free(&e);
		if (got == k)
			return i;
	}
	die("record kind not found");
}

static size_t find_redacted(const struct cel_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		if (log->recs[i].content_type == CEL_CT_REDACTED)
			return i;
	die("no redacted record");
}

static void tamper_log(const char *dir, enum log_tamper t)
{
	struct cel_log log = {0}, out = {0};
	uint8_t *buf, *enc = NULL;
	size_t n, en = 0, b = 0, x = 0;
	char err[CEL_ERR_MAX];

	buf = get_file(dir, "events.cel", &n);
	if (t == T_TRUNCATE) {
		put_file(dir, "events.cel", buf, n - 5);
		free(buf);
		return;
	}
	if (cel_log_decode(buf, n, &log, NULL, err))
		die(err);
	b = find_kind(&log, CEL_KIND_BATCH);
	x = find_redacted(&log);
	switch (t) {
	case T_FLIP:
		log.recs[b].content[log.recs[b].content_len / 2] ^= 0x01;
		break;
	case T_REDACTED_DIGEST:
		log.recs[x].digests.v[1].d[0] ^= 0x01;
		break;
	case T_REDACTED_CONTENT:
		log.recs[x].content[0] ^= 0x20;
		break;
	case T_REDACT_OWN:
		cel_record_redact(&log.recs[b]);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < log.n; i++) {
		struct cel_record r = log.recs[i];

		if ((t == T_DELETE || t == T_RENUMBER) && i == b)
			continue;
		if (t == T_RENUMBER && i > b)
			r.recnum--;
		if (t == T_REORDER && (i == b || i == b + 1))
			r = log.recs[i == b ? b + 1 : b];
		cel_log_append(&out, &r);
		if (t == T_DUPLICATE && i == b)
			cel_log_append(&out, &r);
	}
	if (t == T_APPEND) {
		struct cel_record r = log.recs[x];

		r.recnum = log.n;
		r.digests.v[0].d[0] ^= 1, r.digests.v[1].d[0] ^= 1;
		cel_log_append(&out, &r);
	}
	if (cel_log_encode(&out, &enc, &en))
		die("cel_log_encode");
	put_file(dir, "events.cel", enc, en);
	free(enc);
	free(buf);
	cel_log_free(&log);
	cel_log_free(&out);
}

/* ---- forgeries of bom.json ---- */

enum bom_tamper {
	B_DIGEST,
	B_ADD,
	B_REMOVE,
	B_ROLE,
	B_RUN_ID,
	B_EXIT,
	B_LOST,
	B_COMMAND, /* an argument changed (a byte that is not UTF-8) */
	B_ARGC,	   /* an argument dropped */
	B_CWD,
	B_BACKEND,
	B_STARTED,   /* 2 ms before run_start */
	B_FINISHED,  /* 1 ms after run_end */
	B_SIGNAL,    /* killed by SIGKILL (exit_code -1, signal 9) */
	B_UNSIGNAL,  /* signal 0, exit_code 128 + signal: "exited 137" for a killed command */
	B_DETACHED,  /* detached flipped, complete made consistent with it */
	B_COMPLETE,  /* complete flipped */
	B_TRUNCATED, /* paths_truncated + 1 */
	B_SIZE,
	B_STATUS, /* files[0] "vanished" (digest kept) */
	B_HOSTNAME,
	B_KERNEL,
	B_IMA,	   /* files[0].ima "match" */
	B_IMA_OFF, /* every file's ima "unavailable" (fails ima, not bom: see test_ima) */
};
static const char *const bom_tamper_names[] = {
    "digest",	"add",	     "remove",	"role",	   "run-id",   "exit",	 "lost",     "command",
    "argc",	"cwd",	     "backend", "started", "finished", "signal", "unsignal", "detached",
    "complete", "truncated", "size",	"status",  "hostname", "kernel", "ima",	     "ima-off",
};
#define N_BOM_TAMPERS (sizeof(bom_tamper_names) / sizeof(bom_tamper_names[0]))

static void tamper_bom(const char *dir, enum bom_tamper t)
{
	struct bom b;
	char p[4096], err[512];

	bom_init(&b);
	snprintf(p, sizeof(p), "%s/bom.json", dir);
	if (bom_read(&b, p, err, sizeof(err)))
		die(err);
	switch (t) {
	case B_DIGEST:
		b.files[0].sha256[0] = b.files[0].sha256[0] == 'a' ? 'b' : 'a';
		break;
	case B_ADD: {
		struct bom_file *f = bom_add_file(
		    &b, "/data/extra.bin",
		    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

		f->roles = BOM_ROLE_INPUT;
		f->category = strdup("dataset");
		break;
	}
	case B_REMOVE:
		free(b.files[0].path);
		free(b.files[0].category);
		free(b.files[0].status);
		memmove(&b.files[0], &b.files[1], (b.nfiles - 1) * sizeof(b.files[0]));
		b.nfiles--;
		break;
	case B_ROLE:
		b.files[0].roles ^= BOM_ROLE_LIBRARY;
		break;
	case B_RUN_ID:
		b.run.id[0] = b.run.id[0] == '0' ? '1' : '0';
		break;
	case B_EXIT:
		b.run.exit_code = 3;
		break;
	case B_LOST:
		b.run.events_lost = 7;
		break;
	case B_COMMAND:
		free(b.run.command[1]);
		b.run.command[1] = strdup("train\xff.py");
		break;
	case B_ARGC:
		free(b.run.command[--b.run.argc]);
		b.run.command[b.run.argc] = NULL;
		break;
	case B_CWD:
		free(b.run.cwd);
		b.run.cwd = strdup("/home/v");
		break;
	case B_BACKEND:
		free(b.run.backend);
		b.run.backend = strdup("fanotify");
		break;
	case B_STARTED:
		free(b.run.started);
		b.run.started = strdup("2026-11-25T17:59:59.847Z");
		break;
	case B_FINISHED:
		free(b.run.finished);
		b.run.finished = strdup("2026-11-25T18:05:00.974Z");
		break;
	case B_SIGNAL:
		b.run.exit_code = -1, b.run.signal = 9;
		break;
	case B_UNSIGNAL:
		b.run.exit_code = 128 + b.run.signal, b.run.signal = 0;
		break;
	case B_DETACHED:
		b.run.detached = !b.run.detached;
		b.run.complete = !b.run.events_lost && !b.run.paths_truncated && !b.run.detached;
		break;
	case B_COMPLETE:
		b.run.complete = !b.run.complete;
		break;
	case B_TRUNCATED:
		b.run.paths_truncated++;
		b.run.complete = 0;
		break;
	case B_SIZE:
		b.files[0].size++;
		break;
	case B_STATUS:
		free(b.files[0].status);
		b.files[0].status = strdup("vanished");
		break;
	case B_HOSTNAME:
		free(b.host.hostname);
		b.host.hostname = strdup("gpu02");
		break;
	case B_KERNEL:
		free(b.host.kernel);
		b.host.kernel = strdup("6.1.1");
		break;
	case B_IMA:
		b.files[0].ima = b.files[0].ima == BOM_IMA_MATCH ? BOM_IMA_ABSENT : BOM_IMA_MATCH;
		break;
	case B_IMA_OFF:
		for (size_t i = 0; i < b.nfiles; i++)
			b.files[i].ima = BOM_IMA_UNAVAILABLE;
		break;
	}
	if (bom_write(&b, p))
		die("bom_write");
	bom_free(&b);
}

/* Manifest's PCR index changed, the binding recomputed by the tamperer. */
static void tamper_manifest_pcr(const char *dir, unsigned pcr)
{
	struct manifest *m = NULL;
	char p[4096], why[MANIFEST_WHY_MAX];

	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	if (manifest_read(p, &m, why))
		die(why);
	m->pcr = pcr;
	if (manifest_binding(m, m->qualifying_data) || manifest_write(dir, m, why))
		die(why);
	manifest_free(m);
}

/* What a tamperer without the AK can do: rewrite manifest.json (same pcr and nonce) over the
 * files as they are now; with print, only print the binding that a new quote would need. */
static void rebuild_manifest(const char *dir, bool print)
{
	struct manifest *m = NULL, *n = NULL;
	char p[4096], why[MANIFEST_WHY_MAX], hx[65];
	uint8_t b[32];

	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	if (manifest_read(p, &m, why))
		die(why);
	if (print) {
		if (manifest_scan(dir, m->pcr, m->has_nonce ? m->nonce : NULL, m->nonce_len, &n,
				  why) ||
		    manifest_binding(n, b))
			die(why);
		hex_encode(b, 32, hx);
		printf("%s\n", hx);
	} else if (manifest_build(dir, m->pcr, m->has_nonce ? m->nonce : NULL, m->nonce_len, NULL,
				  why)) {
		die(why);
	}
	manifest_free(m);
	manifest_free(n);
}

#ifdef VERIFY_GEN_ONLY
/*
 * gen-bundle DIR NFILES [BATCH] [--ima FIXDIR] [--nonce HEX] [--lost N] [--unattested] [--zero10]
 *                                             (writes DIR and DIR.key.pem: the software AK)
 * gen-bundle --reseal DIR KEY [--nonce HEX] [--sel SELECTION]
 * gen-bundle --tamper-log DIR CASE | --tamper-bom DIR CASE | --manifest-pcr DIR N
 * gen-bundle --binding DIR | --manifest DIR      (see rebuild_manifest())
 */
static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (!k)
		die(path);
	fclose(f);
	return k;
}

static int pick(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return (int)i;
	die(name);
}

int main(int argc, char **argv)
{
	struct gen g = {.batch = 1000, .pcr = 15};
	static uint8_t nonce[64];
	const char *sel = NULL, *reseal_dir = NULL, *key = NULL;
	size_t pos = 0;

	if (argc >= 4 && !strcmp(argv[1], "--tamper-log"))
		return tamper_log(argv[2], pick(log_tamper_names, N_LOG_TAMPERS, argv[3])), 0;
	if (argc >= 4 && !strcmp(argv[1], "--tamper-bom"))
		return tamper_bom(argv[2], pick(bom_tamper_names, N_BOM_TAMPERS, argv[3])), 0;
	if (argc >= 3 && !strcmp(argv[1], "--docs"))
		return redo_docs(argv[2]), 0;
	if (argc >= 3 && !strcmp(argv[1], "--binding"))
		return rebuild_manifest(argv[2], true), 0;
	if (argc >= 3 && !strcmp(argv[1], "--manifest"))
		return rebuild_manifest(argv[2], false), 0;
	if (argc >= 4 && !strcmp(argv[1], "--manifest-pcr"))
		return tamper_manifest_pcr(argv[2], atoi(argv[3])), 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ima") && i + 1 < argc)
			g.ima_dir = argv[++i];
		else if (!strcmp(argv[i], "--nonce") && i + 1 < argc) {
			g.nonce_len = strlen(argv[++i]) / 2;
			if (hex_decode(argv[i], nonce, g.nonce_len))
				die("--nonce");
			g.nonce = nonce;
		} else if (!strcmp(argv[i], "--lost") && i + 1 < argc)
			g.lost = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--unattested"))
			g.unattested = true;
		else if (!strcmp(argv[i], "--zero10"))
			g.zero10 = true;
		else if (!strcmp(argv[i], "--sel") && i + 1 < argc)
			sel = argv[++i];
		else if (!strcmp(argv[i], "--reseal") && i + 2 < argc)
			reseal_dir = argv[i + 1], key = argv[i + 2], i += 2;
		else if (pos == 0)
			g.dir = argv[i], pos++;
		else if (pos == 1)
			g.n_files = strtoull(argv[i], NULL, 10), pos++;
		else if (pos == 2)
			g.batch = strtoull(argv[i], NULL, 10), pos++;
		else
			die("usage: see test_verify.c");
	}
	if (reseal_dir) {
		EVP_PKEY *k = read_key(key);

		reseal(reseal_dir, k, g.nonce, g.nonce_len, sel);
		EVP_PKEY_free(k);
		return 0;
	}
	if (!g.dir || !g.n_files)
		die("usage: gen-bundle DIR NFILES [BATCH] [options]");
	g.key = new_key();
	make_bundle(&g);
	{
		char kp[4096];
		FILE *f;

		snprintf(kp, sizeof(kp), "%s.key.pem", g.dir);
		if (!(f = fopen(kp, "w")) ||
		    PEM_write_PrivateKey(f, g.key, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f))
			die(kp);
	}
	EVP_PKEY_free(g.key);
	return 0;
}
#else
#include <cmocka.h>

/* ---- the tests ---- */

static const char *fixtures(void)
{
	const char *f = getenv("AICERT_FIXTURES");

	return f ? f : "tests/fixtures";
}

struct world {
	char root[64], good[128], noima[128], dir[128], ak[160], other_ak[160], ima[512];
	EVP_PKEY *key, *other;
};

static void rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct gen g = {.n_files = 25, .batch = 10, .pcr = 15};

	snprintf(w->root, sizeof(w->root), "/tmp/test_verify.XXXXXX");
	if (!mkdtemp(w->root))
		return -1;
	snprintf(w->good, sizeof(w->good), "%s/good", w->root);
	snprintf(w->dir, sizeof(w->dir), "%s/b", w->root);
	snprintf(w->ak, sizeof(w->ak), "%s/ak.pub.pem", w->good);
	snprintf(w->other_ak, sizeof(w->other_ak), "%s/other.pem", w->root);
	snprintf(w->ima, sizeof(w->ima), "%s/ima/ima-ng-sha256", fixtures());
	w->key = new_key();
	w->other = new_key();
	write_pub(w->root, "other.pem", w->other);
	g.dir = w->good;
	g.key = w->key;
	g.ima_dir = w->ima;
	make_bundle(&g);
	snprintf(w->noima, sizeof(w->noima), "%s/noima", w->root);
	g.dir = w->noima;
	g.ima_dir = NULL;
	make_bundle(&g);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	rm_rf(w->root);
	EVP_PKEY_free(w->key);
	EVP_PKEY_free(w->other);
	free(w);
	return 0;
}

/* A fresh copy of a good bundle in w->dir. */
static void fresh_from(struct world *w, const char *good)
{
	char cmd[400];

	rm_rf(w->dir);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", good, w->dir);
	assert_int_equal(system(cmd), 0);
}

static void fresh(struct world *w)
{
	fresh_from(w, w->good);
}

static int run(struct world *w, const char *ak, const uint8_t *nonce, size_t nn,
	       const char *weights, struct verify_report *r)
{
	struct verify_opts o = {.bundle = w->dir, .ak_pem = ak, .nonce = nonce, .nonce_len = nn};

	if (weights) {
		o.weights = &weights;
		o.n_weights = 1;
	}
	return verify_bundle(&o, r);
}

/* The check named id failed, and the exit code is want. */
static void expect(const struct verify_report *r, enum verify_check_id id, int want)
{
	if (r->checks[id].ok || r->exit_code != want) {
		verify_report_print(r, stderr);
		fail_msg("expected %s to fail with exit %d; got exit %d", verify_check_name(id),
			 want, r->exit_code);
	}
}

static void test_good(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	char wpath[200];

	fresh(w);
	snprintf(wpath, sizeof(wpath), "%s/w.bin", w->root);
	put_file(w->root, "w.bin", WEIGHTS, strlen(WEIGHTS));
	if (run(w, w->ak, NULL, 0, wpath, &r)) {
		verify_report_print(&r, stderr);
		fail_msg("the good bundle does not verify");
	}
	assert_string_equal(r.verdict, "verified");
	/* pcr10.sha256 was read after binary_after's 61 entries (the fixture's README) */
	assert_int_equal(r.ima_covered, 61);
	assert_int_equal(r.ima_entries, 61);
	assert_int_equal(r.ima_uncovered, 0);
	assert_non_null(strstr(r.checks[VERIFY_IMA].reason, "UNAUTHENTICATED"));
	assert_int_equal(r.run_files, 26);
}

static void test_json(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	json_t *j;

	fresh(w);
	run(w, NULL, NULL, 0, NULL, &r);
	j = verify_report_json(&r);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), VERIFY_EXIT_AK);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "failed");
	/* a run's bundle, not a log quote; no check is "not applicable" */
	assert_false(r.log_quote);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "bundle");
	assert_int_equal(json_array_size(json_object_get(j, "checks")), VERIFY_N_CHECKS);
	for (int i = 0; i < VERIFY_N_CHECKS; i++)
		assert_null(json_object_get(json_array_get(json_object_get(j, "checks"), i),
					    "applicable"));
	assert_false(json_is_true(
	    json_object_get(json_array_get(json_object_get(j, "checks"), VERIFY_AK), "ok")));
	json_decref(j);
}

static void test_ak(void **state)
{
	struct world *w = *state;
	struct verify_report r;

	fresh(w);
	expect((run(w, NULL, NULL, 0, NULL, &r), &r), VERIFY_AK, VERIFY_EXIT_AK);
	expect((run(w, w->other_ak, NULL, 0, NULL, &r), &r), VERIFY_AK, VERIFY_EXIT_AK);
	/* the bundle's own key replaced by the attacker's, quote re-signed: pin catches it */
	write_pub(w->dir, "ak.pub.pem", w->other);
	reseal(w->dir, w->other, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_AK, VERIFY_EXIT_AK);
}

static void test_quote_forgeries(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	char other[200];
	size_t n;
	uint8_t *sig;

	/* corrupted signature */
	fresh(w);
	sig = get_file(w->dir, "quote.sig", &n);
	sig[n - 3] ^= 0x40;
	put_file(w->dir, "quote.sig", sig, n);
	free(sig);
	rebuild_manifest(w->dir, false);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);

	/* a quote from another run (same AK) */
	fresh(w);
	{
		struct gen g = {
		    .n_files = 5, .batch = 5, .pcr = 15, .ima_dir = w->ima, .key = w->key};
		char cmd[600];

		snprintf(other, sizeof(other), "%s/otherrun", w->root);
		g.dir = other;
		make_bundle(&g);
		snprintf(cmd, sizeof(cmd), "cp '%s/quote.msg' '%s/quote.sig' '%s/'", other, other,
			 w->dir);
		assert_int_equal(system(cmd), 0);
		rebuild_manifest(w->dir, false);
		expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
		/* and the whole other bundle verifies on its own */
		rm_rf(w->dir);
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", other, w->dir);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(run(w, w->ak, NULL, 0, NULL, &r), 0);
	}

	/* a nonce given before the run: the right one verifies, a wrong one fails */
	rm_rf(w->dir);
	{
		struct gen g = {.dir = w->dir, .n_files = 5, .batch = 5, .pcr = 15,
				.ima_dir = w->ima, .key = w->key, .nonce = nonce,
				.nonce_len = sizeof(nonce)};

		make_bundle(&g);
	}
	assert_int_equal(run(w, w->ak, nonce, sizeof(nonce), NULL, &r), 0);
	nonce[0] ^= 1;
	expect((run(w, w->ak, nonce, sizeof(nonce), NULL, &r), &r), VERIFY_QUOTE,
	       VERIFY_EXIT_QUOTE);
	/* an older run (no nonce in run_start) quoted again with the verifier's fresh nonce */
	fresh(w);
	reseal(w->dir, w->key, nonce, sizeof(nonce), NULL);
	expect((run(w, w->ak, nonce, sizeof(nonce), NULL, &r), &r), VERIFY_QUOTE,
	       VERIFY_EXIT_QUOTE);
	assert_non_null(strstr(r.checks[VERIFY_QUOTE].reason, "records no nonce"));

	/* a quote over another PCR selection */
	fresh(w);
	reseal(w->dir, w->key, NULL, 0, "sha256:10,16");
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
	fresh(w);
	reseal(w->dir, w->key, NULL, 0, "sha256:15");
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);

	/* flipped byte in quote.msg (manifest rebuilt): signature */
	fresh(w);
	sig = get_file(w->dir, "quote.msg", &n);
	sig[n - 40] ^= 0x01;
	put_file(w->dir, "quote.msg", sig, n);
	free(sig);
	rebuild_manifest(w->dir, false);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
}

static void test_manifest(void **state)
{
	struct world *w = *state;
	struct verify_report r;

	/* PCR index changed, binding recomputed: the quote's qualifying data no longer matches */
	fresh(w);
	tamper_manifest_pcr(w->dir, 16);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
	/* ... and resealed by an AK holder: the selection and the log's PCR index disagree */
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
	/* PCR changed, binding left: the manifest's own binding check */
	fresh(w);
	{
		size_t n;
		char *t = (char *)get_file(w->dir, "manifest.json", &n),
		     *p = strstr(t, "\"pcr\": 15");

		assert_non_null(p);
		p[8] = '6';
		put_file(w->dir, "manifest.json", t, n);
		free(t);
	}
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_MANIFEST, VERIFY_EXIT_MANIFEST);
	/* an added file, a removed file */
	fresh(w);
	put_file(w->dir, "extra.txt", "x", 1);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_MANIFEST, VERIFY_EXIT_MANIFEST);
	fresh(w);
	{
		char p[300];

		snprintf(p, sizeof(p), "%s/bom.json", w->dir);
		unlink(p);
	}
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_MANIFEST, VERIFY_EXIT_MANIFEST);
}

/*
 * Without ima.bin the quote's digest is the dedicated PCR's alone, so every forgery is the
 * log's. With ima.bin one digest covers both PCRs: a forgery that keeps the log well formed
 * (a digest changed in the middle) can only be told from a foreign ima.bin by which file the
 * qualifying data binds; the log check fails either way, and the exit code may say IMA.
 */
static void log_forgeries(struct world *w, const char *good, bool ima)
{
	struct verify_report r;

	for (size_t t = 0; t < N_LOG_TAMPERS; t++) {
		bool bad;

		/* as made: the manifest digest */
		fresh_from(w, good);
		tamper_log(w->dir, t);
		run(w, w->ak, NULL, 0, NULL, &r);
		if (r.checks[VERIFY_MANIFEST].ok || r.exit_code != VERIFY_EXIT_MANIFEST)
			fail_msg("log forgery %s not caught by the manifest", log_tamper_names[t]);
		/* resealed: the event log check */
		reseal(w->dir, w->key, NULL, 0, NULL);
		run(w, w->ak, NULL, 0, NULL, &r);
		bad = r.checks[VERIFY_EVENTLOG].ok;
		if (!ima || t != T_REDACTED_DIGEST)
			bad |= r.exit_code != VERIFY_EXIT_EVENTLOG;
		else
			bad |= r.exit_code != VERIFY_EXIT_IMA;
		if (bad) {
			verify_report_print(&r, stderr);
			fail_msg("log forgery %s (resealed%s) not caught by the eventlog check",
				 log_tamper_names[t], ima ? ", with ima.bin" : "");
		}
	}
}

static void test_log_forgeries(void **state)
{
	struct world *w = *state;

	log_forgeries(w, w->noima, false);
	log_forgeries(w, w->good, true);
}

static void test_bom_forgeries(void **state)
{
	/* a word of the reason each forgery must be rejected with */
	static const char *const why[] = {
	    [B_DIGEST] = "sha256",
	    [B_ADD] = "bom.json lists",
	    [B_REMOVE] = "does not list",
	    [B_ROLE] = "roles",
	    [B_RUN_ID] = "is for run",
	    [B_EXIT] = "exit status",
	    [B_LOST] = "events lost",
	    [B_COMMAND] = "argument 1",
	    [B_ARGC] = "arguments",
	    [B_CWD] = "cwd",
	    [B_BACKEND] = "backend",
	    [B_STARTED] = "times",
	    [B_FINISHED] = "times",
	    [B_SIGNAL] = "signal: bom.json says 9",
	    [B_UNSIGNAL] = "exit status",
	    [B_DETACHED] = "detached",
	    [B_COMPLETE] = "complete",
	    [B_TRUNCATED] = "paths truncated",
	    [B_SIZE] = "size",
	    [B_STATUS] = "status \"vanished\"",
	    [B_HOSTNAME] = "hostname",
	    [B_KERNEL] = "kernel",
	    [B_IMA] = "ima \"match\"",
	};
	struct world *w = *state;
	struct verify_report r;

	for (size_t t = 0; t < N_BOM_TAMPERS; t++) {
		if (t == B_IMA_OFF)
			continue;
		fresh(w);
		tamper_bom(w->dir, t);
		run(w, w->ak, NULL, 0, NULL, &r);
		if (r.exit_code != VERIFY_EXIT_MANIFEST)
			fail_msg("bom forgery %s not caught by the manifest", bom_tamper_names[t]);
		reseal(w->dir, w->key, NULL, 0, NULL);
		run(w, w->ak, NULL, 0, NULL, &r);
		if (r.checks[VERIFY_BOM].ok || r.exit_code != VERIFY_EXIT_BOM ||
		    !strstr(r.checks[VERIFY_BOM].reason, why[t])) {
			verify_report_print(&r, stderr);
			fail_msg("bom forgery %s (resealed) not caught by the bom check (\"%s\")",
				 bom_tamper_names[t], why[t]);
		}
	}
}

static void test_ima(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	char src[600];
	size_t n;
	uint8_t *buf;

	/* a list from another boot (another kernel configuration's capture) */
	fresh(w);
	snprintf(src, sizeof(src), "%s/ima/ima-ng-sha1", fixtures());
	buf = get_file(src, "binary_after", &n);
	put_file(w->dir, "ima.bin", buf, n);
	free(buf);
	run(w, w->ak, NULL, 0, NULL, &r);
	expect(&r, VERIFY_MANIFEST, VERIFY_EXIT_MANIFEST);
	/* ima.bin is not in the binding: anyone can rebuild the manifest, the replay catches it */
	rebuild_manifest(w->dir, false);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_IMA, VERIFY_EXIT_IMA);
	assert_false(r.checks[VERIFY_EVENTLOG].ok);
	/* a list whose entry was edited: its own template digests */
	fresh(w);
	buf = get_file(w->dir, "ima.bin", &n);
	buf[200] ^= 0x01;
	put_file(w->dir, "ima.bin", buf, n);
	free(buf);
	reseal(w->dir, w->key, NULL, 0, NULL);
	run(w, w->ak, NULL, 0, NULL, &r);
	assert_false(r.checks[VERIFY_IMA].ok);
	assert_int_equal(r.exit_code, VERIFY_EXIT_IMA);
	/* the list cut before what the quote covers */
	fresh(w);
	buf = get_file(w->dir, "ima.bin", &n);
	put_file(w->dir, "ima.bin", buf, n / 2);
	free(buf);
	reseal(w->dir, w->key, NULL, 0, NULL);
	run(w, w->ak, NULL, 0, NULL, &r);
	assert_false(r.checks[VERIFY_IMA].ok);
	/* A7: an entry for another PCR (the PCR index is not in the template digest) */
	fresh(w);
	{
		struct ima_list l = {0};
		char err[256];
		uint32_t pcr = 11;

		snprintf(src, sizeof(src), "%s/ima.bin", w->dir);
		assert_int_equal(ima_read_file(src, NULL, &l, err, sizeof(err)), 0);
		buf = get_file(w->dir, "ima.bin", &n);
		memcpy(buf + l.entries[l.count - 1].offset, &pcr, 4);
		put_file(w->dir, "ima.bin", buf, n);
		free(buf);
		ima_list_free(&l);
	}
	rebuild_manifest(w->dir, false);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_IMA, VERIFY_EXIT_IMA);
	assert_non_null(strstr(r.checks[VERIFY_IMA].reason, "PCR 11"));
	/* A8: bom.json says IMA gave nothing, yet the bundle has ima.bin */
	fresh(w);
	tamper_bom(w->dir, B_IMA_OFF);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_IMA, VERIFY_EXIT_IMA);
	assert_non_null(strstr(r.checks[VERIFY_IMA].reason, "no IMA result"));
	/* ima.bin removed (manifest rebuilt) while the quote covers a non-zero PCR 10 */
	fresh(w);
	snprintf(src, sizeof(src), "%s/ima.bin", w->dir);
	unlink(src);
	rebuild_manifest(w->dir, false);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_IMA, VERIFY_EXIT_IMA);
}

/* The quote taken before the list was read: it covers a prefix, and says how much. */
static void test_ima_lag(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	struct gen g = {.n_files = 3,
			.batch = 2,
			.pcr = 15,
			.ima_dir = w->ima,
			.ima_quoted = 25,
			.key = w->key};

	rm_rf(w->dir);
	g.dir = w->dir;
	make_bundle(&g);
	assert_int_equal(run(w, w->ak, NULL, 0, NULL, &r), 0);
	assert_int_equal(r.ima_covered, 25);
	assert_int_equal(r.ima_entries, 61);
	/* A9: the 36 entries the quote does not cover are called unauthenticated */
	assert_int_equal(r.ima_uncovered, 36);
	assert_non_null(strstr(r.checks[VERIFY_IMA].reason, "the 36 entries after them"));
	/* a lag larger than allowed fails */
	{
		struct verify_opts o = {.bundle = w->dir, .ak_pem = w->ak, .ima_max_lag = 10};

		verify_bundle(&o, &r);
		expect(&r, VERIFY_IMA, VERIFY_EXIT_IMA);
	}
	/* no IMA, the quote over {10, 15} with PCR 10 zero: verifies (swtpm, IMA off) */
	rm_rf(w->dir);
	g.ima_dir = NULL;
	g.zero10 = true;
	make_bundle(&g);
	assert_int_equal(run(w, w->ak, NULL, 0, NULL, &r), 0);
	/* A8: any ima.bin added to it (not bound) is covered by nothing: refused */
	{
		char src[600];
		size_t n;
		uint8_t *buf;

		buf = get_file(w->ima, "binary_after", &n);
		put_file(w->dir, "ima.bin", buf, n);
		free(buf);
		rebuild_manifest(w->dir, false);
		expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_IMA, VERIFY_EXIT_IMA);
		assert_non_null(strstr(r.checks[VERIFY_IMA].reason, "covers none"));
		snprintf(src, sizeof(src), "%s/ima.bin", w->dir);
		unlink(src);
		rebuild_manifest(w->dir, false);
	}
	/* and an appended record is still the log's fault */
	tamper_log(w->dir, T_APPEND);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_EVENTLOG, VERIFY_EXIT_EVENTLOG);
}

static void test_weights(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	char p[200];

	fresh(w);
	put_file(w->root, "fake.bin", "other weights\n", 14);
	snprintf(p, sizeof(p), "%s/fake.bin", w->root);
	expect((run(w, w->ak, NULL, 0, p, &r), &r), VERIFY_WEIGHTS, VERIFY_EXIT_WEIGHTS);
	snprintf(p, sizeof(p), "%s/missing.bin", w->root);
	expect((run(w, w->ak, NULL, 0, p, &r), &r), VERIFY_WEIGHTS, VERIFY_EXIT_WEIGHTS);
}

static void test_incomplete_unattested(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	struct gen g = {.n_files = 3, .batch = 2, .pcr = 15, .lost = 4, .key = w->key};

	rm_rf(w->dir);
	g.dir = w->dir;
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_COMPLETE, VERIFY_EXIT_INCOMPLETE);
	assert_string_equal(r.verdict, "incomplete");
	/* a redacted own loss record would hide it: the run_end totals catch that */
	rm_rf(w->dir);
	g.unattested = true;
	g.lost = 0;
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_UNATTESTED);
	assert_string_equal(r.verdict, "unattested");
	/* no IMA: a quote over the dedicated PCR alone verifies */
	rm_rf(w->dir);
	g.unattested = false;
	make_bundle(&g);
	assert_int_equal(run(w, w->ak, NULL, 0, NULL, &r), 0);
}

/* A1: a run on a PCR anyone can reset can be rewritten and re-quoted: refused unless asked. */
static void test_resettable(void **state)
{
	static const unsigned pcrs[] = {16, 23, 10};
	struct world *w = *state;
	struct verify_report r;

	for (size_t i = 0; i < 3; i++) {
		struct gen g = {.n_files = 3, .batch = 2, .pcr = pcrs[i], .key = w->key};
		struct verify_opts o = {.bundle = w->dir, .ak_pem = w->ak};

		rm_rf(w->dir);
		g.dir = w->dir;
		make_bundle(&g);
		expect((verify_bundle(&o, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
		assert_non_null(
		    strstr(r.checks[VERIFY_QUOTE].reason, pcrs[i] == 10 ? "IMA's" : "resettable"));
		o.allow_resettable = true;
		if (pcrs[i] == 10) {
			/* IMA's PCR is never the run's */
			expect((verify_bundle(&o, &r), &r), VERIFY_QUOTE, VERIFY_EXIT_QUOTE);
			continue;
		}
		if (verify_bundle(&o, &r)) {
			verify_report_print(&r, stderr);
			fail_msg("PCR %u with allow_resettable", pcrs[i]);
		}
		assert_non_null(strstr(r.checks[VERIFY_QUOTE].reason, "proves little"));
	}
}

/* A3/A4: what run_end says about the command's end is what bom.json must say. */
static void test_run_end(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	struct gen g = {.n_files = 3, .batch = 2, .pcr = 15, .key = w->key, .signal = 9};
	char keep[200];

	snprintf(keep, sizeof(keep), "%s/sig", w->root);
	/* killed by SIGKILL: verifies, and "exited 137" is a lie */
	g.dir = keep;
	make_bundle(&g);
	fresh_from(w, keep);
	assert_int_equal(run(w, w->ak, NULL, 0, NULL, &r), 0);
	tamper_bom(w->dir, B_UNSIGNAL);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	assert_non_null(strstr(r.checks[VERIFY_BOM].reason, "signal"));
	rm_rf(keep);
	/* detached: incomplete; shown as complete and not detached it is a forgery */
	g.signal = 0;
	g.detached = true;
	make_bundle(&g);
	fresh_from(w, keep);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_COMPLETE, VERIFY_EXIT_INCOMPLETE);
	assert_non_null(strstr(r.checks[VERIFY_COMPLETE].reason, "detached"));
	tamper_bom(w->dir, B_DETACHED);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	fresh_from(w, keep);
	tamper_bom(w->dir, B_COMPLETE);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	rm_rf(keep);
	/* paths truncated: incomplete */
	g.detached = false;
	g.paths_truncated = 2;
	make_bundle(&g);
	fresh_from(w, keep);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_COMPLETE, VERIFY_EXIT_INCOMPLETE);
	tamper_bom(w->dir, B_TRUNCATED);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	rm_rf(keep);
	/* an argument that is not UTF-8 compares as bytes (bom.json's command_b64) */
	g.paths_truncated = 0;
	g.arg1 = "tr\xe9in.py";
	make_bundle(&g);
	fresh_from(w, keep);
	assert_int_equal(run(w, w->ak, NULL, 0, NULL, &r), 0);
	rm_rf(keep);
}

/* A6: files[].ima is what the covered entries of ima.bin say. */
static void test_ima_values(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	struct gen g = {.n_files = 3, .batch = 2, .pcr = 15, .ima_dir = w->ima, .key = w->key};
	struct ima_list l = {0};
	const struct ima_entry *e = NULL;
	char p[600], err[256];

	snprintf(p, sizeof(p), "%s/binary_after", w->ima);
	assert_int_equal(ima_read_file(p, NULL, &l, err, sizeof(err)), 0);
	for (size_t i = 0; i < l.count && !e; i++) {
		const struct ima_entry *x = &l.entries[i];

		if (!x->violation && x->file_name && x->file_name[0] == '/' &&
		    !strcmp(x->hash_algo, "sha256") && x->file_digest_len == 32 &&
		    !strchr(x->file_name, '_') && ima_lookup(&l, x->file_name) == x)
			e = x;
	}
	assert_non_null(e);
	g.dir = w->dir;
	g.ima_path = e->file_name;
	memcpy(g.ima_sha, e->file_digest, 32);
	g.ima_claim = BOM_IMA_MATCH;
	rm_rf(w->dir);
	make_bundle(&g);
	if (run(w, w->ak, NULL, 0, NULL, &r)) {
		verify_report_print(&r, stderr);
		fail_msg("a file IMA measured, claimed as match");
	}
	/* the same file claimed absent, and with another digest claimed match */
	g.ima_claim = BOM_IMA_ABSENT;
	rm_rf(w->dir);
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	g.ima_claim = BOM_IMA_MATCH;
	g.ima_sha[0] ^= 1;
	rm_rf(w->dir);
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	assert_non_null(strstr(r.checks[VERIFY_BOM].reason, "mismatch"));
	/* without ima.bin every value must be unavailable */
	g.ima_dir = NULL;
	g.ima_claim = BOM_IMA_ABSENT;
	rm_rf(w->dir);
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	assert_non_null(strstr(r.checks[VERIFY_BOM].reason, "absence of ima.bin"));
	ima_list_free(&l);
}

/* A10: an ak.cert.pem in the bundle must certify ak.pub.pem, even when --ak pins the key. */
static void test_ak_cert(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	char src[600];
	size_t n;
	uint8_t *buf;

	fresh(w);
	snprintf(src, sizeof(src), "%s/quote/ca", fixtures());
	buf = get_file(src, "ak.cert.pem", &n);
	put_file(w->dir, "ak.cert.pem", buf, n);
	free(buf);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_AK, VERIFY_EXIT_AK);
	assert_non_null(strstr(r.checks[VERIFY_AK].reason, "ak.cert.pem"));
	fresh(w);
	put_file(w->dir, "ak.cert.pem", "not a certificate\n", 18);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_AK, VERIFY_EXIT_AK);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs the verifier on w->dir and asserts it failed manifest (exit 2) within a second, with a
 * reason that names what the file is. */
static void expect_refused(struct world *w, const char *what)
{
	struct verify_report r;
	double t0 = now_s();

	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_MANIFEST, VERIFY_EXIT_MANIFEST);
	assert_true(now_s() - t0 < 1.0);
	if (!strstr(r.checks[VERIFY_MANIFEST].reason, what))
		fail_msg("manifest reason '%s' does not say '%s'", r.checks[VERIFY_MANIFEST].reason,
			 what);
}

static void bpath_of(const struct world *w, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", w->dir, name);
}

/* Item 1: a FIFO (no writer: reading it would block for ever), a device, a socket or a link
 * in place of any bundle file is refused at once, by name; a bundle directory given as a link
 * verifies, and the report says so. */
static void test_bundle_files(void **state)
{
	static const char *const names[] = {"events.cel",    "bom.json", "quote.msg",
					    "manifest.json", "ima.bin",	 "ak.pub.pem",
					    "bom.cdx.json"};
	struct world *w = *state;
	struct verify_report r;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char p[300], link[200];
	int fd;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fresh(w);
		bpath_of(w, names[i], p, sizeof(p));
		assert_int_equal(unlink(p), 0);
		assert_int_equal(mkfifo(p, 0644), 0);
		expect_refused(w, "is a FIFO, not a regular file");
		assert_int_equal(unlink(p), 0);
		assert_int_equal(symlink("/dev/zero", p), 0);
		expect_refused(w, "is a symbolic link");
	}
	fresh(w);
	bpath_of(w, "bom.json", p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_true(strlen(p) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, strlen(p) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	expect_refused(w, "is a socket");
	close(fd);
	/* an extra FIFO the manifest does not list is named too */
	fresh(w);
	bpath_of(w, "extra", p, sizeof(p));
	assert_int_equal(mkfifo(p, 0644), 0);
	expect_refused(w, "extra: is a FIFO");
	/* the directory itself a link: verified where it points, and said */
	fresh(w);
	snprintf(link, sizeof(link), "%s/link", w->root);
	unlink(link);
	assert_int_equal(symlink(w->dir, link), 0);
	{
		struct verify_opts o = {.bundle = link, .ak_pem = w->ak};

		assert_int_equal(verify_bundle(&o, &r), 0);
		assert_non_null(strstr(r.checks[VERIFY_MANIFEST].reason, "is a symbolic link"));
	}
	unlink(link);
}

/* Item 3: bom.cdx.json and provenance.intoto.json are regenerated from bom.json and compared:
 * a model hash or a command rewritten in them, even re-quoted with the AK, fails bom (7). */
static void test_docs(void **state)
{
	static const char *const docs[] = {"bom.cdx.json", "provenance.intoto.json"};
	struct world *w = *state;
	struct verify_report r;
	char p[300], hx[65];
	uint8_t *buf, *hit;
	size_t n;

	for (size_t i = 0; i < 2; i++) {
		fresh(w);
		buf = get_file(w->dir, docs[i], &n);
		/* the model's digest, as both documents hold it */
		sha(WEIGHTS, strlen(WEIGHTS), (uint8_t *)p);
		hex_encode((uint8_t *)p, 32, hx);
		hit = memmem(buf, n, hx, 64);
		assert_non_null(hit);
		memcpy(hit, "00000000", 8);
		put_file(w->dir, docs[i], buf, n);
		free(buf);
		reseal(w->dir, w->key, NULL, 0, NULL);
		expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
		assert_non_null(strstr(r.checks[VERIFY_BOM].reason, docs[i]));
		/* removed (the manifest rewritten): not checkable is a failure */
		bpath_of(w, docs[i], p, sizeof(p));
		assert_int_equal(unlink(p), 0);
		reseal(w->dir, w->key, NULL, 0, NULL);
		expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	}
	/* the same document in another JSON layout is not the document */
	fresh(w);
	buf = get_file(w->dir, "bom.cdx.json", &n);
	{
		json_t *j = json_loadb((const char *)buf, n, 0, NULL);
		char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		assert_non_null(t);
		put_file(w->dir, "bom.cdx.json", t, strlen(t));
		free(t);
		json_decref(j);
	}
	free(buf);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
}

/* Item 4: a second bom.json entry for a file (another size) is refused, not merged; a
 * qualifying_data_of that is not the documented text fails the manifest. */
static void test_unique(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	struct bom b;
	struct bom_file *f;
	char p[300], err[512];
	uint8_t *buf, *hit;
	size_t n;

	fresh(w);
	bom_init(&b);
	bpath_of(w, "bom.json", p, sizeof(p));
	assert_int_equal(bom_read(&b, p, err, sizeof(err)), 0);
	f = bom_add_file(&b, b.files[0].path, b.files[0].sha256);
	assert_non_null(f);
	f->size = b.files[0].size + 1000;
	f->roles = b.files[0].roles;
	f->category = strdup("dataset");
	assert_int_equal(bom_write(&b, p), 0);
	bom_free(&b);
	reseal(w->dir, w->key, NULL, 0, NULL);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
	assert_non_null(strstr(r.checks[VERIFY_BOM].reason, "twice"));

	fresh(w);
	buf = get_file(w->dir, "manifest.json", &n);
	hit = memmem(buf, n, "in byte order of name", 21);
	assert_non_null(hit);
	memcpy(hit, "in any order as named", 21);
	put_file(w->dir, "manifest.json", buf, n);
	free(buf);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_MANIFEST, VERIFY_EXIT_MANIFEST);
	assert_non_null(strstr(r.checks[VERIFY_MANIFEST].reason, "qualifying_data_of"));
}

/* Item 6: the bundle's strings are printed escaped: a file name with ESC sequences and a
 * carriage return cannot rewrite its FAIL line, and a non-UTF-8 one keeps the JSON valid. */
static void test_escaped(void **state)
{
	static const char *const names[] = {"/data/\x1b[2K\rPASS bom: fine\x1b[0m",
					    "/data/\xff\xfe\xc2\x9b"
					    "31m\xe2\x80\xaesecret"};
	struct world *w = *state;
	struct verify_report r;
	struct bom b;
	struct bom_file *f;
	char p[300], err[512], *text = NULL;
	size_t tn = 0;
	FILE *out;
	json_t *j;

	for (size_t i = 0; i < 2; i++) {
		fresh(w);
		bom_init(&b);
		bpath_of(w, "bom.json", p, sizeof(p));
		assert_int_equal(bom_read(&b, p, err, sizeof(err)), 0);
		f = bom_add_file(
		    &b, names[i],
		    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
		assert_non_null(f);
		f->roles = BOM_ROLE_INPUT;
		assert_int_equal(bom_write(&b, p), 0);
		bom_free(&b);
		reseal(w->dir, w->key, NULL, 0, NULL);
		expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_BOM, VERIFY_EXIT_BOM);
		out = open_memstream(&text, &tn);
		verify_report_print(&r, out);
		fclose(out);
		for (size_t k = 0; k < tn; k++)
			if (((unsigned char)text[k] < 0x20 && text[k] != '\n') || text[k] == 0x7f)
				fail_msg("control byte 0x%02x printed: %s", text[k], text);
		assert_null(strstr(text, "\xc2\x9b"));
		assert_null(strstr(text, "\xe2\x80\xae"));
		assert_non_null(strstr(r.checks[VERIFY_BOM].reason,
				       i ? "\\xFF\\xFE\\xC2\\x9B31m" : "\\x1B[2K\\x0DPASS"));
		free(text);
		text = NULL;
		j = verify_report_json(&r);
		assert_non_null(j);
		json_decref(j);
	}
}

/* Item 6: an output the run could not measure makes the run incomplete, with exit 12. */
static void test_unmeasured(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	struct gen g = {
	    .n_files = 3, .batch = 2, .pcr = 15, .unmeasured = CEL_FILE_UNREADABLE, .key = w->key};

	rm_rf(w->dir);
	g.dir = w->dir;
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_COMPLETE, VERIFY_EXIT_UNMEASURED);
	assert_string_equal(r.verdict, "incomplete");
	assert_non_null(strstr(r.checks[VERIFY_COMPLETE].reason, "/out/ckpt.bin"));
	/* an output deleted before the run ended is nothing the run left: it verifies */
	rm_rf(w->dir);
	g.unmeasured = CEL_FILE_DELETED;
	make_bundle(&g);
	if (run(w, w->ak, NULL, 0, NULL, &r)) {
		verify_report_print(&r, stderr);
		fail_msg("a deleted output made the run incomplete");
	}
	/* the same run's lost events come first: exit 9 */
	rm_rf(w->dir);
	g.unmeasured = CEL_FILE_UNREADABLE;
	g.lost = 2;
	make_bundle(&g);
	expect((run(w, w->ak, NULL, 0, NULL, &r), &r), VERIFY_COMPLETE, VERIFY_EXIT_INCOMPLETE);
}

/* Item 2: --weights DIR: every regular file under it (links followed) must be an output; the
 * others are named. */
static void test_weights_dir(void **state)
{
	struct world *w = *state;
	struct verify_report r;
	char d[200], sub[240], p[300];
	const char *wl[1] = {d};
	struct verify_opts o = {.ak_pem = w->ak, .weights = wl, .n_weights = 1};

	fresh(w);
	o.bundle = w->dir;
	snprintf(d, sizeof(d), "%s/model", w->root);
	rm_rf(d);
	assert_int_equal(mkdir(d, 0755), 0);
	put_file(d, "model.safetensors", WEIGHTS, strlen(WEIGHTS));
	snprintf(sub, sizeof(sub), "%s/snap", d);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(p, sizeof(p), "%s/model.safetensors", sub);
	assert_int_equal(symlink("../model.safetensors", p), 0);
	if (verify_bundle(&o, &r)) {
		verify_report_print(&r, stderr);
		fail_msg("a model directory of outputs does not verify");
	}
	assert_non_null(strstr(r.checks[VERIFY_WEIGHTS].reason, "2 file(s)"));
	put_file(sub, "tokenizer.json", "{}\n", 3);
	put_file(d, "config.json", "{\"layers\": 2}\n", 14);
	expect((verify_bundle(&o, &r), &r), VERIFY_WEIGHTS, VERIFY_EXIT_WEIGHTS);
	assert_non_null(strstr(r.checks[VERIFY_WEIGHTS].reason, "2 of 4"));
	assert_non_null(strstr(r.checks[VERIFY_WEIGHTS].reason, "config.json"));
	assert_non_null(strstr(r.checks[VERIFY_WEIGHTS].reason, "snap/tokenizer.json"));
	/* a FIFO given as weights is refused at once */
	snprintf(p, sizeof(p), "%s/fifo", w->root);
	unlink(p);
	assert_int_equal(mkfifo(p, 0644), 0);
	wl[0] = p;
	expect((verify_bundle(&o, &r), &r), VERIFY_WEIGHTS, VERIFY_EXIT_WEIGHTS);
	assert_non_null(strstr(r.checks[VERIFY_WEIGHTS].reason, "FIFO"));
	unlink(p);
	rm_rf(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_ak),
	    cmocka_unit_test(test_quote_forgeries),
	    cmocka_unit_test(test_manifest),
	    cmocka_unit_test(test_log_forgeries),
	    cmocka_unit_test(test_bom_forgeries),
	    cmocka_unit_test(test_ima),
	    cmocka_unit_test(test_ima_lag),
	    cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_incomplete_unattested),
	    cmocka_unit_test(test_resettable),
	    cmocka_unit_test(test_run_end),
	    cmocka_unit_test(test_ima_values),
	    cmocka_unit_test(test_ak_cert),
	    cmocka_unit_test(test_bundle_files),
	    cmocka_unit_test(test_docs),
	    cmocka_unit_test(test_unique),
	    cmocka_unit_test(test_escaped),
	    cmocka_unit_test(test_unmeasured),
	    cmocka_unit_test(test_weights_dir),
	};

	setenv("TSS2_LOG", "all+none", 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
#endif
