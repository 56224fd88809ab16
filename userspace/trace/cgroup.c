// SPDX-License-Identifier: BSD-2-Clause
/*
 * cgroup.c - the run's own cgroup v2: created under <cgroup2 root>/aicert/, joined by the traced
 * command before exec, watched through cgroup.events until it is empty, killed and removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "trace/cgroup.h"

#define CGROUP2_FALLBACK "/run/aicert/cgroup2"
#define FILEID_KERNFS 0xfe /* kernfs (cgroupfs) file handles carry the 64-bit id */

static int mkdir_ok(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST) {
		int err = -errno;

		log_err("cannot create %s: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

static int find_cgroup2(char *buf, size_t len)
{
	struct mntent *m;
	FILE *f = setmntent("/proc/mounts", "r");
	int ret = -ENOENT;

	if (!f) {
		ret = -errno;
		log_err("cannot open /proc/mounts: %s", strerror(errno));
		return ret;
	}
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		if ((size_t)snprintf(buf, len, "%s", m->mnt_dir) >= len) {
			ret = -ENAMETOOLONG;
			break;
		}
		ret = 0;
		break;
	}
	endmntent(f);
	return ret;
}

int cgroup2_root(char *buf, size_t len)
{
	int ret = find_cgroup2(buf, len);

	if (ret != -ENOENT)
		return ret;
	/* no cgroup2 anywhere (e.g. a minimal VM init): mount our own view of the hierarchy */
	if ((ret = mkdir_ok("/run/aicert")) || (ret = mkdir_ok(CGROUP2_FALLBACK)))
		return ret;
	if (mount("cgroup2", CGROUP2_FALLBACK, "cgroup2", 0, NULL) && errno != EBUSY) {
		ret = -errno;
		log_err("cannot mount cgroup2 on %s: %s", CGROUP2_FALLBACK, strerror(errno));
		return ret;
	}
	log_info("mounted cgroup2 on %s", CGROUP2_FALLBACK);
	if ((size_t)snprintf(buf, len, "%s", CGROUP2_FALLBACK) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[4200];
	int fd, ret = 0;
	size_t n = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		ret = -errno;
	close(fd);
	return ret;
}

int run_cgroup_create(struct run_cgroup *cg, const char *name)
{
	char root[4000], parent[4096], events[4200];
	struct stat st;
	int ret;

	memset(cg, 0, sizeof(*cg));
	cg->events_fd = -1;
	if ((ret = cgroup2_root(root, sizeof(root))))
		return ret;
	snprintf(parent, sizeof(parent), "%s/aicert", root);
	if ((ret = mkdir_ok(parent)))
		return ret;
	if ((size_t)snprintf(cg->path, sizeof(cg->path), "%s/%s", parent, name) >= sizeof(cg->path))
		return -ENAMETOOLONG;
	if (mkdir(cg->path, 0755)) {
		ret = -errno;
		log_err("cannot create cgroup %s: %s", cg->path, strerror(errno));
		cg->path[0] = 0;
		return ret;
	}
	if (stat(cg->path, &st)) {
		ret = -errno;
		log_err("cannot stat %s: %s", cg->path, strerror(errno));
		goto cleanup;
	}
	cg->id = st.st_ino;
	snprintf(events, sizeof(events), "%s/cgroup.events", cg->path);
	cg->events_fd = open(events, O_RDONLY | O_CLOEXEC);
	if (cg->events_fd < 0) {
		ret = -errno;
		log_err("cannot open %s: %s", events, strerror(errno));
		goto cleanup;
	}
	log_debug("run cgroup %s (id %llu)", cg->path, (unsigned long long)cg->id);
	return 0;
cleanup:
	rmdir(cg->path);
	cg->path[0] = 0;
	return ret;
}

int run_cgroup_join(const struct run_cgroup *cg)
{
	char pid[32];
	int ret;

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	ret = write_file(cg->path, "cgroup.procs", pid);
	if (ret)
		log_err("cannot move pid %d into %s: %s", (int)getpid(), cg->path, strerror(-ret));
	return ret;
}

int run_cgroup_empty(const struct run_cgroup *cg)
{
	char buf[512];
	ssize_t n;
	const char *p;

	n = pread(cg->events_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	p = strstr(buf, "populated ");
	if (!p)
		return -EPROTO;
	return p[strlen("populated ")] == '0';
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

int run_cgroup_wait_empty(const struct run_cgroup *cg, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = cg->events_fd, .events = POLLPRI};
		int ret = run_cgroup_empty(cg), left = -1;

		if (ret)
			return ret;
		if (timeout_ms >= 0) {
			left = (int)(deadline - now_ms());
			if (left <= 0)
				return 0;
		}
		/* kernfs signals a change of cgroup.events with POLLPRI (and POLLERR) */
		if (poll(&p, 1, left) < 0)
			return -errno;
	}
}

static void kill_procs(const char *path)
{
	char file[4200];
	FILE *f;
	int pid;

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	f = fopen(file, "re");
	if (!f)
		return;
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	fclose(f);
}

/* Removes the cgroups the run created below its own, deepest first: rmdir needs them gone. */
static void rmdir_children(const char *path, int depth)
{
	char sub[4200];
	struct dirent *e;
	DIR *d;

	if (depth > 32 || !(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub))
			continue;
		rmdir_children(sub, depth + 1);
		if (rmdir(sub))
			log_debug("cannot remove cgroup %s: %s", sub, strerror(errno));
	}
	closedir(d);
}

void run_cgroup_destroy(struct run_cgroup *cg, int kill_rest)
{
	int i;

	if (!cg || !cg->path[0])
		return;
	if (kill_rest) {
		for (i = 0; i < 50 && run_cgroup_empty(cg) == 0; i++) {
			/* cgroup.kill (5.14+) also catches tasks forking while we kill */
			if (write_file(cg->path, "cgroup.kill", "1"))
				kill_procs(cg->path);
			run_cgroup_wait_empty(cg, 100);
		}
	}
	for (i = 0; i < 50; i++) {
		rmdir_children(cg->path, 0);
		if (!rmdir(cg->path))
			break;
		/* the last task may still be exiting: emptiness is reported slightly late */
		if (errno != EBUSY || i == 49) {
			log_warn("cannot remove cgroup %s: %s", cg->path, strerror(errno));
			break;
		}
		usleep(20000);
	}
	if (cg->events_fd >= 0)
		close(cg->events_fd);
	cg->events_fd = -1;
	cg->path[0] = 0;
}

static int path_level(const char *root, const char *path)
{
	size_t n = strlen(root);
	int level = 0;

	if (strncmp(root, path, n) || (path[n] && path[n] != '/'))
		return -ENOENT;
	for (path += n; *path; path++)
		if (*path == '/' && path[1])
			level++;
	return level;
}

int cgroup_level(uint64_t id)
{
	char root[4096], link[64], target[4096];
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh = {.handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS}};
	int mfd = -1, fd = -1, ret;
	ssize_t n;

	if ((ret = cgroup2_root(root, sizeof(root))))
		return ret;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		ret = -errno;
		goto cleanup;
	}
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		ret = -errno;
		goto cleanup;
	}
	target[n] = 0;
	ret = path_level(root, target);
cleanup:
	if (fd >= 0)
		close(fd);
	if (mfd >= 0)
		close(mfd);
	return ret;
}
