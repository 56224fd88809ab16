/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hostopts.h - the values of the options that describe how a host traces (backend, PCR, AK,
 * TPM timeout, extend rate, hash threads), parsed alike by aicert-trace and aicertd: the same
 * rules and the same messages. Each returns 0, or -1 with "<where>--<option>: why" said;
 * where is "" on the command line and "FILE:LINE:COL: " in aicertd's --config.
 */
#ifndef AICERT_TRACE_HOSTOPTS_H
#define AICERT_TRACE_HOSTOPTS_H
#include <stdint.h>

#include "trace/access.h"
#include "trace/tpm.h"

/* A decimal integer in [lo, hi], nothing else; 0 or -1 (nothing said). */
int hostopt_int(const char *s, int lo, int hi, int *out);
int hostopt_backend(const char *where, const char *arg, enum access_backend *out);
int hostopt_pcr(const char *where, const char *arg, int *out);
int hostopt_ak_alg(const char *where, const char *arg, enum tpm_ak_alg *out);
int hostopt_ak_handle(const char *where, const char *arg, uint32_t *out);
int hostopt_tpm_timeout(const char *where, const char *arg, int *out);
int hostopt_extend_rate(const char *where, const char *arg, int *out);
int hostopt_jobs(const char *where, const char *arg, int *out);

#endif
