// SPDX-License-Identifier: BSD-2-Clause
#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int fileio_write_atomic(const char *path, const void *p, size_t len, mode_t mode, int flags)
{
	char *tmp = NULL;
	int fd = -1, ret = 0;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	if ((flags & FILEIO_EXACT_MODE) && fchmod(fd, mode))
		ret = -errno;
	if (!ret)
		ret = fileio_write_all(fd, p, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	fd = -1;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		goto cleanup;
	}
	sync_dir(path);
cleanup:
	free(tmp);
	return ret;
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
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
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
