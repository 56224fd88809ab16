/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * manifest.h - manifest.json of a bundle: what is in it, and what the quote binds.
 *
 * {"schema": "aicert.manifest/v1",
 *  "files": [{"name": "bom.json", "sha256": "<64 hex>", "size": 1234}, ...],
 *  "pcr": 15, "pcr_bank": "sha256",
 *  "qualifying_data": "<64 hex>", "qualifying_data_of": "<text>",
 *  "nonce": "<hex>",                                   (nonce only when one was given)
 *  "kind": "log-quote"}                                (only in a log quote; see below)
 *
 * files lists every regular file of the bundle directory except manifest.json, sorted by name
 * in byte order. Names are single path components: no '/', no "..", no whitespace or control
 * characters, never "manifest.json".
 *
 * kind says what the directory is: "bundle", a traced run's bundle (bom.json and the rest), or
 * "log-quote", a quote of the host's event log as it is now, taken for a verifier's challenge
 * (`aicert quote`: events.cel, ima.bin when IMA is on, the TPM evidence; no bom.json). A
 * manifest without kind is a bundle (every manifest aicert wrote before log quotes existed);
 * writers put kind in log quotes only, so a bundle's manifest.json is as it always was.
 *
 * The binding (the quote's qualifying data, aicert-binding/v1) is SHA-256 over the bytes of
 *
 *   "aicert-binding/v1\n"
 *   "kind log-quote\n"                  only in a log quote (a bundle's binding has no kind line)
 *   "<name> <sha256 lowercase hex>\n"   for each bound file, in byte order of name
 *   "pcr <N>\n"                         N in decimal, no leading zeros
 *   "nonce <lowercase hex>\n"           only when a nonce was given
 *
 * where the bound files are all listed files except the TPM evidence, the IMA list and the
 * manifest itself: quote.msg, quote.sig, ak.pub.pem, ak.cert.pem, ima.bin and manifest.json.
 * ima.bin is copied after the quote so that it covers the quoted PCR 10 (the list only grows);
 * PCR 10 attests it: its replay must reach the quoted value. The writer computes the
 * binding before quoting (manifest_scan + manifest_binding), quotes with it, then writes the
 * manifest over the full bundle (manifest_build). docs/bundle.md says the same.
 *
 * The kind line keeps a bundle and a log quote apart: relabelling a bundle a log quote (or the
 * reverse), with or without its bom.json, changes the binding, so the quote's qualifying data
 * no longer matches. A log quote always has a nonce (the challenge it answers).
 */
#ifndef AICERT_MANIFEST_H
#define AICERT_MANIFEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MANIFEST_SCHEMA "aicert.manifest/v1"
#define MANIFEST_NAME "manifest.json"
#define MANIFEST_BINDING_TAG "aicert-binding/v1"
#define MANIFEST_NONCE_MAX 64
#define MANIFEST_WHY_MAX 256
/* What qualifying_data_of says in manifests aicert writes. */
#define MANIFEST_BINDING_TEXT                                                                      \
	"aicert-binding/v1: SHA-256 of \"aicert-binding/v1\\n\", then \"<name> <sha256>\\n\" for " \
	"each bundle file except quote.msg, quote.sig, ak.pub.pem, ak.cert.pem, ima.bin and "      \
	"manifest.json "                                                                           \
	"in byte order of name, then \"pcr <N>\\n\", then \"nonce <hex>\\n\" when a nonce was "    \
	"given"
/* What qualifying_data_of says in a log quote's manifest. */
#define MANIFEST_BINDING_TEXT_LOG_QUOTE                                                            \
	"aicert-binding/v1: SHA-256 of \"aicert-binding/v1\\n\", then \"kind log-quote\\n\", "     \
	"then \"<name> <sha256>\\n\" for each file except quote.msg, quote.sig, ak.pub.pem, "      \
	"ak.cert.pem, ima.bin and manifest.json in byte order of name, then \"pcr <N>\\n\", "      \
	"then \"nonce <hex>\\n\""
#define MANIFEST_KIND_BUNDLE "bundle"
#define MANIFEST_KIND_LOG_QUOTE "log-quote"

enum manifest_kind {
	MANIFEST_BUNDLE = 0, /* a run's bundle; also a manifest without "kind" */
	MANIFEST_LOG_QUOTE,  /* a quote of the host log (aicert quote) */
};

struct manifest_file {
	char *name;
	uint8_t sha256[32];
	uint64_t size;
};

struct manifest {
	struct manifest_file *files; /* sorted by name, no duplicates */
	size_t n_files;
	unsigned pcr;
	char pcr_bank[8]; /* "sha256" */
	uint8_t qualifying_data[32];
	char *qualifying_data_of;
	bool has_nonce;
	uint8_t nonce[MANIFEST_NONCE_MAX];
	size_t nonce_len;
	enum manifest_kind kind;
	bool has_kind; /* "kind" was present in manifest.json (always written for a log quote) */
};

/* true for a name allowed in a bundle (see above); manifest.json itself is not. */
bool manifest_name_ok(const char *name);
/* true for the files the binding leaves out (TPM evidence and manifest.json). */
bool manifest_name_unbound(const char *name);

/*
 * Hashes every regular file in dir (except manifest.json) into a new manifest with the binding
 * computed; nonce may be NULL (nonce_len 0). Fails on a subdirectory, symlink or bad name.
 * 0 or -1 with why set.
 */
int manifest_scan(const char *dir, unsigned pcr, const uint8_t *nonce, size_t nonce_len,
		  struct manifest **out, char why[MANIFEST_WHY_MAX]);
/* As manifest_scan, for a directory of the given kind (the binding has its kind line). A log
 * quote needs a nonce. */
int manifest_scan_kind(const char *dir, enum manifest_kind kind, unsigned pcr, const uint8_t *nonce,
		       size_t nonce_len, struct manifest **out, char why[MANIFEST_WHY_MAX]);
/* "bundle" or "log-quote". */
const char *manifest_kind_name(enum manifest_kind kind);
/* The documented qualifying_data_of text of that kind. */
const char *manifest_binding_text(enum manifest_kind kind);
/* Writes dir/manifest.json (tmp file + fsync + rename). 0 or -1 with why set. */
int manifest_write(const char *dir, const struct manifest *m, char why[MANIFEST_WHY_MAX]);
/* manifest_scan + manifest_write; *out (optional) receives the manifest. */
int manifest_build(const char *dir, unsigned pcr, const uint8_t *nonce, size_t nonce_len,
		   struct manifest **out, char why[MANIFEST_WHY_MAX]);

/* manifest_scan_kind + manifest_write. */
int manifest_build_kind(const char *dir, enum manifest_kind kind, unsigned pcr,
			const uint8_t *nonce, size_t nonce_len, struct manifest **out,
			char why[MANIFEST_WHY_MAX]);

/* Strict parse of manifest.json text / file. 0 or -1 with why set. */
int manifest_parse(const char *text, size_t len, struct manifest **out, char why[MANIFEST_WHY_MAX]);
int manifest_read(const char *path, struct manifest **out, char why[MANIFEST_WHY_MAX]);
/* JSON text (malloc'd, caller frees), NULL on allocation failure. */
char *manifest_dump(const struct manifest *m);
void manifest_free(struct manifest *m);

/* The binding of m's kind, files, pcr and nonce (see above). 0, or -1 if hashing failed. */
int manifest_binding(const struct manifest *m, uint8_t out[32]);
/* qualifying_data equals manifest_binding(m). 0 or -1 with why set. */
int manifest_check_binding(const struct manifest *m, char why[MANIFEST_WHY_MAX]);

typedef void (*manifest_report_fn)(void *ctx, const char *reason);
/*
 * Every listed file is present in dir, a regular file, with the listed size and SHA-256; no
 * file other than those and manifest.json is in dir. Calls report once per problem with a
 * one-line reason. Returns the number of problems (0: all good).
 */
int manifest_check_files(const char *dir, const struct manifest *m, manifest_report_fn report,
			 void *ctx);

#endif
