/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * client.h - aicert-trace as a client of aicertd: the daemon traces, hashes and attests; the
 * command stays this process's child (exit status, terminal, environment, rlimits and signals
 * as in standalone mode) and the bundle is written by this process, as the user.
 */
#ifndef AICERT_CLIENT_H
#define AICERT_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client_trace_opts {
	const char *socket;	 /* NULL: $AICERT_SOCKET, else the default (ipc_socket_path) */
	const char *out;	 /* bundle directory; NULL: ./aicert-<date>-<time>-<id8> */
	const char *policy_path; /* NULL: the daemon's policy */
	char *const *argv;	 /* the command */
	const uint8_t *nonce;
	size_t nonce_len;
	int jobs;	    /* 0: the daemon's */
	int detach_timeout; /* seconds; -1: wait for ever */
	int verbosity;	    /* enum log_level: the daemon's "say" messages above it are not shown */
	bool strict;
};

/*
 * Runs o->argv traced by aicertd. 0 with *exit_status set (the daemon's answer, or 126/127
 * when the command cannot be executed, as standalone) when the run went through aicertd;
 * -ENOENT or -ECONNREFUSED, with nothing said and nothing run, when no daemon answers (the
 * caller falls back to standalone, or fails naming the socket); any other error has been said
 * and *exit_status is 125.
 */
int client_trace(const struct client_trace_opts *o, int *exit_status);

#endif
