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
	bool locked; /* the flock is held from evlog_export() to evlog_quote()/evlog_release() */
	bool no_tpm;
	bool existed; /* the log file was there when this handle, holding the lock, opened it */
	struct tpm *tpm;
	struct tpm_ak_opts ak;
	uint32_t pcr;
	uint16_t algs[CEL_MAX_BANKS];
	size_t n_algs;
	/* The PCR as the log replays to, through known_size bytes ending before next_recnum. */
	uint8_t pcrv[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	uint64_t known_size, next_recnum;
	char boot_id[37];
	uint64_t records, batches;
	/* io: one append (and every TPM command) at a time within the process; also guards
	 * sealing, during which the runs' appends wait on seal_cv */
	pthread_mutex_t io;
	pthread_cond_t seal_cv;
	bool sealing;
	unsigned hz;
};

struct evlog_run {
	struct evlog *ev;
	char run_id[37];
	pthread_mutex_t mu; /* the queue */
	pthread_cond_t cv;
	pthread_t thr;
	bool thr_started, stop;
	struct cel_file *q;
	size_t qn, qcap;
	uint64_t lost_pending, lost_total, files_total, records, batches;
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

/*
 * The log is read one record at a time through a buffer the size of its largest record, so a
 * run's memory does not grow with the host log, which holds every run since boot.
 */
#define READ_CHUNK 65536

struct reader {
	int fd;
	const char *path;
	uint64_t pos, end; /* file offset of buf[0]; where reading stops */
	uint8_t *buf;
	size_t len, off, cap;
	char err[CEL_ERR_MAX];
};

static void reader_init(struct reader *rd, const struct evlog *ev, uint64_t from, uint64_t end)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = ev->fd;
	rd->path = ev->path;
	rd->pos = from;
	rd->end = end;
}

static int reader_fill(struct reader *rd)
{
	size_t want;
	ssize_t n;

	if (rd->off) /* keep the start of the record being read */
		memmove(rd->buf, rd->buf + rd->off, rd->len - rd->off);
	rd->pos += rd->off;
	rd->len -= rd->off;
	rd->off = 0;
	if (rd->cap - rd->len < READ_CHUNK) {
		size_t cap =
		    rd->cap * 2 > rd->len + READ_CHUNK ? rd->cap * 2 : rd->len + READ_CHUNK;
		uint8_t *p = realloc(rd->buf, cap);

		if (!p)
			return -ENOMEM;
		rd->buf = p;
		rd->cap = cap;
	}
	want = rd->cap - rd->len;
	if (want > rd->end - rd->pos - rd->len)
		want = rd->end - rd->pos - rd->len;
	do
		n = pread(rd->fd, rd->buf + rd->len, want, rd->pos + rd->len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		log_err("cannot read %s: %s", rd->path, strerror(errno));
		return -errno;
	}
	if (n == 0) /* shorter than it was */
		rd->end = rd->pos + rd->len;
	rd->len += n;
	return 0;
}

/* 1: a record, at file offset *at; 0: the end; -ENODATA: a torn tail at *at; -EBADMSG: a
 * malformed record at *at (rd->err says why); another -errno. */
static int reader_next(struct reader *rd, struct cel_record *r, uint64_t *at)
{
	size_t used = 0;
	int ret;

	for (;;) {
		*at = rd->pos + rd->off;
		if (rd->off == rd->len && rd->pos + rd->len >= rd->end)
			return 0;
		if (rd->off < rd->len) {
			ret = cel_record_decode(rd->buf + rd->off, rd->len - rd->off, *at, r, &used,
						rd->err);
			if (!ret) {
				rd->off += used;
				return 1;
			}
			if (ret != -ENODATA || rd->pos + rd->len >= rd->end)
				return ret;
		}
		if ((ret = reader_fill(rd)))
			return ret;
	}
}

static void reader_free(struct reader *rd)
{
	free(rd->buf);
	rd->buf = NULL;
}

static uint64_t file_size(const struct evlog *ev)
{
	struct stat st;

	return fstat(ev->fd, &st) ? 0 : (uint64_t)st.st_size;
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
	ev->batches += e->kind == CEL_KIND_BATCH;
cleanup:
	if (ret == -ENOMEM)
		log_err("cannot append to %s: out of memory", ev->path);
	cel_record_free(&r);
	free(content);
	free(rec);
	return ret;
}

/* run_id NULL: a host record (baseline, recovery) */
static void event_init(const char *run_id, struct cel_event *e, enum cel_kind kind)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->time_ns = now_ns();
	if (run_id)
		memcpy(e->run_id, run_id, sizeof(e->run_id));
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
	event_init(NULL, &e, CEL_KIND_BASELINE);
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
	event_init(NULL, &e, CEL_KIND_RECOVERY);
	e.last_good_recnum = last_good;
	e.bytes_dropped = dropped;
	return append_locked(ev, &e);
}

/* ---- validation and recovery ---- */

/* The log cannot be used as it is: keep it aside as <log>.<why>-<ns>, start a new one. */
static int restart_log(struct evlog *ev, const char *why, uint64_t last_good, uint64_t size)
{
	char aside[PATH_MAX + 64];
	int ret;

	snprintf(aside, sizeof(aside), "%s.%s-%llu", ev->path, why, (unsigned long long)now_ns());
	log_warn("moving %s to %s and starting a new log", ev->path, aside);
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
	return append_recovery(ev, last_good, size);
}

/* What one pass over the log (or its tail) found. */
struct scan {
	uint64_t n;	      /* whole records */
	uint64_t first, last; /* their first and last recnum */
	uint64_t before_last; /* the recnum of the one before the last */
	uint64_t last_at;     /* file offset of the last one */
	uint64_t valid;	      /* file offset after the last whole record */
	uint64_t damaged;     /* recnum of the first record whose content fails its digests */
	int tail;	      /* 0, or why reading stopped early (-ENODATA torn, -EBADMSG) */
	int fold;	      /* 0, or -EBADMSG: a record for another PCR or lacking a bank */
	bool baseline;	      /* from 0: the first record is a baseline for our banks */
	uint32_t first_index; /* from 0: the PCR the first record names */
	uint8_t prev[CEL_MAX_BANKS][CEL_MAX_DIGEST]; /* the values before the last record */
};

/* One record of a scan; from offset 0 the first one must be the baseline. */
static void scan_one(struct evlog *ev, struct scan *sc, const struct cel_record *r, uint64_t at,
		     bool from_start, uint8_t v[][CEL_MAX_DIGEST])
{
	if (!sc->n) {
		sc->first = r->recnum;
		sc->first_index = r->index;
		if (from_start)
			sc->baseline = !baseline_values(ev, r, v);
	}
	/* a writer checks every record's content: the replay alone (digests only) would pass a
	 * damaged record, which a bundle's export then hides behind the redaction marker */
	if (sc->damaged == UINT64_MAX &&
	    (r->content_type != CEL_CT_AICERT || cel_record_check_digests(r, NULL)))
		sc->damaged = r->recnum;
	memcpy(sc->prev, v, sizeof(sc->prev));
	if (!sc->fold)
		sc->fold = fold(ev, v, r);
	sc->n++;
	sc->before_last = sc->last;
	sc->last = r->recnum;
	sc->last_at = at;
}

/* Folds the records from file offset `from` to the end into v. 0 or a read error. */
static int scan_log(struct evlog *ev, uint64_t from, uint8_t v[][CEL_MAX_DIGEST], struct scan *sc)
{
	struct reader rd;
	struct cel_record r;
	uint64_t at = from;
	int ret;

	memset(sc, 0, sizeof(*sc));
	sc->damaged = UINT64_MAX;
	sc->valid = from;
	reader_init(&rd, ev, from, file_size(ev));
	while ((ret = reader_next(&rd, &r, &at)) == 1) {
		scan_one(ev, sc, &r, at, from == 0, v);
		cel_record_free(&r);
		sc->valid = rd.pos + rd.off;
	}
	if (ret == -ENODATA || ret == -EBADMSG) {
		if (from == 0)
			log_warn("%s: %s", ev->path, rd.err);
		sc->tail = ret;
		ret = 0;
	}
	reader_free(&rd);
	return ret;
}

/*
 * How many records the PCR covers: all, or all but the last (a writer died between fsync and
 * extend). -1: neither (or no baseline), the log cannot be bound; -2: the TPM failed; -3: the
 * log is another PCR's.
 */
static long covered(struct evlog *ev, struct scan *sc, uint8_t v[][CEL_MAX_DIGEST])
{
	uint8_t tpm[CEL_MAX_BANKS][CEL_MAX_DIGEST];

	if (sc->n && sc->first_index != ev->pcr) {
		log_err("%s is bound to PCR %u, not PCR %u; every writer on a host uses one PCR",
			ev->path, sc->first_index, ev->pcr);
		return -3;
	}
	if (!sc->n || !sc->baseline || sc->fold)
		return -1;
	if (ev->no_tpm)
		return (long)sc->n;
	if (tpm_values(ev, tpm))
		return -2;
	if (same_values(ev, v, tpm))
		return (long)sc->n;
	if (same_values(ev, sc->prev, tpm)) {
		memcpy(v, sc->prev, sizeof(sc->prev));
		return (long)sc->n - 1;
	}
	return -1;
}

static bool all_zero(const struct evlog *ev, uint8_t v[][CEL_MAX_DIGEST])
{
	for (size_t b = 0; b < ev->n_algs; b++)
		for (size_t i = 0; i < cel_alg_size(ev->algs[b]); i++)
			if (v[b][i])
				return false;
	return true;
}

/*
 * An empty log. It is new, or it was emptied (truncated, replaced) while the PCR kept its history:
 * known bytes were there before, or the PCR is not at its reset value. Either way a new baseline
 * starts; an emptied log is recorded as a recovery.
 */
static int start_empty(struct evlog *ev, uint64_t known)
{
	uint8_t tpm[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	bool emptied = known > 0;
	int ret;

	if (!emptied && ev->existed && !ev->no_tpm) {
		if ((ret = tpm_values(ev, tpm)))
			return ret;
		emptied = !all_zero(ev, tpm);
	}
	if (emptied)
		log_warn("%s is empty, but %s: it was emptied or replaced under aicert", ev->path,
			 known ? "it held records before" : "the PCR is not at its reset value");
	if ((ret = append_baseline(ev)) || !emptied)
		return ret;
	return append_recovery(ev, UINT64_MAX, known);
}

/* Keeps the first n records (the PCR covers them) and records what was dropped, if anything. */
static int keep_covered(struct evlog *ev, const struct scan *sc, long n, uint64_t size)
{
	uint64_t keep = (uint64_t)n < sc->n ? sc->last_at : sc->valid;
	uint64_t last = (uint64_t)n < sc->n ? sc->before_last : sc->last;

	ev->known_size = keep;
	ev->next_recnum = last + 1;
	if (keep == size)
		return 0;
	if (ftruncate(ev->fd, keep) || fsync(ev->fd)) {
		log_err("cannot truncate %s: %s", ev->path, strerror(errno));
		return -errno;
	}
	return append_recovery(ev, last, size - keep);
}

/* Under the lock: brings ev up to date with the whole log, repairing it when needed. `known`:
 * the bytes this handle knew of before (0: none). */
static int validate_locked(struct evlog *ev, uint64_t known)
{
	uint8_t v[CEL_MAX_BANKS][CEL_MAX_DIGEST] = {{0}};
	uint64_t size = file_size(ev);
	struct scan sc;
	long n;
	int ret;

	if (!size)
		return start_empty(ev, known);
	if ((ret = scan_log(ev, 0, v, &sc)))
		return ret;
	n = covered(ev, &sc, v);
	if (n == -2 || n == -3)
		return n == -2 ? -EIO : -EINVAL;
	if (n == 0) {
		/* only a baseline that was never extended: start over, nothing is lost */
		if (ftruncate(ev->fd, 0)) {
			log_err("cannot truncate %s: %s", ev->path, strerror(errno));
			return -errno;
		}
		return append_baseline(ev);
	}
	if (n < 0) {
		log_warn("%s does not replay to PCR %u", ev->path, ev->pcr);
		return restart_log(ev, "unbound", sc.n ? sc.last : UINT64_MAX, size);
	}
	if (sc.damaged != UINT64_MAX && sc.damaged < sc.first + (uint64_t)n) {
		log_warn("%s: record %llu does not match its digests: the log was damaged",
			 ev->path, (unsigned long long)sc.damaged);
		return restart_log(ev, "damaged", sc.damaged ? sc.damaged - 1 : UINT64_MAX, size);
	}
	memcpy(ev->pcrv, v, sizeof(v));
	return keep_covered(ev, &sc, n, size);
}

/* Reads what other writers appended since our last look; validates fully on any doubt. */
static int sync_tail_locked(struct evlog *ev)
{
	uint8_t v[CEL_MAX_BANKS][CEL_MAX_DIGEST], tpm[CEL_MAX_BANKS][CEL_MAX_DIGEST];
	uint64_t known = ev->known_size;
	struct scan sc;
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
		return validate_locked(ev, known);
	}
	if (b.st_size == (off_t)known)
		return 0;
	if (b.st_size < (off_t)known) /* truncated by someone */
		return validate_locked(ev, known);
	memcpy(v, ev->pcrv, sizeof(v));
	if ((ret = scan_log(ev, known, v, &sc)))
		return ret;
	if (!sc.fold && !sc.tail && !ev->no_tpm)
		ret = tpm_values(ev, tpm);
	if (ret || sc.fold || sc.tail || (!ev->no_tpm && !same_values(ev, v, tpm)) ||
	    (sc.n && sc.first != ev->next_recnum))
		return validate_locked(ev, known);
	memcpy(ev->pcrv, v, sizeof(v));
	ev->known_size = sc.valid;
	if (sc.n)
		ev->next_recnum = sc.last + 1;
	return 0;
}

/* A run's record: waits while a seal holds the log (its export and quote see one PCR value). */
static int append(struct evlog *ev, const struct cel_event *e)
{
	int ret;

	pthread_mutex_lock(&ev->io);
	while (ev->sealing)
		pthread_cond_wait(&ev->seal_cv, &ev->io);
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

/* A quote made while the TPM's clock is not safe is refused by aicert-verify: say so before the
 * run, not after it. */
static int clock_check(struct evlog *ev)
{
	bool safe = false;
	int ret = tpm_clock_safe(ev->tpm, &safe);

	if (ret || safe)
		return ret;
	log_err("the TPM's clock is not safe (clockInfo.safe = 0): the TPM restarted without an "
		"orderly shutdown, and aicert-verify rejects every quote made until the TPM next "
		"saves its clock (within about 70 minutes of TPM uptime; at once when its owner "
		"advances the clock by 4194304 ms or more with tpm2_setclock)");
	return -EAGAIN;
}

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
	if ((ret = tpm_open(o->tcti, o->tpm_timeout_ms, &ev->tpm)) ||
	    (ret = tpm_banks(ev->tpm, ev->pcr, ev->algs, &ev->n_algs)))
		return ret;
	return clock_check(ev);
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
	if ((ret = fileio_mkdirs(ev->dir, 0750, 0750))) {
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
	return 0;
}

/*
 * Under the lock, so that the log is created only by the writer that writes its baseline: had
 * another writer created it before its lock, this one could find it there and empty (existed)
 * with the PCR past its reset value, and take a new log for one emptied under aicert.
 */
static int open_log_locked(struct evlog *ev)
{
	ev->existed = access(ev->path, F_OK) == 0;
	ev->fd = open(ev->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (ev->fd < 0) {
		log_err("cannot open %s: %s", ev->path, strerror(errno));
		return -errno;
	}
	return 0;
}

void (*evlog_open_hook)(void);

int evlog_open(const struct evlog_opts *o, struct evlog **out)
{
	struct evlog *ev = calloc(1, sizeof(*ev));
	int ret;

	if (!ev)
		return -ENOMEM;
	ev->fd = ev->lock_fd = -1;
	pthread_mutex_init(&ev->io, NULL);
	pthread_cond_init(&ev->seal_cv, NULL);
	ev->pcr = o->pcr ? o->pcr : TPM_PCR_DEFAULT;
	ev->no_tpm = o->no_tpm;
	ev->ak = o->ak;
	ev->hz = o->batch_hz ? o->batch_hz : EVLOG_BATCH_HZ;
	if ((ret = tpm_pcr_check(ev->pcr, o->allow_resettable)) || (ret = open_tpm(ev, o)) ||
	    (ret = open_files(ev, o)))
		goto cleanup;
	if (evlog_open_hook)
		evlog_open_hook();
	if ((ret = lock(ev)))
		goto cleanup;
	if (!(ret = open_log_locked(ev)))
		ret = validate_locked(ev, 0);
	unlock(ev);
	if (ret)
		goto cleanup;
	*out = ev;
	return 0;
cleanup:
	evlog_close(ev);
	return ret;
}

static void release_locked(struct evlog *ev)
{
	if (ev->locked) {
		ev->locked = false;
		unlock(ev);
	}
	ev->sealing = false;
	pthread_cond_broadcast(&ev->seal_cv);
}

void evlog_close(struct evlog *ev)
{
	if (!ev)
		return;
	release_locked(ev);
	if (ev->fd >= 0)
		close(ev->fd);
	if (ev->lock_fd >= 0)
		close(ev->lock_fd);
	tpm_close(ev->tpm);
	pthread_mutex_destroy(&ev->io);
	pthread_cond_destroy(&ev->seal_cv);
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

/* One record of run r. */
static int run_append(struct evlog_run *r, const struct cel_event *e)
{
	int ret = append(r->ev, e);

	if (!ret) {
		pthread_mutex_lock(&r->mu);
		r->records++;
		r->batches += e->kind == CEL_KIND_BATCH;
		pthread_mutex_unlock(&r->mu);
	}
	return ret;
}

/* Takes the queue under r->mu; writes loss then batch records without it. */
static int flush(struct evlog_run *r)
{
	struct cel_event e;
	struct cel_file *q;
	size_t qn;
	uint64_t lost;
	int ret = 0;

	pthread_mutex_lock(&r->mu);
	q = r->q, qn = r->qn, lost = r->lost_pending;
	r->q = NULL, r->qn = r->qcap = 0, r->lost_pending = 0;
	pthread_mutex_unlock(&r->mu);
	if (lost) {
		event_init(r->run_id, &e, CEL_KIND_LOSS);
		e.lost = lost;
		ret = run_append(r, &e);
	}
	if (qn && !ret) {
		event_init(r->run_id, &e, CEL_KIND_BATCH);
		e.files = q;
		e.n_files = qn;
		ret = run_append(r, &e);
	}
	for (size_t i = 0; i < qn; i++)
		free(q[i].path);
	free(q);
	if (ret) {
		pthread_mutex_lock(&r->mu);
		if (!r->err)
			r->err = ret;
		pthread_mutex_unlock(&r->mu);
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
	struct evlog_run *r = arg;
	struct timespec ts;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		deadline(&ts, r->ev->hz);
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
			;
		if (r->stop || (!r->qn && !r->lost_pending))
			continue;
		pthread_mutex_unlock(&r->mu);
		flush(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void stop_flusher(struct evlog_run *r)
{
	if (!r->thr_started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thr, NULL);
	r->thr_started = false;
}

static struct evlog_run *run_new(struct evlog *ev, const char *run_id)
{
	struct evlog_run *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r) {
		log_err("cannot start a run in the event log: %s", strerror(ENOMEM));
		return NULL;
	}
	r->ev = ev;
	memcpy(r->run_id, run_id, sizeof(r->run_id));
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

static int start_flusher(struct evlog_run *r)
{
	int ret = -pthread_create(&r->thr, NULL, flusher, r);

	if (ret)
		log_err("cannot start the event log flusher: %s", strerror(-ret));
	r->thr_started = !ret;
	return ret;
}

void evlog_run_free(struct evlog_run *r)
{
	if (!r)
		return;
	stop_flusher(r);
	for (size_t i = 0; i < r->qn; i++)
		free(r->q[i].path);
	free(r->q);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

static bool valid_run_id(const char *id)
{
	if (id && strlen(id) == 36)
		return true;
	log_err("run id must be a 36-character UUID");
	return false;
}

int evlog_run_start(struct evlog *ev, const struct evlog_run_info *ri, struct evlog_run **out)
{
	struct evlog_run *r;
	struct cel_event e;
	int ret;

	*out = NULL;
	if (!valid_run_id(ri->run_id))
		return -EINVAL;
	if (ri->nonce_len > sizeof(e.nonce)) {
		log_err("a nonce holds at most %zu bytes", sizeof(e.nonce));
		return -EINVAL;
	}
	if (!(r = run_new(ev, ri->run_id)))
		return -ENOMEM;
	event_init(r->run_id, &e, CEL_KIND_RUN_START);
	e.argv = (char **)ri->argv;
	e.argc = ri->argc;
	e.cwd = (char *)ri->cwd;
	e.uid = ri->uid;
	if (ri->policy_sha256)
		memcpy(e.policy_digest, ri->policy_sha256, 32);
	e.backend = (char *)ri->backend;
	e.version = AICERT_VERSION;
	if (ri->nonce_len)
		memcpy(e.nonce, ri->nonce, ri->nonce_len);
	e.nonce_len = ri->nonce_len;
	if (ri->job)
		e.job = *ri->job; /* borrowed: e is not freed */
	if ((ret = exe_sha256(e.exe_sha256)) || (ret = run_append(r, &e)) ||
	    (ret = start_flusher(r))) {
		evlog_run_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

int evlog_measure(struct evlog_run *r, const char *path, const uint8_t sha256[32], uint64_t size,
		  uint32_t roles, uint32_t status)
{
	struct cel_file *f;
	char *p = strdup(path);
	int ret = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&r->mu);
	if (r->err) {
		ret = r->err;
	} else if (r->qn == r->qcap) {
		size_t cap = r->qcap ? 2 * r->qcap : 256;

		f = realloc(r->q, cap * sizeof(*f));
		if (f) {
			r->q = f;
			r->qcap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret) {
		f = &r->q[r->qn++];
		f->path = p;
		memcpy(f->sha256, sha256, 32);
		f->size = size;
		f->roles = roles;
		f->status = status;
		r->files_total++;
		p = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	free(p);
	return ret;
}

int evlog_loss(struct evlog_run *r, uint64_t n)
{
	pthread_mutex_lock(&r->mu);
	r->lost_pending += n;
	r->lost_total += n;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int evlog_run_end(struct evlog_run *r, const struct evlog_run_end *re)
{
	struct cel_event e;
	int ret;

	stop_flusher(r);
	if ((ret = flush(r)))
		return ret;
	if (r->err)
		return r->err;
	event_init(r->run_id, &e, CEL_KIND_RUN_END);
	e.exit_status = re->exit_status;
	e.signal = re->signal;
	e.detached = re->detached;
	e.paths_truncated = re->paths_truncated;
	e.outputs = (struct cel_output *)re->outputs;
	e.n_outputs = re->n_outputs;
	e.total_files = r->files_total;
	e.total_lost = r->lost_total;
	e.total_batches = r->batches;
	return run_append(r, &e);
}

const char *evlog_run_id(const struct evlog_run *r)
{
	return r->run_id;
}

uint64_t evlog_run_records(const struct evlog_run *r)
{
	return r->records;
}

uint64_t evlog_run_batches(const struct evlog_run *r)
{
	return r->batches;
}

uint64_t evlog_run_lost(const struct evlog_run *r)
{
	return r->lost_total;
}

/* ---- reading runs back ---- */

/* Called for each aicert record of the log that decodes; nonzero stops the walk. */
typedef int (*walk_cb)(const struct cel_event *e, void *ctx);

/*
 * Walks the current log (brought up to date first) under the process's io lock and the host
 * lock, so no writer changes it meanwhile. cb must not call evlog functions.
 */
static int walk(struct evlog *ev, walk_cb cb, void *ctx)
{
	struct reader rd;
	struct cel_record r;
	struct cel_event e;
	uint64_t at;
	int ret;

	pthread_mutex_lock(&ev->io);
	if ((ret = lock(ev)))
		goto cleanup;
	if ((ret = sync_tail_locked(ev)))
		goto unlock;
	reader_init(&rd, ev, 0, ev->known_size);
	while ((ret = reader_next(&rd, &r, &at)) == 1) {
		ret = 0;
		if (r.content_type == CEL_CT_AICERT &&
		    !cel_event_decode(r.content, r.content_len, &e, NULL)) {
			ret = cb(&e, ctx);
			cel_event_free(&e);
		}
		cel_record_free(&r);
		if (ret)
			break;
	}
	if (ret == -ENODATA || ret == -EBADMSG)
		log_err("%s: %s", ev->path, rd.err);
	reader_free(&rd);
unlock:
	unlock(ev);
cleanup:
	pthread_mutex_unlock(&ev->io);
	return ret < 0 ? ret : 0;
}

/* The run_start records without a run_end so far. */
struct unended {
	struct cel_event *v;
	size_t n, cap;
};

static int collect_unended(const struct cel_event *e, void *ctx)
{
	struct unended *u = ctx;
	struct cel_event *v;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (e->kind == CEL_KIND_RUN_END) {
		for (size_t i = 0; i < u->n; i++)
			if (!strcmp(u->v[i].run_id, e->run_id)) {
				cel_event_free(&u->v[i]);
				u->v[i] = u->v[--u->n];
				break;
			}
		return 0;
	}
	if (e->kind != CEL_KIND_RUN_START)
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 16;

		if (!(v = realloc(u->v, cap * sizeof(*v))))
			return -ENOMEM;
		u->v = v;
		u->cap = cap;
	}
	/* a deep copy through the codec: the walk frees e */
	if ((ret = cel_event_encode(e, &buf, &len)))
		return ret;
	ret = cel_event_decode(buf, len, &u->v[u->n], NULL);
	free(buf);
	if (!ret)
		u->n++;
	return ret;
}

static int by_time(const void *a, const void *b)
{
	const struct cel_event *x = a, *y = b;

	return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

int evlog_unended(struct evlog *ev, void (*cb)(const struct cel_event *run_start, void *ctx),
		  void *ctx)
{
	struct unended u = {0};
	int ret = walk(ev, collect_unended, &u);

	if (ret)
		log_err("cannot read the unended runs of %s: %s", ev->path, strerror(-ret));
	/* the removals above reorder the list: give it back in log (time) order */
	if (!ret && u.n)
		qsort(u.v, u.n, sizeof(*u.v), by_time);
	for (size_t i = 0; i < u.n; i++) {
		if (!ret)
			cb(&u.v[i], ctx);
		cel_event_free(&u.v[i]);
	}
	free(u.v);
	return ret;
}

struct files_walk {
	const char *run_id;
	void (*cb)(const struct cel_file *f, void *ctx);
	void *ctx;
};

static int each_file(const struct cel_event *e, void *ctx)
{
	struct files_walk *w = ctx;

	if (e->kind == CEL_KIND_BATCH && !strcmp(e->run_id, w->run_id))
		for (size_t i = 0; i < e->n_files; i++)
			w->cb(&e->files[i], w->ctx);
	return 0;
}

int evlog_run_files(struct evlog *ev, const char *run_id,
		    void (*cb)(const struct cel_file *f, void *ctx), void *ctx)
{
	struct files_walk w = {run_id, cb, ctx};

	return walk(ev, each_file, &w);
}

/* A resumed run's state as the log holds it. */
struct resume {
	struct evlog_run *r;
	bool started, ended;
};

static int count_run(const struct cel_event *e, void *ctx)
{
	struct resume *rs = ctx;
	struct evlog_run *r = rs->r;

	if (strcmp(e->run_id, r->run_id))
		return 0;
	rs->started |= e->kind == CEL_KIND_RUN_START;
	rs->ended |= e->kind == CEL_KIND_RUN_END;
	r->records++;
	if (e->kind == CEL_KIND_BATCH) {
		r->batches++;
		r->files_total += e->n_files;
	}
	if (e->kind == CEL_KIND_LOSS)
		r->lost_total += e->lost;
	return 0;
}

int evlog_run_resume(struct evlog *ev, const char *run_id, struct evlog_run **out)
{
	struct resume rs = {0};
	int ret;

	*out = NULL;
	if (!valid_run_id(run_id))
		return -EINVAL;
	if (!(rs.r = run_new(ev, run_id)))
		return -ENOMEM;
	if ((ret = walk(ev, count_run, &rs)))
		goto cleanup;
	if (!rs.started || rs.ended) {
		log_err("%s holds no unended run %s", ev->path, run_id);
		ret = -ENOENT;
		goto cleanup;
	}
	if ((ret = start_flusher(rs.r)))
		goto cleanup;
	*out = rs.r;
	return 0;
cleanup:
	evlog_run_free(rs.r);
	return ret;
}

/* ---- bundle ---- */

/* Which runs a view shows in clear: its run, and those whose run_start names its uid. */
struct shown {
	const struct evlog_view *v;
	char (*ids)[37];
	size_t n, cap;
	int err;
};

static bool shown_run(struct shown *s, const struct cel_event *e)
{
	if (!e->run_id[0]) /* baseline, recovery */
		return true;
	if (!s->v)
		return false;
	if (s->v->uid == EVLOG_VIEW_ALL)
		return true;
	if (s->v->run_id && !strcmp(e->run_id, s->v->run_id))
		return true;
	if (s->v->uid < 0)
		return false;
	if (e->kind == CEL_KIND_RUN_START && (int64_t)e->uid == s->v->uid) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 16;
			char(*ids)[37] = realloc(s->ids, cap * sizeof(*ids));

			if (!ids) {
				s->err = -ENOMEM;
				return false;
			}
			s->ids = ids;
			s->cap = cap;
		}
		memcpy(s->ids[s->n++], e->run_id, 37);
		return true;
	}
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], e->run_id))
			return true;
	return false;
}

/* Records outside the view, and anything aicert cannot read, reveal nothing but their digests. */
static int redact_other(struct cel_record *r, struct shown *s)
{
	struct cel_event e;
	bool keep;

	if (r->content_type == CEL_CT_REDACTED)
		return 0;
	keep = r->content_type == CEL_CT_AICERT &&
	       !cel_event_decode(r->content, r->content_len, &e, NULL);
	if (keep) {
		keep = shown_run(s, &e);
		cel_event_free(&e);
	}
	if (s->err)
		return s->err;
	return keep ? 0 : cel_record_redact(r);
}

#define EXPORT_FLUSH (1 << 20)

/* Streams the first ev->known_size bytes of the log to fd, redacted per the view. */
static int export_to(struct evlog *ev, const struct evlog_view *v, int fd)
{
	struct shown s = {.v = v};
	struct reader rd;
	struct cel_record r;
	uint8_t *enc = NULL;
	size_t elen = 0;
	uint64_t at;
	int ret;

	reader_init(&rd, ev, 0, ev->known_size);
	while ((ret = reader_next(&rd, &r, &at)) == 1) {
		ret = redact_other(&r, &s);
		if (!ret)
			ret = cel_record_encode(&r, &enc, &elen);
		cel_record_free(&r);
		if (!ret && elen >= EXPORT_FLUSH) {
			ret = fileio_write_all(fd, enc, elen);
			elen = 0;
		}
		if (ret)
			break;
	}
	if (ret == -ENODATA || ret == -EBADMSG)
		log_err("%s: %s", ev->path, rd.err);
	if (!ret && elen)
		ret = fileio_write_all(fd, enc, elen);
	reader_free(&rd);
	free(enc);
	free(s.ids);
	return ret;
}

static int export_file(struct evlog *ev, const struct evlog_view *v, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ret;

	if (fd < 0) {
		log_err("cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = export_to(ev, v, fd);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		log_err("cannot write %s: %s", path, strerror(-ret));
	return ret;
}

int evlog_export(struct evlog *ev, const struct evlog_view *v, const char *out_path)
{
	int ret;

	pthread_mutex_lock(&ev->io);
	while (ev->sealing)
		pthread_cond_wait(&ev->seal_cv, &ev->io);
	ev->sealing = true;
	if ((ret = lock(ev)))
		goto cleanup;
	ev->locked = true;
	if (!(ret = sync_tail_locked(ev)))
		ret = export_file(ev, v, out_path);
cleanup:
	if (ret)
		release_locked(ev);
	pthread_mutex_unlock(&ev->io);
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
	release_locked(ev);
	pthread_mutex_unlock(&ev->io);
	return ret;
}

void evlog_release(struct evlog *ev)
{
	pthread_mutex_lock(&ev->io);
	release_locked(ev);
	pthread_mutex_unlock(&ev->io);
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
