/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * access.bpf.h - what both backends (access_lsm.bpf.c, access_tp.bpf.c) share: maps, the scope
 * check, the de-duplication, filling records, the dentry/mount path walk and the fork/exit
 * programs. Each backend defines AC_BACKEND (enum ac_backend) before including this file.
 */
#ifndef AICERT_ACCESS_BPF_H
#define AICERT_ACCESS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "access.h"

#ifndef AC_BACKEND
#error "define AC_BACKEND before including access.bpf.h"
#endif

#define AC_WALK_MAX 64	   /* path components; deeper paths are cut and flagged */
#define AC_MOUNT_MAX 16	   /* mount crossings on the way to the root */
#define AC_SCOPE_LEVELS 32 /* cgroup levels checked for nested cgroups of a run */
#define AC_NAME_MASK 255   /* a dentry name is at most NAME_MAX (255) bytes */
#define AC_BLK 1024	   /* bytes of a struct read in one go; power of two */
#define AC_SLOTS 4	   /* scratch buffers per CPU: programs preempted on the CPU at once */

/* uapi/kernel constants that vmlinux.h (BTF) does not carry */
#define AC_FMODE_WRITE 0x2
#define AC_FMODE_EXEC 0x20
#define AC_FMODE_CREATED 0x100000
#define AC_O_TRUNC 01000
#define AC_O_PATH 010000000
#define AC_PROT_EXEC 0x4
#define AC_MAP_ANONYMOUS 0x20
#define AC_S_IFMT 00170000
#define AC_S_IFDIR 0040000
#define AC_AT_FDCWD -100
#define AC_CTIME_NSEC_MASK 0x7fffffff /* 6.13+: bit 31 of i_ctime_nsec is "ctime was queried" */

/* Stops clang from using a copy taken before a bounds check (6.1's verifier loses the bound) */
#define ac_barrier_var(v) asm volatile("" : "+r"(v))

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* resized by userspace before load */
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AC_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} scope SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144); /* resized by userspace before load */
	__type(key, struct ac_dedup_key);
	__type(value, struct ac_dedup_val);
} dedup SEC(".maps");

/*
 * A per-CPU, direct-mapped cache of dedup entries in front of the LRU hash: a re-open of a file
 * that was already reported costs an array index and a compare instead of a hash lookup. Only
 * positive answers come from it (a miss asks the LRU). LSM programs can be preempted, so two
 * programs on one CPU may write an entry at once: a torn entry is a mix of two keys and values
 * that matches neither exactly, so it only costs a miss. A lost record (ac_dedup_forget) bumps
 * seen_gen, which every entry carries in k._pad: all entries of all CPUs stop matching, so none
 * keeps an access dropped that was never reported. Sized by userspace before load (a power of
 * two; seen_mask is its size - 1).
 */
struct ac_seen {
	struct ac_dedup_key k; /* k._pad: seen_gen when written */
	struct ac_dedup_val v;
};

__u32 seen_gen = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096); /* resized by userspace before load */
	__type(key, __u32);
	__type(value, struct ac_seen);
} seen SEC(".maps");

const volatile __u32 seen_mask = 0;

/*
 * Records are far larger than the 512-byte stack, so they are built here. The slack after the
 * union lets the path walk write a whole name at any offset below AC_PATH_MAX without a
 * per-byte bound the verifier could not follow.
 *
 * Non-sleepable LSM programs run with migration disabled but preemption on (preempt=full,
 * PREEMPT_RT): a program preempted half-way through a record would have it overwritten by the
 * next program on the same CPU. So each CPU has AC_SLOTS buffers, each claimed with a
 * compare-and-swap on busy by the top-level program and released at its single exit.
 */
struct ac_scratch {
	union {
		struct ac_file f;
		struct ac_rename r;
		struct ac_proc p;
	};
	char slack[AC_NAME_MASK + 2];
	struct dentry *comp[AC_WALK_MAX];
	__u32 n, trunc;		/* path walk state */
	char blk[AC_BLK];	/* a struct inode or struct file read in one go */
	struct super_block *sb; /* of the file being reported: its dedup key */
	__u64 name;		/* its dentry (the name it was reached by): also in the key */
	__u32 i_generation;	/* of the file being reported: part of its dedup value */
	__u32 _pad;
	__u64 busy; /* 1 while a program owns the buffer; 64-bit: cmpxchg without -mcpu=v3 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AC_SLOTS);
	__type(key, __u32);
	__type(value, struct ac_scratch);
} scratch SEC(".maps");

/*
 * Bit L set: some scope entry is a cgroup at level L, so tasks in cgroups nested below it are
 * matched through their ancestor at level L. Written by userspace through the mmap'ed .bss.
 */
__u64 scope_levels = 0;

/*
 * The first AC_SCOPE_FAST scope entries, compared in place: a hash lookup costs more than the
 * rest of the check, and every syscall the backend hooks, of every task, makes it. Userspace
 * writes an entry before it counts it in scope_nfast; scope_more says that the scope map holds
 * entries beyond these, so that a miss here must ask it.
 */
#define AC_SCOPE_FAST 8
__u64 scope_fast[AC_SCOPE_FAST] = {};
__u32 scope_nfast = 0;
__u32 scope_more = 0;

/* inode timestamps moved between 6.1 (i_mtime), 6.6 (__i_ctime), 6.7 (__i_mtime) and 6.11 */
struct inode___v611 {
	time64_t i_mtime_sec;
	time64_t i_ctime_sec;
	u32 i_mtime_nsec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

struct inode___v607 {
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v606 {
	struct timespec64 i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v601 {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline void ac_stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	/* per-CPU, but a preempted LSM program may be half-way through the same increment */
	if (v)
		__sync_fetch_and_add(v, 1);
}

/*
 * A free scratch buffer of this CPU, NULL (the access counted lost) when AC_SLOTS programs
 * preempted on this CPU hold them all. Every caller is a top-level program that calls
 * ac_scratch_put before it returns.
 */
static __always_inline struct ac_scratch *ac_scratch_get(void)
{
	for (__u32 i = 0; i < AC_SLOTS; i++) {
		__u32 k = i;
		struct ac_scratch *s = bpf_map_lookup_elem(&scratch, &k);

		if (s && __sync_val_compare_and_swap(&s->busy, 0, 1) == 0)
			return s;
	}
	ac_stat_inc(AC_STAT_SCRATCH_BUSY);
	return NULL;
}

static __always_inline void ac_scratch_put(struct ac_scratch *s)
{
	/* the record is out (ringbuf output copies it): no write to s may move below this */
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&s->busy = 0;
}

static __always_inline int ac_scope_has(__u64 id)
{
	__u32 n = scope_nfast;

	for (int i = 0; i < AC_SCOPE_FAST; i++) {
		if (i >= n)
			break;
		if (scope_fast[i] == id)
			return 1;
	}
	return scope_more && bpf_map_lookup_elem(&scope, &id);
}

/*
 * The scope entry the current task falls under, 0 when it is out of scope. The cgroup id is
 * what bpf_get_current_cgroup_id() returns, read with direct loads through the task's BTF
 * pointer: a helper call costs as much as the rest of the check.
 */
static __always_inline __u64 ac_scope(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = task->cgroups->dfl_cgrp->kn->id;
	__u64 levels = scope_levels;

	if (ac_scope_has(id))
		return id;
	if (!levels)
		return 0;
	for (int l = 0; l < AC_SCOPE_LEVELS; l++) {
		if (!(levels & (1ull << l)))
			continue;
		id = bpf_get_current_ancestor_cgroup_id(l);
		if (!id)
			break; /* the task sits above level l: no deeper level can match */
		if (ac_scope_has(id))
			return id;
	}
	return 0;
}

/* scope_id: what ac_scope() returned for the task, the run the record belongs to */
static __always_inline void ac_task_fill(struct ac_task *t, __u64 scope_id)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	t->pid = (__u32)pid_tgid;
	t->tgid = pid_tgid >> 32;
	t->start_time = BPF_CORE_READ(task, group_leader, start_boottime);
	t->cgroup_id = bpf_get_current_cgroup_id();
	t->uid = (__u32)bpf_get_current_uid_gid();
	t->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	t->scope = scope_id;
}

static __always_inline void ac_hdr_fill(struct ac_hdr *h, __u32 type)
{
	h->type = type;
	h->flags = 0;
	h->size = 0;
	h->backend = AC_BACKEND;
	h->cpu = bpf_get_smp_processor_id();
	h->ktime = bpf_ktime_get_boot_ns();
}

/*
 * A probe read costs about as much as the rest of a de-duplicated access together, so the inode
 * and the file are each read with one bpf_probe_read_kernel into scratch (up to the last field
 * needed, offsets from CO-RE) and picked apart there.
 */
#define AC_AT(blk, T, off) (*(T *)((blk) + ((off) & (AC_BLK - 1))))

static __always_inline void ac_inode_times(const char *blk, __s64 *mtime, __s64 *ctime)
{
	if (bpf_core_field_exists(struct inode___v611, i_mtime_sec)) {
		*mtime =
		    AC_AT(blk, __s64, bpf_core_field_offset(struct inode___v611, i_mtime_sec)) *
			1000000000ll +
		    AC_AT(blk, __u32, bpf_core_field_offset(struct inode___v611, i_mtime_nsec));
		*ctime =
		    AC_AT(blk, __s64, bpf_core_field_offset(struct inode___v611, i_ctime_sec)) *
			1000000000ll +
		    (AC_AT(blk, __u32, bpf_core_field_offset(struct inode___v611, i_ctime_nsec)) &
		     AC_CTIME_NSEC_MASK);
		return;
	}
	__u32 m, c;

	if (bpf_core_field_exists(struct inode___v607, __i_mtime)) {
		m = bpf_core_field_offset(struct inode___v607, __i_mtime);
		c = bpf_core_field_offset(struct inode___v607, __i_ctime);
	} else if (bpf_core_field_exists(struct inode___v606, __i_ctime)) {
		m = bpf_core_field_offset(struct inode___v606, i_mtime);
		c = bpf_core_field_offset(struct inode___v606, __i_ctime);
	} else {
		m = bpf_core_field_offset(struct inode___v601, i_mtime);
		c = bpf_core_field_offset(struct inode___v601, i_ctime);
	}
	/* struct timespec64: tv_sec, then tv_nsec */
	*mtime = AC_AT(blk, __s64, m) * 1000000000ll + AC_AT(blk, __s64, m + 8);
	*ctime = AC_AT(blk, __s64, c) * 1000000000ll + AC_AT(blk, __s64, c + 8);
}

/* End of the part of struct inode that ac_inode_fill needs. */
static __always_inline __u32 ac_inode_end(void)
{
	__u32 end = bpf_core_field_offset(struct inode, i_size) + 8;

	__u32 e;

	if (bpf_core_field_exists(struct inode___v611, i_mtime_sec))
		e = bpf_core_field_offset(struct inode___v611, i_ctime_nsec) + 4;
	else if (bpf_core_field_exists(struct inode___v607, __i_mtime))
		e = bpf_core_field_offset(struct inode___v607, __i_ctime) + 16;
	else if (bpf_core_field_exists(struct inode___v606, __i_ctime))
		e = bpf_core_field_offset(struct inode___v606, __i_ctime) + 16;
	else
		e = bpf_core_field_offset(struct inode___v601, i_ctime) + 16;
	end = e > end ? e : end;
	if (bpf_core_field_exists(struct inode, i_version)) {
		e = bpf_core_field_offset(struct inode, i_version) + 8;
		end = e > end ? e : end;
	}
	e = bpf_core_field_offset(struct inode, i_generation) + 4;
	return e > end ? e : end;
}

/* Identity and version of the inode: what de-duplication compares. 0, or -1 when unreadable. */
static __always_inline int ac_inode_fill(struct ac_scratch *s, struct ac_file *f,
					 struct inode *inode)
{
	char *blk = s->blk;
	__u32 end = ac_inode_end();
	struct super_block *sb;

	if (end > AC_BLK || bpf_probe_read_kernel(blk, end & (AC_BLK - 1), inode))
		return -1;
	if ((AC_AT(blk, __u16, bpf_core_field_offset(struct inode, i_mode)) & AC_S_IFMT) ==
	    AC_S_IFDIR)
		return 1; /* directory listings are not file accesses */
	sb = AC_AT(blk, struct super_block *, bpf_core_field_offset(struct inode, i_sb));
	/* de-duplication keys on the superblock pointer (one per mounted dev): s_dev is read later
	 */
	s->sb = sb;
	f->dev = (__u64)sb;
	f->ino = AC_AT(blk, __u64, bpf_core_field_offset(struct inode, i_ino));
	f->size = AC_AT(blk, __s64, bpf_core_field_offset(struct inode, i_size));
	ac_inode_times(blk, &f->mtime_ns, &f->ctime_ns);
	f->i_version = 0;
	/* bit 0 is I_VERSION_QUERIED: set by a reader (IMA) without any change to the file */
	if (bpf_core_field_exists(struct inode, i_version))
		f->i_version =
		    AC_AT(blk, __u64, bpf_core_field_offset(struct inode, i_version)) >> 1;
	s->i_generation = AC_AT(blk, __u32, bpf_core_field_offset(struct inode, i_generation));
	f->magic = 0; /* filled after de-duplication */
	return 0;
}

static __always_inline struct ac_seen *ac_seen_slot(const struct ac_dedup_key *k)
{
	/* not dev: on the BTF path it is still a pointer, which the verifier lets no one hash */
	__u64 h = (k->ino ^ k->scope ^ k->kind) * 0x9e3779b97f4a7c15ull;
	__u32 slot = (__u32)(h >> 32) & seen_mask;

	return bpf_map_lookup_elem(&seen, &slot);
}

static __always_inline int ac_seen_same(const struct ac_seen *e, const struct ac_dedup_key *k,
					const struct ac_dedup_val *v, __u32 gen)
{
	return e->k.scope == k->scope && e->k.dev == k->dev && e->k.ino == k->ino &&
	       e->k.kind == k->kind && e->k._pad == gen && e->k.name == k->name &&
	       e->v.size == v->size && e->v.mtime_ns == v->mtime_ns &&
	       e->v.ctime_ns == v->ctime_ns && e->v.i_version == v->i_version &&
	       e->v.i_generation == v->i_generation;
}

/*
 * 1 when this (scope, inode, kind) was already reported with the same size/mtime/ctime/i_version
 * and generation (a new file that reuses a freed inode number has another): the caller drops the
 * access before the expensive path walk. Otherwise records the new value.
 */
static __always_inline int ac_dedup_seen(__u64 scope_id, const struct ac_scratch *s)
{
	const struct ac_file *f = &s->f;
	struct ac_dedup_key k = {
	    .scope = scope_id, .dev = f->dev, .ino = f->ino, .kind = f->kind, .name = s->name};
	struct ac_dedup_val v = {
	    .size = f->size,
	    .mtime_ns = f->mtime_ns,
	    .ctime_ns = f->ctime_ns,
	    .i_version = f->i_version,
	    .i_generation = s->i_generation,
	};
	struct ac_dedup_val *old;
	struct ac_seen *e;
	__u32 gen;

	if (!f->ino)
		return 0; /* no identity to de-duplicate on */
	/* read before the LRU: an entry cached after a forget's bump saw its LRU delete too */
	gen = seen_gen;
	ac_barrier_var(gen);
	e = ac_seen_slot(&k);
	if (e && ac_seen_same(e, &k, &v, gen)) {
		ac_stat_inc(AC_STAT_DEDUP_HITS);
		return 1;
	}
	old = bpf_map_lookup_elem(&dedup, &k);
	if (old && old->size == v.size && old->mtime_ns == v.mtime_ns &&
	    old->ctime_ns == v.ctime_ns && old->i_version == v.i_version &&
	    old->i_generation == v.i_generation) {
		ac_stat_inc(AC_STAT_DEDUP_HITS);
	} else if (bpf_map_update_elem(&dedup, &k, &v, BPF_ANY)) {
		ac_stat_inc(AC_STAT_ERRORS);
		return 0; /* not recorded: not cached either */
	} else {
		old = NULL;
	}
	if (e) {
		e->k = k;
		e->k._pad = gen;
		e->v = v;
	}
	return old != NULL;
}

/* A lost record must not stay marked as reported, or the next access would be dropped too. */
static __always_inline void ac_dedup_forget(__u64 scope_id, const struct ac_scratch *s)
{
	const struct ac_file *f = &s->f;
	struct ac_dedup_key k = {.scope = scope_id,
				 .dev = (__u64)s->sb,
				 .ino = f->ino,
				 .kind = f->kind,
				 .name = s->name};

	bpf_map_delete_elem(&dedup, &k);
	__sync_fetch_and_add(&seen_gen, 1);
}

static __always_inline int ac_submit(void *rec, __u64 size, __u64 max)
{
	ac_barrier_var(size);
	if (size > max)
		size = max;
	ac_barrier_var(size);
	((struct ac_hdr *)rec)->size = size;
	if (bpf_ringbuf_output(&rb, rec, size, 0)) {
		ac_stat_inc(AC_STAT_RB_DROPS);
		return -1;
	}
	ac_stat_inc(AC_STAT_EVENTS);
	return 0;
}

/*
 * Collects the dentries from `dentry` up to the task's root (or the global root), crossing
 * mounts through struct mount (container_of the vfsmount) into s->comp (comp[0] is the leaf,
 * s->n of them). s->trunc is set when the bounds were hit before the root. The counters live in
 * the map, not in registers, so the verifier does not track every possible depth separately.
 */
static __always_inline void ac_walk_collect(struct ac_scratch *s, struct dentry *dentry,
					    struct vfsmount *vfsmnt)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct dentry *root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	int i;

	s->n = 0;
	s->trunc = 1;
	for (i = 0; i < AC_WALK_MAX + AC_MOUNT_MAX; i++) {
		struct dentry *parent;
		__u32 n;

		if (dentry == root_dentry && vfsmnt == root_mnt) {
			s->trunc = 0;
			break;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);

			if (dentry != mnt_root || mparent == mnt) {
				s->trunc = 0; /* global root, or a detached mount: nothing above */
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mparent;
			vfsmnt = &mnt->mnt;
			mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
			continue;
		}
		n = s->n;
		if (n >= AC_WALK_MAX)
			break;
		s->comp[n & (AC_WALK_MAX - 1)] = dentry;
		s->n = n + 1;
		dentry = parent;
	}
}

/*
 * Writes "/a/b/c" for the collected components into buf (which has AC_NAME_MASK + 1 bytes of
 * slack after AC_PATH_MAX). Returns path_len (NUL included); sets s->trunc when cut.
 */
static __always_inline __u32 ac_walk_write(struct ac_scratch *s, char *buf)
{
	__u32 off = 0;
	int i;

	for (i = 0; i < AC_WALK_MAX; i++) {
		struct dentry *d;
		struct qstr q;
		__u32 len, n = s->n;

		if (i >= n)
			break;
		d = s->comp[(n - 1 - i) & (AC_WALK_MAX - 1)];
		if (bpf_core_read(&q, sizeof(q), &d->d_name))
			break;
		len = q.len & AC_NAME_MASK;
		if (off + 1 + len + 1 > AC_PATH_MAX) {
			s->trunc = 1;
			break;
		}
		buf[off & (AC_PATH_MAX - 1)] = '/';
		off++;
		if (bpf_probe_read_kernel(&buf[off & (AC_PATH_MAX - 1)], len, q.name)) {
			off--; /* the name is missing: what came before is all there is */
			s->trunc = 1;
			break;
		}
		off += len;
	}
	if (!off)
		buf[off++] = '/';
	buf[off & (AC_PATH_MAX - 1)] = 0;
	return (off & (AC_PATH_MAX - 1)) + 1;
}

static __always_inline int ac_d_unhashed(struct dentry *d)
{
	return !BPF_CORE_READ(d, d_hash.pprev) && BPF_CORE_READ(d, d_parent) != d;
}

/* Absolute path of (dentry, mnt) into buf; returns path_len and ORs AC_F_* into *flags. */
static __always_inline __u32 ac_path_walk(struct ac_scratch *s, char *buf, struct dentry *dentry,
					  struct vfsmount *mnt, __u32 *flags)
{
	__u32 len;

	ac_walk_collect(s, dentry, mnt);
	len = ac_walk_write(s, buf);
	if (s->trunc) {
		*flags |= AC_F_PATH_TRUNC;
		ac_stat_inc(AC_STAT_PATH_TRUNC);
	}
	return len;
}

static __always_inline __u32 ac_file_path(struct ac_scratch *s, struct file *file, __u32 *flags)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);

	if (ac_d_unhashed(dentry))
		*flags |= AC_F_UNLINKED;
	return ac_path_walk(s, s->f.path, dentry, BPF_CORE_READ(file, f_path.mnt), flags);
}

/* End of the part of struct file that ac_file_begin needs. */
static __always_inline __u32 ac_file_end(void)
{
	__u32 a = bpf_core_field_offset(struct file, f_inode) + 8;
	__u32 b = bpf_core_field_offset(struct file, f_mode) + 4;
	__u32 c = bpf_core_field_offset(struct file, f_flags) + 4;
	__u32 d = bpf_core_field_offset(struct file, f_path.dentry) + 8;

	a = a > b ? a : b;
	a = a > c ? a : c;
	return a > d ? a : d;
}

/* The rest of s->f, once the access is known to be reported. */
static __always_inline void ac_file_finish(struct ac_scratch *s, __u64 scope_id, __u32 kind,
					   __u32 fmode, __u32 fflags, __s32 fd)
{
	struct ac_file *f = &s->f;
	struct super_block *sb = s->sb;

	f->dev = BPF_CORE_READ(sb, s_dev);
	f->magic = BPF_CORE_READ(sb, s_magic);
	ac_hdr_fill(&f->hdr, AC_REC_FILE);
	if (kind == AC_KIND_READ || kind == AC_KIND_WRITE) {
		if (fmode & AC_FMODE_CREATED)
			f->hdr.flags |= AC_F_CREATED;
		if (fflags & AC_O_TRUNC)
			f->hdr.flags |= AC_F_TRUNCATED;
	}
	f->fmode = kind == AC_KIND_EXEC ? 0 : fmode;
	f->fd = fd;
	f->i_generation = s->i_generation;
	ac_task_fill(&f->task, scope_id);
}

/*
 * Fills s->f for `file` (all but the path). Returns 0 when the caller should go on and build the
 * path, 1 when the access is dropped (a directory, de-duplicated, unreadable).
 */
static __always_inline int ac_file_begin(struct ac_scratch *s, __u64 scope_id, struct file *file,
					 __u32 kind, __s32 fd)
{
	struct ac_file *f = &s->f;
	char *blk = s->blk;
	__u32 end = ac_file_end(), fmode, fflags;
	struct inode *inode;

	if (end > AC_BLK || bpf_probe_read_kernel(blk, end & (AC_BLK - 1), file))
		return 1;
	inode = AC_AT(blk, struct inode *, bpf_core_field_offset(struct file, f_inode));
	fmode = AC_AT(blk, __u32, bpf_core_field_offset(struct file, f_mode));
	fflags = AC_AT(blk, __u32, bpf_core_field_offset(struct file, f_flags));
	s->name = AC_AT(blk, __u64, bpf_core_field_offset(struct file, f_path.dentry));
	/* an O_PATH fd gives no access to the data (and file_open never sees one) */
	if (!inode || (fflags & AC_O_PATH))
		return 1;
	if (kind == AC_KIND_READ && (fmode & AC_FMODE_WRITE))
		kind = AC_KIND_WRITE;
	f->kind = kind;
	if (ac_inode_fill(s, f, inode))
		return 1;
	if (ac_dedup_seen(scope_id, s))
		return 1;
	ac_file_finish(s, scope_id, kind, fmode, fflags, fd);
	return 0;
}

/*
 * ac_inode_fill for a BTF pointer (an LSM hook's argument, or a pointer from bpf_rdonly_cast):
 * each field is one direct load, where a probe read is a helper call that copies the whole
 * head of the inode. This is the path every re-open of a de-duplicated file takes.
 */
static __always_inline int ac_inode_fill_btf(struct ac_scratch *s, struct ac_file *f,
					     struct inode *inode)
{
	struct super_block *sb;

	if ((inode->i_mode & AC_S_IFMT) == AC_S_IFDIR)
		return 1;
	sb = inode->i_sb;
	s->sb = sb;
	f->dev = (__u64)sb;
	f->ino = inode->i_ino;
	f->size = inode->i_size;
	if (bpf_core_field_exists(struct inode___v611, i_mtime_sec)) {
		struct inode___v611 *i = (void *)inode;

		f->mtime_ns = i->i_mtime_sec * 1000000000ll + i->i_mtime_nsec;
		f->ctime_ns =
		    i->i_ctime_sec * 1000000000ll + (i->i_ctime_nsec & AC_CTIME_NSEC_MASK);
	} else if (bpf_core_field_exists(struct inode___v607, __i_mtime)) {
		struct inode___v607 *i = (void *)inode;

		f->mtime_ns = i->__i_mtime.tv_sec * 1000000000ll + i->__i_mtime.tv_nsec;
		f->ctime_ns = i->__i_ctime.tv_sec * 1000000000ll + i->__i_ctime.tv_nsec;
	} else if (bpf_core_field_exists(struct inode___v606, __i_ctime)) {
		struct inode___v606 *i = (void *)inode;

		f->mtime_ns = i->i_mtime.tv_sec * 1000000000ll + i->i_mtime.tv_nsec;
		f->ctime_ns = i->__i_ctime.tv_sec * 1000000000ll + i->__i_ctime.tv_nsec;
	} else {
		struct inode___v601 *i = (void *)inode;

		f->mtime_ns = i->i_mtime.tv_sec * 1000000000ll + i->i_mtime.tv_nsec;
		f->ctime_ns = i->i_ctime.tv_sec * 1000000000ll + i->i_ctime.tv_nsec;
	}
	f->i_version = 0;
	/* bit 0 is I_VERSION_QUERIED, as in ac_inode_fill */
	if (bpf_core_field_exists(struct inode, i_version))
		f->i_version = (__u64)inode->i_version.counter >> 1;
	s->i_generation = inode->i_generation;
	f->magic = 0;
	return 0;
}

/* ac_file_begin for a BTF pointer to the file. */
static __always_inline int ac_file_begin_btf(struct ac_scratch *s, __u64 scope_id,
					     struct file *file, __u32 kind, __s32 fd)
{
	struct ac_file *f = &s->f;
	struct inode *inode = file->f_inode;
	__u32 fmode = file->f_mode, fflags = file->f_flags;

	s->name = (__u64)file->f_path.dentry;
	if (!inode || (fflags & AC_O_PATH))
		return 1;
	if (kind == AC_KIND_READ && (fmode & AC_FMODE_WRITE))
		kind = AC_KIND_WRITE;
	f->kind = kind;
	if (ac_inode_fill_btf(s, f, inode))
		return 1;
	if (ac_dedup_seen(scope_id, s))
		return 1;
	ac_file_finish(s, scope_id, kind, fmode, fflags, fd);
	return 0;
}

static __always_inline void ac_file_send(struct ac_scratch *s, __u64 scope_id, __u64 path_len)
{
	struct ac_file *f = &s->f;

	ac_barrier_var(path_len);
	if (path_len > AC_PATH_MAX)
		path_len = AC_PATH_MAX;
	ac_barrier_var(path_len);
	f->path_len = path_len;
	if (ac_submit(f, offsetof(struct ac_file, path) + path_len, sizeof(*f)))
		ac_dedup_forget(scope_id, s);
}

/* The whole path: begin, walk, send. */
static __always_inline void ac_file_emit(struct ac_scratch *s, __u64 scope_id, struct file *file,
					 __u32 kind, __s32 fd)
{
	__u32 len;

	if (!file || ac_file_begin(s, scope_id, file, kind, fd))
		return;
	len = ac_file_path(s, file, &s->f.hdr.flags);
	ac_file_send(s, scope_id, len);
}

/* ac_file_emit for a BTF pointer to the file; flags (AC_F_*) are added to the record's. */
static __always_inline void ac_file_emit_btf(struct ac_scratch *s, __u64 scope_id,
					     struct file *file, __u32 kind, __s32 fd, __u32 flags)
{
	__u32 len;

	if (!file || ac_file_begin_btf(s, scope_id, file, kind, fd))
		return;
	s->f.hdr.flags |= flags;
	len = ac_file_path(s, file, &s->f.hdr.flags);
	ac_file_send(s, scope_id, len);
}

static __always_inline void ac_proc_emit(struct ac_scratch *s, __u64 scope_id, __u32 type,
					 struct task_struct *child, __s32 exit_code)
{
	struct ac_proc *p = &s->p;

	ac_hdr_fill(&p->hdr, type);
	ac_task_fill(&p->task, scope_id);
	p->child_tgid = child ? BPF_CORE_READ(child, tgid) : 0;
	p->child_start_time = child ? BPF_CORE_READ(child, start_boottime) : 0;
	p->exit_code = exit_code;
	ac_submit(p, sizeof(*p), sizeof(*p));
}

/*
 * Process lifetime is seen the same way by both backends, so the programs live here: each
 * backend object gets its own copy.
 */

/* sched_process_fork: new processes only, threads are part of their process already. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ac_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 scope_id = ac_scope();
	struct ac_scratch *s;

	if (!scope_id)
		return 0;
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_proc_emit(s, scope_id, AC_REC_FORK, child, 0);
	ac_scratch_put(s);
	return 0;
}

/* sched_process_exit fires per thread; the thread group is gone when signal->live drops to 0. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(ac_exit, struct task_struct *task)
{
	__u64 scope_id = ac_scope();
	struct ac_scratch *s;

	if (!scope_id)
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_proc_emit(s, scope_id, AC_REC_EXIT, 0, BPF_CORE_READ(task, exit_code));
	ac_scratch_put(s);
	return 0;
}

#endif /* AICERT_ACCESS_BPF_H */
