/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cdx.h - the bundle's bom.cdx.json: bom.json (lib/bom.h) as a CycloneDX 1.6 ML-BOM.
 *
 * Layout (every field name from the 1.6 JSON schema; the document validates against it):
 *   bomFormat "CycloneDX", specVersion "1.6", serialNumber "urn:uuid:<run id>" (the run id
 *   lowercased; a run id that is not a UUID gives a UUID made from its SHA-256), version 1,
 *   metadata { timestamp (run.finished, else run.started, else absent), tools.components
 *              [aicert, with the version that made the run: run_start's],
 *              properties (aicert:host.*, aicert:attested, aicert:run.id),
 *              component (the one output of category "model"; with none, the one output
 *                         taken for a model below; absent when there is no single one: then
 *                         every file is in components) },
 *   components: one per bom.json file, in bom.json's order, bom-ref "file-<n>" (n from 1);
 *   type, first match wins:
 *     category "dataset"                    -> "data", data [{type "dataset"}]
 *     category "config"                     -> "data", data [{type "configuration"}]
 *     category "model"                      -> "machine-learning-model"
 *     role library or category "library"    -> "library"
 *     role executable or "interpreter"      -> "application"
 *     any other output but category "code"  -> "machine-learning-model" (DESIGN.md: outputs
 *                                              are the model)
 *     else (code, other inputs)             -> "file"
 *     name = the path (bom_display_name form), hashes [{SHA-256}] when hashed, properties
 *     (only what CycloneDX has no field for) aicert:path_b64 (when the path is not UTF-8),
 *     aicert:roles, aicert:category, aicert:size, aicert:ima (when not "unavailable"),
 *     aicert:status (when not hashed).
 *   formulation [{ bom-ref "formula-1", workflows [{ bom-ref "run", uid = run id,
 *     name "aicert-trace run", taskTypes ["build"] (1.6 has no "train": training builds the
 *     model), timeStart/timeEnd, steps [{name "command", commands [{executed: the command,
 *     shell-quoted}]}], inputs [{resource {ref}}] (files read, executed or loaded),
 *     outputs [{type "artifact", resource {ref}}], properties aicert:cwd, aicert:exit_code,
 *     aicert:signal, aicert:backend, aicert:events_lost, aicert:paths_truncated,
 *     aicert:complete, aicert:detached }] }]
 */
#ifndef AICERT_LIB_CDX_H
#define AICERT_LIB_CDX_H
#include "lib/bom.h"
#include "lib/jsonout.h"

/*
 * The document as aicert version `version` writes it for b: a function of b and version alone
 * (no clock), so aicert-verify regenerates it from the checked bom.json and run_start's version
 * and compares bytes. One line of compact JSON. NUL-terminated, malloc'd (free it); NULL with
 * errno set (ENOMEM, EINVAL).
 */
char *cdx_render(const struct bom *b, const char *version);
/* cdx_render's text given to sink in pieces of about 1 MiB, never held whole. 0, or -1 when
 * anything failed or sink refused a piece. */
int cdx_stream(const struct bom *b, const char *version, jsonout_sink sink, void *ctx);
/* cdx_render(b, this build's version). */
char *cdx_dumps(const struct bom *b);
/* Writes cdx_dumps(b) to path: tmp + fsync + rename. 0 or -errno. */
int cdx_write(const struct bom *b, const char *path);

#endif
