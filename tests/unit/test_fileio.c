// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_fileio.c - whole-file reads with a cap (exactly max bytes pass, one more is -EFBIG; files
 * that report size 0 are read to EOF) and atomic writes (content replaced, no temporary file
 * left, the exact mode on request, errors as -errno); untrusted opens (a FIFO, device,
 * directory or link refused at once and named, the cap checked before reading) and the
 * streamed SHA-256.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>

#include "lib/fileio.h"
#include "testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
	return tu_mkdtemp(tmpdir, "fileio");
}

static int teardown(void **state)
{
	return tu_rmrf(tmpdir);
}

static const char *tpath(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_read_cap(void **state)
{
	size_t n = 200000, len = 1;
	uint8_t *data = malloc(n), *buf = NULL;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7);
	tu_write_file(tpath("big"), data, n);
	assert_int_equal(fileio_read(tpath("big"), n, &buf, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(buf, data, n);
	assert_int_equal(buf[n], 0); /* NUL after the data */
	free(buf);
	buf = NULL;
	assert_int_equal(fileio_read(tpath("big"), n - 1, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(fileio_read(tpath("big"), 1000, &buf, &len), -EFBIG);
	assert_int_equal(fileio_read(tpath("none"), n, &buf, &len), -ENOENT);
	assert_int_equal(fileio_read(tmpdir, n, &buf, &len), -EISDIR);
	/* empty file */
	tu_write_file(tpath("empty"), "", 0);
	assert_int_equal(fileio_read(tpath("empty"), 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], 0);
	free(buf);
	free(data);
}

/* /proc files report st_size 0, as securityfs's IMA list does: read to EOF all the same. */
static void test_read_size_zero(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;

	assert_int_equal(stat("/proc/self/status", &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fileio_read("/proc/self/status", 1 << 20, &buf, &len), 0);
	assert_true(len > 0);
	assert_non_null(strstr((char *)buf, "Name:"));
	assert_int_equal(strlen((char *)buf), len);
	free(buf);
	assert_int_equal(fileio_read("/proc/self/status", 4, &buf, &len), -EFBIG);
}

static void test_write_atomic(void **state)
{
	const char *p = tpath("out.json");
	uint8_t *buf = NULL;
	size_t len = 0;
	size_t n0 = entries(tmpdir); /* what earlier tests left */
	struct stat st;
	mode_t old;

	assert_int_equal(fileio_write_atomic(p, "first\n", 6, 0644, 0), 0);
	assert_int_equal(fileio_write_atomic(p, "second\n", 7, 0644, 0), 0);
	assert_int_equal(fileio_read(p, 100, &buf, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "second\n", 7);
	free(buf);
	assert_int_equal(entries(tmpdir), n0 + 1); /* no temporary file left behind */

	/* The umask narrows the mode unless FILEIO_EXACT_MODE asks for it exactly. */
	old = umask(077);
	assert_int_equal(fileio_write_atomic(tpath("umask"), "x", 1, 0644, 0), 0);
	assert_int_equal(fileio_write_atomic(tpath("exact"), "x", 1, 0644, FILEIO_EXACT_MODE), 0);
	umask(old);
	assert_int_equal(stat(tpath("umask"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(tpath("exact"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	/* A relative path syncs "." as its directory. */
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(fileio_write_atomic("rel", "y", 1, 0600, 0), 0);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(stat(tpath("rel"), &st), 0);
	assert_int_equal(st.st_size, 1);

	assert_int_equal(fileio_write_atomic("/nonexistent-dir/x", "x", 1, 0644, 0), -ENOENT);
	/* renaming over a directory fails, and the temporary file is removed */
	assert_int_equal(mkdir(tpath("dir"), 0755), 0);
	assert_int_equal(fileio_write_atomic(tpath("dir"), "x", 1, 0644, 0), -EISDIR);
	assert_int_equal(entries(tmpdir), n0 + 5);
}

static void test_write_all(void **state)
{
	int fds[2];
	char got[8] = "";

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fileio_write_all(fds[1], "pipe", 4), 0);
	assert_int_equal(read(fds[0], got, sizeof(got)), 4);
	assert_memory_equal(got, "pipe", 4);
	close(fds[0]);
	close(fds[1]);
	errno = 0;
	assert_int_equal(fileio_write_all(fds[1], "x", 1), -EBADF);
	assert_int_equal(errno, EBADF);
}

/* What fileio_open_regular refuses, and how it says so: at once, never by blocking. */
static void test_open_regular(void **state)
{
	char why[FILEIO_WHY_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY), fd;

	assert_true(dfd >= 0);
	tu_write_file(tpath("reg"), "0123456789", 10);
	fd = fileio_open_regular(dfd, "reg", 10, 0, why);
	assert_true(fd >= 0);
	/* blocking again: a read is a plain read */
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	assert_int_equal(fileio_open_regular(dfd, "reg", 9, 0, why), -EFBIG);
	assert_non_null(strstr(why, "reg: larger than 9 bytes"));

	assert_int_equal(mkfifo(tpath("fifo"), 0644), 0);
	assert_int_equal(fileio_open_regular(dfd, "fifo", 100, 0, why), -EINVAL);
	assert_string_equal(why, "fifo: is a FIFO, not a regular file");
	assert_int_equal(fileio_read_regular(dfd, "fifo", 100, &buf, &len, why), -EINVAL);

	assert_int_equal(symlink("/dev/zero", tpath("zero")), 0);
	assert_int_equal(fileio_open_regular(dfd, "zero", 100, 0, why), -ELOOP);
	assert_string_equal(why, "zero: is a symbolic link, not a regular file");
	/* followed on request (a user's own path), and then it is a device */
	assert_int_equal(fileio_open_regular(dfd, "zero", 100, FILEIO_FOLLOW, why), -EINVAL);
	assert_string_equal(why, "zero: is a character device, not a regular file");
	assert_int_equal(symlink("reg", tpath("link")), 0);
	fd = fileio_open_regular(dfd, "link", 100, FILEIO_FOLLOW, why);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(mkdir(tpath("subdir"), 0755), 0);
	assert_int_equal(fileio_open_regular(dfd, "subdir", 100, 0, why), -EINVAL);
	assert_string_equal(why, "subdir: is a directory, not a regular file");
	assert_int_equal(fileio_open_regular(dfd, "none", 100, 0, why), -ENOENT);
	assert_string_equal(why, "none: No such file or directory");

	assert_int_equal(fileio_read_regular(dfd, "reg", 10, &buf, &len, why), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "0123456789", 10);
	free(buf);
	/* AT_FDCWD and a path work too */
	fd = fileio_open_regular(AT_FDCWD, tpath("reg"), 10, 0, why);
	assert_true(fd >= 0);
	close(fd);
	close(dfd);
	unlink(tpath("reg"));
	unlink(tpath("fifo"));
	unlink(tpath("zero"));
	unlink(tpath("link"));
	rmdir(tpath("subdir"));
}

/* fileio_sha256_fd hashes what it reads, in blocks: compared with one EVP_Digest of it all. */
static void test_sha256_fd(void **state)
{
	size_t n = (1 << 16) * 3 + 123;
	uint8_t *data = malloc(n), want[32], got[32];
	uint64_t size = 0;
	int fd;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	tu_write_file(tpath("h"), data, n);
	assert_int_equal(EVP_Digest(data, n, want, NULL, EVP_sha256(), NULL), 1);
	fd = open(tpath("h"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fileio_sha256_fd(fd, got, &size), 0);
	close(fd);
	assert_int_equal(size, n);
	assert_memory_equal(got, want, 32);
	assert_int_equal(fileio_sha256_fd(-1, got, NULL), -EBADF);
	unlink(tpath("h"));
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_cap),	 cmocka_unit_test(test_read_size_zero),
	    cmocka_unit_test(test_write_atomic), cmocka_unit_test(test_write_all),
	    cmocka_unit_test(test_open_regular), cmocka_unit_test(test_sha256_fd),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
