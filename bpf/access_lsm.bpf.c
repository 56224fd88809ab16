// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * access_lsm.bpf.c - the BPF LSM backend: files are seen in the security hooks, before the
 * access, whatever syscall led there. aicert observes only: every hook passes an earlier
 * program's verdict through and otherwise allows.
 */
#define AC_BACKEND AC_BACKEND_LSM
#include "access.bpf.h"

#define AC_FMODE_EXEC_FLAG 0x20 /* __FMODE_EXEC in f_flags: the open done by execve itself */
#define AC_VM_EXEC 0x4

static __always_inline void ac_open_emit(struct ac_scratch *s, __u64 scope_id, struct file *file)
{
	long len;

	if (ac_file_begin_btf(s, scope_id, file, AC_KIND_READ, -1))
		return;
	/* d_path appends " (deleted)" to unlinked names: the walk gives the plain name */
	if (ac_d_unhashed(BPF_CORE_READ(file, f_path.dentry))) {
		s->f.hdr.flags |= AC_F_UNLINKED;
		len = -1;
	} else {
		len = bpf_d_path((struct path *)&file->f_path, s->f.path, AC_PATH_MAX);
	}
	if (len <= 0)
		len = ac_file_path(s, file, &s->f.hdr.flags);
	ac_file_send(s, scope_id, len);
}

SEC("lsm/file_open")
int BPF_PROG(ac_file_open, struct file *file, int ret)
{
	struct ac_scratch *s;
	__u64 scope_id;

	if (ret)
		return ret;
	scope_id = ac_scope();
	if (!scope_id)
		return 0;
	/* execve's own open is reported as EXEC by bprm_check_security */
	if ((file->f_flags | file->f_mode) & AC_FMODE_EXEC_FLAG)
		return 0;
	/* taken before de-duplication: an access lost here leaves no dedup entry behind */
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_open_emit(s, scope_id, file);
	ac_scratch_put(s);
	return 0;
}

/* Runs once per binfmt round: for a #! script, first the script, then its interpreter. */
SEC("lsm/bprm_check_security")
int BPF_PROG(ac_bprm_check, struct linux_binprm *bprm, int ret)
{
	struct ac_scratch *s;
	__u64 scope_id;

	if (ret)
		return ret;
	scope_id = ac_scope();
	if (!scope_id)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_file_emit(s, scope_id, BPF_CORE_READ(bprm, file), AC_KIND_EXEC, -1);
	ac_scratch_put(s);
	return 0;
}

/* The record of a hook that hands over the file (a BTF pointer): mmap, mprotect, receive. */
static __always_inline int ac_hook_file(struct file *file, __u32 kind, __u32 flags)
{
	struct ac_scratch *s;
	__u64 scope_id;

	scope_id = ac_scope();
	if (!scope_id)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_file_emit_btf(s, scope_id, file, kind, -1, flags);
	ac_scratch_put(s);
	return 0;
}

SEC("lsm/mmap_file")
int BPF_PROG(ac_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	if (ret)
		return ret;
	if (!file || !(prot & AC_PROT_EXEC))
		return 0;
	return ac_hook_file(file, AC_KIND_MMAP, 0);
}

/*
 * A file mapped without PROT_EXEC and made executable later: code mmap_file did not see. Runs
 * with the task's mmap_lock held for writing, so nothing here may fault on user memory (no
 * user reads at all) or sleep: the same record as mmap_file, built the same way.
 */
SEC("lsm/file_mprotect")
int BPF_PROG(ac_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot, int ret)
{
	struct file *file;

	if (ret)
		return ret;
	if (!(prot & AC_PROT_EXEC) || (vma->vm_flags & AC_VM_EXEC))
		return 0;
	file = vma->vm_file;
	if (!file)
		return 0;
	return ac_hook_file(file, AC_KIND_MMAP, 0);
}

/*
 * A file descriptor received over a Unix socket (SCM_RIGHTS, also pidfd_getfd): the file may
 * have been opened outside the run. bpf_d_path is not allowed in this hook: the path is walked.
 */
SEC("lsm/file_receive")
int BPF_PROG(ac_file_receive, struct file *file, int ret)
{
	if (ret)
		return ret;
	return ac_hook_file(file, AC_KIND_READ, AC_F_RECEIVED);
}

static __always_inline void ac_rename_emit(struct ac_scratch *s, __u64 scope_id,
					   struct dentry *old_dentry, const struct path *new_dir,
					   struct dentry *new_dentry, __u32 flags)
{
	struct ac_rename *r = &s->r;
	struct inode *inode;
	const unsigned char *name;
	__u32 path_len;
	long n;

	ac_hdr_fill(&r->hdr, AC_REC_RENAME);
	r->hdr.flags = AC_F_PATH_REL | flags;
	ac_task_fill(&r->task, scope_id);
	inode = BPF_CORE_READ(old_dentry, d_inode);
	r->dev = inode ? BPF_CORE_READ(inode, i_sb, s_dev) : 0;
	r->ino = inode ? BPF_CORE_READ(inode, i_ino) : 0;
	name = BPF_CORE_READ(new_dentry, d_name.name);
	/* all of name[] is sent: no bytes of an earlier record after the NUL */
	__builtin_memset(r->name, 0, sizeof(r->name));
	n = bpf_probe_read_kernel_str(r->name, sizeof(r->name), name);
	if (n <= 0)
		return;
	r->name_len = n;
	path_len = ac_path_walk(s, r->path, BPF_CORE_READ(new_dir, dentry),
				BPF_CORE_READ(new_dir, mnt), &r->hdr.flags);
	if (path_len > AC_PATH_MAX)
		path_len = AC_PATH_MAX;
	r->path_len = path_len;
	ac_submit(r, offsetof(struct ac_rename, path) + path_len, sizeof(*r));
}

/* The record of path_rename and path_link: flags 0 or AC_F_LINK. */
static __always_inline int ac_hook_rename(struct dentry *old_dentry, const struct path *new_dir,
					  struct dentry *new_dentry, __u32 flags)
{
	__u64 scope_id = ac_scope();
	struct ac_scratch *s;

	if (!scope_id)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_rename_emit(s, scope_id, old_dentry, new_dir, new_dentry, flags);
	ac_scratch_put(s);
	return 0;
}

/* Seen before the rename happens: a rename that then fails is still reported. */
SEC("lsm/path_rename")
int BPF_PROG(ac_path_rename, const struct path *old_dir, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	if (ret)
		return ret;
	return ac_hook_rename(old_dentry, new_dir, new_dentry, 0);
}

/*
 * A new name for a file (link, linkat, an O_TMPFILE published with linkat), seen before the
 * link is made: the collector keeps the name only if it holds the file at run end.
 */
SEC("lsm/path_link")
int BPF_PROG(ac_path_link, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	return ac_hook_rename(old_dentry, new_dir, new_dentry, AC_F_LINK);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ac_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 scope_id = ac_scope();
	struct ac_scratch *s;

	if (!scope_id)
		return 0;
	s = ac_scratch_get();
	if (!s)
		return 0;
	ac_proc_emit(s, scope_id, AC_REC_EXEC, 0, 0);
	ac_scratch_put(s);
	return 0;
}
