/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * card.h - the model ID card: one self-contained HTML page (no script, no network, no external
 * file; readable on a phone) saying what a bundle's model is and what went into it, for people.
 * `aicert show --html BUNDLE > card.html`.
 *
 * Sections, each an element with a fixed id so tools and tests can find them:
 *   #model         the outputs (the weights): name, sha256, size
 *   #inputs        what went in, by category (dataset, code, config, library, ...): counts and
 *                  sizes, then every file in a collapsible list
 *   #run           the command, working directory, times, exit status, backend, completeness
 *   #host          host name, kernel, boot id, TPM
 *   #verification  the aicert-verify verdict and each check's line, when it was run; otherwise
 *                  a plain "not verified" with the command that would verify it
 * Every string from the bundle is HTML-escaped; names that are not UTF-8 use bom.json's display
 * form.
 */
#ifndef AICERT_CARD_H
#define AICERT_CARD_H
#include <stdio.h>

#include "lib/bom.h"
#include "lib/verify.h"

struct card_opts {
	const char *bundle;		/* shown as the bundle's name */
	const struct verify_report *vr; /* NULL: not verified */
	const char *verified_with;	/* "--ak ak.pem" and the like, shown beside the verdict */
};

/* Writes the page. 0, or -1 with errno set (write error, or no memory). */
int card_write_html(FILE *out, const struct bom *b, const struct card_opts *o);

#endif
