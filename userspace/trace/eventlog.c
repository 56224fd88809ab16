// SPDX-License-Identifier: BSD-2-Clause
/* eventlog.c - the host-wide CEL event log, its lock, and its binding to the dedicated PCR. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "trace/eventlog.h"

#ifndef AICERT_VERSION
#define AICERT_VERSION "unknown"
#endif

struct evlog {
	char dir[PATH_MAX], path[PATH_MAX + 32], lock_path[PATH_MAX + 32];
	int fd, lock_fd;
	bool locked; /* held from evlog_export() to evlog_quote() */
	bool no_tpm;
	struct tpm *tpm;
	struct tpm_ak_opts ak;
	uint32_t pcr;
	uint16_t algs[CEL_MAX_BANKS];
	size_t n_algs;
	/* The PCR as the log replays to, through known_size bytes ending before next_recnum. */
	uint8_t pcrv[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	uint64_t known_size, next_recnum;
	char boot_id[37], run_id[37];
	uint64_t records, batches;
	/* run state */
	pthread_mutex_t io; /* one append at a time within the process */
	pthread_mutex_t mu; /* the queue */
	pthread_cond_t cv;
	pthread_t thr;
	bool thr_started, stop, ended;
	struct cel_file *q;
	size_t qn, qcap;
	uint64_t lost_pending, lost_total, files_total;
	unsigned hz;
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int read_boot_id(char out[37])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int ret = 0;

	if (!f) {
		ret = -errno;
		log_err("cannot open /proc/sys/kernel/random/boot_id: %s", strerror(errno));
		return ret;
	}
	if (!fgets(out, 37, f) || strlen(out) != 36) {
		log_err("cannot read the boot id from /proc/sys/kernel/random/boot_id");
		ret = -EIO;
	}
	fclose(f);
	return ret;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- locking ---- */

static int lock(struct evlog *ev)
{
	if (ev->locked)
		return 0;
	while (flock(ev->lock_fd, LOCK_EX)) {
		if (errno != EINTR) {
			log_err("cannot lock %s: %s", ev->lock_path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static void unlock(struct evlog *ev)
{
	if (!ev->locked)
		flock(ev->lock_fd, LOCK_UN);
}

/* ---- reading the log ---- */

static int read_range(struct evlog *ev, uint64_t from, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t n, got = 0;

	*buf = NULL;
	*len = 0;
	if (fstat(ev->fd, &st))
		return -errno;
	if ((uint64_t)st.st_size <= from)
		return 0;
	n = st.st_size - from;
	if (!(*buf = malloc(n)))
		return -ENOMEM;
	while (got < n) {
		ssize_t r = pread(ev->fd, *buf + got, n - got, from + got);

		if (r <= 0) {
			int err = r < 0 ? -errno : -EIO;

			log_err("cannot read %s: %s", ev->path, strerror(-err));
			free(*buf);
			*buf = NULL;
			return err;
		}
		got += r;
	}
	*len = n;
	return 0;
}

static const struct cel_digest *rec_digest(const struct cel_record *r, uint16_t alg)
{
	for (size_t i = 0; i < r->digests.n; i++)
		if (r->digests.v[i].alg == alg)
			return &r->digests.v[i];
	return NULL;
}

/* Folds r into v (per bank of ev). -EBADMSG when r is for another PCR or lacks a bank. */
static int fold(const struct evlog *ev, uint8_t v[][CEL_MAX_DIGEST], const struct cel_record *r)
{
	if (r->index_type != CEL_T_PCR || r->index != ev->pcr)
		return -EBADMSG;
	for (size_t b = 0; b < ev->n_algs; b++) {
		const struct cel_digest *d = rec_digest(r, ev->algs[b]);

		if (!d || cel_extend(ev->algs[b], v[b], d->d))
			return -EBADMSG;
	}
	return 0;
}

static int tpm_values(struct evlog *ev, uint8_t v[][CEL_MAX_DIGEST])
{
	size_t len;
	int ret = 0;

	memset(v, 0, CEL_MAX_BANKS * CEL_MAX_DIGEST);
	for (size_t b = 0; b < ev->n_algs && !ret && !ev->no_tpm; b++)
		ret = tpm_pcr_read(ev->tpm, ev->pcr, ev->algs[b], v[b], &len);
	return ret;
}

static bool same_values(const struct evlog *ev, uint8_t a[][CEL_MAX_DIGEST],
			uint8_t b[][CEL_MAX_DIGEST])
{
	for (size_t i = 0; i < ev->n_algs; i++)
		if (memcmp(a[i], b[i], cel_alg_size(ev->algs[i])))
			return false;
	return true;
}

/* The baseline's values for ev's banks; -EBADMSG when rec is no baseline for them. */
static int baseline_values(const struct evlog *ev, const struct cel_record *rec,
			   uint8_t v[][CEL_MAX_DIGEST])
{
	struct cel_event e;
	char err[CEL_ERR_MAX];
	int ret = -EBADMSG;

	if (rec->content_type != CEL_CT_AICERT ||
	    cel_event_decode(rec->content, rec->content_len, &e, err))
		return -EBADMSG;
	if (e.kind != CEL_KIND_BASELINE)
		goto cleanup;
	for (size_t b = 0; b < ev->n_algs; b++) {
		size_t i;

		for (i = 0; i < e.pcr_values.n && e.pcr_values.v[i].alg != ev->algs[b]; i++)
			;
		if (i == e.pcr_values.n)
			goto cleanup;
		memcpy(v[b], e.pcr_values.v[i].d, e.pcr_values.v[i].len);
	}
	ret = 0;
cleanup:
	cel_event_free(&e);
	return ret;
}

/* ---- appending ---- */

static int write_all(struct evlog *ev, const uint8_t *p, size_t n)
{
	int ret = fileio_write_all(ev->fd, p, n);

	if (ret) {
		log_err("cannot write %s: %s", ev->path, strerror(-ret));
		return ret;
	}
	if (fsync(ev->fd)) {
		log_err("cannot fsync %s: %s", ev->path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Write, fsync, then extend: a crash leaves the log ahead of the PCR, never behind it. */
static int append_locked(struct evlog *ev, const struct cel_event *e)
{
	struct cel_record r = {0};
	uint8_t *content = NULL, *rec = NULL;
	size_t clen = 0, rlen = 0;
	int ret;

	if ((ret = cel_event_encode(e, &content, &clen)) ||
	    (ret = cel_record_make(&r, ev->next_recnum, ev->pcr, CEL_CT_AICERT, content, clen,
				   ev->algs, ev->n_algs)) ||
	    (ret = cel_record_encode(&r, &rec, &rlen)))
		goto cleanup;
	if ((ret = write_all(ev, rec, rlen)))
		goto cleanup;
	if (!ev->no_tpm && (ret = tpm_pcr_extend(ev->tpm, ev->pcr, &r.digests)))
		goto cleanup;
	ret = fold(ev, ev->pcrv, &r);
	ev->known_size += rlen;
	ev->next_recnum++;
	ev->records++;
cleanup:
	if (ret == -ENOMEM)
		log_err("cannot append to %s: out of memory", ev->path);
	cel_record_free(&r);
	free(content);
	free(rec);
	return ret;
}

static void event_init(struct evlog *ev, struct cel_event *e, enum cel_kind kind)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->time_ns = now_ns();
	if (kind != CEL_KIND_BASELINE && kind != CEL_KIND_RECOVERY)
		memcpy(e->run_id, ev->run_id, sizeof(e->run_id));
}

static int append_baseline(struct evlog *ev)
{
	struct cel_event e;
	uint8_t v[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	struct utsname u;
	int ret;

	if ((ret = tpm_values(ev, v)))
		return ret;
	if (uname(&u)) {
		ret = -errno;
		log_err("cannot read the host name and kernel (uname): %s", strerror(errno));
		return ret;
	}
	event_init(ev, &e, CEL_KIND_BASELINE);
	memcpy(e.boot_id, ev->boot_id, sizeof(e.boot_id));
	e.hostname = u.nodename;
	e.kernel = u.release; /* what bom.json's host.kernel says */
	e.pcr_values.n = ev->n_algs;
	for (size_t b = 0; b < ev->n_algs; b++) {
		e.pcr_values.v[b].alg = ev->algs[b];
		e.pcr_values.v[b].len = cel_alg_size(ev->algs[b]);
		memcpy(e.pcr_values.v[b].d, v[b], e.pcr_values.v[b].len);
	}
	memcpy(ev->pcrv, v, sizeof(v));
	ev->next_recnum = 0;
	ev->known_size = 0;
	return append_locked(ev, &e);
}

static int append_recovery(struct evlog *ev, uint64_t last_good, uint64_t dropped)
{
	struct cel_event e;

	log_warn("%s: recovered: kept records through %lld, dropped %llu bytes", ev->path,
		 last_good == UINT64_MAX ? -1LL : (long long)last_good,
		 (unsigned long long)dropped);
	event_init(ev, &e, CEL_KIND_RECOVERY);
	e.last_good_recnum = last_good;
	e.bytes_dropped = dropped;
	return append_locked(ev, &e);
}

/* ---- validation and recovery ---- */

/* The log cannot be bound to the PCR: keep it aside, start a new one. */
static int restart_log(struct evlog *ev, uint64_t last_recnum, uint64_t size)
{
	char aside[PATH_MAX + 64];
	int ret;

	snprintf(aside, sizeof(aside), "%s.unbound-%llu", ev->path, (unsigned long long)now_ns());
	log_warn("%s does not replay to PCR %u; moving it to %s and starting a new log", ev->path,
		 ev->pcr, aside);
	if (rename(ev->path, aside)) {
		log_err("cannot move %s aside: %s", ev->path, strerror(errno));
		return -errno;
	}
	close(ev->fd);
	ev->fd = open(ev->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (ev->fd < 0) {
		log_err("cannot create %s: %s", ev->path, strerror(errno));
		return -errno;
	}
	if ((ret = append_baseline(ev)))
		return ret;
	return append_recovery(ev, last_recnum, size);
}

/*
 * How many of the log's records the PCR covers: all, or all but the last (a writer died
 * between fsync and extend). -1: neither (or no baseline), the log cannot be bound.
 */
static long covered(struct evlog *ev, const struct cel_log *log, uint8_t v[][CEL_MAX_DIGEST])
{
	uint8_t tpm[CEL_MAX_BANKS][CEL_MAX_DIGEST], prev[CEL_MAX_BANKS][CEL_MAX_DIGEST];

	if (log->n && (log->recs[0].index_type != CEL_T_PCR || log->recs[0].index != ev->pcr)) {
		log_err("%s is bound to PCR %u, not PCR %u; every writer on a host uses one PCR",
			ev->path, log->recs[0].index, ev->pcr);
		return -3;
	}
	if (!log->n || baseline_values(ev, &log->recs[0], v))
		return -1;
	for (size_t i = 0; i < log->n; i++) {
		memcpy(prev, v, sizeof(prev));
		if (fold(ev, v, &log->recs[i]))
			return -1;
	}
	if (ev->no_tpm)
		return log->n;
	if (tpm_values(ev, tpm))
		return -2;
	if (same_values(ev, v, tpm))
		return log->n;
	if (same_values(ev, prev, tpm)) {
		memcpy(v, prev, sizeof(prev));
		return log->n - 1;
	}
	return -1;
}

/* Under the lock: brings ev up to date with the whole log, repairing it when needed. */
static int validate_locked(struct evlog *ev)
{
	struct cel_log log = {0};
	uint8_t *buf = NULL, v[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	size_t len = 0, valid = 0, keep_len;
	char err[CEL_ERR_MAX] = "";
	long n;
	int ret;

	if ((ret = read_range(ev, 0, &buf, &len)))
		return ret;
	if (!len) {
		ret = append_baseline(ev);
		goto cleanup;
	}
	if (cel_log_decode(buf, len, &log, &valid, err))
		log_warn("%s: %s", ev->path, err);
	n = covered(ev, &log, v);
	if (n == -2 || n == -3) {
		ret = n == -2 ? -EIO : -EINVAL;
		goto cleanup;
	}
	if (n == 0) {
		/* only a baseline that was never extended: start over, nothing is lost */
		if (ftruncate(ev->fd, 0)) {
			ret = -errno;
			log_err("cannot truncate %s: %s", ev->path, strerror(errno));
		} else {
			ret = append_baseline(ev);
		}
		goto cleanup;
	}
	if (n < 0) {
		ret = restart_log(ev, log.n ? log.recs[log.n - 1].recnum : UINT64_MAX, len);
		goto cleanup;
	}
	keep_len = valid;
	if ((size_t)n < log.n) {
		uint8_t *tail = NULL;
		size_t tl = 0;

		/* the last record's encoded length */
		cel_record_encode(&log.recs[n], &tail, &tl);
		free(tail);
		keep_len -= tl;
	}
	memcpy(ev->pcrv, v, sizeof(v));
	ev->known_size = keep_len;
	ev->next_recnum = log.recs[n - 1].recnum + 1;
	if (keep_len == len)
		goto cleanup;
	if (ftruncate(ev->fd, keep_len) || fsync(ev->fd)) {
		ret = -errno;
		log_err("cannot truncate %s: %s", ev->path, strerror(errno));
		goto cleanup;
	}
	ret = append_recovery(ev, log.recs[n - 1].recnum, len - keep_len);
cleanup:
	cel_log_free(&log);
	free(buf);
	return ret;
}

/* Reads what other writers appended since our last look; validates fully on any doubt. */
static int sync_tail_locked(struct evlog *ev)
{
	struct cel_log log = {0};
	uint8_t *buf = NULL, v[CEL_MAX_BANKS][CEL_MAX_DIGEST], tpm[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	size_t len = 0, valid = 0;
	struct stat a, b;
	int ret;

	/* another writer may have moved an unbindable log aside and started a new one */
	if (stat(ev->path, &a) || fstat(ev->fd, &b) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		close(ev->fd);
		ev->fd = open(ev->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (ev->fd < 0) {
			log_err("cannot open %s: %s", ev->path, strerror(errno));
			return -errno;
		}
		return validate_locked(ev);
	}
	if ((ret = read_range(ev, ev->known_size, &buf, &len)))
		return ret;
	if (!len) {
		struct stat st;

		if (!fstat(ev->fd, &st) && (uint64_t)st.st_size == ev->known_size)
			goto cleanup;
		/* shorter than we knew: moved aside or truncated by another writer */
		ret = validate_locked(ev);
		goto cleanup;
	}
	memcpy(v, ev->pcrv, sizeof(v));
	ret = cel_log_decode(buf, len, &log, &valid, NULL);
	for (size_t i = 0; !ret && i < log.n; i++)
		ret = fold(ev, v, &log.recs[i]);
	if (!ret && !ev->no_tpm)
		ret = tpm_values(ev, tpm);
	if (ret || (!ev->no_tpm && !same_values(ev, v, tpm)) ||
	    (log.n && log.recs[0].recnum != ev->next_recnum)) {
		ret = validate_locked(ev);
		goto cleanup;
	}
	memcpy(ev->pcrv, v, sizeof(v));
	ev->known_size += len;
	ev->next_recnum = log.recs[log.n - 1].recnum + 1;
cleanup:
	cel_log_free(&log);
	free(buf);
	return ret;
}

static int append(struct evlog *ev, const struct cel_event *e)
{
	int ret;

	pthread_mutex_lock(&ev->io);
	if ((ret = lock(ev)))
		goto cleanup;
	if (!(ret = sync_tail_locked(ev)))
		ret = append_locked(ev, e);
	unlock(ev);
cleanup:
	pthread_mutex_unlock(&ev->io);
	return ret;
}

/* ---- open / close ---- */

static int open_tpm(struct evlog *ev, const struct evlog_opts *o)
{
	int ret;

	if (ev->no_tpm) {
		ev->algs[0] = TPM2_ALG_SHA1;
		ev->algs[1] = TPM2_ALG_SHA256;
		ev->n_algs = 2;
		log_warn("UNATTESTED: no TPM; PCR %u is simulated in software", ev->pcr);
		return 0;
	}
	if ((ret = tpm_open(o->tcti, &ev->tpm)))
		return ret;
	return tpm_banks(ev->tpm, ev->pcr, ev->algs, &ev->n_algs);
}

static int open_files(struct evlog *ev, const struct evlog_opts *o)
{
	const char *sd = o->statedir ? o->statedir : EVLOG_STATEDIR;
	int ret;

	if (o->boot_id)
		snprintf(ev->boot_id, sizeof(ev->boot_id), "%s", o->boot_id);
	else if ((ret = read_boot_id(ev->boot_id)))
		return ret;
	if (snprintf(ev->dir, sizeof(ev->dir), "%s/%s", sd, ev->boot_id) >= (int)sizeof(ev->dir))
		return -ENAMETOOLONG;
	if ((ret = mkdir_p(ev->dir, 0750))) {
		log_err("cannot create %s: %s", ev->dir, strerror(-ret));
		return ret;
	}
	snprintf(ev->path, sizeof(ev->path), "%s/%s", ev->dir,
		 ev->no_tpm ? "events-unattested.cel" : "events.cel");
	snprintf(ev->lock_path, sizeof(ev->lock_path), "%s/events.lock", ev->dir);
	ev->lock_fd = open(ev->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (ev->lock_fd < 0) {
		log_err("cannot open %s: %s", ev->lock_path, strerror(errno));
		return -errno;
	}
	ev->fd = open(ev->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (ev->fd < 0) {
		log_err("cannot open %s: %s", ev->path, strerror(errno));
		return -errno;
	}
	return 0;
}

int evlog_open(const struct evlog_opts *o, struct evlog **out)
{
	struct evlog *ev = calloc(1, sizeof(*ev));
	int ret;

	if (!ev)
		return -ENOMEM;
	ev->fd = ev->lock_fd = -1;
	pthread_mutex_init(&ev->io, NULL);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	ev->pcr = o->pcr ? o->pcr : TPM_PCR_DEFAULT;
	ev->no_tpm = o->no_tpm;
	ev->ak = o->ak;
	ev->hz = o->batch_hz ? o->batch_hz : EVLOG_BATCH_HZ;
	if ((ret = tpm_pcr_check(ev->pcr, o->allow_resettable)) || (ret = open_tpm(ev, o)) ||
	    (ret = open_files(ev, o)))
		goto cleanup;
	if ((ret = lock(ev)))
		goto cleanup;
	ret = validate_locked(ev);
	unlock(ev);
	if (ret)
		goto cleanup;
	*out = ev;
	return 0;
cleanup:
	evlog_close(ev);
	return ret;
}

static void stop_flusher(struct evlog *ev)
{
	if (!ev->thr_started)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stop = true;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	pthread_join(ev->thr, NULL);
	ev->thr_started = false;
}

void evlog_close(struct evlog *ev)
{
	if (!ev)
		return;
	stop_flusher(ev);
	if (ev->locked) {
		ev->locked = false;
		unlock(ev);
	}
	for (size_t i = 0; i < ev->qn; i++)
		free(ev->q[i].path);
	free(ev->q);
	if (ev->fd >= 0)
		close(ev->fd);
	if (ev->lock_fd >= 0)
		close(ev->lock_fd);
	tpm_close(ev->tpm);
	pthread_mutex_destroy(&ev->io);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->cv);
	free(ev);
}

/* ---- runs ---- */

static int exe_sha256(uint8_t out[32])
{
	uint8_t buf[65536];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0 || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		ret = fd < 0 ? -errno : -ENOMEM;
		goto cleanup;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	if (n < 0 || !EVP_DigestFinal_ex(ctx, out, NULL))
		ret = n < 0 ? -errno : -EIO;
cleanup:
	if (ret)
		log_err("cannot hash /proc/self/exe: %s", strerror(-ret));
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return ret;
}

/* Takes the queue under ev->mu; writes loss then batch records without it. */
static int flush(struct evlog *ev)
{
	struct cel_event e;
	struct cel_file *q;
	size_t qn;
	uint64_t lost;
	int ret = 0;

	pthread_mutex_lock(&ev->mu);
	q = ev->q, qn = ev->qn, lost = ev->lost_pending;
	ev->q = NULL, ev->qn = ev->qcap = 0, ev->lost_pending = 0;
	pthread_mutex_unlock(&ev->mu);
	if (lost) {
		event_init(ev, &e, CEL_KIND_LOSS);
		e.lost = lost;
		ret = append(ev, &e);
	}
	if (qn && !ret) {
		event_init(ev, &e, CEL_KIND_BATCH);
		e.files = q;
		e.n_files = qn;
		if (!(ret = append(ev, &e)))
			ev->batches++;
	}
	for (size_t i = 0; i < qn; i++)
		free(q[i].path);
	free(q);
	if (ret) {
		pthread_mutex_lock(&ev->mu);
		if (!ev->err)
			ev->err = ret;
		pthread_mutex_unlock(&ev->mu);
	}
	return ret;
}

static void deadline(struct timespec *ts, unsigned hz)
{
	long step = 1000000000L / hz;

	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += step;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/* At most hz flushes a second: each one waits out a whole period first. */
static void *flusher(void *arg)
{
	struct evlog *ev = arg;
	struct timespec ts;

	pthread_mutex_lock(&ev->mu);
	while (!ev->stop) {
		deadline(&ts, ev->hz);
		while (!ev->stop && pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) != ETIMEDOUT)
			;
		if (ev->stop || (!ev->qn && !ev->lost_pending))
			continue;
		pthread_mutex_unlock(&ev->mu);
		flush(ev);
		pthread_mutex_lock(&ev->mu);
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

static int start_flusher(struct evlog *ev)
{
	pthread_condattr_t ca;
	int ret;

	pthread_cond_destroy(&ev->cv);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	ret = -pthread_create(&ev->thr, NULL, flusher, ev);
	if (ret)
		log_err("cannot start the event log flusher: %s", strerror(-ret));
	ev->thr_started = !ret;
	return ret;
}

int evlog_run_start(struct evlog *ev, const struct evlog_run_info *ri)
{
	struct cel_event e;
	int ret;

	if (!ri->run_id || strlen(ri->run_id) != 36) {
		log_err("run id must be a 36-character UUID");
		return -EINVAL;
	}
	memcpy(ev->run_id, ri->run_id, 37);
	event_init(ev, &e, CEL_KIND_RUN_START);
	e.argv = (char **)ri->argv;
	e.argc = ri->argc;
	e.cwd = (char *)ri->cwd;
	e.uid = ri->uid;
	if (ri->policy_sha256)
		memcpy(e.policy_digest, ri->policy_sha256, 32);
	e.backend = (char *)ri->backend;
	e.version = AICERT_VERSION;
	if ((ret = exe_sha256(e.exe_sha256)) || (ret = append(ev, &e)))
		return ret;
	return start_flusher(ev);
}

int evlog_measure(struct evlog *ev, const char *path, const uint8_t sha256[32], uint64_t size,
		  uint32_t roles, uint32_t status)
{
	struct cel_file *f;
	char *p = strdup(path);
	int ret = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&ev->mu);
	if (ev->err) {
		ret = ev->err;
	} else if (ev->qn == ev->qcap) {
		size_t cap = ev->qcap ? 2 * ev->qcap : 256;

		f = realloc(ev->q, cap * sizeof(*f));
		if (f) {
			ev->q = f;
			ev->qcap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret) {
		f = &ev->q[ev->qn++];
		f->path = p;
		memcpy(f->sha256, sha256, 32);
		f->size = size;
		f->roles = roles;
		f->status = status;
		ev->files_total++;
		p = NULL;
	}
	pthread_mutex_unlock(&ev->mu);
	free(p);
	return ret;
}

int evlog_loss(struct evlog *ev, uint64_t n)
{
	pthread_mutex_lock(&ev->mu);
	ev->lost_pending += n;
	ev->lost_total += n;
	pthread_mutex_unlock(&ev->mu);
	return 0;
}

int evlog_run_end(struct evlog *ev, const struct evlog_run_end *re)
{
	struct cel_event e;
	int ret;

	stop_flusher(ev);
	if ((ret = flush(ev)))
		return ret;
	if (ev->err)
		return ev->err;
	event_init(ev, &e, CEL_KIND_RUN_END);
	e.exit_status = re->exit_status;
	e.signal = re->signal;
	e.detached = re->detached;
	e.paths_truncated = re->paths_truncated;
	e.outputs = (struct cel_output *)re->outputs;
	e.n_outputs = re->n_outputs;
	e.total_files = ev->files_total;
	e.total_lost = ev->lost_total;
	e.total_batches = ev->batches;
	if (!(ret = append(ev, &e)))
		ev->ended = true;
	return ret;
}

/* ---- bundle ---- */

/* Records of other runs, and anything aicert cannot read, reveal nothing but their digests. */
static int redact_others(struct cel_log *log, const char *run_id)
{
	for (size_t i = 0; i < log->n; i++) {
		struct cel_record *r = &log->recs[i];
		struct cel_event e;
		bool keep;
		int ret;

		if (r->content_type == CEL_CT_REDACTED)
			continue;
		keep = r->content_type == CEL_CT_AICERT &&
		       !cel_event_decode(r->content, r->content_len, &e, NULL);
		if (keep) {
			keep = !e.run_id[0] || !strcmp(e.run_id, run_id);
			cel_event_free(&e);
		}
		if (!keep && (ret = cel_record_redact(r)))
			return ret;
	}
	return 0;
}

static int write_out(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ret;

	if (fd < 0) {
		log_err("cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = fileio_write_all(fd, p, n);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		log_err("cannot write %s: %s", path, strerror(-ret));
	return ret;
}

int evlog_export(struct evlog *ev, const char *run_id, const char *out_path)
{
	struct cel_log log = {0};
	uint8_t *buf = NULL, *enc = NULL;
	size_t len = 0, elen = 0;
	char err[CEL_ERR_MAX] = "";
	int ret;

	run_id = run_id ? run_id : ev->run_id;
	pthread_mutex_lock(&ev->io);
	if ((ret = lock(ev)))
		goto cleanup;
	ev->locked = true;
	if ((ret = sync_tail_locked(ev)) || (ret = read_range(ev, 0, &buf, &len)))
		goto cleanup;
	if ((ret = cel_log_decode(buf, ev->known_size, &log, NULL, err))) {
		log_err("%s: %s", ev->path, err);
		goto cleanup;
	}
	if ((ret = redact_others(&log, run_id)) || (ret = cel_log_encode(&log, &enc, &elen)))
		goto cleanup;
	ret = write_out(out_path, enc, elen);
cleanup:
	if (ret && ev->locked) {
		ev->locked = false;
		unlock(ev);
	}
	pthread_mutex_unlock(&ev->io);
	cel_log_free(&log);
	free(buf);
	free(enc);
	return ret;
}

int evlog_quote(struct evlog *ev, const uint8_t *qual, size_t len, const char *dir)
{
	int ret;

	pthread_mutex_lock(&ev->io);
	if (ev->no_tpm) {
		log_warn("UNATTESTED: no TPM, so no quote");
		ret = -ENOTSUP;
	} else {
		ret = tpm_quote(ev->tpm, &ev->ak, ev->pcr, qual, len, dir);
	}
	if (ev->locked) {
		ev->locked = false;
		unlock(ev);
	}
	pthread_mutex_unlock(&ev->io);
	return ret;
}

uint64_t evlog_tpm_commands(const struct evlog *ev)
{
	return tpm_commands(ev->tpm);
}

bool evlog_attested(const struct evlog *ev)
{
	return !ev->no_tpm;
}

const char *evlog_path(const struct evlog *ev)
{
	return ev->path;
}

uint32_t evlog_pcr(const struct evlog *ev)
{
	return ev->pcr;
}

uint64_t evlog_records(const struct evlog *ev)
{
	return ev->records;
}

uint64_t evlog_batches(const struct evlog *ev)
{
	return ev->batches;
}
