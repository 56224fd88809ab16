/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * imacorr.h - correlate a traced run's BOM files with the kernel's IMA measurement list, and
 * keep the list in the bundle as ima.bin. See docs/ima.md, "Correlation".
 */
#ifndef AICERT_TRACE_IMACORR_H
#define AICERT_TRACE_IMACORR_H
#include <stddef.h>

#include "lib/bom.h"

/* Where the kernel publishes the list (securityfs); the second is the 6.x "integrity/" path. */
#define IMACORR_DEFAULT_PATH "/sys/kernel/security/ima/binary_runtime_measurements"
#define IMACORR_ALT_PATH "/sys/kernel/security/integrity/ima/binary_runtime_measurements"
#define IMACORR_BUNDLE_NAME "ima.bin"

struct imacorr_stats {
	int ima_on;	    /* the list was read (and ima.bin written) */
	size_t entries;	    /* records in the list */
	size_t matched;	    /* files[].ima = match */
	size_t mismatched;  /* mismatch (a differing digest, or an IMA violation record) */
	size_t absent;	    /* IMA has no record of the path */
	size_t unavailable; /* not comparable: no sha256, or IMA used another file-digest algo */
	size_t violations;  /* of mismatched: the latest record was a violation */
	size_t other_algo;  /* of unavailable: IMA's digest was not sha256 (ima_hash=sha1...) */
};

/*
 * When IMA is on (ima_path, or the securityfs default when NULL, exists and is readable):
 * copies the list byte for byte into bundle_dir/ima.bin (tmp + fsync + rename, 0644) and sets
 * every bom->files[i].ima from the latest IMA record of its path: match (IMA's sha256 equals
 * files[i].sha256), mismatch (logged loudly), absent (no record), unavailable (the file has no
 * sha256, or IMA measured it with another algorithm). When IMA is off, every file is
 * unavailable and nothing is written. st may be NULL. With an empty BOM it only (re)writes
 * ima.bin, quietly: aicert-trace does that after the quote, so ima.bin covers the quoted PCR 10.
 * Returns 0, or -errno: -EBADMSG when the list cannot be parsed (files left unavailable, no
 * ima.bin), -EFBIG when it exceeds IMA_MAX_LIST, other -errno when ima.bin cannot be written.
 */
int imacorr_run(struct bom *bom, const char *bundle_dir, const char *ima_path,
		struct imacorr_stats *st);

#endif
