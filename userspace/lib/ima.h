/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ima.h - the kernel's IMA measurement list: parse the binary list, render it as the kernel's
 * ascii_runtime_measurements, replay it into a PCR bank, and look files up by path.
 * See docs/ima.md for the formats and the replay rules.
 */
#ifndef AICERT_IMA_H
#define AICERT_IMA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IMA_MAX_DIGEST 64	   /* sha512 */
#define IMA_MAX_FIELDS 16	   /* the kernel allows 15 fields per template */
#define IMA_MAX_LIST (1u << 30)	   /* largest list accepted (bytes) */
#define IMA_MAX_ENTRIES (1u << 24) /* most records accepted */

/* How the kernel renders a field in the ASCII list. */
enum ima_field_fmt {
	IMA_FMT_DIGEST,		  /* d: hex */
	IMA_FMT_DIGEST_ALGO,	  /* d-ng, d-modsig: "algo:" '\0' digest -> algo:hex */
	IMA_FMT_DIGEST_TYPE_ALGO, /* d-ngv2: "type:algo:" '\0' digest -> type:algo:hex */
	IMA_FMT_STRING,		  /* n, n-ng, xattrnames: up to the first NUL */
	IMA_FMT_HEX,		  /* sig, buf, modsig, evmsig, xattrlengths, xattrvalues */
	IMA_FMT_UINT,		  /* iuid, igid, imode: 1/2/4/8-byte integer, decimal */
	IMA_FMT_UNKNOWN,	  /* a field of an unknown template: rendered by its content */
};

struct ima_field {
	const char *id; /* "d-ng", ...; "?" for fields of unknown templates */
	const uint8_t *data;
	enum ima_field_fmt fmt;
	uint32_t len;
};

/* Pointers first, then the 32-bit fields, then the flags: a list can hold millions. */
struct ima_entry {
	size_t offset;			/* of the record in the list */
	const uint8_t *template_digest; /* list->digest_len bytes */
	const char *template_name;	/* a name, or a format such as "d-ng|n-ng|sig" */
	const uint8_t *data;		/* template data as hashed (see docs/ima.md) */
	const struct ima_field *fields; /* nfields, in template order */
	/* Decoded from the digest field (d, d-ng, d-ngv2); empty/NULL when absent. */
	const uint8_t *file_digest;
	const char *file_name; /* n / n-ng as recorded (spaces became '_'), or NULL */
	const uint8_t *sig;    /* sig field, NULL when empty */
	const uint8_t *buf;    /* buf field (ima-buf), NULL when empty */
	uint32_t pcr;
	uint32_t data_len;
	unsigned nfields;
	uint32_t file_digest_len;
	uint32_t sig_len;
	uint32_t buf_len;
	char digest_type[8]; /* "ima" or "verity" (d-ngv2 only) */
	char hash_algo[22];  /* "sha256"; "sha1" or "md5" for d */
	bool violation;	     /* template digest all zero */
	bool legacy;	     /* "ima" template: data is d(20) || name (no lengths) */
};

struct ima_list {
	struct ima_entry *entries;
	size_t count;
	size_t digest_len;    /* template digest size: 20, or the per-bank list's size */
	char digest_algo[16]; /* "sha1", or the per-bank list's algorithm */
	bool big_endian;      /* the list was decoded as big-endian (host order of a BE kernel) */
	/* owned storage */
	uint8_t *raw;
	struct ima_field *field_store;
	char *strings;
};

enum ima_endian {
	IMA_ENDIAN_AUTO = 0, /* from the first record's PCR index */
	IMA_ENDIAN_LITTLE,   /* ima_canonical_fmt, or any little-endian host */
	IMA_ENDIAN_BIG,	     /* host order of a big-endian kernel without ima_canonical_fmt */
};

struct ima_parse_opts {
	enum ima_endian endian;
	/* Template digest algorithm of the list: NULL = "sha1" (binary_runtime_measurements);
	 * "sha256" etc. for binary_runtime_measurements_<algo>. */
	const char *digest_algo;
};

/* Parses a binary list; o may be NULL. 0, or -1 with err "ima: record N at offset X: why". */
int ima_parse(const uint8_t *buf, size_t len, const struct ima_parse_opts *o, struct ima_list *out,
	      char *err, size_t errlen);
/* Reads and parses a list file; with o->digest_algo NULL the algorithm comes from a name
 * ending in "_<algo>" (binary_runtime_measurements_sha256), else sha1. */
int ima_read_file(const char *path, const struct ima_parse_opts *o, struct ima_list *out, char *err,
		  size_t errlen);
void ima_list_free(struct ima_list *l);

/* Writes one entry / the whole list exactly as the kernel's ascii_runtime_measurements. */
int ima_render_entry(FILE *f, const struct ima_list *l, const struct ima_entry *e);
int ima_render_ascii(FILE *f, const struct ima_list *l);

/* Replay flags */
#define IMA_REPLAY_PADDED_SHA1 0x1 /* kernels < 5.10: non-SHA-1 banks get the zero-padded SHA-1 */

/* Replays the first n entries (SIZE_MAX: all) that extend PCR pcr into bank ("sha1", "sha256",
 * "sha384", "sha512", "sm3_256"); writes the bank's digest size to *outlen. 0 or -1 with err. */
int ima_replay(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags, size_t n,
	       uint8_t *out, size_t *outlen, char *err, size_t errlen);
/* Finds the largest n such that replaying the first n entries gives want (the quote may lag the
 * list). 0 and *n set on a match, 1 when no prefix matches, -1 with err on a bad bank/size. */
int ima_replay_match(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags,
		     const uint8_t *want, size_t wantlen, size_t *n, char *err, size_t errlen);
/* Replays every entry as ima_replay does, calling step with the bank's value before the first
 * entry (n = 0) and after each entry n (whether or not it extends pcr): one pass gives every
 * prefix's value. 0 or -1 with err. */
typedef void (*ima_step_fn)(void *arg, size_t n, const uint8_t *value);
int ima_replay_steps(const struct ima_list *l, uint32_t pcr, const char *bank, unsigned flags,
		     ima_step_fn step, void *arg, char *err, size_t errlen);
/* Checks every non-violation entry's template digest against the digest of its template data,
 * so a verifier can trust the decoded fields. 0, or -1 with err naming the first bad record. */
int ima_check_digests(const struct ima_list *l, char *err, size_t errlen);

/* The latest entry that measured path (compared the way the kernel records names: spaces as
 * '_'); NULL when there is none. Its hash_algo/file_digest give the file digest. */
const struct ima_entry *ima_lookup(const struct ima_list *l, const char *path);

/* Appends to *buf (realloc'ed; *len grows) the record the kernel logs for a violation with the
 * "ima" template in a SHA-1 list: PCR 10, zero template and file digests, the name (at most
 * 255 bytes). For building lists in tests and benchmarks. 0 or -ENOMEM/-EINVAL. */
int ima_append_violation(uint8_t **buf, size_t *len, const char *name);

/* Digest size of a TPM bank / hash name ("sha1" 20, "sha256" 32, ...); 0 if unknown. */
size_t ima_digest_size(const char *algo);

#endif
