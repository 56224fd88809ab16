// SPDX-License-Identifier: BSD-2-Clause
#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

int fileio_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -errno;
		}
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The rename itself must survive a crash too; most file systems order it, so best effort. */
static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int dfd;

	if (slash && !(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))))
		return;
	dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
}

int fileio_atomic_begin(struct fileio_atomic *a, const char *path, mode_t mode, int flags)
{
	a->path = path;
	a->fd = -1;
	a->err = 0;
	if (asprintf(&a->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		a->tmp = NULL;
		return a->err = -ENOMEM;
	}
	a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (a->fd < 0)
		a->err = -errno;
	else if ((flags & FILEIO_EXACT_MODE) && fchmod(a->fd, mode))
		a->err = -errno;
	return a->err;
}

int fileio_atomic_write(struct fileio_atomic *a, const void *p, size_t len)
{
	if (!a->err && a->fd >= 0)
		a->err = fileio_write_all(a->fd, p, len);
	return a->err;
}

int fileio_atomic_sink(void *ctx, const char *p, size_t n)
{
	return fileio_atomic_write(ctx, p, n);
}

int fileio_atomic_end(struct fileio_atomic *a, int failed)
{
	int ret = a->err ? a->err : failed;

	if (a->fd >= 0) {
		if (!ret && fsync(a->fd))
			ret = -errno;
		if (close(a->fd) && !ret)
			ret = -errno;
		a->fd = -1;
		if (!ret && rename(a->tmp, a->path))
			ret = -errno;
		if (ret)
			unlink(a->tmp);
		else
			sync_dir(a->path);
	}
	free(a->tmp);
	a->tmp = NULL;
	return ret;
}

int fileio_write_atomic(const char *path, const void *p, size_t len, mode_t mode, int flags)
{
	struct fileio_atomic a;

	if (!fileio_atomic_begin(&a, path, mode, flags))
		fileio_atomic_write(&a, p, len);
	return fileio_atomic_end(&a, 0);
}

static ssize_t read_retry(int fd, void *b, size_t n)
{
	ssize_t r;

	while ((r = read(fd, b, n)) < 0 && errno == EINTR)
		;
	return r;
}

int fileio_read_fd(int fd, size_t max, uint8_t **buf, size_t *len)
{
	/* one byte past max tells "larger than max" from "exactly max" */
	size_t limit = max < SIZE_MAX ? max + 1 : SIZE_MAX, cap = 1 << 16, n = 0;
	struct stat st;
	uint8_t *b, *nb;
	int ret = 0;

	/* sized from fstat plus one byte, so a regular file is read without a realloc */
	if (!fstat(fd, &st) && st.st_size > 0 && (uint64_t)st.st_size < limit)
		cap = (size_t)st.st_size + 1;
	if (!(b = malloc(cap)))
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (n >= limit) {
				ret = -EFBIG;
				break;
			}
			cap = cap > limit / 2 ? limit : cap * 2;
			if (!(nb = realloc(b, cap))) {
				ret = -ENOMEM;
				break;
			}
			b = nb;
		}
		r = read_retry(fd, b + n, cap - n);
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!ret && n > max)
		ret = -EFBIG;
	if (ret) {
		free(b);
		return ret;
	}
	b[n] = '\0'; /* the loop only ends on EOF with room left */
	*buf = b;
	*len = n;
	return 0;
}

int fileio_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = fileio_read_fd(fd, max, buf, len);
	close(fd);
	return ret;
}

const char *fileio_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "a file of unknown type";
	}
}

static int refuse(char *why, const char *name, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(char *why, const char *name, int err, const char *fmt, ...)
{
	char text[FILEIO_WHY_MAX - 210];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(why, FILEIO_WHY_MAX, "%.200s: %s", name, text);
	return -err;
}

/* The file as it is: a link is reported as one, anything but a regular file refused. */
static int check_type(const struct stat *st, const char *name, uint64_t max, char *why)
{
	if (S_ISLNK(st->st_mode))
		return refuse(why, name, ELOOP, "is a symbolic link, not a regular file");
	if (!S_ISREG(st->st_mode))
		return refuse(why, name, EINVAL, "is %s, not a regular file",
			      fileio_type_name(st->st_mode));
	if ((uint64_t)st->st_size > max)
		return refuse(why, name, EFBIG, "larger than %llu bytes (%llu)",
			      (unsigned long long)max, (unsigned long long)st->st_size);
	return 0;
}

int fileio_open_regular(int dfd, const char *name, uint64_t max, int flags,
			char why[FILEIO_WHY_MAX])
{
	int nofollow = flags & FILEIO_FOLLOW ? 0 : O_NOFOLLOW;
	struct stat before, st;
	int fd, ret, fl;

	if (fstatat(dfd, name, &before, nofollow ? AT_SYMLINK_NOFOLLOW : 0))
		return refuse(why, name, errno, "%s", strerror(errno));
	if ((ret = check_type(&before, name, max, why)))
		return ret;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | nofollow);
	if (fd < 0)
		return refuse(why, name, errno, "%s",
			      errno == ELOOP ? "is a symbolic link, not a regular file"
					     : strerror(errno));
	/* what was opened is checked, not what the name said a moment before */
	if (fstat(fd, &st)) {
		ret = refuse(why, name, errno, "%s", strerror(errno));
	} else if (!(ret = check_type(&st, name, max, why)) &&
		   (st.st_dev != before.st_dev || st.st_ino != before.st_ino)) {
		ret = refuse(why, name, EAGAIN, "replaced while being opened");
	} else if (!ret &&
		   ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
		ret = refuse(why, name, errno, "%s", strerror(errno));
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int fileio_read_regular(int dfd, const char *name, size_t max, uint8_t **buf, size_t *len,
			char why[FILEIO_WHY_MAX])
{
	int fd = fileio_open_regular(dfd, name, max, 0, why), ret;

	if (fd < 0)
		return fd;
	ret = fileio_read_fd(fd, max, buf, len);
	close(fd);
	if (ret == -EFBIG)
		return refuse(why, name, EFBIG, "grew past %zu bytes while being read", max);
	if (ret)
		return refuse(why, name, -ret, "%s", strerror(-ret));
	return 0;
}

int fileio_sha256_fd(int fd, uint8_t out[32], uint64_t *size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[1 << 16];
	uint64_t total = 0;
	int ret = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	for (;;) {
		ssize_t r = read_retry(fd, buf, sizeof(buf));

		if (r <= 0) {
			ret = r < 0 ? -errno : 0;
			break;
		}
		total += (uint64_t)r;
		if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1) {
			ret = -EIO;
			break;
		}
	}
	if (!ret && EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		ret = -EIO;
	EVP_MD_CTX_free(ctx);
	if (!ret && size)
		*size = total;
	return ret;
}

int fileio_mkdirs(const char *path, mode_t parent_mode, mode_t mode)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -ENAMETOOLONG;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, parent_mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}
