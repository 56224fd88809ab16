// SPDX-License-Identifier: BSD-2-Clause
/* cel.c - TCG Canonical Event Log TLV encoding and aicert's record content (docs/cel.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/cel.h"
#include "lib/hex.h"

#define TLV_HDR 5 /* one type byte, a big-endian uint32 length */
#define REDACTED_MARKER "redacted"

/* aicert content field types (docs/cel.md). Never renumbered. */
enum {
	F_KIND = 1,
	F_RUN_ID = 2,
	F_TIME = 3,
	F_BOOT_ID = 10,
	F_PCR_VALUE = 11,
	F_HOSTNAME = 12,
	F_KERNEL = 13,
	F_ARG = 20,
	F_CWD = 21,
	F_UID = 22,
	F_POLICY = 23,
	F_BACKEND = 24,
	F_VERSION = 25,
	F_EXE = 26,
	F_NONCE = 27,
	F_JOB_SCHEDULER = 28, /* run_start of a job step's run (lib/job.h), all five or none */
	F_JOB_ID = 29,
	F_JOB_STEP = 31,
	F_JOB_NODE = 32,
	F_JOB_NODE_OF = 33, /* repeated: every node of the step */
	F_FILE = 30,
	F_LOST = 40,
	F_EXIT = 50,
	F_OUTPUT = 51,
	F_TOTAL_FILES = 52,
	F_TOTAL_LOST = 53,
	F_TOTAL_BATCHES = 54,
	F_DETACHED = 55,
	F_PATHS_TRUNCATED = 56,
	F_SIGNAL = 57,
	F_LAST_GOOD = 60,
	F_DROPPED = 61,
	/* inside F_FILE / F_OUTPUT */
	FF_PATH = 1,
	FF_SHA256 = 2,
	FF_SIZE = 3,
	FF_ROLES = 4,
	FF_STATUS = 5,
};

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void seterr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, CEL_ERR_MAX, fmt, ap);
	va_end(ap);
}

size_t cel_alg_size(uint16_t alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return 20;
	case TPM2_ALG_SHA256:
		return 32;
	case TPM2_ALG_SHA384:
		return 48;
	case TPM2_ALG_SHA512:
		return 64;
	case TPM2_ALG_SM3_256:
		return 32;
	}
	return 0;
}

const char *cel_alg_name(uint16_t alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return "sha1";
	case TPM2_ALG_SHA256:
		return "sha256";
	case TPM2_ALG_SHA384:
		return "sha384";
	case TPM2_ALG_SHA512:
		return "sha512";
	case TPM2_ALG_SM3_256:
		return "sm3_256";
	}
	return NULL;
}

const EVP_MD *cel_alg_md(uint16_t alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return EVP_sha1();
	case TPM2_ALG_SHA256:
		return EVP_sha256();
	case TPM2_ALG_SHA384:
		return EVP_sha384();
	case TPM2_ALG_SHA512:
		return EVP_sha512();
	case TPM2_ALG_SM3_256:
		return EVP_get_digestbyname("SM3");
	}
	return NULL;
}

/* ---- writing ---- */

static void wb_put(struct wbuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void wb_hdr(struct wbuf *b, uint8_t type, size_t len)
{
	uint8_t h[TLV_HDR] = {type, len >> 24, len >> 16, len >> 8, len};

	if (len > UINT32_MAX)
		b->err = -EOVERFLOW;
	wb_put(b, h, sizeof(h));
}

static void wb_tlv(struct wbuf *b, uint8_t type, const void *p, size_t len)
{
	wb_hdr(b, type, len);
	wb_put(b, p, len);
}

static void wb_uint(struct wbuf *b, uint8_t type, uint64_t v, size_t width)
{
	uint8_t be[8];

	for (size_t i = 0; i < width; i++)
		be[i] = v >> (8 * (width - 1 - i));
	wb_tlv(b, type, be, width);
}

static void wb_str(struct wbuf *b, uint8_t type, const char *s)
{
	if (s)
		wb_tlv(b, type, s, strlen(s));
}

int cel_record_encode(const struct cel_record *r, uint8_t **buf, size_t *len)
{
	struct wbuf b = {*buf, *len, *len, 0};
	size_t dlen = 0;

	for (size_t i = 0; i < r->digests.n; i++)
		dlen += TLV_HDR + r->digests.v[i].len;
	wb_uint(&b, CEL_T_RECNUM, r->recnum, 8);
	wb_uint(&b, r->index_type, r->index, 4);
	wb_hdr(&b, CEL_T_DIGESTS, dlen);
	for (size_t i = 0; i < r->digests.n; i++) {
		if (r->digests.v[i].alg > 0xff) {
			b.err = -EINVAL; /* the TLV type is one byte */
			break;
		}
		wb_tlv(&b, r->digests.v[i].alg, r->digests.v[i].d, r->digests.v[i].len);
	}
	wb_tlv(&b, r->content_type, r->content, r->content_len);
	*buf = b.p;
	if (b.err)
		return b.err;
	*len = b.len;
	return 0;
}

int cel_log_encode(const struct cel_log *log, uint8_t **buf, size_t *len)
{
	int ret = 0;

	*buf = NULL;
	*len = 0;
	for (size_t i = 0; i < log->n && !ret; i++)
		ret = cel_record_encode(&log->recs[i], buf, len);
	if (ret) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return ret;
}

/* ---- reading ---- */

struct tlv {
	uint8_t type;
	const uint8_t *v;
	uint32_t len;
};

/* 0, or -ENODATA when fewer bytes remain than the header or the value needs. */
static int rd_tlv(const uint8_t *p, size_t avail, struct tlv *t)
{
	if (avail < TLV_HDR)
		return -ENODATA;
	t->type = p[0];
	t->len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (t->len > avail - TLV_HDR)
		return -ENODATA;
	t->v = p + TLV_HDR;
	return 0;
}

static uint64_t be_uint(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int dec_digests(const struct tlv *t, struct cel_digests *out, uint64_t rn, size_t off,
		       char *err)
{
	size_t pos = 0;

	out->n = 0;
	while (pos < t->len) {
		struct tlv d;

		if (rd_tlv(t->v + pos, t->len - pos, &d)) {
			seterr(err,
			       "record %llu at offset %zu: digest entry overruns the digests field",
			       (unsigned long long)rn, off + pos);
			return -EBADMSG;
		}
		if (out->n == CEL_MAX_BANKS) {
			seterr(err, "record %llu at offset %zu: more than %d digests",
			       (unsigned long long)rn, off + pos, CEL_MAX_BANKS);
			return -EBADMSG;
		}
		if (!cel_alg_size(d.type) || cel_alg_size(d.type) != d.len) {
			seterr(err,
			       "record %llu at offset %zu: digest of algorithm 0x%x has %u bytes",
			       (unsigned long long)rn, off + pos, d.type, d.len);
			return -EBADMSG;
		}
		for (size_t i = 0; i < out->n; i++) {
			if (out->v[i].alg == d.type) {
				seterr(err, "record %llu at offset %zu: two %s digests",
				       (unsigned long long)rn, off + pos, cel_alg_name(d.type));
				return -EBADMSG;
			}
		}
		out->v[out->n].alg = d.type;
		out->v[out->n].len = d.len;
		memcpy(out->v[out->n].d, d.v, d.len);
		out->n++;
		pos += TLV_HDR + d.len;
	}
	return 0;
}

/* The next top-level field; a field cut short is a torn tail (-ENODATA). */
static int next_field(const uint8_t *buf, size_t len, size_t *pos, size_t base, struct tlv *t,
		      const char *what, uint64_t rn, char *err)
{
	if (rd_tlv(buf + *pos, len - *pos, t)) {
		seterr(err, "record %llu at offset %zu: %s field is truncated (%zu bytes left)",
		       (unsigned long long)rn, base + *pos, what, len - *pos);
		return -ENODATA;
	}
	*pos += TLV_HDR + t->len;
	return 0;
}

int cel_record_decode(const uint8_t *buf, size_t len, size_t offset, struct cel_record *out,
		      size_t *used, char err[CEL_ERR_MAX])
{
	struct tlv t;
	size_t pos = 0;
	uint64_t rn = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = next_field(buf, len, &pos, offset, &t, "recnum", rn, err)))
		return ret;
	if (t.type != CEL_T_RECNUM || t.len < 1 || t.len > 8) {
		seterr(err,
		       "record at offset %zu: expected a recnum (type 0, 1..8 bytes), got type %u "
		       "length %u",
		       offset, t.type, t.len);
		return -EBADMSG;
	}
	rn = out->recnum = be_uint(t.v, t.len);
	if ((ret = next_field(buf, len, &pos, offset, &t, "pcr", rn, err)))
		return ret;
	if ((t.type != CEL_T_PCR && t.type != CEL_T_NV_INDEX) || t.len < 1 || t.len > 4) {
		seterr(err,
		       "record %llu at offset %zu: expected a pcr or nv_index (type 1/2, 1..4 "
		       "bytes), got type %u length %u",
		       (unsigned long long)rn, offset + pos - TLV_HDR - t.len, t.type, t.len);
		return -EBADMSG;
	}
	out->index_type = t.type;
	out->index = be_uint(t.v, t.len);
	if ((ret = next_field(buf, len, &pos, offset, &t, "digests", rn, err)))
		return ret;
	if (t.type != CEL_T_DIGESTS) {
		seterr(err, "record %llu at offset %zu: expected digests (type 3), got type %u",
		       (unsigned long long)rn, offset + pos - TLV_HDR - t.len, t.type);
		return -EBADMSG;
	}
	if ((ret = dec_digests(&t, &out->digests, rn, offset + pos - t.len, err)))
		return ret;
	if ((ret = next_field(buf, len, &pos, offset, &t, "content", rn, err)))
		return ret;
	if (t.type <= CEL_T_DIGESTS) {
		seterr(err, "record %llu at offset %zu: content has the reserved type %u",
		       (unsigned long long)rn, offset + pos - TLV_HDR - t.len, t.type);
		return -EBADMSG;
	}
	out->content_type = t.type;
	out->content_len = t.len;
	out->content = malloc(t.len ? t.len : 1);
	if (!out->content)
		return -ENOMEM;
	memcpy(out->content, t.v, t.len);
	*used = pos;
	return 0;
}

void cel_record_free(struct cel_record *r)
{
	if (!r)
		return;
	free(r->content);
	r->content = NULL;
	r->content_len = 0;
}

static int log_push(struct cel_log *log, struct cel_record *r)
{
	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 16;
		struct cel_record *np = realloc(log->recs, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		log->recs = np;
		log->cap = cap;
	}
	log->recs[log->n++] = *r;
	return 0;
}

int cel_log_append(struct cel_log *log, const struct cel_record *r)
{
	struct cel_record c = *r;
	int ret;

	c.content = malloc(r->content_len ? r->content_len : 1);
	if (!c.content)
		return -ENOMEM;
	if (r->content_len)
		memcpy(c.content, r->content, r->content_len);
	ret = log_push(log, &c);
	if (ret)
		free(c.content);
	return ret;
}

int cel_log_decode(const uint8_t *buf, size_t len, struct cel_log *out, size_t *valid,
		   char err[CEL_ERR_MAX])
{
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (valid)
		*valid = 0;
	while (pos < len) {
		struct cel_record r;
		size_t used = 0;
		int ret = cel_record_decode(buf + pos, len - pos, pos, &r, &used, err);

		if (ret)
			return ret;
		if ((ret = log_push(out, &r))) {
			cel_record_free(&r);
			return ret;
		}
		pos += used;
		if (valid)
			*valid = pos;
	}
	return 0;
}

void cel_log_free(struct cel_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->n; i++)
		cel_record_free(&log->recs[i]);
	free(log->recs);
	memset(log, 0, sizeof(*log));
}

/* ---- digests, redaction, replay ---- */

int cel_content_digest(uint16_t alg, uint8_t content_type, const uint8_t *content, size_t len,
		       struct cel_digest *out)
{
	const EVP_MD *md = cel_alg_md(alg);
	uint8_t hdr[TLV_HDR] = {content_type, len >> 24, len >> 16, len >> 8, len};
	EVP_MD_CTX *ctx;
	unsigned int n = 0;
	int ok;

	if (!md || len > UINT32_MAX)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, hdr, sizeof(hdr)) &&
	     EVP_DigestUpdate(ctx, content, len) && EVP_DigestFinal_ex(ctx, out->d, &n);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	out->alg = alg;
	out->len = n;
	return 0;
}

int cel_record_make(struct cel_record *r, uint64_t recnum, uint32_t pcr, uint8_t content_type,
		    const uint8_t *content, size_t len, const uint16_t *algs, size_t n_algs)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (n_algs > CEL_MAX_BANKS)
		return -EINVAL;
	r->recnum = recnum;
	r->index_type = CEL_T_PCR;
	r->index = pcr;
	r->content_type = content_type;
	for (size_t i = 0; i < n_algs; i++) {
		if ((ret =
			 cel_content_digest(algs[i], content_type, content, len, &r->digests.v[i])))
			return ret;
	}
	r->digests.n = n_algs;
	r->content = malloc(len ? len : 1);
	if (!r->content)
		return -ENOMEM;
	if (len)
		memcpy(r->content, content, len);
	r->content_len = len;
	return 0;
}

int cel_record_check_digests(const struct cel_record *r, char err[CEL_ERR_MAX])
{
	if (r->content_type == CEL_CT_REDACTED)
		return 0;
	for (size_t i = 0; i < r->digests.n; i++) {
		struct cel_digest d;

		if (cel_content_digest(r->digests.v[i].alg, r->content_type, r->content,
				       r->content_len, &d) ||
		    d.len != r->digests.v[i].len || memcmp(d.d, r->digests.v[i].d, d.len)) {
			seterr(err, "record %llu: %s digest does not match its content",
			       (unsigned long long)r->recnum, cel_alg_name(r->digests.v[i].alg));
			return -EBADMSG;
		}
	}
	return 0;
}

int cel_record_redact(struct cel_record *r)
{
	uint8_t *m = malloc(sizeof(REDACTED_MARKER) - 1);

	if (!m)
		return -ENOMEM;
	memcpy(m, REDACTED_MARKER, sizeof(REDACTED_MARKER) - 1);
	free(r->content);
	r->content = m;
	r->content_len = sizeof(REDACTED_MARKER) - 1;
	r->content_type = CEL_CT_REDACTED;
	return 0;
}

bool cel_record_is_redacted(const struct cel_record *r)
{
	return r->content_type == CEL_CT_REDACTED &&
	       r->content_len == sizeof(REDACTED_MARKER) - 1 &&
	       !memcmp(r->content, REDACTED_MARKER, sizeof(REDACTED_MARKER) - 1);
}

/* value = H(value || digest) with a context the caller keeps: a replay of millions of records
 * allocates it once. */
static int extend_with(EVP_MD_CTX *ctx, const EVP_MD *md, size_t n, uint8_t *value,
		       const uint8_t *digest)
{
	return EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, value, n) &&
		       EVP_DigestUpdate(ctx, digest, n) && EVP_DigestFinal_ex(ctx, value, NULL)
		   ? 0
		   : -EIO;
}

int cel_extend(uint16_t alg, uint8_t *value, const uint8_t *digest)
{
	const EVP_MD *md = cel_alg_md(alg);
	size_t n = cel_alg_size(alg);
	EVP_MD_CTX *ctx;
	int ret;

	if (!md || !n)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ret = extend_with(ctx, md, n, value, digest);
	EVP_MD_CTX_free(ctx);
	return ret;
}

static const struct cel_digest *find_digest(const struct cel_digests *ds, uint16_t alg)
{
	for (size_t i = 0; i < ds->n; i++)
		if (ds->v[i].alg == alg)
			return &ds->v[i];
	return NULL;
}

int cel_replay(const struct cel_log *log, uint32_t pcr, uint16_t alg, const uint8_t *start,
	       uint8_t *out, char err[CEL_ERR_MAX])
{
	const EVP_MD *md = cel_alg_md(alg);
	size_t n = cel_alg_size(alg);
	EVP_MD_CTX *ctx;
	int ret = 0;

	if (!n) {
		seterr(err, "cannot replay: unknown hash algorithm 0x%x", alg);
		return -EINVAL;
	}
	if (!md) {
		seterr(err, "cannot replay: OpenSSL has no %s", cel_alg_name(alg));
		return -EIO;
	}
	if (!(ctx = EVP_MD_CTX_new()))
		return -ENOMEM;
	memmove(out, start, n);
	for (size_t i = 0; i < log->n && !ret; i++) {
		const struct cel_record *r = &log->recs[i];
		const struct cel_digest *d;

		if (r->index_type != CEL_T_PCR || r->index != pcr)
			continue;
		d = find_digest(&r->digests, alg);
		if (!d) {
			seterr(err, "record %llu has no %s digest to replay",
			       (unsigned long long)r->recnum, cel_alg_name(alg));
			ret = -EBADMSG;
		} else {
			ret = extend_with(ctx, md, n, out, d->d);
		}
	}
	EVP_MD_CTX_free(ctx);
	return ret;
}

int cel_replay_baseline(const struct cel_log *log, uint32_t pcr, uint16_t alg, uint8_t *out,
			char err[CEL_ERR_MAX])
{
	struct cel_event ev;
	const struct cel_digest *start;
	int ret;

	if (!log->n || log->recs[0].content_type != CEL_CT_AICERT) {
		seterr(err, "cannot replay: the log does not start with an aicert baseline record");
		return -EBADMSG;
	}
	ret = cel_event_decode(log->recs[0].content, log->recs[0].content_len, &ev, err);
	if (ret)
		return ret;
	start = find_digest(&ev.pcr_values, alg);
	if (ev.kind != CEL_KIND_BASELINE || !start) {
		seterr(err, "cannot replay: record %llu is not a baseline holding a %s value",
		       (unsigned long long)log->recs[0].recnum,
		       cel_alg_name(alg) ? cel_alg_name(alg) : "known");
		cel_event_free(&ev);
		return -EBADMSG;
	}
	ret = cel_replay(log, pcr, alg, start->d, out, err);
	cel_event_free(&ev);
	return ret;
}

/* ---- aicert content ---- */

/* bom.json's status texts and the batch record's codes: one table for writer and verifier */
static const struct {
	const char *text;
	uint32_t code;
} file_status[] = {
    {"vanished", CEL_FILE_VANISHED},
    {"deleted before the run ended", CEL_FILE_DELETED},
    {"changed while hashing", CEL_FILE_CHANGED},
    {"replaced", CEL_FILE_REPLACED},
    {"not a regular file", CEL_FILE_NOT_REGULAR},
    {"path truncated", CEL_FILE_PATH_TRUNCATED},
};

int64_t cel_file_status_of(const char *s)
{
	if (!s)
		return CEL_FILE_OK;
	if (!strncmp(s, "unreadable: ", 12) || !strcmp(s, "unreadable"))
		return CEL_FILE_UNREADABLE;
	for (size_t i = 0; i < sizeof(file_status) / sizeof(file_status[0]); i++)
		if (!strcmp(s, file_status[i].text))
			return file_status[i].code;
	return -1;
}

const char *cel_file_status_text(uint32_t code)
{
	for (size_t i = 0; i < sizeof(file_status) / sizeof(file_status[0]); i++)
		if (file_status[i].code == code)
			return file_status[i].text;
	return NULL;
}

const char *cel_kind_name(enum cel_kind k)
{
	switch (k) {
	case CEL_KIND_BASELINE:
		return "baseline";
	case CEL_KIND_RUN_START:
		return "run_start";
	case CEL_KIND_BATCH:
		return "batch";
	case CEL_KIND_LOSS:
		return "loss";
	case CEL_KIND_RUN_END:
		return "run_end";
	case CEL_KIND_RECOVERY:
		return "recovery";
	}
	return NULL;
}

static void enc_file(struct wbuf *b, const struct cel_file *f)
{
	size_t plen = f->path ? strlen(f->path) : 0;

	wb_hdr(b, F_FILE, 5 * TLV_HDR + plen + 32 + 8 + 4 + 4);
	wb_tlv(b, FF_PATH, f->path, plen);
	wb_tlv(b, FF_SHA256, f->sha256, 32);
	wb_uint(b, FF_SIZE, f->size, 8);
	wb_uint(b, FF_ROLES, f->roles, 4);
	wb_uint(b, FF_STATUS, f->status, 4);
}

static void enc_output(struct wbuf *b, const struct cel_output *o)
{
	size_t plen = o->path ? strlen(o->path) : 0;

	wb_hdr(b, F_OUTPUT, 3 * TLV_HDR + plen + 32 + 8);
	wb_tlv(b, FF_PATH, o->path, plen);
	wb_tlv(b, FF_SHA256, o->sha256, 32);
	wb_uint(b, FF_SIZE, o->size, 8);
}

static void enc_kind(struct wbuf *b, const struct cel_event *ev)
{
	switch (ev->kind) {
	case CEL_KIND_BASELINE:
		wb_str(b, F_BOOT_ID, ev->boot_id);
		wb_str(b, F_HOSTNAME, ev->hostname);
		wb_str(b, F_KERNEL, ev->kernel);
		for (size_t i = 0; i < ev->pcr_values.n; i++) {
			const struct cel_digest *d = &ev->pcr_values.v[i];
			uint8_t v[2 + CEL_MAX_DIGEST] = {d->alg >> 8, d->alg};

			memcpy(v + 2, d->d, d->len);
			wb_tlv(b, F_PCR_VALUE, v, 2 + d->len);
		}
		break;
	case CEL_KIND_RUN_START:
		for (size_t i = 0; i < ev->argc; i++)
			wb_str(b, F_ARG, ev->argv[i]);
		wb_str(b, F_CWD, ev->cwd);
		wb_uint(b, F_UID, ev->uid, 4);
		wb_tlv(b, F_POLICY, ev->policy_digest, 32);
		wb_str(b, F_BACKEND, ev->backend);
		wb_str(b, F_VERSION, ev->version);
		wb_tlv(b, F_EXE, ev->exe_sha256, 32);
		if (ev->nonce_len)
			wb_tlv(b, F_NONCE, ev->nonce, ev->nonce_len);
		if (ev->job.scheduler) {
			wb_str(b, F_JOB_SCHEDULER, ev->job.scheduler);
			wb_str(b, F_JOB_ID, ev->job.id);
			wb_str(b, F_JOB_STEP, ev->job.step);
			wb_str(b, F_JOB_NODE, ev->job.node);
			for (size_t i = 0; i < ev->job.n_nodes; i++)
				wb_str(b, F_JOB_NODE_OF, ev->job.nodes[i]);
		}
		break;
	case CEL_KIND_BATCH:
		for (size_t i = 0; i < ev->n_files; i++)
			enc_file(b, &ev->files[i]);
		break;
	case CEL_KIND_LOSS:
		wb_uint(b, F_LOST, ev->lost, 8);
		break;
	case CEL_KIND_RUN_END:
		wb_uint(b, F_EXIT, (uint32_t)ev->exit_status, 4);
		wb_uint(b, F_SIGNAL, (uint32_t)ev->signal, 4);
		wb_uint(b, F_DETACHED, ev->detached, 1);
		wb_uint(b, F_PATHS_TRUNCATED, ev->paths_truncated, 8);
		for (size_t i = 0; i < ev->n_outputs; i++)
			enc_output(b, &ev->outputs[i]);
		wb_uint(b, F_TOTAL_FILES, ev->total_files, 8);
		wb_uint(b, F_TOTAL_LOST, ev->total_lost, 8);
		wb_uint(b, F_TOTAL_BATCHES, ev->total_batches, 8);
		break;
	case CEL_KIND_RECOVERY:
		wb_uint(b, F_LAST_GOOD, ev->last_good_recnum, 8);
		wb_uint(b, F_DROPPED, ev->bytes_dropped, 8);
		break;
	}
}

int cel_event_encode(const struct cel_event *ev, uint8_t **buf, size_t *len)
{
	struct wbuf b = {0};

	if (!cel_kind_name(ev->kind))
		return -EINVAL;
	wb_uint(&b, F_KIND, ev->kind, 1);
	if (ev->run_id[0])
		wb_str(&b, F_RUN_ID, ev->run_id);
	wb_uint(&b, F_TIME, ev->time_ns, 8);
	enc_kind(&b, ev);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*buf = b.p;
	*len = b.len;
	return 0;
}

/* A string field: no NUL inside (paths and argv cannot hold one). */
static int dec_str(const struct tlv *t, char **out)
{
	if (memchr(t->v, 0, t->len))
		return -EBADMSG;
	*out = strndup((const char *)t->v, t->len);
	return *out ? 0 : -ENOMEM;
}

static int dec_fixstr(const struct tlv *t, char *out, size_t size)
{
	if (t->len >= size || memchr(t->v, 0, t->len))
		return -EBADMSG;
	memcpy(out, t->v, t->len);
	out[t->len] = 0;
	return 0;
}

static int dec_uint(const struct tlv *t, size_t width, uint64_t *out)
{
	if (t->len != width)
		return -EBADMSG;
	*out = be_uint(t->v, width);
	return 0;
}

static int dec_bytes(const struct tlv *t, uint8_t *out, size_t n)
{
	if (t->len != n)
		return -EBADMSG;
	memcpy(out, t->v, n);
	return 0;
}

static void *grow(void *p, size_t n, size_t size)
{
	/* Capacity is the power of two at or above n: reallocate only when n reaches one. */
	if (n & (n - 1))
		return p;
	return realloc(p, (n ? 2 * n : 1) * size);
}

/* A nested file TLV needs all five fields, an output TLV exactly path, sha256 and size. */
static int dec_file(const struct tlv *t, struct cel_file *f, bool is_output)
{
	size_t pos = 0;
	unsigned seen = 0, want = is_output ? 0xe : 0x3e;
	uint64_t v = 0;
	int ret = 0;

	while (pos < t->len && !ret) {
		struct tlv s;

		if (rd_tlv(t->v + pos, t->len - pos, &s))
			return -EBADMSG;
		pos += TLV_HDR + s.len;
		if (s.type > FF_STATUS || (seen & (1u << s.type)) ||
		    (is_output && s.type > FF_SIZE))
			return -EBADMSG;
		seen |= 1u << s.type;
		switch (s.type) {
		case FF_PATH:
			ret = dec_str(&s, &f->path);
			break;
		case FF_SHA256:
			ret = dec_bytes(&s, f->sha256, 32);
			break;
		case FF_SIZE:
			ret = dec_uint(&s, 8, &f->size);
			break;
		case FF_ROLES:
			ret = dec_uint(&s, 4, &v), f->roles = v;
			break;
		case FF_STATUS:
			ret = dec_uint(&s, 4, &v), f->status = v;
			break;
		default:
			return -EBADMSG;
		}
	}
	if (!ret && seen != want)
		ret = -EBADMSG;
	return ret;
}

static int dec_pcr_value(const struct tlv *t, struct cel_digests *ds)
{
	uint16_t alg;

	if (t->len < 2 || ds->n == CEL_MAX_BANKS)
		return -EBADMSG;
	alg = t->v[0] << 8 | t->v[1];
	if (!cel_alg_size(alg) || cel_alg_size(alg) != t->len - 2U || find_digest(ds, alg))
		return -EBADMSG;
	ds->v[ds->n].alg = alg;
	ds->v[ds->n].len = t->len - 2;
	memcpy(ds->v[ds->n].d, t->v + 2, t->len - 2);
	ds->n++;
	return 0;
}

static int dec_list(const struct tlv *t, struct cel_event *ev)
{
	void *p;

	switch (t->type) {
	case F_ARG:
		if (!(p = grow(ev->argv, ev->argc, sizeof(char *))))
			return -ENOMEM;
		ev->argv = p;
		ev->argv[ev->argc] = NULL;
		return dec_str(t, &ev->argv[ev->argc++]);
	case F_FILE:
		if (!(p = grow(ev->files, ev->n_files, sizeof(struct cel_file))))
			return -ENOMEM;
		ev->files = p;
		memset(&ev->files[ev->n_files], 0, sizeof(struct cel_file));
		return dec_file(t, &ev->files[ev->n_files++], false);
	case F_OUTPUT: {
		struct cel_file f = {0};
		int ret;

		if (!(p = grow(ev->outputs, ev->n_outputs, sizeof(struct cel_output))))
			return -ENOMEM;
		ev->outputs = p;
		ret = dec_file(t, &f, true);
		ev->outputs[ev->n_outputs].path = f.path;
		ev->outputs[ev->n_outputs].size = f.size;
		memcpy(ev->outputs[ev->n_outputs++].sha256, f.sha256, 32);
		return ret;
	}
	case F_PCR_VALUE:
		return dec_pcr_value(t, &ev->pcr_values);
	case F_JOB_NODE_OF:
		if (ev->job.n_nodes >= JOB_NODES_MAX)
			return -EBADMSG;
		if (!(p = grow(ev->job.nodes, ev->job.n_nodes, sizeof(char *))))
			return -ENOMEM;
		ev->job.nodes = p;
		ev->job.nodes[ev->job.n_nodes] = NULL;
		return dec_str(t, &ev->job.nodes[ev->job.n_nodes++]);
	}
	return -EBADMSG;
}

static int dec_field(const struct tlv *t, struct cel_event *ev)
{
	uint64_t v = 0;
	int ret;

	switch (t->type) {
	case F_KIND:
		ret = dec_uint(t, 1, &v);
		ev->kind = v;
		return ret ? ret : (cel_kind_name(v) ? 0 : -EBADMSG);
	case F_RUN_ID:
		return dec_fixstr(t, ev->run_id, sizeof(ev->run_id));
	case F_TIME:
		return dec_uint(t, 8, &ev->time_ns);
	case F_BOOT_ID:
		return dec_fixstr(t, ev->boot_id, sizeof(ev->boot_id));
	case F_HOSTNAME:
		return dec_str(t, &ev->hostname);
	case F_KERNEL:
		return dec_str(t, &ev->kernel);
	case F_CWD:
		return dec_str(t, &ev->cwd);
	case F_UID:
		ret = dec_uint(t, 4, &v), ev->uid = v;
		return ret;
	case F_POLICY:
		return dec_bytes(t, ev->policy_digest, 32);
	case F_BACKEND:
		return dec_str(t, &ev->backend);
	case F_VERSION:
		return dec_str(t, &ev->version);
	case F_EXE:
		return dec_bytes(t, ev->exe_sha256, 32);
	case F_NONCE:
		if (!t->len || t->len > CEL_NONCE_MAX)
			return -EBADMSG;
		ev->nonce_len = t->len;
		return dec_bytes(t, ev->nonce, t->len);
	case F_JOB_SCHEDULER:
		return dec_str(t, &ev->job.scheduler);
	case F_JOB_ID:
		return dec_str(t, &ev->job.id);
	case F_JOB_STEP:
		return dec_str(t, &ev->job.step);
	case F_JOB_NODE:
		return dec_str(t, &ev->job.node);
	case F_LOST:
		return dec_uint(t, 8, &ev->lost);
	case F_EXIT:
		ret = dec_uint(t, 4, &v), ev->exit_status = (int32_t)(uint32_t)v;
		return ret;
	case F_SIGNAL:
		ret = dec_uint(t, 4, &v), ev->signal = (int32_t)(uint32_t)v;
		return ret;
	case F_DETACHED:
		ret = dec_uint(t, 1, &v), ev->detached = v;
		return ret ? ret : (v <= 1 ? 0 : -EBADMSG);
	case F_PATHS_TRUNCATED:
		return dec_uint(t, 8, &ev->paths_truncated);
	case F_TOTAL_FILES:
		return dec_uint(t, 8, &ev->total_files);
	case F_TOTAL_LOST:
		return dec_uint(t, 8, &ev->total_lost);
	case F_TOTAL_BATCHES:
		return dec_uint(t, 8, &ev->total_batches);
	case F_LAST_GOOD:
		return dec_uint(t, 8, &ev->last_good_recnum);
	case F_DROPPED:
		return dec_uint(t, 8, &ev->bytes_dropped);
	}
	return dec_list(t, ev);
}

static bool repeatable(uint8_t type)
{
	return type == F_ARG || type == F_FILE || type == F_OUTPUT || type == F_PCR_VALUE ||
	       type == F_JOB_NODE_OF;
}

#define JOB_FIELDS                                                                          \
	(1ULL << F_JOB_SCHEDULER | 1ULL << F_JOB_ID | 1ULL << F_JOB_STEP | 1ULL << F_JOB_NODE |  \
	 1ULL << F_JOB_NODE_OF)

int cel_event_decode(const uint8_t *buf, size_t len, struct cel_event *ev, char err[CEL_ERR_MAX])
{
	const char *why = NULL;
	uint64_t seen = 0;
	size_t pos = 0;
	int ret = 0;

	memset(ev, 0, sizeof(*ev));
	while (pos < len) {
		struct tlv t;

		if (rd_tlv(buf + pos, len - pos, &t)) {
			seterr(err, "content offset %zu: field overruns the content", pos);
			ret = -EBADMSG;
			break;
		}
		if (t.type >= 64 || (!repeatable(t.type) && (seen & (1ULL << t.type)))) {
			seterr(err, "content offset %zu: unknown or repeated field %u", pos,
			       t.type);
			ret = -EBADMSG;
			break;
		}
		seen |= 1ULL << t.type;
		if ((ret = dec_field(&t, ev))) {
			seterr(err, "content offset %zu: bad field %u (length %u)", pos, t.type,
			       t.len);
			break;
		}
		pos += TLV_HDR + t.len;
	}
	if (!ret && !(seen & (1ULL << F_KIND))) {
		seterr(err, "content has no kind field");
		ret = -EBADMSG;
	}
	if (!ret && (seen & JOB_FIELDS) && ((seen & JOB_FIELDS) != JOB_FIELDS ||
					  ev->kind != CEL_KIND_RUN_START ||
					  job_check(&ev->job, &why))) {
		seterr(err, "a job's fields: %s", why ? why : ev->kind != CEL_KIND_RUN_START
			? "only in run_start" : "all of scheduler, id, step, node and the step's "
			"nodes, or none");
		ret = -EBADMSG;
	}
	if (ret)
		cel_event_free(ev);
	return ret;
}

void cel_event_free(struct cel_event *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->argc; i++)
		free(ev->argv[i]);
	for (size_t i = 0; i < ev->n_files; i++)
		free(ev->files[i].path);
	for (size_t i = 0; i < ev->n_outputs; i++)
		free(ev->outputs[i].path);
	free(ev->argv);
	free(ev->files);
	free(ev->outputs);
	free(ev->cwd);
	free(ev->backend);
	free(ev->version);
	free(ev->hostname);
	free(ev->kernel);
	job_free(&ev->job);
	memset(ev, 0, sizeof(*ev));
}

/* ---- CEL-JSON ---- */

static json_t *jhex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	json_t *j;

	if (!s)
		return NULL;
	hex_encode(p, n, s);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *jdigests(const struct cel_digests *ds)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < ds->n; i++) {
		const char *name = cel_alg_name(ds->v[i].alg);

		json_array_append_new(a, json_pack("{s:s?,s:o}", "hashAlg", name, "digest",
						   jhex(ds->v[i].d, ds->v[i].len)));
	}
	return a;
}

static json_t *jfiles(const struct cel_event *ev)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < ev->n_files; i++) {
		const struct cel_file *f = &ev->files[i];

		json_array_append_new(a,
				      json_pack("{s:s,s:o,s:I,s:i,s:i}", "path", f->path, "sha256",
						jhex(f->sha256, 32), "size", (json_int_t)f->size,
						"roles", (int)f->roles, "status", (int)f->status));
	}
	return a;
}

static void jkind(json_t *o, const struct cel_event *ev)
{
	json_t *a;

	switch (ev->kind) {
	case CEL_KIND_BASELINE:
		json_object_set_new(o, "boot_id", json_string(ev->boot_id));
		json_object_set_new(o, "hostname", json_string(ev->hostname ? ev->hostname : ""));
		json_object_set_new(o, "kernel", json_string(ev->kernel ? ev->kernel : ""));
		json_object_set_new(o, "pcr_values", jdigests(&ev->pcr_values));
		break;
	case CEL_KIND_RUN_START:
		a = json_array();
		for (size_t i = 0; i < ev->argc; i++)
			json_array_append_new(a, json_string(ev->argv[i]));
		json_object_set_new(o, "argv", a);
		json_object_set_new(o, "cwd", json_string(ev->cwd ? ev->cwd : ""));
		json_object_set_new(o, "uid", json_integer(ev->uid));
		json_object_set_new(o, "policy_sha256", jhex(ev->policy_digest, 32));
		json_object_set_new(o, "backend", json_string(ev->backend ? ev->backend : ""));
		json_object_set_new(o, "aicert_version",
				    json_string(ev->version ? ev->version : ""));
		json_object_set_new(o, "aicert_sha256", jhex(ev->exe_sha256, 32));
		if (ev->nonce_len)
			json_object_set_new(o, "nonce", jhex(ev->nonce, ev->nonce_len));
		if (ev->job.scheduler) {
			json_t *nodes = json_array();

			for (size_t i = 0; i < ev->job.n_nodes; i++)
				json_array_append_new(nodes, json_string(ev->job.nodes[i]));
			json_object_set_new(o, "job", json_pack("{s:s,s:s,s:s,s:s,s:o}", "scheduler",
				ev->job.scheduler, "id", ev->job.id, "step", ev->job.step, "node",
				ev->job.node, "nodes", nodes));
		}
		break;
	case CEL_KIND_BATCH:
		json_object_set_new(o, "files", jfiles(ev));
		break;
	case CEL_KIND_LOSS:
		json_object_set_new(o, "lost", json_integer((json_int_t)ev->lost));
		break;
	case CEL_KIND_RUN_END:
		json_object_set_new(o, "exit_status", json_integer(ev->exit_status));
		json_object_set_new(o, "signal", json_integer(ev->signal));
		json_object_set_new(o, "detached", json_boolean(ev->detached));
		json_object_set_new(o, "paths_truncated",
				    json_integer((json_int_t)ev->paths_truncated));
		a = json_array();
		for (size_t i = 0; i < ev->n_outputs; i++)
			json_array_append_new(a, json_pack("{s:s,s:o,s:I}", "path",
							   ev->outputs[i].path, "sha256",
							   jhex(ev->outputs[i].sha256, 32), "size",
							   (json_int_t)ev->outputs[i].size));
		json_object_set_new(o, "outputs", a);
		json_object_set_new(o, "total_files", json_integer((json_int_t)ev->total_files));
		json_object_set_new(o, "total_lost", json_integer((json_int_t)ev->total_lost));
		json_object_set_new(o, "total_batches",
				    json_integer((json_int_t)ev->total_batches));
		break;
	case CEL_KIND_RECOVERY:
		json_object_set_new(o, "last_good_recnum",
				    ev->last_good_recnum == UINT64_MAX
					? json_null()
					: json_integer((json_int_t)ev->last_good_recnum));
		json_object_set_new(o, "bytes_dropped",
				    json_integer((json_int_t)ev->bytes_dropped));
		break;
	}
}

static json_t *jcontent(const struct cel_record *r)
{
	struct cel_event ev;
	char err[CEL_ERR_MAX];
	json_t *o;

	if (r->content_type == CEL_CT_REDACTED)
		return json_string(REDACTED_MARKER);
	if (r->content_type != CEL_CT_AICERT)
		return jhex(r->content, r->content_len);
	if (cel_event_decode(r->content, r->content_len, &ev, err))
		return json_pack("{s:s,s:o}", "error", err, "raw",
				 jhex(r->content, r->content_len));
	o = json_pack("{s:s,s:I}", "kind", cel_kind_name(ev.kind), "time_ns",
		      (json_int_t)ev.time_ns);
	if (o && ev.run_id[0])
		json_object_set_new(o, "run_id", json_string(ev.run_id));
	if (o)
		jkind(o, &ev);
	cel_event_free(&ev);
	return o;
}

json_t *cel_record_json(const struct cel_record *r)
{
	json_t *ct;

	if (r->content_type == CEL_CT_AICERT)
		ct = json_string("aicert");
	else if (r->content_type == CEL_CT_REDACTED)
		ct = json_string("aicert_redacted");
	else
		ct = json_integer(r->content_type);
	return json_pack("{s:I,s:I,s:o,s:o,s:o}", "recnum", (json_int_t)r->recnum,
			 r->index_type == CEL_T_PCR ? "pcr" : "nv_index", (json_int_t)r->index,
			 "digests", jdigests(&r->digests), "content_type", ct, "content",
			 jcontent(r));
}

json_t *cel_log_json(const struct cel_log *log)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < log->n; i++) {
		json_t *r = cel_record_json(&log->recs[i]);

		if (!r || json_array_append_new(a, r)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
