/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * swtpm_helper.h - a real swtpm for the unit tests that need a TPM (test_tpm.c,
 * test_eventlog.c), started through tests/lib/swtpm.sh so they share its port choice and
 * startup. A header, not a .c: the Makefile links every test from its one .c file.
 *
 *   swtpm_main(tests)           starts swtpm, runs the cmocka group, stops swtpm; without swtpm
 *                               it prints SKIPPED and fails only under CI=true
 *   swtpm_tcti                  the TCTI of the running swtpm ("swtpm:host=127.0.0.1,port=N")
 *   sh(fmt, ...)                runs a shell command, returns its exit status
 */
#ifndef AICERT_TEST_SWTPM_HELPER_H
#define AICERT_TEST_SWTPM_HELPER_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char swtpm_dir[256], swtpm_tcti[128];

/* 0, or 77 when swtpm cannot run here (the caller skips loudly). */
static int swtpm_up(void)
{
	FILE *p = popen("bash -c '. tests/lib/swtpm.sh && swtpm_start >&2 && trap - EXIT && "
			"echo \"$SWTPM_DIR $AICERT_TCTI\"'",
			"r");
	int rc;

	if (!p)
		return 77;
	rc = fscanf(p, "%255s %127s", swtpm_dir, swtpm_tcti) == 2 ? 0 : 77;
	if (pclose(p) != 0)
		rc = 77;
	return rc;
}

static void swtpm_down(void)
{
	char cmd[600];

	if (!swtpm_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "kill $(cat %s/swtpm.pid) 2>/dev/null; sleep 0.2; rm -rf %s",
		 swtpm_dir, swtpm_dir);
	if (system(cmd))
		fprintf(stderr, "could not stop swtpm in %s\n", swtpm_dir);
	swtpm_dir[0] = 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The TCTI variables of the caller's environment must not pick another TPM than ours. */
#define swtpm_main(tests)                                                                          \
	({                                                                                         \
		int rc_;                                                                           \
		unsetenv("TPM2TOOLS_TCTI");                                                        \
		unsetenv("TCTI");                                                                  \
		unsetenv("TSS2_TCTI");                                                             \
		if (swtpm_up()) {                                                                  \
			printf("SKIPPED: swtpm could not be started (tests/lib/swtpm.sh)\n");      \
			rc_ = getenv("CI") && !strcmp(getenv("CI"), "true") ? 1 : 0;               \
		} else {                                                                           \
			rc_ = cmocka_run_group_tests(tests, NULL, NULL);                           \
			swtpm_down();                                                              \
		}                                                                                  \
		rc_;                                                                               \
	})

#endif
