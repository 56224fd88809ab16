// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_fileio.c - whole-file reads with a cap (exactly max bytes pass, one more is -EFBIG; files
 * that report size 0 are read to EOF) and atomic writes (content replaced, no temporary file
 * left, the exact mode on request, errors as -errno).
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_cap),
	    cmocka_unit_test(test_read_size_zero),
	    cmocka_unit_test(test_write_atomic),
	    cmocka_unit_test(test_write_all),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
