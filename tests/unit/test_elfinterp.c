// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_elfinterp.c - PT_INTERP with libelf (userspace/trace/elfinterp.c): ELF files built here
 * byte by byte (an interpreter, none, a name without its NUL, one too long for the buffer, a
 * program header table past the end of the file), a script, and a real program of this system.
 */
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace/elfinterp.h"
#include "testutil.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	return tu_mkdtemp(dir, "elfinterp");
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmrf(dir);
}

/* An ELF64 file: header, phnum program headers of type ptype (the first points at name, namelen
 * bytes of it written), then the name. Returns an open fd. */
static int make_elf(const char *file, uint32_t ptype, const char *name, size_t namelen,
		    uint16_t phnum, size_t cut)
{
	unsigned char buf[4096] = {0};
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t name_off = sizeof(*eh) + 2 * sizeof(*ph), len = name_off + namelen;
	char path[128];
	int fd;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = phnum;
	ph[0].p_type = ptype;
	ph[0].p_offset = name_off;
	ph[0].p_filesz = ph[0].p_memsz = namelen;
	memcpy(buf + name_off, name, namelen);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	tu_write_file(path, buf, cut ? cut : len);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}

static void test_interp(void **state)
{
	const char name[] = "/lib/ld-test.so.1";
	char out[256];
	int fd = make_elf("prog", PT_INTERP, name, sizeof(name), 1, 0);

	assert_int_equal(elf_interp(fd, out, sizeof(out)), 1);
	assert_string_equal(out, name);
	close(fd);
}

static void test_none(void **state)
{
	char out[256], path[128];
	int fd = make_elf("static", PT_LOAD, "", 0, 1, 0);

	assert_int_equal(elf_interp(fd, out, sizeof(out)), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/script.sh", dir);
	tu_write_file(path, "#!/bin/sh\necho hi\n", 18);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(elf_interp(fd, out, sizeof(out)), 0);
	close(fd);
}

static void test_broken(void **state)
{
	const char name[] = "/lib/ld-test.so.1";
	char out[256], small[8];
	int fd;

	/* the name without its NUL */
	fd = make_elf("nonul", PT_INTERP, name, sizeof(name) - 1, 1, 0);
	assert_int_equal(elf_interp(fd, out, sizeof(out)), -1);
	close(fd);
	/* a NUL inside the name */
	fd = make_elf("inner", PT_INTERP, "/a\0/b", 6, 1, 0);
	assert_int_equal(elf_interp(fd, out, sizeof(out)), -1);
	close(fd);
	/* longer than the caller's buffer */
	fd = make_elf("long", PT_INTERP, name, sizeof(name), 1, 0);
	assert_int_equal(elf_interp(fd, small, sizeof(small)), -1);
	close(fd);
	/* the name past the end of the file */
	fd = make_elf("short", PT_INTERP, name, sizeof(name), 1,
		      sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 4);
	assert_int_equal(elf_interp(fd, out, sizeof(out)), -1);
	close(fd);
	/* 40 program headers announced, two in the file */
	fd = make_elf("phnum", PT_LOAD, "", 0, 40, 0);
	assert_int_equal(elf_interp(fd, out, sizeof(out)), -1);
	close(fd);
}

/* A dynamically linked program of this system names an absolute interpreter that exists. */
static void test_real_program(void **state)
{
	char out[4096];
	int fd = open("/bin/sh", O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(elf_interp(fd, out, sizeof(out)), 1);
	close(fd);
	assert_int_equal(out[0], '/');
	assert_int_equal(access(out, R_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_interp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
	    cmocka_unit_test(test_real_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
