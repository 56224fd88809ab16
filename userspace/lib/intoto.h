/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * intoto.h - the bundle's provenance.intoto.json: an in-toto Statement v1 whose predicate is SLSA
 * Provenance v1, made from bom.json (lib/bom.h).
 *
 *   { "_type": "https://in-toto.io/Statement/v1",
 *     "subject": [ {name, digest {sha256}} ]  every hashed output file, in bom.json's order
 *                 (name: the path, bom_display_name form); [] when the run wrote nothing hashed,
 *     "predicateType": "https://slsa.dev/provenance/v1",
 *     "predicate": {
 *       "buildDefinition": {
 *         "buildType": INTOTO_BUILD_TYPE,
 *         "externalParameters": { "command": [argv, display form], "cwd" },
 *         "internalParameters": { "backend", "host": {hostname, kernel, boot_id, tpm},
 *                                 "attested": bool },
 *         "resolvedDependencies": [ ResourceDescriptor ] every file read, executed or loaded:
 *             { "uri": "file://" + the path's bytes percent-encoded (RFC 3986: all but
 *               unreserved characters and '/'; exact for any name), "name": the path (display
 *               form), "digest": {sha256} (absent when not hashed), "annotations": {roles [],
 *               category, ima, status (when not hashed)} } },
 *       "runDetails": {
 *         "builder": { "id": INTOTO_BUILDER_ID_PREFIX version, "version": {"aicert": version} },
 *         "metadata": { "invocationId": run id, "startedOn", "finishedOn" },
 *         "byproducts": [ {name "events.cel", digest {sha256}} ] when events_sha256_hex
 *                       is given } } }
 * The run's outcome (exit status, lost events, completeness) has no place in SLSA provenance:
 * bom.json, which the bundle's manifest covers, holds it.
 *
 * The build type "https://aicert.dev/training-run/v1" means: a command run under aicert-trace;
 * externalParameters are what the user chose (the command line and working directory),
 * internalParameters what aicert chose or observed about the host, and resolvedDependencies
 * every file the run's processes opened for reading, executed or mapped, as recorded in bom.json.
 */
#ifndef AICERT_LIB_INTOTO_H
#define AICERT_LIB_INTOTO_H
#include "lib/bom.h"
#include "lib/jsonout.h"

#define INTOTO_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define INTOTO_PREDICATE_TYPE "https://slsa.dev/provenance/v1"
#define INTOTO_BUILD_TYPE "https://aicert.dev/training-run/v1"
/* INTOTO_BUILDER_ID_PREFIX + the aicert version */
#define INTOTO_BUILDER_ID_PREFIX "https://aicert.dev/aicert-trace@"

/*
 * The statement, NUL-terminated, malloc'd (free it); NULL with errno set (ENOMEM; EINVAL when
 * events_sha256_hex is neither NULL nor 64 hex digits).
 */
char *intoto_dumps(const struct bom *b, const char *events_sha256_hex /* may be NULL */);
/* intoto_dumps as aicert `version` writes it (the builder id and version): a function of its
 * arguments alone, which aicert-verify regenerates from bom.json, events.cel's digest and
 * run_start's version, and compares byte for byte. */
char *intoto_render(const struct bom *b, const char *events_sha256_hex, const char *version);
/* intoto_render's text given to sink in pieces (lib/jsonout.h); 0, or -1. */
int intoto_stream(const struct bom *b, const char *events_sha256_hex, const char *version,
		  jsonout_sink sink, void *ctx);
/* Writes intoto_dumps() to path: tmp + fsync + rename. 0 or -errno. */
int intoto_write(const struct bom *b, const char *path, const char *events_sha256_hex);

#endif
