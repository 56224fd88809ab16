// SPDX-License-Identifier: BSD-2-Clause
/*
 * access.c - loads one of the two BPF backends (LSM, tracepoints), scopes it to cgroups and
 * drains its ring buffer on a thread of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "access_lsm.skel.h"
#include "access_tp.skel.h"
#include "lib/log.h"
#include "trace/access.h"
#include "trace/cgroup.h"

#define RINGBUF_DEFAULT (64u << 20)
#define DEDUP_DEFAULT 262144u
#define SEEN_SLOTS_MAX 4096u	   /* per CPU; see "seen" in bpf/access.bpf.h */
#define SEEN_BYTES_MAX (32u << 20) /* all CPUs together */
#define SCOPE_MAX 1024		   /* max_entries of the "scope" map */
#define ROOT_MSG "aicert must run as root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"

struct scope_ent {
	uint64_t id;
	int level; /* -1: unknown */
};

struct access {
	enum access_backend backend;
	char lsm_skipped[160]; /* why auto mode fell back to tracepoints; "" otherwise */
	struct access_lsm_bpf *lsm;
	struct access_tp_bpf *tp;
	int stats_fd, scope_fd;
	/* in the mmap'ed .bss of the object: see the scope check in bpf/access.bpf.h */
	volatile __u64 *scope_levels, *scope_fast;
	volatile __u32 *scope_nfast, *scope_more;
	int nfast_max, nfast_live; /* slots of scope_fast in use, of them not tombstones (0) */
	struct ring_buffer *rb;
	pthread_t thread;
	int running;
	atomic_int stop;
	/*
	 * The drain thread waits in the ring buffer's epoll set (ring_buffer__epoll_fd), where
	 * wake_fd, an eventfd that access_sync and access_stop write, is added next to the ring.
	 * sync_req counts the passes asked for, sync_done is the latest request a finished consume
	 * pass had seen when it began (drain_err: the thread gave up). Under sync_lock, signalled
	 * on sync_cond.
	 */
	int wake_fd;
	uint64_t sync_req, sync_done;
	int drain_err;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	access_cb cb;
	void *ctx;
	uint64_t malformed;
	uint64_t delivered; /* records handed to the callback */
	struct scope_ent scopes[SCOPE_MAX];
	int nscopes;
	pthread_mutex_t lock; /* scopes */
	/* records are copied here before the callback: ring-buffer samples are only 8-aligned */
	union {
		struct ac_file f;
		struct ac_rename r;
		struct ac_proc p;
	} rec;
};

/* The verifier log comes as one long message: log it line by line. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *buf = NULL, *line, *save = NULL;

	if (log_level() < LOG_DEBUG || vasprintf(&buf, fmt, ap) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_debug("%s", line);
	free(buf);
	return 0;
}

int access_backend_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "auto"))
		return ACCESS_BACKEND_AUTO;
	if (!strcmp(s, "lsm"))
		return ACCESS_BACKEND_LSM;
	if (!strcmp(s, "tracepoint") || !strcmp(s, "tp"))
		return ACCESS_BACKEND_TRACEPOINT;
	return -1;
}

const char *access_backend_name(const struct access *a)
{
	return a && a->backend == ACCESS_BACKEND_LSM ? "lsm" : "tracepoint";
}

/* 1 when "bpf" is one of the active LSMs, 0 when not, -errno when the list cannot be read. */
static int lsm_active(void)
{
	char buf[1024], *tok, *save = NULL;
	ssize_t n;
	int fd = open("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	for (tok = strtok_r(buf, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save))
		if (!strcmp(tok, "bpf"))
			return 1;
	return 0;
}

static uint32_t pow2_at_least(uint32_t v, uint32_t min)
{
	uint32_t p = min;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

/* Slots of the per-CPU dedup cache: a power of two, fewer on machines with many CPUs. */
static uint32_t seen_slots(void)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t slots = SEEN_SLOTS_MAX;

	while (ncpu > 0 && slots > 256 && slots * 64 * (uint64_t)ncpu > SEEN_BYTES_MAX)
		slots >>= 1;
	return (uint32_t)slots;
}

static int size_maps(struct bpf_map *rb, struct bpf_map *dedup, struct bpf_map *seen,
		     __u32 *seen_mask, const struct access_opts *o)
{
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	uint32_t rb_bytes = o->ringbuf_bytes ? o->ringbuf_bytes : RINGBUF_DEFAULT;
	uint32_t slots = seen_slots();
	int err;

	/* the kernel wants a power-of-two multiple of the page size */
	err = bpf_map__set_max_entries(rb, pow2_at_least(rb_bytes, page));
	if (!err)
		err = bpf_map__set_max_entries(dedup,
					       o->dedup_entries ? o->dedup_entries : DEDUP_DEFAULT);
	if (!err)
		err = bpf_map__set_max_entries(seen, slots);
	*seen_mask = slots - 1;
	if (err)
		log_err("cannot size the BPF maps: %s", strerror(-err));
	return err;
}

static const char *fail_msg(int err)
{
	if (err == -EPERM)
		return ROOT_MSG;
	if (err == -EACCES)
		return "the BPF verifier rejected a program (run with -v -v for its log)";
	return strerror(-err);
}

/* Both skeletons lay out the scope variables alike (bpf/access.bpf.h). */
#define bss_bind(a, bss)                                                                           \
	do {                                                                                       \
		(a)->scope_levels = &(bss)->scope_levels;                                          \
		(a)->scope_fast = (bss)->scope_fast;                                               \
		(a)->scope_nfast = &(bss)->scope_nfast;                                            \
		(a)->scope_more = &(bss)->scope_more;                                              \
		(a)->nfast_max = sizeof((bss)->scope_fast) / sizeof((bss)->scope_fast[0]);         \
	} while (0)

static int open_lsm(struct access *a, const struct access_opts *o)
{
	int err;

	a->lsm = access_lsm_bpf__open();
	if (!a->lsm)
		return -errno;
	if ((err = size_maps(a->lsm->maps.rb, a->lsm->maps.dedup, a->lsm->maps.seen,
			     &a->lsm->rodata->seen_mask, o)))
		return err;
	if ((err = access_lsm_bpf__load(a->lsm)))
		return err;
	if ((err = access_lsm_bpf__attach(a->lsm)))
		return err;
	a->stats_fd = bpf_map__fd(a->lsm->maps.stats);
	a->scope_fd = bpf_map__fd(a->lsm->maps.scope);
	bss_bind(a, a->lsm->bss);
	a->backend = ACCESS_BACKEND_LSM;
	return 0;
}

/* libbpf attaches tracepoints through tracefs, which a minimal system may not have mounted. */
static void tracefs_mount(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		log_warn("cannot mount tracefs on /sys/kernel/tracing: %s", strerror(errno));
	else
		log_info("mounted tracefs on /sys/kernel/tracing");
}

/* A syscall tracepoint this architecture lacks (open, creat on arm64) is left out, not fatal. */
static void tp_skip_missing(struct access_tp_bpf *tp)
{
	static const char *const dirs[] = {"/sys/kernel/tracing/events",
					   "/sys/kernel/debug/tracing/events"};
	struct bpf_program *prog;
	char path[512];

	bpf_object__for_each_program(prog, tp->obj)
	{
		const char *sec = bpf_program__section_name(prog);
		int found = 0, base = 0;

		if (strncmp(sec, "tracepoint/", 11))
			continue;
		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			if (access(dirs[i], F_OK))
				continue;
			base = 1;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], sec + 11);
			found |= !access(path, F_OK);
		}
		if (base && !found) {
			log_debug("no tracepoint %s here: %s not loaded", sec + 11,
				  bpf_program__name(prog));
			bpf_program__set_autoload(prog, false);
		}
	}
}

/* 1 when the kernel has the bpf_rdonly_cast kfunc (6.2+), which the X_cast programs call. */
static int has_rdonly_cast(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int found;

	if (!vmlinux)
		return 0;
	found = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return found;
}

/* Of each pair X / X_cast (bpf/access_tp.bpf.c), leaves the one this kernel can run. */
static void tp_pick_variants(struct access_tp_bpf *tp)
{
	int cast = has_rdonly_cast();
	struct bpf_program *prog;
	char base[128];

	log_debug("bpf_rdonly_cast %savailable: open exits read the file %s", cast ? "" : "not ",
		  cast ? "with direct loads" : "with probe reads");
	bpf_object__for_each_program(prog, tp->obj)
	{
		const char *name = bpf_program__name(prog);
		size_t len = strlen(name);
		struct bpf_program *plain;

		if (len <= 5 || len - 5 >= sizeof(base) || strcmp(name + len - 5, "_cast"))
			continue;
		memcpy(base, name, len - 5);
		base[len - 5] = 0;
		plain = bpf_object__find_program_by_name(tp->obj, base);
		if (cast && plain)
			bpf_program__set_autoload(plain, false);
		else
			bpf_program__set_autoload(prog, false);
	}
}

static int open_tp(struct access *a, const struct access_opts *o)
{
	int err;

	a->tp = access_tp_bpf__open();
	if (!a->tp)
		return -errno;
	tracefs_mount();
	tp_skip_missing(a->tp);
	tp_pick_variants(a->tp);
	if ((err = size_maps(a->tp->maps.rb, a->tp->maps.dedup, a->tp->maps.seen,
			     &a->tp->rodata->seen_mask, o)))
		return err;
	if ((err = access_tp_bpf__load(a->tp)))
		return err;
	if ((err = access_tp_bpf__attach(a->tp)))
		return err;
	a->stats_fd = bpf_map__fd(a->tp->maps.stats);
	a->scope_fd = bpf_map__fd(a->tp->maps.scope);
	bss_bind(a, a->tp->bss);
	a->backend = ACCESS_BACKEND_TRACEPOINT;
	return 0;
}

/* Picks and loads the backend; returns 0 or -errno with the reason logged. */
static int load_backend(struct access *a, const struct access_opts *o)
{
	int active, err;

	if (o->backend == ACCESS_BACKEND_TRACEPOINT)
		goto tracepoint;
	active = lsm_active();
	if (active <= 0) {
		const char *why = active == 0 ? "\"bpf\" is not in /sys/kernel/security/lsm"
					      : "cannot read /sys/kernel/security/lsm";

		if (o->backend == ACCESS_BACKEND_LSM) {
			log_err("the LSM backend is not available: %s (boot with lsm=...,bpf)",
				why);
			return -EOPNOTSUPP;
		}
		snprintf(a->lsm_skipped, sizeof(a->lsm_skipped), "%s", why);
		goto tracepoint;
	}
	err = open_lsm(a, o);
	if (!err)
		return 0;
	access_lsm_bpf__destroy(a->lsm);
	a->lsm = NULL;
	if (o->backend == ACCESS_BACKEND_LSM) {
		log_err("cannot load the LSM backend: %s",
			err == -EPERM && !geteuid() ? "the kernel refused BPF LSM programs (EPERM)"
						    : fail_msg(err));
		return err;
	}
	snprintf(a->lsm_skipped, sizeof(a->lsm_skipped), "its programs did not load: %s",
		 strerror(-err));
tracepoint:
	err = open_tp(a, o);
	if (err) {
		log_err("cannot load the tracepoint backend: %s", fail_msg(err));
		if (a->lsm_skipped[0])
			log_info("BPF LSM was not used: %s", a->lsm_skipped);
	}
	return err;
}

static int on_sample(void *ctx, void *data, size_t size);

/*
 * wake_fd into the ring buffer's epoll set. libbpf's ring_buffer__poll takes an event's data.fd
 * for the index of a ring; 0 (the only ring) keeps that true, though the drain does not use it.
 */
static int wake_add(struct access *a)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};

	return epoll_ctl(ring_buffer__epoll_fd(a->rb), EPOLL_CTL_ADD, a->wake_fd, &ev) ? -errno : 0;
}

/* The drain thread's wake-up (wake_fd) and access_sync's condition on CLOCK_MONOTONIC. */
static int sync_init(struct access *a)
{
	pthread_condattr_t ca;
	int ret;

	pthread_mutex_init(&a->sync_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = pthread_cond_init(&a->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (ret) {
		log_err("cannot set up the drain's wait: %s", strerror(ret));
		return -ret;
	}
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->wake_fd < 0) {
		ret = -errno;
		log_err("cannot set up the drain's wait: %s", strerror(errno));
		return ret;
	}
	return 0;
}

static void wake_drain(struct access *a)
{
	uint64_t one = 1;

	/* only fails when the counter is about to overflow: the thread is awake then */
	if (write(a->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("cannot wake the drain thread: %s", strerror(errno));
}

struct access *access_open(const struct access_opts *opts, int *err)
{
	struct access_opts o = {0};
	struct access *a;
	int ret;

	if (opts)
		o = *opts;
	libbpf_set_print(libbpf_log);
	a = calloc(1, sizeof(*a));
	if (!a) {
		ret = -ENOMEM;
		goto cleanup;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->wake_fd = -1;
	if ((ret = sync_init(a)))
		goto cleanup;
	if ((ret = load_backend(a, &o)))
		goto cleanup;
	a->rb = ring_buffer__new(bpf_map__fd(a->lsm ? a->lsm->maps.rb : a->tp->maps.rb), on_sample,
				 a, NULL);
	if (!a->rb) {
		ret = -errno;
		log_err("cannot set up the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	if ((ret = wake_add(a))) {
		log_err("cannot set up the drain's wait: %s", strerror(-ret));
		goto cleanup;
	}
	if (a->lsm_skipped[0])
		log_info("tracing with the %s backend (BPF LSM not used: %s)",
			 access_backend_name(a), a->lsm_skipped);
	else
		log_info("tracing with the %s backend", access_backend_name(a));
	if (err)
		*err = 0;
	return a;
cleanup:
	access_close(a);
	if (err)
		*err = ret;
	return NULL;
}

/*
 * The programs read scope_fast[0 .. scope_nfast) while this runs, with no ordering between
 * their loads of the count and of the slots. So every slot store is a single aligned 64-bit
 * store that changes one entry only: an entry is written before it is counted, a removed one
 * becomes a tombstone (0, never a cgroup id) in place, and nothing ever moves, so a program
 * sees each present entry whatever mix of old and new values it loads. The count never shrinks;
 * tombstones are reused by later adds.
 */
static void fast_add(struct access *a, __u64 id)
{
	__u32 n = *a->scope_nfast;
	__u32 i;

	for (i = 0; i < n && a->scope_fast[i]; i++)
		;
	if (i < n) {
		__atomic_store_n(&a->scope_fast[i], id, __ATOMIC_RELEASE);
		a->nfast_live++;
	} else if ((int)n < a->nfast_max) {
		__atomic_store_n(&a->scope_fast[n], id, __ATOMIC_RELEASE);
		__atomic_store_n(a->scope_nfast, n + 1, __ATOMIC_RELEASE);
		a->nfast_live++;
	}
	__atomic_store_n(a->scope_more, a->nscopes > a->nfast_live, __ATOMIC_RELEASE);
}

static void fast_del(struct access *a, __u64 id)
{
	__u32 n = *a->scope_nfast;

	for (__u32 i = 0; i < n; i++) {
		if (a->scope_fast[i] != id)
			continue;
		__atomic_store_n(&a->scope_fast[i], 0, __ATOMIC_RELEASE);
		a->nfast_live--;
		break;
	}
	__atomic_store_n(a->scope_more, a->nscopes > a->nfast_live, __ATOMIC_RELEASE);
}

static void levels_update(struct access *a)
{
	__u64 mask = 0;

	for (int i = 0; i < a->nscopes; i++) {
		int l = a->scopes[i].level;

		/* unknown level: check them all rather than miss nested cgroups */
		mask |= l < 0 || l >= 32 ? 0xffffffffull : 1ull << l;
	}
	*a->scope_levels = mask;
}

int access_scope_add(struct access *a, uint64_t cgroup_id)
{
	__u64 id = cgroup_id;
	__u8 one = 1;
	int ret = 0, level;

	level = cgroup_level(cgroup_id);
	if (level < 0)
		log_debug("cannot find the level of cgroup %llu: %s", (unsigned long long)id,
			  strerror(-level));
	pthread_mutex_lock(&a->lock);
	if (a->nscopes >= SCOPE_MAX) {
		ret = -ENOSPC;
		goto cleanup;
	}
	if (bpf_map_update_elem(a->scope_fd, &id, &one, BPF_ANY)) {
		ret = -errno;
		goto cleanup;
	}
	a->scopes[a->nscopes++] = (struct scope_ent){.id = id, .level = level};
	fast_add(a, id);
	levels_update(a);
cleanup:
	pthread_mutex_unlock(&a->lock);
	if (ret)
		log_err("cannot add cgroup %llu to the scope: %s", (unsigned long long)id,
			strerror(-ret));
	return ret;
}

int access_scope_del(struct access *a, uint64_t cgroup_id)
{
	__u64 id = cgroup_id;
	int ret = 0;

	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < a->nscopes; i++) {
		if (a->scopes[i].id != id)
			continue;
		a->scopes[i] = a->scopes[--a->nscopes];
		break;
	}
	fast_del(a, id);
	levels_update(a);
	if (bpf_map_delete_elem(a->scope_fd, &id))
		ret = -errno;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* Minimum size of each record type, and where its variable part is described. */
static int valid(const void *data, size_t size)
{
	struct ac_hdr h;
	__u32 len;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	if (h.size != size)
		return 0;
	switch (h.type) {
	case AC_REC_FILE:
		if (size < offsetof(struct ac_file, path) || size > sizeof(struct ac_file))
			return 0;
		memcpy(&len, (const char *)data + offsetof(struct ac_file, path_len), sizeof(len));
		return len >= 1 && offsetof(struct ac_file, path) + len == size &&
		       ((const char *)data)[size - 1] == 0;
	case AC_REC_RENAME:
		if (size < offsetof(struct ac_rename, path) || size > sizeof(struct ac_rename))
			return 0;
		memcpy(&len, (const char *)data + offsetof(struct ac_rename, path_len),
		       sizeof(len));
		if (offsetof(struct ac_rename, path) + len != size ||
		    (len && ((const char *)data)[size - 1]))
			return 0;
		memcpy(&len, (const char *)data + offsetof(struct ac_rename, name_len),
		       sizeof(len));
		return len >= 1 && len <= AC_NAME_MAX &&
		       !((const char *)data)[offsetof(struct ac_rename, name) + len - 1];
	case AC_REC_EXEC:
	case AC_REC_FORK:
	case AC_REC_EXIT:
		return size == sizeof(struct ac_proc);
	default:
		return 0;
	}
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct access *a = ctx;

	if (!valid(data, size)) {
		a->malformed++;
		return 0;
	}
	memcpy(&a->rec, data, size);
	a->delivered++;
	if (a->cb)
		a->cb(&a->rec, size, a->ctx);
	return 0;
}

/*
 * Waits for records (or a wake-up), then consumes the ring. A pass answers every access_sync
 * request made before it began: what was committed before the request is in the ring by then.
 */
static void *drain(void *arg)
{
	struct access *a = arg;
	struct epoll_event ev[2];
	uint64_t req, cnt;
	int n, err = 0;

	while (!atomic_load(&a->stop)) {
		n = epoll_wait(ring_buffer__epoll_fd(a->rb), ev, 2, 100);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			log_err("cannot wait for the ring buffer: %s", strerror(errno));
			break;
		}
		if (read(a->wake_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			log_debug("cannot read the drain's eventfd: %s", strerror(errno));
		pthread_mutex_lock(&a->sync_lock);
		req = a->sync_req;
		pthread_mutex_unlock(&a->sync_lock);
		n = ring_buffer__consume(a->rb);
		if (n < 0) {
			err = n;
			log_err("cannot read the ring buffer: %s", strerror(-n));
			break;
		}
		pthread_mutex_lock(&a->sync_lock);
		if (req > a->sync_done) {
			a->sync_done = req;
			pthread_cond_broadcast(&a->sync_cond);
		}
		pthread_mutex_unlock(&a->sync_lock);
	}
	pthread_mutex_lock(&a->sync_lock);
	a->drain_err = err ? err : -ESHUTDOWN;
	pthread_cond_broadcast(&a->sync_cond);
	pthread_mutex_unlock(&a->sync_lock);
	return NULL;
}

int access_sync(struct access *a, int timeout_ms)
{
	struct timespec end;
	uint64_t req;
	int ret = 0;

	if (!a)
		return -EINVAL;
	if (!a->running) {
		/* no drain thread (not started, or stopped): the caller's thread drains */
		ret = ring_buffer__consume(a->rb);
		return ret < 0 ? ret : 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (timeout_ms >= 0) {
		end.tv_sec += timeout_ms / 1000;
		end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&a->sync_lock);
	req = ++a->sync_req;
	wake_drain(a);
	while (a->sync_done < req && !a->drain_err && !ret) {
		if (timeout_ms < 0)
			ret = -pthread_cond_wait(&a->sync_cond, &a->sync_lock);
		else
			ret = -pthread_cond_timedwait(&a->sync_cond, &a->sync_lock, &end);
	}
	if (a->sync_done >= req)
		ret = 0;
	else if (!ret)
		ret = a->drain_err;
	pthread_mutex_unlock(&a->sync_lock);
	return ret;
}

int access_start(struct access *a, access_cb cb, void *ctx)
{
	int ret;

	if (a->running)
		return -EALREADY;
	a->cb = cb;
	a->ctx = ctx;
	atomic_store(&a->stop, 0);
	a->drain_err = 0;
	ret = pthread_create(&a->thread, NULL, drain, a);
	if (ret) {
		log_err("cannot start the drain thread: %s", strerror(ret));
		return -ret;
	}
	a->running = 1;
	return 0;
}

void access_stop(struct access *a)
{
	if (!a || !a->running)
		return;
	atomic_store(&a->stop, 1);
	wake_drain(a);
	pthread_join(a->thread, NULL);
	a->running = 0;
	/* what the programs submitted before now is still in the ring: hand it over too */
	ring_buffer__consume(a->rb);
}

/*
 * Accesses that no program saw: the kernel skips a program that would recurse on its CPU (a
 * tracepoint while another BPF program runs there, say) and counts it in recursion_misses.
 */
static uint64_t prog_misses(const struct access *a)
{
	struct bpf_object *obj = a->backend == ACCESS_BACKEND_LSM ? (a->lsm ? a->lsm->obj : NULL)
								  : (a->tp ? a->tp->obj : NULL);
	struct bpf_program *prog;
	uint64_t sum = 0;

	if (!obj)
		return 0;
	bpf_object__for_each_program(prog, obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

void access_stats(const struct access *a, struct access_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 sum[AC_STAT_MAX] = {0};

	memset(out, 0, sizeof(*out));
	if (!a || ncpu <= 0)
		return;
	__u64 *vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (__u32 k = 0; k < AC_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(a->stats_fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum[k] += vals[c];
	}
	free(vals);
	out->events = sum[AC_STAT_EVENTS];
	out->ring_full = sum[AC_STAT_RB_DROPS];
	out->scratch_busy = sum[AC_STAT_SCRATCH_BUSY];
	out->path_trunc = sum[AC_STAT_PATH_TRUNC];
	out->dedup_hits = sum[AC_STAT_DEDUP_HITS];
	out->errors = sum[AC_STAT_ERRORS];
	out->malformed = a->malformed;
	/*
	 * Once stopped, every record the programs committed was either handed over or found
	 * malformed; the rest came after the final drain (a preempted program held the ring's
	 * consumer back, or tasks of the run went on) and never reached the callback.
	 */
	if (!a->running && out->events > a->delivered + a->malformed)
		out->undelivered = out->events - a->delivered - a->malformed;
	out->prog_misses = prog_misses(a);
	out->rb_drops = out->ring_full + out->scratch_busy + out->undelivered + out->prog_misses;
}

void access_close(struct access *a)
{
	if (!a)
		return;
	access_stop(a);
	ring_buffer__free(a->rb);
	access_lsm_bpf__destroy(a->lsm);
	access_tp_bpf__destroy(a->tp);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	pthread_cond_destroy(&a->sync_cond);
	pthread_mutex_destroy(&a->sync_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
