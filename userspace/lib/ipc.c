// SPDX-License-Identifier: BSD-2-Clause
/*
 * ipc.c - aicertd's socket protocol (see ipc.h and docs/aicertd.md): SOCK_SEQPACKET keeps
 * message boundaries, so one recvmsg is one message and a datagram larger than the buffer is
 * reported (MSG_TRUNC) instead of being split.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/ipc.h"
#include "lib/log.h"

const char *ipc_socket_path(const char *opt)
{
	const char *env = getenv("AICERT_SOCKET");

	if (opt && *opt)
		return opt;
	return env && *env ? env : IPC_SOCKET_DEFAULT;
}

static int sockaddr_of(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	if (!n)
		return -EINVAL;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

int ipc_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = sockaddr_of(path, &sa);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EINTR)
			continue;
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* mkdir -p of path's parent directory, 0755. */
static int mkdir_parent(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* What is at path before we bind: nothing, a stale socket (removed), or a reason to stop. */
static int clear_stale(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = ipc_connect(path);
	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (fd != -ECONNREFUSED)
		return fd;
	return unlink(path) && errno != ENOENT ? -errno : 0;
}

int ipc_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = sockaddr_of(path, &sa);

	if (!ret)
		ret = mkdir_parent(path);
	if (!ret)
		ret = clear_stale(path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) ||
	    listen(fd, SOMAXCONN)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int ipc_send(int fd, json_t *msg, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(IPC_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char *text;
	struct iovec iov;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	size_t len;
	int ret = 0;

	if (nfds > IPC_FDS_MAX || !json_is_object(msg))
		return -EINVAL;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (len > IPC_MSG_MAX) {
		free(text);
		return -EMSGSIZE;
	}
	iov = (struct iovec){.iov_base = text, .iov_len = len};
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		ret = errno == ECONNRESET ? -EPIPE : -errno;
		break;
	}
	free(text);
	return ret;
}

/* The deepest nesting of arrays and objects in a JSON text, counted outside strings; it stops
 * counting past IPC_DEPTH_MAX, so jansson never recurses deeper than that. */
static int too_deep(const char *p, size_t len)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > IPC_DEPTH_MAX)
				return 1;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

int ipc_decode(const void *buf, size_t len, json_t **msg)
{
	json_error_t err;
	json_t *j;

	*msg = NULL;
	if (!len || len > IPC_MSG_MAX || too_deep(buf, len))
		return -EBADMSG;
	/* no JSON_DECODE_ANY: only an object or an array decodes */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return -EBADMSG;
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "op"))) {
		json_decref(j);
		return -EBADMSG;
	}
	*msg = j;
	return 0;
}

void ipc_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Takes every SCM_RIGHTS descriptor out of mh into fds; 0, or -EBADMSG for more than fit. */
static int take_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
	int ret = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < IPC_FDS_MAX)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				ret = -EBADMSG;
			}
		}
	}
	return ret;
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

int ipc_recv(int fd, json_t **msg, int *fds, size_t *nfds, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(IPC_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	static __thread char buf[IPC_MSG_MAX];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl)};
	ssize_t n;
	int ret;

	*msg = NULL;
	*nfds = 0;
	ret = wait_readable(fd, timeout_ms);
	if (ret)
		return ret;
	/* MSG_TRUNC in the flags: recvmsg returns the datagram's real length */
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	ret = take_fds(&mh, fds, nfds);
	if (n == 0 && !*nfds)
		return -EPIPE;
	if (!ret && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || (size_t)n > sizeof(buf)))
		ret = -EBADMSG;
	if (!ret)
		ret = ipc_decode(buf, (size_t)n, msg);
	if (ret)
		ipc_close_fds(fds, *nfds), *nfds = 0;
	return ret;
}

int ipc_peer(int fd, struct ucred *out)
{
	socklen_t len = sizeof(*out);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len) ? -errno : 0;
}

int ipc_error(int fd, const char *code, const char *fmt, ...)
{
	char text[1024];
	json_t *m;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	m = json_pack("{s:s, s:s, s:s}", "op", "error", "code", code, "message", text);
	if (!m)
		return -ENOMEM;
	ret = ipc_send(fd, m, NULL, 0);
	json_decref(m);
	return ret;
}

int ipc_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int ipc_dir_usable(const char *dir)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int ret = 0;

	if (lstat(dir, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	d = opendir(dir);
	if (!d)
		return -errno;
	while (!ret && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			ret = -EEXIST;
	closedir(d);
	return ret;
}

int ipc_out_usable(const char *dir)
{
	int r = ipc_dir_usable(dir);

	if (r == -EEXIST)
		log_err("%s is not empty; choose a new -o directory", dir);
	else if (r == -ENOTDIR)
		log_err("%s is not a directory", dir);
	else if (r)
		log_err("cannot use %s: %s", dir, strerror(-r));
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir's entry names (not "." and ".."), sorted; at most IPC_FDS_MAX. */
static int list_dir(DIR *d, const char *dir, char *names[IPC_FDS_MAX], size_t *n)
{
	struct dirent *e;

	*n = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!ipc_name_ok(e->d_name)) {
			log_err("%s: a file name that cannot be sent", dir);
			return -EINVAL;
		}
		if (*n == IPC_FDS_MAX) {
			log_err("%s: more than %d files", dir, IPC_FDS_MAX);
			return -E2BIG;
		}
		names[*n] = strdup(e->d_name);
		if (!names[(*n)++])
			return -ENOMEM;
	}
	qsort(names, *n, sizeof(*names), cmp_names);
	return 0;
}

/* Opens the n names in dfd as regular files into fds and lists them in files. */
static int open_all(int dfd, const char *dir, char **names, size_t n, int *fds, json_t *files)
{
	char why[FILEIO_WHY_MAX];

	for (size_t i = 0; i < n; i++) {
		fds[i] = fileio_open_regular(dfd, names[i], UINT64_MAX, 0, why);
		if (fds[i] < 0) {
			int ret = fds[i];

			log_err("%s: %s", dir, why);
			return ret;
		}
		if (json_array_append_new(files, json_string(names[i])))
			return -ENOMEM;
	}
	return 0;
}

int ipc_send_dir(int fd, json_t *msg, const char *dir)
{
	char *names[IPC_FDS_MAX];
	int fds[IPC_FDS_MAX];
	size_t n = 0;
	json_t *files = json_array();
	DIR *d = opendir(dir);
	int ret;

	for (size_t i = 0; i < IPC_FDS_MAX; i++)
		fds[i] = -1;
	if (!d || !files) {
		ret = d ? -ENOMEM : -errno;
		if (!d)
			log_err("cannot read %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	ret = list_dir(d, dir, names, &n);
	if (!ret)
		ret = open_all(dirfd(d), dir, names, n, fds, files);
	if (!ret && json_object_set(msg, "files", files))
		ret = -ENOMEM;
	if (!ret)
		ret = ipc_send(fd, msg, fds, n);
cleanup:
	ipc_close_fds(fds, n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	json_decref(files);
	if (d)
		closedir(d);
	return ret;
}

/* Copies the regular file in from offset 0 into the new file name in dfd, fsync'ed. */
static int copy_in(int dfd, const char *name, int in)
{
	char buf[1 << 16];
	struct stat st;
	off_t off = 0;
	ssize_t r;
	int out, ret = 0;

	if (fstat(in, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return errno == EEXIST ? -EBADMSG : -errno; /* a name listed twice */
	/* the sender's mode whatever the umask, as the bundle's writer sets it (0644) */
	if (fchmod(out, st.st_mode & 0666))
		ret = -errno;
	while (!ret && (r = pread(in, buf, sizeof(buf), off)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (ret = fileio_write_all(out, buf, (size_t)r))) {
			ret = r < 0 ? -errno : ret;
			break;
		}
		off += r;
	}
	if (!ret && fsync(out))
		ret = -errno;
	if (close(out) && !ret)
		ret = -errno;
	return ret;
}

static int check_files(const json_t *msg, size_t nfds)
{
	const json_t *files = json_object_get(msg, "files"), *v;
	size_t i;

	if (!json_is_array(files) || json_array_size(files) != nfds)
		return -EBADMSG;
	json_array_foreach(files, i, v)
	{
		if (!json_is_string(v) || !ipc_name_ok(json_string_value(v)))
			return -EBADMSG;
	}
	return 0;
}

/* mkdir "<dst>.partial-XXXXXX", 0755 less the umask (a bundle directory as standalone makes
 * it); mkdtemp's 0700 would need the umask read, which is process-wide. */
static int mkdir_partial(const char *dst, char tmp[PATH_MAX + 16])
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t rnd[6];

	for (int tries = 0; tries < 100; tries++) {
		if (getentropy(rnd, sizeof(rnd)))
			return -errno;
		snprintf(tmp, PATH_MAX + 16, "%s.partial-%c%c%c%c%c%c", dst, set[rnd[0] % 62],
			 set[rnd[1] % 62], set[rnd[2] % 62], set[rnd[3] % 62], set[rnd[4] % 62],
			 set[rnd[5] % 62]);
		if (!mkdir(tmp, 0755))
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Removes the n first files of the list and the directory (a failed ipc_recv_dir). */
static void remove_partial(int dfd, const char *path, const json_t *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unlinkat(dfd, json_string_value(json_array_get(files, i)), 0);
	rmdir(path);
}

static int fsync_parent(const char *path)
{
	char buf[PATH_MAX], *slash;
	int fd, ret = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash)
		*(slash == buf ? slash + 1 : slash) = '\0';
	fd = open(slash ? buf : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int ipc_recv_dir(const json_t *msg, const int *fds, size_t nfds, const char *out)
{
	const json_t *files = json_object_get(msg, "files");
	char dst[PATH_MAX], tmp[PATH_MAX + 16];
	size_t n = strlen(out), done = 0;
	int dfd = -1, ret;

	if (!n || n >= sizeof(dst))
		return -ENAMETOOLONG;
	memcpy(dst, out, n + 1);
	while (n > 1 && dst[n - 1] == '/')
		dst[--n] = '\0';
	ret = check_files(msg, nfds);
	if (!ret)
		ret = ipc_dir_usable(dst);
	if (ret)
		return ret;
	ret = mkdir_partial(dst, tmp);
	if (ret)
		return ret;
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		ret = -errno;
	for (; !ret && done < nfds; done++)
		ret = copy_in(dfd, json_string_value(json_array_get(files, done)), fds[done]);
	if (!ret && fsync(dfd))
		ret = -errno;
	if (!ret && rename(tmp, dst))
		ret = errno == ENOTEMPTY ? -EEXIST : -errno;
	if (!ret)
		ret = fsync_parent(dst);
	else if (dfd >= 0)
		remove_partial(dfd, tmp, files, done);
	else
		rmdir(tmp);
	if (dfd >= 0)
		close(dfd);
	return ret;
}
