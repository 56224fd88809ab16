/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * eventlog.h - the host-wide event log (TCG CEL, docs/cel.md) and its binding to the TPM.
 *
 * One log per boot at <statedir>/<boot_id>/events.cel, shared by every aicert writer on the host
 * through a flock on events.lock taken per append: a record is written and fsync'ed, then the
 * dedicated PCR is extended in every allocated bank with the record's digests. A new log starts
 * with a baseline record holding the PCR's values. Opening a log checks its replay against the
 * PCR and repairs a torn tail (truncated, then a recovery record says what was dropped).
 * Measurements are queued and flushed as one batch record at most batch_hz times a second and
 * once at run end, so TPM commands per run do not grow with the number of files.
 * With no_tpm the PCR is simulated in software (a hash chain from zeros) in a separate log,
 * events-unattested.cel, so unattested records can never break the TPM log's replay.
 *
 * Functions return 0 or a negative errno and log what failed.
 */
#ifndef AICERT_TRACE_EVENTLOG_H
#define AICERT_TRACE_EVENTLOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cel.h"
#include "trace/tpm.h"

#define EVLOG_STATEDIR "/var/lib/aicert"
#define EVLOG_BATCH_HZ 10

struct evlog_opts {
	const char *statedir; /* NULL: EVLOG_STATEDIR */
	const char *tcti;     /* NULL: tpm_open()'s conventions */
	uint32_t pcr;	      /* 0: TPM_PCR_DEFAULT */
	bool allow_resettable;
	bool no_tpm;
	unsigned batch_hz;     /* 0: EVLOG_BATCH_HZ */
	struct tpm_ak_opts ak; /* zero: ECC AK at TPM_AK_HANDLE_DEFAULT */
	const char *boot_id;   /* NULL: /proc/sys/kernel/random/boot_id (tests set it) */
	int tpm_timeout_ms;    /* per TPM command; 0: TPM_TIMEOUT_DEFAULT_MS */
};

struct evlog_run_info {
	const char *run_id; /* 36-character UUID */
	const char *const *argv;
	size_t argc;
	const char *cwd;
	uint32_t uid;
	const uint8_t *policy_sha256; /* 32 bytes, NULL: zeros */
	const char *backend;
	const uint8_t *nonce; /* the verifier's challenge (--nonce); NULL: none */
	size_t nonce_len;     /* at most CEL_NONCE_MAX */
};

struct evlog;

/* A new log's first record is the baseline: the PCR values, the boot id, and the host name and
 * kernel release from uname(2). */
int evlog_open(const struct evlog_opts *opts, struct evlog **out);
/* Stops the flusher (without a run_end record if none was written), releases everything. */
void evlog_close(struct evlog *ev);

/* Appends the run_start record (run id, argv, cwd, uid, policy, backend, version, the sha256 of
 * /proc/self/exe, the nonce if any: proof that the run began after the challenge) and starts
 * the batch flusher. */
int evlog_run_start(struct evlog *ev, const struct evlog_run_info *ri);
/* Queues one file measurement (thread-safe, no I/O). Returns an earlier flush error if any. */
int evlog_measure(struct evlog *ev, const char *path, const uint8_t sha256[32], uint64_t size,
		  uint32_t roles, uint32_t status);
/* Adds n lost events; written as a loss record with the next flush. */
int evlog_loss(struct evlog *ev, uint64_t n);

struct evlog_run_end {
	int exit_status; /* as the shell reports it: 128+N for a signal */
	int signal;	 /* 0, or the signal that killed the command */
	bool detached;	 /* processes of the command outlived it */
	uint64_t paths_truncated;
	const struct cel_output *outputs; /* path, sha256 (zeros: none), size */
	size_t n_outputs;
};

/* Flushes the queue, then appends the run_end record. */
int evlog_run_end(struct evlog *ev, const struct evlog_run_end *re);

/*
 * Writes the host log as it is now to out_path, with the records of runs other than run_id
 * (NULL: this handle's run) redacted. Keeps the log locked, so no writer extends the PCR until
 * evlog_quote() or evlog_close(): the exported log replays to the PCR value the quote sees.
 */
int evlog_export(struct evlog *ev, const char *run_id, const char *out_path);
/* Quote over the dedicated PCR and PCR 10 into dir (quote.msg, quote.sig, ak.pub.pem,
 * ak.cert.pem), then releases the lock evlog_export() took. With no_tpm it writes nothing and
 * returns -ENOTSUP. */
int evlog_quote(struct evlog *ev, const uint8_t *qual, size_t len, const char *dir);

uint64_t evlog_tpm_commands(const struct evlog *ev);
bool evlog_attested(const struct evlog *ev);
const char *evlog_path(const struct evlog *ev);
uint32_t evlog_pcr(const struct evlog *ev);
/* Records this handle appended (baseline and recovery included) and batch records among them. */
uint64_t evlog_records(const struct evlog *ev);
uint64_t evlog_batches(const struct evlog *ev);

#endif
