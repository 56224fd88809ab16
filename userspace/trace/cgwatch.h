/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgwatch.h - the cgroups the policy's track: globs name, as they appear and go: aicertd traces
 * each one as a run of its own (a Slurm job step, a Kubernetes container, a systemd unit).
 *
 * inotify over the cgroup v2 tree: IN_CREATE|IN_DELETE on the directories a glob can still
 * match below (added as they appear, each new one read at once so that the cgroups made before
 * its watch existed are not missed), IN_MODIFY on cgroup.events of the matching cgroups. Only the
 * outermost matching cgroup is reported: the cgroups below it are in its run's scope. Paths are
 * relative to the v2 root and start with "/" ("/system.slice/x.scope"); the root itself is never
 * a match. The number of watches is capped (a warning says when the cap is hit).
 *
 * Every report comes from cgwatch_process(), never from the other calls, so the callback may
 * call cgwatch_forget() (but not cgwatch_set() or cgwatch_free()). One thread uses a watcher (the
 * daemon's event loop). A population shorter than the time the watcher takes to read the
 * kernel's notice of it (cgroup.events holds no history) is not seen: such a cgroup ends when
 * it is removed.
 */
#ifndef AICERT_TRACE_CGWATCH_H
#define AICERT_TRACE_CGWATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The default cap on inotify watches (one per watched directory or matching cgroup). */
#define CGWATCH_MAX_WATCHES 16384

struct cgwatch;

enum cgwatch_ev {
	/* a matching cgroup exists (populated: processes are in it now) */
	CGW_APPEARED = 1,
	/* its directory was removed, or cgroup.events went from populated 1 to 0 */
	CGW_GONE = 2,
};

/* relpath: "/a/b" below the v2 root; id: the cgroup v2 id (the directory's inode number). */
typedef void (*cgwatch_cb)(void *ctx, enum cgwatch_ev ev, const char *relpath, uint64_t id,
			   bool populated);

/*
 * root: the cgroup v2 mount (NULL: cgroup2_root()); -EINVAL when it is not one. Watches nothing
 * until cgwatch_set(). 0 or -errno (said).
 */
int cgwatch_new(const char *root, cgwatch_cb cb, void *ctx, struct cgwatch **out);
/*
 * (Re)loads the globs (policy_track(): each starts with "/", else -EINVAL), at any time (a
 * SIGHUP reload). A matching cgroup that exists already and was not reported before is reported
 * APPEARED with populated as it is now; one reported before keeps its state (no second
 * APPEARED); a reported one that no glob matches any more is still followed until it is GONE.
 * Reads the whole tree the globs can reach. 0, -EINVAL, -ENOMEM, or -EIO when the root itself
 * cannot be watched (said).
 */
int cgwatch_set(struct cgwatch *w, const char *const *globs, size_t n);
/* Poll it for POLLIN, then call cgwatch_process(). */
int cgwatch_fd(const struct cgwatch *w);
/* Handles what is pending and calls the callback for each report: how many, or -errno. */
int cgwatch_process(struct cgwatch *w);
/*
 * The run of the cgroup at relpath ended (after its GONE) or was not claimed (after its
 * APPEARED): call it from that callback, or before the next cgwatch_process(). A new cgroup at
 * the same path is a new run; so is this one, if it still exists, once it has been empty and is
 * populated again. Unknown paths are ignored.
 */
void cgwatch_forget(struct cgwatch *w, const char *relpath);
/*
 * The cap on watches (default CGWATCH_MAX_WATCHES); it applies to the watches added next. What
 * it leaves out is read again once a tenth of the watches are gone (what the system's inotify
 * limit leaves out, at the next cgwatch_set()).
 */
void cgwatch_set_max_watches(struct cgwatch *w, size_t n);
/* NULL ok. */
void cgwatch_free(struct cgwatch *w);

#endif
