/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon.h - aicertd's core: one BPF backend, one host log and TPM, many runs. It serves the
 * clients of its Unix socket (aicert-trace, aicert runs/status/quote), adopts the cgroups that the
 * policy's track: globs name, and writes one bundle per finished run under the spool.
 */
#ifndef AICERT_TRACE_DAEMON_H
#define AICERT_TRACE_DAEMON_H
#include <stdbool.h>

#include "trace/access.h"
#include "trace/tpm.h"

struct daemon_opts {
	const char *socket;    /* NULL: ipc_socket_path(NULL) */
	const char *state_dir; /* NULL: EVLOG_STATEDIR */
	const char *spool;     /* NULL: <state dir>/runs */
	const char *policy;    /* NULL: the built-in policy */
	const char *tcti;
	const char *cache_dir; /* NULL: no cache */
	bool no_tpm, allow_resettable;
	int pcr, batch_hz, tpm_timeout, jobs; /* 0: defaults */
	enum access_backend backend;
	struct tpm_ak_opts ak;
	int ready_fd; /* written to (one byte) once the socket listens, then closed; -1: none */
};

/* Runs until SIGTERM or SIGINT: 0 after an orderly stop, 1 when it could not start. */
int daemon_main(const struct daemon_opts *o);

#endif
