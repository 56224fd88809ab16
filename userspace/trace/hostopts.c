// SPDX-License-Identifier: BSD-2-Clause
/* hostopts.c - see hostopts.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "trace/hostopts.h"

int hostopt_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int hostopt_backend(const char *where, const char *arg, enum access_backend *out)
{
	int b = access_backend_parse(arg);

	if (b < 0) {
		log_err("%s--backend: '%s' is not one of auto, lsm, tracepoint", where, arg);
		return -1;
	}
	*out = b;
	return 0;
}

int hostopt_pcr(const char *where, const char *arg, int *out)
{
	if (hostopt_int(arg, 0, 23, out)) {
		log_err("%s--pcr: '%s' is not a PCR index (0-23)", where, arg);
		return -1;
	}
	return 0;
}

int hostopt_ak_alg(const char *where, const char *arg, enum tpm_ak_alg *out)
{
	if (strcmp(arg, "ecc") && strcmp(arg, "rsa")) {
		log_err("%s--ak-alg: '%s' is not ecc or rsa", where, arg);
		return -1;
	}
	*out = arg[0] == 'r' ? TPM_AK_RSA : TPM_AK_ECC;
	return 0;
}

int hostopt_ak_handle(const char *where, const char *arg, uint32_t *out)
{
	char *end;
	unsigned long h = strtoul(arg, &end, 16);

	/* persistent handles live in 0x81000000-0x81FFFFFF */
	if (*end || (h >> 24) != 0x81) {
		log_err("%s--ak-handle: '%s' is not a persistent handle (0x81xxxxxx)", where, arg);
		return -1;
	}
	*out = (uint32_t)h;
	return 0;
}

int hostopt_tpm_timeout(const char *where, const char *arg, int *out)
{
	if (hostopt_int(arg, 1, 3600, out)) {
		log_err("%s--tpm-timeout: '%s' is not a number of seconds from 1 to 3600", where,
			arg);
		return -1;
	}
	return 0;
}

int hostopt_extend_rate(const char *where, const char *arg, int *out)
{
	if (hostopt_int(arg, 1, 1000, out)) {
		log_err("%s--extend-rate: '%s' is not a number from 1 to 1000", where, arg);
		return -1;
	}
	return 0;
}

int hostopt_jobs(const char *where, const char *arg, int *out)
{
	if (hostopt_int(arg, 1, 1024, out)) {
		log_err("%s--jobs: '%s' is not a number from 1 to 1024", where, arg);
		return -1;
	}
	return 0;
}
