/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmguard.h - a TCTI that bounds the time of every TPM command. It wraps the real TCTI and runs
 * each transmit and receive on a worker thread, waiting at most timeout_ms for it: the TCTIs of
 * tpm2-tss 3.2 block for as long as the TPM does not answer (the swtpm and mssim TCTIs ignore
 * the receive timeout and offer no poll handle), so a stopped or hung TPM would hang aicert.
 * After one expiry the worker stays stuck in the real TCTI, and every later command fails at
 * once: the TPM is treated as gone.
 */
#ifndef AICERT_TRACE_TPMGUARD_H
#define AICERT_TRACE_TPMGUARD_H
#include <stdbool.h>

#include <tss2/tss2_tcti.h>

/*
 * Tss2_TctiLdr_Initialize(conf) within timeout_ms: the swtpm TCTI talks to the TPM's control
 * port while it initialises. Returns its result, or TSS2_TCTI_RC_IO_ERROR with *timed_out set
 * when it did not return in time (the attempt is abandoned, its thread left behind).
 */
TSS2_RC tpmguard_init(const char *conf, int timeout_ms, TSS2_TCTI_CONTEXT **out, bool *timed_out);

/* Takes ownership of inner (finalized with Tss2_TctiLdr_Finalize). NULL when out of memory or
 * no thread can start; inner is then still the caller's. */
TSS2_TCTI_CONTEXT *tpmguard_new(TSS2_TCTI_CONTEXT *inner, int timeout_ms);
/* Finalizes the guard and the TCTI it wraps (left alone, leaked, when a command hung). */
void tpmguard_free(TSS2_TCTI_CONTEXT *guard);
/* Whether a command has run past the timeout. */
bool tpmguard_hung(const TSS2_TCTI_CONTEXT *guard);

#endif
