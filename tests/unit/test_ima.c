// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_ima.c - IMA list parse/render/replay/lookup against lists captured from a real 6.1
 * kernel (tests/fixtures/ima, see its README), plus synthetic records for what the captures
 * lack (violations, signatures, ima-buf, d-ngv2, unknown templates, big-endian lists).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/hex.h"
#include "lib/ima.h"
#include "testutil.h"

static const char *const fixtures[] = {
    "ima-ng-sha256", "ima-ng-sha1",   "ima-sig-sha256",
    "ima-sha1",	     "custom-sha256", "ima-ng-canonical",
};

static uint8_t *slurp(const char *path, size_t *len)
{
	uint8_t *b = tu_read_file(path, len);

	if (!b)
		fail_msg("cannot open %s (run from the repository root or set AICERT_SRC)", path);
	return b;
}

static void load(const char *dir, const char *file, struct ima_list *l)
{
	char err[256] = "";

	if (ima_read_file(tu_fixture("ima", dir, file), NULL, l, err, sizeof(err)))
		fail_msg("%s/%s: %s", dir, file, err);
}

static char *render(const struct ima_list *l, size_t *len)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, len);

	assert_non_null(f);
	assert_int_equal(ima_render_ascii(f, l), 0);
	fclose(f);
	return s;
}

static void pcr_of(const char *dir, const char *bank, uint8_t *out, size_t n)
{
	char file[32], *hex;
	size_t len;

	snprintf(file, sizeof(file), "pcr10.%s", bank);
	hex = (char *)slurp(tu_fixture("ima", dir, file), &len);
	assert_true(len >= 2 * n);
	hex[2 * n] = '\0'; /* drop the newline */
	assert_int_equal(hex_decode(hex, out, n), 0);
	free(hex);
}

static void digest(const char *algo, const void *p, size_t n, uint8_t *out)
{
	assert_int_equal(EVP_Digest(p, n, out, NULL, EVP_get_digestbyname(algo), NULL), 1);
}

/* The kernel's own ascii_runtime_measurements, byte for byte, for every captured list. */
static void test_golden_render(void **state)
{
	static const char *const pairs[][2] = {
	    {"binary_runtime_measurements", "ascii_runtime_measurements"},
	    {"binary_after", "ascii_after"},
	};

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		for (size_t j = 0; j < 2; j++) {
			struct ima_list l;
			size_t alen, rlen;
			uint8_t *ascii;
			char *out;

			load(fixtures[i], pairs[j][0], &l);
			ascii = slurp(tu_fixture("ima", fixtures[i], pairs[j][1]), &alen);
			out = render(&l, &rlen);
			if (rlen != alen || memcmp(out, ascii, alen))
				fail_msg("%s/%s renders differently from %s", fixtures[i],
					 pairs[j][0], pairs[j][1]);
			assert_true(l.count > 10);
			free(out);
			free(ascii);
			ima_list_free(&l);
		}
	}
}

/* A list that went on after the quote (here: records appended) still matches at the same n. */
static void assert_lag(const char *dir, const struct ima_list *after, size_t n)
{
	size_t alen, flen, got;
	uint8_t *a = slurp(tu_fixture("ima", dir, "binary_after"), &alen), want[32];
	uint8_t *f = slurp(tu_fixture("ima", dir, "binary_runtime_measurements"), &flen);
	struct ima_list l;

	a = realloc(a, alen + flen);
	assert_non_null(a);
	memcpy(a + alen, f, flen);
	assert_int_equal(ima_parse(a, alen + flen, NULL, &l, NULL, 0), 0);
	assert_true(l.count > after->count);
	pcr_of(dir, "sha256", want, 32);
	assert_int_equal(ima_replay_match(&l, 10, "sha256", 0, want, 32, &got, NULL, 0), 0);
	assert_int_equal(got, n);
	ima_list_free(&l);
	free(f);
	free(a);
}

/* The TPM's PCR 10 (read after the first copy) is a prefix of the later list, in both banks. */
static void test_golden_replay(void **state)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		static const char *const banks[] = {"sha1", "sha256"};
		struct ima_list first, after;
		size_t n[2];

		load(fixtures[i], "binary_runtime_measurements", &first);
		load(fixtures[i], "binary_after", &after);
		assert_int_equal(ima_check_digests(&after, NULL, 0), 0);
		for (size_t b = 0; b < 2; b++) {
			uint8_t want[32], got[32];
			size_t glen;
			char err[256];
			size_t sz = ima_digest_size(banks[b]);

			pcr_of(fixtures[i], banks[b], want, sz);
			if (ima_replay_match(&after, 10, banks[b], 0, want, sz, &n[b], err,
					     sizeof(err)))
				fail_msg("%s %s: %s", fixtures[i], banks[b], err);
			/* tpm2_pcrread's own exec was measured before it read the PCR */
			assert_true(n[b] > first.count);
			assert_true(n[b] <= after.count);
			assert_int_equal(
			    ima_replay(&after, 10, banks[b], 0, n[b], got, &glen, err, sizeof(err)),
			    0);
			assert_int_equal(glen, sz);
			assert_memory_equal(got, want, sz);
			/* one entry fewer does not reach the quoted value */
			assert_int_equal(
			    ima_replay(&after, 10, banks[b], 0, n[b] - 1, got, NULL, NULL, 0), 0);
			assert_memory_not_equal(got, want, sz);
		}
		assert_int_equal(n[0], n[1]);
		assert_lag(fixtures[i], &after, n[0]);
		ima_list_free(&first);
		ima_list_free(&after);
	}
}

/* A 6.1 kernel hashes the template data per bank; the pre-5.10 padded SHA-1 does not match. */
static void test_padded_sha1(void **state)
{
	struct ima_list l;
	uint8_t want[32], got[32], ext[64] = {0}, pcr[32] = {0};
	size_t n;

	load("ima-ng-sha256", "binary_after", &l);
	pcr_of("ima-ng-sha256", "sha256", want, 32);
	assert_int_equal(
	    ima_replay_match(&l, 10, "sha256", IMA_REPLAY_PADDED_SHA1, want, 32, &n, NULL, 0), 1);
	assert_int_equal(
	    ima_replay(&l, 10, "sha256", IMA_REPLAY_PADDED_SHA1, 1, got, NULL, NULL, 0), 0);
	memcpy(ext + 32, l.entries[0].template_digest, 20);
	digest("sha256", ext, 64, pcr);
	assert_memory_equal(got, pcr, 32);
	ima_list_free(&l);
}

/* Names with a space (recorded as '_') and a newline (printed raw), digests of known content. */
static void test_lookup(void **state)
{
	static const struct {
		const char *dir, *algo;
	} cases[] = {{"ima-ng-sha256", "sha256"}, {"ima-ng-sha1", "sha1"}, {"ima-sha1", "sha1"}};

	for (size_t i = 0; i < 3; i++) {
		static const char *const names[][2] = {
		    {"/tmp/aicert-ima-names/with space.txt", "space\n"},
		    {"/tmp/aicert-ima-names/new\nline.txt", "newline\n"},
		    {"/tmp/aicert-ima-names/signed.txt", "signed\n"},
		};
		struct ima_list l;

		load(cases[i].dir, "binary_after", &l);
		for (size_t j = 0; j < 3; j++) {
			const struct ima_entry *e = ima_lookup(&l, names[j][0]);
			uint8_t d[32];

			assert_non_null(e);
			assert_string_equal(e->hash_algo, cases[i].algo);
			digest(cases[i].algo, names[j][1], strlen(names[j][1]), d);
			assert_int_equal(e->file_digest_len, ima_digest_size(cases[i].algo));
			assert_memory_equal(e->file_digest, d, e->file_digest_len);
		}
		assert_string_equal(
		    ima_lookup(&l, "/tmp/aicert-ima-names/with space.txt")->file_name,
		    "/tmp/aicert-ima-names/with_space.txt");
		assert_non_null(ima_lookup(&l, "/usr/bin/cat"));
		assert_null(ima_lookup(&l, "/no/such/file"));
		assert_null(ima_lookup(&l, "/tmp/aicert-ima-names/with"));
		ima_list_free(&l);
	}
}

static bool is_boundary(const struct ima_list *full, size_t len, size_t *records)
{
	for (size_t i = 0; i < full->count; i++) {
		if (full->entries[i].offset == len) {
			*records = i;
			return true;
		}
	}
	return false;
}

/* Every truncation is either a record boundary (fewer records) or a clean error. */
static void test_truncation(void **state)
{
	static const char *const dirs[] = {"ima-ng-sha256", "ima-sha1", "custom-sha256"};

	for (size_t d = 0; d < 3; d++) {
		struct ima_list full, l;
		size_t len, records;
		uint8_t *buf =
		    slurp(tu_fixture("ima", dirs[d], "binary_runtime_measurements"), &len);

		assert_int_equal(ima_parse(buf, len, NULL, &full, NULL, 0), 0);
		for (size_t cut = 0; cut < len; cut++) {
			char err[256] = "";
			uint8_t *copy = malloc(cut ? cut : 1); /* ASan sees any over-read */
			int rc;

			memcpy(copy, buf, cut);
			rc = ima_parse(copy, cut, NULL, &l, err, sizeof(err));
			if (is_boundary(&full, cut, &records)) {
				assert_int_equal(rc, 0);
				assert_int_equal(l.count, records);
			} else {
				assert_int_equal(rc, -1);
				if (strncmp(err, "ima: record ", 12) || !strstr(err, " at offset "))
					fail_msg("cut %zu: unclear error '%s'", cut, err);
				assert_null(l.entries);
			}
			ima_list_free(&l);
			free(copy);
		}
		ima_list_free(&full);
		free(buf);
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff, p[1] = v >> 8 & 0xff, p[2] = v >> 16 & 0xff, p[3] = v >> 24;
}

/* Huge lengths get an error naming the record and offset, with the exact message. */
static void test_huge_lengths(void **state)
{
	struct ima_list l;
	char err[256], want[256];
	size_t len, off;
	uint8_t *buf =
	    slurp(tu_fixture("ima", "ima-ng-sha256", "binary_runtime_measurements"), &len);

	assert_int_equal(ima_parse(buf, len, NULL, &l, NULL, 0), 0);
	off = l.entries[2].offset + 4 + 20 + 4 + 6; /* record 3's template data length */
	ima_list_free(&l);
	put32(buf + off, 0xffffffff);
	assert_int_equal(ima_parse(buf, len, NULL, &l, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "ima: record 3 at offset %zu: template data length 4294967295 exceeds remaining "
		 "%zu bytes",
		 off + 4, len - off - 4);
	assert_string_equal(err, want);

	free(buf);
	buf = slurp(tu_fixture("ima", "ima-ng-sha256", "binary_runtime_measurements"), &len);
	put32(buf + 24, 0x7fffffff); /* record 1's template name length */
	assert_int_equal(ima_parse(buf, len, NULL, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ima: record 1 at offset 28: template name length 2147483647"));

	free(buf);
	buf = slurp(tu_fixture("ima", "ima-ng-sha256", "binary_runtime_measurements"), &len);
	put32(buf + 4 + 20 + 4 + 6 + 4, 0xfffffff0); /* record 1's first field length */
	assert_int_equal(ima_parse(buf, len, NULL, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ima: record 1 at offset 42: field 1 length 4294967280"));

	free(buf);
	buf = slurp(tu_fixture("ima", "ima-sha1", "binary_runtime_measurements"), &len);
	put32(buf + 4 + 20 + 4 + 3 + 20, 4096); /* "ima" template name length */
	assert_int_equal(ima_parse(buf, len, NULL, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file name length 4096 exceeds 255"));
	free(buf);
}

/* Random corruption: never a crash; a clean error or a list that renders and replays. */
static void test_corruption(void **state)
{
	size_t len;
	uint8_t *orig = slurp(tu_fixture("ima", "custom-sha256", "binary_after"), &len);
	uint8_t *buf = malloc(len);
	unsigned seed = 12345, errors = 0;
	FILE *null = fopen("/dev/null", "w");

	assert_non_null(null);
	for (int round = 0; round < 3000; round++) {
		struct ima_list l;
		char err[256] = "";

		memcpy(buf, orig, len);
		for (int k = 0; k < 1 + round % 4; k++)
			buf[rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
		if (ima_parse(buf, len, NULL, &l, err, sizeof(err))) {
			assert_int_equal(strncmp(err, "ima: record ", 12), 0);
			errors++;
			continue;
		}
		assert_int_equal(ima_render_ascii(null, &l), 0);
		ima_replay(&l, 10, "sha256", 0, SIZE_MAX, buf, NULL, NULL, 0);
		ima_check_digests(&l, NULL, 0);
		ima_list_free(&l);
	}
	assert_true(errors > 0);
	fclose(null);
	free(buf);
	free(orig);
}

/* ima_canonical_fmt on x86 gives the same bytes; a big-endian host's list decodes the same. */
static size_t to_big_endian(const struct ima_list *l, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < l->count; i++) {
		const struct ima_entry *e = &l->entries[i];
		uint32_t nlen = (uint32_t)strlen(e->template_name);

#define BE32(v)                                                                                    \
	(out[o] = (v) >> 24, out[o + 1] = (v) >> 16 & 0xff, out[o + 2] = (v) >> 8 & 0xff,          \
	 out[o + 3] = (v)&0xff, o += 4)
		BE32(e->pcr);
		memcpy(out + o, e->template_digest, l->digest_len), o += l->digest_len;
		BE32(nlen);
		memcpy(out + o, e->template_name, nlen), o += nlen;
		if (e->legacy) {
			memcpy(out + o, e->fields[0].data, 20), o += 20;
			BE32(e->fields[1].len);
			memcpy(out + o, e->fields[1].data, e->fields[1].len), o += e->fields[1].len;
			continue;
		}
		BE32(e->data_len);
		for (unsigned f = 0; f < e->nfields; f++) {
			const struct ima_field *fd = &e->fields[f];

			BE32(fd->len);
			for (uint32_t k = 0; k < fd->len; k++)
				out[o + k] = fd->fmt == IMA_FMT_UINT ? fd->data[fd->len - 1 - k]
								     : fd->data[k];
			o += fd->len;
		}
#undef BE32
	}
	return o;
}

static void test_canonical_and_endian(void **state)
{
	static const char *const dirs[] = {"ima-ng-canonical", "custom-sha256", "ima-sha1"};

	for (size_t d = 0; d < 3; d++) {
		struct ima_parse_opts le = {.endian = IMA_ENDIAN_LITTLE},
				      be = {.endian = IMA_ENDIAN_BIG};
		struct ima_list l, b, a;
		size_t len, blen, r1, r2, r3;
		uint8_t *buf =
		    slurp(tu_fixture("ima", dirs[d], "binary_runtime_measurements"), &len);
		uint8_t *bebuf = malloc(len);
		char *s1, *s2, *s3;
		uint8_t p1[32], p2[32];

		assert_int_equal(ima_parse(buf, len, &le, &l, NULL, 0), 0);
		assert_false(l.big_endian);
		blen = to_big_endian(&l, bebuf);
		assert_int_equal(blen, len);
		assert_int_equal(ima_parse(bebuf, blen, &be, &b, NULL, 0), 0);
		assert_int_equal(ima_parse(bebuf, blen, NULL, &a, NULL, 0), 0); /* auto-detected */
		assert_true(a.big_endian);
		s1 = render(&l, &r1);
		s2 = render(&b, &r2);
		s3 = render(&a, &r3);
		assert_int_equal(r1, r2);
		assert_memory_equal(s1, s2, r1);
		assert_int_equal(r1, r3);
		assert_memory_equal(s1, s3, r1);
		/* the SHA-1 bank uses the listed digests, so it replays the same either way */
		ima_replay(&l, 10, "sha1", 0, SIZE_MAX, p1, NULL, NULL, 0);
		ima_replay(&b, 10, "sha1", 0, SIZE_MAX, p2, NULL, NULL, 0);
		assert_memory_equal(p1, p2, 20);
		free(s1), free(s2), free(s3);
		ima_list_free(&l), ima_list_free(&b), ima_list_free(&a);
		free(bebuf);
		free(buf);
	}
}

/* binary_runtime_measurements_sha256 (kernels >= 6.10): 32-byte template digests. */
static void test_per_bank_list(void **state)
{
	struct ima_list l, s;
	size_t len, o = 0, n;
	uint8_t *buf = slurp(tu_fixture("ima", "ima-ng-sha256", "binary_after"), &len);
	uint8_t *out = malloc(len + 12 * 1024), want[32];
	char tmpl[] = "/tmp/aicert-ima-XXXXXX", path[64];
	FILE *f;

	assert_int_equal(ima_parse(buf, len, NULL, &l, NULL, 0), 0);
	for (size_t i = 0; i < l.count; i++) {
		const struct ima_entry *e = &l.entries[i];
		size_t end = i + 1 < l.count ? l.entries[i + 1].offset : len;

		memcpy(out + o, buf + e->offset, 4), o += 4;
		digest("sha256", e->data, e->data_len, out + o), o += 32;
		memcpy(out + o, buf + e->offset + 24, end - e->offset - 24);
		o += end - e->offset - 24;
	}
	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/binary_runtime_measurements_sha256", tmpl);
	f = fopen(path, "wb");
	fwrite(out, 1, o, f);
	fclose(f);
	assert_int_equal(ima_read_file(path, NULL, &s, NULL, 0), 0);
	unlink(path);
	rmdir(tmpl);
	assert_string_equal(s.digest_algo, "sha256");
	assert_int_equal(s.digest_len, 32);
	assert_int_equal(s.count, l.count);
	assert_int_equal(ima_check_digests(&s, NULL, 0), 0);
	pcr_of("ima-ng-sha256", "sha256", want, 32);
	assert_int_equal(ima_replay_match(&s, 10, "sha256", 0, want, 32, &n, NULL, 0), 0);
	assert_true(n > 0);
	ima_list_free(&s);
	/* a wrong digest size: the first record already fails */
	assert_int_equal(
	    ima_parse(out, o, NULL, &s, NULL, 0) == 0 && ima_check_digests(&s, NULL, 0) == 0, 0);
	ima_list_free(&s);
	ima_list_free(&l);
	free(out);
	free(buf);
}

/* A changed file digest keeps the SHA-1 replay intact; only the digest check catches it. */
static void test_tamper(void **state)
{
	struct ima_list l;
	size_t len, n;
	uint8_t *buf = slurp(tu_fixture("ima", "ima-ng-sha1", "binary_after"), &len), want[20];
	char err[256];

	assert_int_equal(ima_parse(buf, len, NULL, &l, NULL, 0), 0);
	buf[l.entries[5].data - l.raw + 4 + 6] ^= 1; /* inside "sha1:" '\0' digest */
	ima_list_free(&l);
	assert_int_equal(ima_parse(buf, len, NULL, &l, NULL, 0), 0);
	pcr_of("ima-ng-sha1", "sha1", want, 20);
	assert_int_equal(ima_replay_match(&l, 10, "sha1", 0, want, 20, &n, NULL, 0), 0);
	assert_int_equal(ima_check_digests(&l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ima: record 6 at offset "));
	assert_non_null(strstr(err, "template digest does not match"));
	ima_list_free(&l);
	free(buf);
}

/* ---- synthetic records ---- */

struct rec {
	uint8_t b[4096];
	size_t n;
};

static void add(struct rec *r, const void *p, size_t n)
{
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void add32(struct rec *r, uint32_t v)
{
	put32(r->b + r->n, v);
	r->n += 4;
}

/* Appends a record of template name with fields given as (len, bytes) pairs, ending in -1;
 * the template digest is SHA-1 of the data, or zero for a violation. */
static void record(struct rec *r, const char *name, int violation, ...)
{
	uint8_t data[2048];
	size_t dn = 0;
	va_list ap;
	int flen;

	va_start(ap, violation);
	while ((flen = va_arg(ap, int)) >= 0) {
		put32(data + dn, (uint32_t)flen);
		memcpy(data + dn + 4, va_arg(ap, const void *), (size_t)flen);
		dn += 4 + (size_t)flen;
	}
	va_end(ap);
	add32(r, 10);
	if (violation) {
		uint8_t z[20] = {0};
		add(r, z, 20);
	} else {
		uint8_t d[20];
		digest("sha1", data, dn, d);
		add(r, d, 20);
	}
	add32(r, (uint32_t)strlen(name));
	add(r, name, strlen(name));
	add32(r, (uint32_t)dn);
	add(r, data, dn);
}

static void test_synthetic_render(void **state)
{
	static const uint8_t dng[] = "sha256:\0\x01\x02\x03\x04",
			     dv2[] = "verity:sha256:\0\xab\xcd";
	static const uint8_t sig[] = {0x03, 0x02, 0x04, 0xa1, 0xb2}, uid[4] = {0xe8, 0x03, 0, 0};
	static const uint8_t mode[2] = {0xa4, 0x81}, zero_dng[] = "sha256:\0\0\0";
	static const char *want =
	    "10 %s ima-sig sha256:01020304 /a_b 030204a1b2\n"
	    "10 %s ima-buf sha256:01020304 kexec-cmdline 0302\n"
	    "10 %s ima-ngv2 verity:sha256:abcd /x\n"
	    "10 0000000000000000000000000000000000000000 ima-ng sha256:000000 /viol\n"
	    "10 %s evm-sig sha256:01020304 /e   0302 e8030000 1000 1000 33188\n"
	    "10 %s d-ng|iuid sha256:01020304 1000\n"
	    "10 %s my-tmpl sha256:01020304 text 0302\n";
	struct rec r = {0};
	struct ima_list l;
	char err[256], expect[2048], hx[7][41];
	size_t n;
	char *out;

	record(&r, "ima-sig", false, 12, dng, 5, "/a_b", 5, sig, -1);
	record(&r, "ima-buf", false, 12, dng, 14, "kexec-cmdline", 2, sig, -1);
	record(&r, "ima-ngv2", false, 17, dv2, 3, "/x", -1);
	record(&r, "ima-ng", true, 11, zero_dng, 6, "/viol", -1);
	record(&r, "evm-sig", false, 12, dng, 3, "/e", 0, "", 0, "", 2, sig, 4, uid, 4, uid, 4, uid,
	       2, mode, -1);
	record(&r, "d-ng|iuid", false, 12, dng, 4, uid, -1);
	record(&r, "my-tmpl", false, 12, dng, 5, "text", 2, sig, -1);
	if (ima_parse(r.b, r.n, NULL, &l, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(l.count, 7);
	for (size_t i = 0; i < 7; i++)
		hex_encode(l.entries[i].template_digest, 20, hx[i]);
	snprintf(expect, sizeof(expect), want, hx[0], hx[1], hx[2], hx[4], hx[5], hx[6]);
	out = render(&l, &n);
	assert_string_equal(out, expect);
	free(out);

	assert_memory_equal(l.entries[0].sig, sig, 5);
	assert_int_equal(l.entries[1].buf_len, 2);
	assert_string_equal(l.entries[2].digest_type, "verity");
	assert_string_equal(l.entries[2].hash_algo, "sha256");
	assert_int_equal(l.entries[2].file_digest_len, 2);
	assert_true(l.entries[3].violation);
	assert_int_equal(l.entries[6].fields[0].fmt, IMA_FMT_UNKNOWN);
	assert_int_equal(ima_check_digests(&l, NULL, 0), 0);
	assert_ptr_equal(ima_lookup(&l, "/a b"), &l.entries[0]);
	ima_list_free(&l);
}

/* A violation extends all-ones in every bank; the latest entry for a path wins. */
static void test_violation_and_latest(void **state)
{
	static const uint8_t d1[] = "sha256:\0\x11", d2[] = "sha256:\0\x22";
	struct rec r = {0};
	struct ima_list l;
	uint8_t got[32], buf[64] = {0}, pcr[32] = {0};
	size_t n;

	record(&r, "ima-ng", true, 9, d1, 3, "/f", -1);
	record(&r, "ima-ng", false, 9, d2, 3, "/f", -1);
	assert_int_equal(ima_parse(r.b, r.n, NULL, &l, NULL, 0), 0);
	assert_int_equal(ima_lookup(&l, "/f")->file_digest[0], 0x22);
	assert_int_equal(ima_replay(&l, 10, "sha256", 0, 1, got, NULL, NULL, 0), 0);
	memset(buf + 32, 0xff, 32);
	digest("sha256", buf, 64, pcr);
	assert_memory_equal(got, pcr, 32);
	assert_int_equal(ima_replay(&l, 10, "sha1", 0, 1, got, NULL, NULL, 0), 0);
	memset(buf, 0, 20);
	memset(buf + 20, 0xff, 20);
	digest("sha1", buf, 40, pcr);
	assert_memory_equal(got, pcr, 20);
	/* before 5.10 a violation extended 20 bytes of 0xff, zero-padded, into sha256 */
	assert_int_equal(
	    ima_replay(&l, 10, "sha256", IMA_REPLAY_PADDED_SHA1, 1, got, NULL, NULL, 0), 0);
	memset(buf, 0, 64);
	memset(buf + 32, 0xff, 20);
	digest("sha256", buf, 64, pcr);
	assert_memory_equal(got, pcr, 32);
	/* other PCRs are skipped; the zero PCR matches the empty prefix */
	memset(pcr, 0, 32);
	assert_int_equal(ima_replay_match(&l, 11, "sha256", 0, pcr, 32, &n, NULL, 0), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ima_replay(&l, 10, "sha7", 0, 1, got, NULL, NULL, 0), -1);
	assert_int_equal(ima_replay_match(&l, 10, "sha256", 0, pcr, 20, &n, NULL, 0), -1);
	ima_list_free(&l);
}

static void test_bad_templates(void **state)
{
	static const uint8_t dng[] = "sha256:\0\x01";
	struct rec r = {0};
	struct ima_list l;
	char err[256];

	record(&r, "ima-ng", false, 9, dng, -1); /* one field short */
	assert_int_equal(ima_parse(r.b, r.n, NULL, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "ima: record 1 at offset 51: template ima-ng has 2 fields, the "
				 "data holds 1");
	r.n = 0;
	record(&r, "bad name", false, 9, dng, -1);
	assert_int_equal(ima_parse(r.b, r.n, NULL, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "template name has byte 0x20"));
	assert_int_equal(ima_read_file("/no/such/list", NULL, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "ima: cannot open /no/such/list: No such file or directory");
	ima_list_free(NULL);
}

struct steps {
	uint8_t (*v)[IMA_MAX_DIGEST];
	size_t n, size;
};

static void collect(void *arg, size_t n, const uint8_t *value)
{
	struct steps *s = arg;

	assert_int_equal(n, s->n);
	memcpy(s->v[s->n++], value, s->size);
}

/* n legacy "ima"-template violations (zero template and file digests), as the kernel logs them. */
static uint8_t *add_violations(uint8_t *buf, size_t *len, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "/tmp/violation-%zu", i);
		assert_int_equal(ima_append_violation(&buf, len, name), 0);
	}
	return buf;
}

/* ima_replay_steps' one pass gives every prefix the value ima_replay gives it. */
static void check_steps(const struct ima_list *l, const char *bank, unsigned flags)
{
	struct steps s = {.size = ima_digest_size(bank)};
	uint8_t got[IMA_MAX_DIGEST];
	char err[256];

	s.v = calloc(l->count + 1, sizeof(*s.v));
	assert_non_null(s.v);
	if (ima_replay_steps(l, 10, bank, flags, collect, &s, err, sizeof(err)))
		fail_msg("%s: %s", bank, err);
	assert_int_equal(s.n, l->count + 1);
	for (size_t n = 0; n <= l->count; n++) {
		assert_int_equal(ima_replay(l, 10, bank, flags, n, got, NULL, NULL, 0), 0);
		assert_memory_equal(got, s.v[n], s.size);
	}
	free(s.v);
}

static void test_replay_steps(void **state)
{
	static const char *const banks[] = {"sha1", "sha256", "sha384"};

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct ima_list l;
		size_t len, sz = 32;
		uint8_t *buf = slurp(tu_fixture("ima", fixtures[i], "binary_after"), &len);
		uint8_t want[32], ext[64];

		buf = add_violations(buf, &len, 40);
		assert_int_equal(ima_parse(buf, len, NULL, &l, NULL, 0), 0);
		assert_true(l.entries[l.count - 1].violation && l.entries[l.count - 1].legacy);
		assert_string_equal(l.entries[l.count - 1].file_name, "/tmp/violation-39");
		assert_string_equal(l.entries[l.count - 1].template_name, "ima");
		for (size_t b = 0; b < 3; b++) {
			check_steps(&l, banks[b], 0);
			check_steps(&l, banks[b], IMA_REPLAY_PADDED_SHA1);
		}
		/* the last entry, a violation, extends 0xff..ff into the sha256 bank */
		assert_int_equal(ima_replay(&l, 10, "sha256", 0, l.count - 1, ext, NULL, NULL, 0),
				 0);
		memset(ext + sz, 0xff, sz);
		digest("sha256", ext, 2 * sz, want);
		assert_int_equal(ima_replay(&l, 10, "sha256", 0, l.count, ext, NULL, NULL, 0), 0);
		assert_memory_equal(ext, want, sz);
		ima_list_free(&l);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_render),    cmocka_unit_test(test_golden_replay),
	    cmocka_unit_test(test_padded_sha1),	     cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_truncation),	     cmocka_unit_test(test_huge_lengths),
	    cmocka_unit_test(test_corruption),	     cmocka_unit_test(test_canonical_and_endian),
	    cmocka_unit_test(test_per_bank_list),    cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_synthetic_render), cmocka_unit_test(test_violation_and_latest),
	    cmocka_unit_test(test_bad_templates),    cmocka_unit_test(test_replay_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
