/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * access.h - records that the BPF programs (bpf/access_*.bpf.c) push through the ring buffer to
 * the collector (userspace/trace/access.c). Shared by both sides, so only fixed-width types with
 * explicit padding. Record type numbers and field offsets are never renumbered; a unit test
 * (tests/unit/test_access_layout.c) pins every size and offset.
 */
#ifndef AICERT_ACCESS_H
#define AICERT_ACCESS_H

#ifdef __BPF__
/* vmlinux.h provides __u32 and friends */
#else
#include <linux/types.h>
#endif

#define AC_PATH_MAX 4096 /* bytes of path, NUL included; longer paths are truncated + counted */
#define AC_NAME_MAX 256  /* the last component of a rename target, NUL included */
#define AC_COMM_LEN 16

/* ac_hdr.type */
enum ac_rec_type {
	AC_REC_FILE = 1,   /* a file opened, executed or mapped executable (struct ac_file) */
	AC_REC_RENAME = 2, /* a rename or link inside the run (struct ac_rename; AC_F_LINK) */
	AC_REC_EXEC = 3,   /* a task of the run called execve (struct ac_proc) */
	AC_REC_FORK = 4,   /* a task of the run forked (struct ac_proc) */
	AC_REC_EXIT = 5,   /* a thread group of the run exited (struct ac_proc) */
};

/* ac_file.kind: how the file was accessed. Also the dedup key's kind. */
enum ac_kind {
	AC_KIND_READ = 1,  /* opened without FMODE_WRITE */
	AC_KIND_WRITE = 2, /* opened with FMODE_WRITE (includes O_RDWR, creat, O_TRUNC) */
	AC_KIND_EXEC = 3,  /* execve'd (bprm): the program or its interpreter */
	AC_KIND_MMAP = 4,  /* mmap'ed with PROT_EXEC: shared libraries, extension modules */
	AC_KIND_MAX = 5,
};

/* ac_hdr.flags */
#define AC_F_PATH_TRUNC (1u << 0) /* path longer than AC_PATH_MAX or deeper than the walk bound */
#define AC_F_PATH_REL (1u << 1)   /* path is relative: name as the task gave it (no dentry) */
#define AC_F_UNLINKED (1u << 2)   /* the dentry was already unlinked when seen */
#define AC_F_CREATED (1u << 3)    /* the open created the file (FMODE_CREATED) */
#define AC_F_TRUNCATED (1u << 4)  /* opened with O_TRUNC */
#define AC_F_LINK (1u << 5)	  /* AC_REC_RENAME: a new name added (link), the old one stays */
#define AC_F_RECEIVED (1u << 6)	  /* AC_REC_FILE: a file received over a Unix socket */

/* ac_hdr.backend: which program family produced the record */
enum ac_backend {
	AC_BACKEND_LSM = 1,
	AC_BACKEND_TRACEPOINT = 2,
};

struct ac_hdr {
	__u32 type;    /* enum ac_rec_type */
	__u32 flags;   /* AC_F_* */
	__u32 size;    /* bytes of the whole record, header and the used part of path included */
	__u16 backend; /* enum ac_backend */
	__u16 cpu;
	__u64 ktime; /* bpf_ktime_get_boot_ns() */
};

/* Identifies a process for its whole life: (tgid, start_time), never the pid alone. */
struct ac_task {
	__u32 pid;  /* thread id */
	__u32 tgid; /* process id */
	__u64 start_time; /* task->group_leader->start_boottime, ns */
	__u64 cgroup_id;  /* cgroup v2 id of the task */
	__u32 uid;
	__u32 ppid; /* parent's tgid */
	char comm[AC_COMM_LEN];
	__u64 scope; /* the scope entry (cgroup v2 id) the task fell under: the run of the record */
};

struct ac_file {
	struct ac_hdr hdr;
	struct ac_task task;
	__u64 dev; /* kernel dev_t of the superblock: MAJOR << 20 | MINOR */
	__u64 ino;
	__u64 size;
	__s64 mtime_ns;
	__s64 ctime_ns;
	__u64 i_version;
	__u32 kind;  /* enum ac_kind */
	__u32 fmode; /* file->f_mode (FMODE_*), 0 for exec */
	__u32 magic; /* superblock s_magic: lets policy drop pseudo filesystems */
	__s32 fd;    /* fd the task got, -1 when not known (LSM hooks run before fd install) */
	__u32 path_len; /* bytes in path, NUL included */
	__u32 i_generation; /* with (dev, ino): a new file that reuses a freed inode number differs */
	char path[AC_PATH_MAX]; /* only path_len bytes are sent */
};

struct ac_rename {
	struct ac_hdr hdr;
	struct ac_task task;
	__u64 dev; /* the moved inode, 0 when the backend cannot see it */
	__u64 ino;
	__u32 name_len; /* bytes in name, NUL included */
	__u32 path_len; /* bytes in path, NUL included */
	char name[AC_NAME_MAX]; /* new name: absolute, or relative to path when AC_F_PATH_REL */
	char path[AC_PATH_MAX]; /* directory the new name is relative to (absolute) */
};

struct ac_proc {
	struct ac_hdr hdr;
	struct ac_task task;
	__u32 child_tgid; /* AC_REC_FORK: the new process */
	__s32 exit_code;  /* AC_REC_EXIT: task->exit_code */
	__u64 child_start_time;
};

/* Per-CPU counters (map "stats", one __u64 each); summed by the collector. */
enum ac_stat {
	AC_STAT_EVENTS = 0,     /* records submitted */
	AC_STAT_RB_DROPS = 1,   /* failed ring-buffer reservations: events lost */
	AC_STAT_PATH_TRUNC = 2, /* paths cut at AC_PATH_MAX or the walk bound */
	AC_STAT_DEDUP_HITS = 3, /* accesses suppressed by the in-kernel de-duplication */
	AC_STAT_ERRORS = 4,     /* CO-RE reads or map updates that failed */
	AC_STAT_SCRATCH_BUSY = 5, /* accesses lost: every scratch buffer of the CPU was taken */
	AC_STAT_MAX = 8,
};

/*
 * Key and value of the in-kernel de-duplication map (LRU hash). name is the dentry the file was
 * reached through: a second name of a hard-linked file is reported once too, not dropped as a
 * re-open of the same inode.
 */
struct ac_dedup_key {
	__u64 scope; /* cgroup id of the run */
	__u64 dev;
	__u64 ino;
	__u32 kind;
	__u32 _pad;
	__u64 name; /* struct dentry *, 0 when not known */
};

struct ac_dedup_val {
	__u64 size;
	__s64 mtime_ns;
	__s64 ctime_ns;
	__u64 i_version;
	__u32 i_generation; /* a new file reusing a freed inode number differs here */
	__u32 _pad;
};

#endif /* AICERT_ACCESS_H */
