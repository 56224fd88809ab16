// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_collector.c - the collector fed with records as the BPF side builds them (include/access.h),
 * naming real files in a temporary directory so the hash pool really hashes them: roles, renames
 * of files and directories (both backends' record shapes), deleted outputs, policy exclusions,
 * the " (deleted)" suffix, relative names, malformed records, a table of thousands of inodes,
 * names the kernel cut (AC_F_PATH_TRUNC) and names longer than PATH_MAX, links (AC_F_LINK: an
 * output published by link, a second name), inherited descriptors and the ELF interpreter the
 * tracepoint backend derives.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include <access.h>
#include "lib/bom.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/policy.h"
#include "trace/collector.h"
#include "testutil.h"

#define PROC_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572

static char dir[PATH_MAX];
static struct policy *pol;
static struct collector *coll;
static struct bom bom;
static size_t measured; /* collector_finish's callback calls */

static int setup(void **state)
{
	char tmpl[] = "/tmp/aicert-test-coll.XXXXXX";

	if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
		return -1;
	pol = policy_default();
	coll = pol ? collector_new(&(struct collector_opts){.policy = pol, .jobs = 2}) : NULL;
	bom_init(&bom);
	measured = 0;
	return coll ? 0 : -1;
}

static int teardown(void **state)
{
	collector_free(coll);
	policy_free(pol);
	bom_free(&bom);
	coll = NULL;
	pol = NULL;
	return tu_rmrf(dir);
}

/* ---- helpers ---- */

static uint64_t kdev(dev_t d)
{
	return ((uint64_t)major(d) << 20) | minor(d);
}

/* dir/name in a static buffer, one of four: a test holds at most four at once */
static const char *in_dir(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ & 3];

	if (snprintf(b, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		fail_msg("%s/%s: name too long", dir, name);
	return b;
}

static void put(const char *path, const char *content)
{
	tu_write_file(path, content, strlen(content));
}

static void sha_hex(const char *content, char out[65])
{
	uint8_t md[32];
	unsigned n = 0;

	assert_int_equal(EVP_Digest(content, strlen(content), md, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	hex_encode(md, sizeof(md), out);
}

/* A file record as the LSM backend sends it; dev, ino, size and magic from the file if it exists.
 */
static struct ac_file *file_rec(uint32_t kind, const char *path)
{
	struct ac_file *f = calloc(1, sizeof(*f));
	struct statfs sfs;
	struct stat st;

	assert_non_null(f);
	f->hdr.type = AC_REC_FILE;
	f->hdr.backend = AC_BACKEND_LSM;
	f->task.pid = f->task.tgid = (uint32_t)getpid();
	f->kind = kind;
	f->fd = -1;
	f->path_len = (uint32_t)strlen(path) + 1;
	assert_true(f->path_len <= AC_PATH_MAX);
	memcpy(f->path, path, f->path_len);
	f->hdr.size = (uint32_t)(offsetof(struct ac_file, path) + f->path_len);
	if (stat(path, &st) == 0) {
		f->dev = kdev(st.st_dev);
		f->ino = st.st_ino;
		f->size = st.st_size;
	}
	if (statfs(path, &sfs) == 0)
		f->magic = (uint32_t)sfs.f_type;
	return f;
}

static void feed_len(void *rec, size_t len)
{
	collector_on_record(rec, len, coll);
	free(rec);
}

static void feed(void *rec)
{
	feed_len(rec, ((struct ac_hdr *)rec)->size);
}

static void access_file(uint32_t kind, const char *path)
{
	feed(file_rec(kind, path));
}

/* A rename record: the new name relative to dirpath (LSM: the last component), or absolute. */
static struct ac_rename *rename_rec(const char *name, const char *dirpath, uint64_t dev,
				    uint64_t ino, uint32_t flags)
{
	struct ac_rename *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->hdr.type = AC_REC_RENAME;
	r->hdr.flags = flags;
	r->hdr.backend = ino ? AC_BACKEND_LSM : AC_BACKEND_TRACEPOINT;
	r->task.pid = r->task.tgid = (uint32_t)getpid();
	r->dev = dev;
	r->ino = ino;
	r->name_len = (uint32_t)strlen(name) + 1;
	assert_true(r->name_len <= AC_NAME_MAX);
	memcpy(r->name, name, r->name_len);
	if (dirpath) {
		r->path_len = (uint32_t)strlen(dirpath) + 1;
		memcpy(r->path, dirpath, r->path_len);
	}
	r->hdr.size = (uint32_t)(offsetof(struct ac_rename, path) + r->path_len);
	return r;
}

/* The LSM hook's record for rename(old, dir/name): the inode as it is now (after the rename). */
static void renamed_lsm(const char *name)
{
	struct stat st;

	assert_int_equal(stat(in_dir(name), &st), 0);
	feed(rename_rec(name, dir, kdev(st.st_dev), st.st_ino, AC_F_PATH_REL));
}

static void on_measured(const struct bom_file *f, void *ctx)
{
	assert_ptr_equal(ctx, &measured);
	assert_non_null(f->path);
	measured++;
}

static void finish(void)
{
	assert_int_equal(collector_finish(coll, &bom, on_measured, &measured), 0);
	assert_int_equal(measured, bom.nfiles);
}

static size_t count_path(const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < bom.nfiles; i++)
		n += !strcmp(bom.files[i].path, path);
	return n;
}

static const struct bom_file *find(const char *path)
{
	for (size_t i = 0; i < bom.nfiles; i++)
		if (!strcmp(bom.files[i].path, path))
			return &bom.files[i];
	return NULL;
}

/* The single entry for path, hashed fine, with content's digest and these roles. */
static void expect_hashed(const char *path, const char *content, unsigned roles)
{
	const struct bom_file *f = find(path);
	char want[65];

	if (!f)
		fail_msg("no BOM entry for %s", path);
	assert_int_equal(count_path(path), 1);
	sha_hex(content, want);
	assert_string_equal(f->sha256, want);
	assert_null(f->status);
	assert_int_equal(f->size, strlen(content));
	assert_int_equal(f->roles, roles);
	assert_non_null(f->category);
}

static struct collector_stats stats(void)
{
	struct collector_stats st;

	collector_stats(coll, &st);
	return st;
}

/* ---- tests ---- */

static void test_read_input(void **state)
{
	const char *p = in_dir("train.csv");

	put(p, "x,y\n1,2\n");
	access_file(AC_KIND_READ, p);
	finish();
	assert_int_equal(bom.nfiles, 1);
	expect_hashed(p, "x,y\n1,2\n", BOM_ROLE_INPUT);
	assert_string_equal(find(p)->category, "dataset");
	assert_int_equal(stats().records, 1);
	assert_int_equal(stats().inputs, 1);
	assert_int_equal(stats().outputs, 0);
	assert_int_equal(stats().malformed, 0);
	assert_int_equal(stats().unhashed, 0);
	assert_int_equal(stats().bytes_hashed, 8);
}

static void test_roles(void **state)
{
	const char *exe = in_dir("run.sh"), *lib = in_dir("libx.so"), *both = in_dir("ext.so");

	put(exe, "#!/bin/sh\necho hi\n");
	put(lib, "\177ELF lib");
	put(both, "\177ELF ext");
	access_file(AC_KIND_EXEC, exe);
	access_file(AC_KIND_MMAP, lib);
	access_file(AC_KIND_READ, both);
	access_file(AC_KIND_MMAP, both);
	finish();
	assert_int_equal(bom.nfiles, 3);
	expect_hashed(exe, "#!/bin/sh\necho hi\n", BOM_ROLE_EXECUTABLE);
	expect_hashed(lib, "\177ELF lib", BOM_ROLE_LIBRARY);
	expect_hashed(both, "\177ELF ext", BOM_ROLE_INPUT | BOM_ROLE_LIBRARY);
	assert_int_equal(stats().processes, 1);
	assert_int_equal(stats().inputs, 4);
}

/* "write model.pt.tmp, rename to model.pt" as the LSM backend reports it (inode known). */
static void test_rename_lsm(void **state)
{
	const char *tmp = in_dir("model.pt.tmp"), *fin = in_dir("model.pt");

	put(tmp, "weights v1");
	access_file(AC_KIND_WRITE, tmp);
	assert_int_equal(rename(tmp, fin), 0);
	renamed_lsm("model.pt");
	finish();
	assert_int_equal(bom.nfiles, 1);
	expect_hashed(fin, "weights v1", BOM_ROLE_OUTPUT);
	assert_null(find(tmp));
	assert_int_equal(stats().outputs, 1);
	assert_int_equal(stats().renames, 1);
}

/* The tracepoint backend sends no inode; relative names come with a directory, absolute without. */
static void test_rename_tracepoint(void **state)
{
	const char *tmp1 = in_dir("a.tmp"), *fin1 = in_dir("a.bin");
	const char *tmp2 = in_dir("b.tmp"), *fin2 = in_dir("b.bin");
	struct ac_rename *r;

	put(tmp1, "output a");
	put(tmp2, "output b");
	access_file(AC_KIND_WRITE, tmp1);
	access_file(AC_KIND_WRITE, tmp2);
	assert_int_equal(rename(tmp1, fin1), 0);
	assert_int_equal(rename(tmp2, fin2), 0);
	feed(rename_rec("a.bin", dir, 0, 0, AC_F_PATH_REL));
	r = rename_rec(fin2, NULL, 0, 0, 0);
	assert_int_equal(r->hdr.size, offsetof(struct ac_rename, path));
	feed(r);
	finish();
	assert_int_equal(bom.nfiles, 2);
	expect_hashed(fin1, "output a", BOM_ROLE_OUTPUT);
	expect_hashed(fin2, "output b", BOM_ROLE_OUTPUT);
	assert_int_equal(stats().renames, 2);
	assert_int_equal(stats().malformed, 0);
}

/* Each epoch "write ckpt.tmp, rename over ckpt": the earlier ckpt is gone, not unmeasurable. */
static void test_rename_over_output(void **state)
{
	const char *fin = in_dir("ckpt"), *tmp = in_dir("ckpt.tmp");
	const struct bom_file *old = NULL;
	char want[65];

	put(fin, "epoch 1");
	access_file(AC_KIND_WRITE, fin);
	put(tmp, "epoch 2");
	access_file(AC_KIND_WRITE, tmp);
	assert_int_equal(rename(tmp, fin), 0);
	renamed_lsm("ckpt");
	finish();
	assert_int_equal(count_path(fin), 2);
	assert_int_equal(bom.nfiles, 2);
	sha_hex("epoch 2", want);
	for (size_t i = 0; i < bom.nfiles; i++) {
		const struct bom_file *f = &bom.files[i];

		assert_int_equal(f->roles, BOM_ROLE_OUTPUT);
		if (f->status)
			old = f;
		else
			assert_string_equal(f->sha256, want);
	}
	assert_non_null(old);
	assert_string_equal(old->status, "deleted before the run ended");
	assert_string_equal(old->sha256, "");
	assert_int_equal(stats().unhashed, 0);
}

/* Outputs written below a directory renamed afterwards: only the directory's rename is seen. */
static void test_rename_dir(void **state)
{
	char sub[PATH_MAX];
	struct stat st;

	assert_int_equal(mkdir(in_dir("tmp-ckpt"), 0755), 0);
	snprintf(sub, sizeof(sub), "%s", in_dir("tmp-ckpt/inner"));
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(in_dir("tmp-2"), 0755), 0);
	put(in_dir("tmp-ckpt/w.bin"), "w");
	put(in_dir("tmp-ckpt/inner/opt.bin"), "opt");
	put(in_dir("tmp-2/x.bin"), "x");
	access_file(AC_KIND_WRITE, in_dir("tmp-ckpt/w.bin"));
	access_file(AC_KIND_WRITE, in_dir("tmp-ckpt/inner/opt.bin"));
	access_file(AC_KIND_WRITE, in_dir("tmp-2/x.bin"));
	assert_int_equal(rename(in_dir("tmp-ckpt"), in_dir("ckpt")), 0);
	assert_int_equal(rename(in_dir("tmp-2"), in_dir("ckpt2")), 0);
	/* LSM: the directory's inode; tracepoint: none */
	assert_int_equal(stat(in_dir("ckpt"), &st), 0);
	feed(rename_rec("ckpt", dir, kdev(st.st_dev), st.st_ino, AC_F_PATH_REL));
	feed(rename_rec("ckpt2", dir, 0, 0, AC_F_PATH_REL));
	finish();
	assert_int_equal(bom.nfiles, 3);
	expect_hashed(in_dir("ckpt/w.bin"), "w", BOM_ROLE_OUTPUT);
	expect_hashed(in_dir("ckpt/inner/opt.bin"), "opt", BOM_ROLE_OUTPUT);
	expect_hashed(in_dir("ckpt2/x.bin"), "x", BOM_ROLE_OUTPUT);
	assert_int_equal(stats().unhashed, 0);
}

/* The same temporary directory each epoch, renamed to ckpt-N; the last one is left in place. */
static void test_rename_dir_reused(void **state)
{
	char name[64], content[64];
	struct stat st;

	for (int epoch = 1; epoch <= 3; epoch++) {
		snprintf(content, sizeof(content), "weights %d", epoch);
		assert_int_equal(mkdir(in_dir("tmp"), 0755), 0);
		put(in_dir("tmp/w.bin"), content);
		access_file(AC_KIND_WRITE, in_dir("tmp/w.bin"));
		if (epoch == 3)
			break;
		snprintf(name, sizeof(name), "ckpt-%d", epoch);
		assert_int_equal(rename(in_dir("tmp"), in_dir(name)), 0);
		assert_int_equal(stat(in_dir(name), &st), 0);
		feed(rename_rec(name, dir, kdev(st.st_dev), st.st_ino, AC_F_PATH_REL));
	}
	finish();
	assert_int_equal(bom.nfiles, 3);
	expect_hashed(in_dir("ckpt-1/w.bin"), "weights 1", BOM_ROLE_OUTPUT);
	expect_hashed(in_dir("ckpt-2/w.bin"), "weights 2", BOM_ROLE_OUTPUT);
	expect_hashed(in_dir("tmp/w.bin"), "weights 3", BOM_ROLE_OUTPUT);
}

static void test_deleted_output(void **state)
{
	const char *scratch = in_dir("scratch.tmp"), *input = in_dir("gone-input.txt");
	const struct bom_file *f;
	struct ac_file *rec;

	put(scratch, "temporary");
	access_file(AC_KIND_WRITE, scratch);
	assert_int_equal(unlink(scratch), 0);
	/* an input that is gone when hashed, with no process holding it, is a failure */
	rec = file_rec(AC_KIND_READ, input);
	rec->ino = 12345;
	rec->task.tgid = 0;
	feed(rec);
	finish();
	assert_int_equal(bom.nfiles, 2);
	f = find(scratch);
	assert_non_null(f);
	assert_string_equal(f->sha256, "");
	assert_string_equal(f->status, "deleted before the run ended");
	assert_int_equal(f->roles, BOM_ROLE_OUTPUT);
	f = find(input);
	assert_non_null(f);
	assert_string_equal(f->status, "vanished");
	assert_int_equal(stats().unhashed, 1);
	assert_int_equal(stats().outputs, 1);
}

static void test_excluded(void **state)
{
	char bundle[PATH_MAX], kept[PATH_MAX], fake_sysfs[PATH_MAX];
	struct ac_file *rec;
	struct stat st;

	snprintf(kept, sizeof(kept), "%s", in_dir("bundle2/data.txt"));
	snprintf(fake_sysfs, sizeof(fake_sysfs), "%s", in_dir("looks-normal"));
	put(fake_sysfs, "sysfs attr");
	assert_int_equal(mkdir(in_dir("bundle"), 0755), 0);
	assert_int_equal(mkdir(in_dir("bundle2"), 0755), 0);
	put(in_dir("bundle/bom.json"), "{}");
	put(kept, "kept");
	snprintf(bundle, sizeof(bundle), "%s", in_dir("bundle"));
	assert_int_equal(policy_add_exclude(pol, bundle), 0);

	access_file(AC_KIND_READ, "/proc/self/status");
	rec = file_rec(AC_KIND_READ, fake_sysfs);
	rec->magic = SYSFS_MAGIC;
	feed(rec);
	rec = file_rec(AC_KIND_READ, in_dir("dev-like"));
	rec->magic = PROC_MAGIC;
	feed(rec);
	access_file(AC_KIND_WRITE, in_dir("bundle/bom.json"));
	access_file(AC_KIND_READ, kept); /* "bundle2" is not under "bundle" */
	/* an output moved into an excluded directory afterwards */
	put(in_dir("out.tmp"), "moved");
	access_file(AC_KIND_WRITE, in_dir("out.tmp"));
	assert_int_equal(rename(in_dir("out.tmp"), in_dir("bundle/out")), 0);
	assert_int_equal(stat(in_dir("bundle/out"), &st), 0);
	feed(rename_rec("out", bundle, kdev(st.st_dev), st.st_ino, AC_F_PATH_REL));
	finish();
	assert_int_equal(stats().excluded, 5);
	assert_int_equal(bom.nfiles, 1);
	expect_hashed(kept, "kept", BOM_ROLE_INPUT);
	assert_int_equal(stats().outputs, 0);
}

static void test_deleted_suffix(void **state)
{
	const char *gone = in_dir("gone.bin"), *race = in_dir("race.bin");
	const char *named = in_dir("keep (deleted)");
	char buf[PATH_MAX + 16];
	struct ac_file *rec;
	struct stat st;
	int fd, fd2;

	/* unlinked while the task still holds it: hashed through /proc/<pid>/fd/<fd> */
	put(gone, "unlinked but open");
	fd = open(gone, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(unlink(gone), 0);
	snprintf(buf, sizeof(buf), "%s (deleted)", gone);
	rec = file_rec(AC_KIND_READ, buf);
	rec->hdr.flags |= AC_F_UNLINKED;
	rec->dev = kdev(st.st_dev);
	rec->ino = st.st_ino;
	rec->fd = fd;
	feed(rec);

	/* unlinked after the BPF side checked: no flag, but the name is not the file */
	put(race, "raced");
	fd2 = open(race, O_RDONLY);
	assert_true(fd2 >= 0);
	assert_int_equal(fstat(fd2, &st), 0);
	assert_int_equal(unlink(race), 0);
	snprintf(buf, sizeof(buf), "%s (deleted)", race);
	rec = file_rec(AC_KIND_READ, buf);
	rec->dev = kdev(st.st_dev);
	rec->ino = st.st_ino;
	feed(rec);

	/* a real file whose name ends that way keeps its name */
	put(named, "odd name");
	access_file(AC_KIND_READ, named);
	finish();
	close(fd);
	close(fd2);
	assert_int_equal(bom.nfiles, 3);
	expect_hashed(gone, "unlinked but open", BOM_ROLE_INPUT);
	expect_hashed(race, "raced", BOM_ROLE_INPUT);
	expect_hashed(named, "odd name", BOM_ROLE_INPUT);
}

static void test_malformed(void **state)
{
	const char *p = in_dir("m.txt");
	struct ac_hdr hdr = {.type = AC_REC_FILE, .size = sizeof(hdr)};
	struct ac_file *f;
	struct ac_rename *r;
	size_t n = 0;

	put(p, "m");
	collector_on_record(&hdr, 4, coll), n++; /* shorter than a header */
	hdr.size = 2;
	collector_on_record(&hdr, sizeof(hdr), coll), n++; /* size smaller than a header */
	f = file_rec(AC_KIND_READ, p);
	feed_len(f, f->hdr.size - 1), n++; /* size says more than was received */
	f = file_rec(AC_KIND_READ, p);
	f->hdr.type = 99;
	feed(f), n++;
	f = file_rec(0, p);
	feed(f), n++;
	f = file_rec(AC_KIND_MAX, p);
	feed(f), n++;
	f = file_rec(AC_KIND_READ, p);
	f->path_len = 0;
	feed(f), n++;
	f = file_rec(AC_KIND_READ, p);
	f->path_len += 1; /* past the record's end */
	feed(f), n++;
	f = file_rec(AC_KIND_READ, p);
	f->path_len = 0xffffffffu;
	feed(f), n++;
	f = file_rec(AC_KIND_READ, p);
	f->path[f->path_len - 1] = 'x'; /* no NUL */
	feed(f), n++;
	f = file_rec(AC_KIND_READ, p);
	f->hdr.size = offsetof(struct ac_file, path) - 1; /* cut before the path */
	feed(f), n++;
	r = rename_rec("x", dir, 0, 0, AC_F_PATH_REL);
	r->name_len = 0;
	feed(r), n++;
	r = rename_rec("x", dir, 0, 0, AC_F_PATH_REL);
	r->name_len = AC_NAME_MAX + 1;
	feed(r), n++;
	r = rename_rec("x", dir, 0, 0, AC_F_PATH_REL);
	memset(r->name, 'n', AC_NAME_MAX);
	r->name_len = AC_NAME_MAX;
	feed(r), n++;
	r = rename_rec("x", dir, 0, 0, AC_F_PATH_REL);
	r->path[r->path_len - 1] = 'x';
	feed(r), n++;
	r = rename_rec("x", dir, 0, 0, AC_F_PATH_REL);
	r->hdr.size--;
	feed(r), n++;
	/* process records are valid and carry nothing for the BOM */
	hdr.type = AC_REC_EXIT;
	hdr.size = sizeof(hdr);
	collector_on_record(&hdr, sizeof(hdr), coll);
	finish();
	assert_int_equal(stats().malformed, n);
	assert_int_equal(stats().records, n + 1);
	assert_int_equal(stats().inputs, 0);
	assert_int_equal(bom.nfiles, 0);
}

static void test_relative(void **state)
{
	struct ac_file *rec;
	int cwd = open(".", O_RDONLY | O_DIRECTORY);
	pid_t dead;

	assert_true(cwd >= 0);
	put(in_dir("rel.py"), "print(1)\n");
	assert_int_equal(chdir(dir), 0);
	rec = file_rec(AC_KIND_EXEC, "rel.py");
	rec->hdr.flags |= AC_F_PATH_REL;
	/* as the tracepoint backend sends a script run by a relative name: no inode */
	rec->dev = rec->ino = 0;
	feed(rec);
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);

	/* a task that is gone has no cwd to resolve against */
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	rec = file_rec(AC_KIND_READ, "rel.py");
	rec->task.tgid = (uint32_t)dead;
	feed(rec);
	finish();
	assert_int_equal(bom.nfiles, 1);
	expect_hashed(in_dir("rel.py"), "print(1)\n", BOM_ROLE_EXECUTABLE);
	assert_int_equal(stats().malformed, 1);
}

static void test_dev_from_kernel(void **state)
{
	struct stat st;

	assert_int_equal(collector_dev_from_kernel(0), 0);
	assert_int_equal(collector_dev_from_kernel((8ull << 20) | 1), makedev(8, 1));
	assert_int_equal(collector_dev_from_kernel((259ull << 20) | 0xfffff),
			 makedev(259, 0xfffff));
	/* minors above 255 and majors above 4095 use the high bits of the userspace encoding */
	assert_int_equal(major(collector_dev_from_kernel((4095ull << 20) | 0x12345)), 4095);
	assert_int_equal(minor(collector_dev_from_kernel((4095ull << 20) | 0x12345)), 0x12345);
	assert_int_equal(stat("/", &st), 0);
	assert_int_equal(collector_dev_from_kernel(kdev(st.st_dev)), st.st_dev);
}

/* Thousands of inputs and outputs: the inode table and the measurement array grow and rehash. */
static void test_many(void **state)
{
	enum { NIN = 1500, NOUT = 6000 };
	char name[64], content[64];
	struct stat st;

	assert_int_equal(stat(dir, &st), 0);
	for (int i = 0; i < NIN; i++) {
		snprintf(name, sizeof(name), "in-%05d", i);
		snprintf(content, sizeof(content), "input %d", i);
		put(in_dir(name), content);
		access_file(AC_KIND_READ, in_dir(name));
	}
	/* outputs deleted before the end: no file to create, and no hashing */
	for (int i = 0; i < NOUT; i++) {
		struct ac_file *rec;

		snprintf(name, sizeof(name), "out-%05d", i);
		rec = file_rec(AC_KIND_WRITE, in_dir(name));
		rec->dev = kdev(st.st_dev);
		rec->ino = 0x7f000000u + (uint64_t)i;
		feed(rec);
		/* seen twice: still one output */
		rec = file_rec(AC_KIND_WRITE, in_dir(name));
		rec->dev = kdev(st.st_dev);
		rec->ino = 0x7f000000u + (uint64_t)i;
		feed(rec);
	}
	finish();
	assert_int_equal(bom.nfiles, NIN + NOUT);
	assert_int_equal(stats().outputs, NOUT);
	assert_int_equal(stats().inputs, NIN);
	assert_int_equal(stats().unhashed, 0);
	for (int i = 0; i < NIN; i += 97) {
		snprintf(name, sizeof(name), "in-%05d", i);
		snprintf(content, sizeof(content), "input %d", i);
		expect_hashed(in_dir(name), content, BOM_ROLE_INPUT);
	}
	snprintf(name, sizeof(name), "out-%05d", NOUT - 1);
	assert_string_equal(find(in_dir(name))->status, "deleted before the run ended");
}

/* a copy of dir/name the test owns (in_dir's buffers are reused) */
static char *dup_dir(const char *name)
{
	char *p = strdup(in_dir(name));

	assert_non_null(p);
	return p;
}

static void inode_of(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	*dev = kdev(st.st_dev);
	*ino = st.st_ino;
}

/* The record names path's inode (its own name may be another file's). */
static void rec_inode(struct ac_file *f, const char *path)
{
	uint64_t dev, ino;

	inode_of(path, &dev, &ino);
	f->dev = dev;
	f->ino = ino;
}

/* The single entry for path: status "path truncated", with content's digest or none (NULL). */
static void expect_cut(const char *path, const char *content, unsigned roles)
{
	const struct bom_file *f = find(path);
	char want[65] = "";

	if (!f)
		fail_msg("no BOM entry for %s", path);
	assert_int_equal(count_path(path), 1);
	if (content)
		sha_hex(content, want);
	assert_string_equal(f->sha256, want);
	assert_non_null(f->status);
	assert_string_equal(f->status, "path truncated");
	assert_int_equal(f->roles, roles);
}

/*
 * AC_F_PATH_TRUNC: the cut name stays in the BOM but is never opened (here each cut name is a
 * decoy file with other content); the digest is the record's inode's, read through a process
 * that holds it, else there is none.
 */
static void test_path_truncated(void **state)
{
	char *real = dup_dir("real.csv"), *cut1 = dup_dir("cut1"), *cut2 = dup_dir("cut2");
	char *out = dup_dir("out.bin"), *cut3 = dup_dir("cut3"), *o2 = dup_dir("o2.tmp");
	char *o2fin = dup_dir("o2.final"), *cut4 = dup_dir("cut4"), *o3 = dup_dir("o3.tmp");
	char *o3fin = dup_dir("o3.bin"), *gone = dup_dir("gone.csv");
	struct ac_file *rec;
	uint64_t dev, ino;
	int held_in, held_out;

	put(real, "rows the run read");
	put(gone, "rows nobody holds");
	put(out, "weights");
	put(o2, "weights 2");
	put(o3, "weights 3");
	put(cut1, "decoy 1");
	put(cut3, "decoy 3");
	put(cut4, "decoy 4");
	held_in = open(real, O_RDONLY | O_CLOEXEC);
	held_out = open(out, O_RDONLY | O_CLOEXEC);
	assert_true(held_in >= 0 && held_out >= 0);

	/* an input held by the process (the LSM backend's record has no fd) */
	rec = file_rec(AC_KIND_READ, cut1);
	rec_inode(rec, real);
	rec->hdr.flags |= AC_F_PATH_TRUNC;
	feed(rec);
	/* an input nobody holds; its cut name names nothing */
	rec = file_rec(AC_KIND_READ, cut2);
	rec_inode(rec, gone);
	rec->hdr.flags |= AC_F_PATH_TRUNC;
	feed(rec);
	/* an output still held at run end */
	rec = file_rec(AC_KIND_WRITE, cut3);
	rec_inode(rec, out);
	rec->hdr.flags |= AC_F_PATH_TRUNC;
	feed(rec);
	/* an output renamed to a cut name, held by nobody */
	access_file(AC_KIND_WRITE, o2);
	inode_of(o2, &dev, &ino);
	assert_int_equal(rename(o2, o2fin), 0);
	feed(rename_rec("cut4", dir, dev, ino, AC_F_PATH_REL | AC_F_PATH_TRUNC));
	/* renamed to a cut name, then to a whole one: measured under the whole one */
	access_file(AC_KIND_WRITE, o3);
	inode_of(o3, &dev, &ino);
	assert_int_equal(rename(o3, o3fin), 0);
	feed(rename_rec("cut5", dir, dev, ino, AC_F_PATH_REL | AC_F_PATH_TRUNC));
	feed(rename_rec("o3.bin", dir, dev, ino, AC_F_PATH_REL));
	/* the tracepoint backend's cut rename (no inode) is not followed: o3.bin stays */
	feed(rename_rec("cut6", dir, 0, 0, AC_F_PATH_REL | AC_F_PATH_TRUNC));

	finish();
	close(held_in);
	close(held_out);
	assert_int_equal(bom.nfiles, 5);
	expect_cut(cut1, "rows the run read", BOM_ROLE_INPUT);
	expect_cut(cut2, NULL, BOM_ROLE_INPUT);
	expect_cut(cut3, "weights", BOM_ROLE_OUTPUT);
	expect_cut(cut4, NULL, BOM_ROLE_OUTPUT);
	expect_hashed(o3fin, "weights 3", BOM_ROLE_OUTPUT);
	assert_null(find(in_dir("cut5")));
	assert_null(find(in_dir("cut6")));
	assert_int_equal(stats().inputs, 2);
	assert_int_equal(stats().outputs, 3);
	assert_int_equal(stats().unhashed, 2);
	assert_int_equal(stats().renames, 3);
	free(real), free(cut1), free(cut2), free(out), free(cut3), free(o2);
	free(o2fin), free(cut4), free(o3), free(o3fin), free(gone);
}

/*
 * A rename into a deep directory gives a name longer than PATH_MAX (the record's directory fits
 * AC_PATH_MAX, the last component is added here): it is found and hashed all the same.
 */
/* write tmp, link tmp final, unlink tmp (LSM: the inode in the record): measured as final. */
static void test_link_publish(void **state)
{
	const char *tmp = in_dir("ckpt.tmp"), *fin = in_dir("ckpt.bin");
	struct stat st;

	put(tmp, "published by link");
	access_file(AC_KIND_WRITE, tmp);
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(link(tmp, fin), 0);
	feed(rename_rec("ckpt.bin", dir, kdev(st.st_dev), st.st_ino, AC_F_PATH_REL | AC_F_LINK));
	assert_int_equal(unlink(tmp), 0);
	finish();
	assert_int_equal(bom.nfiles, 1);
	expect_hashed(fin, "published by link", BOM_ROLE_OUTPUT);
	assert_null(find(tmp));
	assert_int_equal(stats().links, 1);
	assert_int_equal(stats().renames, 0);
	assert_int_equal(stats().unhashed, 0);
}

/*
 * Tracepoint records (no inode): a written file linked to a second name is an output under both;
 * a name renamed after that is followed and the name it left is not reported.
 */
static void test_link_aliases(void **state)
{
	const char *a = in_dir("a.bin"), *b = in_dir("b.bin"), *c = in_dir("c.bin");

	put(a, "two names");
	access_file(AC_KIND_WRITE, a);
	assert_int_equal(link(a, b), 0);
	feed(rename_rec("b.bin", dir, 0, 0, AC_F_PATH_REL | AC_F_LINK));
	finish();
	assert_int_equal(bom.nfiles, 2);
	expect_hashed(a, "two names", BOM_ROLE_OUTPUT);
	expect_hashed(b, "two names", BOM_ROLE_OUTPUT);
	teardown(state);
	assert_int_equal(setup(state), 0);

	a = in_dir("a.bin"), b = in_dir("b.bin"), c = in_dir("c.bin");
	put(a, "renamed alias");
	access_file(AC_KIND_WRITE, a);
	assert_int_equal(link(a, b), 0);
	feed(rename_rec("b.bin", dir, 0, 0, AC_F_PATH_REL | AC_F_LINK));
	assert_int_equal(rename(b, c), 0);
	feed(rename_rec("c.bin", dir, 0, 0, AC_F_PATH_REL));
	finish();
	assert_int_equal(bom.nfiles, 2);
	expect_hashed(a, "renamed alias", BOM_ROLE_OUTPUT);
	expect_hashed(c, "renamed alias", BOM_ROLE_OUTPUT);
	assert_null(find(b));
}

/* A link of a file the run did not write adds no entry; a written file whose names are all gone
 * is reported deleted once. */
static void test_link_other(void **state)
{
	const char *in = in_dir("data.csv"), *in2 = in_dir("data2.csv");
	const char *out = in_dir("o.tmp"), *out2 = in_dir("o.bin");

	put(in, "input");
	put(out, "gone");
	access_file(AC_KIND_READ, in);
	assert_int_equal(link(in, in2), 0);
	feed(rename_rec("data2.csv", dir, 0, 0, AC_F_PATH_REL | AC_F_LINK));
	access_file(AC_KIND_WRITE, out);
	assert_int_equal(link(out, out2), 0);
	feed(rename_rec("o.bin", dir, 0, 0, AC_F_PATH_REL | AC_F_LINK));
	assert_int_equal(unlink(out), 0);
	assert_int_equal(unlink(out2), 0);
	finish();
	assert_int_equal(bom.nfiles, 2);
	expect_hashed(in, "input", BOM_ROLE_INPUT);
	assert_null(find(in2));
	assert_null(find(out2));
	assert_non_null(find(out));
	assert_string_equal(find(out)->status, "deleted before the run ended");
	assert_int_equal(stats().unhashed, 0);
}

/* fd 0 of this process as a command inherits it: a readable file is an input, a writable one an
 * output (hashed at the end, under its name). */
static void test_inherit_fds(void **state)
{
	const char *in = in_dir("stdin.csv"), *out = in_dir("stdout.txt");
	int saved = dup(0), fd;

	assert_true(saved >= 0);
	put(in, "a,b\n");
	fd = open(in, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	assert_int_equal(collector_inherit_fds(coll, 1), 1);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	assert_int_equal(collector_inherit_fds(coll, 1), 1);
	assert_int_equal(write(0, "result\n", 7), 7);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	finish();
	assert_int_equal(bom.nfiles, 2);
	expect_hashed(in, "a,b\n", BOM_ROLE_INPUT);
	expect_hashed(out, "result\n", BOM_ROLE_OUTPUT);
	assert_int_equal(stats().inherited, 2);
}

/*
 * The descriptors of another process (aicertd reading a client's command): a child holds a
 * regular file on fd 0, a pipe on fd 1 and /dev/null on fd 2, and waits on fd 3. Only fd 0 is
 * recorded, an input; the file is unlinked before the hash runs, so its digest can only come
 * through the child's own descriptor (/proc/PID/fd/0).
 */
static void test_inherit_fds_of(void **state)
{
	const char *in = in_dir("child-stdin.csv");
	int out[2], hold[2], status;
	char c;
	pid_t pid;

	put(in, "p,q\n3,4\n");
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in_fd = open(in, O_RDONLY), null = open("/dev/null", O_WRONLY);

		if (in_fd < 0 || null < 0 || dup2(in_fd, 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(null, 2) < 0 || dup2(hold[0], 3) < 0)
			_exit(1);
		close(hold[1]);
		if (write(1, "r", 1) != 1) /* fds in place */
			_exit(1);
		_exit(read(3, &c, 1) == 0 ? 0 : 1); /* EOF: the parent is done */
	}
	close(out[1]);
	close(hold[0]);
	assert_int_equal(read(out[0], &c, 1), 1);
	assert_int_equal(unlink(in), 0);
	assert_int_equal(collector_inherit_fds_of(coll, pid, 4), 1);
	finish(); /* waits for the hash, while the child still holds the file */
	close(hold[1]);
	close(out[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(bom.nfiles, 1);
	expect_hashed(in, "p,q\n3,4\n", BOM_ROLE_INPUT);
	assert_int_equal(stats().inherited, 1);
	assert_int_equal(stats().inputs, 1);
	assert_int_equal(stats().outputs, 0);
	/* a process that is gone: an error, nothing recorded */
	assert_int_equal(collector_inherit_fds_of(coll, pid, 3), -ENOENT);
	assert_int_equal(collector_inherit_fds_of(coll, -1, 3), -EINVAL);
	assert_int_equal(stats().inherited, 1);
}

/* An exec record of the tracepoint backend: the program's PT_INTERP is a derived library. */
static void test_elf_interp(void **state)
{
	char prog[PATH_MAX], interp[PATH_MAX];
	struct ac_file *f;
	size_t n = 0;

	assert_non_null(realpath("/bin/sh", prog));
	if (!realpath("/lib64/ld-linux-x86-64.so.2", interp))
		skip(); /* the name below is x86-64's; test_elfinterp covers the reading anywhere */
	for (int i = 0; i < 2; i++) { /* a second exec of it submits the interpreter no more */
		f = file_rec(AC_KIND_EXEC, prog);
		f->hdr.backend = AC_BACKEND_TRACEPOINT;
		feed(f);
	}
	f = file_rec(AC_KIND_EXEC, prog); /* the LSM backend sees the interpreter itself */
	feed(f);
	finish();
	for (size_t i = 0; i < bom.nfiles; i++)
		if (!strcmp(bom.files[i].path, interp)) {
			assert_int_equal(bom.files[i].roles, BOM_ROLE_LIBRARY);
			assert_int_equal(bom.files[i].derived, BOM_DERIVED_ELF_INTERP);
			assert_int_equal(strlen(bom.files[i].sha256), 64);
			n++;
		}
	assert_int_equal(n, 1);
	assert_int_equal(find(prog)->derived, BOM_DERIVED_NONE);
	assert_int_equal(stats().interps, 1);
}

static void test_long_name(void **state)
{
	char comp[201], *dirpath, *tmp = dup_dir("long.tmp");
	size_t len = strlen(dir), cap = len + 25 * 202;
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;
	char name[250];
	uint64_t dev, ino;

	dirpath = malloc(cap);
	assert_non_null(dirpath);
	memcpy(dirpath, dir, len + 1);
	assert_true(dfd >= 0);
	/* directories up to just below AC_PATH_MAX, made through dir fds */
	for (int i = 0; len + 202 < AC_PATH_MAX - 1; i++) {
		memset(comp, 'a' + i % 26, 200);
		comp[200] = '\0';
		assert_int_equal(mkdirat(dfd, comp, 0755), 0);
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		close(dfd);
		dfd = fd;
		len += (size_t)snprintf(dirpath + len, cap - len, "/%s", comp);
	}
	memset(name, 'n', 240);
	name[240] = '\0';
	assert_true(len + 1 + strlen(name) >= PATH_MAX);
	put(tmp, "deep output");
	access_file(AC_KIND_WRITE, tmp);
	inode_of(tmp, &dev, &ino);
	assert_int_equal(renameat(AT_FDCWD, tmp, dfd, name), 0);
	feed(rename_rec(name, dirpath, dev, ino, AC_F_PATH_REL));
	finish();
	assert_int_equal(bom.nfiles, 1);
	len += (size_t)snprintf(dirpath + len, cap - len, "/%s", name);
	expect_hashed(dirpath, "deep output", BOM_ROLE_OUTPUT);
	assert_int_equal(stats().unhashed, 0);
	close(dfd);
	free(dirpath);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_lsm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_tracepoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_over_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_dir_reused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleted_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_excluded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleted_suffix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relative, setup, teardown),
	    cmocka_unit_test(test_dev_from_kernel),
	    cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_path_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_publish, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_aliases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_other, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inherit_fds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inherit_fds_of, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_interp, setup, teardown),
	};

	log_init("test_collector", LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
