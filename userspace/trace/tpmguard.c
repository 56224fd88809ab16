// SPDX-License-Identifier: BSD-2-Clause
/* tpmguard.c - every TPM transmit and receive with a deadline (see tpmguard.h for why). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_tpm2_types.h>

#include "trace/tpmguard.h"

#define GUARD_MAGIC 0x61696365727467ull /* "aicertg" */

enum op { OP_NONE, OP_TRANSMIT, OP_RECEIVE, OP_QUIT };

struct guard {
	TSS2_TCTI_CONTEXT_COMMON_V2 common; /* first: what ESAPI calls through */
	TSS2_TCTI_CONTEXT *inner;
	int timeout_ms;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum op op; /* the job, OP_NONE once done */
	/* the worker's own copy of the command or response: after an expiry it may still write
	 * into it, never into the caller's memory */
	uint8_t buf[TPM2_MAX_COMMAND_SIZE > TPM2_MAX_RESPONSE_SIZE ? TPM2_MAX_COMMAND_SIZE
								   : TPM2_MAX_RESPONSE_SIZE];
	size_t size;
	bool want_resp; /* receive into buf, not only the size */
	int32_t rtimeout;
	TSS2_RC rc;
	bool hung;	  /* a job ran past the deadline: the caller gave up on it */
	bool worker_done; /* the late job ended: the worker closed the TCTI and returned */
	bool abandoned;	  /* tpmguard_free() came first: the worker frees the guard */
};

static struct guard *guard_of(TSS2_TCTI_CONTEXT *c)
{
	return (struct guard *)c;
}

/* A job that ended after its caller gave up: finish the exchange (the response is still on the
 * wire, and swtpm serves no one else until it is read) and close the TCTI. */
static void abandon(struct guard *g, enum op op, TSS2_RC rc)
{
	size_t n = sizeof(g->buf);
	bool free_it;

	if (rc == TSS2_RC_SUCCESS && (op == OP_TRANSMIT || !g->want_resp))
		Tss2_Tcti_Receive(g->inner, &n, g->buf, TSS2_TCTI_TIMEOUT_BLOCK);
	Tss2_TctiLdr_Finalize(&g->inner);
	pthread_mutex_lock(&g->mu);
	g->worker_done = true;
	free_it = g->abandoned;
	pthread_mutex_unlock(&g->mu);
	if (free_it) {
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
	}
}

static void *worker(void *arg)
{
	struct guard *g = arg;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (g->op == OP_NONE)
			pthread_cond_wait(&g->cv, &g->mu);
		if (g->op == OP_QUIT)
			break;
		enum op op = g->op;

		/* the job's fields are the worker's until op goes back to OP_NONE */
		pthread_mutex_unlock(&g->mu);
		TSS2_RC rc = op == OP_TRANSMIT
				 ? Tss2_Tcti_Transmit(g->inner, g->size, g->buf)
				 : Tss2_Tcti_Receive(g->inner, &g->size,
						     g->want_resp ? g->buf : NULL, g->rtimeout);
		pthread_mutex_lock(&g->mu);
		if (g->hung) {
			pthread_mutex_unlock(&g->mu);
			abandon(g, op, rc);
			return NULL;
		}
		g->rc = rc;
		g->op = OP_NONE;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static void deadline_in(struct timespec *dl, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000L;
	dl->tv_sec += dl->tv_nsec / 1000000000L;
	dl->tv_nsec %= 1000000000L;
}

/* One initialisation, shared by the caller and its thread; the last one out frees it. */
struct init_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *conf;
	TSS2_TCTI_CONTEXT *ctx;
	TSS2_RC rc;
	bool done, abandoned;
};

static void init_job_free(struct init_job *j)
{
	if (j->ctx)
		Tss2_TctiLdr_Finalize(&j->ctx);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j->conf);
	free(j);
}

static void *init_thread(void *arg)
{
	struct init_job *j = arg;
	TSS2_TCTI_CONTEXT *ctx = NULL;
	TSS2_RC rc = Tss2_TctiLdr_Initialize(j->conf, &ctx);
	bool abandoned;

	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->ctx = ctx;
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned)
		init_job_free(j);
	return NULL;
}

TSS2_RC tpmguard_init(const char *conf, int timeout_ms, TSS2_TCTI_CONTEXT **out, bool *timed_out)
{
	struct init_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;
	struct timespec dl;
	pthread_t thr;
	TSS2_RC rc;
	int e = 0;

	*timed_out = false;
	if (!j || !(j->conf = strdup(conf))) {
		free(j);
		return TSS2_TCTI_RC_MEMORY;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&thr, NULL, init_thread, j)) {
		init_job_free(j);
		return TSS2_TCTI_RC_MEMORY;
	}
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&j->mu);
	while (!j->done && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&j->cv, &j->mu, &dl);
	if (!j->done) {
		j->abandoned = true;
		*timed_out = true;
		pthread_mutex_unlock(&j->mu);
		pthread_detach(thr);
		return TSS2_TCTI_RC_IO_ERROR;
	}
	pthread_mutex_unlock(&j->mu);
	pthread_join(thr, NULL);
	rc = j->rc;
	*out = j->ctx;
	j->ctx = NULL;
	init_job_free(j);
	return rc;
}

/* Hands the job (already in g) to the worker; waits until it is done or the deadline passed. */
static TSS2_RC run(struct guard *g, enum op op)
{
	struct timespec dl;
	TSS2_RC rc;
	int e = 0;

	deadline_in(&dl, g->timeout_ms);
	g->op = op;
	pthread_cond_broadcast(&g->cv);
	while (g->op != OP_NONE && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&g->cv, &g->mu, &dl);
	if (g->op != OP_NONE) {
		g->hung = true;
		rc = TSS2_TCTI_RC_IO_ERROR;
	} else {
		rc = g->rc;
	}
	return rc;
}

static TSS2_RC guard_transmit(TSS2_TCTI_CONTEXT *c, size_t size, const uint8_t *cmd)
{
	struct guard *g = guard_of(c);
	TSS2_RC rc = TSS2_TCTI_RC_IO_ERROR;

	pthread_mutex_lock(&g->mu);
	if (size > sizeof(g->buf)) {
		rc = TSS2_TCTI_RC_BAD_VALUE;
	} else if (!g->hung) {
		memcpy(g->buf, cmd, size);
		g->size = size;
		rc = run(g, OP_TRANSMIT);
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

static TSS2_RC guard_receive(TSS2_TCTI_CONTEXT *c, size_t *size, uint8_t *resp, int32_t timeout)
{
	struct guard *g = guard_of(c);
	TSS2_RC rc = TSS2_TCTI_RC_IO_ERROR;

	pthread_mutex_lock(&g->mu);
	if (!g->hung) {
		g->size = resp && *size > sizeof(g->buf) ? sizeof(g->buf) : *size;
		g->want_resp = resp != NULL;
		g->rtimeout = timeout;
		rc = run(g, OP_RECEIVE);
		if (!g->hung) {
			/* on success or TSS2_TCTI_RC_INSUFFICIENT_BUFFER, the size it needs */
			if (resp && rc == TSS2_RC_SUCCESS)
				memcpy(resp, g->buf, g->size);
			*size = g->size;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

static TSS2_RC guard_cancel(TSS2_TCTI_CONTEXT *c)
{
	return guard_of(c)->hung ? TSS2_TCTI_RC_IO_ERROR : Tss2_Tcti_Cancel(guard_of(c)->inner);
}

static TSS2_RC guard_poll_handles(TSS2_TCTI_CONTEXT *c, TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
	(void)c, (void)h, (void)n;
	return TSS2_TCTI_RC_NOT_IMPLEMENTED; /* every call is synchronous through the worker */
}

static TSS2_RC guard_locality(TSS2_TCTI_CONTEXT *c, uint8_t locality)
{
	struct guard *g = guard_of(c);

	return g->hung ? TSS2_TCTI_RC_IO_ERROR : Tss2_Tcti_SetLocality(g->inner, locality);
}

static TSS2_RC guard_sticky(TSS2_TCTI_CONTEXT *c, TPM2_HANDLE *handle, uint8_t sticky)
{
	struct guard *g = guard_of(c);

	return g->hung ? TSS2_TCTI_RC_IO_ERROR : Tss2_Tcti_MakeSticky(g->inner, handle, sticky);
}

static void guard_finalize(TSS2_TCTI_CONTEXT *c)
{
	(void)c; /* tpmguard_free() does it: ESAPI never finalizes a TCTI it was given */
}

TSS2_TCTI_CONTEXT *tpmguard_new(TSS2_TCTI_CONTEXT *inner, int timeout_ms)
{
	struct guard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (!g)
		return NULL;
	g->common.v1.magic = GUARD_MAGIC;
	g->common.v1.version = 2;
	g->common.v1.transmit = guard_transmit;
	g->common.v1.receive = guard_receive;
	g->common.v1.finalize = guard_finalize;
	g->common.v1.cancel = guard_cancel;
	g->common.v1.getPollHandles = guard_poll_handles;
	g->common.v1.setLocality = guard_locality;
	g->common.makeSticky = guard_sticky;
	g->inner = inner;
	g->timeout_ms = timeout_ms;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->thr, NULL, worker, g)) {
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
		return NULL;
	}
	return (TSS2_TCTI_CONTEXT *)g;
}

void tpmguard_free(TSS2_TCTI_CONTEXT *c)
{
	struct guard *g = guard_of(c);

	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	if (g->hung && !g->worker_done) {
		/* the worker is inside the real TCTI and may never return: it frees the guard if
		 * it does, exit() otherwise */
		g->abandoned = true;
		pthread_mutex_unlock(&g->mu);
		pthread_detach(g->thr);
		return;
	}
	if (g->hung) {
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thr, NULL);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
		return;
	}
	g->op = OP_QUIT;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thr, NULL);
	Tss2_TctiLdr_Finalize(&g->inner);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

bool tpmguard_hung(const TSS2_TCTI_CONTEXT *c)
{
	const struct guard *g = (const struct guard *)c;

	return g && g->hung;
}
