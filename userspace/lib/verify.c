// SPDX-License-Identifier: BSD-2-Clause
/*
 * verify.c - the checks of aicert-verify (docs/verify.md). Every check reads the bundle through
 * the same library the tracer writes it with (manifest, quote, cel, ima, bom).
 */
#include "lib/verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/bom.h"
#include "lib/cdx.h"
#include "lib/cel.h"
#include "lib/fileio.h"
#include "lib/hex.h"
#include "lib/ima.h"
#include "lib/intoto.h"
#include "lib/manifest.h"
#include "lib/quote.h"

#define PCR_IMA 10

/* Caps on what a bundle file may hold, checked before reading (fileio_read_regular). */
#define MAX_MANIFEST (16u << 20)
#define MAX_QUOTE (64u << 10)
#define MAX_PEM (1u << 20)
#define MAX_CEL ((size_t)2 << 30)
#define MAX_IMA ((size_t)1 << 30)
#define MAX_BOM ((size_t)1 << 30)
#define MAX_DOC ((size_t)2 << 30) /* bom.cdx.json, provenance.intoto.json */

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
	int dfd; /* the bundle directory: every file is opened relative to it */
	char dir_note[VERIFY_REASON_MAX / 2]; /* "the bundle directory is a symbolic link..." */
	/* manifest */
	struct manifest *m;
	bool lq; /* kind "log-quote": the host log quoted for a challenge, no run */
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
	size_t redacted, lq_runs; /* a log quote: redacted records, run_start records in clear */
	struct cel_event *evs;	  /* this run's decoded records */
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
	char bom_err[600];
	struct doc_job *docs; /* bom.cdx.json, provenance.intoto.json: compared on threads */
};

const char *verify_check_name(enum verify_check_id id)
{
	return id < VERIFY_N_CHECKS ? check_names[id] : "?";
}

/* ---- reporting ---- */

/* Length of the UTF-8 sequence at p (RFC 3629: no overlong form, no surrogate, at most
 * U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A character a terminal acts on rather than shows: C0, DEL, C1 (U+0080..U+009F, CSI among
 * them) and the bidirectional overrides and isolates, which reorder what follows. */
static bool unsafe_char(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0] < 0x20 || p[0] == 0x7f || p[0] == '\\';
	if (n == 2)
		return p[0] == 0xc2 && p[1] < 0xa0;
	return n == 3 && p[0] == 0xe2 &&
	       ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
		(p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

/*
 * Reasons quote file names, arguments and fields of the bundle: its author chooses them. They
 * are printed escaped, so no byte of theirs moves the cursor, recolours, rewrites a FAIL line or
 * breaks the JSON report: each byte of an unsafe character or of an invalid UTF-8 sequence
 * becomes \xNN, a backslash \\; the rest is valid UTF-8 and printable.
 */
static void escape(const char *in, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	while (*p) {
		size_t n = utf8_len(p), need;
		bool plain = n && !unsafe_char(p, n);

		need = plain ? n : p[0] == '\\' ? 2 : 4 * (n ? n : 1);

		if (o + need >= cap)
			break;
		if (plain) {
			memcpy(out + o, p, n);
		} else if (p[0] == '\\') {
			memcpy(out + o, "\\\\", 2);
			n = 1;
		} else {
			n = n ? n : 1;
			for (size_t i = 0; i < n; i++)
				snprintf(out + o + 4 * i, 5, "\\x%02X", p[i]);
		}
		o += need;
		p += n;
	}
	out[o] = '\0';
}

static void vset(struct ctx *c, enum verify_check_id id, bool ok, int code, const char *fmt,
		 va_list ap)
{
	struct verify_check *k = &c->r->checks[id];
	char raw[VERIFY_REASON_MAX];

	/* The first failure of a check is its reason; later ones would only repeat it. */
	if (c->failed[id])
		return;
	k->ok = ok;
	k->exit_code = ok ? 0 : code;
	c->failed[id] = !ok;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape(raw, k->reason, sizeof(k->reason));
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

/* A check a log quote has no input for (bom, weights, complete: there is no run). */
static void not_applicable(struct ctx *c, enum verify_check_id id)
{
	pass(c, id, "not applicable: log quote");
	c->r->checks[id].not_applicable = true;
}

static void nomem(struct ctx *c, enum verify_check_id id)
{
	failx(c, id, VERIFY_EXIT_INTERNAL, "out of memory");
}

/* ---- helpers ---- */

static void bpath(const struct ctx *c, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", c->o->bundle, name);
}

/* Present under that name, whatever it is (a link, a FIFO: reading it says what is wrong). */
static bool exists(const struct ctx *c, const char *name)
{
	struct stat st;

	return c->dfd >= 0 && fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A whole bundle file, a regular one of at most max bytes; why names the file. */
static int bread(const struct ctx *c, const char *name, size_t max, uint8_t **buf, size_t *len,
		 char why[FILEIO_WHY_MAX])
{
	if (c->dfd < 0) {
		snprintf(why, FILEIO_WHY_MAX, "%s: the bundle directory is unusable", name);
		return -EBADF;
	}
	return fileio_read_regular(c->dfd, name, max, buf, len, why);
}

/* A PEM file of the bundle, checked to be a regular file before OpenSSL opens it by name. */
static int pem_path(const struct ctx *c, const char *name, char *out, size_t len, char *why)
{
	int fd = c->dfd < 0 ? -EBADF : fileio_open_regular(c->dfd, name, MAX_PEM, 0, why);

	if (fd < 0)
		return fd;
	close(fd);
	bpath(c, name, out, len);
	return 0;
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

/* Every entry of the bundle must be a regular file: a FIFO, device, socket or link is refused
 * by name here, before anything reads it (and fileio_read_regular refuses it again). */
static void check_entries(struct ctx *c, struct problems *pr)
{
	char why[FILEIO_WHY_MAX];
	struct dirent *e;
	struct stat st;
	int fd = dup(c->dfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		if (fd >= 0)
			close(fd);
		snprintf(why, sizeof(why), "cannot list the bundle directory: %s", strerror(errno));
		collect(pr, why);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(c->dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			snprintf(why, sizeof(why), "%.200s: %s", e->d_name, strerror(errno));
			collect(pr, why);
		} else if (!S_ISREG(st.st_mode)) {
			snprintf(why, sizeof(why), "%.200s: is %s, not a regular file", e->d_name,
				 fileio_type_name(st.st_mode));
			collect(pr, why);
		}
	}
	closedir(d);
}

static int read_manifest(struct ctx *c, char why[MANIFEST_WHY_MAX])
{
	char err[FILEIO_WHY_MAX], inner[MANIFEST_WHY_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (bread(c, MANIFEST_NAME, MAX_MANIFEST, &buf, &len, err)) {
		snprintf(why, MANIFEST_WHY_MAX, "cannot read %.230s", err);
		return -1;
	}
	ret = manifest_parse((const char *)buf, len, &c->m, inner);
	if (ret)
		snprintf(why, MANIFEST_WHY_MAX, "%s: %.200s", MANIFEST_NAME, inner);
	free(buf);
	return ret;
}

/* What a log quote holds (trace/logquote.h): the log, the IMA list and the TPM evidence. */
static bool log_quote_file(const char *name)
{
	return !strcmp(name, "events.cel") || manifest_name_unbound(name);
}

/* A log quote with a file that is not a log quote's (bom.json: a bundle relabelled). */
static void check_log_quote_files(struct ctx *c)
{
	for (size_t i = 0; i < c->m->n_files; i++)
		if (!log_quote_file(c->m->files[i].name)) {
			fail(c, VERIFY_MANIFEST,
			     "%.200s: a log quote holds only events.cel, ima.bin and the TPM "
			     "evidence; this is not one (a bundle relabelled \"log-quote\"?)",
			     c->m->files[i].name);
			return;
		}
}

static void check_manifest(struct ctx *c)
{
	char why[MANIFEST_WHY_MAX], hx[65];
	struct problems pr = {.n = 0};

	if (c->dfd < 0) {
		fail(c, VERIFY_MANIFEST, "%s", c->dir_note);
		return;
	}
	check_entries(c, &pr);
	if (read_manifest(c, why)) {
		if (pr.n)
			fail(c, VERIFY_MANIFEST, "%s (and %d more problem%s)", pr.first, pr.n,
			     pr.n > 1 ? "s" : "");
		else
			fail(c, VERIFY_MANIFEST, "%s", why);
		return;
	}
	c->lq = c->m->kind == MANIFEST_LOG_QUOTE;
	c->r->log_quote = c->lq;
	manifest_check_files(c->o->bundle, c->m, collect, &pr);
	if (pr.n > 1)
		fail(c, VERIFY_MANIFEST, "%s (and %d more problem%s)", pr.first, pr.n - 1,
		     pr.n > 2 ? "s" : "");
	else if (pr.n)
		fail(c, VERIFY_MANIFEST, "%s", pr.first);
	if (manifest_check_binding(c->m, why))
		fail(c, VERIFY_MANIFEST, "%s", why);
	if (strcmp(c->m->qualifying_data_of, manifest_binding_text(c->m->kind)))
		fail(c, VERIFY_MANIFEST,
		     "qualifying_data_of is not the documented text \"%.120s...\" (docs/bundle.md)",
		     manifest_binding_text(c->m->kind));
	if (c->lq)
		check_log_quote_files(c);
	if (strcmp(c->m->pcr_bank, "sha256"))
		fail(c, VERIFY_MANIFEST, "pcr_bank is %s; aicert-verify checks sha256 only",
		     c->m->pcr_bank);
	if (c->o->nonce && c->o->nonce_len > MANIFEST_NONCE_MAX)
		fail(c, VERIFY_MANIFEST, "--nonce is longer than %d bytes", MANIFEST_NONCE_MAX);
	else if (expected_qual(c))
		fail(c, VERIFY_MANIFEST, "cannot compute the binding");
	hex_encode(c->m->qualifying_data, 32, hx);
	pass(c, VERIFY_MANIFEST,
	     "%s%zu files present with matching sha256 and size, nothing else; "
	     "binding %.16s... (PCR %u%s)%s%s",
	     c->lq ? "log quote (kind log-quote in the binding, no bom.json); " : "", c->m->n_files,
	     hx, c->m->pcr, c->m->has_nonce ? ", nonce" : "", c->dir_note[0] ? "; NOTE: " : "",
	     c->dir_note);
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

/*
 * A log quote proves only that the log is current when the quote answers the verifier's own
 * challenge: --nonce is required, and must be the manifest's (which the binding holds).
 */
static bool log_quote_nonce(struct ctx *c)
{
	char want[2 * MANIFEST_NONCE_MAX + 1], got[2 * MANIFEST_NONCE_MAX + 1];

	if (!c->o->nonce) {
		fail(c, VERIFY_QUOTE,
		     "a log quote is checked only against the verifier's challenge: give --nonce "
		     "HEX (the nonce sent to aicert quote); without it any old quote of the log "
		     "would pass");
		return false;
	}
	if (c->m->nonce_len != c->o->nonce_len ||
	    memcmp(c->m->nonce, c->o->nonce, c->o->nonce_len)) {
		hex_encode(c->m->nonce, c->m->nonce_len, got);
		hex_encode(c->o->nonce, c->o->nonce_len, want);
		fail(c, VERIFY_QUOTE,
		     "the log quote answers nonce %.32s%s, not --nonce %.32s%s: it was taken for "
		     "another challenge",
		     got, strlen(got) > 32 ? "..." : "", want, strlen(want) > 32 ? "..." : "");
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
	if (c->lq && !log_quote_nonce(c))
		return;
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

static int load_quote(struct ctx *c)
{
	char why[QUOTE_WHY_MAX], err[FILEIO_WHY_MAX];
	uint8_t *msg = NULL, *sig = NULL;
	size_t msg_len = 0, sig_len = 0;
	int ret = -1;

	if (bread(c, "quote.msg", MAX_QUOTE, &msg, &msg_len, err) ||
	    bread(c, "quote.sig", MAX_QUOTE, &sig, &sig_len, err))
		fail(c, VERIFY_QUOTE, "cannot read %.230s", err);
	else if (quote_decode(msg, msg_len, sig, sig_len, &c->q, why))
		fail(c, VERIFY_QUOTE, "%s", why);
	else
		ret = 0;
	free(msg);
	free(sig);
	return ret;
}

/* A key from a PEM file of the bundle (a public key or a certificate). */
static int load_pem_key(const struct ctx *c, const char *name, EVP_PKEY **key, char *why)
{
	char p[4096], err[FILEIO_WHY_MAX];

	if (pem_path(c, name, p, sizeof(p), err)) {
		snprintf(why, QUOTE_WHY_MAX, "cannot read %.230s", err);
		return -1;
	}
	return quote_load_pubkey(p, key, why) ? -1 : 0;
}

static void check_quote(struct ctx *c)
{
	char why[QUOTE_WHY_MAX];
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
	if (load_quote(c) || load_pem_key(c, "ak.pub.pem", &c->ak, why)) {
		if (!c->failed[VERIFY_QUOTE])
			fail(c, VERIFY_QUOTE, "cannot check the signature: %s", why);
		return;
	}
	check_quote_fields(c);
}

/* The EKUs an AK certificate may carry (docs/verify.md): tcg-kp-AIKCertificate, TCG EK
 * Credential Profile / PC Client Platform TPM Profile. */
static const char *const ak_ekus[] = {"2.23.133.8.3"};

static bool ak_eku_ok(X509 *leaf, char *why)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, NULL, NULL);
	bool ok = eku != NULL;
	char oid[80];

	for (int i = 0; ok && i < sk_ASN1_OBJECT_num(eku); i++) {
		bool known = false;

		OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1);
		for (size_t k = 0; k < sizeof(ak_ekus) / sizeof(ak_ekus[0]); k++)
			known |= !strcmp(oid, ak_ekus[k]);
		if (!known) {
			snprintf(why, QUOTE_WHY_MAX,
				 "ak.cert.pem has extended key usage %s, which is not an AK's "
				 "(tcg-kp-AIKCertificate 2.23.133.8.3)",
				 oid);
			ok = false;
		}
	}
	if (!eku)
		snprintf(why, QUOTE_WHY_MAX,
			 "ak.cert.pem: its extended key usage cannot be decoded");
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

/* What makes a certificate an AK's and not a TLS, key-agreement or CA certificate that the
 * same CA issued: no CA, digitalSignature, an AK EKU if any (the key is compared elsewhere). */
static int check_ak_profile(const struct ctx *c, char *why)
{
	char err[FILEIO_WHY_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509 *leaf = NULL;
	uint32_t xf;
	int ret = -1;

	if (bread(c, "ak.cert.pem", MAX_PEM, &buf, &len, err)) {
		snprintf(why, QUOTE_WHY_MAX, "cannot read %.230s", err);
		return -1;
	}
	if (!(bio = BIO_new_mem_buf(buf, (int)len)) ||
	    !(leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		snprintf(why, QUOTE_WHY_MAX, "ak.cert.pem holds no PEM certificate");
		goto cleanup;
	}
	xf = X509_get_extension_flags(leaf);
	if (xf & EXFLAG_INVALID)
		snprintf(why, QUOTE_WHY_MAX, "ak.cert.pem has invalid or duplicated extensions");
	else if (X509_check_ca(leaf))
		snprintf(
		    why, QUOTE_WHY_MAX,
		    "ak.cert.pem is a CA certificate (basicConstraints CA:TRUE, keyCertSign or "
		    "a self-signed v1 certificate), not an AK's");
	else if (!(xf & EXFLAG_KUSAGE))
		snprintf(why, QUOTE_WHY_MAX,
			 "ak.cert.pem has no keyUsage: an AK certificate must have "
			 "digitalSignature");
	else if (!(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		snprintf(why, QUOTE_WHY_MAX,
			 "ak.cert.pem's keyUsage lacks digitalSignature: its key may not sign "
			 "(a quote is a signature)");
	else if (!(xf & EXFLAG_XKUSAGE) || ak_eku_ok(leaf, why))
		ret = 0;
cleanup:
	X509_free(leaf);
	BIO_free(bio);
	free(buf);
	return ret;
}

static void check_ak(struct ctx *c)
{
	char why[QUOTE_WHY_MAX], cert[4096], err[FILEIO_WHY_MAX];
	EVP_PKEY *pinned = NULL;
	bool has_cert;

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
	has_cert = exists(c, "ak.cert.pem");
	if (has_cert) {
		EVP_PKEY *ck = NULL;

		if (load_pem_key(c, "ak.cert.pem", &ck, why) ||
		    quote_check_ak_pin(c->ak, ck, why)) {
			fail(c, VERIFY_AK, "ak.cert.pem does not certify ak.pub.pem: %s", why);
			EVP_PKEY_free(ck);
			goto cleanup;
		}
		EVP_PKEY_free(ck);
	}
	if (c->o->n_ca) {
		if (!has_cert) {
			fail(c, VERIFY_AK, "--ca given but the bundle has no ak.cert.pem");
			goto cleanup;
		}
		if (pem_path(c, "ak.cert.pem", cert, sizeof(cert), err)) {
			fail(c, VERIFY_AK, "cannot read %.230s", err);
			goto cleanup;
		}
		if (quote_check_ak_cert(cert, c->o->ca_pems, c->o->n_ca, c->ak, why) ||
		    check_ak_profile(c, why)) {
			fail(c, VERIFY_AK, "%s", why);
			goto cleanup;
		}
	}
	pass(c, VERIFY_AK, "%s%s%s%s", c->o->ak_pem ? "AK equals the pinned key" : "",
	     c->o->ak_pem && c->o->n_ca ? "; " : "",
	     c->o->n_ca ? "ak.cert.pem chains to the given CA, has an AK's profile (not a CA, "
			  "digitalSignature, AK EKU if any) and holds the AK"
			: "",
	     !c->o->n_ca && has_cert ? "; ak.cert.pem: not checked (no --ca: its chain and "
				       "profile are not verified, only that it holds the AK)"
				     : "");
cleanup:
	EVP_PKEY_free(pinned);
}

/* ---- 4. event log ---- */

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
		return cel_record_is_redacted(r)
			   ? 0
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
	struct cel_event *p;

	/* the capacity is the power of two at or above n_evs: linear in the run's records */
	if (c->n_evs >= 16 && !(c->n_evs & (c->n_evs - 1))) {
		if (!(p = realloc(c->evs, 2 * c->n_evs * sizeof(*p))))
			return -ENOMEM;
		c->evs = p;
	} else if (!c->evs && !(c->evs = malloc(16 * sizeof(*p)))) {
		return -ENOMEM;
	}
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
			c->redacted++;
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
		if (c->lq) {
			/* the host log: any number of runs, ended or not; no run to find */
			c->lq_runs += e.kind == CEL_KIND_RUN_START;
			cel_event_free(&e);
			continue;
		}
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
	if (bread(c, "events.cel", MAX_CEL, &buf, &len, p)) {
		fail(c, VERIFY_EVENTLOG, "cannot read %s", p);
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
	if ((ret = scan_events(c, why, sizeof(why))) ||
	    (!c->lq && (ret = check_run(c, why, sizeof(why))))) {
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

/* ima.bin (binary_runtime_measurements: sha1 template digests) from the bundle. */
static int read_ima(struct ctx *c, char *err, size_t errlen)
{
	char why[FILEIO_WHY_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (bread(c, "ima.bin", MAX_IMA, &buf, &len, why)) {
		snprintf(err, errlen, "cannot read %.230s", why);
		return -1;
	}
	ret = ima_parse(buf, len, NULL, &c->ima, err, errlen);
	free(buf);
	return ret;
}

static void load_ima(struct ctx *c)
{
	char err[256] = "";

	c->has_ima = exists(c, "ima.bin");
	if (!c->has_ima)
		return;
	if (read_ima(c, err, sizeof(err))) {
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

static void put_values(const struct ctx *c, const uint8_t *pcr10, const uint8_t *pcrp,
		       uint8_t vals[64])
{
	bool ima_first = PCR_IMA < c->m->pcr;

	memcpy(vals + (ima_first ? 0 : 32), pcr10, 32);
	memcpy(vals + (ima_first ? 32 : 0), pcrp, 32);
}

#define LOG_TAIL 64 /* log prefixes tried when the whole log does not match */

/* PCR 10 values after the first n PCR 10 entries of ima.bin, for n in [lo, n10]: the last
 * cap values of one replay, in a ring (v[n % cap]), so memory is bounded by the lag allowed. */
struct ima_prefixes {
	uint8_t (*v)[32];
	size_t n10, lo, cap;
	const struct ima_list *l;
};

static void ima_step(void *arg, size_t n, const uint8_t *value)
{
	struct ima_prefixes *p = arg;

	if (n && p->l->entries[n - 1].pcr != PCR_IMA)
		return;
	p->n10 += n > 0;
	memcpy(p->v[p->n10 % p->cap], value, 32);
}

/* One replay of ima.bin by the rules of docs/ima.md (ima_replay_steps), whatever the list's
 * size or templates: the quote may lag the list by up to ima_max_lag entries. */
static int ima_prefixes(const struct ctx *c, unsigned flags, struct ima_prefixes *p)
{
	const struct ima_list *l = &c->ima;
	size_t lag = c->o->ima_max_lag ? c->o->ima_max_lag : VERIFY_IMA_MAX_LAG;
	char err[256];

	p->n10 = p->lo = 0;
	p->l = l;
	p->cap = (lag < l->count ? lag : l->count) + 1;
	if (!(p->v = calloc(p->cap, sizeof(*p->v))))
		return -ENOMEM;
	if (!c->has_ima)
		return 0; /* PCR 10 as after boot: zero */
	if (ima_replay_steps(l, PCR_IMA, "sha256", flags, ima_step, p, err, sizeof(err))) {
		/* this rule cannot replay the list (padded SHA-1 of a non-SHA-1 list): only the
		 * empty prefix is left to try */
		p->n10 = 0;
		memset(p->v[0], 0, 32);
		return -EINVAL;
	}
	p->lo = p->n10 > p->cap - 1 ? p->n10 - (p->cap - 1) : 0;
	return 0;
}

/* The largest IMA prefix that, with pcrp, gives the quoted digest. */
static bool ima_match(const struct ctx *c, const struct ima_prefixes *p, const uint8_t *pcrp,
		      size_t *covered)
{
	char why[QUOTE_WHY_MAX];
	uint8_t vals[64];

	for (size_t n = p->n10 + 1; n-- > p->lo;) {
		put_values(c, p->v[n % p->cap], pcrp, vals);
		if (quote_check_pcr_digest(c->q, vals, 64, why) == QUOTE_OK) {
			*covered = n;
			return true;
		}
	}
	return false;
}

/* The dedicated PCR after each of the log's last LOG_TAIL records (tail[0]: the whole log): one
 * replay up to the oldest of them, then one extend per record. */
static size_t log_tail(const struct ctx *c, uint8_t tail[LOG_TAIL][32], uint64_t recnum[LOG_TAIL])
{
	size_t k = c->log.n < LOG_TAIL ? c->log.n : LOG_TAIL, first = c->log.n - k + 1;
	struct cel_log part = {.recs = c->log.recs, .n = first, .cap = first};
	char err[CEL_ERR_MAX];
	uint8_t v[32];

	if (!k || cel_replay_baseline(&part, c->m->pcr, TPM2_ALG_SHA256, v, err))
		return 0;
	for (size_t last = first;; last++) { /* v: the PCR after records [0, last) */
		memcpy(tail[c->log.n - last], v, 32);
		recnum[c->log.n - last] = c->log.recs[last - 1].recnum;
		if (last == c->log.n)
			return k;
		part = (struct cel_log){.recs = &c->log.recs[last], .n = 1, .cap = 1};
		if (cel_replay(&part, c->m->pcr, TPM2_ALG_SHA256, v, v, err))
			return 0; /* as for the whole log, which check_log replayed */
	}
}

/* bom.json (bound by the quote) says no file had an IMA result: IMA was off. */
static bool bom_ima_off(const struct ctx *c)
{
	/* a BOM with no file at all (a run interrupted before its measurements reached the log)
	 * has no result to contradict ima.bin */
	if (!c->bom_loaded || !c->bom.nfiles)
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
		     "no ima.bin: IMA was off on the %s, and the quoted PCR "
		     "10 is zero (nothing was measured into it)",
		     c->lq ? "host" : "traced host");
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

static void pass_log(struct ctx *c)
{
	char lq[160] = "";

	if (c->lq)
		snprintf(lq, sizeof(lq),
			 "; the host log as quoted: %zu run_start record(s) in clear, %zu "
			 "record(s) redacted to their digests",
			 c->lq_runs, c->redacted);
	pass(c, VERIFY_EVENTLOG,
	     "%zu records, digests match their content, replay of PCR %u from "
	     "the baseline equals the quote%s",
	     c->log.n, c->m->pcr, lq);
}

static void pass_both(struct ctx *c, size_t covered)
{
	pass_log(c);
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

	/* the second replay rule only when the first one gives no match */
	for (int f = 0; f < 2; f++) {
		if (ima_prefixes(c, flags[f], &p[f]) == -ENOMEM) {
			nomem(c, VERIFY_IMA);
			goto cleanup;
		}
		if (p[f].v && ima_match(c, &p[f], c->pcr_value, &covered)) {
			pass_both(c, covered);
			goto cleanup;
		}
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
	pass_log(c);
	pass(c, VERIFY_IMA,
	     "no ima.bin: IMA was unavailable on the %s; the quote covers "
	     "PCR %u only",
	     c->lq ? "host" : "traced host", c->m->pcr);
}

/* ---- 6. bom against the log ---- */

/* (path, sha256): which file, as measured */
static int item_key_cmp(const struct item *x, const struct item *y)
{
	int d = strcmp(x->path, y->path);

	if (d || x->sha == y->sha)
		return d;
	if (!x->sha || !y->sha)
		return x->sha ? 1 : -1;
	return memcmp(x->sha, y->sha, 32);
}

/* then the status: aicert-trace makes one entry of equal (path, status, digest) only */
static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int d = item_key_cmp(x, y);

	return d ? d : (x->status > y->status) - (x->status < y->status);
}

static bool sorted(const struct item *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (item_cmp(&v[i - 1], &v[i]) > 0)
			return false;
	return true;
}

static void sort_items(struct item *v, size_t n)
{
	/* bom_write sorts its files, and logs are often in order: skip the sort then */
	if (!sorted(v, n))
		qsort(v, n, sizeof(*v), item_cmp);
}

/* Sorts and merges duplicates (roles or'ed). Returns the new count. */
static size_t merge_items(struct item *v, size_t n)
{
	size_t o = 0;

	sort_items(v, n);
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
		v[i].status = cel_file_status_of(b->files[i].status);
		v[i].status_text = b->files[i].status;
	}
	*out = v;
	*digests = d;
	*n = b->nfiles;
	/* one entry per (path, sha256): a second one would be merged, and its size and status
	 * never compared with anything */
	sort_items(v, b->nfiles);
	for (size_t i = 1; i < b->nfiles; i++)
		if (!item_cmp(&v[i - 1], &v[i])) {
			*n = i;
			return -EEXIST;
		}
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

		if (d && i < nb && j < nl && !item_key_cmp(&b[i], &l[j])) {
			fail(c, VERIFY_BOM, "%s: status \"%s\" in bom.json, %s in the event log",
			     b[i].path, b[i].status_text ? b[i].status_text : "(none: hashed)",
			     cel_status_text(l[j].status));
			return false;
		}
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

/* The command, cwd, backend and job recorded at run_start (bytes: bom_read decodes "_b64"). */
static bool check_start(struct ctx *c, const struct bom_run *run, const struct job_info *job)
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
	if (!job_equal(job, &s->job)) {
		fail(c, VERIFY_BOM, "job: bom.json says %s %s step %s on node %s, run_start %s %s "
		     "step %s on node %s (or their node lists differ)",
		     job->scheduler ? job->scheduler : "no job", job->id ? job->id : "-",
		     job->step ? job->step : "-", job->node ? job->node : "-",
		     s->job.scheduler ? s->job.scheduler : "no job", s->job.id ? s->job.id : "-",
		     s->job.step ? s->job.step : "-", s->job.node ? s->job.node : "-");
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
	if (!check_start(c, run, &c->bom.job) || !same_exit(c, run) || !check_times(c, run))
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
	const struct ctx *c;
	struct bom *b;
	int rc;
	char err[600];
	pthread_t tid;
	bool started;
};

static void *bom_job_run(void *arg)
{
	struct bom_job *j = arg;
	char why[FILEIO_WHY_MAX], err[512];
	uint8_t *buf = NULL;
	size_t len = 0;

	if (bread(j->c, "bom.json", MAX_BOM, &buf, &len, why)) {
		snprintf(j->err, sizeof(j->err), "cannot read %.230s", why);
		j->rc = -1;
		return NULL;
	}
	j->rc = bom_loads(j->b, (const char *)buf, len, err, sizeof(err));
	if (j->rc)
		snprintf(j->err, sizeof(j->err), "bom.json: %s", err);
	free(buf);
	return NULL;
}

static void bom_job_start(struct ctx *c, struct bom_job *j)
{
	j->c = c;
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

/* The bundle's copy of a derived document, compared with the regenerated text piece by piece
 * as it is made: neither is ever held whole (hundreds of MB for a million files). */
struct doc_cmp {
	int fd;
	size_t off; /* bytes equal so far */
	bool differs;
	int err; /* errno of a read */
	char buf[1 << 16];
};

static int doc_piece(void *ctx, const char *p, size_t n)
{
	struct doc_cmp *d = ctx;

	while (n) {
		ssize_t r = read(d->fd, d->buf, n < sizeof(d->buf) ? n : sizeof(d->buf));
		size_t k = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			d->err = r < 0 ? errno : 0;
			d->differs = !r; /* the bundle's copy is shorter */
			return 1;
		}
		if (!memcmp(d->buf, p, (size_t)r))
			k = (size_t)r;
		while (k < (size_t)r && d->buf[k] == p[k])
			k++;
		d->off += k;
		if (k < (size_t)r) {
			d->differs = true;
			return 1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One derived document compared on its own thread (they are the slowest part of a large
 * bundle, and independent): started once bom.json is loaded, reported by check_docs once
 * bom.json has been checked against the log. */
struct doc_job {
	const struct ctx *c;
	const char *name;
	char events_hex[65]; /* provenance.intoto.json's events.cel digest; "" for bom.cdx.json */
	int ret;	     /* of the stream; -1 also when the file could not be opened */
	char why[FILEIO_WHY_MAX]; /* why it could not be opened */
	struct doc_cmp *d;
	pthread_t tid;
	bool started, done;
};

static void *doc_job_run(void *arg)
{
	struct doc_job *j = arg;
	const char *version = j->c->start->version;
	struct doc_cmp *d = j->d;
	char extra;

	d->fd = fileio_open_regular(j->c->dfd, j->name, MAX_DOC, 0, j->why);
	if (d->fd < 0) {
		j->ret = -1;
		return NULL;
	}
	j->ret = j->events_hex[0] ? intoto_stream(&j->c->bom, j->events_hex, version, doc_piece, d)
				  : cdx_stream(&j->c->bom, version, doc_piece, d);
	/* all of it matched: the bundle's copy must end there too */
	if (!j->ret && read(d->fd, &extra, 1) != 0)
		d->differs = true;
	close(d->fd);
	return NULL;
}

/* What check_docs needs: the run's version and events.cel's digest; NULL when it is there. */
static const char *docs_missing(const struct ctx *c, char hx[65])
{
	const struct manifest_file *ev = NULL;

	for (size_t i = 0; c->m && i < c->m->n_files && !ev; i++)
		if (!strcmp(c->m->files[i].name, "events.cel"))
			ev = &c->m->files[i];
	if (!c->bom_loaded || !c->start || c->dfd < 0)
		return "bom.json or events.cel is unusable";
	if (!ev)
		return "manifest.json lists no events.cel";
	if (!c->start->version)
		return "run_start records no aicert version";
	hex_encode(ev->sha256, 32, hx);
	return NULL;
}

static void docs_start(struct ctx *c, struct doc_job jobs[2])
{
	char hx[65];

	if (docs_missing(c, hx))
		return;
	for (int k = 0; k < 2; k++) {
		jobs[k].c = c;
		jobs[k].name = k ? "provenance.intoto.json" : "bom.cdx.json";
		snprintf(jobs[k].events_hex, sizeof(jobs[k].events_hex), "%s", k ? hx : "");
		if (!(jobs[k].d = calloc(1, sizeof(*jobs[k].d))))
			continue;
		jobs[k].started = !pthread_create(&jobs[k].tid, NULL, doc_job_run, &jobs[k]);
		if (!jobs[k].started)
			doc_job_run(&jobs[k]);
		jobs[k].done = true;
	}
}

static void docs_wait(struct doc_job jobs[2])
{
	for (int k = 0; k < 2; k++)
		if (jobs[k].started) {
			pthread_join(jobs[k].tid, NULL);
			jobs[k].started = false;
		}
}

static void docs_free(struct doc_job jobs[2])
{
	docs_wait(jobs);
	for (int k = 0; k < 2; k++)
		free(jobs[k].d);
}

static bool doc_result(struct ctx *c, const struct doc_job *j)
{
	const struct doc_cmp *d = j->d;

	if (!d || !j->done) {
		nomem(c, VERIFY_BOM);
		return false;
	}
	if (d->fd < 0)
		fail(c, VERIFY_BOM, "cannot read %.230s", j->why);
	else if (d->err)
		fail(c, VERIFY_BOM, "cannot read %s: %s", j->name, strerror(d->err));
	else if (d->differs)
		fail(c, VERIFY_BOM,
		     "%s is not what bom.json (checked against the log) gives: it differs from "
		     "byte %zu on (rewritten, or not made by aicert %s)",
		     j->name, d->off, c->start->version);
	else if (j->ret)
		nomem(c, VERIFY_BOM);
	else
		return true;
	return false;
}

/*
 * bom.cdx.json and provenance.intoto.json are functions of bom.json, run_start's aicert version
 * and events.cel's digest (lib/cdx.h, lib/intoto.h): regenerated and compared byte for byte,
 * so neither can say anything that the log does not (the manifest binds them, but the AK's
 * holder could re-quote a rewritten one).
 */
static bool check_docs(struct ctx *c)
{
	const char *missing;
	char hx[65];

	if ((missing = docs_missing(c, hx))) {
		fail(c, VERIFY_BOM, "bom.cdx.json and provenance.intoto.json not checked: %s",
		     missing);
		return false;
	}
	docs_wait(c->docs);
	return doc_result(c, &c->docs[0]) && doc_result(c, &c->docs[1]);
}

static void check_bom(struct ctx *c)
{
	struct item *bi = NULL, *li = NULL;
	uint8_t(*digests)[32] = NULL;
	size_t nb = 0, nl = 0;
	char hx[65];
	int ret;

	if (c->lq) {
		not_applicable(c, VERIFY_BOM);
		return;
	}
	if (!c->bom_loaded) {
		fail(c, VERIFY_BOM, "%s", c->bom_err);
		return;
	}
	c->bom_ok = true;
	if (!c->end) {
		fail(c, VERIFY_BOM, "not checked against the log: events.cel is unusable");
		return;
	}
	if (!check_run_fields(c))
		return;
	if ((ret = bom_items(&c->bom, &bi, &nb, &digests)) == -EEXIST) {
		fail(c, VERIFY_BOM,
		     "bom.json lists %s (sha256 %.16s, the same status) twice: entries must be "
		     "unique",
		     bi[nb].path, sha_text(&bi[nb], hx));
		goto cleanup;
	}
	if (ret || log_items(c, &li, &nl)) {
		nomem(c, VERIFY_BOM);
		goto cleanup;
	}
	c->r->run_files = nl;
	if (same_items(c, bi, nb, li, nl) && check_bom_ima(c) && check_docs(c))
		pass(c, VERIFY_BOM,
		     "run %s: %zu files in bom.json, the same (path, sha256, roles, size, status) "
		     "as the log, ima values as ima.bin's covered entries say; command, cwd, "
		     "backend, times, exit status %d, signal, events lost, paths truncated, "
		     "detached, complete, host name, kernel, boot id agree; bom.cdx.json and "
		     "provenance.intoto.json are bom.json's (files[].category and "
		     "host.tpm are unattested annotations)",
		     c->run_id, nb, c->end->exit_status);
cleanup:
	free(bi);
	free(li);
	free(digests);
}

/* ---- 7. weights and 8. complete ---- */

static bool is_output(const struct ctx *c, const uint8_t d[32])
{
	for (size_t j = 0; j < c->end->n_outputs; j++)
		if (!memcmp(c->end->outputs[j].sha256, d, 32))
			return true;
	return false;
}

/* What --weights found: files hashed, those that are no output (named in bad), read errors. */
struct wtally {
	size_t files, n_bad;
	char bad[VERIFY_REASON_MAX];
	char err[VERIFY_REASON_MAX];
};

static void note_bad(struct wtally *t, const char *path, const uint8_t d[32])
{
	size_t used = strlen(t->bad);
	char hx[65];

	hex_encode(d, 32, hx);
	if (t->n_bad++ < 8 && used + strlen(path) + 40 < sizeof(t->bad))
		snprintf(t->bad + used, sizeof(t->bad) - used, "%s%s (sha256 %.16s...)",
			 used ? ", " : "", path, hx);
}

/* One file, streamed (a model may be larger than memory); a link to a file is followed, as a
 * user's own path may be one (a Hugging Face snapshot is made of links). */
static int weigh_file(const struct ctx *c, const char *path, struct wtally *t)
{
	char why[FILEIO_WHY_MAX];
	uint8_t d[32];
	int fd = fileio_open_regular(AT_FDCWD, path, UINT64_MAX, FILEIO_FOLLOW, why), ret;

	if (fd < 0) {
		snprintf(t->err, sizeof(t->err), "cannot read --weights %s", why);
		return -1;
	}
	ret = fileio_sha256_fd(fd, d, NULL);
	close(fd);
	if (ret) {
		snprintf(t->err, sizeof(t->err), "cannot read --weights %.300s: %s", path,
			 strerror(-ret));
		return -1;
	}
	t->files++;
	if (!is_output(c, d))
		note_bad(t, path, d);
	return 0;
}

static int name_order(const FTSENT **a, const FTSENT **b)
{
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* Every regular file under dir (links followed, each directory once), in name order. */
static int weigh_dir(const struct ctx *c, const char *dir, struct wtally *t)
{
	char *const roots[] = {(char *)dir, NULL};
	FTS *fts = fts_open(roots, FTS_LOGICAL | FTS_NOCHDIR, name_order);
	FTSENT *e;
	int ret = 0;

	if (!fts) {
		snprintf(t->err, sizeof(t->err), "cannot walk --weights %.300s: %s", dir,
			 strerror(errno));
		return -1;
	}
	while (!ret && (e = fts_read(fts))) {
		if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS ||
		    e->fts_info == FTS_SLNONE) {
			snprintf(t->err, sizeof(t->err), "cannot read --weights %.300s: %s",
				 e->fts_path,
				 e->fts_info == FTS_SLNONE ? "a dangling symbolic link"
							   : strerror(e->fts_errno));
			ret = -1;
		} else if (e->fts_info == FTS_F && S_ISREG(e->fts_statp->st_mode)) {
			ret = weigh_file(c, e->fts_path, t);
		}
	}
	fts_close(fts);
	return ret;
}

static void check_weights(struct ctx *c)
{
	struct wtally t = {.files = 0};
	struct stat st;

	if (c->lq && c->o->n_weights) {
		fail(c, VERIFY_WEIGHTS,
		     "--weights: a log quote holds no run, so no output to check them against "
		     "(verify the bundle of the run that wrote them)");
		return;
	}
	if (c->lq) {
		not_applicable(c, VERIFY_WEIGHTS);
		return;
	}
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
		int ret = !stat(w, &st) && S_ISDIR(st.st_mode) ? weigh_dir(c, w, &t)
							       : weigh_file(c, w, &t);

		if (ret) {
			fail(c, VERIFY_WEIGHTS, "%s", t.err);
			return;
		}
	}
	if (t.n_bad) {
		fail(c, VERIFY_WEIGHTS,
		     "%zu of %zu --weights file(s) not an output of run %s: %s%s", t.n_bad, t.files,
		     c->run_id, t.bad, t.n_bad > 8 ? ", ..." : "");
		return;
	}
	if (!t.files) {
		fail(c, VERIFY_WEIGHTS, "--weights: no regular file to check");
		return;
	}
	pass(c, VERIFY_WEIGHTS, "%zu file(s) match outputs of run %s", t.files, c->run_id);
}

/* An output the run wrote but could not measure: its digest is nowhere, so no --weights can be
 * checked against it and the record says nothing of what the run made. */
static const struct bom_file *unmeasured_output(const struct ctx *c)
{
	if (!c->bom_ok)
		return NULL;
	for (size_t i = 0; i < c->bom.nfiles; i++) {
		const struct bom_file *f = &c->bom.files[i];
		int64_t st = cel_file_status_of(f->status);

		/* a file deleted before the end, or no regular file, is nothing the run left */
		if ((f->roles & BOM_ROLE_OUTPUT) && !f->sha256[0] && st != CEL_FILE_DELETED &&
		    st != CEL_FILE_VANISHED && st != CEL_FILE_NOT_REGULAR)
			return f;
	}
	return NULL;
}

static void check_complete(struct ctx *c)
{
	const struct bom_file *f;

	if (c->lq) {
		not_applicable(c, VERIFY_COMPLETE);
		return;
	}
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
	if ((f = unmeasured_output(c))) {
		failx(c, VERIFY_COMPLETE, VERIFY_EXIT_UNMEASURED,
		      "incomplete: the output %s was not measured (%s): its digest is unknown",
		      f->path, f->status ? f->status : "no sha256");
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
	r->verdict =
	    r->exit_code == 0			     ? "verified"
	    : r->exit_code == VERIFY_EXIT_UNATTESTED ? "unattested"
	    : r->exit_code == VERIFY_EXIT_INCOMPLETE || r->exit_code == VERIFY_EXIT_UNMEASURED
		? "incomplete"
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
	if (c->dfd >= 0)
		close(c->dfd);
}

/* The bundle directory, opened once: every file is read relative to it. A bundle given as a
 * symbolic link is verified where it points, and the report says so. */
static void open_bundle(struct ctx *c)
{
	char target[256];
	struct stat st;
	ssize_t n;

	if (!lstat(c->o->bundle, &st) && S_ISLNK(st.st_mode)) {
		n = readlink(c->o->bundle, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		snprintf(c->dir_note, sizeof(c->dir_note),
			 "the bundle directory %.60s is a symbolic link (to %.100s)", c->o->bundle,
			 target);
	}
	c->dfd = open(c->o->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dfd < 0)
		snprintf(c->dir_note, sizeof(c->dir_note),
			 "cannot open the bundle directory %.100s: %s", c->o->bundle,
			 strerror(errno));
}

int verify_bundle(const struct verify_opts *o, struct verify_report *r)
{
	struct doc_job docs[2] = {{.ret = 0}, {.ret = 0}};
	struct ctx c = {.o = o, .r = r, .dfd = -1, .docs = docs};
	struct bom_job job = {.rc = 0};

	memset(r, 0, sizeof(*r));
	bom_init(&c.bom);
	open_bundle(&c);
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
	docs_start(&c, docs);
	check_pcr_digest(&c);
	check_bom(&c);
	docs_free(docs);
	check_weights(&c);
	check_complete(&c);
	finish(&c);
	ctx_free(&c);
	return r->exit_code;
}

void verify_report_print(const struct verify_report *r, FILE *out)
{
	if (r->log_quote)
		fprintf(out, "%s\n", VERIFY_LOG_QUOTE_LINE);
	for (int i = 0; i < VERIFY_N_CHECKS; i++)
		fprintf(out, "%s %s: %s\n",
			r->checks[i].not_applicable ? "N/A "
			: r->checks[i].ok	    ? "PASS"
						    : "FAIL",
			r->checks[i].name, r->checks[i].reason);
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
	/* first: what was verified */
	if (json_object_set_new(o, "kind", json_string(r->log_quote ? "log-quote" : "bundle")))
		goto fail;
	for (int i = 0; i < VERIFY_N_CHECKS; i++) {
		json_t *k = json_pack("{s:s, s:b, s:s}", "name", r->checks[i].name, "ok",
				      r->checks[i].ok, "reason", r->checks[i].reason);

		if (!k || json_array_append_new(a, k) ||
		    (r->checks[i].not_applicable &&
		     json_object_set_new(k, "applicable", json_false())))
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
