// SPDX-License-Identifier: BSD-2-Clause
/*
 * collector.c - from ring-buffer records to measurements.
 *
 * Inputs (read, exec, mmap) are hashed as soon as they are seen, because the run may change or
 * delete them later; the in-kernel de-duplication reports a file again when it changed, so each
 * distinct content gets its own measurement. Outputs are only noted when opened for writing and
 * hashed at run end under their final names: the inode table follows renames, so the usual
 * "write model.pt.tmp, rename to model.pt" pattern is measured as model.pt. Rename records name
 * only the moved inode and its new name, so a renamed directory is remembered and, at run end, an
 * output missing under its old name is looked for below it. A link record adds a name to a written
 * inode (an O_TMPFILE published with linkat, "write tmp; link tmp final; unlink tmp"): at run end
 * the file is measured under each of its names that still holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <access.h> /* include/access.h, the records (not this file) */
#include "lib/hex.h"
#include "lib/log.h"
#include "trace/collector.h"
#include "trace/elfinterp.h"
#include "trace/hashpool.h"

#define DELETED_SUFFIX " (deleted)"
#define MAX_DIR_RENAMES 4096
#define MAX_ALIASES 32 /* names kept per written inode besides its latest one */
#define MAX_INTERPS 64 /* distinct ELF interpreters recorded (tracepoint backend) */
/* stat() calls spent looking for outputs in renamed directories at run end (a few seconds) */
#define DIR_LOOKUP_BUDGET (1u << 20)

/* Another name of a written inode: a link the run made, or a name a rename replaced. */
struct alias {
	struct alias *next;
	char path[];
};

struct inode_ent {
	uint64_t dev, ino;
	uint32_t gen;	     /* i_generation, 0 when not known */
	char *path;	     /* latest name the run used; for outputs, the name renames led to */
	struct alias *alias; /* its other names: each one still holding the inode is measured */
	int written;	     /* opened for writing by the run */
	int cut;	     /* path is a name the kernel cut (AC_F_PATH_TRUNC) */
	int32_t pid, fd;     /* the latest writer, and its fd when the record had one */
	int next;	     /* hash chain */
};

struct meas {
	char *path;
	uint8_t sha256[32];
	enum hash_status status;
	int err;
	uint64_t size;
	unsigned roles;
	unsigned cut : 1;
	unsigned derived : 1; /* found by reading an executable (its ELF interpreter) */
};

/* The new name of a renamed directory: outputs written below its old name are looked up there. */
struct dir_rename {
	char *path;
	uint64_t dev, ino;
	int live; /* at run end, path still names this directory */
};

struct job_ctx {
	struct collector *c;
	unsigned roles;
	int cut, derived;
	char path[]; /* the name for the BOM (the job may hash via /proc/pid/fd) */
};

struct collector {
	struct collector_opts opts;
	struct hashpool *pool;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	uint64_t pending; /* submitted jobs whose callback has not finished */
	struct inode_ent *ents;
	size_t nents, cap_ents;
	int *heads;
	size_t nheads; /* power of two */
	struct meas *meas;
	size_t nmeas, cap_meas;
	struct dir_rename *dirs; /* renames of directories the table does not know */
	size_t ndirs, cap_dirs;
	int dirs_full;
	size_t dir_budget;
	char *interps[MAX_INTERPS]; /* ELF interpreters already submitted */
	size_t ninterps;
	struct collector_stats st;
	int oom;
};

uint64_t collector_dev_from_kernel(uint64_t kdev)
{
	return makedev((unsigned)(kdev >> 20), (unsigned)(kdev & 0xfffff));
}

static size_t ino_hash(uint64_t dev, uint64_t ino, size_t n)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ull) ^ (dev * 0xc2b2ae3d27d4eb4full);

	return (size_t)(h ^ (h >> 29)) & (n - 1);
}

static int rehash(struct collector *c, size_t nheads)
{
	int *heads = malloc(nheads * sizeof(*heads));

	if (!heads)
		return -ENOMEM;
	for (size_t i = 0; i < nheads; i++)
		heads[i] = -1;
	for (size_t i = 0; i < c->nents; i++) {
		size_t h = ino_hash(c->ents[i].dev, c->ents[i].ino, nheads);

		c->ents[i].next = heads[h];
		heads[h] = (int)i;
	}
	free(c->heads);
	c->heads = heads;
	c->nheads = nheads;
	return 0;
}

static struct inode_ent *ino_find(struct collector *c, uint64_t dev, uint64_t ino)
{
	for (int i = c->heads[ino_hash(dev, ino, c->nheads)]; i >= 0; i = c->ents[i].next)
		if (c->ents[i].dev == dev && c->ents[i].ino == ino)
			return &c->ents[i];
	return NULL;
}

/*
 * The entry of a written inode, made when new. A freed inode number that the filesystem gives to a
 * new file (ext4 does, at once) has another generation: the new file gets its own entry, inserted
 * in front so that later records find it, and the old one keeps its own name ("write tmp; unlink"
 * then another tmp file: two files, not one renamed). gen 0: not known, matches any.
 */
static struct inode_ent *ino_get(struct collector *c, uint64_t dev, uint64_t ino, uint32_t gen,
				 const char *path)
{
	struct inode_ent *e = ino_find(c, dev, ino);
	size_t h;

	if (e && (!gen || !e->gen || e->gen == gen)) {
		if (!e->gen)
			e->gen = gen;
		return e;
	}
	if (c->nents == c->cap_ents) {
		size_t cap = c->cap_ents ? 2 * c->cap_ents : 1024;
		struct inode_ent *n = realloc(c->ents, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->ents = n;
		c->cap_ents = cap;
	}
	if (c->nents + 1 > c->nheads / 2 * 3 / 2 && rehash(c, c->nheads * 2))
		return NULL;
	e = &c->ents[c->nents];
	memset(e, 0, sizeof(*e));
	e->dev = dev;
	e->ino = ino;
	e->gen = gen;
	e->fd = -1;
	e->path = strdup(path);
	if (!e->path)
		return NULL;
	h = ino_hash(dev, ino, c->nheads);
	e->next = c->heads[h];
	c->heads[h] = (int)c->nents++;
	return e;
}

static int meas_add(struct collector *c, const char *path, const struct hash_result *r,
		    unsigned roles, int cut, int derived)
{
	struct meas *m;

	if (c->nmeas == c->cap_meas) {
		size_t cap = c->cap_meas ? 2 * c->cap_meas : 1024;
		struct meas *n = realloc(c->meas, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->meas = n;
		c->cap_meas = cap;
	}
	m = &c->meas[c->nmeas];
	m->path = strdup(path);
	if (!m->path)
		return -ENOMEM;
	memcpy(m->sha256, r->sha256, sizeof(m->sha256));
	m->status = r->status;
	m->err = r->err;
	m->size = r->size;
	m->roles = roles;
	m->cut = !!cut;
	m->derived = !!derived;
	c->nmeas++;
	return 0;
}

static const char *hash_why(const struct hash_result *res)
{
	switch (res->status) {
	case HASH_VANISHED:
		return "it vanished before it could be hashed";
	case HASH_CHANGED:
		return "it changed while being hashed";
	case HASH_REPLACED:
		return "the name now refers to another file";
	case HASH_NOT_REGULAR:
		return "not a regular file";
	case HASH_NO_NAME:
		return "the kernel cut its name and no process of the run holds it any more";
	default:
		return strerror(res->err);
	}
}

static void on_hashed(const struct hash_job *job, const struct hash_result *res, void *ctx)
{
	struct job_ctx *jc = job->ctx;
	struct collector *c = jc->c;

	pthread_mutex_lock(&c->lock);
	if (meas_add(c, jc->path, res, jc->roles, jc->cut, jc->derived))
		c->oom = 1;
	/* a temporary output deleted before run end is no failure to measure */
	if (res->status != HASH_OK &&
	    !(res->status == HASH_VANISHED && (jc->roles & BOM_ROLE_OUTPUT))) {
		c->st.unhashed++;
		log_warn("cannot measure %s: %s", jc->path, hash_why(res));
	}
	if (res->cached)
		c->st.cache_hits++;
	c->st.bytes_hashed += res->bytes_hashed;
	if (--c->pending == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	free(jc);
}

/* Called with c->lock held. */
static void submit_as(struct collector *c, const char *path, uint64_t dev, uint64_t ino,
		      int32_t pid, int32_t fd, unsigned roles, int cut, int derived)
{
	size_t len = strlen(path) + 1;
	struct job_ctx *jc = malloc(sizeof(*jc) + len);
	struct hash_job job = {
	    .path = path,
	    .expect_dev = dev,
	    .expect_ino = ino,
	    .pid = pid,
	    .fd = fd,
	    .path_cut = cut,
	};

	if (!jc) {
		c->oom = 1;
		return;
	}
	memcpy(jc->path, path, len);
	jc->c = c;
	jc->roles = roles;
	jc->cut = cut;
	jc->derived = derived;
	job.ctx = jc;
	c->pending++;
	if (hashpool_submit(c->pool, &job)) {
		c->pending--;
		c->oom = 1;
		free(jc);
	}
}

static void submit(struct collector *c, const char *path, uint64_t dev, uint64_t ino, int32_t pid,
		   int32_t fd, unsigned roles, int cut)
{
	submit_as(c, path, dev, ino, pid, fd, roles, cut, 0);
}

/* A relative name (a #! script run by a relative path) is made absolute with the task's cwd. */
static int absolute(const char *path, uint32_t tgid, char *out, size_t outlen)
{
	char link[64], cwd[PATH_MAX];
	ssize_t n;

	if (path[0] == '/')
		return snprintf(out, outlen, "%s", path) < (int)outlen ? 0 : -1;
	snprintf(link, sizeof(link), "/proc/%u/cwd", tgid);
	n = readlink(link, cwd, sizeof(cwd));
	/* readlink truncates silently: a full buffer may be a cut name */
	if (n <= 0 || (size_t)n >= sizeof(cwd))
		return -1;
	cwd[n] = '\0';
	return snprintf(out, outlen, "%s/%s", cwd, path) < (int)outlen ? 0 : -1;
}

static unsigned kind_role(uint32_t kind)
{
	switch (kind) {
	case AC_KIND_READ:
		return BOM_ROLE_INPUT;
	case AC_KIND_WRITE:
		return BOM_ROLE_OUTPUT;
	case AC_KIND_EXEC:
		return BOM_ROLE_EXECUTABLE;
	case AC_KIND_MMAP:
		return BOM_ROLE_LIBRARY;
	}
	return 0;
}

static int same_inode(const struct stat *st, uint64_t dev, uint64_t ino)
{
	return (uint64_t)st->st_dev == dev && (uint64_t)st->st_ino == ino;
}

/*
 * d_path appends " (deleted)" to the name of an unlinked file. The BPF side marks the unlinked
 * files it sees, but one unlinked between its check and d_path is not marked, so an unmarked
 * suffix is only kept when the name really holds the record's file.
 */
static void strip_deleted(char *path, const struct ac_file *f, uint64_t dev)
{
	size_t n = strlen(path), sl = strlen(DELETED_SUFFIX);
	struct stat st;

	if (n <= sl || strcmp(path + n - sl, DELETED_SUFFIX))
		return;
	if (!(f->hdr.flags & AC_F_UNLINKED) && !hash_stat(path, &st, 0) &&
	    (!f->ino || same_inode(&st, dev, f->ino)))
		return;
	path[n - sl] = '\0';
}

static void output_gone(struct collector *c, const char *path)
{
	struct hash_result r = {.status = HASH_VANISHED, .err = ENOENT};

	if (meas_add(c, path, &r, BOM_ROLE_OUTPUT, 0, 0))
		c->oom = 1;
}

static void note_write(struct collector *c, int32_t pid, int32_t fd, const char *path, uint64_t dev,
		       uint64_t ino, uint32_t gen, int cut)
{
	struct hash_result none = {.status = HASH_NO_NAME};
	struct inode_ent *e;
	struct stat st;

	/* a record without the inode (none today; kept for other backends): the name tells it */
	if (!ino && cut) {
		/* nothing identifies the file */
		c->st.outputs++;
		c->st.unhashed++;
		if (meas_add(c, path, &none, BOM_ROLE_OUTPUT, 1, 0))
			c->oom = 1;
		return;
	}
	if (!ino) {
		if (hash_stat(path, &st, 0)) {
			c->st.outputs++;
			output_gone(c, path);
			return;
		}
		dev = st.st_dev;
		ino = st.st_ino;
	}
	e = ino_get(c, dev, ino, gen, path);
	if (!e) {
		c->oom = 1;
		return;
	}
	/* the only way to a cut name's file at run end, if the writer still holds it */
	e->pid = pid;
	e->fd = fd;
	e->cut = cut;
	if (!e->written)
		c->st.outputs++;
	e->written = 1;
	if (strcmp(e->path, path)) {
		char *p = strdup(path);

		if (!p) {
			c->oom = 1;
			return;
		}
		free(e->path);
		e->path = p;
	}
}

/* The executable of an exec record, opened: by its name, or the process's own /proc/pid/exe. */
static int open_exec(const struct ac_file *f, const char *path, uint64_t dev)
{
	char link[64];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd >= 0 && (fstat(fd, &st) || !same_inode(&st, dev, f->ino))) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		return fd;
	snprintf(link, sizeof(link), "/proc/%u/exe", f->task.tgid);
	fd = open(link, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0 && (fstat(fd, &st) || !same_inode(&st, dev, f->ino))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * The kernel maps an ELF program's interpreter (ld-linux) inside execve, where no syscall
 * tracepoint sees it: it is read from the program's PT_INTERP instead and measured as a library,
 * marked derived. Each interpreter is submitted once per run; a process in another root (a
 * chroot, a container) gets none, since its PT_INTERP names a file of that root.
 */
static void exec_interp(struct collector *c, const struct ac_file *f, const char *path,
			uint64_t dev)
{
	char interp[PATH_MAX], real[PATH_MAX];
	const char *name = interp;
	char link[64], root[8];
	ssize_t n;
	int fd, r;

	/* PT_INTERP is resolved in the process's root: another root's ld-linux is not this one */
	snprintf(link, sizeof(link), "/proc/%u/root", f->task.tgid);
	n = readlink(link, root, sizeof(root));
	if (n > 0 && (n != 1 || root[0] != '/')) {
		log_debug("%s runs in another root: its ELF interpreter is not derived", path);
		return;
	}
	fd = open_exec(f, path, dev);
	if (fd < 0) {
		log_debug("cannot open %s to read its ELF interpreter", path);
		return;
	}
	r = elf_interp(fd, interp, sizeof(interp));
	close(fd);
	if (r < 0)
		log_warn("%s: broken ELF program header, its interpreter is not recorded", path);
	if (r <= 0 || interp[0] != '/')
		return;
	/* the name the kernel opened, symlinks resolved as the LSM backend reports it */
	if (realpath(interp, real))
		name = real;
	for (size_t i = 0; i < c->ninterps; i++)
		if (!strcmp(c->interps[i], name))
			return;
	if (c->ninterps == MAX_INTERPS)
		return;
	if (!(c->interps[c->ninterps] = strdup(name))) {
		c->oom = 1;
		return;
	}
	c->ninterps++;
	c->st.interps++;
	if (policy_excluded(c->opts.policy, name, 0)) {
		c->st.excluded++;
		return;
	}
	c->st.inputs++;
	submit_as(c, name, 0, 0, -1, -1, BOM_ROLE_LIBRARY, 0, 1);
}

static void on_file(struct collector *c, const struct ac_file *f)
{
	char path[AC_PATH_MAX + PATH_MAX];
	unsigned roles = kind_role(f->kind);
	uint64_t dev = collector_dev_from_kernel(f->dev);
	int cut = !!(f->hdr.flags & AC_F_PATH_TRUNC);

	if (!roles) {
		c->st.malformed++;
		return;
	}
	if (absolute(f->path, f->task.tgid, path, sizeof(path))) {
		/* the task is gone (its cwd with it) or the name does not fit */
		c->st.malformed++;
		log_debug("dropped %s of pid %u: cannot make it absolute", f->path, f->task.tgid);
		return;
	}
	/* a cut name is not looked up: it may name another file */
	if (!cut)
		strip_deleted(path, f, dev);
	if (policy_excluded(c->opts.policy, path, f->magic)) {
		c->st.excluded++;
		return;
	}
	if (f->kind == AC_KIND_WRITE) {
		note_write(c, (int32_t)f->task.tgid, f->fd, path, dev, f->ino, f->i_generation, cut);
		return;
	}
	if (f->kind == AC_KIND_EXEC)
		c->st.processes++;
	c->st.inputs++;
	/* an input is hashed now, by name (or the task's fd); no inode table entry is needed */
	submit(c, path, f->ino ? dev : 0, f->ino, (int32_t)f->task.tgid, f->fd, roles, cut);
	if (f->kind == AC_KIND_EXEC && f->hdr.backend == AC_BACKEND_TRACEPOINT && f->ino && !cut)
		exec_interp(c, f, path, dev);
}

static void note_dir_rename(struct collector *c, const char *path, uint64_t dev, uint64_t ino)
{
	struct dir_rename *d;
	char *p;

	/* renamed again: only its last name matters */
	for (size_t k = 0; k < c->ndirs; k++) {
		d = &c->dirs[k];
		if (d->dev != dev || d->ino != ino)
			continue;
		p = strdup(path);
		if (!p) {
			c->oom = 1;
			return;
		}
		free(d->path);
		d->path = p;
		return;
	}
	if (c->ndirs == MAX_DIR_RENAMES) {
		if (!c->dirs_full)
			log_warn("more than %d directories renamed: outputs moved with later ones "
				 "may be reported as deleted",
				 MAX_DIR_RENAMES);
		c->dirs_full = 1;
		return;
	}
	if (c->ndirs == c->cap_dirs) {
		size_t cap = c->cap_dirs ? 2 * c->cap_dirs : 16;

		d = realloc(c->dirs, cap * sizeof(*d));
		if (!d) {
			c->oom = 1;
			return;
		}
		c->dirs = d;
		c->cap_dirs = cap;
	}
	d = &c->dirs[c->ndirs];
	d->dev = dev;
	d->ino = ino;
	d->path = strdup(path);
	if (!d->path) {
		c->oom = 1;
		return;
	}
	c->ndirs++;
}

/* Another name of e besides e->path; the same name twice, or more than MAX_ALIASES, is not kept. */
static void alias_add(struct collector *c, struct inode_ent *e, const char *path)
{
	size_t n = 0, len = strlen(path) + 1;
	struct alias *a;

	for (a = e->alias; a; a = a->next, n++)
		if (!strcmp(a->path, path))
			return;
	if (n == MAX_ALIASES) {
		log_warn("more than %d names for %s: %s is not measured", MAX_ALIASES, e->path,
			 path);
		return;
	}
	a = malloc(sizeof(*a) + len);
	if (!a) {
		c->oom = 1;
		return;
	}
	memcpy(a->path, path, len);
	a->next = e->alias;
	e->alias = a;
}

static void on_rename(struct collector *c, const struct ac_rename *r)
{
	char path[AC_PATH_MAX + AC_NAME_MAX + 2];
	uint64_t dev = collector_dev_from_kernel(r->dev), ino = r->ino;
	int cut = !!(r->hdr.flags & AC_F_PATH_TRUNC);
	struct inode_ent *e;
	struct stat st;
	int known = 0;
	char *p;

	if (r->name[0] == '/' || !(r->hdr.flags & AC_F_PATH_REL))
		snprintf(path, sizeof(path), "%s", r->name);
	else if (r->path_len)
		snprintf(path, sizeof(path), "%s/%s", r->path, r->name);
	else
		path[0] = '\0';
	if (path[0] != '/') {
		/* the tracepoint backend could not resolve the directory fd */
		log_debug("rename to %s: directory unknown, not followed", r->name);
		return;
	}
	if (!ino) {
		/* the tracepoint backend cannot see the inode: the new name tells it, unless the
		 * run renamed it again meanwhile, which a later rename record then fixes; a cut
		 * name tells nothing */
		if (cut || hash_stat(path, &st, AT_SYMLINK_NOFOLLOW))
			return;
		dev = st.st_dev;
		ino = st.st_ino;
		known = 1;
	}
	e = ino_find(c, dev, ino);
	if (e && (r->hdr.flags & AC_F_LINK)) {
		/* a name added (an O_TMPFILE or a temporary published by link): both may hold it */
		c->st.links++;
		if (!cut && !e->cut && strcmp(e->path, path))
			alias_add(c, e, path);
		else if (!cut)
			goto rename; /* the cut name cannot be looked up: the new one can */
		return;
	}
	if (!e) {
		/* a directory: the outputs below it moved, and no record names them */
		if (!(r->hdr.flags & AC_F_LINK) && !cut &&
		    (known || !hash_stat(path, &st, AT_SYMLINK_NOFOLLOW)) && S_ISDIR(st.st_mode) &&
		    same_inode(&st, dev, ino))
			note_dir_rename(c, path, dev, ino);
		return;
	}
	c->st.renames++;
	/* one of several names moved, which one the record does not say: keep them all */
	if (e->alias && !e->cut && !cut && strcmp(e->path, path))
		alias_add(c, e, e->path);
rename:
	p = strdup(path);
	if (!p) {
		c->oom = 1;
		return;
	}
	free(e->path);
	e->path = p;
	e->cut = cut;
}

/* A NUL within the first n bytes of s: the string the BPF side sent fits what it said. */
static int str_ok(const char *s, size_t n)
{
	return n > 0 && memchr(s, '\0', n) != NULL;
}

static int file_ok(const struct ac_file *f, size_t len)
{
	size_t off = offsetof(struct ac_file, path);

	return len >= off && f->path_len <= len - off && str_ok(f->path, f->path_len);
}

/* The tracepoint backend sends no directory (path_len 0) for an absolute new name. */
static int rename_ok(const struct ac_rename *r, size_t len)
{
	size_t off = offsetof(struct ac_rename, path);

	return len >= off && r->name_len <= AC_NAME_MAX && str_ok(r->name, r->name_len) &&
	       r->path_len <= len - off && (r->path_len == 0 || str_ok(r->path, r->path_len));
}

void collector_on_record(const void *rec, size_t len, void *ctx)
{
	struct collector *c = ctx;
	const struct ac_hdr *h = rec;

	pthread_mutex_lock(&c->lock);
	c->st.records++;
	if (len < sizeof(*h) || h->size > len || h->size < sizeof(*h)) {
		c->st.malformed++;
		goto out;
	}
	/* what the BPF side said it sent; the ring buffer may round len up */
	len = h->size;
	switch (h->type) {
	case AC_REC_FILE:
		if (file_ok(rec, len))
			on_file(c, rec);
		else
			c->st.malformed++;
		break;
	case AC_REC_RENAME:
		if (rename_ok(rec, len))
			on_rename(c, rec);
		else
			c->st.malformed++;
		break;
	case AC_REC_EXEC:
	case AC_REC_FORK:
	case AC_REC_EXIT:
		break;
	default:
		c->st.malformed++;
	}
out:
	pthread_mutex_unlock(&c->lock);
}

/* The name /proc/<proc>/fd/<fd> gives, without the " (deleted)" of an unlinked file. */
static int fd_name(const char *proc, int fd, const struct stat *st, char *out, size_t len)
{
	size_t sl = strlen(DELETED_SUFFIX);
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%s/fd/%d", proc, fd);
	n = readlink(link, out, len);
	if (n <= 0 || (size_t)n >= len || out[0] != '/')
		return -1;
	out[n] = '\0';
	if (!st->st_nlink && (size_t)n > sl && !strcmp(out + n - sl, DELETED_SUFFIX))
		out[n - sl] = '\0';
	return 0;
}

/* The open flags of fd in /proc/<proc> (the "flags:" line of fdinfo, octal); -1 when unknown. */
static int fd_flags(const char *proc, int fd)
{
	char p[64], line[128];
	unsigned long fl;
	int ret = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%s/fdinfo/%d", proc, fd);
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %lo", &fl) == 1) {
			ret = (int)fl;
			break;
		}
	fclose(f);
	return ret;
}

/* stat(2) of the file behind fd in /proc/<proc>. */
static int fd_stat(const char *proc, int fd, struct stat *st)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%s/fd/%d", proc, fd);
	return stat(p, st);
}

/*
 * Called with c->lock held: fd, a regular file open in process pid with access mode acc. aicert's
 * own messages go to fd 2 after the run, so the file there (also when fd 1 is the same file,
 * "> log 2>&1") ends with content that is not the command's: it is no output.
 */
static void inherit(struct collector *c, int32_t pid, int fd, int acc, const struct stat *st,
		    const char *path, const struct stat *err)
{
	c->st.inherited++;
	if (policy_excluded(c->opts.policy, path, 0)) {
		c->st.excluded++;
		return;
	}
	if (acc == O_RDONLY || acc == O_RDWR) {
		c->st.inputs++;
		submit(c, path, st->st_dev, st->st_ino, pid, fd, BOM_ROLE_INPUT, 0);
	}
	if ((acc == O_WRONLY || acc == O_RDWR) && fd != 2 &&
	    !(err && err->st_dev == st->st_dev && err->st_ino == st->st_ino))
		note_write(c, pid, fd, path, st->st_dev, st->st_ino, 0, 0);
}

int collector_inherit_fds_of(struct collector *c, pid_t pid, int n)
{
	char path[PATH_MAX], proc[32], dir[64];
	int32_t holder = pid ? (int32_t)pid : (int32_t)getpid();
	struct stat st, err;
	int count = 0, has_err;

	if (pid < 0)
		return -EINVAL;
	if (pid)
		snprintf(proc, sizeof(proc), "%d", (int)pid);
	else
		snprintf(proc, sizeof(proc), "self");
	snprintf(dir, sizeof(dir), "/proc/%s/fd", proc);
	if (access(dir, R_OK | X_OK)) {
		int ret = -errno;

		log_err("cannot read the descriptors of process %d: %s", (int)holder,
			strerror(errno));
		return ret;
	}
	has_err = !fd_stat(proc, 2, &err);
	for (int fd = 0; fd < n; fd++) {
		int fl;

		if (fd_stat(proc, fd, &st) || !S_ISREG(st.st_mode))
			continue;
		fl = fd_flags(proc, fd);
		if (fl < 0 || (fl & O_PATH))
			continue;
		if (fd_name(proc, fd, &st, path, sizeof(path))) {
			log_warn("fd %d is a file without a name aicert can use: not recorded", fd);
			continue;
		}
		pthread_mutex_lock(&c->lock);
		inherit(c, holder, fd, fl & O_ACCMODE, &st, path, has_err ? &err : NULL);
		pthread_mutex_unlock(&c->lock);
		count++;
	}
	return count;
}

int collector_inherit_fds(struct collector *c, int n)
{
	return collector_inherit_fds_of(c, 0, n);
}

struct collector *collector_new(const struct collector_opts *opts)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	if (rehash(c, 4096))
		goto fail;
	c->pool = hashpool_new(opts->jobs, opts->cache, on_hashed, c);
	if (!c->pool)
		goto fail;
	return c;
fail:
	collector_free(c);
	return NULL;
}

/* Waits for the hash pool, printing progress every 2 s when asked to. */
static void wait_idle(struct collector *c, const char *what)
{
	struct timespec ts;

	pthread_mutex_lock(&c->lock);
	while (c->pending) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_cond_timedwait(&c->idle, &c->lock, &ts) == ETIMEDOUT &&
		    c->opts.progress)
			log_info("hashing %s: %llu files to go, %.1f MiB hashed so far", what,
				 (unsigned long long)c->pending,
				 (double)c->st.bytes_hashed / (1 << 20));
	}
	pthread_mutex_unlock(&c->lock);
}

static int meas_cmp(const void *a, const void *b)
{
	const struct meas *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	if (r)
		return r;
	if (x->cut != y->cut)
		return x->cut - y->cut;
	if (x->status != y->status)
		return (int)x->status - (int)y->status;
	return memcmp(x->sha256, y->sha256, sizeof(x->sha256));
}

static const char *status_text(const struct meas *m, char *buf, size_t len)
{
	/* with a digest when a process still held the very inode, else none */
	if (m->cut)
		return "path truncated";
	switch (m->status) {
	case HASH_OK:
		return NULL;
	case HASH_VANISHED:
		return (m->roles & BOM_ROLE_OUTPUT) ? "deleted before the run ended" : "vanished";
	case HASH_UNREADABLE:
		snprintf(buf, len, "unreadable: %s", strerror(m->err));
		return buf;
	case HASH_CHANGED:
		return "changed while hashing";
	case HASH_REPLACED:
		return "replaced";
	case HASH_NOT_REGULAR:
		return "not a regular file";
	case HASH_NO_NAME:
		return "path truncated";
	}
	return "unknown";
}

/* Equal (path, status, digest) measurements become one BOM entry with the union of roles. */
static int to_bom(struct collector *c, struct bom *bom, collector_measure_cb cb, void *cb_ctx)
{
	char hex[65], why[160];

	if (c->nmeas) /* qsort's array must not be NULL, even when empty */
		qsort(c->meas, c->nmeas, sizeof(*c->meas), meas_cmp);
	if (bom_reserve(bom, c->nmeas))
		return -ENOMEM;
	for (size_t i = 0; i < c->nmeas;) {
		struct meas *m = &c->meas[i];
		unsigned roles = 0, derived = 1;
		struct bom_file *f;
		const char *st;
		size_t j;

		/* derived only when no access of the run named the file itself */
		for (j = i; j < c->nmeas && !meas_cmp(m, &c->meas[j]); j++) {
			roles |= c->meas[j].roles;
			derived &= c->meas[j].derived;
		}
		m->roles = roles;
		if (m->status == HASH_OK)
			hex_encode(m->sha256, sizeof(m->sha256), hex);
		f = bom_add_file(bom, m->path, m->status == HASH_OK ? hex : NULL);
		if (!f)
			return -ENOMEM;
		f->size = m->size;
		f->roles = roles;
		f->derived = derived ? BOM_DERIVED_ELF_INTERP : BOM_DERIVED_NONE;
		f->category = strdup(policy_category(c->opts.policy, m->path));
		st = status_text(m, why, sizeof(why));
		f->status = st ? strdup(st) : NULL;
		if (!f->category || (st && !f->status))
			return -ENOMEM;
		if (cb)
			cb(f, cb_ctx);
		/* the BOM has its own copy: at most one copy of the names at a time */
		for (; i < j; i++) {
			free(c->meas[i].path);
			c->meas[i].path = NULL;
		}
	}
	free(c->meas);
	c->meas = NULL;
	c->nmeas = c->cap_meas = 0;
	return 0;
}

/* A directory renamed again, or removed, holds nothing under the name the record gave. */
static void dirs_check(struct collector *c)
{
	struct stat st;

	for (size_t k = 0; k < c->ndirs; k++) {
		struct dir_rename *d = &c->dirs[k];

		d->live = !hash_stat(d->path, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) &&
			  same_inode(&st, d->dev, d->ino);
	}
	c->dir_budget = DIR_LOOKUP_BUDGET;
}

/*
 * An output below a directory the run renamed later ("tmp-ckpt/w.bin", then tmp-ckpt -> ckpt)
 * still has its old name: rename records name only what moved. Try each renamed directory in
 * place of each ancestor of the old name, latest rename first; the inode decides. Each try is a
 * stat(), so a run that deleted many outputs and renamed many directories gets a bounded number.
 */
static int follow_dirs(struct collector *c, struct inode_ent *e)
{
	char cand[AC_PATH_MAX + PATH_MAX];
	struct stat st;

	if (!c->dir_budget)
		return 0;
	for (size_t k = c->ndirs; k-- > 0;) {
		const struct dir_rename *d = &c->dirs[k];

		if (!d->live || d->dev != e->dev)
			continue;
		for (const char *s = strrchr(e->path, '/'); s && s > e->path;) {
			char *p;

			if (--c->dir_budget == 0) {
				log_warn(
				    "too many outputs missing below renamed directories: the rest "
				    "are reported as deleted");
				return 0;
			}
			if (snprintf(cand, sizeof(cand), "%s%s", d->path, s) < (int)sizeof(cand) &&
			    !hash_stat(cand, &st, 0) && same_inode(&st, e->dev, e->ino)) {
				p = strdup(cand);
				if (!p)
					return -ENOMEM;
				free(e->path);
				e->path = p;
				return 1;
			}
			while (--s > e->path && *s != '/')
				;
		}
	}
	return 0;
}

/*
 * Where an output is at run end. Returns 1 to hash it by its name, 0 when the run itself removed
 * it (its name now holds another output of the run: "write ckpt.tmp, rename over ckpt" each
 * epoch), -ENOMEM.
 */
static int locate_output(struct collector *c, struct inode_ent *e)
{
	struct inode_ent *other;
	struct stat st;
	int found = !hash_stat(e->path, &st, 0), r;

	if (found && same_inode(&st, e->dev, e->ino))
		return 1;
	/* before "replaced": a directory name the run reuses ("tmp/", renamed each epoch) */
	r = follow_dirs(c, e);
	if (r)
		return r < 0 ? -ENOMEM : 1;
	other = found ? ino_find(c, st.st_dev, st.st_ino) : NULL;
	return other && other->written && !strcmp(other->path, e->path) ? 0 : 1;
}

/* 1 when path names e's inode now (symlinks followed, as hashing does). */
static int holds(const char *path, const struct inode_ent *e)
{
	struct stat st;

	return !hash_stat(path, &st, 0) && same_inode(&st, e->dev, e->ino);
}

/*
 * Submits e's other names that still hold it (none excluded by policy). Returns how many; when
 * one did, *skip says that its latest name need not be reported (it does not hold it).
 */
static size_t measure_aliases(struct collector *c, struct inode_ent *e, int *skip)
{
	size_t n = 0;

	*skip = 0;
	for (struct alias *a = e->alias; a; a = a->next) {
		if (policy_excluded(c->opts.policy, a->path, 0) || !holds(a->path, e))
			continue;
		submit(c, a->path, e->dev, e->ino, -1, -1, BOM_ROLE_OUTPUT, 0);
		n++;
	}
	if (n && (e->cut || !holds(e->path, e)))
		*skip = 1;
	return n;
}

int collector_finish(struct collector *c, struct bom *bom, collector_measure_cb cb, void *cb_ctx)
{
	size_t nout = 0;
	int r, skip;

	wait_idle(c, "inputs");
	pthread_mutex_lock(&c->lock);
	dirs_check(c);
	for (size_t i = 0; i < c->nents; i++) {
		struct inode_ent *e = &c->ents[i];

		if (!e->written)
			continue;
		nout += measure_aliases(c, e, &skip);
		if (skip)
			continue;
		/* a cut name is not looked up (it may name another file), nor renamed dirs below */
		r = e->cut ? 1 : locate_output(c, e);
		if (r < 0) {
			c->oom = 1;
			break;
		}
		if (r == 0) {
			output_gone(c, e->path);
			continue;
		}
		/* renamed into an excluded place (the bundle directory, /dev/shm...) */
		if (policy_excluded(c->opts.policy, e->path, 0)) {
			c->st.excluded++;
			c->st.outputs--;
			continue;
		}
		/* by name, not by fd: the output is what the name holds when the run is over; a
		 * cut name only through a writer that still holds the file */
		if (e->cut)
			submit(c, e->path, e->dev, e->ino, e->pid, e->fd, BOM_ROLE_OUTPUT, 1);
		else
			submit(c, e->path, e->dev, e->ino, -1, -1, BOM_ROLE_OUTPUT, 0);
		nout++;
	}
	pthread_mutex_unlock(&c->lock);
	if (nout && c->opts.progress)
		log_info("hashing %zu output file%s", nout, nout == 1 ? "" : "s");
	wait_idle(c, "outputs");
	if (c->oom)
		return -ENOMEM;
	return to_bom(c, bom, cb, cb_ctx);
}

void collector_stats(struct collector *c, struct collector_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	out->hash_pending = c->pending;
	pthread_mutex_unlock(&c->lock);
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	hashpool_free(c->pool);
	for (size_t i = 0; i < c->nents; i++) {
		free(c->ents[i].path);
		for (struct alias *a = c->ents[i].alias, *n; a; a = n) {
			n = a->next;
			free(a);
		}
	}
	for (size_t i = 0; i < c->ninterps; i++)
		free(c->interps[i]);
	for (size_t i = 0; i < c->nmeas; i++)
		free(c->meas[i].path);
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	free(c->ents);
	free(c->heads);
	free(c->meas);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
	free(c);
}
