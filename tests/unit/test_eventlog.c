// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_eventlog.c - the host log writer against a real swtpm (started here through
 * tests/lib/swtpm.sh): replay == tpm2_pcrread, tpm2_checkquote accepts the quote, concurrent
 * writers, torn tails, unbindable logs, redaction, no-TPM mode, flat TPM command count.
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
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <pthread.h>

#include "lib/hex.h"
#include "lib/quote.h"
#include "lib/log.h"
#include "trace/eventlog.h"
#include "swtpm_helper.h"

#define BOOT "11111111-2222-3333-4444-555555555555"
#define RUN_A "aaaaaaaa-0000-4000-8000-000000000001"
#define RUN_B "bbbbbbbb-0000-4000-8000-000000000002"

/* ---- helpers ---- */

struct fx {
	char dir[64];
	char log[128];
	struct evlog_opts o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/aicert-test-evlog.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->log, sizeof(f->log), "%s/" BOOT "/events.cel", f->dir);
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

	sh("rm -rf %s", f->dir);
	free(f);
	return 0;
}

static void fake_sha(const char *path, uint8_t out[32])
{
	unsigned n;

	EVP_Digest(path, strlen(path), out, &n, EVP_sha256(), NULL);
}

/* A whole run: start, n measurements (a flush period apart every `every` files), end. */
static void run(struct evlog *ev, const char *run_id, int n, int every)
{
	struct evlog_run *r = NULL;

	static const char *argv[] = {"python3", "train.py"};
	struct evlog_run_info ri = {.run_id = run_id,
				    .argv = argv,
				    .argc = 2,
				    .cwd = "/w",
				    .uid = 0,
				    .backend = "tracepoint"};
	struct cel_output out = {.path = "/w/model.bin", .size = 4242};
	struct evlog_run_end re = {.exit_status = 128 + 15,
				   .signal = 15,
				   .detached = true,
				   .paths_truncated = 3,
				   .outputs = &out,
				   .n_outputs = 1};
	char path[64];
	uint8_t sha[32];

	assert_int_equal(evlog_run_start(ev, &ri, &r), 0);
	assert_string_equal(evlog_run_id(r), run_id);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/data/%s/%d", run_id, i);
		fake_sha(path, sha);
		assert_int_equal(evlog_measure(r, path, sha, i, 1, CEL_FILE_OK), 0);
		if (every && i % every == every - 1)
			usleep(30000);
	}
	assert_int_equal(evlog_loss(r, 2), 0);
	fake_sha("model", out.sha256);
	assert_int_equal(evlog_run_end(r, &re), 0);
	evlog_run_free(r);
}

static void load(const char *path, struct cel_log *log)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;
	char err[CEL_ERR_MAX] = "";

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc(n + 1);
	assert_int_equal(fread(buf, 1, n, fp), (size_t)n);
	fclose(fp);
	if (cel_log_decode(buf, n, log, NULL, err))
		fail_msg("%s: %s", path, err);
	free(buf);
}

static enum cel_kind kind_of(const struct cel_record *r, char *run_id)
{
	struct cel_event e;
	enum cel_kind k;

	if (r->content_type != CEL_CT_AICERT)
		return 0;
	assert_int_equal(cel_event_decode(r->content, r->content_len, &e, NULL), 0);
	k = e.kind;
	if (run_id)
		strcpy(run_id, e.run_id);
	cel_event_free(&e);
	return k;
}

/* The baseline names this host and kernel; run_end carries what evlog_run_end() was given. */
static void check_baseline_and_end(const struct cel_log *log)
{
	const struct cel_record *last = &log->recs[log->n - 1];
	struct cel_event e;
	struct utsname u;
	char err[CEL_ERR_MAX] = "";

	assert_int_equal(uname(&u), 0);
	if (cel_event_decode(log->recs[0].content, log->recs[0].content_len, &e, err))
		fail_msg("baseline: %s", err);
	assert_string_equal(e.hostname, u.nodename);
	assert_string_equal(e.kernel, u.release);
	cel_event_free(&e);
	if (cel_event_decode(last->content, last->content_len, &e, err))
		fail_msg("run_end: %s", err);
	assert_int_equal(e.kind, CEL_KIND_RUN_END);
	assert_int_equal(e.exit_status, 128 + 15);
	assert_int_equal(e.signal, 15);
	assert_int_equal(e.detached, 1);
	assert_int_equal(e.paths_truncated, 3);
	assert_int_equal(e.n_outputs, 1);
	assert_string_equal(e.outputs[0].path, "/w/model.bin");
	assert_int_equal(e.outputs[0].size, 4242);
	cel_event_free(&e);
}

/* The log's replay from its baseline equals tpm2_pcrread, in sha1 and sha256 (and the rest). */
static void assert_replays(const struct cel_log *log, uint32_t pcr)
{
	static const uint16_t banks[] = {TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384,
					 TPM2_ALG_SHA512};
	char err[CEL_ERR_MAX] = "", hex[129], tool[200], cmd[256];

	for (size_t b = 0; b < 4; b++) {
		uint8_t v[CEL_MAX_DIGEST];
		FILE *p;

		if (cel_replay_baseline(log, pcr, banks[b], v, err))
			fail_msg("replay %s: %s", cel_alg_name(banks[b]), err);
		hex_encode(v, cel_alg_size(banks[b]), hex);
		snprintf(
		    cmd, sizeof(cmd),
		    "TPM2TOOLS_TCTI='%s' tpm2_pcrread %s:%u | sed -n 's/.*: 0x//p' | tr A-F a-f",
		    swtpm_tcti, cel_alg_name(banks[b]), pcr);
		p = popen(cmd, "r");
		assert_non_null(fgets(tool, sizeof(tool), p));
		pclose(p);
		tool[strcspn(tool, "\n")] = 0;
		assert_string_equal(hex, tool);
	}
}

/* ---- tests ---- */

static void test_run_replay_quote(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0}, ex = {0};
	char bundle[128], qhex[65];
	uint8_t q[32];
	unsigned n;

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_true(evlog_attested(ev));
	assert_string_equal(evlog_path(ev), f->log);
	run(ev, RUN_A, 300, 100);
	snprintf(bundle, sizeof(bundle), "%s/bundle", f->dir);
	mkdir(bundle, 0755);
	assert_int_equal(sh("test -s %s", f->log), 0);
	strcat(bundle, "/events.cel");
	assert_int_equal(evlog_export(ev, &(struct evlog_view){RUN_A, EVLOG_VIEW_NOUID}, bundle),
			 0);
	bundle[strlen(bundle) - strlen("/events.cel")] = 0;
	EVP_Digest("bundle", 6, q, &n, EVP_sha256(), NULL);
	hex_encode(q, 32, qhex);
	assert_int_equal(evlog_quote(ev, q, 32, bundle), 0);
	evlog_close(ev);

	load(f->log, &log);
	assert_true(log.n >= 5);
	assert_int_equal(kind_of(&log.recs[0], NULL), CEL_KIND_BASELINE);
	assert_int_equal(kind_of(&log.recs[1], NULL), CEL_KIND_RUN_START);
	assert_int_equal(kind_of(&log.recs[log.n - 1], NULL), CEL_KIND_RUN_END);
	for (size_t i = 0; i < log.n; i++) {
		assert_int_equal(log.recs[i].recnum, i);
		assert_int_equal(log.recs[i].digests.n, 4); /* every allocated bank */
	}
	assert_replays(&log, 15);
	check_baseline_and_end(&log);
	load(strcat(bundle, "/events.cel"), &ex);
	assert_int_equal(ex.n, log.n);
	bundle[strlen(bundle) - strlen("/events.cel")] = 0;
	assert_int_equal(sh("cd %s && tpm2_checkquote -u ak.pub.pem -m quote.msg -s quote.sig "
			    "-q %s -g sha256 >/dev/null",
			    bundle, qhex),
			 0);
	cel_log_free(&log);
	cel_log_free(&ex);
}

static void test_resettable_refused(void **state)
{
	struct fx *f = *state;
	struct evlog *ev = NULL;

	f->o.pcr = 23;
	assert_int_equal(evlog_open(&f->o, &ev), -EPERM);
	assert_null(ev);
	f->o.allow_resettable = true;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(evlog_pcr(ev), 23);
	evlog_close(ev);
}

/* Two processes append to one host log at once; it stays one valid chain. */
static void test_concurrent_writers(void **state)
{
	struct fx *f = *state;
	struct cel_log log = {0};
	pid_t pid[2];
	int runs[2] = {0}, status, switches = 0;
	char rid[37];

	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct evlog *ev;

			if (evlog_open(&f->o, &ev))
				_exit(2);
			run(ev, i ? RUN_B : RUN_A, 400, 40);
			evlog_close(ev);
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	load(f->log, &log);
	for (size_t i = 0; i < log.n; i++) {
		assert_int_equal(log.recs[i].recnum, i);
		if (kind_of(&log.recs[i], rid) == CEL_KIND_RUN_END)
			runs[!strcmp(rid, RUN_B)]++;
	}
	assert_int_equal(runs[0], 1);
	assert_int_equal(runs[1], 1);
	/* the two runs really did take turns at the lock */
	for (size_t i = 2, prev = 0; i < log.n; i++) {
		int b;

		kind_of(&log.recs[i], rid);
		b = !strcmp(rid, RUN_B) + 1;
		switches += prev && b != (int)prev;
		prev = b;
	}
	assert_true(switches >= 2);
	/* no recovery was needed: exactly one baseline, no recovery record */
	for (size_t i = 1; i < log.n; i++)
		assert_true(kind_of(&log.recs[i], NULL) != CEL_KIND_BASELINE &&
			    kind_of(&log.recs[i], NULL) != CEL_KIND_RECOVERY);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

static struct cel_event last_event(const char *path, struct cel_log *log)
{
	struct cel_event e;

	load(path, log);
	assert_int_equal(cel_event_decode(log->recs[log->n - 1].content,
					  log->recs[log->n - 1].content_len, &e, NULL),
			 0);
	return e;
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};
	struct cel_event e;
	uint64_t last;

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_A, 10, 0);
	evlog_close(ev);
	load(f->log, &log);
	last = log.recs[log.n - 1].recnum;
	cel_log_free(&log);
	/* a writer died in the middle of write(): half a record */
	assert_int_equal(sh("head -c 23 %s >> %s", f->log, f->log), 0);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	evlog_close(ev);
	e = last_event(f->log, &log);
	assert_int_equal(e.kind, CEL_KIND_RECOVERY);
	assert_int_equal(e.last_good_recnum, last);
	assert_int_equal(e.bytes_dropped, 23);
	assert_replays(&log, 15);
	cel_event_free(&e);
	cel_log_free(&log);
}

/* A writer died between fsync and extend: the record is in the log, not in the PCR. */
static void test_unextended_record(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};
	struct cel_record r;
	struct cel_event e;
	uint8_t *enc = NULL;
	size_t elen = 0;
	const uint16_t algs[] = {TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384, TPM2_ALG_SHA512};
	uint64_t last;
	FILE *fp;

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_A, 10, 0);
	evlog_close(ev);
	load(f->log, &log);
	last = log.recs[log.n - 1].recnum;
	assert_int_equal(cel_record_make(&r, last + 1, 15, CEL_CT_AICERT, log.recs[2].content,
					 log.recs[2].content_len, algs, 4),
			 0);
	assert_int_equal(cel_record_encode(&r, &enc, &elen), 0);
	fp = fopen(f->log, "ab");
	assert_int_equal(fwrite(enc, 1, elen, fp), elen);
	fclose(fp);
	cel_log_free(&log);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	evlog_close(ev);
	e = last_event(f->log, &log);
	assert_int_equal(e.kind, CEL_KIND_RECOVERY);
	assert_int_equal(e.last_good_recnum, last);
	assert_int_equal(e.bytes_dropped, elen);
	assert_int_equal(log.recs[log.n - 1].recnum, last + 1);
	assert_replays(&log, 15);
	cel_event_free(&e);
	cel_record_free(&r);
	cel_log_free(&log);
	free(enc);
}

/* Someone else extended the PCR: the log cannot be bound, so a new one starts. */
static void test_unbindable_log(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_A, 5, 0);
	evlog_close(ev);
	assert_int_equal(sh("TPM2TOOLS_TCTI='%s' tpm2_pcrextend 15:sha256=%064d", swtpm_tcti, 0),
			 0);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	evlog_close(ev);
	assert_int_equal(sh("ls %s.unbound-* >/dev/null", f->log), 0);
	load(f->log, &log);
	assert_int_equal(log.n, 2);
	assert_int_equal(kind_of(&log.recs[0], NULL), CEL_KIND_BASELINE);
	assert_int_equal(kind_of(&log.recs[1], NULL), CEL_KIND_RECOVERY);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

/* A bundle's log: other runs reduced to digests, still replaying to the PCR. */
static void test_export_redacts(void **state)
{
	struct fx *f = *state;
	struct evlog *a, *b;
	struct cel_log log = {0};
	char out[128], rid[37];
	int mine = 0, redacted = 0;

	assert_int_equal(evlog_open(&f->o, &a), 0);
	run(a, RUN_A, 20, 0);
	assert_int_equal(evlog_open(&f->o, &b), 0);
	run(b, RUN_B, 20, 0);
	snprintf(out, sizeof(out), "%s/b.cel", f->dir);
	assert_int_equal(evlog_export(b, &(struct evlog_view){RUN_B, EVLOG_VIEW_NOUID}, out), 0);
	assert_int_equal(evlog_quote(b, (const uint8_t *)"n", 1, f->dir), 0);
	evlog_close(a);
	evlog_close(b);
	load(out, &log);
	for (size_t i = 0; i < log.n; i++) {
		if (log.recs[i].content_type == CEL_CT_REDACTED) {
			redacted++;
			continue;
		}
		if (kind_of(&log.recs[i], rid) == CEL_KIND_BASELINE)
			continue;
		assert_string_equal(rid, RUN_B);
		mine++;
	}
	assert_true(redacted >= 3 && mine >= 3);
	assert_int_equal(sh("grep -q %s %s", RUN_A, out), 1);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

static void test_no_tpm(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};
	char path[160], err[CEL_ERR_MAX];
	uint8_t v[32], want[32] = {0};

	f->o.no_tpm = true;
	f->o.tcti = "swtpm:host=127.0.0.1,port=1"; /* never used */
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_false(evlog_attested(ev));
	run(ev, RUN_A, 10, 0);
	assert_int_equal(evlog_tpm_commands(ev), 0);
	assert_int_equal(evlog_quote(ev, (const uint8_t *)"n", 1, f->dir), -ENOTSUP);
	evlog_close(ev);
	snprintf(path, sizeof(path), "%s/" BOOT "/events-unattested.cel", f->dir);
	load(path, &log);
	assert_int_equal(kind_of(&log.recs[0], NULL), CEL_KIND_BASELINE);
	/* simulated PCR: a chain from zeros */
	assert_int_equal(cel_replay_baseline(&log, 15, TPM2_ALG_SHA256, v, err), 0);
	for (size_t i = 0; i < log.n; i++)
		cel_extend(TPM2_ALG_SHA256, want, log.recs[i].digests.v[1].d);
	assert_memory_equal(v, want, 32);
	assert_int_equal(access(f->log, F_OK), -1);
	cel_log_free(&log);
}

/* TPM commands per run do not grow with the number of files. */
static void test_commands_flat(void **state)
{
	struct fx *f = *state;
	uint64_t c[2];
	struct evlog *first;

	/* the log exists already (its baseline is one-off cost) */
	assert_int_equal(evlog_open(&f->o, &first), 0);
	evlog_close(first);
	for (int i = 0; i < 2; i++) {
		struct evlog *ev;

		f->o.batch_hz = 1;
		assert_int_equal(evlog_open(&f->o, &ev), 0);
		run(ev, i ? RUN_B : RUN_A, i ? 20000 : 10, 0);
		c[i] = evlog_tpm_commands(ev);
		assert_int_equal(evlog_batches(ev), 1);
		evlog_close(ev);
	}
	assert_int_equal(c[0], c[1]);
}

/* The nonce given before the run is in run_start, where a later quote cannot put it. */
static void test_run_start_nonce(void **state)
{
	struct fx *f = *state;
	static const char *argv[] = {"true"};
	static const uint8_t nonce[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
	struct evlog_run_info ri = {.run_id = RUN_A,
				    .argv = argv,
				    .argc = 1,
				    .cwd = "/",
				    .backend = "tracepoint",
				    .nonce = nonce,
				    .nonce_len = sizeof(nonce)};
	struct evlog *ev;
	struct evlog_run *r;
	struct cel_log log = {0};
	struct cel_event e;

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(evlog_run_start(ev, &ri, &r), 0);
	evlog_run_free(r);
	evlog_close(ev);
	e = last_event(f->log, &log);
	assert_int_equal(e.kind, CEL_KIND_RUN_START);
	assert_int_equal(e.nonce_len, sizeof(nonce));
	assert_memory_equal(e.nonce, nonce, sizeof(nonce));
	cel_event_free(&e);
	cel_log_free(&log);
	/* too long a nonce is refused, not cut */
	ri.nonce_len = CEL_NONCE_MAX + 1;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(evlog_run_start(ev, &ri, &r), -EINVAL);
	assert_null(r);
	evlog_close(ev);
}

/* Count of recovery records, and whether the log starts with a baseline. */
static size_t recoveries(const struct cel_log *log)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		n += kind_of(&log->recs[i], NULL) == CEL_KIND_RECOVERY;
	return n;
}

/* A byte of an earlier record's content changed: its digest no longer matches. The log still
 * replays (the digests are intact), so only the content check sees it; it must be recorded. */
static void test_damaged_record(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};
	struct stat st;
	char rid[37];

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_A, 10, 0);
	evlog_close(ev);
	assert_int_equal(stat(f->log, &st), 0);
	/* flip the last byte of the file: inside the run_end record's content */
	assert_int_equal(sh("printf 'X' | dd of=%s bs=1 seek=%lld conv=notrunc status=none", f->log,
			    (long long)st.st_size - 1),
			 0);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	evlog_close(ev);
	assert_int_equal(sh("ls %s.damaged-* >/dev/null", f->log), 0);
	load(f->log, &log);
	assert_int_equal(kind_of(&log.recs[0], rid), CEL_KIND_BASELINE);
	assert_int_equal(recoveries(&log), 1);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

/* The log emptied under aicert (truncated to 0 while the PCR holds its history). */
static void test_emptied_log(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};
	struct cel_event e;

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_A, 5, 0);
	evlog_close(ev);
	assert_int_equal(truncate(f->log, 0), 0);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	evlog_close(ev);
	e = last_event(f->log, &log);
	assert_int_equal(e.kind, CEL_KIND_RECOVERY);
	assert_int_equal(e.last_good_recnum, UINT64_MAX);
	assert_int_equal(kind_of(&log.recs[0], NULL), CEL_KIND_BASELINE);
	assert_replays(&log, 15);
	cel_event_free(&e);
	cel_log_free(&log);
	/* and emptied while a writer holds it open: noticed at its next append */
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(truncate(f->log, 0), 0);
	run(ev, RUN_B, 3, 0);
	evlog_close(ev);
	load(f->log, &log);
	assert_int_equal(kind_of(&log.recs[0], NULL), CEL_KIND_BASELINE);
	assert_int_equal(recoveries(&log), 1);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

static struct fx *second_fx;

/* evlog_open_hook: another writer opens the same log while the first one waits for the lock */
static void open_second(void)
{
	struct evlog *ev;

	evlog_open_hook = NULL;
	assert_int_equal(evlog_open(&second_fx->o, &ev), 0);
	evlog_close(ev);
}

/* Two writers open a new log at once, the second one first to the lock: one baseline, no
 * recovery (the first one's open must not pass for a log emptied under aicert). */
static void test_concurrent_open(void **state)
{
	struct fx *f = *state;
	struct evlog_opts other = f->o;
	struct evlog *ev;
	struct cel_log log = {0};

	/* the PCR is past its reset value, as on a host where a log was emptied */
	other.boot_id = "99999999-2222-3333-4444-555555555555";
	assert_int_equal(evlog_open(&other, &ev), 0);
	evlog_close(ev);
	second_fx = f;
	evlog_open_hook = open_second;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_null(evlog_open_hook);
	run(ev, RUN_A, 3, 0);
	evlog_close(ev);
	load(f->log, &log);
	assert_int_equal(kind_of(&log.recs[0], NULL), CEL_KIND_BASELINE);
	for (size_t i = 1; i < log.n; i++)
		assert_int_not_equal(kind_of(&log.recs[i], NULL), CEL_KIND_BASELINE);
	assert_int_equal(recoveries(&log), 0);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

/* A log of many records is validated and exported in memory independent of its size. */
static void test_streamed(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct cel_log log = {0};
	char out[128];

	f->o.batch_hz = 1000;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_A, 3000, 7);
	evlog_close(ev);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	run(ev, RUN_B, 5, 0);
	snprintf(out, sizeof(out), "%s/b.cel", f->dir);
	assert_int_equal(evlog_export(ev, &(struct evlog_view){RUN_B, EVLOG_VIEW_NOUID}, out), 0);
	assert_int_equal(evlog_quote(ev, (const uint8_t *)"n", 1, f->dir), 0);
	evlog_close(ev);
	load(out, &log);
	assert_true(log.n > 50);
	assert_replays(&log, 15);
	cel_log_free(&log);
}

/* ---- many runs in one process ---- */

#define RUN_C "cccccccc-0000-4000-8000-000000000003"

static struct evlog_run *start(struct evlog *ev, const char *id, uint32_t uid)
{
	static const char *argv[] = {"true"};
	struct evlog_run *r;

	assert_int_equal(evlog_run_start(ev,
					 &(struct evlog_run_info){.run_id = id,
								  .argv = argv,
								  .argc = 1,
								  .cwd = "/",
								  .uid = uid,
								  .backend = "tracepoint"},
					 &r),
			 0);
	return r;
}

static void measure(struct evlog_run *r, int i)
{
	char path[80];
	uint8_t sha[32];

	snprintf(path, sizeof(path), "/data/%s/%d", evlog_run_id(r), i);
	fake_sha(path, sha);
	assert_int_equal(evlog_measure(r, path, sha, i, 1, CEL_FILE_OK), 0);
}

static void end(struct evlog_run *r)
{
	assert_int_equal(evlog_run_end(r, &(struct evlog_run_end){0}), 0);
	evlog_run_free(r);
}

/* Exports the log under view v; counts its clear records per run (a, b, c) and redacted ones. */
static void export_count(struct evlog *ev, const struct evlog_view *v, const char *out, int n[4])
{
	struct cel_log log = {0};
	char rid[37];

	memset(n, 0, 4 * sizeof(int));
	assert_int_equal(evlog_export(ev, v, out), 0);
	evlog_release(ev);
	load(out, &log);
	for (size_t i = 0; i < log.n; i++) {
		if (log.recs[i].content_type == CEL_CT_REDACTED) {
			n[3]++;
			continue;
		}
		if (kind_of(&log.recs[i], rid) == CEL_KIND_BASELINE)
			continue;
		n[!strcmp(rid, RUN_B) ? 1 : !strcmp(rid, RUN_C) ? 2 : 0]++;
		assert_true(!strcmp(rid, RUN_A) || !strcmp(rid, RUN_B) || !strcmp(rid, RUN_C));
	}
	assert_replays(&log, 15);
	cel_log_free(&log);
}

/* Two runs of one process take turns in one log; each export shows only its own run in clear,
 * and each run_end's totals are those of its own records. */
static void test_interleaved_runs(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct evlog_run *a, *b;
	struct cel_log log = {0};
	struct cel_event e;
	char out[128], rid[37];
	int n[4], prev = -1, switches = 0;

	f->o.batch_hz = 1000;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	a = start(ev, RUN_A, 0);
	b = start(ev, RUN_B, 0);
	for (int i = 0; i < 40; i++) {
		measure(i % 2 ? b : a, i);
		if (i % 4 == 3)
			usleep(5000); /* lets each flusher write a batch: the runs interleave */
	}
	assert_int_equal(evlog_loss(b, 3), 0);
	assert_true(evlog_run_batches(a) >= 1);
	end(a);
	end(b);
	snprintf(out, sizeof(out), "%s/x.cel", f->dir);
	export_count(ev, &(struct evlog_view){RUN_A, EVLOG_VIEW_NOUID}, out, n);
	assert_true(n[0] >= 3 && n[1] == 0 && n[3] >= 3);
	export_count(ev, &(struct evlog_view){RUN_B, EVLOG_VIEW_NOUID}, out, n);
	assert_true(n[1] >= 4 && n[0] == 0 && n[3] >= 3);
	assert_int_equal(sh("grep -q %s %s", RUN_A, out), 1);
	evlog_close(ev);
	load(f->log, &log);
	for (size_t i = 1; i < log.n; i++) {
		int which;

		assert_int_equal(
		    cel_event_decode(log.recs[i].content, log.recs[i].content_len, &e, NULL), 0);
		strcpy(rid, e.run_id);
		which = !strcmp(rid, RUN_B);
		switches += prev >= 0 && which != prev;
		prev = which;
		if (e.kind == CEL_KIND_RUN_END) {
			assert_int_equal(e.total_files, 20);
			assert_int_equal(e.total_lost, which ? 3 : 0);
		}
		cel_event_free(&e);
	}
	assert_true(switches >= 3);
	cel_log_free(&log);
}

/* A view by uid shows every run of that user; EVLOG_VIEW_ALL every run; no view only the host's
 * records. */
static void test_view_by_uid(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	char out[128];
	int n[4];

	assert_int_equal(evlog_open(&f->o, &ev), 0);
	end(start(ev, RUN_A, 1000));
	end(start(ev, RUN_B, 2000));
	end(start(ev, RUN_C, 1000));
	snprintf(out, sizeof(out), "%s/x.cel", f->dir);
	export_count(ev, &(struct evlog_view){NULL, 1000}, out, n);
	assert_true(n[0] == 2 && n[1] == 0 && n[2] == 2 && n[3] == 2);
	export_count(ev, &(struct evlog_view){RUN_B, 1000}, out, n);
	assert_true(n[0] == 2 && n[1] == 2 && n[2] == 2 && n[3] == 0);
	export_count(ev, &(struct evlog_view){NULL, EVLOG_VIEW_ALL}, out, n);
	assert_true(n[0] == 2 && n[1] == 2 && n[2] == 2 && n[3] == 0);
	export_count(ev, NULL, out, n);
	assert_true(n[0] == 0 && n[1] == 0 && n[2] == 0 && n[3] == 6);
	export_count(ev, &(struct evlog_view){NULL, 3000}, out, n);
	assert_int_equal(n[3], 6);
	evlog_close(ev);
}

struct busy {
	struct evlog_run *r;
	volatile int stop;
	int n;
};

static void *keep_measuring(void *arg)
{
	struct busy *b = arg;

	while (!b->stop) {
		measure(b->r, b->n++);
		if (b->n % 8 == 0)
			usleep(500);
	}
	return NULL;
}

/* While a seal is in progress another run of the process keeps measuring: none of its records
 * reaches the log (or the PCR) between export and quote, so the exported log replays to the
 * quoted PCR value (tpm2's pcrDigest over PCR 10 and 15, checked with lib/quote). */
static void test_seal_blocks_appends(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct busy b = {0};
	pthread_t thr;
	struct stat st0, st1;
	char out[128], why[QUOTE_WHY_MAX], msg[160], sig[160];
	uint8_t values[64] = {0};
	size_t before;

	f->o.batch_hz = 1000;
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	b.r = start(ev, RUN_B, 0);
	assert_int_equal(pthread_create(&thr, NULL, keep_measuring, &b), 0);
	snprintf(out, sizeof(out), "%s/x.cel", f->dir);
	snprintf(msg, sizeof(msg), "%s/quote.msg", f->dir);
	snprintf(sig, sizeof(sig), "%s/quote.sig", f->dir);
	for (int round = 0; round < 5; round++) {
		struct cel_log log = {0};
		struct quote *q;
		char err[CEL_ERR_MAX];

		before = evlog_run_batches(b.r);
		while (evlog_run_batches(b.r) < before + 2) /* the other run is appending */
			usleep(1000);
		assert_int_equal(
		    evlog_export(ev, &(struct evlog_view){RUN_A, EVLOG_VIEW_NOUID}, out), 0);
		assert_int_equal(stat(f->log, &st0), 0);
		before = b.n;
		while (b.n < (int)before + 200) /* measurements keep coming meanwhile */
			usleep(1000);
		load(out, &log);
		assert_int_equal(cel_replay_baseline(&log, 15, TPM2_ALG_SHA256, values + 32, err),
				 0);
		assert_int_equal(stat(f->log, &st1), 0);
		assert_int_equal(st1.st_size, st0.st_size); /* nothing was appended */
		assert_int_equal(evlog_quote(ev, (const uint8_t *)"n", 1, f->dir), 0);
		assert_int_equal(quote_load(msg, sig, &q, why), QUOTE_OK);
		if (quote_check_pcr_digest(q, values, sizeof(values), why) != QUOTE_OK)
			fail_msg("round %d: %s", round, why);
		quote_free(q);
		cel_log_free(&log);
	}
	b.stop = 1;
	pthread_join(thr, NULL);
	end(b.r);
	/* the other run's records did reach the log after each seal */
	assert_int_equal(stat(f->log, &st1), 0);
	assert_true(st1.st_size > st0.st_size);
	evlog_close(ev);
}

/* After a crash: the unended runs, the files each holds, and a resumed run whose run_end adds
 * up with what the dead process had written. */
struct seen {
	char ids[4][37];
	int n, files;
};

static void on_unended(const struct cel_event *e, void *ctx)
{
	struct seen *s = ctx;

	assert_int_equal(e->kind, CEL_KIND_RUN_START);
	assert_true(s->n < 4);
	strcpy(s->ids[s->n++], e->run_id);
	assert_int_equal(e->uid, 1000);
}

static void on_file(const struct cel_file *fl, void *ctx)
{
	struct seen *s = ctx;
	char want[80];

	snprintf(want, sizeof(want), "/data/%s/%d", RUN_C, s->files++);
	assert_string_equal(fl->path, want);
}

static void test_resume_unended(void **state)
{
	struct fx *f = *state;
	struct evlog *ev;
	struct evlog_run *r;
	struct seen s = {0};
	struct cel_event e;
	struct cel_log log = {0};
	pid_t pid;
	int status;

	f->o.batch_hz = 1; /* C's first flush comes a second after its start: one batch */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* a process that dies with runs open */
		struct evlog_run *c;

		if (evlog_open(&f->o, &ev))
			_exit(2);
		start(ev, RUN_A, 1000);
		end(start(ev, RUN_B, 1000));
		c = start(ev, RUN_C, 1000);
		for (int i = 0; i < 30; i++)
			measure(c, i);
		evlog_loss(c, 4);
		while (evlog_run_batches(c) < 1)
			usleep(10000);
		_exit(0); /* as if killed: no run_end for A and C */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(evlog_open(&f->o, &ev), 0);
	assert_int_equal(evlog_unended(ev, on_unended, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], RUN_A);
	assert_string_equal(s.ids[1], RUN_C);
	assert_int_equal(evlog_run_files(ev, RUN_C, on_file, &s), 0);
	assert_int_equal(s.files, 30);
	assert_int_equal(evlog_run_resume(ev, RUN_B, &r), -ENOENT);
	assert_null(r);
	assert_int_equal(evlog_run_resume(ev, RUN_A, &r), 0);
	end(r);
	assert_int_equal(evlog_run_resume(ev, RUN_C, &r), 0);
	measure(r, 30);
	end(r);
	s.n = 0;
	assert_int_equal(evlog_unended(ev, on_unended, &s), 0);
	assert_int_equal(s.n, 0);
	evlog_close(ev);
	e = last_event(f->log, &log);
	assert_int_equal(e.kind, CEL_KIND_RUN_END);
	assert_string_equal(e.run_id, RUN_C);
	assert_int_equal(e.total_files, s.files + 1);
	assert_int_equal(e.total_lost, 4);
	assert_replays(&log, 15);
	cel_event_free(&e);
	cel_log_free(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_run_replay_quote, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resettable_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unextended_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unbindable_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_redacts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_tpm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commands_flat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_start_nonce, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_emptied_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_streamed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interleaved_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_view_by_uid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seal_blocks_appends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_unended, setup, teardown),
	};

	log_init("test_eventlog", LOG_ERROR);
	return swtpm_main(tests);
}
