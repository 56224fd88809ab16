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
#include <sys/file.h>
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

/* The parent <root>/aicert, created if needed, opened and flock'ed (LOCK_EX): a sweep and a
 * creation never interleave, so a sweep cannot take a new run's cgroup before its owner locks
 * it. Returns the fd or -errno. */
static int lock_parent(char *parent, size_t len)
{
	char root[4000];
	int ret, fd;

	if ((ret = cgroup2_root(root, sizeof(root))))
		return ret;
	if ((size_t)snprintf(parent, len, "%s/aicert", root) >= len)
		return -ENAMETOOLONG;
	if ((ret = mkdir_ok(parent)))
		return ret;
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		ret = -errno;
		log_err("cannot lock %s: %s", parent, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

static int create_locked(struct run_cgroup *cg, const char *parent, const char *name)
{
	char events[4200];
	struct stat st;
	int ret;

	if ((size_t)snprintf(cg->path, sizeof(cg->path), "%s/%s", parent, name) >= sizeof(cg->path))
		return -ENAMETOOLONG;
	if (mkdir(cg->path, 0755)) {
		ret = -errno;
		log_err("cannot create cgroup %s: %s", cg->path, strerror(errno));
		cg->path[0] = 0;
		return ret;
	}
	cg->lock_fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->lock_fd < 0 || flock(cg->lock_fd, LOCK_EX | LOCK_NB) || fstat(cg->lock_fd, &st)) {
		ret = -errno;
		log_err("cannot open and lock %s: %s", cg->path, strerror(errno));
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
	if (cg->lock_fd >= 0)
		close(cg->lock_fd);
	cg->lock_fd = -1;
	return ret;
}

int run_cgroup_create(struct run_cgroup *cg, const char *name)
{
	char parent[4096];
	int pfd, ret;

	memset(cg, 0, sizeof(*cg));
	cg->events_fd = cg->lock_fd = -1;
	if ((pfd = lock_parent(parent, sizeof(parent))) < 0)
		return pfd;
	ret = create_locked(cg, parent, name);
	close(pfd);
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

static int populated(int events_fd)
{
	char buf[512];
	ssize_t n;
	const char *p;

	n = pread(events_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	p = strstr(buf, "populated ");
	if (!p)
		return -EPROTO;
	return p[strlen("populated ")] == '0';
}

int run_cgroup_empty(const struct run_cgroup *cg)
{
	return populated(cg->events_fd);
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
	/*
	 * Processes left on purpose (a detached run) keep the cgroup: it is left for the sweep of a
	 * later run. Otherwise wait up to 10 s: on a loaded machine the last task can take seconds
	 * to finish exiting, and emptiness is reported slightly before rmdir succeeds.
	 */
	for (i = 0; i < 500; i++) {
		rmdir_children(cg->path, 0);
		if (!rmdir(cg->path))
			break;
		if (errno == EBUSY && !kill_rest && run_cgroup_empty(cg) == 0)
			break;
		if (errno != EBUSY || i == 499) {
			log_warn("cannot remove cgroup %s: %s", cg->path, strerror(errno));
			break;
		}
		usleep(20000);
	}
	if (cg->events_fd >= 0)
		close(cg->events_fd);
	if (cg->lock_fd >= 0)
		close(cg->lock_fd);
	cg->events_fd = cg->lock_fd = -1;
	cg->path[0] = 0;
}

/* One entry of <root>/aicert: 1 removed, 0 left alone (its run is alive, or busy). */
static int sweep_one(int dfd, const char *parent, const char *name)
{
	char path[4400];
	int fd, ev, empty, ret = 0;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB)) /* its aicert-trace (or watchdog) holds it */
		goto cleanup;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", parent, name) >= sizeof(path))
		goto cleanup;
	ev = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	empty = ev >= 0 ? populated(ev) : -errno;
	if (ev >= 0)
		close(ev);
	if (empty == 0) {
		log_warn("cgroup %s of a run whose aicert-trace is gone still has processes, "
			 "untraced; `echo 1 > %s/cgroup.kill` stops them",
			 path, path);
	} else if (empty == 1) {
		rmdir_children(path, 0);
		ret = !rmdir(path);
		if (ret)
			log_info("removed the cgroup %s of a run that ended without cleaning up",
				 path);
	}
cleanup:
	close(fd);
	return ret;
}

int run_cgroup_sweep(void)
{
	char parent[4096];
	struct dirent *e;
	int pfd, n = 0;
	DIR *d;

	if ((pfd = lock_parent(parent, sizeof(parent))) < 0)
		return pfd;
	d = fdopendir(dup(pfd));
	if (!d) {
		n = -errno;
		log_err("cannot read %s: %s", parent, strerror(errno));
		close(pfd);
		return n;
	}
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n += sweep_one(dirfd(d), parent, e->d_name);
	closedir(d);
	close(pfd);
	return n;
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
