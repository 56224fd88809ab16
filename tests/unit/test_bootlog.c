// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_bootlog.c - the firmware event log parser against logs captured from real OVMF boots
 * (tests/fixtures/boot, see its README): the replay equals the TPM's own PCR values read in the
 * same boot, the YAML equals tpm2_eventlog's, the facts are those of the boot; then hostile
 * input: every truncation, bad sizes, unknown banks, misplaced StartupLocality, garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/bootlog.h"
#include "lib/hex.h"
#include "testutil.h"

static uint8_t *slurp(const char *dir, const char *file, size_t *len)
{
	const char *path = tu_fixture("boot", dir, file);
	uint8_t *b = tu_read_file(path, len);

	if (!b)
		fail_msg("cannot open %s (run from the repository root or set AICERT_SRC)", path);
	return b;
}

static void load(const char *dir, struct bootlog *l, uint8_t **buf)
{
	size_t len;
	char err[256] = "";

	*buf = slurp(dir, "boot.bin", &len);
	if (bootlog_parse(*buf, len, l, err, sizeof(err)))
		fail_msg("%s/boot.bin: %s", dir, err);
}

/* "    N : 0xHEX" lines of tpm2_pcrread's sha256 bank. */
static void check_pcrread(const char *dir, uint8_t pcrs[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST],
			  uint32_t used)
{
	size_t len;
	char *txt = (char *)slurp(dir, "pcrread.txt", &len), *line, *save = NULL;
	unsigned seen = 0;

	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned pcr;
		char hx[65];
		uint8_t want[32];

		if (sscanf(line, " %u : 0x%64s", &pcr, hx) != 2)
			continue;
		for (char *p = hx; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
		assert_int_equal(hex_decode(hx, want, 32), 0);
		assert_true(pcr < BOOTLOG_PCRS);
		if (!(used & 1u << pcr)) /* never extended: the TPM says all zero */
			assert_memory_equal(want, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);
		else
			assert_memory_equal(pcrs[pcr], want, 32);
		seen++;
	}
	assert_int_equal(seen, 10);
	free(txt);
}

static void replays_to_tpm(const char *dir)
{
	struct bootlog l;
	uint8_t *buf, pcrs[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST];
	uint32_t used;
	char err[256];

	load(dir, &l, &buf);
	assert_int_equal(l.nbanks, 4);
	assert_int_equal(bootlog_replay(&l, 0x000b, pcrs, &used, err, sizeof(err)), 0);
	assert_int_equal(used & 0x3ff, 0x2ff); /* 0-7 and 9; this boot path leaves 8 alone */
	check_pcrread(dir, pcrs, used);
	assert_int_equal(bootlog_replay(&l, 0x0012, pcrs, &used, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no"));
	bootlog_free(&l);
	free(buf);
}

static void test_replay_sb_off(void **state)
{
	replays_to_tpm("ovmf-sb-off");
}

static void test_replay_sb_on(void **state)
{
	replays_to_tpm("ovmf-sb-on");
}

/* tpm2_eventlog prints a blank line between documents; otherwise the bytes are the same. */
static void yaml_like_tpm2_eventlog(const char *dir)
{
	struct bootlog l;
	uint8_t *buf, *want;
	char *got = NULL, *w, *o;
	size_t glen = 0, wlen;
	FILE *f = open_memstream(&got, &glen);

	load(dir, &l, &buf);
	assert_int_equal(bootlog_render_yaml(f, &l), 0);
	fclose(f);
	want = slurp(dir, "tpm2_eventlog.yaml", &wlen);
	for (w = o = (char *)want; *w; w++) /* drop empty lines */
		if (!(*w == '\n' && (w == (char *)want || w[-1] == '\n')))
			*o++ = *w;
	*o = '\0';
	assert_string_equal(got, (char *)want);
	free(got);
	free(want);
	bootlog_free(&l);
	free(buf);
}

static void test_yaml_sb_off(void **state)
{
	yaml_like_tpm2_eventlog("ovmf-sb-off");
}

static void test_yaml_sb_on(void **state)
{
	yaml_like_tpm2_eventlog("ovmf-sb-on");
}

static void test_facts(void **state)
{
	struct bootlog l;
	struct bootlog_facts f;
	uint8_t *buf;
	char err[256];

	load("ovmf-sb-on", &l, &buf);
	assert_int_equal(bootlog_facts(&l, &f, err, sizeof(err)), 0);
	assert_int_equal(f.secure_boot, 1);
	assert_true(f.pk.present && f.kek.present && f.db.present && f.dbx.present);
	assert_int_equal(f.pk.entries, 1); /* the snakeoil certificate */
	assert_int_equal(f.db.entries, 1);
	assert_memory_equal(f.kek.sha256, f.db.sha256, 32); /* the same certificate enrolled twice */
	assert_true(f.initrd && f.exit_boot_services);
	assert_int_equal(f.separators & 0xff, 0xff);
	assert_int_equal(f.separator_errors, 0);
	assert_null(f.cmdline);
	bootlog_facts_free(&f);
	bootlog_free(&l);
	free(buf);

	load("ovmf-sb-off", &l, &buf);
	assert_int_equal(bootlog_facts(&l, &f, err, sizeof(err)), 0);
	assert_int_equal(f.secure_boot, 0);
	assert_int_equal(f.pk.len, 0);
	assert_int_equal(f.apps, 1); /* the kernel, loaded by the firmware */
	bootlog_facts_free(&f);
	bootlog_free(&l);
	free(buf);
}

/* Every prefix of a real log is either a valid shorter log (cut between events) or an error. */
static void test_truncations(void **state)
{
	struct bootlog l;
	size_t len, ok = 0;
	uint8_t *buf = slurp("ovmf-sb-on", "boot.bin", &len), *copy;
	char err[256];

	for (size_t n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		if (!bootlog_parse(copy, n, &l, err, sizeof(err))) {
			size_t last = l.n - 1;
			/* accepted only at an event boundary */
			assert_int_equal(n, l.events[last].data + l.events[last].size - copy);
			ok++;
			bootlog_free(&l);
		} else {
			assert_true(err[0] != '\0');
		}
		free(copy);
	}
	/* the Spec ID event alone, then after each event but the last (n < len): 1 + 21 */
	assert_int_equal(ok, 22);
	free(buf);
}

static int parse_mod(size_t off, const void *bytes, size_t n, char *err)
{
	struct bootlog l;
	size_t len;
	uint8_t *buf = slurp("ovmf-sb-off", "boot.bin", &len);
	int ret;

	memcpy(buf + off, bytes, n);
	ret = bootlog_parse(buf, len, &l, err, 256);
	if (!ret)
		bootlog_free(&l);
	free(buf);
	return ret;
}

static void test_hostile(void **state)
{
	char err[256];
	const uint8_t big[4] = {0xff, 0xff, 0xff, 0x7f}, five[4] = {5, 0, 0, 0}, one[4] = {1, 0, 0, 0};
	const uint8_t sm3[2] = {0x12, 0x00}, pcr99[4] = {99, 0, 0, 0};
	/* the first event: its type, signature, size; the number of algorithms */
	assert_int_equal(parse_mod(4, one, 4, err), -1);
	assert_non_null(strstr(err, "Spec ID"));
	assert_int_equal(parse_mod(32, "Spec ID Event02", 15, err), -1);
	assert_int_equal(parse_mod(28, big, 4, err), -1);
	assert_non_null(strstr(err, "runs past"));
	assert_int_equal(parse_mod(32 + 24, big, 4, err), -1);
	assert_non_null(strstr(err, "algorithms"));
	assert_int_equal(parse_mod(32 + 24, five, 4, err), -1);
	/* the first TCG_PCR_EVENT2 starts at 32 + 45: pcr, type, count, then sha1's alg id */
	assert_int_equal(parse_mod(77, pcr99, 4, err), -1);
	assert_non_null(strstr(err, "PCR 99"));
	assert_int_equal(parse_mod(77 + 8, one, 4, err), -1);
	assert_non_null(strstr(err, "1 digests"));
	assert_int_equal(parse_mod(77 + 12, sm3, 2, err), -1);
	assert_non_null(strstr(err, "not in the Spec ID"));
	assert_int_equal(parse_mod(77 + 12 + 22, "\x04\x00", 2, err), -1); /* sha1 again */
	assert_non_null(strstr(err, "twice"));
	/* the event size: sha1 20 + sha256 32 + sha384 48 + sha512 64 + 4 ids * 2 after the count */
	assert_int_equal(parse_mod(77 + 12 + 172, big, 4, err), -1);
	assert_non_null(strstr(err, "runs past"));
}

/* The kernel's file ends with the last event: padding or garbage after it is rejected. */
static void test_trailing(void **state)
{
	struct bootlog l;
	size_t len;
	uint8_t *buf = slurp("ovmf-sb-off", "boot.bin", &len), *pad;
	char err[256];

	assert_int_equal(bootlog_parse(buf, len, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 25); /* EventNum 0 to 24, as tpm2_eventlog numbers them */
	bootlog_free(&l);
	pad = calloc(1, len + 4096);
	memcpy(pad, buf, len);
	assert_int_equal(bootlog_parse(pad, len + 4096, &l, err, sizeof(err)), -1);
	pad[len + 100] = 1;
	assert_int_equal(bootlog_parse(pad, len + 4096, &l, err, sizeof(err)), -1);
	free(pad);
	free(buf);
}

/* A StartupLocality event sets PCR 0's initial value, and only as the first event. */
static void test_locality(void **state)
{
	static const uint8_t loc[] = "StartupLocality\0\x03";
	struct bootlog l;
	size_t len, evlen = 12 + 172 + 4 + 17;
	uint8_t *buf = slurp("ovmf-sb-off", "boot.bin", &len), *nb = calloc(1, len + evlen), *e;
	uint8_t a[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST], b[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST];
	uint32_t used;
	char err[256];

	assert_int_equal(bootlog_parse(buf, len, &l, err, sizeof(err)), 0);
	assert_int_equal(bootlog_replay(&l, 0x000b, a, &used, err, sizeof(err)), 0);
	bootlog_free(&l);
	/* insert an EV_NO_ACTION StartupLocality(3) event right after the Spec ID event */
	memcpy(nb, buf, 77);
	e = nb + 77;
	e[4] = EV_NO_ACTION;
	e[8] = 4;
	memcpy(e + 12, "\x04\x00", 2);
	memcpy(e + 12 + 22, "\x0b\x00", 2);
	memcpy(e + 12 + 22 + 34, "\x0c\x00", 2);
	memcpy(e + 12 + 22 + 34 + 50, "\x0d\x00", 2);
	e[12 + 172] = 17;
	memcpy(e + 12 + 172 + 4, loc, 17);
	memcpy(nb + 77 + evlen, buf + 77, len - 77);
	assert_int_equal(bootlog_parse(nb, len + evlen, &l, err, sizeof(err)), 0);
	assert_int_equal(l.startup_locality, 3);
	assert_int_equal(bootlog_replay(&l, 0x000b, b, &used, err, sizeof(err)), 0);
	assert_memory_not_equal(a[0], b[0], 32);
	assert_memory_equal(a[1], b[1], 32);
	bootlog_free(&l);
	free(nb);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_sb_off), cmocka_unit_test(test_replay_sb_on),
	    cmocka_unit_test(test_yaml_sb_off),	  cmocka_unit_test(test_yaml_sb_on),
	    cmocka_unit_test(test_facts),	  cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_hostile),	  cmocka_unit_test(test_trailing),
	    cmocka_unit_test(test_locality),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
