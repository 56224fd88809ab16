// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * access_tp.bpf.c - the tracepoint backend, for kernels where BPF LSM programs cannot load. Files
 * are seen after the syscall succeeded, through the task's fd table; paths are rebuilt from the
 * dentries and mounts (access.bpf.h).
 */
#define AC_BACKEND AC_BACKEND_TRACEPOINT
#include "access.bpf.h"

/* rename or link: what sys_enter saw, used at sys_exit when the call succeeded */
struct ac_rename_arg {
	const char *newname;
	__u64 scope; /* ac_scope() at sys_enter */
	__s32 newdfd;
	__u32 flags; /* AC_F_LINK for link, linkat */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ac_rename_arg);
} rename_args SEC(".maps");

/* Direct loads through the BTF task pointer: far cheaper than a probe read per step. */
static __always_inline struct file *ac_fd_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_core_read(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* 6.2+: types a pointer read from the fd table, so the file and inode can be read directly */
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;

static __always_inline int ac_open_exit(long ret, int cast)
{
	struct ac_scratch *s;
	struct file *file;
	__u64 scope_id;

	if (ret < 0)
		return 0;
	scope_id = ac_scope();
	if (!scope_id)
		return 0;
	file = ac_fd_file(ret);
	if (!file)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	if (cast)
		ac_file_emit_btf(s, scope_id,
				 bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file)),
				 AC_KIND_READ, ret, 0);
	else
		ac_file_emit(s, scope_id, file, AC_KIND_READ, ret);
	ac_scratch_put(s);
	return 0;
}

/*
 * Each open exit comes twice: X_cast for kernels with bpf_rdonly_cast, X for older ones.
 * Userspace loads one of the two (userspace/trace/access.c).
 */
#define AC_OPEN_EXIT(name)                                                                         \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int ac_exit_##name(struct trace_event_raw_sys_exit *ctx)                                   \
	{                                                                                          \
		return ac_open_exit(ctx->ret, 0);                                                  \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int ac_exit_##name##_cast(struct trace_event_raw_sys_exit *ctx)                            \
	{                                                                                          \
		return ac_open_exit(ctx->ret, 1);                                                  \
	}

AC_OPEN_EXIT(open)
AC_OPEN_EXIT(openat)
AC_OPEN_EXIT(openat2)
AC_OPEN_EXIT(creat)

SEC("tracepoint/syscalls/sys_enter_mmap")
int ac_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	struct ac_scratch *s;
	__u64 scope_id;

	/* int arguments arrive without sign extension in the upper half of the register */
	int fd = (int)ctx->args[4];

	/* the kernel ignores fd for an anonymous mapping: it need not even be -1 */
	if (!(ctx->args[2] & AC_PROT_EXEC) || (ctx->args[3] & AC_MAP_ANONYMOUS) || fd < 0)
		return 0;
	scope_id = ac_scope();
	if (!scope_id)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_file_emit(s, scope_id, ac_fd_file(fd), AC_KIND_MMAP, fd);
	ac_scratch_put(s);
	return 0;
}

/*
 * A #! script: bprm->file is the interpreter by now and the script's file is closed, so the
 * script is reported by the name exec was given, made absolute with the cwd. No inode: no dedup.
 */
static __always_inline void ac_exec_script(struct ac_scratch *s, __u64 scope_id, const char *name)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ac_file *f = &s->f;
	__u32 off = 0;
	char first = 0;
	long n;

	ac_hdr_fill(&f->hdr, AC_REC_FILE);
	ac_task_fill(&f->task, scope_id);
	f->dev = f->ino = f->size = f->i_version = 0;
	f->mtime_ns = f->ctime_ns = 0;
	f->kind = AC_KIND_EXEC;
	f->fmode = f->magic = 0;
	f->fd = -1;
	f->i_generation = 0;
	bpf_probe_read_kernel(&first, 1, name);
	if (first != '/') {
		off = ac_path_walk(s, f->path, BPF_CORE_READ(task, fs, pwd.dentry),
				   BPF_CORE_READ(task, fs, pwd.mnt), &f->hdr.flags) -
		      1;
		if (off > 1)
			f->path[off++ & (AC_PATH_MAX - 1)] = '/';
		else
			off = 1;
		/* appended names are bounded by the slack after the path buffer */
		n = bpf_probe_read_kernel_str(&f->path[off & (AC_PATH_MAX - 1)], AC_NAME_MASK + 1,
					      name);
		if (n == AC_NAME_MASK + 1 || off + n > AC_PATH_MAX) {
			f->hdr.flags |= AC_F_PATH_TRUNC;
			ac_stat_inc(AC_STAT_PATH_TRUNC);
		}
	} else {
		n = bpf_probe_read_kernel_str(f->path, AC_PATH_MAX, name);
		if (n == AC_PATH_MAX) {
			f->hdr.flags |= AC_F_PATH_TRUNC;
			ac_stat_inc(AC_STAT_PATH_TRUNC);
		}
	}
	if (n <= 0)
		return;
	off += n;
	if (off > AC_PATH_MAX) {
		off = AC_PATH_MAX;
		f->path[AC_PATH_MAX - 1] = 0;
	}
	f->path_len = off;
	ac_submit(f, offsetof(struct ac_file, path) + off, sizeof(*f));
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ac_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 scope_id = ac_scope();
	const char *filename, *interp;
	struct ac_scratch *s;

	if (!scope_id)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	/* one buffer for all three records: each is sent before the next is built */
	ac_proc_emit(s, scope_id, AC_REC_EXEC, 0, 0);
	ac_file_emit(s, scope_id, BPF_CORE_READ(bprm, file), AC_KIND_EXEC, -1);
	/* binfmt_script replaces interp with a copy of the interpreter's name */
	filename = BPF_CORE_READ(bprm, filename);
	interp = BPF_CORE_READ(bprm, interp);
	if (filename && interp && filename != interp)
		ac_exec_script(s, scope_id, filename);
	ac_scratch_put(s);
	return 0;
}

static __always_inline int ac_rename_enter(const char *newname, long newdfd, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ac_rename_arg arg = {
	    .newname = newname, .scope = ac_scope(), .newdfd = newdfd, .flags = flags};

	if (!arg.scope)
		return 0;
	if (bpf_map_update_elem(&rename_args, &id, &arg, BPF_ANY))
		ac_stat_inc(AC_STAT_ERRORS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_rename")
int ac_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	return ac_rename_enter((const char *)ctx->args[1], AC_AT_FDCWD, 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int ac_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	return ac_rename_enter((const char *)ctx->args[3], (int)ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int ac_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	return ac_rename_enter((const char *)ctx->args[3], (int)ctx->args[2], 0);
}

/* link(old, new) and linkat(olddfd, old, newdfd, new, flags): a name added, as for rename */
SEC("tracepoint/syscalls/sys_enter_link")
int ac_enter_link(struct trace_event_raw_sys_enter *ctx)
{
	return ac_rename_enter((const char *)ctx->args[1], AC_AT_FDCWD, AC_F_LINK);
}

SEC("tracepoint/syscalls/sys_enter_linkat")
int ac_enter_linkat(struct trace_event_raw_sys_enter *ctx)
{
	return ac_rename_enter((const char *)ctx->args[3], (int)ctx->args[2], AC_F_LINK);
}

/* Directory a relative new name is resolved against: the cwd, or the file open at dirfd. */
static __always_inline __u32 ac_rename_dir(struct ac_scratch *s, long dfd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ac_rename *r = &s->r;
	struct file *dir;

	if (dfd == AC_AT_FDCWD)
		return ac_path_walk(s, r->path, BPF_CORE_READ(task, fs, pwd.dentry),
				    BPF_CORE_READ(task, fs, pwd.mnt), &r->hdr.flags);
	dir = ac_fd_file(dfd);
	if (!dir)
		return 0;
	return ac_path_walk(s, r->path, BPF_CORE_READ(dir, f_path.dentry),
			    BPF_CORE_READ(dir, f_path.mnt), &r->hdr.flags);
}

/* The record for a rename that succeeded, in s. */
static __always_inline void ac_rename_send(struct ac_scratch *s, const struct ac_rename_arg *arg)
{
	struct ac_rename *r = &s->r;
	__u32 path_len = 0;
	long n;

	ac_hdr_fill(&r->hdr, AC_REC_RENAME);
	r->hdr.flags = arg->flags;
	ac_task_fill(&r->task, arg->scope);
	r->dev = r->ino = 0;
	/* all of name[] is sent: no bytes of an earlier record after the NUL */
	__builtin_memset(r->name, 0, sizeof(r->name));
	n = bpf_probe_read_user_str(r->name, sizeof(r->name), arg->newname);
	if (n <= 0)
		return;
	if (n == sizeof(r->name)) {
		r->hdr.flags |= AC_F_PATH_TRUNC;
		ac_stat_inc(AC_STAT_PATH_TRUNC);
	}
	r->name_len = n;
	if (r->name[0] != '/') {
		r->hdr.flags |= AC_F_PATH_REL;
		path_len = ac_rename_dir(s, arg->newdfd);
		if (path_len > AC_PATH_MAX)
			path_len = AC_PATH_MAX;
	}
	r->path_len = path_len;
	ac_submit(r, offsetof(struct ac_rename, path) + path_len, sizeof(*r));
}

static __always_inline int ac_rename_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ac_rename_arg *arg = bpf_map_lookup_elem(&rename_args, &id);
	struct ac_scratch *s;

	if (!arg)
		return 0;
	if (ret >= 0) {
		s = ac_scratch_get();
		if (s) {
			ac_rename_send(s, arg);
			ac_scratch_put(s);
		}
	}
	bpf_map_delete_elem(&rename_args, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_rename")
int ac_exit_rename(struct trace_event_raw_sys_exit *ctx)
{
	return ac_rename_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_renameat")
int ac_exit_renameat(struct trace_event_raw_sys_exit *ctx)
{
	return ac_rename_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_renameat2")
int ac_exit_renameat2(struct trace_event_raw_sys_exit *ctx)
{
	return ac_rename_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_link")
int ac_exit_link(struct trace_event_raw_sys_exit *ctx)
{
	return ac_rename_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_linkat")
int ac_exit_linkat(struct trace_event_raw_sys_exit *ctx)
{
	return ac_rename_exit(ctx->ret);
}
