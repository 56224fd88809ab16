/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cel.h - TCG Canonical Event Log (TLV encoding) and aicert's record content.
 *
 * A log is a sequence of records, each TLV(recnum) TLV(pcr|nv_index) TLV(digests) TLV(content).
 * aicert's records carry content type CEL_CT_AICERT whose value is a sequence of aicert's own
 * TLV fields (docs/cel.md). Pure code: used by the tracer (writer) and the verifier (reader).
 * Functions returning int give 0 or a negative errno; decoders write a one-line reason naming
 * the record number and byte offset into err[CEL_ERR_MAX].
 */
#ifndef AICERT_CEL_H
#define AICERT_CEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lib/job.h"

#define CEL_ERR_MAX 256

/* Top-level TLV types (TCG CEL 1.0, "CEL Record" types). */
enum cel_type {
	CEL_T_RECNUM = 0,
	CEL_T_PCR = 1,
	CEL_T_NV_INDEX = 2,
	CEL_T_DIGESTS = 3,
};

/* Content types. aicert's are private numbers from the top of the one-byte space, clear of
 * the spec's (4..8) and of the de-facto COS type (80). Never renumbered. */
#define CEL_CT_AICERT 0xE1
#define CEL_CT_REDACTED 0xE2

/* One digest per algorithm aicert knows (cel_alg_size): a record holds no more, since a decoder
 * rejects unknown and repeated algorithms, and each log record carries this array. */
#define CEL_MAX_BANKS 5
#define CEL_MAX_DIGEST 64
#define CEL_NONCE_MAX 64 /* a verifier's challenge, as manifest.json's MANIFEST_NONCE_MAX */

struct cel_digest {
	uint16_t alg; /* TPM2_ALG_SHA1, TPM2_ALG_SHA256, ... */
	uint16_t len;
	uint8_t d[CEL_MAX_DIGEST];
};

struct cel_digests {
	size_t n;
	struct cel_digest v[CEL_MAX_BANKS];
};

struct cel_record {
	uint64_t recnum;
	uint8_t index_type; /* CEL_T_PCR or CEL_T_NV_INDEX */
	uint32_t index;
	struct cel_digests digests;
	uint8_t content_type;
	uint8_t *content; /* the content TLV's value (owned) */
	size_t content_len;
};

struct cel_log {
	struct cel_record *recs;
	size_t n, cap;
};

/* aicert content */
enum cel_kind {
	CEL_KIND_BASELINE = 1,
	CEL_KIND_RUN_START = 2,
	CEL_KIND_BATCH = 3,
	CEL_KIND_LOSS = 4,
	CEL_KIND_RUN_END = 5,
	CEL_KIND_RECOVERY = 6,
};

/* Status of one file measurement (batch records). */
enum cel_file_status {
	CEL_FILE_OK = 0,
	CEL_FILE_UNREADABLE = 1,     /* could not be opened or read */
	CEL_FILE_VANISHED = 2,	     /* gone before it could be hashed */
	CEL_FILE_CHANGED = 3,	     /* changed while it was hashed */
	CEL_FILE_SKIPPED = 4,	     /* excluded from hashing by policy */
	CEL_FILE_REPLACED = 5,	     /* another file took its path while it was hashed */
	CEL_FILE_NOT_REGULAR = 6,    /* a directory, device, fifo or socket: not hashed */
	CEL_FILE_DELETED = 7,	     /* an output deleted before the run ended */
	CEL_FILE_PATH_TRUNCATED = 8, /* the kernel truncated the path: it names another file */
};

struct cel_file {
	char *path;
	uint8_t sha256[32];
	uint64_t size;
	uint32_t roles;	 /* enum bom_role bits */
	uint32_t status; /* enum cel_file_status */
};

struct cel_output {
	char *path;
	uint8_t sha256[32];
	uint64_t size;
};

/* One decoded aicert record content. Which fields are meaningful depends on kind. */
struct cel_event {
	enum cel_kind kind;
	char run_id[37];  /* empty for baseline and recovery */
	uint64_t time_ns; /* CLOCK_REALTIME when the record was made */
	/* baseline */
	char boot_id[37];
	struct cel_digests pcr_values; /* the PCR, per bank, before this log's first extend */
	char *hostname;		       /* uname(2) nodename */
	char *kernel;		       /* uname(2) release, as bom.json's host.kernel */
	/* run_start */
	char **argv;
	size_t argc;
	char *cwd;
	uint32_t uid;
	uint8_t policy_digest[32];
	char *backend;
	char *version;
	uint8_t exe_sha256[32];
	uint8_t nonce[CEL_NONCE_MAX]; /* the verifier's challenge given before the run (--nonce) */
	size_t nonce_len;	      /* 0: none */
	struct job_info job;	      /* the job step the run belongs to; scheduler NULL: none */
	/* batch */
	struct cel_file *files;
	size_t n_files;
	/* loss */
	uint64_t lost;
	/* run_end */
	int32_t exit_status; /* as a shell reports it: 128+N when signal N killed the command */
	int32_t signal;	     /* 0, or the signal that killed the command */
	uint8_t detached;    /* the command left processes running when aicert stopped tracing */
	uint64_t paths_truncated; /* paths the kernel truncated in the run */
	struct cel_output *outputs;
	size_t n_outputs;
	uint64_t total_files, total_lost, total_batches;
	/* recovery */
	uint64_t last_good_recnum; /* UINT64_MAX: no record survived */
	uint64_t bytes_dropped;
};

/* Digest sizes; 0 for an algorithm aicert does not know. */
size_t cel_alg_size(uint16_t alg);
/* "sha1", "sha256", "sha384", "sha512", "sm3_256", or NULL. */
const char *cel_alg_name(uint16_t alg);
/* The OpenSSL digest of a TPM hash algorithm (SM3 when the provider has it), or NULL. */
const EVP_MD *cel_alg_md(uint16_t alg);

/* TLV encoding of one record appended to *buf (realloc'ed; *len grows). */
int cel_record_encode(const struct cel_record *r, uint8_t **buf, size_t *len);
/* The whole log. *buf is malloc'ed. */
int cel_log_encode(const struct cel_log *log, uint8_t **buf, size_t *len);

/*
 * Decodes one record at buf[0..len). *used: bytes it took. Returns 0, -ENODATA when buf holds
 * only the start of a record (a torn tail), -EBADMSG when it is malformed.
 */
int cel_record_decode(const uint8_t *buf, size_t len, size_t offset, struct cel_record *out,
		      size_t *used, char err[CEL_ERR_MAX]);
/*
 * Decodes a whole log. On error, *out still holds the records before the bad one and *valid
 * (when not NULL) the bytes they span, so a writer can truncate a torn tail.
 */
int cel_log_decode(const uint8_t *buf, size_t len, struct cel_log *out, size_t *valid,
		   char err[CEL_ERR_MAX]);
/* Appends a copy of r (content duplicated). */
int cel_log_append(struct cel_log *log, const struct cel_record *r);
void cel_log_free(struct cel_log *log); /* frees the records, not log itself */
void cel_record_free(struct cel_record *r);

/* The digest extended for a record: hash(alg) of the content TLV (type, length, value). */
int cel_content_digest(uint16_t alg, uint8_t content_type, const uint8_t *content, size_t len,
		       struct cel_digest *out);
/* Fills r (content copied) with digests for every alg in algs. */
int cel_record_make(struct cel_record *r, uint64_t recnum, uint32_t pcr, uint8_t content_type,
		    const uint8_t *content, size_t len, const uint16_t *algs, size_t n_algs);
/* Every record digest equals the hash of its content (redacted records are skipped). */
int cel_record_check_digests(const struct cel_record *r, char err[CEL_ERR_MAX]);
/* Replaces the content by the redaction marker; recnum, index and digests stay. */
int cel_record_redact(struct cel_record *r);
/* r is a redacted record exactly as cel_record_redact leaves it (content type and marker). */
bool cel_record_is_redacted(const struct cel_record *r);

/* aicert content: encoder (malloc'ed bytes), decoder, free. */
int cel_event_encode(const struct cel_event *ev, uint8_t **buf, size_t *len);
int cel_event_decode(const uint8_t *buf, size_t len, struct cel_event *ev, char err[CEL_ERR_MAX]);
void cel_event_free(struct cel_event *ev);
const char *cel_kind_name(enum cel_kind k);
/* bom.json's "status" text of a file (NULL: hashed) as the batch record's code: "unreadable" or
 * "unreadable: <why>" is CEL_FILE_UNREADABLE; -1 for a text aicert never writes. */
int64_t cel_file_status_of(const char *bom_status);
/* The other way: the text bom.json holds for a code; NULL for CEL_FILE_OK and for codes whose
 * text carries a reason (CEL_FILE_UNREADABLE) or that aicert never writes. */
const char *cel_file_status_text(uint32_t code);

/*
 * Replay: extends, for the records of PCR pcr, each record's alg digest onto start (the PCR
 * value before the first of them). out gets the result (cel_alg_size(alg) bytes).
 */
int cel_replay(const struct cel_log *log, uint32_t pcr, uint16_t alg, const uint8_t *start,
	       uint8_t *out, char err[CEL_ERR_MAX]);
/* As cel_replay, from the values held by the log's first record, which must be a baseline. */
int cel_replay_baseline(const struct cel_log *log, uint32_t pcr, uint16_t alg, uint8_t *out,
			char err[CEL_ERR_MAX]);
/* Extends one digest: value = H(value || digest). */
int cel_extend(uint16_t alg, uint8_t *value, const uint8_t *digest);

/* CEL-JSON (TCG CEL, JSON encoding): an object per record, an array for a log. New refs. */
json_t *cel_record_json(const struct cel_record *r);
json_t *cel_log_json(const struct cel_log *log);

#endif
