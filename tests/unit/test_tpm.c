// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_tpm.c - tpm.c against a real swtpm, started here through tests/lib/swtpm.sh; the
 * results are cross-checked with tpm2-tools (tpm2_pcrread, tpm2_checkquote).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/hex.h"
#include "lib/log.h"
#include "trace/tpm.h"
#include "swtpm_helper.h"

/* Runs f with stderr captured into buf (the logger writes there). */
static int capture_stderr(int (*f)(void *), void *arg, char *buf, size_t len)
{
	char path[] = "/tmp/aicert-test-stderr.XXXXXX";
	int fd = mkstemp(path), saved = dup(2), ret;
	ssize_t n;

	assert_true(fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	ret = f(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	return ret;
}

/* ---- tests ---- */

static int open_tcti(void *arg)
{
	struct tpm *t = NULL;
	int ret = tpm_open(arg, 0, &t);

	tpm_close(t);
	return ret;
}

static void test_wrong_tcti(void **state)
{
	char out[2048];

	assert_int_not_equal(
	    capture_stderr(open_tcti, "swtpm:host=127.0.0.1,port=1", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "no TPM reachable"));
	assert_non_null(strstr(out, "swtpm:host=127.0.0.1,port=1"));
	/* without --tcti: every environment convention that is set is tried and named */
	setenv("TPM2TOOLS_TCTI", "swtpm:host=127.0.0.1,port=3", 1);
	setenv("TCTI", "mssim:host=127.0.0.1,port=5", 1);
	assert_int_not_equal(capture_stderr(open_tcti, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "port=3"));
	assert_non_null(strstr(out, "mssim:host=127.0.0.1,port=5"));
	unsetenv("TCTI");
	/* and the first one that works wins */
	setenv("TPM2TOOLS_TCTI", swtpm_tcti, 1);
	assert_int_equal(open_tcti(NULL), 0);
	unsetenv("TPM2TOOLS_TCTI");
}

static void test_pcr_check(void **state)
{
	assert_int_equal(tpm_pcr_check(15, false), 0);
	assert_int_equal(tpm_pcr_check(23, false), -EPERM);
	assert_int_equal(tpm_pcr_check(16, false), -EPERM);
	assert_int_equal(tpm_pcr_check(23, true), 0);
	assert_int_equal(tpm_pcr_check(10, true), -EINVAL);
	assert_int_equal(tpm_pcr_check(24, true), -EINVAL);
}

/* PCR value as tpm2_pcrread prints it ("0x<HEX>"), lower-cased into out. */
static void pcrread(const char *bank, int pcr, char *out, size_t len)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "TPM2TOOLS_TCTI='%s' tpm2_pcrread %s:%d | sed -n 's/.*: 0x//p' | tr A-F a-f",
		 swtpm_tcti, bank, pcr);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, len, p));
	out[strcspn(out, "\n")] = 0;
	pclose(p);
}

static void test_extend_all_banks(void **state)
{
	struct tpm *t;
	uint16_t algs[CEL_MAX_BANKS];
	size_t n, len;
	struct cel_digests d = {0};
	uint8_t before[CEL_MAX_BANKS][CEL_MAX_DIGEST], after[CEL_MAX_DIGEST];
	char hex[2 * CEL_MAX_DIGEST + 1], tool[256];
	bool sha1 = false, sha256 = false;

	assert_int_equal(tpm_open(swtpm_tcti, 0, &t), 0);
	assert_int_equal(tpm_banks(t, 15, algs, &n), 0);
	for (size_t i = 0; i < n; i++) {
		sha1 |= algs[i] == TPM2_ALG_SHA1;
		sha256 |= algs[i] == TPM2_ALG_SHA256;
		assert_int_equal(tpm_pcr_read(t, 15, algs[i], before[i], &len), 0);
		assert_int_equal(len, cel_alg_size(algs[i]));
		assert_int_equal(
		    cel_content_digest(algs[i], CEL_CT_AICERT, (const uint8_t *)"x", 1, &d.v[i]),
		    0);
	}
	assert_true(sha1 && sha256);
	d.n = n;
	assert_int_equal(tpm_pcr_extend(t, 15, &d), 0);
	for (size_t i = 0; i < n; i++) {
		/* what the TPM holds == the software extend == what tpm2_pcrread shows */
		assert_int_equal(cel_extend(algs[i], before[i], d.v[i].d), 0);
		assert_int_equal(tpm_pcr_read(t, 15, algs[i], after, &len), 0);
		assert_memory_equal(after, before[i], len);
		hex_encode(after, len, hex);
		pcrread(cel_alg_name(algs[i]), 15, tool, sizeof(tool));
		assert_string_equal(tool, hex);
	}
	tpm_close(t);
}

static int quote_to(const char *tcti, enum tpm_ak_alg alg, uint32_t handle, const char *dir,
		    const uint8_t *q, size_t qlen)
{
	struct tpm *t;
	struct tpm_ak_opts ak = {.handle = handle, .alg = alg};
	int ret;

	if ((ret = tpm_open(tcti, 0, &t)))
		return ret;
	ret = tpm_quote(t, &ak, 15, q, qlen, dir);
	tpm_close(t);
	return ret;
}

static int checkquote(const char *dir, const char *qhex)
{
	return sh("cd %s && TPM2TOOLS_TCTI= tpm2_checkquote -u ak.pub.pem -m quote.msg "
		  "-s quote.sig -q %s -g sha256 > /dev/null 2>&1",
		  dir, qhex);
}

static void test_quote_checkquote(void **state)
{
	char dir[] = "/tmp/aicert-test-quote.XXXXXX", qhex[65];
	uint8_t q[32];
	unsigned n;

	assert_non_null(mkdtemp(dir));
	EVP_Digest("bundle", 6, q, &n, EVP_sha256(), NULL);
	hex_encode(q, 32, qhex);
	assert_int_equal(quote_to(swtpm_tcti, TPM_AK_ECC, 0, dir, q, 32), 0);
	assert_int_equal(checkquote(dir, qhex), 0);
	/* a different nonce is rejected, so the check above meant something */
	qhex[0] = qhex[0] == '0' ? '1' : '0';
	assert_int_not_equal(checkquote(dir, qhex), 0);
	/* the persisted AK is reused: same public key on a second quote */
	assert_int_equal(sh("cp %s/ak.pub.pem %s/first.pem", dir, dir), 0);
	assert_int_equal(quote_to(swtpm_tcti, TPM_AK_ECC, 0, dir, q, 32), 0);
	assert_int_equal(sh("cmp -s %s/ak.pub.pem %s/first.pem", dir, dir), 0);
	assert_int_equal(
	    sh("TPM2TOOLS_TCTI='%s' tpm2_getcap handles-persistent | grep -qi 0x81010020",
	       swtpm_tcti),
	    0);
	/* no AK certificate provisioned: none written, quietly */
	assert_int_not_equal(access("/tmp/nonexistent-aicert", F_OK), 0);
	sh("rm -rf %s", dir);
}

static void test_quote_rsa_and_mismatch(void **state)
{
	char dir[] = "/tmp/aicert-test-quote.XXXXXX", qhex[] = "00112233";
	uint8_t q[4] = {0x00, 0x11, 0x22, 0x33};

	assert_non_null(mkdtemp(dir));
	assert_int_equal(quote_to(swtpm_tcti, TPM_AK_RSA, 0x81010021, dir, q, 4), 0);
	assert_int_equal(checkquote(dir, qhex), 0);
	assert_int_equal(sh("grep -q 'BEGIN PUBLIC KEY' %s/ak.pub.pem && openssl pkey -pubin -in "
			    "%s/ak.pub.pem -noout -text | grep -q 2048",
			    dir, dir),
			 0);
	/* an RSA AK is asked for at the handle that holds the ECC one: refused */
	assert_int_equal(quote_to(swtpm_tcti, TPM_AK_RSA, TPM_AK_HANDLE_DEFAULT, dir, q, 4),
			 -EEXIST);
	/* qualifying data longer than TPM2B_DATA */
	{
		uint8_t big[65] = {0};

		assert_int_equal(quote_to(swtpm_tcti, TPM_AK_ECC, 0, dir, big, sizeof(big)),
				 -EINVAL);
	}
	sh("rm -rf %s", dir);
}

/* An AK certificate in NV 0x01C101D0 (as a platform provisions it) lands in ak.cert.pem. */
static void test_ak_cert(void **state)
{
	char dir[] = "/tmp/aicert-test-cert.XXXXXX";
	uint8_t q[1] = {1};

	assert_non_null(mkdtemp(dir));
	assert_int_equal(quote_to(swtpm_tcti, TPM_AK_ECC, 0, dir, q, 1), 0);
	assert_int_not_equal(access(dir, F_OK), -1);
	assert_int_equal(
	    sh("cd %s && test ! -e ak.cert.pem && "
	       "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	       "-keyout ca.key -out ca.pem -subj /CN=test-ca -days 1 2>/dev/null && "
	       "openssl x509 -new -subj /CN=aicert-ak -force_pubkey ak.pub.pem "
	       "-CA ca.pem -CAkey ca.key -days 1 -outform DER -out ak.der 2>/dev/null && "
	       "export TPM2TOOLS_TCTI='%s' && "
	       "tpm2_nvdefine 0x01C101D0 -C o -s $(stat -c %%s ak.der) "
	       "-a 'ownerread|ownerwrite|authread|authwrite' >/dev/null && "
	       "tpm2_nvwrite 0x01C101D0 -C o -i ak.der",
	       dir, swtpm_tcti),
	    0);
	assert_int_equal(quote_to(swtpm_tcti, TPM_AK_ECC, 0, dir, q, 1), 0);
	assert_int_equal(sh("cd %s && openssl x509 -in ak.cert.pem -noout -pubkey | "
			    "cmp -s - ak.pub.pem && openssl verify -CAfile ca.pem ak.cert.pem "
			    ">/dev/null",
			    dir),
			 0);
	sh("TPM2TOOLS_TCTI='%s' tpm2_nvundefine 0x01C101D0 -C o; rm -rf %s", swtpm_tcti, dir);
}

static void test_command_count(void **state)
{
	struct tpm *t;
	struct cel_digests d = {.n = 1, .v = {{.alg = TPM2_ALG_SHA256, .len = 32}}};
	uint64_t c;

	assert_int_equal(tpm_open(swtpm_tcti, 0, &t), 0);
	c = tpm_commands(t);
	/* extending only one bank of several is the caller's bug, and the TPM accepts it:
	 * the count is what is checked here */
	assert_int_equal(tpm_pcr_extend(t, 14, &d), 0);
	assert_int_equal(tpm_commands(t), c + 1);
	tpm_close(t);
}

/* A stopped TPM (SIGSTOP): the command fails after the timeout, the next one at once. */
static void test_hung_tpm(void **state)
{
	struct tpm *t;
	uint8_t v[CEL_MAX_DIGEST];
	size_t len;
	struct timespec a, b;
	bool safe = false;

	(void)state;
	assert_int_equal(tpm_open(swtpm_tcti, 300, &t), 0);
	assert_int_equal(tpm_clock_safe(t, &safe), 0);
	assert_int_equal(sh("kill -STOP $(cat %s/swtpm.pid)", swtpm_dir), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(tpm_pcr_read(t, 15, TPM2_ALG_SHA256, v, &len), -ETIMEDOUT);
	assert_int_equal(tpm_pcr_read(t, 15, TPM2_ALG_SHA256, v, &len), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	tpm_close(t);
	assert_int_equal(sh("kill -CONT $(cat %s/swtpm.pid)", swtpm_dir), 0);
	/* one timeout, not two, and not a hang */
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 1500);
	/* opening a stopped TPM (the swtpm TCTI talks to it while it initialises) */
	assert_int_equal(sh("kill -STOP $(cat %s/swtpm.pid)", swtpm_dir), 0);
	assert_int_equal(tpm_open(swtpm_tcti, 300, &t), -ETIMEDOUT);
	assert_int_equal(sh("kill -CONT $(cat %s/swtpm.pid)", swtpm_dir), 0);
	/* the TPM answers again: a new handle works */
	assert_int_equal(tpm_open(swtpm_tcti, 0, &t), 0);
	assert_int_equal(tpm_pcr_read(t, 15, TPM2_ALG_SHA256, v, &len), 0);
	tpm_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pcr_check),
	    cmocka_unit_test(test_wrong_tcti),
	    cmocka_unit_test(test_extend_all_banks),
	    cmocka_unit_test(test_quote_checkquote),
	    cmocka_unit_test(test_quote_rsa_and_mismatch),
	    cmocka_unit_test(test_ak_cert),
	    cmocka_unit_test(test_command_count),
	    cmocka_unit_test(test_hung_tpm),
	};

	log_init("test_tpm", LOG_WARN);
	return swtpm_main(tests);
}
