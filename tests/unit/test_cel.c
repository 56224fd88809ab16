// SPDX-License-Identifier: BSD-2-Clause
/* test_cel.c - CEL encode/decode, aicert content, golden bytes, truncation, replay, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/cel.h"
#include "testutil.h"

#define FIXDIR "tests/fixtures/cel/"

static const uint16_t algs[] = {TPM2_ALG_SHA1, TPM2_ALG_SHA256};

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = seed + i * 7;
}

/* One event of every kind, with fixed values (the golden log is built from them). */
static void make_event(enum cel_kind k, struct cel_event *e, struct cel_file *files,
		       struct cel_output *outs)
{
	static const char *argv[] = {"python3", "train.py", "--epochs=3"};

	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->time_ns = 1764094200000000000ull + k;
	if (k != CEL_KIND_BASELINE && k != CEL_KIND_RECOVERY)
		strcpy(e->run_id, "0b0c8c1e-4f7d-4c2e-9a51-5d1b2f3c4d5e");
	switch (k) {
	case CEL_KIND_BASELINE:
		strcpy(e->boot_id, "6a1f0d4e-9c2b-4e8f-a3d7-1b5c9e2f4a60");
		e->hostname = "gpu-node-7";
		e->kernel = "6.1.0-28-amd64";
		e->pcr_values.n = 2;
		e->pcr_values.v[0] = (struct cel_digest){.alg = TPM2_ALG_SHA1, .len = 20};
		e->pcr_values.v[1] = (struct cel_digest){.alg = TPM2_ALG_SHA256, .len = 32};
		fill(e->pcr_values.v[1].d, 32, 0x11);
		break;
	case CEL_KIND_RUN_START:
		e->argv = (char **)argv;
		e->argc = 3;
		e->cwd = "/home/ml/run";
		e->uid = 1000;
		fill(e->policy_digest, 32, 0x22);
		e->backend = "lsm";
		e->version = "0.1.0";
		fill(e->exe_sha256, 32, 0x33);
		break;
	case CEL_KIND_BATCH:
		files[0] = (struct cel_file){
		    .path = "/data/train.csv", .size = 1234567, .roles = 1, .status = CEL_FILE_OK};
		fill(files[0].sha256, 32, 0x44);
		files[1] = (struct cel_file){.path = "/usr/bin/python3.11",
					     .size = 6000000,
					     .roles = 4,
					     .status = CEL_FILE_OK};
		fill(files[1].sha256, 32, 0x55);
		files[2] = (struct cel_file){
		    .path = "/tmp/gone", .size = 0, .roles = 1, .status = CEL_FILE_VANISHED};
		files[3] = (struct cel_file){.path = "/home/ml/run/ckpt.tmp",
					     .size = 4096,
					     .roles = 2,
					     .status = CEL_FILE_DELETED};
		fill(files[3].sha256, 32, 0x77);
		e->files = files;
		e->n_files = 4;
		break;
	case CEL_KIND_LOSS:
		e->lost = 42;
		break;
	case CEL_KIND_RUN_END:
		e->exit_status = 128 + 9;
		e->signal = 9;
		e->detached = 1;
		e->paths_truncated = 2;
		outs[0] = (struct cel_output){.path = "/home/ml/run/model.safetensors",
					      .size = 987654321};
		fill(outs[0].sha256, 32, 0x66);
		e->outputs = outs;
		e->n_outputs = 1;
		e->total_files = 4;
		e->total_lost = 42;
		e->total_batches = 1;
		break;
	case CEL_KIND_RECOVERY:
		e->last_good_recnum = 4;
		e->bytes_dropped = 77;
		break;
	}
}

static void build_log(struct cel_log *log)
{
	memset(log, 0, sizeof(*log));
	for (int k = CEL_KIND_BASELINE; k <= CEL_KIND_RECOVERY; k++) {
		struct cel_event e;
		struct cel_file files[4];
		struct cel_output outs[1];
		struct cel_record r;
		uint8_t *c;
		size_t cl;

		make_event(k, &e, files, outs);
		assert_int_equal(cel_event_encode(&e, &c, &cl), 0);
		assert_int_equal(cel_record_make(&r, k - 1, 15, CEL_CT_AICERT, c, cl, algs, 2), 0);
		assert_int_equal(cel_log_append(log, &r), 0);
		cel_record_free(&r);
		free(c);
	}
}

static void test_event_roundtrip(void **state)
{
	for (int k = CEL_KIND_BASELINE; k <= CEL_KIND_RECOVERY; k++) {
		struct cel_event e, d;
		struct cel_file files[4];
		struct cel_output outs[1];
		char err[CEL_ERR_MAX];
		uint8_t *c, *c2;
		size_t cl, cl2;

		make_event(k, &e, files, outs);
		assert_int_equal(cel_event_encode(&e, &c, &cl), 0);
		if (cel_event_decode(c, cl, &d, err))
			fail_msg("kind %d: %s", k, err);
		assert_int_equal(d.kind, k);
		assert_string_equal(d.run_id, e.run_id);
		assert_int_equal(d.time_ns, e.time_ns);
		assert_int_equal(d.argc, e.argc);
		for (size_t i = 0; i < d.argc; i++)
			assert_string_equal(d.argv[i], e.argv[i]);
		assert_int_equal(d.n_files, e.n_files);
		for (size_t i = 0; i < d.n_files; i++) {
			assert_string_equal(d.files[i].path, e.files[i].path);
			assert_memory_equal(d.files[i].sha256, e.files[i].sha256, 32);
			assert_int_equal(d.files[i].size, e.files[i].size);
			assert_int_equal(d.files[i].roles, e.files[i].roles);
			assert_int_equal(d.files[i].status, e.files[i].status);
		}
		assert_int_equal(d.exit_status, e.exit_status);
		assert_int_equal(d.signal, e.signal);
		assert_int_equal(d.detached, e.detached);
		assert_int_equal(d.paths_truncated, e.paths_truncated);
		assert_int_equal(d.n_outputs, e.n_outputs);
		for (size_t i = 0; i < d.n_outputs; i++) {
			assert_string_equal(d.outputs[i].path, e.outputs[i].path);
			assert_memory_equal(d.outputs[i].sha256, e.outputs[i].sha256, 32);
			assert_int_equal(d.outputs[i].size, e.outputs[i].size);
		}
		assert_int_equal(d.lost, e.lost);
		assert_int_equal(d.last_good_recnum, e.last_good_recnum);
		assert_int_equal(d.pcr_values.n, e.pcr_values.n);
		if (k == CEL_KIND_BASELINE) {
			assert_string_equal(d.hostname, e.hostname);
			assert_string_equal(d.kernel, e.kernel);
		}
		if (k == CEL_KIND_RUN_START) {
			assert_string_equal(d.cwd, e.cwd);
			assert_string_equal(d.backend, e.backend);
			assert_int_equal(d.uid, 1000);
			assert_memory_equal(d.exe_sha256, e.exe_sha256, 32);
		}
		/* re-encoding the decoded event gives the same bytes */
		assert_int_equal(cel_event_encode(&d, &c2, &cl2), 0);
		assert_int_equal(cl, cl2);
		assert_memory_equal(c, c2, cl);
		cel_event_free(&d);
		free(c);
		free(c2);
	}
}

/* The encoder's bytes and the CEL-JSON are pinned by fixtures (AICERT_UPDATE_FIXTURES=1 rewrites
 * them after a deliberate format change). */
static void test_golden(void **state)
{
	struct cel_log log, back;
	uint8_t *buf, *want;
	size_t len, wlen, valid;
	char err[CEL_ERR_MAX], *js, *wjs;
	json_t *j;

	build_log(&log);
	assert_int_equal(cel_log_encode(&log, &buf, &len), 0);
	j = cel_log_json(&log);
	assert_non_null(j);
	js = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (getenv("AICERT_UPDATE_FIXTURES")) {
		tu_write_file(FIXDIR "golden.cel", buf, len);
		tu_write_file(FIXDIR "golden.json", js, strlen(js));
	}
	want = tu_read_file(FIXDIR "golden.cel", &wlen);
	assert_non_null(want);
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, len);
	wjs = (char *)tu_read_file(FIXDIR "golden.json", &wlen);
	assert_non_null(wjs);
	assert_string_equal(js, wjs);
	/* decoding the fixture gives the same log back */
	assert_int_equal(cel_log_decode(want, wlen = len, &back, &valid, err), 0);
	assert_int_equal(valid, len);
	assert_int_equal(back.n, 6);
	for (size_t i = 0; i < back.n; i++) {
		assert_int_equal(back.recs[i].recnum, i);
		assert_int_equal(back.recs[i].index, 15);
		assert_int_equal(back.recs[i].content_type, CEL_CT_AICERT);
		assert_int_equal(cel_record_check_digests(&back.recs[i], err), 0);
	}
	/* first bytes: TLV(recnum=0, 8 bytes), TLV(pcr=15, 4 bytes), TLV(digests) */
	assert_memory_equal(want, "\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00", 13);
	assert_memory_equal(want + 13, "\x01\x00\x00\x00\x04\x00\x00\x00\x0f\x03", 10);
	cel_log_free(&log);
	cel_log_free(&back);
	json_decref(j);
	free(buf);
	free(want);
	free(js);
	free(wjs);
}

/* Every prefix either ends on a record boundary or fails with the record and offset named. */
static void test_truncation(void **state)
{
	struct cel_log log;
	uint8_t *buf;
	size_t len, bounds[16], nb = 0, pos = 0;

	build_log(&log);
	assert_int_equal(cel_log_encode(&log, &buf, &len), 0);
	bounds[nb++] = 0;
	for (size_t i = 0; i < log.n; i++) {
		uint8_t *one = NULL;
		size_t ol = 0;

		assert_int_equal(cel_record_encode(&log.recs[i], &one, &ol), 0);
		pos += ol;
		bounds[nb++] = pos;
		free(one);
	}
	assert_int_equal(pos, len);
	for (size_t cut = 0; cut < len; cut++) {
		struct cel_log d;
		char err[CEL_ERR_MAX] = "";
		size_t valid = 99999, last = 0, nrec = 0;
		uint8_t *copy = malloc(cut ? cut : 1);
		int ret;

		memcpy(copy, buf, cut); /* exact-size buffer so ASan sees any over-read */
		ret = cel_log_decode(copy, cut, &d, &valid, err);
		for (size_t b = 0; b < nb && bounds[b] <= cut; b++)
			last = bounds[b], nrec = b;
		if (cut == last) {
			assert_int_equal(ret, 0);
		} else {
			assert_int_equal(ret, -ENODATA);
			assert_non_null(strstr(err, "offset"));
			assert_non_null(strstr(err, "truncated"));
		}
		assert_int_equal(valid, last);
		assert_int_equal(d.n, nrec);
		cel_log_free(&d);
		free(copy);
	}
	/* truncated content is rejected (or is a shorter valid field list), never over-read */
	for (size_t cut = 0; cut < log.recs[1].content_len; cut++) {
		struct cel_event e;
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, log.recs[1].content, cut);
		if (cel_event_decode(copy, cut, &e, NULL) == 0)
			cel_event_free(&e);
		free(copy);
	}
	cel_log_free(&log);
	free(buf);
}

static void expect_bad(uint8_t *buf, size_t len, const char *needle)
{
	struct cel_log d;
	char err[CEL_ERR_MAX] = "";

	assert_int_equal(cel_log_decode(buf, len, &d, NULL, err), -EBADMSG);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	cel_log_free(&d);
}

static void test_malformed(void **state)
{
	struct cel_log log;
	uint8_t *buf;
	size_t len;

	build_log(&log);
	assert_int_equal(cel_log_encode(&log, &buf, &len), 0);
	buf[0] = 7; /* recnum type */
	expect_bad(buf, len, "offset 0");
	buf[0] = 0;
	buf[13] = 9; /* pcr type */
	expect_bad(buf, len, "record 0");
	buf[13] = 1;
	buf[31] = 20 + 1; /* sha1 digest length (first digest TLV) */
	expect_bad(buf, len, "record 0");
	buf[31] = 20;
	buf[27] = 0x99; /* digest algorithm */
	expect_bad(buf, len, "algorithm");
	cel_log_free(&log);
	free(buf);
}

/* The content decoder wants every output field and a 0/1 detached flag. */
static void test_content_strict(void **state)
{
	static const uint8_t no_size[] = {
	    1,	0, 0, 0, 1,  5,					 /* kind run_end */
	    51, 0, 0, 0, 43, 1, 0, 0, 0, 1, 'o', 2, 0, 0, 0, 32, /* output: path, sha256 */
	    0,	0, 0, 0, 0,  0, 0, 0, 0, 0, 0,	 0, 0, 0, 0, 0,
	    0,	0, 0, 0, 0,  0, 0, 0, 0, 0, 0,	 0, 0, 0, 0, 0,
	};
	static const uint8_t detached2[] = {1, 0, 0, 0, 1, 5, 55, 0, 0, 0, 1, 2};
	static const uint8_t detached1[] = {1, 0, 0, 0, 1, 5, 55, 0, 0, 0, 1, 1};
	struct cel_event e;
	char err[CEL_ERR_MAX] = "";

	assert_int_equal(cel_event_decode(no_size, sizeof(no_size), &e, err), -EBADMSG);
	assert_non_null(strstr(err, "field 51"));
	assert_int_equal(cel_event_decode(detached2, sizeof(detached2), &e, err), -EBADMSG);
	assert_non_null(strstr(err, "field 55"));
	assert_int_equal(cel_event_decode(detached1, sizeof(detached1), &e, err), 0);
	assert_int_equal(e.detached, 1);
	cel_event_free(&e);
}

/* A job step's run_start: the five job fields round-trip; a part of them, or a job in another
 * kind of record, or a node outside its step's list is refused. */
static void test_job(void **state)
{
	char *nodes[] = {"gpu01", "gpu02"}, *one[] = {"gpu03"};
	struct cel_event e, d;
	struct cel_file files[4];
	struct cel_output outs[1];
	char err[CEL_ERR_MAX] = "";
	uint8_t *c;
	size_t cl;

	make_event(CEL_KIND_RUN_START, &e, files, outs);
	e.job = (struct job_info){"slurm", "4242", "0", "gpu02", nodes, 2};
	assert_int_equal(cel_event_encode(&e, &c, &cl), 0);
	if (cel_event_decode(c, cl, &d, err))
		fail_msg("%s", err);
	assert_true(job_equal(&d.job, &e.job));
	cel_event_free(&d);
	free(c);

	/* the node is not one of the step's */
	e.job.nodes = one;
	e.job.n_nodes = 1;
	assert_int_equal(cel_event_encode(&e, &c, &cl), 0);
	assert_int_equal(cel_event_decode(c, cl, &d, err), -EBADMSG);
	assert_non_null(strstr(err, "not among the step's nodes"));
	free(c);

	/* no step nodes at all: a part of the job */
	e.job.n_nodes = 0;
	assert_int_equal(cel_event_encode(&e, &c, &cl), 0);
	assert_int_equal(cel_event_decode(c, cl, &d, err), -EBADMSG);
	assert_non_null(strstr(err, "a job's fields"));
	free(c);

	/* a job in a batch record */
	make_event(CEL_KIND_BATCH, &e, files, outs);
	{
		static const uint8_t batch_job[] = {1, 0, 0, 0, 1, 3, 28, 0, 0, 0, 5,
						    's', 'l', 'u', 'r', 'm'};

		assert_int_equal(cel_event_decode(batch_job, sizeof(batch_job), &d, err), -EBADMSG);
		assert_non_null(strstr(err, "only in run_start"));
	}
}

static void test_replay(void **state)
{
	struct cel_log log;
	uint8_t v[64], want[32], zero[64] = {0};
	char err[CEL_ERR_MAX];

	build_log(&log);
	/* by hand: fold sha256 digests from the baseline's value */
	fill(want, 32, 0x11);
	for (size_t i = 0; i < log.n; i++) {
		uint8_t cat[64];
		unsigned n;

		memcpy(cat, want, 32);
		memcpy(cat + 32, log.recs[i].digests.v[1].d, 32);
		EVP_Digest(cat, 64, want, &n, EVP_sha256(), NULL);
	}
	assert_int_equal(cel_replay_baseline(&log, 15, TPM2_ALG_SHA256, v, err), 0);
	assert_memory_equal(v, want, 32);
	/* record by record, in place (start == out), the same value */
	fill(v, 32, 0x11);
	for (size_t i = 0; i < log.n; i++) {
		struct cel_log one = {.recs = &log.recs[i], .n = 1, .cap = 1};

		assert_int_equal(cel_replay(&one, 15, TPM2_ALG_SHA256, v, v, err), 0);
	}
	assert_memory_equal(v, want, 32);
	/* records of other PCRs do not count; a missing bank is an error */
	assert_int_equal(cel_replay(&log, 14, TPM2_ALG_SHA256, zero, v, err), 0);
	assert_memory_equal(v, zero, 32);
	assert_int_equal(cel_replay(&log, 15, TPM2_ALG_SHA384, zero, v, err), -EBADMSG);
	assert_non_null(strstr(err, "sha384"));
	/* tampered content no longer matches its digests */
	log.recs[2].content[log.recs[2].content_len - 1] ^= 1;
	assert_int_equal(cel_record_check_digests(&log.recs[2], err), -EBADMSG);
	assert_non_null(strstr(err, "record 2"));
	cel_log_free(&log);
}

static void test_redact(void **state)
{
	struct cel_log log, back;
	uint8_t before[32], after[32], *buf;
	size_t len;
	char err[CEL_ERR_MAX];
	json_t *j;

	build_log(&log);
	assert_int_equal(cel_replay_baseline(&log, 15, TPM2_ALG_SHA256, before, err), 0);
	assert_false(cel_record_is_redacted(&log.recs[2]));
	assert_int_equal(cel_record_redact(&log.recs[2]), 0);
	assert_int_equal(log.recs[2].content_type, CEL_CT_REDACTED);
	assert_true(cel_record_is_redacted(&log.recs[2]));
	/* the marker, exactly: one byte changed, or a byte more, is not a redaction */
	log.recs[2].content[0] ^= 1;
	assert_false(cel_record_is_redacted(&log.recs[2]));
	log.recs[2].content[0] ^= 1;
	log.recs[2].content_len--;
	assert_false(cel_record_is_redacted(&log.recs[2]));
	log.recs[2].content_len++;
	log.recs[2].content_type = CEL_CT_AICERT;
	assert_false(cel_record_is_redacted(&log.recs[2]));
	log.recs[2].content_type = CEL_CT_REDACTED;
	assert_null(memmem(log.recs[2].content, log.recs[2].content_len, "train", 5));
	assert_int_equal(cel_log_encode(&log, &buf, &len), 0);
	assert_null(memmem(buf, len, "/data/train.csv", 15));
	assert_int_equal(cel_log_decode(buf, len, &back, NULL, err), 0);
	assert_int_equal(cel_replay_baseline(&back, 15, TPM2_ALG_SHA256, after, err), 0);
	assert_memory_equal(before, after, 32);
	assert_int_equal(cel_record_check_digests(&back.recs[2], err), 0);
	j = cel_record_json(&back.recs[2]);
	assert_string_equal(json_string_value(json_object_get(j, "content")), "redacted");
	assert_string_equal(json_string_value(json_object_get(j, "content_type")),
			    "aicert_redacted");
	json_decref(j);
	cel_log_free(&log);
	cel_log_free(&back);
	free(buf);
}

static void test_json(void **state)
{
	struct cel_log log;
	json_t *j, *r, *c;

	build_log(&log);
	j = cel_log_json(&log);
	assert_int_equal(json_array_size(j), 6);
	r = json_array_get(j, 2);
	assert_int_equal(json_integer_value(json_object_get(r, "recnum")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "pcr")), 15);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(r, "digests"), 1), "hashAlg")),
			    "sha256");
	c = json_object_get(r, "content");
	assert_string_equal(json_string_value(json_object_get(c, "kind")), "batch");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(c, "files"), 0), "path")),
			    "/data/train.csv");
	json_decref(j);
	cel_log_free(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_roundtrip), cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_content_strict),  cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_malformed),	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_redact),	    cmocka_unit_test(test_job),	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
