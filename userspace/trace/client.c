// SPDX-License-Identifier: BSD-2-Clause
/*
 * client.c - aicert-trace's client mode (docs/aicertd.md, "The socket protocol"): the command
 * is forked here and blocked on a pipe before it executes anything; aicertd gets its pidfd,
 * moves it into the run's cgroup and answers "started"; only then does the command run. The
 * bundle comes back as descriptors and is written here, so it belongs to the user.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/hex.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "trace/client.h"

#define EXIT_AICERT 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127
#define POLICY_SEND_MAX (IPC_MSG_MAX - 8192) /* room for the rest of the "run" message */

struct client {
	const struct client_trace_opts *o;
	const char *socket;
	int sock, pidfd, release_fd, err_fd;
	pid_t pid;
	char id[64];
	char out[PATH_MAX];
	/* "done" that came before the command ended (aicertd stopped: the run was finished as
	 * incomplete), with its files */
	json_t *done;
	int dfds[IPC_FDS_MAX];
	size_t dn;
};

static volatile sig_atomic_t child_pid, stop_signal;

/* As standalone: signals sent to aicert-trace (not a terminal's, which reached the command
 * already) are forwarded to the command; USR1/USR2 are only forwarded. */
static void on_signal(int sig, siginfo_t *si, void *uc)
{
	if (sig != SIGUSR1 && sig != SIGUSR2)
		stop_signal = sig;
	if (child_pid > 0 && si->si_code <= 0)
		kill(child_pid, sig);
}

static const int fwd_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define N_FWD (sizeof(fwd_signals) / sizeof(fwd_signals[0]))

static void signals_set(int reset)
{
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_FWD; i++) {
		if (reset)
			signal(fwd_signals[i], SIG_DFL);
		else
			sigaction(fwd_signals[i], &sa, NULL);
	}
	signal(SIGPIPE, reset ? SIG_DFL : SIG_IGN);
}

/* The daemon's message as one printable line. */
static void say(const struct client *c, const json_t *m)
{
	static const char *const levels[] = {"err", "warn", "info", "debug"};
	const char *lv = json_string_value(json_object_get(m, "level"));
	const char *text = json_string_value(json_object_get(m, "message"));
	char line[1024];
	int level = LOG_INFO;

	for (int i = 0; lv && i < 4; i++)
		if (!strcmp(lv, levels[i]))
			level = i;
	if (!text || (level > LOG_ERROR && level > c->o->verbosity))
		return;
	snprintf(line, sizeof(line), "%s", text);
	for (unsigned char *p = (unsigned char *)line; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_msg(level, "%s", line);
}

static int read_policy(const char *path, json_t *msg)
{
	uint8_t *buf;
	size_t len;
	json_t *s;
	int ret = fileio_read(path, POLICY_SEND_MAX, &buf, &len);

	if (ret) {
		log_err("cannot read the policy %s: %s", path,
			ret == -EFBIG ? "too large to send to aicertd" : strerror(-ret));
		return ret;
	}
	s = json_stringn((const char *)buf, len);
	free(buf);
	if (!s) {
		log_err("the policy %s is not UTF-8 text", path);
		return -EINVAL;
	}
	json_object_set_new(msg, "policy", s);
	json_object_set_new(msg, "policy_name", json_string(path));
	return 0;
}

static json_t *run_msg(const struct client_trace_opts *o)
{
	char cwd[PATH_MAX], nonce[2 * 64 + 1];
	const char *path = getenv("PATH");
	json_t *m = json_pack("{s:s, s:[], s:n, s:n, s:n, s:n, s:i, s:b}", "op", "run", "argv",
			      "policy", "policy_name", "nonce", "jobs", "detach_timeout",
			      o->detach_timeout, "strict", o->strict);
	json_t *argv = json_object_get(m, "argv");

	if (!m)
		return NULL;
	if (!getcwd(cwd, sizeof(cwd))) {
		log_err("cannot get the current directory: %s", strerror(errno));
		goto fail;
	}
	for (char *const *a = o->argv; *a; a++)
		if (json_array_append_new(argv, json_string(*a))) {
			log_err("the command's argument '%s' is not UTF-8 text", *a);
			goto fail;
		}
	if (json_object_set_new(m, "cwd", json_string(cwd))) {
		log_err("the current directory's name is not UTF-8 text");
		goto fail;
	}
	json_object_set_new(m, "env_path", path ? json_string(path) : json_null());
	if (o->jobs > 0)
		json_object_set_new(m, "jobs", json_integer(o->jobs));
	if (o->nonce_len && o->nonce_len <= 64) {
		hex_encode(o->nonce, o->nonce_len, nonce);
		json_object_set_new(m, "nonce", json_string(nonce));
	}
	if (o->policy_path && read_policy(o->policy_path, m))
		goto fail;
	return m;
fail:
	json_decref(m);
	return NULL;
}

/* The command's side of the fork: it waits for the release byte, then becomes the command. */
static void child(struct client *c, const int rp[2], const int ep[2])
{
	int rfd = rp[0], efd = ep[1];
	char go = 0;
	ssize_t n;
	int err;

	signals_set(1);
	close(c->sock);
	close(rp[1]); /* aicert-trace's death is then EOF: nothing runs */
	close(ep[0]);
	/* our descriptors are not the command's business; 0-2 are */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	do
		n = read(rfd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != 'g')
		_exit(EXIT_AICERT); /* aicert-trace (or aicertd) gave up: nothing runs */
	execvp(c->o->argv[0], c->o->argv);
	err = errno;
	n = write(efd, &err, sizeof(err));
	(void)n;
	_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

static int spawn(struct client *c)
{
	int rp[2], ep[2];

	if (pipe2(rp, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
		log_err("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	c->pid = fork();
	if (c->pid < 0) {
		log_err("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (c->pid == 0)
		child(c, rp, ep);
	close(rp[0]);
	close(ep[1]);
	c->release_fd = rp[1];
	c->err_fd = ep[0];
	child_pid = c->pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd < 0) {
		log_err("cannot open a pidfd for the command: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void reap(struct client *c, int *status)
{
	pid_t r;

	do
		r = waitpid(c->pid, status, 0);
	while (r < 0 && errno == EINTR);
	child_pid = 0;
	c->pid = 0;
}

/* The daemon's {"op":"error"} as the user sees it. */
static void say_error(const struct client *c, const json_t *m)
{
	const char *text = json_string_value(json_object_get(m, "message"));

	log_err("aicertd: %s", text ? text : "error without a message");
}

/*
 * The next message that is not a "say" (those are printed). 1: *m is it; 0: the daemon went
 * away; -EINTR: a terminating signal came (stop_signal); -ETIMEDOUT; -1: an error (said).
 */
static int next(struct client *c, json_t **m, int *fds, size_t *nfds, int timeout_ms)
{
	for (;;) {
		int r = ipc_recv(c->sock, m, fds, nfds, timeout_ms);

		if (r == -EPIPE)
			return 0;
		if (r == -EINTR && !stop_signal)
			continue;
		if (r == -EINTR || r == -ETIMEDOUT)
			return r;
		if (r) {
			log_err("cannot read aicertd's answer: %s", strerror(-r));
			return -1;
		}
		if (strcmp(json_string_value(json_object_get(*m, "op")), "say"))
			return 1;
		say(c, *m);
		ipc_close_fds(fds, *nfds);
		json_decref(*m);
	}
}

static int is_op(const json_t *m, const char *op)
{
	return !strcmp(json_string_value(json_object_get(m, "op")), op);
}

/* Sends "run" and waits for "started"; 0, or -1 with the reason said. */
static int start(struct client *c)
{
	json_t *m = run_msg(c->o);
	int fds[IPC_FDS_MAX], r;
	const char *id;
	size_t n = 0;

	if (!m)
		return -1;
	r = ipc_send(c->sock, m, &c->pidfd, 1);
	json_decref(m);
	if (r) {
		log_err("cannot send the run to aicertd at %s: %s", c->socket, strerror(-r));
		return -1;
	}
	r = next(c, &m, fds, &n, -1);
	ipc_close_fds(fds, n);
	if (r <= 0) {
		if (r == -EINTR)
			log_err("interrupted (%s) before the command started; nothing was run",
				strsignal(stop_signal));
		else if (!r)
			log_err("aicertd at %s went away before the run started", c->socket);
		return -1;
	}
	id = json_string_value(json_object_get(m, "id"));
	if (is_op(m, "error"))
		say_error(c, m);
	else if (!is_op(m, "started") || !id || !ipc_name_ok(id) || strlen(id) >= sizeof(c->id))
		log_err("aicertd answered the run with something else than \"started\"");
	else
		snprintf(c->id, sizeof(c->id), "%s", id);
	json_decref(m);
	return c->id[0] ? 0 : -1;
}

/* Lets the command execute; an exec failure is said as standalone says it. */
static void release(struct client *c)
{
	ssize_t n;
	int err;

	n = write(c->release_fd, "g", 1);
	(void)n; /* EPIPE: the command died of a signal first; waitpid tells */
	close(c->release_fd);
	c->release_fd = -1;
	do
		n = read(c->err_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(err))
		log_err("cannot run '%s': %s", c->o->argv[0], strerror(err));
}

/*
 * Until the command ends: prints the daemon's messages. 1: *status is its wait status; 0: the
 * daemon went away or failed the run (said), the command waited for all the same.
 */
static int wait_command(struct client *c, int *status)
{
	struct pollfd p[2] = {{.fd = c->sock, .events = POLLIN},
			      {.fd = c->pidfd, .events = POLLIN}};
	int fds[IPC_FDS_MAX], r;
	size_t n;
	json_t *m;

	for (;;) {
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		r = next(c, &m, fds, &n, 0);
		if (r == -EINTR || r == -ETIMEDOUT)
			continue;
		if (r > 0 && is_op(m, "done") && !c->done) {
			/* aicertd finished the run early (it is stopping): the bundle is kept for
			 * when the command ends; the daemon closes the socket next */
			c->done = m;
			memcpy(c->dfds, fds, n * sizeof(*fds));
			c->dn = n;
			p[0].fd = -1;
			continue;
		}
		if (r > 0) {
			int failed = is_op(m, "error");

			if (failed)
				say_error(c, m);
			ipc_close_fds(fds, n);
			json_decref(m);
			if (!failed)
				continue; /* nothing else is expected before "exited" */
		} else if (!r) {
			log_err("aicertd went away: the run is no longer traced");
		}
		reap(c, status);
		return 0;
	}
	reap(c, status);
	return 1;
}

static void default_out(struct client *c)
{
	time_t now = time(NULL);
	struct tm tm;
	char date[32];

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
	snprintf(c->out, sizeof(c->out), "aicert-%s-%.8s", date, c->id);
}

/* "done": the bundle's files written into the -o directory; the exit status to return. */
static int take_bundle(struct client *c, const json_t *m, const int *fds, size_t n)
{
	json_t *st = json_object_get(m, "exit_status");
	int r = ipc_recv_dir(m, fds, n, c->out);

	if (r) {
		log_err(
		    "cannot write the bundle to %s: %s; aicertd keeps it (aicert runs --fetch %s "
		    "-o DIR)",
		    c->out, r == -EBADMSG ? "aicertd sent a malformed bundle" : strerror(-r),
		    c->id);
		return EXIT_AICERT;
	}
	log_info("bundle written to %s", c->out);
	if (!json_is_integer(st) || json_integer_value(st) < 0 || json_integer_value(st) > 255) {
		log_err("aicertd's answer holds no exit status");
		return EXIT_AICERT;
	}
	return (int)json_integer_value(st);
}

/* After the command ended: "exited", then the daemon's "done" with the bundle. */
static int finish(struct client *c, int status)
{
	json_t *m = json_pack("{s:s, s:i}", "op", "exited", "status", status);
	int fds[IPC_FDS_MAX], r, rc = EXIT_AICERT;
	size_t n = 0;

	if (c->done) {
		log_warn("aicertd finished the run before the command ended (it was stopped): the "
			 "bundle is marked incomplete");
		rc = take_bundle(c, c->done, c->dfds, c->dn);
		json_decref(m);
		if (rc == EXIT_AICERT)
			return rc;
		return WIFEXITED(status) ? WEXITSTATUS(status)
		       : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : EXIT_AICERT;
	}
	/* from here a terminating signal means: stop waiting for the bundle */
	stop_signal = 0;
	r = m ? ipc_send(c->sock, m, NULL, 0) : -ENOMEM;
	json_decref(m);
	if (r) {
		log_err("aicertd went away: the run is no longer traced");
		return EXIT_AICERT;
	}
	r = next(c, &m, fds, &n, -1);
	if (r > 0 && is_op(m, "done"))
		rc = take_bundle(c, m, fds, n);
	else if (r > 0 && is_op(m, "error"))
		say_error(c, m);
	else if (r > 0)
		log_err("aicertd answered \"exited\" with something else than \"done\"");
	else if (r == -EINTR)
		log_err("interrupted (%s): aicertd finishes the run; its bundle stays in the spool "
			"(aicert runs --fetch %s -o DIR)",
			strsignal(stop_signal), c->id);
	else if (!r)
		log_err("aicertd went away before the bundle was written");
	if (r > 0) {
		ipc_close_fds(fds, n);
		json_decref(m);
	}
	return r == -EINTR ? 128 + stop_signal : rc;
}

static void cleanup(struct client *c)
{
	int status;

	if (c->pid > 0) { /* it never ran: it is still blocked on the release pipe */
		kill(c->pid, SIGKILL);
		reap(c, &status);
	}
	if (c->release_fd >= 0)
		close(c->release_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->sock >= 0)
		close(c->sock);
	if (c->done) {
		ipc_close_fds(c->dfds, c->dn);
		json_decref(c->done);
	}
}

int client_trace(const struct client_trace_opts *o, int *exit_status)
{
	struct client c = {.o = o,
			   .socket = ipc_socket_path(o->socket),
			   .pidfd = -1,
			   .release_fd = -1,
			   .err_fd = -1};
	int status, ret = -1;

	*exit_status = EXIT_AICERT;
	if (o->out && ipc_out_usable(o->out))
		return -EINVAL;
	c.sock = ipc_connect(c.socket);
	if (c.sock == -ENOENT || c.sock == -ECONNREFUSED)
		return c.sock;
	if (c.sock < 0) {
		log_err("cannot connect to aicertd at %s: %s", c.socket, strerror(-c.sock));
		return c.sock;
	}
	signals_set(0);
	if (spawn(&c) || start(&c))
		goto cleanup;
	if (o->out)
		snprintf(c.out, sizeof(c.out), "%s", o->out);
	else
		default_out(&c);
	release(&c);
	ret = 0;
	if (!wait_command(&c, &status))
		goto cleanup;
	*exit_status = finish(&c, status);
cleanup:
	if (ret && stop_signal)
		*exit_status = 128 + stop_signal;
	cleanup(&c);
	return ret;
}
