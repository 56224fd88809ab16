/* SPDX-License-Identifier: BSD-2-Clause */
/* runinfo.h - what a bundle says about the run and the host: ids, times, kernel, boot id. */
#ifndef AICERT_TRACE_RUNINFO_H
#define AICERT_TRACE_RUNINFO_H
#include <stddef.h>
#include <time.h>

#include "lib/bom.h"

/* A random RFC 4122 version-4 UUID, 36 characters and a NUL. 0 or -errno. */
int run_id_new(char out[37]);
/* "2026-11-25T18:30:00.123Z" */
void time_rfc3339(const struct timespec *ts, char *out, size_t len);
/* The boot id of the running kernel (/proc/sys/kernel/random/boot_id), 36 chars; 0 or -errno. */
int boot_id_read(char out[37]);
/* Fills hostname, kernel and boot_id (strdup'ed); tpm is left to the caller. 0 or -ENOMEM. */
int host_fill(struct bom_host *h);

#endif
