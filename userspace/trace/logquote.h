/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * logquote.h - a log quote: the host's event log as it is now, quoted by the TPM for a remote
 * verifier's challenge (`aicert quote --nonce HEX -o DIR`, answered by aicertd).
 *
 * The directory holds events.cel (the host log, the records of runs the asker may not see
 * redacted to their digests), ima.bin when IMA is on, quote.msg, quote.sig, ak.pub.pem,
 * ak.cert.pem if the AK has one, and manifest.json with kind "log-quote" and the nonce; no
 * bom.json. The quote's qualifying data is the manifest's binding with its "kind log-quote"
 * line (lib/manifest.h), so neither a bundle nor a log quote can pass for the other.
 * aicert-verify DIR --nonce HEX checks it (docs/verify.md, "Log quotes").
 */
#ifndef AICERT_TRACE_LOGQUOTE_H
#define AICERT_TRACE_LOGQUOTE_H
#include <stddef.h>
#include <stdint.h>

#include "trace/eventlog.h"

/*
 * Writes a log quote of ev's host log into dir (created 0700 when absent; it must be empty):
 * export (the records of runs view does not show redacted, trace/eventlog.h; NULL: only the
 * baseline and recovery records in clear), binding over kind, events.cel, the PCR and the
 * nonce, the TPM quote over the dedicated PCR and PCR 10, ima.bin copied after the quote (so
 * its replay reaches the quoted PCR 10), manifest.json. The other runs of ev wait from the
 * export to the quote (or to the failure that ends it). The nonce is mandatory (1 to
 * MANIFEST_NONCE_MAX bytes); an unattested (no-TPM) log has nothing to quote. Returns 0 or a
 * negative errno, the failure logged: -EINVAL (no or bad nonce), -ENOTSUP (no TPM),
 * -ENOTEMPTY (dir not empty), else what failed.
 */
int logquote_write(struct evlog *ev, const struct evlog_view *view, const uint8_t *nonce,
		   size_t nonce_len, const char *dir);

#endif
