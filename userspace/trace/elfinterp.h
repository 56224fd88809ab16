/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * elfinterp.h - the ELF interpreter (PT_INTERP) an executable names: the tracepoint backend does
 * not see the kernel map it inside execve, so the collector derives it from the program.
 */
#ifndef AICERT_TRACE_ELFINTERP_H
#define AICERT_TRACE_ELFINTERP_H
#include <stddef.h>

/*
 * PT_INTERP of the ELF file open at fd (read with libelf). 1 with the name in out (NUL
 * terminated), 0 when the file has none (static, a script, not ELF), -1 when the header is
 * broken or the name does not fit.
 */
int elf_interp(int fd, char *out, size_t len);

#endif
