// SPDX-License-Identifier: BSD-2-Clause
/*
 * ima.c - the kernel's IMA measurement list (security/integrity/ima/ima_fs.c).
 *
 * Binary record: pcr u32 | template digest | name_len u32 | name | data_len u32 | data, where
 * data is a run of (len u32 | bytes) fields; the "ima" template has no data_len and its data is
 * digest(20) | name_len u32 | name (no NUL). Integers are in the writing kernel's order, which
 * is little-endian with ima_canonical_fmt or on any little-endian host.
 */
#include "lib/ima.h"
#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define IMA_LEGACY_DIGEST 20 /* the "ima" template's d field is SHA-1 */
#define IMA_NAME_MAX 255     /* IMA_EVENT_NAME_LEN_MAX: the "ima" template's name limit */
#define IMA_TEMPLATE_NAME_MAX 255

struct field_def {
	const char *id;
	enum ima_field_fmt fmt;
};

/* supported_fields[] in ima_template.c, with the show function each one uses. */
static const struct field_def field_defs[] = {
    {"d", IMA_FMT_DIGEST},	   {"n", IMA_FMT_STRING},
    {"d-ng", IMA_FMT_DIGEST_ALGO}, {"d-ngv2", IMA_FMT_DIGEST_TYPE_ALGO},
    {"n-ng", IMA_FMT_STRING},	   {"sig", IMA_FMT_HEX},
    {"buf", IMA_FMT_HEX},	   {"d-modsig", IMA_FMT_DIGEST_ALGO},
    {"modsig", IMA_FMT_HEX},	   {"evmsig", IMA_FMT_HEX},
    {"iuid", IMA_FMT_UINT},	   {"igid", IMA_FMT_UINT},
    {"imode", IMA_FMT_UINT},	   {"xattrnames", IMA_FMT_STRING},
    {"xattrlengths", IMA_FMT_HEX}, {"xattrvalues", IMA_FMT_HEX},
};

/* builtin_templates[] in ima_template.c */
static const struct {
	const char *name, *fmt;
} templates[] = {
    {"ima", "d|n"},
    {"ima-ng", "d-ng|n-ng"},
    {"ima-sig", "d-ng|n-ng|sig"},
    {"ima-ngv2", "d-ngv2|n-ng"},
    {"ima-sigv2", "d-ngv2|n-ng|sig"},
    {"ima-buf", "d-ng|n-ng|buf"},
    {"ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig"},
    {"evm-sig", "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode"},
};

static const struct {
	const char *name, *evp;
	size_t size;
} algos[] = {
    {"sha1", "SHA1", 20},     {"sha256", "SHA256", 32}, {"sha384", "SHA384", 48},
    {"sha512", "SHA512", 64}, {"sm3_256", "SM3", 32},	{"sm3", "SM3", 32},
};

/* A template's field list, resolved once per distinct template name. */
struct layout {
	const struct field_def *defs[IMA_MAX_FIELDS];
	unsigned n;
	bool generic; /* unknown template: any run of length-prefixed fields */
	bool legacy;
};

struct pctx {
	const uint8_t *buf;
	size_t len, off, rec, rec_off;
	bool be;
	char *err;
	size_t errlen;
	struct ima_list *l;
	size_t cap_entries, nfields, cap_fields, str_used, str_cap;
	const char *last_name; /* interned template name of the previous record */
	struct layout lay;
};

size_t ima_digest_size(const char *algo)
{
	for (size_t i = 0; algo && i < sizeof(algos) / sizeof(algos[0]); i++)
		if (!strcmp(algo, algos[i].name))
			return algos[i].size;
	return 0;
}

static const char *evp_name(const char *algo)
{
	for (size_t i = 0; algo && i < sizeof(algos) / sizeof(algos[0]); i++)
		if (!strcmp(algo, algos[i].name))
			return algos[i].evp;
	return NULL;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static int perr(struct pctx *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(c->err, c->errlen, "ima: record %zu at offset %zu: %s", c->rec, c->off, msg);
	return -1;
}

static uint32_t get32(const uint8_t *p, bool be)
{
	if (be)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t getn(const uint8_t *p, size_t n, bool be)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[be ? i : n - 1 - i] << (8 * (n - 1 - i));
	return v;
}

static int need(struct pctx *c, size_t n, const char *what)
{
	if (c->len - c->off < n)
		return perr(c, "%s needs %zu bytes, only %zu left", what, n, c->len - c->off);
	return 0;
}

static int read32(struct pctx *c, const char *what, uint32_t *v)
{
	if (need(c, 4, what))
		return -1;
	*v = get32(c->buf + c->off, c->be);
	c->off += 4;
	return 0;
}

static const struct field_def *find_field(const char *id, size_t len)
{
	for (size_t i = 0; i < sizeof(field_defs) / sizeof(field_defs[0]); i++)
		if (strlen(field_defs[i].id) == len && !memcmp(field_defs[i].id, id, len))
			return &field_defs[i];
	return NULL;
}

/* A format string "d-ng|n-ng|sig" of known fields; false if any part is unknown. */
static bool parse_fmt(const char *fmt, struct layout *lay)
{
	const char *p = fmt;

	lay->n = 0;
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		const struct field_def *d = find_field(p, n);

		if (!d || lay->n == IMA_MAX_FIELDS)
			return false;
		lay->defs[lay->n++] = d;
		if (!bar)
			return true;
		p = bar + 1;
	}
}

static void resolve_layout(const char *name, struct layout *lay)
{
	memset(lay, 0, sizeof(*lay));
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		if (!strcmp(name, templates[i].name)) {
			parse_fmt(templates[i].fmt, lay);
			lay->legacy = !strcmp(name, "ima");
			return;
		}
	}
	/* A custom template (ima_template_fmt=) is listed under its format string. */
	if (!parse_fmt(name, lay)) {
		lay->n = 0;
		lay->generic = true;
	}
}

static char *store_str(struct pctx *c, const uint8_t *s, size_t n)
{
	char *p;

	if (c->str_cap - c->str_used < n + 1)
		return NULL; /* cannot happen: the arena is sized from the input */
	p = c->l->strings + c->str_used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->str_used += n + 1;
	return p;
}

static struct ima_field *add_field(struct pctx *c)
{
	if (c->nfields == c->cap_fields) {
		size_t cap = c->cap_fields ? c->cap_fields * 2 : 256;
		struct ima_field *f = realloc(c->l->field_store, cap * sizeof(*f));

		if (!f)
			return NULL;
		c->l->field_store = f;
		c->cap_fields = cap;
	}
	return &c->l->field_store[c->nfields++];
}

static size_t strnlen_u8(const uint8_t *p, size_t n)
{
	const uint8_t *z = memchr(p, 0, n);

	return z ? (size_t)(z - p) : n;
}

/* "algo:" '\0' digest or "type:algo:" '\0' digest: the kernel finds the last ':' before the
 * NUL (strrchr) and skips it and the NUL. Returns the offset of the ':' or -1. */
static long algo_colon(const uint8_t *p, size_t n)
{
	size_t z = strnlen_u8(p, n);

	while (z > 0)
		if (p[--z] == ':')
			return (long)z;
	return -1;
}

static void copy_bounded(char *dst, size_t cap, const uint8_t *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void decode_digest(struct ima_entry *e, const struct ima_field *f)
{
	long colon;
	size_t start, type_len = 0;

	if (f->fmt == IMA_FMT_DIGEST) {
		snprintf(e->hash_algo, sizeof(e->hash_algo), "%s", f->len == 16 ? "md5" : "sha1");
		e->file_digest = f->data;
		e->file_digest_len = f->len;
		return;
	}
	colon = algo_colon(f->data, f->len);
	if (colon < 0)
		return;
	if (f->fmt == IMA_FMT_DIGEST_TYPE_ALGO) {
		const uint8_t *c1 = memchr(f->data, ':', (size_t)colon);

		if (c1) {
			type_len = (size_t)(c1 - f->data);
			copy_bounded(e->digest_type, sizeof(e->digest_type), f->data, type_len);
			type_len++;
		}
	}
	copy_bounded(e->hash_algo, sizeof(e->hash_algo), f->data + type_len,
		     (size_t)colon - type_len);
	start = (size_t)colon + 2;
	if (start <= f->len) {
		e->file_digest = f->data + start;
		e->file_digest_len = f->len - (uint32_t)start;
	}
}

static int decode_fields(struct pctx *c, struct ima_entry *e, size_t first)
{
	bool have_digest = false, have_name = false;

	for (size_t i = first; i < c->nfields; i++) {
		const struct ima_field *f = &c->l->field_store[i];
		const char *id = f->id;

		if (!have_digest &&
		    (!strcmp(id, "d") || !strcmp(id, "d-ng") || !strcmp(id, "d-ngv2"))) {
			decode_digest(e, f);
			have_digest = true;
		} else if (!have_name && (!strcmp(id, "n") || !strcmp(id, "n-ng"))) {
			e->file_name = store_str(c, f->data, strnlen_u8(f->data, f->len));
			if (!e->file_name)
				return perr(c, "string storage exhausted");
			have_name = true;
		} else if (!strcmp(id, "sig") && f->len && !e->sig) {
			e->sig = f->data;
			e->sig_len = f->len;
		} else if (!strcmp(id, "buf") && f->len && !e->buf) {
			e->buf = f->data;
			e->buf_len = f->len;
		}
	}
	return 0;
}

/* The "ima" template: d (20 bytes) | name_len | name, no template data length. */
static int parse_legacy(struct pctx *c, struct ima_entry *e)
{
	struct ima_field *f;
	uint32_t nlen;

	e->legacy = true;
	e->data = c->buf + c->off;
	if (need(c, IMA_LEGACY_DIGEST, "file digest"))
		return -1;
	if (!(f = add_field(c)))
		return perr(c, "out of memory");
	*f = (struct ima_field){"d", c->buf + c->off, IMA_FMT_DIGEST, IMA_LEGACY_DIGEST};
	c->off += IMA_LEGACY_DIGEST;
	if (read32(c, "file name length", &nlen))
		return -1;
	if (nlen > IMA_NAME_MAX)
		return perr(c, "file name length %u exceeds %u for template ima", nlen,
			    IMA_NAME_MAX);
	if (need(c, nlen, "file name"))
		return -1;
	if (!(f = add_field(c)))
		return perr(c, "out of memory");
	*f = (struct ima_field){"n", c->buf + c->off, IMA_FMT_STRING, nlen};
	c->off += nlen;
	e->data_len = (uint32_t)(c->buf + c->off - e->data);
	return 0;
}

static int parse_fields(struct pctx *c, struct ima_entry *e, const uint8_t *data, uint32_t dlen)
{
	size_t end = c->off, pos = 0;
	unsigned n = 0;

	c->off -= dlen;
	while (pos < dlen && (c->lay.generic || n < c->lay.n)) {
		struct ima_field *f;
		uint32_t flen;

		if (n == IMA_MAX_FIELDS)
			return perr(c, "more than %u fields", IMA_MAX_FIELDS);
		if (dlen - pos < 4)
			return perr(c, "field %u length needs 4 bytes, only %zu left", n + 1,
				    dlen - pos);
		flen = get32(data + pos, c->be);
		c->off += 4, pos += 4;
		if (flen > dlen - pos)
			return perr(c, "field %u length %u exceeds remaining %zu bytes", n + 1,
				    flen, dlen - pos);
		if (!(f = add_field(c)))
			return perr(c, "out of memory");
		f->id = c->lay.generic ? "?" : c->lay.defs[n]->id;
		f->fmt = c->lay.generic ? IMA_FMT_UNKNOWN : c->lay.defs[n]->fmt;
		f->data = data + pos;
		f->len = flen;
		c->off += flen, pos += flen;
		n++;
	}
	if (!c->lay.generic && n != c->lay.n)
		return perr(c, "template %s has %u fields, the data holds %u", e->template_name,
			    c->lay.n, n);
	if (pos != dlen)
		return perr(c, "%zu bytes after the last field", dlen - pos);
	c->off = end;
	return 0;
}

static int template_name(struct pctx *c, struct ima_entry *e)
{
	uint32_t nlen;
	const uint8_t *p;

	if (read32(c, "template name length", &nlen))
		return -1;
	if (nlen == 0 || nlen > IMA_TEMPLATE_NAME_MAX)
		return perr(c, "template name length %u is not 1..%u", nlen, IMA_TEMPLATE_NAME_MAX);
	if (need(c, nlen, "template name"))
		return -1;
	p = c->buf + c->off;
	for (uint32_t i = 0; i < nlen; i++)
		if (p[i] <= ' ' || p[i] > '~')
			return perr(c, "template name has byte 0x%02x", p[i]);
	if (c->last_name && strlen(c->last_name) == nlen && !memcmp(c->last_name, p, nlen)) {
		e->template_name = c->last_name;
	} else {
		if (!(e->template_name = store_str(c, p, nlen)))
			return perr(c, "string storage exhausted");
		c->last_name = e->template_name;
		resolve_layout(e->template_name, &c->lay);
	}
	c->off += nlen;
	return 0;
}

static int parse_record(struct pctx *c, struct ima_entry *e)
{
	size_t first = c->nfields;
	uint32_t dlen;
	bool zero = true;

	memset(e, 0, sizeof(*e));
	e->offset = c->off;
	if (read32(c, "PCR index", &e->pcr))
		return -1;
	if (need(c, c->l->digest_len, "template digest"))
		return -1;
	e->template_digest = c->buf + c->off;
	for (size_t i = 0; i < c->l->digest_len; i++)
		zero &= !e->template_digest[i];
	e->violation = zero;
	c->off += c->l->digest_len;
	if (template_name(c, e))
		return -1;
	if (c->lay.legacy) {
		if (parse_legacy(c, e))
			return -1;
	} else {
		if (read32(c, "template data length", &dlen))
			return -1;
		if (dlen > c->len - c->off)
			return perr(c, "template data length %u exceeds remaining %zu bytes", dlen,
				    c->len - c->off);
		e->data = c->buf + c->off;
		e->data_len = dlen;
		c->off += dlen;
		if (parse_fields(c, e, e->data, dlen))
			return -1;
	}
	e->nfields = (unsigned)(c->nfields - first);
	return decode_fields(c, e, first);
}

static int grow_entries(struct pctx *c)
{
	size_t cap;
	struct ima_entry *p;

	if (c->l->count < c->cap_entries)
		return 0;
	if (c->l->count >= IMA_MAX_ENTRIES)
		return perr(c, "more than %u records", IMA_MAX_ENTRIES);
	cap = c->cap_entries ? c->cap_entries * 2 : 64;
	if (!(p = realloc(c->l->entries, cap * sizeof(*p))))
		return perr(c, "out of memory for %zu records", cap);
	c->l->entries = p;
	c->cap_entries = cap;
	return 0;
}

static bool detect_be(const uint8_t *buf, size_t len, enum ima_endian endian)
{
	if (endian != IMA_ENDIAN_AUTO || len < 4)
		return endian == IMA_ENDIAN_BIG;
	/* PCR indexes are small: only one byte order gives a plausible one. */
	return get32(buf, false) > 0xffff && get32(buf, true) <= 0xffff;
}

/* raw (malloc'ed, len bytes) becomes the list's: ima_list_free frees it. */
static int init_list(struct pctx *c, uint8_t *raw, size_t len, const struct ima_parse_opts *o)
{
	const char *algo = o && o->digest_algo ? o->digest_algo : "sha1";
	struct ima_list *l = c->l;

	l->raw = raw;
	l->digest_len = ima_digest_size(algo);
	if (!l->digest_len) {
		seterr(c->err, c->errlen, "ima: unknown template digest algorithm %s", algo);
		return -1;
	}
	snprintf(l->digest_algo, sizeof(l->digest_algo), "%s", algo);
	if (len > IMA_MAX_LIST) {
		seterr(c->err, c->errlen, "ima: list of %zu bytes exceeds the %u byte limit", len,
		       IMA_MAX_LIST);
		return -1;
	}
	/* Every string copied is a part of one record plus a NUL, and a record is at least
	 * 33 bytes, so the arena never needs more than len + len / 8 (pages never written to
	 * are never resident). */
	c->str_cap = len + len / 8 + 64;
	l->strings = malloc(c->str_cap);
	if (!raw || !l->strings) {
		seterr(c->err, c->errlen, "ima: out of memory for a %zu byte list", len);
		return -1;
	}
	c->buf = raw;
	c->len = len;
	c->be = l->big_endian = detect_be(raw, len, o ? o->endian : IMA_ENDIAN_AUTO);
	return 0;
}

static int parse_owned(uint8_t *raw, size_t len, const struct ima_parse_opts *o,
		       struct ima_list *out, char *err, size_t errlen)
{
	struct pctx c = {.err = err, .errlen = errlen, .l = out};
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	if (init_list(&c, raw, len, o))
		goto fail;
	while (c.off < c.len) {
		c.rec = out->count + 1;
		if (grow_entries(&c) || parse_record(&c, &out->entries[out->count]))
			goto fail;
		out->count++;
	}
	for (size_t i = 0; i < out->count; i++) {
		out->entries[i].fields = out->field_store ? out->field_store + k : NULL;
		k += out->entries[i].nfields;
	}
	return 0;
fail:
	ima_list_free(out);
	return -1;
}

int ima_parse(const uint8_t *buf, size_t len, const struct ima_parse_opts *o, struct ima_list *out,
	      char *err, size_t errlen)
{
	uint8_t *raw = len <= IMA_MAX_LIST ? malloc(len ? len : 1) : NULL;

	if (raw && len)
		memcpy(raw, buf, len);
	if (!raw && len <= IMA_MAX_LIST) {
		memset(out, 0, sizeof(*out));
		seterr(err, errlen, "ima: out of memory for a %zu byte list", len);
		return -1;
	}
	return parse_owned(raw, len, o, out, err, errlen);
}

void ima_list_free(struct ima_list *l)
{
	if (!l)
		return;
	free(l->entries);
	free(l->field_store);
	free(l->strings);
	free(l->raw);
	memset(l, 0, sizeof(*l));
}

static const char *algo_from_path(const char *path)
{
	static const char prefix[] = "binary_runtime_measurements_";
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strncmp(base, prefix, sizeof(prefix) - 1))
		return "sha1";
	return base + sizeof(prefix) - 1;
}

/* securityfs reports st_size 0, so fileio reads to EOF. */
static int slurp(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		seterr(err, errlen, "ima: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	ret = fileio_read_fd(fd, IMA_MAX_LIST, buf, len);
	close(fd);
	if (ret == -EFBIG)
		seterr(err, errlen, "ima: %s exceeds %u bytes", path, IMA_MAX_LIST);
	else if (ret)
		seterr(err, errlen, "ima: cannot read %s: %s", path, strerror(-ret));
	return ret ? -1 : 0;
}

int ima_read_file(const char *path, const struct ima_parse_opts *o, struct ima_list *out, char *err,
		  size_t errlen)
{
	struct ima_parse_opts opts = {0};
	uint8_t *buf = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if (o)
		opts = *o;
	if (!opts.digest_algo)
		opts.digest_algo = algo_from_path(path);
	if (slurp(path, &buf, &len, err, errlen))
		return -1;
	return parse_owned(buf, len, &opts, out, err, errlen); /* the list keeps buf */
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = v, p[1] = v >> 8, p[2] = v >> 16, p[3] = v >> 24;
}

int ima_append_violation(uint8_t **buf, size_t *len, const char *name)
{
	size_t nl = strlen(name), n = 4 + 20 + 4 + 3 + IMA_LEGACY_DIGEST + 4 + nl;
	uint8_t *p, *r;

	if (nl > IMA_NAME_MAX)
		return -EINVAL;
	if (!(p = realloc(*buf, *len + n)))
		return -ENOMEM;
	*buf = p;
	r = p + *len;
	memset(r, 0, n);
	put32le(r, 10);
	put32le(r + 24, 3);
	memcpy(r + 28, "ima", 3);
	put32le(r + 31 + IMA_LEGACY_DIGEST, (uint32_t)nl);
	memcpy(r + 35 + IMA_LEGACY_DIGEST, name, nl);
	*len += n;
	return 0;
}

/* ---- ASCII rendering (ima_ascii_measurements_show, ima_show_template_data_ascii) ---- */

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char buf[256];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		buf[k++] = digits[p[i] >> 4];
		buf[k++] = digits[p[i] & 15];
		if (k == sizeof(buf)) {
			fwrite(buf, 1, k, f);
			k = 0;
		}
	}
	fwrite(buf, 1, k, f);
}

static void put_digest_algo(FILE *f, const struct ima_field *fd)
{
	long colon = algo_colon(fd->data, fd->len);
	size_t start;

	if (colon < 0) { /* the kernel never writes this; show the bytes */
		put_hex(f, fd->data, fd->len);
		return;
	}
	if (colon > 0)
		fwrite(fd->data, 1, strnlen_u8(fd->data, fd->len), f);
	start = (size_t)colon + 2;
	if (start < fd->len)
		put_hex(f, fd->data + start, fd->len - start);
}

static void put_uint(FILE *f, const struct ima_field *fd, bool be)
{
	if (fd->len == 1 || fd->len == 2 || fd->len == 4 || fd->len == 8)
		fprintf(f, "%llu", (unsigned long long)getn(fd->data, fd->len, be));
}

/* Fields of an unknown template: show digests and text the way known fields would be. */
static void put_unknown(FILE *f, const struct ima_field *fd)
{
	size_t z = strnlen_u8(fd->data, fd->len);
	long colon = algo_colon(fd->data, fd->len);
	bool text = z > 0 && (z == fd->len || z + 1 == fd->len);

	for (size_t i = 0; text && i < z; i++)
		text = fd->data[i] >= ' ' && fd->data[i] <= '~';
	if (colon > 0 && z < fd->len && (size_t)colon + 1 == z) {
		put_digest_algo(f, fd);
	} else if (text) {
		fwrite(fd->data, 1, z, f);
	} else {
		put_hex(f, fd->data, fd->len);
	}
}

static void put_field(FILE *f, const struct ima_field *fd, bool be)
{
	switch (fd->fmt) {
	case IMA_FMT_DIGEST_ALGO:
	case IMA_FMT_DIGEST_TYPE_ALGO:
		put_digest_algo(f, fd);
		break;
	case IMA_FMT_DIGEST:
	case IMA_FMT_HEX:
		put_hex(f, fd->data, fd->len);
		break;
	case IMA_FMT_STRING:
		fwrite(fd->data, 1, strnlen_u8(fd->data, fd->len), f);
		break;
	case IMA_FMT_UINT:
		put_uint(f, fd, be);
		break;
	case IMA_FMT_UNKNOWN:
		put_unknown(f, fd);
		break;
	}
}

int ima_render_entry(FILE *f, const struct ima_list *l, const struct ima_entry *e)
{
	fprintf(f, "%2d ", (int)e->pcr);
	put_hex(f, e->template_digest, l->digest_len);
	fprintf(f, " %s", e->template_name);
	for (unsigned i = 0; i < e->nfields; i++) {
		fputc(' ', f);
		if (e->fields[i].len)
			put_field(f, &e->fields[i], l->big_endian);
	}
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}

int ima_render_ascii(FILE *f, const struct ima_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		if (ima_render_entry(f, l, &l->entries[i]))
			return -1;
	return 0;
}

/* ---- replay ---- */

struct bank {
	const char *name;
	EVP_MD *md;
	EVP_MD_CTX *ctx;
	size_t size;
};

static int bank_open(struct bank *b, const char *name, char *err, size_t errlen)
{
	const char *evp = evp_name(name);

	memset(b, 0, sizeof(*b));
	b->name = name;
	b->size = ima_digest_size(name);
	if (!evp) {
		seterr(err, errlen, "ima: unknown PCR bank %s", name ? name : "(null)");
		return -1;
	}
	b->md = EVP_MD_fetch(NULL, evp, NULL);
	b->ctx = EVP_MD_CTX_new();
	if (!b->md || !b->ctx) {
		seterr(err, errlen, "ima: %s is not available from OpenSSL", evp);
		return -1;
	}
	return 0;
}

static void bank_close(struct bank *b)
{
	EVP_MD_CTX_free(b->ctx);
	EVP_MD_free(b->md);
}

/* ima_calc_field_array_hash: for every template but "ima" the hashed bytes are the template
 * data as listed (length-prefixed fields, lengths in the list's order); "ima" hashes
 * d(20) || name zero-padded to IMA_EVENT_NAME_LEN_MAX + 1 bytes, without lengths. */
static int template_hash(struct bank *b, const struct ima_entry *e, uint8_t *out)
{
	uint8_t legacy[IMA_LEGACY_DIGEST + IMA_NAME_MAX + 1] = {0};
	const uint8_t *p = e->data;
	size_t n = e->data_len;

	if (e->legacy) {
		memcpy(legacy, e->fields[0].data, IMA_LEGACY_DIGEST);
		memcpy(legacy + IMA_LEGACY_DIGEST, e->fields[1].data, e->fields[1].len);
		p = legacy;
		n = sizeof(legacy);
	}
	if (!EVP_DigestInit_ex(b->ctx, b->md, NULL) || !EVP_DigestUpdate(b->ctx, p, n) ||
	    !EVP_DigestFinal_ex(b->ctx, out, NULL))
		return -1;
	return 0;
}

static int extend(struct bank *b, uint8_t *pcr, const uint8_t *d)
{
	if (!EVP_DigestInit_ex(b->ctx, b->md, NULL) || !EVP_DigestUpdate(b->ctx, pcr, b->size) ||
	    !EVP_DigestUpdate(b->ctx, d, b->size) || !EVP_DigestFinal_ex(b->ctx, pcr, NULL))
		return -1;
	return 0;
}

/* What entry e extends into bank b (TPM2_PCR_Extend's digest). */
static int event_digest(const struct ima_list *l, struct bank *b, unsigned flags,
			const struct ima_entry *e, uint8_t *d)
{
	if (!strcmp(b->name, l->digest_algo)) {
		memset(d, 0xff, b->size);
		if (!e->violation)
			memcpy(d, e->template_digest, b->size);
		return 0;
	}
	if (flags & IMA_REPLAY_PADDED_SHA1) {
		/* Before 5.10 every bank got the 20-byte SHA-1 value, 0xff for a violation. */
		if (strcmp(l->digest_algo, "sha1"))
			return -1;
		memset(d, 0, b->size);
		if (e->violation)
			memset(d, 0xff, 20);
		else
			memcpy(d, e->template_digest, 20);
		return 0;
	}
	if (e->violation) {
		memset(d, 0xff, b->size);
		return 0;
	}
	return template_hash(b, e, d);
}

/* Replays up to n entries; step sees the bank's value before the first and after each one. */
static int replay(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags,
		  size_t n, uint8_t *out, ima_step_fn step, void *arg, char *err, size_t errlen)
{
	uint8_t v[IMA_MAX_DIGEST] = {0}, d[IMA_MAX_DIGEST];
	struct bank b;
	int rc = -1;

	if (bank_open(&b, bank, err, errlen))
		goto cleanup;
	if (step)
		step(arg, 0, v);
	for (size_t i = 0; i < l->count && i < n; i++) {
		const struct ima_entry *e = &l->entries[i];

		if (e->pcr == pcr) {
			if (event_digest(l, &b, flags, e, d) || extend(&b, v, d)) {
				seterr(err, errlen,
				       "ima: record %zu: cannot compute its %s digest%s", i + 1,
				       bank,
				       flags & IMA_REPLAY_PADDED_SHA1
					   ? " (padded SHA-1 needs a SHA-1 list)"
					   : "");
				goto cleanup;
			}
		}
		if (step)
			step(arg, i + 1, v);
	}
	if (out)
		memcpy(out, v, b.size);
	rc = 0;
cleanup:
	bank_close(&b);
	return rc;
}

int ima_replay(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags, size_t n,
	       uint8_t *out, size_t *outlen, char *err, size_t errlen)
{
	if (replay(l, pcr, bank, flags, n, out, NULL, NULL, err, errlen))
		return -1;
	if (outlen)
		*outlen = ima_digest_size(bank);
	return 0;
}

int ima_replay_steps(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags,
		     ima_step_fn step, void *arg, char *err, size_t errlen)
{
	return replay(l, pcr, bank, flags, SIZE_MAX, NULL, step, arg, err, errlen);
}

struct match {
	const uint8_t *want;
	size_t size, n;
};

static void match_step(void *arg, size_t n, const uint8_t *value)
{
	struct match *m = arg;

	if (!memcmp(value, m->want, m->size))
		m->n = n;
}

int ima_replay_match(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags,
		     const uint8_t *want, size_t wantlen, size_t *n, char *err, size_t errlen)
{
	struct match m = {want, wantlen, SIZE_MAX};

	if (wantlen != ima_digest_size(bank)) {
		seterr(err, errlen, "ima: a %s PCR value is %zu bytes, not %zu",
		       bank ? bank : "(null)", ima_digest_size(bank), wantlen);
		return -1;
	}
	if (replay(l, pcr, bank, flags, SIZE_MAX, NULL, match_step, &m, err, errlen))
		return -1;
	if (m.n == SIZE_MAX) {
		seterr(err, errlen,
		       "ima: no prefix of the %zu records replays to the %s PCR %u value", l->count,
		       bank, pcr);
		return 1;
	}
	*n = m.n;
	return 0;
}

int ima_check_digests(const struct ima_list *l, char *err, size_t errlen)
{
	uint8_t d[IMA_MAX_DIGEST];
	struct bank b;
	int rc = -1;

	if (bank_open(&b, l->digest_algo, err, errlen))
		goto cleanup;
	for (size_t i = 0; i < l->count; i++) {
		const struct ima_entry *e = &l->entries[i];

		if (e->violation)
			continue;
		if (template_hash(&b, e, d) || memcmp(d, e->template_digest, b.size)) {
			seterr(err, errlen,
			       "ima: record %zu at offset %zu: template digest does not match its "
			       "data",
			       i + 1, e->offset);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	bank_close(&b);
	return rc;
}

/* The kernel records a space in a name as '_' (ima_write_template_field_data). */
static bool name_eq(const char *recorded, const char *path)
{
	for (; *recorded && *path; recorded++, path++)
		if (*recorded != (*path == ' ' ? '_' : *path))
			return false;
	return !*recorded && !*path;
}

const struct ima_entry *ima_lookup(const struct ima_list *l, const char *path)
{
	for (size_t i = l->count; i-- > 0;) {
		const struct ima_entry *e = &l->entries[i];

		if (e->file_name && name_eq(e->file_name, path))
			return e;
	}
	return NULL;
}
