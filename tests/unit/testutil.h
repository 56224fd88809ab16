/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers the unit tests share: temporary directories, whole-file reads and writes, fixture
 * paths. Each test binary is built from one .c file, so they are static inline here rather than
 * a library. Include after <cmocka.h>; the BOM helper needs "lib/bom.h" included first.
 */
#ifndef AICERT_TESTUTIL_H
#define AICERT_TESTUTIL_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Well-known SHA-256 digests (FIPS 180-2 examples and others), for documents that need some. */
#define TU_SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define TU_SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* of "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" */
#define TU_SHA256_448BIT "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define TU_SHA256_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define TU_SHA256_TEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* A fresh directory "/tmp/aicert-test-<tag>.XXXXXX" in dir; 0 or -1 (for a cmocka setup). */
static inline int tu_mkdtemp(char dir[64], const char *tag)
{
	snprintf(dir, 64, "/tmp/aicert-test-%s.XXXXXX", tag);
	return mkdtemp(dir) ? 0 : -1;
}

/* rm -rf dir; 0 or -1 (for a cmocka teardown). */
static inline int tu_rmrf(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* "[$AICERT_SRC/]tests/fixtures/<sub>/<dir>/<file>": relative to the working directory
 * (tests/run.sh runs from the repository root) unless AICERT_SRC names the source tree. A static
 * buffer. */
static inline const char *tu_fixture(const char *sub, const char *dir, const char *file)
{
	static char buf[512];
	const char *src = getenv("AICERT_SRC");

	snprintf(buf, sizeof(buf), "%s%stests/fixtures/%s/%s/%s", src ? src : "", src ? "/" : "",
		 sub, dir, file);
	return buf;
}

/* The whole file, malloc'd, with a NUL byte after it (*len excludes it); NULL (and *len 0) when
 * it cannot be opened. A read error fails the test. */
static inline uint8_t *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Creates (or truncates) path, mode 0644, holding p[0..n), or fails the test. */
static inline void tu_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

#ifdef JANSSON_H
/* text as JSON, or the test fails with jansson's reason. */
static inline json_t *tu_json_parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("not JSON: %s at %d:%d", e.text, e.line, e.column);
	return j;
}
#endif

#ifdef AICERT_LIB_BOM_H
/* A file entry with roles and category (copied; NULL for none), or fails the test. */
static inline struct bom_file *tu_add_file(struct bom *b, const char *path, const char *sha,
					   unsigned roles, const char *cat)
{
	struct bom_file *f = bom_add_file(b, path, sha);

	assert_non_null(f);
	f->roles = roles;
	f->category = cat ? strdup(cat) : NULL;
	return f;
}
#endif

#endif
