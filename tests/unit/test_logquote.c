// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_logquote.c - log quotes (trace/logquote.h) against a real swtpm: a host log (one evlog,
 * as in aicertd) with an ended run of the asker, another user's ended run and a run still going
 * is quoted for a nonce (the asker's run in clear; by uid; everything, as root sees it), then
 * verified with verify_bundle (what aicert-verify runs) and tpm2_checkquote; each
 * forgery (wrong or missing nonce, a byte of events.cel, a redacted record restored, bom.json
 * added, the kind relabelled, the manifest edited) must fail the right check, as made and
 * "resealed" (manifest redone, as an attacker without the AK could).
 *
 *   test_logquote                       the cmocka suite
 *   test_logquote --write DIR NONCEHEX  writes one log quote into DIR (swtpm started and
 *                                       stopped here) for tests/integration/47-verify-quote.sh
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "lib/cel.h"
#include "lib/fileio.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "lib/verify.h"
#include "trace/eventlog.h"
#include "trace/logquote.h"
#include "swtpm_helper.h"
#include "testutil.h"

#define BOOT "11111111-2222-3333-4444-555555555555"
#define RUN_A "aaaaaaaa-0000-4000-8000-000000000001" /* the asker's (uid 1000): in clear */
#define RUN_B "bbbbbbbb-0000-4000-8000-000000000002" /* root's: redacted */
#define RUN_C "cccccccc-0000-4000-8000-000000000003" /* uid 1000's, still running when quoted */
#define UID_A 1000
#define UID_B 0
#define UID_C 1000

/* the asker's run in clear, nothing else */
static const struct evlog_view VIEW_A = {RUN_A, EVLOG_VIEW_NOUID};

static const uint8_t NONCE[16] = "challenge-0001!";
static const uint8_t OTHER[16] = "challenge-0002!";

struct fx {
	char dir[64];	/* state dir and scratch */
	char q[128];	/* the log quote */
	char host[160]; /* the host log */
	char ak[192];
	struct evlog_opts o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tu_mkdtemp(f->dir, "logquote"))
		return -1;
	snprintf(f->q, sizeof(f->q), "%s/quote", f->dir);
	snprintf(f->host, sizeof(f->host), "%s/" BOOT "/events.cel", f->dir);
	snprintf(f->ak, sizeof(f->ak), "%s/ak.pub.pem", f->q);
	f->o.statedir = f->dir;
	f->o.tcti = swtpm_tcti;
	f->o.boot_id = BOOT;
	f->o.batch_hz = 50;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = tu_rmrf(f->dir);

	free(f);
	return rc;
}

/* A run of uid on ev with n file measurements queued. */
static struct evlog_run *start(struct evlog *ev, const char *run_id, uint32_t uid, int n)
{
	static const char *argv[] = {"python3", "train.py"};
	struct evlog_run_info ri = {.run_id = run_id,
				    .argv = argv,
				    .argc = 2,
				    .cwd = "/w",
				    .uid = uid,
				    .backend = "tracepoint"};
	struct evlog_run *r = NULL;
	char path[80];
	uint8_t sha[32];
	unsigned len;

	assert_int_equal(evlog_run_start(ev, &ri, &r), 0);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/data/%s/%d", run_id, i);
		EVP_Digest(path, strlen(path), sha, &len, EVP_sha256(), NULL);
		assert_int_equal(evlog_measure(r, path, sha, (uint64_t)i, 1, CEL_FILE_OK), 0);
	}
	return r;
}

static void end(struct evlog_run *r)
{
	struct evlog_run_end re = {.exit_status = 0};

	assert_int_equal(evlog_run_end(r, &re), 0);
}

/* One host log, runs A (uid 1000) and B (root) ended, C (uid 1000) going: a log quote of
 * what view shows, into dir. */
static int write_quote(const struct evlog_opts *o, const struct evlog_view *view, const char *dir,
		       const uint8_t *nonce, size_t len)
{
	struct evlog_run *a, *b, *c;
	struct evlog *ev;
	int rc;

	assert_int_equal(evlog_open(o, &ev), 0);
	a = start(ev, RUN_A, UID_A, 12);
	end(a);
	b = start(ev, RUN_B, UID_B, 7);
	end(b);
	c = start(ev, RUN_C, UID_C, 3);
	rc = logquote_write(ev, view, nonce, len, dir);
	evlog_run_free(c);
	evlog_run_free(b);
	evlog_run_free(a);
	evlog_close(ev);
	return rc;
}

static int verify(struct fx *f, const uint8_t *nonce, struct verify_report *r)
{
	struct verify_opts vo = {.bundle = f->q,
				 .ak_pem = f->ak,
				 .nonce = nonce,
				 .nonce_len = nonce ? sizeof(NONCE) : 0};

	return verify_bundle(&vo, r);
}

/* Fails with code, check failing first with a reason holding want. */
static void assert_fails(struct fx *f, const uint8_t *nonce, int code, enum verify_check_id id,
			 const char *want)
{
	struct verify_report r;

	assert_int_equal(verify(f, nonce, &r), code);
	if (r.checks[id].ok || !strstr(r.checks[id].reason, want))
		fail_msg("%s: %s (wanted FAIL with \"%s\")", r.checks[id].name, r.checks[id].reason,
			 want);
}

static void make(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_quote(&f->o, &VIEW_A, f->q, NONCE, sizeof(NONCE)), 0);
}

/* The manifest redone over the directory as it is now, as someone without the AK could. */
static void reseal(struct fx *f, enum manifest_kind kind)
{
	char why[MANIFEST_WHY_MAX];

	if (manifest_build_kind(f->q, kind, 15, NONCE, sizeof(NONCE), NULL, why))
		fail_msg("reseal: %s", why);
}

/* A forgery as made fails the manifest (reason holding made); resealed as kind, the quote. */
static void assert_caught(struct fx *f, const char *made, enum manifest_kind kind)
{
	assert_fails(f, NONCE, VERIFY_EXIT_MANIFEST, VERIFY_MANIFEST, made);
	reseal(f, kind);
	assert_fails(f, NONCE, VERIFY_EXIT_QUOTE, VERIFY_QUOTE, "qualifying");
}

static void load_log(const char *path, struct cel_log *log)
{
	char why[FILEIO_WHY_MAX], err[CEL_ERR_MAX] = "";
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(fileio_read_regular(AT_FDCWD, path, 1 << 26, &buf, &len, why), 0);
	if (cel_log_decode(buf, len, log, NULL, err))
		fail_msg("%s: %s", path, err);
	free(buf);
}

static const char *run_of(const struct cel_record *r, char id[37])
{
	struct cel_event e;

	id[0] = 0;
	if (r->content_type != CEL_CT_AICERT)
		return id;
	assert_int_equal(cel_event_decode(r->content, r->content_len, &e, NULL), 0);
	strcpy(id, e.run_id);
	cel_event_free(&e);
	return id;
}

/* Records of an exported log in clear per run, and the records redacted. */
struct counts {
	size_t a, b, c, redacted;
};

static void count_clear(const char *path, struct counts *n)
{
	struct cel_log log = {0};
	char id[37];

	memset(n, 0, sizeof(*n));
	load_log(path, &log);
	for (size_t i = 1; i < log.n; i++) {
		if (log.recs[i].content_type == CEL_CT_REDACTED)
			n->redacted++;
		else if (!strcmp(run_of(&log.recs[i], id), RUN_A))
			n->a++;
		else if (!strcmp(id, RUN_B))
			n->b++;
		else if (!strcmp(id, RUN_C))
			n->c++;
		else
			fail_msg("record %zu of %s: not of a run (%s)", i, path, id);
	}
	cel_log_free(&log);
}

/* A log quote of what v shows verifies, its eventlog check saying want; n: what it holds. */
static void quote_view(struct fx *f, const struct evlog_view *v, const char *want, struct counts *n)
{
	struct verify_report r;
	char path[200];

	assert_int_equal(write_quote(&f->o, v, f->q, NONCE, sizeof(NONCE)), 0);
	assert_int_equal(verify(f, NONCE, &r), VERIFY_EXIT_OK);
	assert_true(r.log_quote);
	if (!strstr(r.checks[VERIFY_EVENTLOG].reason, want))
		fail_msg("eventlog: %s (wanted \"%s\")", r.checks[VERIFY_EVENTLOG].reason, want);
	snprintf(path, sizeof(path), "%s/events.cel", f->q);
	count_clear(path, n);
}

/* ---- tests ---- */

static void test_verifies(void **state)
{
	struct fx *f = *state;
	struct verify_report r;
	struct manifest *m = NULL;
	char path[200], why[MANIFEST_WHY_MAX], qd[65], *text;
	struct counts n;
	json_t *j;

	make(state);
	assert_int_equal(verify(f, NONCE, &r), VERIFY_EXIT_OK);
	assert_true(r.log_quote);
	assert_string_equal(r.verdict, "verified");
	for (int i = VERIFY_BOM; i <= VERIFY_COMPLETE; i++) {
		assert_true(r.checks[i].ok && r.checks[i].not_applicable);
		assert_string_equal(r.checks[i].reason, "not applicable: log quote");
	}
	for (int i = VERIFY_MANIFEST; i < VERIFY_BOM; i++)
		assert_false(r.checks[i].not_applicable);
	assert_non_null(strstr(r.checks[VERIFY_EVENTLOG].reason, "1 run_start record(s) in clear"));
	/* the report's first word says what it is */
	j = verify_report_json(&r);
	text = json_dumps(j, 0);
	assert_int_equal(strncmp(text, "{\"kind\": \"log-quote\"", 20), 0);
	free(text);
	json_decref(j);

	/* what the directory holds: no bom.json, kind and nonce in the manifest */
	snprintf(path, sizeof(path), "%s/manifest.json", f->q);
	assert_int_equal(manifest_read(path, &m, why), 0);
	assert_int_equal(m->kind, MANIFEST_LOG_QUOTE);
	assert_true(m->has_kind && m->has_nonce && m->nonce_len == sizeof(NONCE));
	assert_memory_equal(m->nonce, NONCE, sizeof(NONCE));
	assert_int_equal(sh("test ! -e %s/bom.json && test -s %s/quote.msg && test -s "
			    "%s/quote.sig && test -s %s/ak.pub.pem",
			    f->q, f->q, f->q, f->q),
			 0);
	/* manifest digest of events.cel == sha256sum's */
	for (size_t i = 0; i < m->n_files; i++)
		if (!strcmp(m->files[i].name, "events.cel")) {
			hex_encode(m->files[i].sha256, 32, qd);
			assert_int_equal(
			    sh("cd %s && echo '%s  events.cel' | sha256sum -c --quiet", f->q, qd),
			    0);
		}
	/* tpm2_checkquote accepts it with the manifest's qualifying data */
	hex_encode(m->qualifying_data, 32, qd);
	assert_int_equal(sh("cd %s && tpm2_checkquote -u ak.pub.pem -m quote.msg -s quote.sig "
			    "-q %s -g sha256 >/dev/null",
			    f->q, qd),
			 0);
	manifest_free(m);

	/* A's records in clear; B's and C's redacted */
	snprintf(path, sizeof(path), "%s/events.cel", f->q);
	count_clear(path, &n);
	assert_true(n.a >= 3 && n.redacted >= 4);
	assert_int_equal(n.b + n.c, 0);
	assert_int_equal(sh("grep -q %s %s", RUN_B, path), 1);
}

/* A view by uid (what aicertd gives a user asking for all their runs): the runs of uid 1000
 * (A ended, C going) in clear, root's (B) redacted. */
static void test_by_uid(void **state)
{
	struct fx *f = *state;
	struct counts n;

	quote_view(f, &(struct evlog_view){NULL, UID_A}, "2 run_start record(s) in clear", &n);
	/* A: run_start, batches, run_end; C: at least its run_start; B: run_start, batch, run_end
	 */
	assert_true(n.a >= 3 && n.c >= 1 && n.redacted >= 3);
	assert_int_equal(n.b, 0);
	assert_int_equal(sh("grep -q %s %s/events.cel", RUN_B, f->q), 1);
}

/* No view: only the baseline (and recovery records, none here) in clear, every run redacted. */
static void test_no_view(void **state)
{
	struct fx *f = *state;
	struct counts n;

	quote_view(f, NULL, "0 run_start record(s) in clear", &n);
	assert_int_equal(n.a + n.b + n.c, 0);
	assert_true(n.redacted >= 7);
}

/* Root's view (aicertd redacts nothing for root): every run in clear, one still going; the
 * export is the host log's bytes as they were, nothing redacted. */
static void test_all_clear(void **state)
{
	struct fx *f = *state;
	struct counts n;

	quote_view(f, &(struct evlog_view){NULL, EVLOG_VIEW_ALL},
		   "3 run_start record(s) in clear, 0 record(s) redacted", &n);
	assert_true(n.a >= 3 && n.b >= 3 && n.c >= 1);
	assert_int_equal(n.redacted, 0);
	/* a prefix of the host log (C's run_end and later flushes came after the quote) */
	assert_int_equal(
	    sh("cd %s && cmp -n $(stat -c %%s events.cel) events.cel %s", f->q, f->host), 0);
}

static void test_nonce(void **state)
{
	struct fx *f = *state;

	make(state);
	assert_fails(f, OTHER, VERIFY_EXIT_QUOTE, VERIFY_QUOTE, "another challenge");
	assert_fails(f, NULL, VERIFY_EXIT_QUOTE, VERIFY_QUOTE, "give --nonce");
}

static void test_events_byte(void **state)
{
	struct fx *f = *state;

	make(state);
	/* a byte near the end: the last record's content */
	assert_int_equal(sh("cd %s && n=$(stat -c %%s events.cel) && printf Z | dd "
			    "of=events.cel bs=1 seek=$((n - 3)) conv=notrunc status=none",
			    f->q),
			 0);
	assert_caught(f, "events.cel: sha256", MANIFEST_LOG_QUOTE);
}

/* Run B's first record put back in clear (its genuine content, from the host log): the
 * digests still match and the replay still holds, but the quote bound the redacted log. */
static void test_unredacted(void **state)
{
	struct fx *f = *state;
	struct cel_log q = {0}, host = {0};
	char path[200], id[37];
	uint8_t *buf = NULL;
	size_t len = 0, i;
	FILE *fp;

	make(state);
	snprintf(path, sizeof(path), "%s/events.cel", f->q);
	load_log(path, &q);
	load_log(f->host, &host);
	for (i = 1; i < q.n; i++)
		if (q.recs[i].content_type == CEL_CT_REDACTED &&
		    !strcmp(run_of(&host.recs[i], id), RUN_B))
			break;
	assert_true(i < q.n);
	assert_int_equal(host.recs[i].recnum, q.recs[i].recnum);
	cel_record_free(&q.recs[i]);
	q.recs[i] = host.recs[i];
	memset(&host.recs[i], 0, sizeof(host.recs[i]));
	assert_int_equal(cel_log_encode(&q, &buf, &len), 0);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	free(buf);
	cel_log_free(&q);
	cel_log_free(&host);
	assert_int_equal(sh("grep -q %s %s", RUN_B, path), 0);
	assert_caught(f, "events.cel: ", MANIFEST_LOG_QUOTE);
}

static void test_bom_added(void **state)
{
	struct fx *f = *state;
	struct verify_report r;

	make(state);
	assert_int_equal(sh("echo '{}' > %s/bom.json", f->q), 0);
	assert_fails(f, NONCE, VERIFY_EXIT_MANIFEST, VERIFY_MANIFEST, "not in the manifest");
	/* listed in a log quote's manifest: not a log quote's file; then relabelled a bundle:
	 * the binding has no kind line and one more file, so the quote does not match */
	reseal(f, MANIFEST_LOG_QUOTE);
	assert_caught(f, "bom.json: a log quote", MANIFEST_BUNDLE);
	assert_int_equal(verify(f, NONCE, &r), VERIFY_EXIT_QUOTE);
	assert_false(r.log_quote);
	assert_false(r.checks[VERIFY_BOM].ok);
}

/* kind "bundle" (or no kind) in the manifest, nothing else changed: the binding differs. */
static void test_kind_edited(void **state)
{
	struct fx *f = *state;
	struct verify_report r;

	make(state);
	assert_int_equal(sh("cd %s && sed -i 's/\"log-quote\"/\"bundle\"/' manifest.json && grep "
			    "-q '\"kind\": \"bundle\"' manifest.json",
			    f->q),
			 0);
	assert_fails(f, NONCE, VERIFY_EXIT_MANIFEST, VERIFY_MANIFEST,
		     "binding of its kind (bundle)");
	assert_int_equal(verify(f, NONCE, &r), VERIFY_EXIT_MANIFEST);
	assert_false(r.log_quote);
	/* a bundle without bom.json fails as any bundle would */
	assert_false(r.checks[VERIFY_BOM].ok);
	assert_false(r.checks[VERIFY_BOM].not_applicable);
	assert_int_equal(
	    sh("cd %s && sed -i '/\"kind\"/d; s/\"nonce\": \\(.*\\),$/\"nonce\": \\1/' "
	       "manifest.json && ! grep -q '\"kind\"' manifest.json",
	       f->q),
	    0);
	/* resealed as a bundle: the quote's qualifying data has the kind line */
	assert_caught(f, "binding of its kind (bundle)", MANIFEST_BUNDLE);
}

/* An old quote passed off as the answer to a new challenge: the manifest's nonce edited. */
static void test_manifest_edited(void **state)
{
	struct fx *f = *state;
	struct manifest *m = NULL;
	char path[200], why[MANIFEST_WHY_MAX];

	make(state);
	snprintf(path, sizeof(path), "%s/manifest.json", f->q);
	assert_int_equal(manifest_read(path, &m, why), 0);
	memcpy(m->nonce, OTHER, sizeof(OTHER));
	assert_int_equal(manifest_write(f->q, m, why), 0);
	assert_fails(f, OTHER, VERIFY_EXIT_MANIFEST, VERIFY_MANIFEST, "qualifying_data is not");
	/* and with qualifying_data redone */
	assert_int_equal(manifest_binding(m, m->qualifying_data), 0);
	assert_int_equal(manifest_write(f->q, m, why), 0);
	assert_fails(f, OTHER, VERIFY_EXIT_QUOTE, VERIFY_QUOTE, "qualifying");
	/* the PCR changed */
	m->pcr = 14;
	assert_int_equal(manifest_binding(m, m->qualifying_data), 0);
	assert_int_equal(manifest_write(f->q, m, why), 0);
	assert_fails(f, OTHER, VERIFY_EXIT_QUOTE, VERIFY_QUOTE, "");
	manifest_free(m);
}

static void test_weights(void **state)
{
	struct fx *f = *state;
	const char *w[] = {"/etc/hostname"};
	struct verify_opts vo = {.bundle = f->q,
				 .ak_pem = f->ak,
				 .nonce = NONCE,
				 .nonce_len = sizeof(NONCE),
				 .weights = w,
				 .n_weights = 1};
	struct verify_report r;

	make(state);
	assert_int_equal(verify_bundle(&vo, &r), VERIFY_EXIT_WEIGHTS);
	assert_non_null(strstr(r.checks[VERIFY_WEIGHTS].reason, "a log quote holds no run"));
}

static void test_refused(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	char d[128];

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(logquote_write(ev, &VIEW_A, NULL, 0, f->q), -EINVAL);
	assert_int_equal(logquote_write(ev, &VIEW_A, NONCE, MANIFEST_NONCE_MAX + 1, f->q), -EINVAL);
	snprintf(d, sizeof(d), "%s/full", f->dir);
	assert_int_equal(sh("mkdir %s && touch %s/x", d, d), 0);
	assert_int_equal(logquote_write(ev, NULL, NONCE, sizeof(NONCE), d), -ENOTEMPTY);
	evlog_close(ev);
	f->o.no_tpm = true;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(logquote_write(ev, NULL, NONCE, sizeof(NONCE), f->q), -ENOTSUP);
	evlog_close(ev);
	assert_int_equal(sh("test ! -e %s/events.cel", f->q), 0);
}

/* --write DIR NONCEHEX: one log quote into DIR, as a cmocka group of one under swtpm_main. */
static const char *write_dir;
static uint8_t write_nonce[MANIFEST_NONCE_MAX];
static size_t write_nonce_len;

static void test_write(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_quote(&f->o, &VIEW_A, write_dir, write_nonce, write_nonce_len), 0);
}

static int write_main(const char *dir, const char *hex)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write, setup, teardown),
	};
	size_t n = strlen(hex) / 2;

	if (!n || strlen(hex) % 2 || n > sizeof(write_nonce) || hex_decode(hex, write_nonce, n)) {
		fprintf(stderr, "test_logquote --write: bad nonce %s\n", hex);
		return 2;
	}
	write_dir = dir;
	write_nonce_len = n;
	return swtpm_main(tests);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_verifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_by_uid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_view, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nonce, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unredacted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bom_added, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kind_edited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_manifest_edited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_weights, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	log_init("test_logquote", LOG_ERROR);
	if (argc == 4 && !strcmp(argv[1], "--write"))
		return write_main(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_logquote [--write DIR NONCEHEX]\n");
		return 2;
	}
	return swtpm_main(tests);
}
