// SPDX-License-Identifier: BSD-2-Clause
/*
 * elfinterp.c - PT_INTERP of an executable, with Debian's libelf (the one libbpf links).
 */
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "trace/elfinterp.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int elf_ok;

static void init(void)
{
	elf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

/* The segment's bytes, which must be one NUL-terminated name that fits out. */
static int read_name(int fd, const GElf_Phdr *ph, char *out, size_t len)
{
	ssize_t n;

	if (ph->p_filesz < 2 || ph->p_filesz > len)
		return -1;
	n = pread(fd, out, ph->p_filesz, (off_t)ph->p_offset);
	if (n != (ssize_t)ph->p_filesz || out[n - 1] != '\0' || strlen(out) != (size_t)n - 1)
		return -1;
	return 1;
}

int elf_interp(int fd, char *out, size_t len)
{
	size_t nph = 0;
	GElf_Phdr ph;
	Elf *elf;
	int ret = 0;

	pthread_once(&once, init);
	if (!elf_ok)
		return -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return 0; /* not an ELF file at all: a script, say */
	if (elf_kind(elf) != ELF_K_ELF)
		goto cleanup;
	if (elf_getphdrnum(elf, &nph)) {
		ret = -1;
		goto cleanup;
	}
	for (size_t i = 0; i < nph; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			ret = -1;
			break;
		}
		if (ph.p_type == PT_INTERP) {
			ret = read_name(fd, &ph, out, len);
			break;
		}
	}
cleanup:
	elf_end(elf);
	return ret;
}
