// SPDX-License-Identifier: BSD-2-Clause
/*
 * bootlog.c - the firmware's TCG PC Client event log: parse, replay, render, read facts.
 * See bootlog.h for the format and the bounds; docs/bundle.md for boot.bin.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/bootlog.h"
#include "lib/cel.h"

#define SPEC_ID_SIG "Spec ID Event03"
#define LOCALITY_SIG "StartupLocality"

static void seterr(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const struct {
	uint32_t type;
	const char *name;
} type_names[] = {
#define T(x) {x, #x}
	T(EV_PREBOOT_CERT), T(EV_POST_CODE), {0x2, "EV_UNUSED"}, T(EV_NO_ACTION), T(EV_SEPARATOR),
	T(EV_ACTION), T(EV_EVENT_TAG), T(EV_S_CRTM_CONTENTS), T(EV_S_CRTM_VERSION),
	T(EV_CPU_MICROCODE), T(EV_PLATFORM_CONFIG_FLAGS), T(EV_TABLE_OF_DEVICES), T(EV_COMPACT_HASH),
	T(EV_IPL), T(EV_IPL_PARTITION_DATA), T(EV_NONHOST_CODE), T(EV_NONHOST_CONFIG),
	T(EV_NONHOST_INFO), T(EV_OMIT_BOOT_DEVICE_EVENTS), T(EV_EFI_VARIABLE_DRIVER_CONFIG),
	T(EV_EFI_VARIABLE_BOOT), T(EV_EFI_BOOT_SERVICES_APPLICATION), T(EV_EFI_BOOT_SERVICES_DRIVER),
	T(EV_EFI_RUNTIME_SERVICES_DRIVER), T(EV_EFI_GPT_EVENT), T(EV_EFI_ACTION),
	T(EV_EFI_PLATFORM_FIRMWARE_BLOB), T(EV_EFI_HANDOFF_TABLES), T(EV_EFI_PLATFORM_FIRMWARE_BLOB2),
	T(EV_EFI_HANDOFF_TABLES2), T(EV_EFI_VARIABLE_BOOT2), T(EV_EFI_HCRTM_EVENT),
	T(EV_EFI_VARIABLE_AUTHORITY), T(EV_EFI_SPDM_FIRMWARE_BLOB), T(EV_EFI_SPDM_FIRMWARE_CONFIG),
#undef T
};

const char *bootlog_type_name(uint32_t type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

int bootlog_bank(const struct bootlog *l, uint16_t alg)
{
	for (unsigned i = 0; i < l->nbanks; i++)
		if (l->banks[i].alg == alg)
			return (int)i;
	return -1;
}

/* TCG_EfiSpecIDEvent (PFP 10.4.5.1): the banks and their digest sizes. */
static int parse_spec_id(struct bootlog *l, const uint8_t *p, uint32_t n, char *err, size_t errlen)
{
	uint32_t nalg;
	size_t off;

	if (n < 29 || memcmp(p, SPEC_ID_SIG, sizeof(SPEC_ID_SIG))) {
		seterr(err, errlen, "the first event is not a \"" SPEC_ID_SIG "\" event: not a "
		       "crypto-agile TCG PC Client log (a SHA1-only TPM 1.2 log is not supported)");
		return -1;
	}
	l->platform_class = le32(p + 16);
	l->spec_minor = p[20];
	l->spec_major = p[21];
	l->spec_errata = p[22];
	l->uintn_size = p[23];
	nalg = le32(p + 24);
	if (nalg == 0 || nalg > BOOTLOG_MAX_BANKS) {
		seterr(err, errlen, "Spec ID event: %" PRIu32 " algorithms (1 to %d accepted)", nalg,
		       BOOTLOG_MAX_BANKS);
		return -1;
	}
	off = 28;
	if (n < off + 4 * (size_t)nalg + 1) {
		seterr(err, errlen, "Spec ID event: %" PRIu32 " bytes, too short for %" PRIu32
		       " algorithms", n, nalg);
		return -1;
	}
	for (uint32_t i = 0; i < nalg; i++, off += 4) {
		struct bootlog_bank b = {le16(p + off), le16(p + off + 2)};

		if (b.size == 0 || b.size > BOOTLOG_MAX_DIGEST) {
			seterr(err, errlen, "Spec ID event: algorithm 0x%04x has digest size %u", b.alg,
			       b.size);
			return -1;
		}
		if (bootlog_bank(l, b.alg) >= 0) {
			seterr(err, errlen, "Spec ID event: algorithm 0x%04x listed twice", b.alg);
			return -1;
		}
		if (cel_alg_size(b.alg) && cel_alg_size(b.alg) != b.size) {
			seterr(err, errlen, "Spec ID event: algorithm %s with digest size %u",
			       cel_alg_name(b.alg), b.size);
			return -1;
		}
		l->banks[l->nbanks++] = b;
	}
	l->vendor_info_size = p[off];
	if (off + 1 + l->vendor_info_size != n) {
		seterr(err, errlen, "Spec ID event: %" PRIu32 " bytes, its fields say %zu", n,
		       off + 1 + l->vendor_info_size);
		return -1;
	}
	return 0;
}

static int push(struct bootlog *l, size_t *cap, const struct bootlog_event *e, char *err,
		size_t errlen)
{
	struct bootlog_event *nv;

	if (l->n == BOOTLOG_MAX_EVENTS) {
		seterr(err, errlen, "more than %d events", BOOTLOG_MAX_EVENTS);
		return -1;
	}
	if (l->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		nv = realloc(l->events, *cap * sizeof(*nv));
		if (!nv) {
			seterr(err, errlen, "%s", strerror(ENOMEM));
			return -1;
		}
		l->events = nv;
	}
	l->events[l->n++] = *e;
	return 0;
}

/* The first event, in the SHA1 format (TCG_PCClientPCREvent). */
static int parse_first(struct bootlog *l, const uint8_t *buf, size_t len, size_t *pos, char *err,
		       size_t errlen)
{
	static const uint8_t zero[20];
	struct bootlog_event e = {0};

	if (len < 32) {
		seterr(err, errlen, "%zu bytes: too short for a TCG event log", len);
		return -1;
	}
	e.pcr = le32(buf);
	e.type = le32(buf + 4);
	e.size = le32(buf + 28);
	if (e.pcr != 0 || e.type != EV_NO_ACTION || memcmp(buf + 8, zero, 20)) {
		seterr(err, errlen, "the first event is not the EV_NO_ACTION Spec ID event in PCR 0");
		return -1;
	}
	if (e.size > len - 32 || e.size > BOOTLOG_MAX_EVENT) {
		seterr(err, errlen, "the first event's size %" PRIu32 " runs past the log", e.size);
		return -1;
	}
	e.data = buf + 32;
	if (parse_spec_id(l, e.data, e.size, err, errlen))
		return -1;
	*pos = 32 + e.size;
	return 0;
}

/* One TCG_PCR_EVENT2 at *pos: every bank's digest, exactly once each. */
static int parse_event2(struct bootlog *l, const uint8_t *buf, size_t len, size_t *pos,
			struct bootlog_event *e, char *err, size_t errlen)
{
	size_t off = *pos, rem = len - off;
	uint32_t count, seen = 0;

	e->offset = off;
	if (rem < 12) {
		seterr(err, errlen, "event at offset %zu: %zu bytes left, too short for a header", off,
		       rem);
		return -1;
	}
	e->pcr = le32(buf + off);
	e->type = le32(buf + off + 4);
	count = le32(buf + off + 8);
	off += 12;
	if (e->pcr >= BOOTLOG_PCRS && e->type != EV_NO_ACTION) {
		seterr(err, errlen, "event at offset %zu: PCR %" PRIu32 " (0 to 23)", e->offset, e->pcr);
		return -1;
	}
	if (count != l->nbanks) {
		seterr(err, errlen, "event at offset %zu: %" PRIu32 " digests, the log has %u banks",
		       e->offset, count, l->nbanks);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		int b;

		if (len - off < 2) {
			seterr(err, errlen, "event at offset %zu: truncated digest", e->offset);
			return -1;
		}
		e->alg[i] = le16(buf + off);
		b = bootlog_bank(l, e->alg[i]);
		if (b < 0 || seen & 1u << b) {
			seterr(err, errlen, "event at offset %zu: digest of algorithm 0x%04x %s",
			       e->offset, e->alg[i], b < 0 ? "not in the Spec ID event" : "twice");
			return -1;
		}
		seen |= 1u << b;
		off += 2;
		if (len - off < l->banks[b].size) {
			seterr(err, errlen, "event at offset %zu: truncated digest", e->offset);
			return -1;
		}
		e->digest[i] = buf + off;
		off += l->banks[b].size;
	}
	e->ndigests = count;
	if (len - off < 4) {
		seterr(err, errlen, "event at offset %zu: truncated event size", e->offset);
		return -1;
	}
	e->size = le32(buf + off);
	off += 4;
	if (e->size > len - off || e->size > BOOTLOG_MAX_EVENT) {
		seterr(err, errlen, "event at offset %zu: event size %" PRIu32 " runs past the log",
		       e->offset, e->size);
		return -1;
	}
	e->data = buf + off;
	*pos = off + e->size;
	return 0;
}

int bootlog_parse(const uint8_t *buf, size_t len, struct bootlog *l, char *err, size_t errlen)
{
	struct bootlog_event first = {0}, e;
	size_t pos = 0, cap = 0;

	memset(l, 0, sizeof(*l));
	l->startup_locality = -1;
	if (len > BOOTLOG_MAX_LOG) {
		seterr(err, errlen, "%zu bytes: larger than the %u accepted", len, BOOTLOG_MAX_LOG);
		return -1;
	}
	if (parse_first(l, buf, len, &pos, err, errlen))
		goto fail;
	first.pcr = 0;
	first.type = EV_NO_ACTION;
	first.data = buf + 32;
	first.size = (uint32_t)(pos - 32);
	if (push(l, &cap, &first, err, errlen))
		goto fail;
	/*
	 * Every byte belongs to an event: the kernel's binary_bios_measurements ends with the last
	 * one. (A raw firmware log area padded with zeros is not what a bundle carries.)
	 */
	while (pos < len) {
		memset(&e, 0, sizeof(e));
		e.num = (uint32_t)l->n;
		if (parse_event2(l, buf, len, &pos, &e, err, errlen))
			goto fail;
		if (e.type == EV_NO_ACTION && e.size == 17 && !memcmp(e.data, LOCALITY_SIG, 16)) {
			if (l->n != 1 || e.pcr != 0) {
				seterr(err, errlen, "event at offset %zu: StartupLocality after other "
				       "events or not in PCR 0", e.offset);
				goto fail;
			}
			l->startup_locality = e.data[16];
		}
		if (push(l, &cap, &e, err, errlen))
			goto fail;
	}
	return 0;
fail:
	bootlog_free(l);
	return -1;
}

void bootlog_free(struct bootlog *l)
{
	if (!l)
		return;
	free(l->events);
	l->events = NULL;
	l->n = 0;
}

static const uint8_t *event_digest(const struct bootlog_event *e, uint16_t alg)
{
	for (unsigned i = 0; i < e->ndigests; i++)
		if (e->alg[i] == alg)
			return e->digest[i];
	return NULL;
}

int bootlog_replay(const struct bootlog *l, uint16_t alg,
		   uint8_t pcrs[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST], uint32_t *used, char *err,
		   size_t errlen)
{
	int b = bootlog_bank(l, alg);
	const EVP_MD *md = cel_alg_md(alg);
	EVP_MD_CTX *ctx;
	size_t n;
	int ret = -1;

	if (b < 0 || !md) {
		seterr(err, errlen, "the log has no %s bank%s", cel_alg_name(alg) ? cel_alg_name(alg) : "such",
		       b >= 0 ? " that OpenSSL can compute" : "");
		return -1;
	}
	n = l->banks[b].size;
	memset(pcrs, 0, BOOTLOG_PCRS * BOOTLOG_MAX_DIGEST);
	if (l->startup_locality >= 0)
		pcrs[0][n - 1] = (uint8_t)l->startup_locality;
	*used = 0;
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		seterr(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	for (size_t i = 1; i < l->n; i++) {
		const struct bootlog_event *e = &l->events[i];
		const uint8_t *d = event_digest(e, alg);

		if (e->type == EV_NO_ACTION)
			continue;
		if (!EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, pcrs[e->pcr], n) ||
		    !EVP_DigestUpdate(ctx, d, n) || !EVP_DigestFinal_ex(ctx, pcrs[e->pcr], NULL)) {
			seterr(err, errlen, "%s: digest failed", cel_alg_name(alg));
			goto cleanup;
		}
		*used |= 1u << e->pcr;
	}
	ret = 0;
cleanup:
	EVP_MD_CTX_free(ctx);
	return ret;
}

/* ---------- decoding event data ---------- */

static void guid_text(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le32(g),
		 le16(g + 4), le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* UTF-16LE to UTF-8 for names; stops at out's size. Surrogates become '?'. */
static void utf16_text(const uint8_t *p, size_t nchars, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < nchars && o + 4 < outlen; i++) {
		unsigned c = le16(p + 2 * i);

		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xc0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c >= 0xd800 && c < 0xe000) {
			out[o++] = '?';
		} else {
			out[o++] = (char)(0xe0 | c >> 12);
			out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = '\0';
}

int bootlog_var(const struct bootlog_event *e, struct bootlog_var *v)
{
	uint64_t nlen, dlen;

	if (e->size < 32)
		return -1;
	memcpy(v->guid, e->data, 16);
	nlen = le64(e->data + 16);
	dlen = le64(e->data + 24);
	if (nlen > (e->size - 32) / 2 || dlen > e->size - 32 - 2 * nlen)
		return -1;
	utf16_text(e->data + 32, (size_t)nlen, v->name, sizeof(v->name));
	v->data = e->data + 32 + 2 * nlen;
	v->data_len = dlen;
	return 0;
}

static bool is_var_event(uint32_t type)
{
	return type == EV_EFI_VARIABLE_DRIVER_CONFIG || type == EV_EFI_VARIABLE_BOOT ||
	       type == EV_EFI_VARIABLE_BOOT2 || type == EV_EFI_VARIABLE_AUTHORITY;
}

static bool is_text_event(uint32_t type)
{
	return type == EV_EFI_ACTION || type == EV_ACTION || type == EV_EFI_HCRTM_EVENT;
}

static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return n > 0;
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static void render_event_data(FILE *f, const struct bootlog_event *e)
{
	struct bootlog_var v;
	char g[37];

	if (is_var_event(e->type) && !bootlog_var(e, &v)) {
		guid_text(v.guid, g);
		fprintf(f, "  Event:\n    VariableName: %s\n    UnicodeNameLength: %" PRIu64
			"\n    VariableDataLength: %" PRIu64 "\n    UnicodeName: %s\n", g,
			le64(e->data + 16), v.data_len, v.name);
		if (v.data_len) {
			fputs("    VariableData: \"", f);
			put_hex(f, v.data, (size_t)v.data_len);
			fputs("\"\n", f);
		}
	} else if ((e->type == EV_EFI_PLATFORM_FIRMWARE_BLOB || e->type == EV_POST_CODE) &&
		   e->size == 16) {
		fprintf(f, "  Event:\n    BlobBase: 0x%" PRIx64 "\n    BlobLength: 0x%" PRIx64 "\n",
			le64(e->data), le64(e->data + 8));
	} else if ((e->type == EV_EFI_BOOT_SERVICES_APPLICATION ||
		    e->type == EV_EFI_BOOT_SERVICES_DRIVER ||
		    e->type == EV_EFI_RUNTIME_SERVICES_DRIVER) && e->size >= 32 &&
		   le64(e->data + 24) <= e->size - 32) {
		fprintf(f, "  Event:\n    ImageLocationInMemory: 0x%" PRIx64
			"\n    ImageLengthInMemory: %" PRIu64 "\n    ImageLinkTimeAddress: 0x%" PRIx64
			"\n    LengthOfDevicePath: %" PRIu64 "\n    DevicePath: '",
			le64(e->data), le64(e->data + 8), le64(e->data + 16), le64(e->data + 24));
		put_hex(f, e->data + 32, (size_t)le64(e->data + 24));
		fputs("'\n", f);
	} else if (is_text_event(e->type) && printable(e->data, e->size)) {
		fprintf(f, "  Event: |-\n    %.*s\n", (int)e->size, (const char *)e->data);
	} else {
		fputs("  Event: \"", f);
		put_hex(f, e->data, e->size);
		fputs("\"\n", f);
	}
}

static void render_spec_id(FILE *f, const struct bootlog *l)
{
	fprintf(f, "- EventNum: 0\n  PCRIndex: 0\n  EventType: EV_NO_ACTION\n"
		"  Digest: \"0000000000000000000000000000000000000000\"\n  EventSize: %" PRIu32 "\n"
		"  SpecID:\n  - Signature: " SPEC_ID_SIG "\n    platformClass: %" PRIu32 "\n"
		"    specVersionMinor: %u\n    specVersionMajor: %u\n    specErrata: %u\n"
		"    uintnSize: %u\n    numberOfAlgorithms: %u\n    Algorithms:\n",
		l->events[0].size, l->platform_class, l->spec_minor, l->spec_major, l->spec_errata,
		l->uintn_size, l->nbanks);
	for (unsigned i = 0; i < l->nbanks; i++)
		fprintf(f, "    - Algorithm[%u]:\n      algorithmId: %s\n      digestSize: %u\n", i,
			cel_alg_name(l->banks[i].alg) ? cel_alg_name(l->banks[i].alg) : "unknown",
			l->banks[i].size);
	fprintf(f, "    vendorInfoSize: %u\n", l->vendor_info_size);
}

static void render_pcrs(FILE *f, const struct bootlog *l)
{
	uint8_t pcrs[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST];
	uint32_t used;

	fputs("pcrs:\n", f);
	for (unsigned b = 0; b < l->nbanks; b++) {
		if (bootlog_replay(l, l->banks[b].alg, pcrs, &used, NULL, 0))
			continue;
		fprintf(f, "  %s:\n", cel_alg_name(l->banks[b].alg));
		for (unsigned p = 0; p < BOOTLOG_PCRS; p++) {
			if (!(used & 1u << p))
				continue;
			fprintf(f, "    %-2u : 0x", p);
			put_hex(f, pcrs[p], l->banks[b].size);
			fputc('\n', f);
		}
	}
}

int bootlog_render_yaml(FILE *f, const struct bootlog *l)
{
	fputs("---\nversion: 1\nevents:\n", f);
	render_spec_id(f, l);
	for (size_t i = 1; i < l->n; i++) {
		const struct bootlog_event *e = &l->events[i];
		const char *tn = bootlog_type_name(e->type);

		fprintf(f, "- EventNum: %" PRIu32 "\n  PCRIndex: %" PRIu32 "\n", e->num, e->pcr);
		if (tn)
			fprintf(f, "  EventType: %s\n", tn);
		else
			fprintf(f, "  EventType: 0x%" PRIx32 "\n", e->type);
		fprintf(f, "  DigestCount: %u\n  Digests:\n", e->ndigests);
		for (unsigned d = 0; d < e->ndigests; d++) {
			int b = bootlog_bank(l, e->alg[d]);

			fprintf(f, "  - AlgorithmId: %s\n    Digest: \"",
				cel_alg_name(e->alg[d]) ? cel_alg_name(e->alg[d]) : "unknown");
			put_hex(f, e->digest[d], l->banks[b].size);
			fputs("\"\n", f);
		}
		fprintf(f, "  EventSize: %" PRIu32 "\n", e->size);
		render_event_data(f, e);
	}
	render_pcrs(f, l);
	return ferror(f) ? -1 : 0;
}

/* ---------- facts ---------- */

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL);
}

/* EFI_SIGNATURE_LIST entries (UEFI 2.x 32.4.1); 0 when the lists are malformed. */
static unsigned sig_entries(const uint8_t *p, uint64_t n)
{
	uint64_t off = 0;
	unsigned count = 0;

	while (n - off >= 28) {
		uint32_t list = le32(p + off + 16), hdr = le32(p + off + 20), size = le32(p + off + 24);

		if (list < 28 || list > n - off || size < 16 || hdr > list - 28 ||
		    (list - 28 - hdr) % size)
			return 0;
		count += (list - 28 - hdr) / size;
		off += list;
	}
	return off == n ? count : 0;
}

static void fact_var(struct bootlog_facts *f, const struct bootlog_event *e)
{
	struct bootlog_var v;
	struct bootlog_sbvar *sv = NULL;

	if (e->pcr != 7 || bootlog_var(e, &v))
		return;
	if (!strcmp(v.name, "SecureBoot")) {
		f->secure_boot = v.data_len == 1 ? v.data[0] == 1 : 0;
		return;
	}
	if (!strcmp(v.name, "PK"))
		sv = &f->pk;
	else if (!strcmp(v.name, "KEK"))
		sv = &f->kek;
	else if (!strcmp(v.name, "db"))
		sv = &f->db;
	else if (!strcmp(v.name, "dbx"))
		sv = &f->dbx;
	if (!sv)
		return;
	sv->present = true;
	sv->len = v.data_len;
	sha256(v.data, (size_t)v.data_len, sv->sha256);
	sv->entries = sig_entries(v.data, v.data_len);
}

/* PCR 8/9 (GRUB's EV_IPL "kernel_cmdline: ..."), PCR 12 (systemd-stub / the 6.x EFI stub). */
static int fact_cmdline(struct bootlog_facts *f, const struct bootlog_event *e)
{
	static const char grub[] = "kernel_cmdline: ";
	const uint8_t *p = e->data;
	size_t n = e->size;
	char *s;

	if (e->type != EV_IPL && e->type != EV_EVENT_TAG)
		return 0;
	if (e->type == EV_IPL && n >= sizeof(grub) - 1 && !memcmp(p, grub, sizeof(grub) - 1)) {
		p += sizeof(grub) - 1;
		n -= sizeof(grub) - 1;
	} else if (!(e->type == EV_IPL && e->pcr == 12)) {
		return 0;
	}
	while (n && p[n - 1] == '\0')
		n--;
	s = malloc(n + 1);
	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		s[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	s[n] = '\0';
	free(f->owned);
	f->owned = s;
	f->cmdline = s;
	return 0;
}

/* The Linux EFI stub's initrd event: EV_EVENT_TAG {id 0x8F3B22EC, "Linux initrd"} in PCR 9. */
static void fact_initrd(struct bootlog_facts *f, const struct bootlog_event *e)
{
	static const char tag[] = "Linux initrd";
	const uint8_t *d = event_digest(e, 0x000b);

	if (e->type != EV_EVENT_TAG || e->pcr != 9 || e->size < 8 + sizeof(tag) - 1 || !d)
		return;
	if (le32(e->data) != 0x8F3B22EC || memcmp(e->data + 8, tag, sizeof(tag) - 1))
		return;
	f->initrd = true;
	memcpy(f->initrd_sha256, d, 32);
}

int bootlog_facts(const struct bootlog *l, struct bootlog_facts *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->secure_boot = -1;
	if (bootlog_bank(l, 0x000b) < 0) {
		seterr(err, errlen, "the log has no sha256 bank");
		return -1;
	}
	for (size_t i = 1; i < l->n; i++) {
		const struct bootlog_event *e = &l->events[i];

		if (is_var_event(e->type))
			fact_var(f, e);
		if (e->type == EV_EFI_VARIABLE_AUTHORITY)
			f->authorities++;
		if (e->type == EV_EFI_BOOT_SERVICES_APPLICATION && e->pcr == 4) {
			if (f->apps < 8)
				memcpy(f->app_sha256[f->apps], event_digest(e, 0x000b), 32);
			f->apps++;
		}
		if (e->type == EV_EFI_ACTION) {
			f->actions++;
			if (e->size == 29 && !memcmp(e->data, "Exit Boot Services Invocation", 29))
				f->exit_boot_services = true;
		}
		if (e->type == EV_SEPARATOR && e->pcr < 32) {
			f->separators |= 1u << e->pcr;
			if (e->size == 4 && le32(e->data) == 1)
				f->separator_errors |= 1u << e->pcr;
		}
		fact_initrd(f, e);
		if (fact_cmdline(f, e)) {
			seterr(err, errlen, "%s", strerror(ENOMEM));
			bootlog_facts_free(f);
			return -1;
		}
	}
	return 0;
}

void bootlog_facts_free(struct bootlog_facts *f)
{
	if (!f)
		return;
	free(f->owned);
	f->owned = NULL;
	f->cmdline = NULL;
}

static void put_sbvar(FILE *out, const char *name, const struct bootlog_sbvar *v)
{
	if (!v->present) {
		fprintf(out, "  %-4s not measured\n", name);
		return;
	}
	fprintf(out, "  %-4s sha256 ", name);
	put_hex(out, v->sha256, 32);
	fprintf(out, " (%" PRIu64 " bytes, %u entr%s)\n", v->len, v->entries,
		v->entries == 1 ? "y" : "ies");
}

int bootlog_facts_print(FILE *out, const struct bootlog_facts *f)
{
	fprintf(out, "secure boot   %s\n", f->secure_boot == 1	 ? "on"
					      : f->secure_boot == 0 ? "off"
								    : "not measured");
	fputs("keys (PCR 7)\n", out);
	put_sbvar(out, "PK", &f->pk);
	put_sbvar(out, "KEK", &f->kek);
	put_sbvar(out, "db", &f->db);
	put_sbvar(out, "dbx", &f->dbx);
	fprintf(out, "verified by db %u image%s (EV_EFI_VARIABLE_AUTHORITY)\n", f->authorities,
		f->authorities == 1 ? "" : "s");
	fprintf(out, "boot apps     %u in PCR 4 (boot loader, kernel)\n", f->apps);
	for (unsigned i = 0; i < f->apps && i < 8; i++) {
		fputs("  sha256 ", out);
		put_hex(out, f->app_sha256[i], 32);
		fputs(" (PE image digest)\n", out);
	}
	fputs("cmdline       ", out);
	fputs(f->cmdline ? f->cmdline : "not measured (PCR 8/12)", out);
	fputs("\ninitrd        ", out);
	if (f->initrd) {
		fputs("sha256 ", out);
		put_hex(out, f->initrd_sha256, 32);
		fputs(" (PCR 9, Linux EFI stub)\n", out);
	} else {
		fputs("not measured (PCR 9)\n", out);
	}
	fprintf(out, "EFI actions   %u%s\n", f->actions,
		f->exit_boot_services ? ", ExitBootServices reached" : ", no ExitBootServices");
	fputs("separators    PCR", out);
	for (unsigned p = 0; p < 8; p++)
		if (f->separators & 1u << p)
			fprintf(out, " %u%s", p, f->separator_errors & 1u << p ? "(error)" : "");
	fputc('\n', out);
	return ferror(out) ? -1 : 0;
}
