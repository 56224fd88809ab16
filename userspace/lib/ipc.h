/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipc.h - aicertd's socket protocol: one JSON object per SOCK_SEQPACKET datagram (at most
 * IPC_MSG_MAX bytes, nesting at most IPC_DEPTH_MAX), up to IPC_FDS_MAX descriptors with it
 * (SCM_RIGHTS). Every message has a string "op". The peer is known by SO_PEERCRED only.
 * Functions return 0 (or a descriptor) on success, -errno on failure.
 */
#ifndef AICERT_IPC_H
#define AICERT_IPC_H
#include <stddef.h>
#include <sys/socket.h>

#include <jansson.h>

#define IPC_MSG_MAX 65536
#define IPC_FDS_MAX 64
#define IPC_DEPTH_MAX 32
#define IPC_SOCKET_DEFAULT "/run/aicert/aicertd.sock"

/* opt when set, else $AICERT_SOCKET when set and not empty, else IPC_SOCKET_DEFAULT. */
const char *ipc_socket_path(const char *opt);

/*
 * Listens on path (mode 0666), creating its parent directories (0755). A socket already there
 * that nobody answers is replaced; one that answers: -EADDRINUSE; anything that is not a
 * socket is left alone: -EEXIST. The descriptor is close-on-exec.
 */
int ipc_listen(const char *path);

/* A connected descriptor; -ENOENT or -ECONNREFUSED: no daemon there. */
int ipc_connect(const char *path);

/* Sends msg (not stolen) with nfds descriptors: -EMSGSIZE when it is larger than IPC_MSG_MAX,
 * -EINVAL for more than IPC_FDS_MAX fds, -EPIPE when the peer is gone. */
int ipc_send(int fd, json_t *msg, const int *fds, size_t nfds);

/*
 * Receives one message into *msg and its descriptors (close-on-exec) into fds, which has room
 * for IPC_FDS_MAX; *nfds is their count. timeout_ms < 0 waits for ever. -EPIPE: the peer closed;
 * -ETIMEDOUT; -EINTR: a signal came first; -EBADMSG: the message or its control part was
 * truncated, or it is not a JSON object with a string "op" (every descriptor received is then
 * closed and *nfds is 0).
 */
int ipc_recv(int fd, json_t **msg, int *fds, size_t *nfds, int timeout_ms);

/* The decoder ipc_recv uses on a received datagram: 0 or -EBADMSG. Pure (for the fuzzer). */
int ipc_decode(const void *buf, size_t len, json_t **msg);

/* The peer's pid, uid and gid as the kernel knows them. */
int ipc_peer(int fd, struct ucred *out);

/* Sends {"op":"error","code":code,"message":<the formatted text, on one line>}. */
int ipc_error(int fd, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Closes the n descriptors (those >= 0) and sets them to -1. */
void ipc_close_fds(int *fds, size_t n);

/* A name ipc_send_dir / ipc_recv_dir accept: not empty, not "." or "..", no '/', no control
 * character, at most NAME_MAX bytes. */
int ipc_name_ok(const char *name);

/* 0 when dir does not exist or is an empty directory (a bundle may be written there); else
 * -EEXIST (not empty), -ENOTDIR (not a directory; a symbolic link included) or -errno. */
int ipc_dir_usable(const char *dir);
/* ipc_dir_usable, with the reason said (log_err): "DIR is not empty; choose a new -o directory". */
int ipc_out_usable(const char *dir);

/*
 * Sends msg with dir's regular files as descriptors, their names in msg["files"] (set here,
 * sorted). A symbolic link, a FIFO or any other non-regular entry, a bad name or more than
 * IPC_FDS_MAX files fails the whole (-ELOOP, -EINVAL, -E2BIG), said through log_err.
 */
int ipc_send_dir(int fd, json_t *msg, const char *dir);

/*
 * Writes the files that msg["files"] names, from fds (one each, in order, regular files read
 * from offset 0), into a new directory out: out must be absent or empty. They are written into
 * "<out>.partial-XXXXXX" beside it, fsync'ed, and renamed to out; on failure nothing is left.
 * The descriptors stay the caller's. -EBADMSG for a bad "files" list, -EEXIST/-ENOTDIR for out.
 */
int ipc_recv_dir(const json_t *msg, const int *fds, size_t nfds, const char *out);

#endif
