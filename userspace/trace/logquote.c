// SPDX-License-Identifier: BSD-2-Clause
/* logquote.c - write a log quote directory (trace/logquote.h). */
#include "trace/logquote.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/bom.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "trace/imacorr.h"

/* dir exists (created 0700 if not) and holds nothing: a log quote is never mixed with other
 * files, which its manifest would list and its binding cover. */
static int empty_dir(const char *dir)
{
	struct dirent *e;
	int ret = 0;
	DIR *d;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		log_err("cannot create %s: %s", dir, strerror(errno));
		return ret;
	}
	if (!(d = opendir(dir))) {
		ret = -errno;
		log_err("cannot open directory %s: %s", dir, strerror(errno));
		return ret;
	}
	while (!ret && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			ret = -ENOTEMPTY;
	closedir(d);
	if (ret)
		log_err("%s is not empty: a log quote goes into an empty directory", dir);
	return ret;
}

/*
 * The two calls that seal the log (export, then quote: no writer extends the PCR in between;
 * the quote releases the log, evlog_release() does without one). The only place this file
 * calls them.
 */
static int seal_export(struct evlog *ev, const struct evlog_view *view, const char *path)
{
	return evlog_export(ev, view, path);
}

static int seal_quote(struct evlog *ev, const uint8_t qual[32], const char *dir)
{
	return evlog_quote(ev, qual, 32, dir);
}

int logquote_write(struct evlog *ev, const struct evlog_view *view, const uint8_t *nonce,
		   size_t nonce_len, const char *dir)
{
	char path[PATH_MAX], why[MANIFEST_WHY_MAX];
	unsigned pcr = (unsigned)evlog_pcr(ev);
	struct manifest *m = NULL;
	struct bom none;
	uint8_t q[32];
	int ret;

	if (!nonce || !nonce_len || nonce_len > MANIFEST_NONCE_MAX) {
		log_err("a log quote needs a nonce of 1 to %d bytes (the verifier's challenge)",
			MANIFEST_NONCE_MAX);
		return -EINVAL;
	}
	if (!evlog_attested(ev)) {
		log_err("no TPM (unattested log): there is nothing to quote");
		return -ENOTSUP;
	}
	if ((ret = empty_dir(dir)))
		return ret;
	if (snprintf(path, sizeof(path), "%s/events.cel", dir) >= (int)sizeof(path)) {
		log_err("%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if ((ret = seal_export(ev, view, path)))
		return ret; /* said; the export released the log */
	/* the scan computes the binding (qualifying_data) over kind, events.cel, pcr, nonce */
	if (manifest_scan_kind(dir, MANIFEST_LOG_QUOTE, pcr, nonce, nonce_len, &m, why)) {
		evlog_release(ev); /* no quote: the other runs append again */
		log_err("cannot bind the log quote: %s", why);
		return -EIO;
	}
	memcpy(q, m->qualifying_data, sizeof(q));
	manifest_free(m);
	if ((ret = seal_quote(ev, q, dir))) {
		log_err("cannot take the TPM quote of the log");
		return ret;
	}
	bom_init(&none);
	ret = imacorr_run(&none, dir, NULL, NULL);
	bom_free(&none);
	if (ret) {
		log_err("cannot copy the IMA list into %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (manifest_build_kind(dir, MANIFEST_LOG_QUOTE, pcr, nonce, nonce_len, NULL, why)) {
		log_err("cannot write %s/manifest.json: %s", dir, why);
		return -EIO;
	}
	return 0;
}
