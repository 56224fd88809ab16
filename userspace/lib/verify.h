/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verify.h - offline verification of an aicert bundle (docs/verify.md): the checks behind
 * aicert-verify, as a library so that tests and benchmarks can run them.
 *
 * verify_bundle() runs every check in a fixed order and fills a report: one entry per check,
 * PASS with a detail or FAIL with a one-line reason. Nothing is skipped silently: a check whose
 * input is unusable because an earlier check failed is reported as FAIL "not checked: ...".
 * The exit code is the code of the first failing check in this order:
 *
 *   manifest 2, quote 3 (10 when the bundle is unattested), ak 4, eventlog 5, ima 6, bom 7,
 *   weights 8, complete 9 (12 when an output could not be measured)
 *
 * so a bundle verifies (0) only when every check passes. Needs no TPM, no root, no libbpf.
 *
 * A directory whose manifest.json says kind "log-quote" (trace/logquote.h: the host log quoted
 * for a verifier's challenge) is verified as one: manifest (no bom.json allowed), quote (the
 * --nonce given is required and must be the one the quote answers), ak, eventlog (every
 * record, replayed to the quoted PCR; any number of runs), ima as for a bundle; bom, weights
 * and complete are "not applicable: log quote" (ok, not_applicable set), except that
 * --weights fails (a log quote has no run outputs). The report then starts with
 * VERIFY_LOG_QUOTE_LINE (human) and "kind": "log-quote" (JSON).
 */
#ifndef AICERT_VERIFY_H
#define AICERT_VERIFY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes of aicert-verify. Append-only. */
enum verify_exit {
	VERIFY_EXIT_OK = 0,
	VERIFY_EXIT_USAGE = 1,	    /* bad command line, or the bundle cannot be read at all */
	VERIFY_EXIT_MANIFEST = 2,   /* manifest.json: files, digests, binding */
	VERIFY_EXIT_QUOTE = 3,	    /* quote decode, signature, qualifying data, clock, selection */
	VERIFY_EXIT_AK = 4,	    /* AK not pinned / not chained / not authenticated at all */
	VERIFY_EXIT_EVENTLOG = 5,   /* events.cel integrity, or its replay vs the quoted PCR */
	VERIFY_EXIT_IMA = 6,	    /* ima.bin integrity, or its replay vs the quoted PCR 10 */
	VERIFY_EXIT_BOM = 7,	    /* bom.json disagrees with the event log */
	VERIFY_EXIT_WEIGHTS = 8,    /* a --weights file is not an output of the run */
	VERIFY_EXIT_INCOMPLETE = 9, /* everything else holds, but the run lost events */
	VERIFY_EXIT_UNATTESTED = 10, /* no quote (--no-tpm bundle): never verified */
	VERIFY_EXIT_INTERNAL = 11,   /* out of memory and the like */
	VERIFY_EXIT_UNMEASURED = 12, /* everything else holds, but an output has no digest */
};

/* The checks, in the order they run and are reported. */
enum verify_check_id {
	VERIFY_MANIFEST = 0,
	VERIFY_QUOTE,
	VERIFY_AK,
	VERIFY_EVENTLOG,
	VERIFY_IMA,
	VERIFY_BOM,
	VERIFY_WEIGHTS,
	VERIFY_COMPLETE,
	VERIFY_N_CHECKS,
};

#define VERIFY_REASON_MAX 512
#define VERIFY_LOG_QUOTE_LINE                                                                      \
	"log quote: the host's event log as quoted for a challenge (not a run bundle)"

struct verify_opts {
	const char *bundle;	    /* directory */
	const char *ak_pem;	    /* --ak: pinned AK public key (or certificate) */
	const char *const *ca_pems; /* --ca: trusted CA certificates for ak.cert.pem */
	size_t n_ca;
	const uint8_t *nonce; /* --nonce: the verifier's challenge; NULL: none */
	size_t nonce_len;
	/* --weights files, each must be an output of the run; a directory: every regular file
	 * under it (links followed) */
	const char *const *weights;
	size_t n_weights;
	size_t ima_max_lag; /* entries the quote may lag ima.bin; 0: VERIFY_IMA_MAX_LAG */
	/* --allow-resettable-pcr: accept a dedicated PCR anyone can reset (16, 23); the bundle
	 * then proves little, as its history can be rewritten without the AK's help */
	bool allow_resettable;
};

#define VERIFY_IMA_MAX_LAG 4096

struct verify_check {
	const char *name; /* "manifest", "quote", ... */
	bool ok;
	int exit_code; /* enum verify_exit when !ok */
	char reason[VERIFY_REASON_MAX];
	bool not_applicable; /* a log quote's bom, weights, complete: ok, nothing to check */
};

struct verify_report {
	struct verify_check checks[VERIFY_N_CHECKS];
	int exit_code;
	/* "verified", "failed", "incomplete" or "unattested" */
	const char *verdict;
	bool log_quote; /* the directory is a log quote (manifest kind "log-quote") */
	/* what was covered, for the summary */
	uint64_t records, run_files;
	size_t ima_entries, ima_covered;
	/* ima.bin entries the quote does not authenticate: after the covered prefix, and the
	 * covered violation entries (extended as all-ones, so their data is not bound) */
	size_t ima_uncovered, ima_violations;
};

const char *verify_check_name(enum verify_check_id id);

/* Runs every check. Returns the exit code (also in r->exit_code). */
int verify_bundle(const struct verify_opts *o, struct verify_report *r);

/* Prints "PASS <check>: ..." / "FAIL <check>: ..." lines and a verdict line. */
void verify_report_print(const struct verify_report *r, FILE *out);
/* {"kind": "bundle"|"log-quote", "checks": [{"name", "ok", "reason", "applicable": false only
 * when not applicable}...], "verdict", "exit_code"}; a new reference. */
json_t *verify_report_json(const struct verify_report *r);

#endif
