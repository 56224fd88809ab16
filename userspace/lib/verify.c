// SPDX-License-Identifier: BSD-2-Clause
/*
 * verify.c - the checks of aicert-verify (docs/verify.md). Every check reads the bundle through
 * the same library the tracer writes it with (manifest, quote, cel, ima, bom).
 */
#include "lib/verify.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/bom.h"
#include "lib/cel.h"
#include "lib/fileio.h"
#include "lib/hex.h"
#include "lib/ima.h"
#include "lib/manifest.h"
#include "lib/quote.h"

#define PCR_IMA 10

static const char *const check_names[VERIFY_N_CHECKS] = {
    [VERIFY_MANIFEST] = "manifest", [VERIFY_QUOTE] = "quote",	    [VERIFY_AK] = "ak",
    [VERIFY_EVENTLOG] = "eventlog", [VERIFY_IMA] = "ima",	    [VERIFY_BOM] = "bom",
    [VERIFY_WEIGHTS] = "weights",   [VERIFY_COMPLETE] = "complete",
};

static const int check_exit[VERIFY_N_CHECKS] = {
    [VERIFY_MANIFEST] = VERIFY_EXIT_MANIFEST,
    [VERIFY_QUOTE] = VERIFY_EXIT_QUOTE,
    [VERIFY_AK] = VERIFY_EXIT_AK,
    [VERIFY_EVENTLOG] = VERIFY_EXIT_EVENTLOG,
    [VERIFY_IMA] = VERIFY_EXIT_IMA,
    [VERIFY_BOM] = VERIFY_EXIT_BOM,
    [VERIFY_WEIGHTS] = VERIFY_EXIT_WEIGHTS,
    [VERIFY_COMPLETE] = VERIFY_EXIT_INCOMPLETE,
};

/* One file measurement of the run, from the log or from bom.json, for the set comparison. */
struct item {
	const char *path;
	const uint8_t *sha; /* 32 bytes; NULL when the file was not hashed */
	unsigned roles;
	uint64_t size;
	int64_t status;		 /* enum cel_file_status; -1: a bom.json status with no CEL code */
	const char *status_text; /* bom.json's, for the reason */
};

struct ctx {
	const struct verify_opts *o;
	struct verify_report *r;
	bool failed[VERIFY_N_CHECKS];
	/* manifest */
	struct manifest *m;
	bool have_qual;
	uint8_t qual[32];
	/* quote */
	bool attested, quote_ok;
	struct quote *q;
	EVP_PKEY *ak;
	/* event log */
	struct cel_log log;
	bool log_ok, have_pcr;
	uint8_t pcr_value[32];
	char boot_id[37], run_id[37];
	struct cel_event *evs; /* this run's decoded records */
	size_t n_evs;
	struct cel_event *start, *end; /* run_start and run_end among evs */
	/* ima */
	bool has_ima, ima_ok;
	bool ima_verified; /* the quote covers the first ima_covered entries */
	size_t ima_covered;
	bool zero10; /* no ima.bin, the quote covers PCR 10: it must be all zero */
	struct ima_list ima;
	/* bom */
	bool bom_loaded, bom_ok;
	struct bom bom;
	char bom_err[512];
};

const char *verify_check_name(enum verify_check_id id)
{
	return id < VERIFY_N_CHECKS ? check_names[id] : "?";
}

/* ---- reporting ---- */

static void vset(struct ctx *c, enum verify_check_id id, bool ok, int code, const char *fmt,
		 va_list ap)
{
	struct verify_check *k = &c->r->checks[id];

	/* The first failure of a check is its reason; later ones would only repeat it. */
	if (c->failed[id])
		return;
	k->ok = ok;
	k->exit_code = ok ? 0 : code;
	c->failed[id] = !ok;
	vsnprintf(k->reason, sizeof(k->reason), fmt, ap);
}

static void pass(struct ctx *c, enum verify_check_id id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pass(struct ctx *c, enum verify_check_id id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(c, id, true, 0, fmt, ap);
	va_end(ap);
}

static void failx(struct ctx *c, enum verify_check_id id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void failx(struct ctx *c, enum verify_check_id id, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(c, id, false, code, fmt, ap);
	va_end(ap);
}

#define fail(c, id, ...) failx(c, id, check_exit[id], __VA_ARGS__)

static void nomem(struct ctx *c, enum verify_check_id id)
{
	failx(c, id, VERIFY_EXIT_INTERNAL, "out of memory");
}

/* ---- helpers ---- */

static void bpath(const struct ctx *c, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", c->o->bundle, name);
}

static bool exists(const struct ctx *c, const char *name)
{
	char p[4096];
	struct stat st;

	bpath(c, name, p, sizeof(p));
	return lstat(p, &st) == 0;
}

static int sha256_file(const char *path, uint8_t out[32])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = fileio_read(path, SIZE_MAX, &buf, &len);

	if (!ret && EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL) != 1)
		ret = -EIO;
	free(buf);
	return ret;
}

/* ---- 1. manifest ---- */

struct problems {
	char first[VERIFY_REASON_MAX];
	int n;
};

static void collect(void *ctx, const char *reason)
{
	struct problems *p = ctx;

	if (!p->n++)
		snprintf(p->first, sizeof(p->first), "%s", reason);
}

/* The qualifying data the quote must carry: the binding, with the verifier's nonce if any. */
static int expected_qual(struct ctx *c)
{
	struct manifest m = *c->m;

	if (c->o->nonce) {
		if (c->o->nonce_len > MANIFEST_NONCE_MAX)
			return -EINVAL;
		m.has_nonce = true;
		m.nonce_len = c->o->nonce_len;
		memcpy(m.nonce, c->o->nonce, c->o->nonce_len);
	}
	if (manifest_binding(&m, c->qual))
		return -EIO;
	c->have_qual = true;
	return 0;
}

static void check_manifest(struct ctx *c)
{
	char p[4096], why[MANIFEST_WHY_MAX], hx[65];
	struct problems pr = {.n = 0};

	bpath(c, MANIFEST_NAME, p, sizeof(p));
	if (manifest_read(p, &c->m, why)) {
		fail(c, VERIFY_MANIFEST, "%s", why);
		return;
	}
	if (manifest_check_files(c->o->bundle, c->m, collect, &pr)) {
		if (pr.n > 1)
			fail(c, VERIFY_MANIFEST, "%s (and %d more problems)", pr.first, pr.n - 1);
		else
			fail(c, VERIFY_MANIFEST, "%s", pr.first);
	}
	if (manifest_check_binding(c->m, why))
		fail(c, VERIFY_MANIFEST, "%s", why);
	if (strcmp(c->m->pcr_bank, "sha256"))
		fail(c, VERIFY_MANIFEST, "pcr_bank is %s; aicert-verify checks sha256 only",
		     c->m->pcr_bank);
	if (c->o->nonce && c->o->nonce_len > MANIFEST_NONCE_MAX)
		fail(c, VERIFY_MANIFEST, "--nonce is longer than %d bytes", MANIFEST_NONCE_MAX);
	else if (expected_qual(c))
		fail(c, VERIFY_MANIFEST, "cannot compute the binding");
	hex_encode(c->m->qualifying_data, 32, hx);
	pass(c, VERIFY_MANIFEST,
	     "%zu files present with matching sha256 and size, nothing else; "
	     "binding %.16s... (PCR %u%s)",
	     c->m->n_files, hx, c->m->pcr, c->m->has_nonce ? ", nonce" : "");
}

/* ---- 2. quote and 3. ak ---- */

static bool expected_selection(const struct ctx *c, bool with10, TPML_PCR_SELECTION *sel,
			       char *text, size_t len)
{
	char why[QUOTE_WHY_MAX];

	if (with10)
		snprintf(text, len, "sha256:%u,%u", c->m->pcr < PCR_IMA ? c->m->pcr : PCR_IMA,
			 c->m->pcr < PCR_IMA ? PCR_IMA : c->m->pcr);
	else
		snprintf(text, len, "sha256:%u", c->m->pcr);
	return quote_parse_selection(text, sel, why) == QUOTE_OK;
}

static bool selects(const TPML_PCR_SELECTION *sel, unsigned pcr)
{
	for (UINT32 i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *b = &sel->pcrSelections[i];

		if (pcr / 8 < b->sizeofSelect && (b->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
			return true;
	}
	return false;
}

/* PCRs that TPM2_PCR_Reset resets from locality 0 (PC Client profile): their history is not
 * append-only, so a run recorded there can be rewritten and re-quoted. */
static bool resettable(unsigned pcr)
{
	return pcr == 16 || pcr == 23;
}

static bool pcr_acceptable(struct ctx *c)
{
	unsigned pcr = c->m->pcr;

	if (pcr == PCR_IMA) {
		fail(c, VERIFY_QUOTE,
		     "manifest.json names PCR 10 as the run's PCR: it is IMA's, and the quote must "
		     "cover the run's PCR besides it");
		return false;
	}
	if (resettable(pcr) && !c->o->allow_resettable) {
		fail(c, VERIFY_QUOTE,
		     "PCR %u is resettable (TPM2_PCR_Reset): anyone able to send TPM commands can "
		     "rewrite a run recorded there and have it quoted again; refused "
		     "(--allow-resettable-pcr accepts it, proving little)",
		     pcr);
		return false;
	}
	return true;
}

static void check_quote_fields(struct ctx *c)
{
	char why[QUOTE_WHY_MAX], text[64];
	TPML_PCR_SELECTION sel;

	if (quote_check_magic(c->q, why) || quote_check_type(c->q, why) ||
	    quote_check_signature(c->q, c->ak, why) || quote_check_clock(&c->q->attest, why)) {
		fail(c, VERIFY_QUOTE, "%s", why);
		return;
	}
	if (!c->m) {
		fail(c, VERIFY_QUOTE,
		     "qualifying data and PCR selection not checked: manifest.json "
		     "is unusable");
		return;
	}
	if (!c->have_qual) {
		fail(c, VERIFY_QUOTE,
		     "qualifying data not checked: the binding could not be computed");
		return;
	}
	if (quote_check_qualifying(c->q, c->qual, 32, why)) {
		fail(c, VERIFY_QUOTE, "%s%s", why,
		     c->o->nonce ? " (binding computed with the --nonce given)" : "");
		return;
	}
	if (!pcr_acceptable(c))
		return;
	/* Without ima.bin a quote may still cover PCR 10: it must then be zero (IMA off). */
	c->zero10 = !c->has_ima && selects(&c->q->attest.attested.quote.pcrSelect, PCR_IMA);
	if (!expected_selection(c, c->has_ima || c->zero10, &sel, text, sizeof(text)) ||
	    quote_check_selection(c->q, &sel, why)) {
		fail(c, VERIFY_QUOTE, "%s", why);
		return;
	}
	c->quote_ok = true;
	pass(c, VERIFY_QUOTE,
	     "signed by ak.pub.pem, qualifying data = binding%s, clock safe, "
	     "selection %s (PCR digest: see eventlog/ima)%s",
	     c->o->nonce ? " with --nonce" : "", text,
	     resettable(c->m->pcr)
		 ? "; WARNING: PCR is resettable (--allow-resettable-pcr): anyone "
		   "able to send TPM commands can rewrite its history, so this "
		   "bundle proves little"
		 : "");
}

static void check_quote(struct ctx *c)
{
	char msg[4096], sig[4096], why[QUOTE_WHY_MAX];
	bool has_msg = exists(c, "quote.msg"), has_sig = exists(c, "quote.sig");

	if (!has_msg && !has_sig) {
		failx(c, VERIFY_QUOTE, VERIFY_EXIT_UNATTESTED,
		      "UNATTESTED: no quote.msg/quote.sig (a --no-tpm bundle): nothing binds it "
		      "to a TPM");
		return;
	}
	c->attested = true;
	if (!has_msg || !has_sig) {
		fail(c, VERIFY_QUOTE, "%s is missing", has_msg ? "quote.sig" : "quote.msg");
		return;
	}
	bpath(c, "quote.msg", msg, sizeof(msg));
	bpath(c, "quote.sig", sig, sizeof(sig));
	if (quote_load(msg, sig, &c->q, why)) {
		fail(c, VERIFY_QUOTE, "%s", why);
		return;
	}
	bpath(c, "ak.pub.pem", msg, sizeof(msg));
	if (quote_load_pubkey(msg, &c->ak, why)) {
		fail(c, VERIFY_QUOTE, "cannot check the signature: %s", why);
		return;
	}
	check_quote_fields(c);
}

static void check_ak(struct ctx *c)
{
	char why[QUOTE_WHY_MAX], cert[4096];
	EVP_PKEY *pinned = NULL;

	if (!c->attested) {
		failx(c, VERIFY_AK, VERIFY_EXIT_UNATTESTED, "not checked: unattested bundle");
		return;
	}
	if (!c->ak) {
		failx(c, VERIFY_AK, VERIFY_EXIT_QUOTE, "not checked: ak.pub.pem is unusable");
		return;
	}
	if (!c->o->ak_pem && !c->o->n_ca) {
		fail(c, VERIFY_AK,
		     "AK not authenticated: give --ak PEM (a pinned key) or --ca PEM "
		     "(the AK certificate's CA)");
		return;
	}
	if (c->o->ak_pem) {
		if (quote_load_pubkey(c->o->ak_pem, &pinned, why) ||
		    quote_check_ak_pin(c->ak, pinned, why)) {
			fail(c, VERIFY_AK, "--ak %s: %s", c->o->ak_pem, why);
			goto cleanup;
		}
	}
	/* a certificate in the bundle must be the AK's, whatever authenticated the AK */
	if (exists(c, "ak.cert.pem")) {
		EVP_PKEY *ck = NULL;

		bpath(c, "ak.cert.pem", cert, sizeof(cert));
		if (quote_load_pubkey(cert, &ck, why) || quote_check_ak_pin(c->ak, ck, why)) {
			fail(c, VERIFY_AK, "ak.cert.pem does not certify ak.pub.pem: %s", why);
			EVP_PKEY_free(ck);
			goto cleanup;
		}
		EVP_PKEY_free(ck);
	}
	if (c->o->n_ca) {
		if (!exists(c, "ak.cert.pem")) {
			fail(c, VERIFY_AK, "--ca given but the bundle has no ak.cert.pem");
			goto cleanup;
		}
		bpath(c, "ak.cert.pem", cert, sizeof(cert));
		if (quote_check_ak_cert(cert, c->o->ca_pems, c->o->n_ca, c->ak, why)) {
			fail(c, VERIFY_AK, "%s", why);
			goto cleanup;
		}
	}
	pass(c, VERIFY_AK, "%s%s%s", c->o->ak_pem ? "AK equals the pinned key" : "",
	     c->o->ak_pem && c->o->n_ca ? "; " : "",
	     c->o->n_ca ? "ak.cert.pem chains to the given CA and holds the AK" : "");
cleanup:
	EVP_PKEY_free(pinned);
}

/* ---- 4. event log ---- */

static bool is_marker(const struct cel_record *r)
{
	struct cel_record m = {0};
	bool same;

	if (cel_record_redact(&m))
		return false;
	same = r->content_len == m.content_len && !memcmp(r->content, m.content, m.content_len);
	free(m.content);
	return same;
}

static const struct cel_digest *bank(const struct cel_record *r, uint16_t alg)
{
	for (size_t i = 0; i < r->digests.n; i++)
		if (r->digests.v[i].alg == alg)
			return &r->digests.v[i];
	return NULL;
}

/* Structure of one record; the reason names the record. */
static int check_record(struct ctx *c, const struct cel_record *r, uint64_t want_recnum, char *why,
			size_t len)
{
	char err[CEL_ERR_MAX] = "";

	if (r->recnum != want_recnum)
		return snprintf(why, len,
				"record %llu where record %llu was due (deleted, "
				"reordered or duplicated records)",
				(unsigned long long)r->recnum, (unsigned long long)want_recnum);
	if (r->index_type != CEL_T_PCR || r->index != c->m->pcr)
		return snprintf(
		    why, len, "record %llu is for %s %u, not PCR %u", (unsigned long long)r->recnum,
		    r->index_type == CEL_T_PCR ? "PCR" : "NV index", r->index, c->m->pcr);
	if (!bank(r, TPM2_ALG_SHA256))
		return snprintf(why, len, "record %llu has no sha256 digest",
				(unsigned long long)r->recnum);
	if (r->content_type == CEL_CT_REDACTED)
		return is_marker(r) ? 0
				    : snprintf(why, len, "redacted record %llu has altered content",
					       (unsigned long long)r->recnum);
	if (r->content_type != CEL_CT_AICERT)
		return snprintf(why, len, "record %llu has content type %u, not aicert's",
				(unsigned long long)r->recnum, r->content_type);
	if (cel_record_check_digests(r, err))
		return snprintf(why, len, "%s", err);
	return 0;
}

static int keep_event(struct ctx *c, struct cel_event *e)
{
	struct cel_event *p = realloc(c->evs, (c->n_evs + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->evs = p;
	c->evs[c->n_evs++] = *e;
	return 0;
}

/* Decodes aicert records: the baseline first; this run's records are kept. */
static int scan_events(struct ctx *c, char *why, size_t len)
{
	char err[CEL_ERR_MAX] = "";

	for (size_t i = 0; i < c->log.n; i++) {
		const struct cel_record *r = &c->log.recs[i];
		struct cel_event e;

		if (r->content_type == CEL_CT_REDACTED) {
			if (i == 0)
				return snprintf(why, len,
						"the first record is redacted, not a baseline");
			continue;
		}
		if (cel_event_decode(r->content, r->content_len, &e, err))
			return snprintf(why, len, "%s", err);
		if ((i == 0) != (e.kind == CEL_KIND_BASELINE)) {
			cel_event_free(&e);
			return snprintf(why, len,
					"record %llu: %s; the baseline must be the first "
					"record and only it",
					(unsigned long long)r->recnum,
					i ? "a second baseline"
					  : "the log does not start with a baseline");
		}
		if (i == 0)
			memcpy(c->boot_id, e.boot_id, sizeof(c->boot_id));
		if (!e.run_id[0]) {
			cel_event_free(&e);
			continue;
		}
		if (c->run_id[0] && strcmp(c->run_id, e.run_id)) {
			int n = snprintf(why, len, "records of two runs are unredacted (%s and %s)",
					 c->run_id, e.run_id);

			cel_event_free(&e);
			return n;
		}
		memcpy(c->run_id, e.run_id, sizeof(c->run_id));
		if (keep_event(c, &e)) {
			cel_event_free(&e);
			return -ENOMEM;
		}
	}
	return 0;
}

/* This run's records: one run_start first, one run_end last, totals that add up, so none of the
 * run's own records can hide among the redacted ones. */
static int check_run(struct ctx *c, char *why, size_t len)
{
	uint64_t files = 0, lost = 0, batches = 0;

	if (!c->n_evs)
		return snprintf(why, len, "the log holds no record of a run");
	if (c->evs[0].kind != CEL_KIND_RUN_START)
		return snprintf(why, len, "run %s: its first record is %s, not run_start",
				c->run_id, cel_kind_name(c->evs[0].kind));
	c->start = &c->evs[0];
	for (size_t i = 1; i < c->n_evs; i++) {
		const struct cel_event *e = &c->evs[i];

		if (e->kind == CEL_KIND_RUN_END && i == c->n_evs - 1)
			c->end = &c->evs[i];
		else if (e->kind == CEL_KIND_BATCH)
			batches++, files += e->n_files;
		else if (e->kind == CEL_KIND_LOSS)
			lost += e->lost;
		else
			return snprintf(why, len, "run %s: unexpected %s record in the run",
					c->run_id, cel_kind_name(e->kind));
	}
	if (!c->end)
		return snprintf(why, len, "run %s has no run_end record", c->run_id);
	if (c->end->total_batches != batches || c->end->total_files != files ||
	    c->end->total_lost != lost)
		return snprintf(
		    why, len,
		    "run %s: run_end counts %llu batches, %llu files, %llu lost; the log "
		    "holds %llu, %llu, %llu",
		    c->run_id, (unsigned long long)c->end->total_batches,
		    (unsigned long long)c->end->total_files, (unsigned long long)c->end->total_lost,
		    (unsigned long long)batches, (unsigned long long)files,
		    (unsigned long long)lost);
	return 0;
}

static void check_log(struct ctx *c)
{
	char p[4096], why[VERIFY_REASON_MAX] = "", err[CEL_ERR_MAX] = "";
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (!c->m) {
		fail(c, VERIFY_EVENTLOG,
		     "not checked: manifest.json is unusable (PCR index unknown)");
		return;
	}
	bpath(c, "events.cel", p, sizeof(p));
	if ((ret = fileio_read(p, SIZE_MAX, &buf, &len))) {
		fail(c, VERIFY_EVENTLOG, "cannot read %s: %s", p, strerror(-ret));
		return;
	}
	if (cel_log_decode(buf, len, &c->log, NULL, err)) {
		fail(c, VERIFY_EVENTLOG, "events.cel: %s", err);
		goto cleanup;
	}
	if (!c->log.n) {
		fail(c, VERIFY_EVENTLOG, "events.cel holds no record");
		goto cleanup;
	}
	for (size_t i = 0; i < c->log.n; i++)
		if (check_record(c, &c->log.recs[i], c->log.recs[0].recnum + i, why, sizeof(why))) {
			fail(c, VERIFY_EVENTLOG, "%s", why);
			goto cleanup;
		}
	if ((ret = scan_events(c, why, sizeof(why))) || (ret = check_run(c, why, sizeof(why)))) {
		if (ret == -ENOMEM)
			nomem(c, VERIFY_EVENTLOG);
		else
			fail(c, VERIFY_EVENTLOG, "%s", why);
		goto cleanup;
	}
	if (cel_replay_baseline(&c->log, c->m->pcr, TPM2_ALG_SHA256, c->pcr_value, err)) {
		fail(c, VERIFY_EVENTLOG, "%s", err);
		goto cleanup;
	}
	c->have_pcr = true;
	c->log_ok = true;
cleanup:
	free(buf);
}

/* ---- 5. ima ---- */

static void load_ima(struct ctx *c)
{
	char p[4096], err[256] = "";

	c->has_ima = exists(c, "ima.bin");
	if (!c->has_ima)
		return;
	bpath(c, "ima.bin", p, sizeof(p));
	if (ima_read_file(p, NULL, &c->ima, err, sizeof(err))) {
		fail(c, VERIFY_IMA, "%s", err);
		return;
	}
	if (ima_check_digests(&c->ima, err, sizeof(err))) {
		fail(c, VERIFY_IMA, "%s", err);
		return;
	}
	/* the quote authenticates PCR 10 only: an entry for another PCR is unverifiable */
	for (size_t i = 0; i < c->ima.count; i++)
		if (c->ima.entries[i].pcr != PCR_IMA) {
			fail(c, VERIFY_IMA,
			     "ima.bin entry %zu is for PCR %u: only PCR 10 is quoted, so it "
			     "cannot be verified",
			     i, c->ima.entries[i].pcr);
			return;
		}
	c->ima_ok = true;
}

static size_t ima_pcr10_entries(const struct ima_list *l);

/* The digest PCR 10's sha256 bank is extended with for entry e (docs/ima.md). */
static void ima_extend_digest(const struct ima_list *l, const struct ima_entry *e, unsigned flags,
			      uint8_t d[32])
{
	if (e->violation) {
		memset(d, 0xff, 32);
	} else if (flags & IMA_REPLAY_PADDED_SHA1) {
		memset(d, 0, 32);
		memcpy(d, e->template_digest, l->digest_len < 32 ? l->digest_len : 32);
	} else {
		EVP_Digest(e->data, e->data_len, d, NULL, EVP_sha256(), NULL);
	}
}

static void put_values(const struct ctx *c, const uint8_t *pcr10, const uint8_t *pcrp,
		       uint8_t vals[64])
{
	bool ima_first = PCR_IMA < c->m->pcr;

	memcpy(vals + (ima_first ? 0 : 32), pcr10, 32);
	memcpy(vals + (ima_first ? 32 : 0), pcrp, 32);
}

#define LOG_TAIL 64 /* log prefixes tried when the whole log does not match */

/* PCR 10 values after the first n PCR 10 entries of ima.bin, for n in [n10 - lag, n10]. */
struct ima_prefixes {
	uint8_t (*v)[32]; /* v[n] */
	size_t n10, lo;
};

/*
 * Prefix values are computed incrementally; they are trusted only when the full replay agrees
 * with ima_replay (docs/ima.md's rules), else taken from ima_replay per prefix (slow, so fewer).
 */
static int ima_prefixes(const struct ctx *c, unsigned flags, struct ima_prefixes *p)
{
	const struct ima_list *l = &c->ima;
	size_t lag = c->o->ima_max_lag ? c->o->ima_max_lag : VERIFY_IMA_MAX_LAG;
	uint8_t v[32] = {0}, full[32];
	char err[256];
	bool legacy = false;

	p->n10 = p->lo = 0;
	if (!(p->v = calloc(l->count + 1, sizeof(*p->v))))
		return -ENOMEM;
	if (!c->has_ima)
		return 0; /* PCR 10 as after boot: zero */
	memcpy(p->v[0], v, 32);
	for (size_t i = 0; i < l->count; i++) {
		const struct ima_entry *e = &l->entries[i];
		uint8_t d[32];

		if (e->pcr != PCR_IMA)
			continue;
		legacy |= e->legacy;
		ima_extend_digest(l, e, flags, d);
		cel_extend(TPM2_ALG_SHA256, v, d);
		memcpy(p->v[++p->n10], v, 32);
	}
	if (ima_replay(l, PCR_IMA, "sha256", flags, SIZE_MAX, full, NULL, err, sizeof(err)))
		return -EINVAL;
	if (!legacy && !memcmp(full, p->v[p->n10], 32)) {
		p->lo = p->n10 > lag ? p->n10 - lag : 0;
		return 0;
	}
	lag = lag < 64 ? lag : 64;
	p->lo = p->n10 > lag ? p->n10 - lag : 0;
	for (size_t n = p->lo; n <= p->n10; n++)
		if (ima_replay(l, PCR_IMA, "sha256", flags, n, p->v[n], NULL, err, sizeof(err)))
			return -EINVAL;
	return 0;
}

/* The largest IMA prefix that, with pcrp, gives the quoted digest. */
static bool ima_match(const struct ctx *c, const struct ima_prefixes *p, const uint8_t *pcrp,
		      size_t *covered)
{
	char why[QUOTE_WHY_MAX];
	uint8_t vals[64];

	for (size_t n = p->n10 + 1; n-- > p->lo;) {
		put_values(c, p->v[n], pcrp, vals);
		if (quote_check_pcr_digest(c->q, vals, 64, why) == QUOTE_OK) {
			*covered = n;
			return true;
		}
	}
	return false;
}

/* The dedicated PCR after each of the log's last LOG_TAIL records (tail[0]: the whole log). */
static size_t log_tail(const struct ctx *c, uint8_t tail[LOG_TAIL][32], uint64_t recnum[LOG_TAIL])
{
	uint8_t v[32];
	size_t n = 0;

	memcpy(v, c->pcr_value, 32);
	/* Walk back by recomputing forward: cheap next to the log's decode. */
	for (size_t k = 0; k < LOG_TAIL && k < c->log.n; k++) {
		size_t last = c->log.n - k; /* records [0, last) */
		char err[CEL_ERR_MAX];
		struct cel_log part = {.recs = c->log.recs, .n = last, .cap = last};

		if (cel_replay_baseline(&part, c->m->pcr, TPM2_ALG_SHA256, v, err))
			break;
		memcpy(tail[n], v, 32);
		recnum[n++] = c->log.recs[last - 1].recnum;
	}
	return n;
}

/* bom.json (bound by the quote) says no file had an IMA result: IMA was off. */
static bool bom_ima_off(const struct ctx *c)
{
	if (!c->bom_loaded)
		return false;
	for (size_t i = 0; i < c->bom.nfiles; i++)
		if (c->bom.files[i].ima != BOM_IMA_UNAVAILABLE)
			return false;
	return true;
}

/* A covered entry whose file digest is not sha256: the reason a hashed file's ima can be
 * "unavailable" while IMA was on. */
static bool ima_other_algo(const struct ctx *c, size_t covered)
{
	for (size_t i = 0; i < covered && i < c->ima.count; i++) {
		const struct ima_entry *e = &c->ima.entries[i];

		if (!e->violation && e->file_name &&
		    (!e->file_digest || strcmp(e->hash_algo, "sha256")))
			return true;
	}
	return false;
}

static void pass_ima(struct ctx *c, size_t covered)
{
	size_t viol = 0;

	c->r->ima_entries = ima_pcr10_entries(&c->ima);
	c->r->ima_covered = covered;
	if (!c->has_ima) {
		pass(c, VERIFY_IMA,
		     "no ima.bin: IMA was off on the traced host, and the quoted PCR "
		     "10 is zero (nothing was measured into it)");
		return;
	}
	/* PCR 10 as after boot matches: the list is none of the quote's business */
	if (!covered && c->ima.count) {
		fail(c, VERIFY_IMA,
		     "the quote covers none of ima.bin's %zu entries (the quoted PCR 10 is zero: "
		     "IMA was off, and ima.bin was added)",
		     c->ima.count);
		return;
	}
	if (bom_ima_off(c) && !ima_other_algo(c, covered)) {
		fail(c, VERIFY_IMA,
		     "bom.json records no IMA result for any file, yet the bundle has ima.bin");
		return;
	}
	for (size_t i = 0; i < covered; i++)
		viol += c->ima.entries[i].violation;
	c->ima_verified = true;
	c->ima_covered = covered;
	c->r->ima_uncovered = c->r->ima_entries - covered;
	c->r->ima_violations = viol;
	pass(c, VERIFY_IMA,
	     "ima.bin replays into PCR 10 to the quoted value: %zu of %zu "
	     "entries covered by the quote; UNAUTHENTICATED: the %zu entries after them and the "
	     "data of %zu violation entries among them",
	     covered, c->r->ima_entries, c->r->ima_uncovered, viol);
}

static void pass_both(struct ctx *c, size_t covered)
{
	pass(c, VERIFY_EVENTLOG,
	     "%zu records, digests match their content, replay of PCR %u from "
	     "the baseline equals the quote",
	     c->log.n, c->m->pcr);
	pass_ima(c, covered);
}

/*
 * One digest covers PCR 10 and the dedicated PCR. When the whole log and no IMA prefix give it,
 * a shorter log that does shows records the quote never saw (the log's fault); otherwise the
 * blame goes to ima.bin, which, unlike events.cel, the qualifying data does not bind.
 */
static void match_with_ima(struct ctx *c)
{
	static const unsigned flags[] = {0, IMA_REPLAY_PADDED_SHA1};
	struct ima_prefixes p[2] = {{0}};
	uint8_t tail[LOG_TAIL][32];
	uint64_t recnum[LOG_TAIL];
	size_t covered = 0, nt = 0;

	for (int f = 0; f < 2; f++)
		if (ima_prefixes(c, flags[f], &p[f]) == -ENOMEM) {
			nomem(c, VERIFY_IMA);
			goto cleanup;
		}
	for (int f = 0; f < 2; f++)
		if (p[f].v && ima_match(c, &p[f], c->pcr_value, &covered)) {
			pass_both(c, covered);
			goto cleanup;
		}
	nt = log_tail(c, tail, recnum);
	for (size_t k = 1; k < nt; k++)
		for (int f = 0; f < 2; f++)
			if (p[f].v && ima_match(c, &p[f], tail[k], &covered)) {
				fail(c, VERIFY_EVENTLOG,
				     "the quote covers the log only up to record "
				     "%llu: the %zu record(s) after it were added",
				     (unsigned long long)recnum[k], k);
				pass_ima(c, covered);
				goto cleanup;
			}
	if (!c->has_ima && bom_ima_off(c)) {
		/* bom.json, which the quote binds, says IMA was off: PCR 10 must be zero, so the
		 * log is what does not match */
		fail(c, VERIFY_EVENTLOG,
		     "replay of PCR %u is not the quoted value (with PCR 10 "
		     "zero: IMA was off, as bom.json says)",
		     c->m->pcr);
		failx(c, VERIFY_IMA, VERIFY_EXIT_EVENTLOG,
		      "not confirmed: the quoted digest covers PCR 10 and PCR %u (see eventlog)",
		      c->m->pcr);
		goto cleanup;
	}
	failx(c, VERIFY_EVENTLOG, VERIFY_EXIT_IMA,
	      "not confirmed: the quoted digest covers PCR %u and PCR 10, and %s gives no PCR 10 "
	      "value that matches (see ima)",
	      c->m->pcr, c->has_ima ? "ima.bin" : "a zero PCR 10 (no ima.bin)");
	if (!c->has_ima)
		fail(c, VERIFY_IMA,
		     "no ima.bin, but bom.json records IMA results: the quoted "
		     "digest does not match a zero PCR 10 with events.cel's PCR %u",
		     c->m->pcr);
	fail(c, VERIFY_IMA,
	     "no prefix of ima.bin (%zu PCR 10 entries; the quote may lag by %zu) "
	     "replays, with events.cel's PCR %u, to the quoted PCR digest",
	     p[0].n10, p[0].n10 - p[0].lo, c->m->pcr);
cleanup:
	free(p[0].v);
	free(p[1].v);
}

static size_t ima_pcr10_entries(const struct ima_list *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->count; i++)
		n += l->entries[i].pcr == PCR_IMA;
	return n;
}

/* ---- the quoted PCR digest against the replays ---- */

static void check_pcr_digest(struct ctx *c)
{
	char why[QUOTE_WHY_MAX], hx[65];

	if (!c->attested || !c->quote_ok) {
		if (c->log_ok)
			failx(c, VERIFY_EVENTLOG,
			      c->attested ? VERIFY_EXIT_QUOTE : VERIFY_EXIT_UNATTESTED,
			      "replay not compared: %s",
			      c->attested ? "the quote is unusable"
					  : "unattested bundle (no quote)");
		failx(c, VERIFY_IMA, c->attested ? VERIFY_EXIT_QUOTE : VERIFY_EXIT_UNATTESTED,
		      "replay not compared: %s",
		      c->attested ? "the quote is unusable" : "unattested bundle (no quote)");
		return;
	}
	if (!c->log_ok) {
		failx(c, VERIFY_IMA, VERIFY_EXIT_EVENTLOG,
		      "replay not compared: events.cel is unusable");
		return;
	}
	if (c->zero10) {
		match_with_ima(c);
		return;
	}
	if (c->has_ima) {
		if (c->ima_ok)
			match_with_ima(c);
		else
			failx(
			    c, VERIFY_EVENTLOG, VERIFY_EXIT_IMA,
			    "replay not compared: ima.bin is unusable and the quoted digest covers "
			    "both PCRs");
		return;
	}
	hex_encode(c->pcr_value, 32, hx);
	if (quote_check_pcr_digest(c->q, c->pcr_value, 32, why)) {
		fail(c, VERIFY_EVENTLOG, "replay of PCR %u (%.16s...) is not the quoted value: %s",
		     c->m->pcr, hx, why);
		return;
	}
	pass(c, VERIFY_EVENTLOG,
	     "%zu records, digests match their content, replay of PCR %u from "
	     "the baseline equals the quote",
	     c->log.n, c->m->pcr);
	pass(c, VERIFY_IMA,
	     "no ima.bin: IMA was unavailable on the traced host; the quote covers "
	     "PCR %u only",
	     c->m->pcr);
}

/* ---- 6. bom against the log ---- */

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int d = strcmp(x->path, y->path);

	if (d || x->sha == y->sha)
		return d;
	if (!x->sha || !y->sha)
		return x->sha ? 1 : -1;
	return memcmp(x->sha, y->sha, 32);
}

static bool sorted(const struct item *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (item_cmp(&v[i - 1], &v[i]) > 0)
			return false;
	return true;
}

/* Sorts and merges duplicates (roles or'ed). Returns the new count. */
static size_t merge_items(struct item *v, size_t n)
{
	size_t o = 0;

	/* bom_write sorts its files, and logs are often in order: skip the sort then */
	if (!sorted(v, n))
		qsort(v, n, sizeof(*v), item_cmp);
	for (size_t i = 0; i < n; i++) {
		if (o && !item_cmp(&v[o - 1], &v[i]))
			v[o - 1].roles |= v[i].roles;
		else
			v[o++] = v[i];
	}
	return o;
}

static bool nonzero(const uint8_t d[32])
{
	for (int i = 0; i < 32; i++)
		if (d[i])
			return true;
	return false;
}

/* bom.json's status text as the CEL code aicert-trace records for it (docs/verify.md). */
static int64_t bom_status_code(const char *s)
{
	static const struct {
		const char *text;
		int code;
	} map[] = {
	    {"vanished", CEL_FILE_VANISHED},
	    {"deleted before the run ended", CEL_FILE_DELETED},
	    {"changed while hashing", CEL_FILE_CHANGED},
	    {"replaced", CEL_FILE_REPLACED},
	    {"not a regular file", CEL_FILE_NOT_REGULAR},
	    {"path truncated", CEL_FILE_PATH_TRUNCATED},
	};

	if (!s)
		return CEL_FILE_OK;
	if (!strncmp(s, "unreadable: ", 12) || !strcmp(s, "unreadable"))
		return CEL_FILE_UNREADABLE;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(s, map[i].text))
			return map[i].code;
	return -1;
}

static const char *cel_status_text(int64_t st)
{
	static const char *const names[] = {
	    [CEL_FILE_OK] = "hashed",
	    [CEL_FILE_UNREADABLE] = "unreadable",
	    [CEL_FILE_VANISHED] = "vanished",
	    [CEL_FILE_CHANGED] = "changed while hashing",
	    [CEL_FILE_SKIPPED] = "skipped",
	    [CEL_FILE_REPLACED] = "replaced",
	    [CEL_FILE_NOT_REGULAR] = "not a regular file",
	    [CEL_FILE_DELETED] = "deleted before the run ended",
	    [CEL_FILE_PATH_TRUNCATED] = "path truncated",
	};

	if (st >= 0 && st < (int64_t)(sizeof(names) / sizeof(names[0])) && names[st])
		return names[st];
	return "unknown status";
}

static int log_items(const struct ctx *c, struct item **out, size_t *n)
{
	size_t cap = c->end->n_outputs, k = 0;
	struct item *v;

	for (size_t i = 0; i < c->n_evs; i++)
		if (c->evs[i].kind == CEL_KIND_BATCH)
			cap += c->evs[i].n_files;
	v = malloc((cap ? cap : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_evs; i++) {
		const struct cel_event *e = &c->evs[i];

		for (size_t j = 0; e->kind == CEL_KIND_BATCH && j < e->n_files; j++, k++) {
			const struct cel_file *f = &e->files[j];

			/* a digest the record holds counts, whatever the status */
			v[k] = (struct item){.path = f->path,
					     .roles = f->roles,
					     .sha = nonzero(f->sha256) ? f->sha256 : NULL,
					     .size = f->size,
					     .status = f->status};
		}
	}
	for (size_t j = 0; j < c->end->n_outputs; j++, k++) {
		const struct cel_output *f = &c->end->outputs[j];

		v[k] = (struct item){.path = f->path,
				     .roles = BOM_ROLE_OUTPUT,
				     .sha = nonzero(f->sha256) ? f->sha256 : NULL,
				     .size = f->size,
				     .status = CEL_FILE_OK};
	}
	*out = v;
	*n = merge_items(v, k);
	return 0;
}

/* *digests holds the binary sha256 the items point to. */
static int bom_items(const struct bom *b, struct item **out, size_t *n, uint8_t (**digests)[32])
{
	struct item *v = malloc((b->nfiles ? b->nfiles : 1) * sizeof(*v));
	uint8_t(*d)[32] = malloc((b->nfiles ? b->nfiles : 1) * sizeof(*d));

	if (!v || !d) {
		free(v);
		free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->nfiles; i++) {
		v[i].path = b->files[i].path;
		v[i].roles = b->files[i].roles;
		v[i].sha = b->files[i].sha256[0] && !hex_decode(b->files[i].sha256, d[i], 32)
			       ? d[i]
			       : NULL;
		v[i].size = b->files[i].size;
		v[i].status = bom_status_code(b->files[i].status);
		v[i].status_text = b->files[i].status;
	}
	*out = v;
	*digests = d;
	*n = merge_items(v, b->nfiles);
	return 0;
}

static void roles_text(unsigned roles, char *out, size_t len)
{
	static const char *const names[] = {"input", "output", "executable", "library"};

	out[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (roles & (1u << i))
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? "," : "",
				 names[i]);
	if (!out[0])
		snprintf(out, len, "none");
}

/* Merge-compares the two sorted sets; the first difference is the reason. */
static const char *sha_text(const struct item *it, char hx[65])
{
	if (!it->sha)
		return "none";
	hex_encode(it->sha, 32, hx);
	return hx;
}

static bool same_items(struct ctx *c, const struct item *b, size_t nb, const struct item *l,
		       size_t nl)
{
	size_t i = 0, j = 0;
	char r1[64], r2[64], hx[65];

	while (i < nb || j < nl) {
		int d = i == nb ? 1 : j == nl ? -1 : item_cmp(&b[i], &l[j]);

		if (d < 0) {
			fail(c, VERIFY_BOM,
			     "bom.json lists %s (sha256 %.16s) which the event log does "
			     "not measure in this run",
			     b[i].path, sha_text(&b[i], hx));
			return false;
		}
		if (d > 0) {
			fail(c, VERIFY_BOM,
			     "the event log measures %s (sha256 %.16s) which bom.json "
			     "does not list",
			     l[j].path, sha_text(&l[j], hx));
			return false;
		}
		if (b[i].roles != l[j].roles) {
			roles_text(b[i].roles, r1, sizeof(r1));
			roles_text(l[j].roles, r2, sizeof(r2));
			fail(c, VERIFY_BOM, "%s: roles %s in bom.json, %s in the event log",
			     b[i].path, r1, r2);
			return false;
		}
		if (b[i].size != l[j].size) {
			fail(c, VERIFY_BOM, "%s: size %llu in bom.json, %llu in the event log",
			     b[i].path, (unsigned long long)b[i].size,
			     (unsigned long long)l[j].size);
			return false;
		}
		if (b[i].status != l[j].status) {
			fail(c, VERIFY_BOM, "%s: status \"%s\" in bom.json, %s in the event log",
			     b[i].path, b[i].status_text ? b[i].status_text : "(none: hashed)",
			     cel_status_text(l[j].status));
			return false;
		}
		i++, j++;
	}
	return true;
}

/* The command's end as bom.json says it: the signal that killed it, else its exit code. */
static bool same_exit(struct ctx *c, const struct bom_run *run)
{
	const struct cel_event *e = c->end;

	if (run->signal != e->signal) {
		fail(c, VERIFY_BOM, "signal: bom.json says %d, run_end says %d", run->signal,
		     e->signal);
		return false;
	}
	if (e->signal ? run->exit_code != -1 : run->exit_code != e->exit_status) {
		fail(c, VERIFY_BOM, "exit status: bom.json says %d%s, run_end says %d (signal %d)",
		     run->exit_code, run->signal ? " (signal)" : "", e->exit_status, e->signal);
		return false;
	}
	return true;
}

/* Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.fff...]Z"; -1 when malformed. */
static int64_t rfc3339_ms(const char *s)
{
	struct tm tm = {0};
	const char *p;
	int64_t ms = 0, scale = 100;
	time_t t;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*p == '.') {
		if (!(p[1] >= '0' && p[1] <= '9'))
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += scale ? (*p - '0') * scale : 0;
	}
	if (strcmp(p, "Z") || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t * 1000 + ms;
}

/* run_start.time <= started <= finished <= run_end.time, at bom.json's millisecond grain. */
static bool check_times(struct ctx *c, const struct bom_run *run)
{
	int64_t st = rfc3339_ms(run->started), fi = rfc3339_ms(run->finished);
	int64_t t0 = (int64_t)(c->start->time_ns / 1000000),
		t1 = (int64_t)(c->end->time_ns / 1000000);

	if (st < 0 || fi < 0) {
		fail(c, VERIFY_BOM, "bom.json started/finished (%s, %s) are not RFC 3339 UTC times",
		     run->started ? run->started : "null", run->finished ? run->finished : "null");
		return false;
	}
	if (!(t0 <= st && st <= fi && fi <= t1)) {
		fail(c, VERIFY_BOM,
		     "times: bom.json says started %s, finished %s; the log's run_start and "
		     "run_end were made at %lld.%03lld and %lld.%03lld (s since the epoch)",
		     run->started, run->finished, (long long)(t0 / 1000), (long long)(t0 % 1000),
		     (long long)(t1 / 1000), (long long)(t1 % 1000));
		return false;
	}
	return true;
}

static bool same_str(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * --nonce: the quote carries it (check_quote), and so must run_start, written before the command
 * ran. A quote alone proves only that the log is current: an older run quoted again with a
 * fresh nonce would pass it. Fails the quote check, as a wrong nonce in the quote does.
 */
static void check_nonce(struct ctx *c, const struct cel_event *s)
{
	char want[2 * CEL_NONCE_MAX + 1], got[2 * CEL_NONCE_MAX + 1];

	if (!c->o->nonce)
		return;
	if (!s->nonce_len) {
		fail(c, VERIFY_QUOTE,
		     "--nonce: run_start of run %s records no nonce, so the run may have started "
		     "before the challenge (the quote only shows that the log is current)",
		     c->run_id);
		return;
	}
	if (s->nonce_len != c->o->nonce_len || memcmp(s->nonce, c->o->nonce, s->nonce_len)) {
		hex_encode(s->nonce, s->nonce_len, got);
		hex_encode(c->o->nonce,
			   c->o->nonce_len < CEL_NONCE_MAX ? c->o->nonce_len : CEL_NONCE_MAX, want);
		fail(c, VERIFY_QUOTE,
		     "--nonce: run_start of run %s records nonce %.32s%s, not %.32s%s: the run did "
		     "not start after this challenge",
		     c->run_id, got, strlen(got) > 32 ? "..." : "", want,
		     strlen(want) > 32 ? "..." : "");
	}
}

/* The command, cwd and backend recorded at run_start (bytes: bom_read decodes "_b64"). */
static bool check_start(struct ctx *c, const struct bom_run *run)
{
	const struct cel_event *s = c->start;

	check_nonce(c, s);

	if (run->argc != s->argc) {
		fail(c, VERIFY_BOM, "command: bom.json has %zu arguments, run_start %zu", run->argc,
		     s->argc);
		return false;
	}
	for (size_t i = 0; i < s->argc; i++)
		if (!same_str(run->command[i], s->argv[i])) {
			fail(c, VERIFY_BOM,
			     "command: argument %zu differs between bom.json and run_start", i);
			return false;
		}
	if (!same_str(run->cwd, s->cwd)) {
		fail(c, VERIFY_BOM, "cwd: bom.json and run_start differ");
		return false;
	}
	if (!same_str(run->backend, s->backend)) {
		fail(c, VERIFY_BOM, "backend: bom.json says %s, run_start %s",
		     run->backend ? run->backend : "null", s->backend ? s->backend : "null");
		return false;
	}
	return true;
}

/* bom.json's host.kernel is uname's release; the baseline's "sysname release version machine". */
static bool same_kernel(const char *bom, const char *base)
{
	const char *sp;
	size_t n;

	if (same_str(bom, base))
		return true;
	if (!bom || !base || !(sp = strchr(base, ' ')))
		return false;
	n = strlen(bom);
	return n && !strncmp(sp + 1, bom, n) && (sp[1 + n] == ' ' || !sp[1 + n]);
}

static bool check_host(struct ctx *c)
{
	const struct cel_event *b = NULL;
	char err[CEL_ERR_MAX];
	struct cel_event e;
	bool ok = false;

	if (cel_event_decode(c->log.recs[0].content, c->log.recs[0].content_len, &e, err)) {
		fail(c, VERIFY_BOM, "the baseline: %s", err);
		return false;
	}
	b = &e;
	if (c->bom.host.boot_id && c->boot_id[0] && strcmp(c->bom.host.boot_id, c->boot_id))
		fail(c, VERIFY_BOM, "boot id: bom.json says %s, the log's baseline %s",
		     c->bom.host.boot_id, c->boot_id);
	else if (!same_str(c->bom.host.hostname, b->hostname))
		fail(c, VERIFY_BOM, "hostname: bom.json says %s, the log's baseline %s",
		     c->bom.host.hostname ? c->bom.host.hostname : "null",
		     b->hostname ? b->hostname : "(none)");
	else if (!same_kernel(c->bom.host.kernel, b->kernel))
		fail(c, VERIFY_BOM, "kernel: bom.json says %s, the log's baseline %s",
		     c->bom.host.kernel ? c->bom.host.kernel : "null",
		     b->kernel ? b->kernel : "(none)");
	else
		ok = true;
	cel_event_free(&e);
	return ok;
}

static bool check_run_fields(struct ctx *c)
{
	const struct bom_run *run = &c->bom.run;
	const struct cel_event *e = c->end;
	bool complete = !e->total_lost && !e->detached && !e->paths_truncated;

	if (!run->id || strcmp(run->id, c->run_id)) {
		fail(c, VERIFY_BOM, "bom.json is for run %s, the event log for run %s",
		     run->id ? run->id : "(none)", c->run_id);
		return false;
	}
	if (!check_start(c, run) || !same_exit(c, run) || !check_times(c, run))
		return false;
	if (run->events_lost != e->total_lost) {
		fail(c, VERIFY_BOM, "events lost: bom.json says %llu, run_end says %llu",
		     (unsigned long long)run->events_lost, (unsigned long long)e->total_lost);
		return false;
	}
	if (run->paths_truncated != e->paths_truncated || !!run->detached != !!e->detached) {
		fail(
		    c, VERIFY_BOM,
		    "bom.json says %llu paths truncated, %sdetached; run_end says %llu, %sdetached",
		    (unsigned long long)run->paths_truncated, run->detached ? "" : "not ",
		    (unsigned long long)e->paths_truncated, e->detached ? "" : "not ");
		return false;
	}
	if (!!run->complete != complete) {
		fail(c, VERIFY_BOM, "bom.json says the run is %scomplete; run_end says %s",
		     run->complete ? "" : "not ",
		     complete ? "no event lost, no path truncated, not detached"
			      : "it lost events, truncated paths or was detached");
		return false;
	}
	if (!check_host(c))
		return false;
	if (!!c->bom.attested != c->attested) {
		fail(c, VERIFY_BOM, "bom.json says the bundle is %sattested, but it has %squote",
		     c->bom.attested ? "" : "un", c->attested ? "a " : "no ");
		return false;
	}
	return true;
}

/* ---- files[].ima against ima.bin's covered prefix ---- */

struct name_ix {
	const char *name;
	size_t idx;
};

static int name_ix_cmp(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d ? d : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The latest covered entry recorded under name, or NULL. */
static const struct ima_entry *ima_latest(const struct ctx *c, const struct name_ix *ix, size_t n,
					  const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix[mid].name, name) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && !strcmp(ix[lo - 1].name, name) ? &c->ima.entries[ix[lo - 1].idx] : NULL;
}

/* What aicert-trace's IMA correlation gives a file, from the entries the quote covers. */
static enum bom_ima expected_ima(const struct ctx *c, const struct name_ix *ix, size_t n,
				 const struct bom_file *f)
{
	const struct ima_entry *e;
	uint8_t ours[32];
	char *name;

	if (!c->has_ima || !f->sha256[0] || f->status || hex_decode(f->sha256, ours, 32))
		return BOM_IMA_UNAVAILABLE;
	/* the kernel records a space in a name as '_' */
	if (!(name = strdup(f->path)))
		return -1;
	for (char *p = name; *p; p++)
		if (*p == ' ')
			*p = '_';
	e = ima_latest(c, ix, n, name);
	free(name);
	if (!e)
		return BOM_IMA_ABSENT;
	if (e->violation)
		return BOM_IMA_MISMATCH;
	if (!e->file_digest || strcmp(e->hash_algo, "sha256") || e->file_digest_len != 32 ||
	    (e->digest_type[0] && strcmp(e->digest_type, "ima")))
		return BOM_IMA_UNAVAILABLE;
	return memcmp(ours, e->file_digest, 32) ? BOM_IMA_MISMATCH : BOM_IMA_MATCH;
}

static bool check_bom_ima(struct ctx *c)
{
	struct name_ix *ix = NULL;
	size_t n = 0;
	bool ok = false;

	if (c->has_ima && !c->ima_verified) {
		fail(c, VERIFY_BOM,
		     "files' ima values not checked: ima.bin is not verified (see ima)");
		return false;
	}
	if (c->has_ima) {
		if (!(ix = calloc(c->ima_covered ? c->ima_covered : 1, sizeof(*ix)))) {
			nomem(c, VERIFY_BOM);
			return false;
		}
		for (size_t i = 0; i < c->ima_covered; i++)
			if (c->ima.entries[i].file_name)
				ix[n++] = (struct name_ix){c->ima.entries[i].file_name, i};
		qsort(ix, n, sizeof(*ix), name_ix_cmp);
	}
	for (size_t i = 0; i < c->bom.nfiles; i++) {
		const struct bom_file *f = &c->bom.files[i];
		int want = expected_ima(c, ix, n, f);

		if (want < 0) {
			nomem(c, VERIFY_BOM);
			goto cleanup;
		}
		if ((int)f->ima != want) {
			fail(c, VERIFY_BOM, "%s: ima \"%s\" in bom.json, but %s says \"%s\"",
			     f->path, bom_ima_name(f->ima),
			     c->has_ima ? "ima.bin's covered entries" : "the absence of ima.bin",
			     bom_ima_name(want));
			goto cleanup;
		}
	}
	ok = true;
cleanup:
	free(ix);
	return ok;
}

/* bom.json is the largest file of a bundle: it is parsed on a thread while the log is checked. */
struct bom_job {
	char path[4096];
	struct bom *b;
	int rc;
	char err[512];
	pthread_t tid;
	bool started;
};

static void *bom_job_run(void *arg)
{
	struct bom_job *j = arg;

	j->rc = bom_read(j->b, j->path, j->err, sizeof(j->err));
	return NULL;
}

static void bom_job_start(struct ctx *c, struct bom_job *j)
{
	bpath(c, "bom.json", j->path, sizeof(j->path));
	j->b = &c->bom;
	j->started = !pthread_create(&j->tid, NULL, bom_job_run, j);
}

static void bom_job_wait(struct ctx *c, struct bom_job *j)
{
	if (j->started)
		pthread_join(j->tid, NULL);
	else
		bom_job_run(j);
	j->started = false;
	c->bom_loaded = !j->rc;
	snprintf(c->bom_err, sizeof(c->bom_err), "%s", j->err);
}

static void check_bom(struct ctx *c)
{
	struct item *bi = NULL, *li = NULL;
	uint8_t(*digests)[32] = NULL;
	size_t nb = 0, nl = 0;

	if (!c->bom_loaded) {
		fail(c, VERIFY_BOM, "bom.json: %s", c->bom_err);
		return;
	}
	c->bom_ok = true;
	if (!c->end) {
		fail(c, VERIFY_BOM, "not checked against the log: events.cel is unusable");
		return;
	}
	if (!check_run_fields(c))
		return;
	if (bom_items(&c->bom, &bi, &nb, &digests) || log_items(c, &li, &nl)) {
		nomem(c, VERIFY_BOM);
		goto cleanup;
	}
	c->r->run_files = nl;
	if (same_items(c, bi, nb, li, nl) && check_bom_ima(c))
		pass(c, VERIFY_BOM,
		     "run %s: %zu files in bom.json, the same (path, sha256, roles, size, status) "
		     "as the log, ima values as ima.bin's covered entries say; command, cwd, "
		     "backend, times, exit status %d, signal, events lost, paths truncated, "
		     "detached, complete, host name, kernel, boot id agree (files[].category and "
		     "host.tpm are unattested annotations)",
		     c->run_id, nb, c->end->exit_status);
cleanup:
	free(bi);
	free(li);
	free(digests);
}

/* ---- 7. weights and 8. complete ---- */

static void check_weights(struct ctx *c)
{
	uint8_t d[32];
	char hx[65];

	if (!c->o->n_weights) {
		pass(c, VERIFY_WEIGHTS, "no --weights given");
		return;
	}
	if (!c->end) {
		fail(c, VERIFY_WEIGHTS, "not checked: the event log is unusable");
		return;
	}
	for (size_t i = 0; i < c->o->n_weights; i++) {
		const char *w = c->o->weights[i];
		bool found = false;
		int ret = sha256_file(w, d);

		if (ret) {
			fail(c, VERIFY_WEIGHTS, "cannot read %s: %s", w, strerror(-ret));
			return;
		}
		for (size_t j = 0; j < c->end->n_outputs && !found; j++)
			found = !memcmp(c->end->outputs[j].sha256, d, 32);
		if (!found) {
			hex_encode(d, 32, hx);
			fail(c, VERIFY_WEIGHTS, "%s (sha256 %.16s...) is not an output of run %s",
			     w, hx, c->run_id);
			return;
		}
	}
	pass(c, VERIFY_WEIGHTS, "%zu file(s) match outputs of run %s", c->o->n_weights, c->run_id);
}

static void check_complete(struct ctx *c)
{
	if (!c->end) {
		fail(c, VERIFY_COMPLETE, "not checked: the event log is unusable");
		return;
	}
	if (c->end->total_lost) {
		fail(c, VERIFY_COMPLETE,
		     "incomplete: the run lost %llu events, so files may be "
		     "missing from the record",
		     (unsigned long long)c->end->total_lost);
		return;
	}
	if (c->end->paths_truncated) {
		fail(c, VERIFY_COMPLETE,
		     "incomplete: the kernel truncated %llu paths, which may name other files",
		     (unsigned long long)c->end->paths_truncated);
		return;
	}
	if (c->end->detached) {
		fail(c, VERIFY_COMPLETE,
		     "incomplete: detached: the command left processes running when tracing "
		     "stopped");
		return;
	}
	if (c->bom_ok && !c->bom.run.complete) {
		fail(c, VERIFY_COMPLETE, "incomplete: bom.json marks the run incomplete");
		return;
	}
	pass(c, VERIFY_COMPLETE, "no event lost, no path truncated, not detached (per run_end)");
}

/* ---- driver ---- */

static void finish(struct ctx *c)
{
	struct verify_report *r = c->r;

	r->exit_code = 0;
	for (int i = 0; i < VERIFY_N_CHECKS; i++) {
		r->checks[i].name = check_names[i];
		if (!r->checks[i].ok && !r->exit_code)
			r->exit_code =
			    r->checks[i].exit_code ? r->checks[i].exit_code : VERIFY_EXIT_INTERNAL;
	}
	r->records = c->log.n;
	r->verdict = r->exit_code == 0			      ? "verified"
		     : r->exit_code == VERIFY_EXIT_UNATTESTED ? "unattested"
		     : r->exit_code == VERIFY_EXIT_INCOMPLETE ? "incomplete"
							      : "failed";
}

static void ctx_free(struct ctx *c)
{
	manifest_free(c->m);
	quote_free(c->q);
	EVP_PKEY_free(c->ak);
	cel_log_free(&c->log);
	for (size_t i = 0; i < c->n_evs; i++)
		cel_event_free(&c->evs[i]);
	free(c->evs);
	if (c->has_ima)
		ima_list_free(&c->ima);
	bom_free(&c->bom);
}

int verify_bundle(const struct verify_opts *o, struct verify_report *r)
{
	struct ctx c = {.o = o, .r = r};
	struct bom_job job = {.rc = 0};

	memset(r, 0, sizeof(*r));
	bom_init(&c.bom);
	bom_job_start(&c, &job);
	for (int i = 0; i < VERIFY_N_CHECKS; i++) {
		r->checks[i].name = check_names[i];
		snprintf(r->checks[i].reason, VERIFY_REASON_MAX, "not run");
		r->checks[i].exit_code = VERIFY_EXIT_INTERNAL;
	}
	check_manifest(&c);
	load_ima(&c);
	if (c.m)
		check_quote(&c);
	else
		fail(&c, VERIFY_QUOTE, "not checked: manifest.json is unusable");
	check_ak(&c);
	check_log(&c);
	bom_job_wait(&c, &job);
	check_pcr_digest(&c);
	check_bom(&c);
	check_weights(&c);
	check_complete(&c);
	finish(&c);
	ctx_free(&c);
	return r->exit_code;
}

void verify_report_print(const struct verify_report *r, FILE *out)
{
	for (int i = 0; i < VERIFY_N_CHECKS; i++)
		fprintf(out, "%s %s: %s\n", r->checks[i].ok ? "PASS" : "FAIL", r->checks[i].name,
			r->checks[i].reason);
	if (r->exit_code == VERIFY_EXIT_UNATTESTED)
		fprintf(out, "UNATTESTED: this bundle is not bound to a TPM (exit %d)\n",
			r->exit_code);
	else
		fprintf(out, "verdict: %s (exit %d)\n", r->verdict, r->exit_code);
}

json_t *verify_report_json(const struct verify_report *r)
{
	json_t *o = json_object(), *a = json_array();

	if (!o || !a)
		goto fail;
	for (int i = 0; i < VERIFY_N_CHECKS; i++) {
		json_t *k = json_pack("{s:s, s:b, s:s}", "name", r->checks[i].name, "ok",
				      r->checks[i].ok, "reason", r->checks[i].reason);

		if (!k || json_array_append_new(a, k))
			goto fail;
	}
	if (json_object_set_new(o, "checks", a)) {
		a = NULL;
		goto fail;
	}
	a = NULL;
	if (json_object_set_new(o, "verdict", json_string(r->verdict)) ||
	    json_object_set_new(o, "exit_code", json_integer(r->exit_code)))
		goto fail;
	return o;
fail:
	json_decref(a);
	json_decref(o);
	return NULL;
}
