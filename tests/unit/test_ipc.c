// SPDX-License-Identifier: BSD-2-Clause
/* test_ipc.c - aicertd's socket protocol over real sockets: socketpairs and a listening socket
 * in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <pthread.h>

#include <cmocka.h>

#include "lib/ipc.h"
#include "testutil.h"
#include "trace/client.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* Sends len raw bytes with n copies of fd (what a hostile peer could send). */
static void send_raw(int s, const void *p, size_t len, int fd, size_t n)
{
	size_t sz = CMSG_SPACE(n * sizeof(int));
	char *ctl = calloc(1, sz ? sz : 1);
	struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	assert_non_null(ctl);
	if (n) {
		struct cmsghdr *c;

		mh.msg_control = ctl;
		mh.msg_controllen = sz;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		for (size_t i = 0; i < n; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(s, &mh, 0), (ssize_t)len);
	free(ctl);
}

static void expect_bad(int s, int r, int before)
{
	int fds[IPC_FDS_MAX];
	size_t n = 99;
	json_t *m = (json_t *)1;

	assert_int_equal(ipc_recv(r, &m, fds, &n, 1000), -EBADMSG);
	assert_null(m);
	assert_int_equal(n, 0);
	assert_int_equal(open_fds(), before); /* every received descriptor closed */
	(void)s;
}

static void test_round_trip(void **state)
{
	int sv[2], p[2], fds[IPC_FDS_MAX], sent[2];
	size_t n;
	json_t *m = json_pack("{s:s, s:[s,s], s:i}", "op", "run", "argv", "echo", "hi", "jobs", 3);
	json_t *got;
	char c;

	pair(sv);
	assert_int_equal(pipe(p), 0);
	sent[0] = p[0];
	sent[1] = p[1];
	assert_int_equal(ipc_send(sv[0], m, sent, 2), 0);
	assert_int_equal(ipc_recv(sv[1], &got, fds, &n, 1000), 0);
	assert_true(json_equal(m, got));
	assert_int_equal(n, 2);
	for (size_t i = 0; i < 2; i++)
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
	/* the received write end feeds the original read end */
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	ipc_close_fds(fds, n);
	assert_int_equal(fds[0], -1);
	close(p[0]);
	close(p[1]);
	json_decref(got);
	/* no message waiting, then the peer's close */
	assert_int_equal(ipc_recv(sv[1], &got, fds, &n, 0), -ETIMEDOUT);
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], &got, fds, &n, 1000), -EPIPE);
	close(sv[1]);
	assert_int_equal(ipc_send(sv[1], m, NULL, 0), -EBADF);
	json_decref(m);
}

static void test_send_limits(void **state)
{
	char *big = malloc(IPC_MSG_MAX + 1);
	int sv[2], fds[IPC_FDS_MAX + 1] = {0};
	json_t *m;

	pair(sv);
	memset(big, 'a', IPC_MSG_MAX);
	big[IPC_MSG_MAX] = '\0';
	m = json_pack("{s:s, s:s}", "op", "say", "message", big);
	assert_int_equal(ipc_send(sv[0], m, NULL, 0), -EMSGSIZE);
	json_decref(m);
	m = json_pack("{s:s}", "op", "x");
	assert_int_equal(ipc_send(sv[0], m, fds, IPC_FDS_MAX + 1), -EINVAL);
	json_decref(m);
	m = json_array();
	assert_int_equal(ipc_send(sv[0], m, NULL, 0), -EINVAL);
	json_decref(m);
	free(big);
	close(sv[0]);
	close(sv[1]);
}

/* A datagram larger than IPC_MSG_MAX, and one with more descriptors than fit the control
 * buffer (MSG_CTRUNC): errors, and no descriptor of theirs is left open. */
static void test_truncated(void **state)
{
	size_t len = IPC_MSG_MAX + 100;
	char *big = malloc(len);
	int sv[2], before, one = open("/dev/null", O_RDONLY);
	int sz = 4 * len;

	pair(sv);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	before = open_fds();
	memset(big, ' ', len);
	memcpy(big, "{\"op\":\"x\"}", 10);
	send_raw(sv[0], big, len, one, 3);
	expect_bad(sv[0], sv[1], before);
	send_raw(sv[0], "{\"op\":\"x\"}", 10, one, IPC_FDS_MAX + 6);
	expect_bad(sv[0], sv[1], before);
	/* exactly IPC_FDS_MAX still goes */
	{
		int fds[IPC_FDS_MAX];
		size_t n;
		json_t *m;

		send_raw(sv[0], "{\"op\":\"x\"}", 10, one, IPC_FDS_MAX);
		assert_int_equal(ipc_recv(sv[1], &m, fds, &n, 1000), 0);
		assert_int_equal(n, IPC_FDS_MAX);
		ipc_close_fds(fds, n);
		json_decref(m);
	}
	assert_int_equal(open_fds(), before);
	close(one);
	close(sv[0]);
	close(sv[1]);
	free(big);
}

static void test_bad_json(void **state)
{
	static const char *const bad[] = {
	    "{not json",	 "[1,2]",      "\"op\"",
	    "{\"x\":1}",	 "{\"op\":1}", "{\"op\":\"a\",\"op\":\"b\"}",
	    "{\"op\":\"a\"} {}", "",	       "{\"op\":\"a\\ud800\"}"};
	char deep[200] = "{\"op\":\"x\",\"a\":", ok[200] = "{\"op\":\"x\",\"a\":";
	int sv[2], one = open("/dev/null", O_RDONLY), before;
	json_t *m;

	pair(sv);
	before = open_fds();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipc_decode(bad[i], strlen(bad[i]), &m), -EBADMSG);
		assert_null(m);
		if (!bad[i][0])
			continue;
		send_raw(sv[0], bad[i], strlen(bad[i]), one, 2);
		expect_bad(sv[0], sv[1], before);
	}
	/* nesting: IPC_DEPTH_MAX levels decode, one more does not */
	for (int i = 1; i < IPC_DEPTH_MAX; i++)
		strcat(ok, "[");
	for (int i = 1; i < IPC_DEPTH_MAX; i++)
		strcat(ok, "]");
	strcat(ok, "}");
	assert_int_equal(ipc_decode(ok, strlen(ok), &m), 0);
	json_decref(m);
	for (int i = 0; i < IPC_DEPTH_MAX; i++)
		strcat(deep, "[");
	for (int i = 0; i < IPC_DEPTH_MAX; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	assert_int_equal(ipc_decode(deep, strlen(deep), &m), -EBADMSG);
	/* brackets inside strings are not nesting */
	{
		static const char s[] =
		    "{\"op\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{\"}";

		assert_int_equal(ipc_decode(s, strlen(s), &m), 0);
	}
	json_decref(m);
	close(one);
	close(sv[0]);
	close(sv[1]);
}

static void test_error_and_path(void **state)
{
	int sv[2], fds[IPC_FDS_MAX];
	size_t n;
	json_t *m;

	pair(sv);
	assert_int_equal(ipc_error(sv[0], "denied", "uid %d is not\nyours", 7), 0);
	assert_int_equal(ipc_recv(sv[1], &m, fds, &n, 1000), 0);
	assert_string_equal(json_string_value(json_object_get(m, "op")), "error");
	assert_string_equal(json_string_value(json_object_get(m, "code")), "denied");
	assert_string_equal(json_string_value(json_object_get(m, "message")), "uid 7 is not yours");
	json_decref(m);
	close(sv[0]);
	close(sv[1]);

	unsetenv("AICERT_SOCKET");
	assert_string_equal(ipc_socket_path(NULL), IPC_SOCKET_DEFAULT);
	setenv("AICERT_SOCKET", "", 1);
	assert_string_equal(ipc_socket_path(NULL), IPC_SOCKET_DEFAULT);
	setenv("AICERT_SOCKET", "/tmp/e.sock", 1);
	assert_string_equal(ipc_socket_path(NULL), "/tmp/e.sock");
	assert_string_equal(ipc_socket_path("/tmp/o.sock"), "/tmp/o.sock");
	unsetenv("AICERT_SOCKET");
}

static void test_listen(void **state)
{
	char dir[64], path[128], file[128];
	struct ucred uc;
	struct stat st;
	int l, c, a, l2;

	assert_int_equal(tu_mkdtemp(dir, "ipc"), 0);
	snprintf(path, sizeof(path), "%s/run/aicert/d.sock", dir);
	assert_int_equal(ipc_connect(path), -ENOENT);
	l = ipc_listen(path);
	assert_true(l >= 0);
	assert_true(fcntl(l, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	c = ipc_connect(path);
	assert_true(c >= 0);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(ipc_peer(a, &uc), 0);
	assert_int_equal(uc.pid, getpid());
	assert_int_equal(uc.uid, getuid());
	assert_int_equal(uc.gid, getgid());
	/* a live daemon is never replaced */
	assert_int_equal(ipc_listen(path), -EADDRINUSE);
	close(c);
	close(a);
	/* a stale socket (its daemon died) is */
	close(l);
	assert_int_equal(ipc_connect(path), -ECONNREFUSED);
	l2 = ipc_listen(path);
	assert_true(l2 >= 0);
	c = ipc_connect(path);
	assert_true(c >= 0);
	close(c);
	close(l2);
	/* something that is not a socket is left alone */
	snprintf(file, sizeof(file), "%s/plain", dir);
	tu_write_file(file, "keep", 4);
	assert_int_equal(ipc_listen(file), -EEXIST);
	assert_int_equal(stat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(ipc_connect(file), -ECONNREFUSED);
	memset(file, 'a', sizeof(file) - 1);
	file[0] = '/';
	file[sizeof(file) - 1] = '\0';
	assert_int_equal(ipc_listen(file), -ENAMETOOLONG);
	assert_int_equal(tu_rmrf(dir), 0);
}

static void make_file(const char *dir, const char *name, size_t len)
{
	char path[256];
	char *b = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		b[i] = (char)('a' + (i * 7 + strlen(name)) % 26);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	tu_write_file(path, b, len);
	free(b);
}

static void same_file(const char *a, const char *b, const char *name)
{
	char pa[256], pb[256];
	size_t la, lb;
	uint8_t *da, *db;

	snprintf(pa, sizeof(pa), "%s/%s", a, name);
	snprintf(pb, sizeof(pb), "%s/%s", b, name);
	da = tu_read_file(pa, &la);
	db = tu_read_file(pb, &lb);
	assert_non_null(da);
	assert_non_null(db);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	free(da);
	free(db);
}

/* Sends src with ipc_send_dir and writes what arrives into out; returns ipc_recv_dir's. */
static int transfer(const char *src, const char *out, json_t **got)
{
	int sv[2], fds[IPC_FDS_MAX], ret;
	size_t n;
	json_t *m = json_pack("{s:s, s:s}", "op", "bundle", "id", "x");

	pair(sv);
	assert_int_equal(ipc_send_dir(sv[0], m, src), 0);
	assert_int_equal(ipc_recv(sv[1], got, fds, &n, 1000), 0);
	ret = ipc_recv_dir(*got, fds, n, out);
	ipc_close_fds(fds, n);
	json_decref(m);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

static void test_dir(void **state)
{
	char dir[64], src[128], out[128], empty[128], busy[128], path[256];
	static const char *const names[] = {"bom.json", "empty", "events.cel"};
	struct stat st;
	json_t *got;

	assert_int_equal(tu_mkdtemp(dir, "ipcdir"), 0);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(out, sizeof(out), "%s/out/", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	snprintf(busy, sizeof(busy), "%s/busy", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	make_file(src, "events.cel", 300000);
	make_file(src, "empty", 0);
	make_file(src, "bom.json", 1000);
	snprintf(path, sizeof(path), "%s/bom.json", src);
	assert_int_equal(chmod(path, 0644), 0);
	{
		mode_t old = umask(027);

		assert_int_equal(transfer(src, out, &got), 0);
		umask(old);
	}
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(got, "files"), i)), names[i]);
		same_file(src, out, names[i]);
	}
	json_decref(got);
	/* the sender's file modes whatever the umask; the directory's is 0755 less the umask */
	snprintf(path, sizeof(path), "%s/bom.json", out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);
	assert_int_equal(ipc_dir_usable(out), -EEXIST);
	/* again into the same directory: refused, it is not empty */
	assert_int_equal(transfer(src, out, &got), -EEXIST);
	json_decref(got);
	/* an empty directory is fine; a file or a symbolic link is not a directory */
	assert_int_equal(mkdir(empty, 0755), 0);
	assert_int_equal(transfer(src, empty, &got), 0);
	json_decref(got);
	same_file(src, empty, "events.cel");
	make_file(dir, "busy", 3);
	assert_int_equal(transfer(src, busy, &got), -ENOTDIR);
	json_decref(got);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink(empty, path), 0);
	assert_int_equal(ipc_dir_usable(path), -ENOTDIR);
	/* nothing partial left beside them */
	assert_int_equal(system("test $(ls /tmp/aicert-test-ipcdir.*/ | grep -c partial) = 0"), 0);
	/* a symbolic link or a FIFO in the source: nothing is sent */
	{
		int sv[2], fds[IPC_FDS_MAX];
		size_t n;
		json_t *m = json_pack("{s:s}", "op", "bundle");

		pair(sv);
		snprintf(path, sizeof(path), "%s/evil", src);
		assert_int_equal(symlink("/etc/shadow", path), 0);
		assert_int_equal(ipc_send_dir(sv[0], m, src), -ELOOP);
		unlink(path);
		assert_int_equal(mkfifo(path, 0600), 0);
		assert_int_equal(ipc_send_dir(sv[0], m, src), -EINVAL);
		unlink(path);
		assert_int_equal(ipc_recv(sv[1], &got, fds, &n, 0), -ETIMEDOUT);
		json_decref(m);
		close(sv[0]);
		close(sv[1]);
	}
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(tu_rmrf(dir), 0);
}

/* What a hostile sender could put in "files": refused, and nothing written anywhere. */
static void test_recv_dir_names(void **state)
{
	static const char *const bad[] = {"../x", "a/b", ".", "..", "", "x\ny"};
	char dir[64], out[128], path[320];
	int fd, p[2];
	json_t *m;

	assert_int_equal(tu_mkdtemp(dir, "ipcnames"), 0);
	snprintf(out, sizeof(out), "%s/sub/out", dir);
	snprintf(path, sizeof(path), "%s/f", dir);
	make_file(dir, "f", 10);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDONLY);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = json_pack("{s:s, s:[s]}", "op", "bundle", "files", bad[i]);
		assert_int_equal(ipc_recv_dir(m, &fd, 1, out), -EBADMSG);
		json_decref(m);
	}
	/* a count that does not match, a name listed twice, a list that is not one */
	m = json_pack("{s:s, s:[s,s]}", "op", "bundle", "files", "a", "b");
	assert_int_equal(ipc_recv_dir(m, &fd, 1, out), -EBADMSG);
	json_decref(m);
	{
		int two[2] = {fd, fd};

		m = json_pack("{s:s, s:[s,s]}", "op", "bundle", "files", "a", "a");
		assert_int_equal(ipc_recv_dir(m, two, 2, out), -EBADMSG);
		json_decref(m);
	}
	m = json_pack("{s:s, s:s}", "op", "bundle", "files", "a");
	assert_int_equal(ipc_recv_dir(m, &fd, 1, out), -EBADMSG);
	json_decref(m);
	/* a descriptor that is not a regular file (it would block the reader) */
	assert_int_equal(pipe(p), 0);
	m = json_pack("{s:s, s:[s]}", "op", "bundle", "files", "a");
	assert_int_equal(ipc_recv_dir(m, &p[0], 1, out), -EBADMSG);
	json_decref(m);
	close(p[0]);
	close(p[1]);
	close(fd);
	snprintf(path, sizeof(path), "test \"$(ls -A %s/sub)\" = '' && ! test -e %s/x", dir, dir);
	assert_int_equal(system(path), 0);
	assert_int_equal(tu_rmrf(dir), 0);
}

/*
 * client_trace's half of the protocol, against a peer that makes the daemon's checks with the
 * real kernel objects: the pidfd names a child of the peer (PPid), that child has not executed
 * anything yet (its /proc/PID/exe is still this test program), and it runs only after
 * "started". aicertd itself answers in tests/integration/90-aicertd.sh.
 */
enum peer_mode { PEER_RUN, PEER_REFUSE, PEER_VANISH, PEER_SIGNAL };

struct peer {
	int lfd;
	enum peer_mode mode;
	const char *bundle;
	const char *fifo; /* PEER_SIGNAL: the command says "ready" here, then gets SIGUSR1 */
	int blocked, is_child, exited, status;
};

/* The number after key ("Pid:", "PPid:") in a /proc status-like file; -1 when absent. */
static int proc_number(const char *path, const char *key)
{
	char line[128];
	FILE *f = fopen(path, "r");
	int v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && sscanf(line + strlen(key), "%d", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static int pid_of_pidfd(int pidfd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	return proc_number(path, "Pid:");
}

static int ppid_of(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_number(path, "PPid:");
}

static int same_exe(int pid)
{
	char a[64], ea[PATH_MAX] = "", eb[PATH_MAX] = "";

	snprintf(a, sizeof(a), "/proc/%d/exe", pid);
	return readlink(a, ea, sizeof(ea) - 1) > 0 &&
	       readlink("/proc/self/exe", eb, sizeof(eb) - 1) > 0 && !strcmp(ea, eb);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	int c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC), fds[IPC_FDS_MAX], pid;
	struct ucred uc;
	size_t n;
	json_t *m;

	if (c < 0 || ipc_peer(c, &uc) || ipc_recv(c, &m, fds, &n, 10000))
		return NULL;
	pid = n == 1 ? pid_of_pidfd(fds[0]) : -1;
	p->is_child = pid > 0 && ppid_of(pid) == uc.pid &&
		      !strcmp(json_string_value(json_object_get(m, "op")), "run");
	p->blocked = pid > 0 && same_exe(pid);
	json_decref(m);
	ipc_close_fds(fds, n);
	if (p->mode == PEER_REFUSE) {
		ipc_error(c, "denied", "refused by the test");
		goto out;
	}
	m = json_pack("{s:s, s:s, s:s}", "op", "say", "level", "warn", "message", "from the peer");
	ipc_send(c, m, NULL, 0);
	json_decref(m);
	m = json_pack("{s:s, s:s, s:s, s:s}", "op", "started", "id",
		      "0123abcd-1111-2222-3333-444455556666", "backend", "tracepoint", "cgroup",
		      "/aicert/x");
	ipc_send(c, m, NULL, 0);
	json_decref(m);
	if (p->mode == PEER_VANISH)
		goto out;
	if (p->mode == PEER_SIGNAL) {
		/* a signal sent to the client (SI_USER) reaches the command */
		char line[16] = "";
		FILE *f = fopen(p->fifo, "r");

		if (!f || !fgets(line, sizeof(line), f))
			goto out;
		fclose(f);
		kill(getpid(), SIGUSR1);
	}
	if (ipc_recv(c, &m, fds, &n, 10000))
		goto out;
	p->exited = !strcmp(json_string_value(json_object_get(m, "op")), "exited");
	p->status = (int)json_integer_value(json_object_get(m, "status"));
	json_decref(m);
	m = json_pack("{s:s, s:s, s:i, s:b, s:b}", "op", "done", "id", "0123abcd", "exit_status",
		      WEXITSTATUS(p->status), "strict_fail", 0, "complete", 1);
	ipc_send_dir(c, m, p->bundle);
	json_decref(m);
out:
	close(c);
	return NULL;
}

static int client_against(struct peer *p, const char *dir, char *const *argv, const char *out,
			  int *rc)
{
	char sock[128];
	struct client_trace_opts o = {
	    .socket = sock, .out = out, .argv = argv, .detach_timeout = -1, .verbosity = 1};
	pthread_t t;
	int ret;

	snprintf(sock, sizeof(sock), "%s/d.sock", dir);
	p->lfd = ipc_listen(sock);
	assert_true(p->lfd >= 0);
	assert_int_equal(pthread_create(&t, NULL, peer_main, p), 0);
	ret = client_trace(&o, rc);
	pthread_join(t, NULL);
	close(p->lfd);
	return ret;
}

static void test_client(void **state)
{
	char dir[64], src[128], out[128], marker[128], sock[128];
	char *const run3[] = {"sh", "-c", "exit 3", NULL};
	char *argv_touch[] = {"touch", marker, NULL};
	struct peer p = {0};
	int rc = -1;

	assert_int_equal(tu_mkdtemp(dir, "ipcclient"), 0);
	snprintf(src, sizeof(src), "%s/spool", dir);
	snprintf(out, sizeof(out), "%s/bundle", dir);
	snprintf(marker, sizeof(marker), "%s/ran", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	make_file(src, "bom.json", 500);
	make_file(src, "events.cel", 70000);

	/* nothing listens: no daemon, nothing run */
	snprintf(sock, sizeof(sock), "%s/none.sock", dir);
	{
		struct client_trace_opts o = {.socket = sock, .argv = argv_touch, .verbosity = 1};

		assert_int_equal(client_trace(&o, &rc), -ENOENT);
	}
	/* a run: the child waits for "started", its status goes back, the bundle comes here */
	p.bundle = src;
	assert_int_equal(client_against(&p, dir, run3, out, &rc), 0);
	assert_int_equal(rc, 3);
	assert_true(p.is_child);
	assert_true(p.blocked);
	assert_true(p.exited);
	assert_true(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 3);
	same_file(src, out, "bom.json");
	same_file(src, out, "events.cel");
	/* refused before "started": the command never runs, exit 125 */
	p = (struct peer){.mode = PEER_REFUSE};
	assert_int_not_equal(client_against(&p, dir, argv_touch, NULL, &rc), 0);
	assert_int_equal(rc, 125);
	assert_true(p.blocked);
	assert_int_equal(access(marker, F_OK), -1);
	/* the daemon goes away during the run: the command still ends, exit 125 */
	p = (struct peer){.mode = PEER_VANISH};
	assert_int_equal(client_against(&p, dir, argv_touch, NULL, &rc), 0);
	assert_int_equal(rc, 125);
	assert_int_equal(access(marker, F_OK), 0);
	/* USR1 sent to aicert-trace is forwarded to the command */
	{
		char fifo[128], script[300];
		char *const trapped[] = {"sh", "-c", script, NULL};

		snprintf(fifo, sizeof(fifo), "%s/ready", dir);
		snprintf(out, sizeof(out), "%s/bundle2", dir);
		assert_int_equal(mkfifo(fifo, 0600), 0);
		snprintf(script, sizeof(script),
			 "trap 'kill $!; exit 7' USR1; sleep 1000 & echo ready > %s; wait", fifo);
		p = (struct peer){.mode = PEER_SIGNAL, .bundle = src, .fifo = fifo};
		assert_int_equal(client_against(&p, dir, trapped, out, &rc), 0);
		assert_int_equal(rc, 7);
		assert_true(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 7);
		same_file(src, out, "bom.json");
	}
	/* -o that is not empty: refused before anything */
	p = (struct peer){0};
	{
		struct client_trace_opts o = {.socket = sock, .out = src, .argv = run3};

		assert_int_equal(client_trace(&o, &rc), -EINVAL);
		assert_int_equal(rc, 125);
	}
	assert_int_equal(tu_rmrf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_send_limits),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_bad_json),
	    cmocka_unit_test(test_error_and_path),
	    cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_dir),
	    cmocka_unit_test(test_recv_dir_names),
	    cmocka_unit_test(test_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
