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
	const struct job_info *job; /* NULL or scheduler NULL: the run is no job's */
};

struct evlog;	  /* the host log of this process: file, lock, TPM handle, AK, PCR state */
struct evlog_run; /* one run appending to it: queue, flusher thread, counters */

/* A new log's first record is the baseline: the PCR values, the boot id, and the host name and
 * kernel release from uname(2). */
int evlog_open(const struct evlog_opts *opts, struct evlog **out);
/* Tests only: when set, evlog_open() calls it just before it first takes the log's lock (another
 * writer's open can run there). NULL in the tools. */
extern void (*evlog_open_hook)(void);
/* Releases a seal in progress and everything else. Free every run first. */
void evlog_close(struct evlog *ev);

/* Appends the run_start record (run id, argv, cwd, uid, policy, backend, version, the sha256 of
 * /proc/self/exe, the nonce if any: proof that the run began after the challenge) and starts
 * the run's batch flusher. Many runs of one process may be open at once. */
int evlog_run_start(struct evlog *ev, const struct evlog_run_info *ri, struct evlog_run **out);
/* A run whose run_start is in the current log but which has no run_end (the process that wrote
 * it was killed): its counters are taken from the log, so its run_end adds up. -ENOENT when the
 * log has no such unended run. */
int evlog_run_resume(struct evlog *ev, const char *run_id, struct evlog_run **out);
/* Queues one file measurement (thread-safe, no I/O). Returns an earlier flush error if any. */
int evlog_measure(struct evlog_run *r, const char *path, const uint8_t sha256[32], uint64_t size,
		  uint32_t roles, uint32_t status);
/* Adds n lost events; written as a loss record with the next flush. */
int evlog_loss(struct evlog_run *r, uint64_t n);

struct evlog_run_end {
	int exit_status; /* as the shell reports it: 128+N for a signal */
	int signal;	 /* 0, or the signal that killed the command */
	bool detached;	 /* processes of the command outlived it */
	uint64_t paths_truncated;
	const struct cel_output *outputs; /* path, sha256 (zeros: none), size */
	size_t n_outputs;
};

/* Flushes the run's queue, then appends its run_end record. */
int evlog_run_end(struct evlog_run *r, const struct evlog_run_end *re);
/* Stops the flusher (without a run_end record if none was written) and frees the run. */
void evlog_run_free(struct evlog_run *r);
const char *evlog_run_id(const struct evlog_run *r);
/* Records this run appended (run_start, losses, batches, run_end) and batch records among them. */
uint64_t evlog_run_records(const struct evlog_run *r);
uint64_t evlog_run_batches(const struct evlog_run *r);
/* Events lost so far in the run (evlog_loss, and for a resumed run those the log holds). */
uint64_t evlog_run_lost(const struct evlog_run *r);

/*
 * Which records of an exported log stay in clear: those of run_id; with uid >= 0 also those of
 * every run whose run_start names that uid; with uid == EVLOG_VIEW_ALL every run's. Baseline
 * and recovery records are always in clear; everything else is reduced to its digests.
 */
#define EVLOG_VIEW_NOUID (-1)
#define EVLOG_VIEW_ALL (-2)
struct evlog_view {
	const char *run_id; /* NULL: none */
	int64_t uid;	    /* EVLOG_VIEW_NOUID, EVLOG_VIEW_ALL, or a uid */
};

/*
 * Sealing. evlog_export() writes the host log as it is now to out_path, redacted per the view
 * (NULL: only baseline and recovery records in clear), and holds the log: until evlog_quote()
 * or evlog_release(), no run of this process appends (they wait) and no other writer on the host
 * extends the PCR, so the exported log replays to the PCR value the quote sees. One seal at a
 * time per process: a second evlog_export() waits for the first to be released.
 */
int evlog_export(struct evlog *ev, const struct evlog_view *v, const char *out_path);
/* Quote over the dedicated PCR and PCR 10 into dir (quote.msg, quote.sig, ak.pub.pem,
 * ak.cert.pem), then releases the seal evlog_export() took (if any). With no_tpm it writes
 * nothing and returns -ENOTSUP. */
int evlog_quote(struct evlog *ev, const uint8_t *qual, size_t len, const char *dir);
/* Releases the seal without a quote (an error between export and quote, or no TPM). */
void evlog_release(struct evlog *ev);

/* The runs of the current log with a run_start and no run_end, in log order (aicertd restarted
 * after a crash). cb gets each run_start record, freed after cb returns; the log is not held
 * while cb runs, so cb may call evlog functions (run_recover does). */
int evlog_unended(struct evlog *ev, void (*cb)(const struct cel_event *run_start, void *ctx),
		  void *ctx);
/* Every file measurement (batch records) the current log holds for run_id, in log order. The
 * log is held while cb runs: cb must not call evlog functions. */
int evlog_run_files(struct evlog *ev, const char *run_id,
		    void (*cb)(const struct cel_file *f, void *ctx), void *ctx);

uint64_t evlog_tpm_commands(const struct evlog *ev);
bool evlog_attested(const struct evlog *ev);
const char *evlog_path(const struct evlog *ev);
uint32_t evlog_pcr(const struct evlog *ev);
/* Records this process appended (baseline and recovery included) and batch records among them,
 * over all its runs. */
uint64_t evlog_records(const struct evlog *ev);
uint64_t evlog_batches(const struct evlog *ev);

#endif
