// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_imacorr.c - files[].ima from an IMA list: the real lists captured from the VM kernel
 * (tests/fixtures/ima) stand in for securityfs, plus synthetic lists for violations and
 * re-measured files. ima.bin must be the list's bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/bom.h"
#include "lib/log.h"
#include "trace/imacorr.h"
#include "testutil.h"

#define NAMES "/tmp/aicert-ima-names/"

static const char sha_space[] = "9d39745403e5faf662463b32d613eedf45037d0180983ae8bc87f538cf0c9653";
static const char sha_newline[] =
    "7ba826f0c347f6adc4686c8d1f61aeb2e2e98322749cd4f82204c926f4022cee";
static const char sha_other[] = TU_SHA256_ABC;

static char tmpdir[64];

static int setup(void **state)
{
	log_init("test_imacorr", LOG_ERROR);
	return tu_mkdtemp(tmpdir, "imacorr");
}

static int teardown(void **state)
{
	return tu_rmrf(tmpdir);
}

static const char *bin_path(void)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/" IMACORR_BUNDLE_NAME, tmpdir);
	return p;
}

/* ima.bin exists, is mode 0644 and holds exactly the bytes of list. */
static void assert_copy(const char *list)
{
	size_t a, b;
	uint8_t *want = tu_read_file(list, &a), *got = tu_read_file(bin_path(), &b);
	struct stat st;

	assert_non_null(want);
	assert_non_null(got);
	assert_int_equal(a, b);
	assert_memory_equal(want, got, a);
	assert_int_equal(stat(bin_path(), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(want);
	free(got);
}

/* A BOM of: the file with a space (its real sha256), the one with a newline (real), signed.txt
 * with another digest, a path IMA never saw, and a file that was not hashed. */
static void make_bom(struct bom *b)
{
	bom_init(b);
	assert_non_null(bom_add_file(b, NAMES "with space.txt", sha_space));
	assert_non_null(bom_add_file(b, NAMES "new\nline.txt", sha_newline));
	assert_non_null(bom_add_file(b, NAMES "signed.txt", sha_other));
	assert_non_null(bom_add_file(b, "/no/such/file", sha_other));
	assert_non_null(bom_add_file(b, NAMES "with space.txt.gone", NULL));
	for (size_t i = 0; i < b->nfiles; i++)
		b->files[i].ima = BOM_IMA_MATCH; /* imacorr must overwrite every one */
}

static void test_real_list_sha256(void **state)
{
	const char *list = tu_fixture("ima", "ima-ng-sha256", "binary_after");
	struct imacorr_stats st;
	struct bom b;

	make_bom(&b);
	assert_int_equal(imacorr_run(&b, tmpdir, list, &st), 0);
	assert_int_equal(b.files[0].ima, BOM_IMA_MATCH);    /* space recorded as '_' */
	assert_int_equal(b.files[1].ima, BOM_IMA_MATCH);    /* raw newline in the name */
	assert_int_equal(b.files[2].ima, BOM_IMA_MISMATCH); /* IMA saw other content */
	assert_int_equal(b.files[3].ima, BOM_IMA_ABSENT);
	assert_int_equal(b.files[4].ima, BOM_IMA_UNAVAILABLE); /* no sha256 */
	assert_int_equal(st.ima_on, 1);
	assert_int_equal(st.entries, 61);
	assert_int_equal(st.matched, 2);
	assert_int_equal(st.mismatched, 1);
	assert_int_equal(st.absent, 1);
	assert_int_equal(st.unavailable, 1);
	assert_int_equal(st.violations, 0);
	assert_copy(list);
	bom_free(&b);
}

/* The other captured configurations: custom template and canonical format still compare; the
 * sha1 lists (ima_hash=sha1, legacy "ima") cannot, so known paths are unavailable. */
static void test_real_lists_other(void **state)
{
	static const struct {
		const char *dir;
		enum bom_ima space;
	} cases[] = {
	    {"custom-sha256", BOM_IMA_MATCH},  {"ima-ng-canonical", BOM_IMA_MATCH},
	    {"ima-sig-sha256", BOM_IMA_MATCH}, {"ima-ng-sha1", BOM_IMA_UNAVAILABLE},
	    {"ima-sha1", BOM_IMA_UNAVAILABLE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *list = tu_fixture("ima", cases[i].dir, "binary_runtime_measurements");
		enum bom_ima other =
		    cases[i].space == BOM_IMA_MATCH ? BOM_IMA_MISMATCH : BOM_IMA_UNAVAILABLE;
		struct imacorr_stats st;
		struct bom b;

		make_bom(&b);
		assert_int_equal(imacorr_run(&b, tmpdir, list, &st), 0);
		assert_int_equal(b.files[0].ima, cases[i].space);
		assert_int_equal(b.files[1].ima, cases[i].space);
		assert_int_equal(b.files[2].ima, other);
		assert_int_equal(b.files[3].ima, BOM_IMA_ABSENT);
		assert_int_equal(b.files[4].ima, BOM_IMA_UNAVAILABLE);
		assert_int_equal(st.entries, 25);
		assert_int_equal(st.other_algo, cases[i].space == BOM_IMA_MATCH ? 0 : 3);
		assert_copy(list);
		bom_free(&b);
	}
}

static void test_no_ima(void **state)
{
	struct imacorr_stats st;
	struct bom b;
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/no-such-list", tmpdir);
	unlink(bin_path());
	make_bom(&b);
	assert_int_equal(imacorr_run(&b, tmpdir, missing, &st), 0);
	for (size_t i = 0; i < b.nfiles; i++)
		assert_int_equal(b.files[i].ima, BOM_IMA_UNAVAILABLE);
	assert_int_equal(st.ima_on, 0);
	assert_int_equal(st.unavailable, b.nfiles);
	assert_int_equal(access(bin_path(), F_OK), -1);
	assert_int_equal(errno, ENOENT);
	bom_free(&b);
}

/* A corrupt list: an error, no ima.bin, nothing claimed. */
static void test_corrupt_list(void **state)
{
	size_t n;
	uint8_t *buf =
	    tu_read_file(tu_fixture("ima", "ima-ng-sha256", "binary_runtime_measurements"), &n);
	char bad[128];
	struct bom b;

	assert_non_null(buf);
	snprintf(bad, sizeof(bad), "%s/truncated", tmpdir);
	tu_write_file(bad, buf, n - 3);
	unlink(bin_path());
	make_bom(&b);
	assert_int_equal(imacorr_run(&b, tmpdir, bad, NULL), -EBADMSG);
	for (size_t i = 0; i < b.nfiles; i++)
		assert_int_equal(b.files[i].ima, BOM_IMA_UNAVAILABLE);
	assert_int_equal(access(bin_path(), F_OK), -1);
	bom_free(&b);
	free(buf);
}

/* ---- synthetic ima-ng lists ---- */

struct list {
	uint8_t b[8192];
	size_t n;
};

static void put(struct list *l, const void *p, size_t n)
{
	assert_true(l->n + n <= sizeof(l->b));
	memcpy(l->b + l->n, p, n);
	l->n += n;
}

static void put32(struct list *l, uint32_t v)
{
	uint8_t b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};

	put(l, b, 4);
}

/* One ima-ng record for name with file digest sha256(content); content NULL: a violation
 * (zero file digest, zero template digest), as ima_add_violation() records it. */
static void rec(struct list *l, const char *name, const char *content)
{
	uint8_t data[1024], d[32] = {0}, td[20] = {0};
	size_t dn = 0, nl = strlen(name) + 1;
	unsigned int dl;

	if (content)
		EVP_Digest(content, strlen(content), d, &dl, EVP_sha256(), NULL);
	memcpy(data, (uint8_t[]){40, 0, 0, 0}, 4);
	memcpy(data + 4, "sha256:", 8);
	memcpy(data + 12, d, 32);
	dn = 44;
	data[dn] = nl & 0xff;
	data[dn + 1] = (nl >> 8) & 0xff;
	data[dn + 2] = data[dn + 3] = 0;
	memcpy(data + dn + 4, name, nl);
	dn += 4 + nl;
	if (content)
		EVP_Digest(data, dn, td, &dl, EVP_sha1(), NULL);
	put32(l, 10);
	put(l, td, 20);
	put32(l, 6);
	put(l, "ima-ng", 6);
	put32(l, (uint32_t)dn);
	put(l, data, dn);
}

static enum bom_ima one(struct list *l, const char *path, const char *content,
			struct imacorr_stats *st)
{
	char list[128], hex[65];
	uint8_t d[32];
	unsigned int dl;
	struct bom b;
	enum bom_ima v;

	snprintf(list, sizeof(list), "%s/synthetic", tmpdir);
	tu_write_file(list, l->b, l->n);
	EVP_Digest(content, strlen(content), d, &dl, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	bom_init(&b);
	assert_non_null(bom_add_file(&b, path, hex));
	assert_int_equal(imacorr_run(&b, tmpdir, list, st), 0);
	assert_copy(list);
	v = b.files[0].ima;
	bom_free(&b);
	return v;
}

/* The latest record of a path decides: a file changed and re-measured matches its new content
 * only; a violation after a measurement is a mismatch. */
static void test_latest_and_violation(void **state)
{
	struct imacorr_stats st;
	struct list l = {.n = 0};

	rec(&l, "/data/a.csv", "old\n");
	rec(&l, "/data/b.csv", "b\n");
	rec(&l, "/data/a.csv", "new\n");
	assert_int_equal(one(&l, "/data/a.csv", "new\n", &st), BOM_IMA_MATCH);
	assert_int_equal(one(&l, "/data/a.csv", "old\n", &st), BOM_IMA_MISMATCH);
	assert_int_equal(st.entries, 3);
	assert_int_equal(one(&l, "/data/b.csv", "b\n", &st), BOM_IMA_MATCH);
	assert_int_equal(one(&l, "/data/c.csv", "b\n", &st), BOM_IMA_ABSENT);
	/* a prefix of a recorded name is not that name */
	assert_int_equal(one(&l, "/data/a.cs", "new\n", &st), BOM_IMA_ABSENT);

	rec(&l, "/data/b.csv", NULL);
	assert_int_equal(one(&l, "/data/b.csv", "b\n", &st), BOM_IMA_MISMATCH);
	assert_int_equal(st.violations, 1);
	assert_int_equal(st.mismatched, 1);

	/* '_' in a recorded name stands for a space or an underscore (the kernel's encoding) */
	rec(&l, "/data/x_y.csv", "xy\n");
	assert_int_equal(one(&l, "/data/x y.csv", "xy\n", &st), BOM_IMA_MATCH);
	assert_int_equal(one(&l, "/data/x_y.csv", "xy\n", &st), BOM_IMA_MATCH);
}

/* An empty list (IMA on, nothing measured yet) is valid: every hashed file is absent. */
static void test_empty_list(void **state)
{
	struct imacorr_stats st;
	struct list l = {.n = 0};

	assert_int_equal(one(&l, "/data/a.csv", "a\n", &st), BOM_IMA_ABSENT);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.ima_on, 1);
}

/* ima.bin cannot be written: the error comes back and no file claims a result. */
static void test_unwritable_bundle(void **state)
{
	struct bom b;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/no-such-dir", tmpdir);
	make_bom(&b);
	assert_int_equal(
	    imacorr_run(&b, dir, tu_fixture("ima", "ima-ng-sha256", "binary_after"), NULL),
	    -ENOENT);
	for (size_t i = 0; i < b.nfiles; i++)
		assert_int_equal(b.files[i].ima, BOM_IMA_UNAVAILABLE);
	bom_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_list_sha256),
	    cmocka_unit_test(test_real_lists_other),
	    cmocka_unit_test(test_no_ima),
	    cmocka_unit_test(test_corrupt_list),
	    cmocka_unit_test(test_latest_and_violation),
	    cmocka_unit_test(test_empty_list),
	    cmocka_unit_test(test_unwritable_bundle),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
