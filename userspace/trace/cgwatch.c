// SPDX-License-Identifier: BSD-2-Clause
/*
 * cgwatch.c - the track: cgroups, as they appear and go (inotify on cgroupfs).
 *
 * Two kinds of watched nodes: directories a glob can still match below ("walk": IN_CREATE and
 * IN_DELETE, whose events name the child), and matching cgroups ("cg": IN_MODIFY on their
 * cgroup.events, which kernfs raises when populated changes). cgroupfs sends no IN_DELETE_SELF
 * for a removed directory (its inodes keep their links), so a removal is seen as IN_DELETE on
 * the parent, which is always a walk node; the watches on the removed inodes are then removed by
 * hand. Nothing below a matching cgroup is watched: it is in that cgroup's run.
 *
 * Reports are queued and handed to the callback by cgwatch_process() alone; an eventfd wakes the
 * caller's poll for reports queued elsewhere (cgwatch_set, cgwatch_forget), so cgwatch_fd() is an
 * epoll fd holding the inotify fd and that eventfd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/policy.h"
#include "trace/cgroup.h"
#include "trace/cgwatch.h"

#define WALK_MASK (IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_ONLYDIR)
#define CG_MASK IN_MODIFY
#define MAX_DEPTH 64 /* below the v2 root; the kernel's own default limit is far above real use */
#define READS_PER_CALL 64
#define CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC */

enum kind { K_NONE, K_WALK, K_CG };
/* A cg node's run, as its reports told it: CLAIMED (APPEARED said), GONE (GONE said), IDLE
 * (forgotten: reported again once it has been empty and is populated again). */
enum state { S_CLAIMED, S_GONE, S_IDLE };

struct cgnode {
	char *rel; /* "" for the root, else "/a/b" */
	uint64_t id;
	int wd; /* the directory's watch (walk) or its cgroup.events' (cg) */
	enum kind kind;
	enum state state;
	bool was_populated; /* S_CLAIMED: it has held processes, so empty is the end */
	bool repopulated;   /* S_GONE: populated again since */
	bool seen_empty;    /* S_IDLE: empty since the run ended */
	bool told;	    /* its APPEARED was handed to the callback */
	size_t idx;	    /* in nodeset.v */
};

/* The nodes, with lookups by watch and by path (tsearch trees of the node pointers). */
struct nodeset {
	struct cgnode **v;
	size_t n, cap;
	void *by_wd, *by_rel;
};

struct report {
	enum cgwatch_ev ev;
	char *rel;
	uint64_t id;
	bool populated;
};

struct cgwatch {
	char root[PATH_MAX];
	int ifd, efd, pfd;
	cgwatch_cb cb;
	void *ctx;
	char **globs;
	size_t nglobs;
	struct nodeset cur;
	struct nodeset
	    *old; /* during a rescan: the nodes before it, taken over where they still are */
	struct report *q;
	size_t nq, qcap;
	size_t max_watches;
	bool limit_said; /* the cap (or the system's limit) was said since the last rescan */
	bool capped;	 /* a directory was left out for the cap: rescan when there is room */
};

/* ---- the node set ---- */

static int cmp_wd(const void *a, const void *b)
{
	const struct cgnode *x = a, *y = b;

	return (x->wd > y->wd) - (x->wd < y->wd);
}

static int cmp_rel(const void *a, const void *b)
{
	return strcmp(((const struct cgnode *)a)->rel, ((const struct cgnode *)b)->rel);
}

static struct cgnode *find_rel(const struct nodeset *s, const char *rel)
{
	struct cgnode key = {.rel = (char *)rel};
	void *const *r = tfind(&key, &s->by_rel, cmp_rel);

	return r ? *r : NULL;
}

static struct cgnode *find_wd(const struct nodeset *s, int wd)
{
	struct cgnode key = {.wd = wd};
	void *const *r = tfind(&key, &s->by_wd, cmp_wd);

	return r ? *r : NULL;
}

static int set_add(struct nodeset *s, struct cgnode *n)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct cgnode **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!tsearch(n, &s->by_rel, cmp_rel))
		return -ENOMEM;
	if (!tsearch(n, &s->by_wd, cmp_wd)) {
		tdelete(n, &s->by_rel, cmp_rel);
		return -ENOMEM;
	}
	n->idx = s->n;
	s->v[s->n++] = n;
	return 0;
}

static void set_del(struct nodeset *s, struct cgnode *n)
{
	tdelete(n, &s->by_rel, cmp_rel);
	tdelete(n, &s->by_wd, cmp_wd);
	s->v[n->idx] = s->v[--s->n];
	s->v[n->idx]->idx = n->idx;
}

static void node_free(struct cgnode *n)
{
	if (n)
		free(n->rel);
	free(n);
}

static void noop_free(void *p)
{
}

static void set_clear(struct nodeset *s)
{
	tdestroy(s->by_rel, noop_free);
	tdestroy(s->by_wd, noop_free);
	for (size_t i = 0; i < s->n; i++)
		node_free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- reports ---- */

static void enqueue(struct cgwatch *w, enum cgwatch_ev ev, const struct cgnode *n, bool pop)
{
	char *rel = strdup(n->rel);

	if (rel && w->nq == w->qcap) {
		size_t cap = w->qcap ? 2 * w->qcap : 16;
		struct report *q = realloc(w->q, cap * sizeof(*q));

		if (q) {
			w->q = q;
			w->qcap = cap;
		} else {
			free(rel);
			rel = NULL;
		}
	}
	if (!rel) {
		log_err("out of memory: the %s of cgroup %s is not reported",
			ev == CGW_APPEARED ? "appearance" : "end", n->rel);
		return;
	}
	w->q[w->nq++] = (struct report){ev, rel, n->id, pop};
}

/* Wakes the caller's poll for reports queued outside cgwatch_process(). */
static void wake(struct cgwatch *w)
{
	uint64_t one = 1;

	if (w->nq && write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cgroup watcher: cannot signal its eventfd: %s", strerror(errno));
}

/* ---- paths and globs ---- */

static int fmt_path(const struct cgwatch *w, char *buf, const char *rel, const char *file)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s%s%s", w->root, rel, file) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* The directory's inode number (the cgroup id, as cgroup.c has it), 0 when it is not there. */
static uint64_t dir_id(const struct cgwatch *w, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	if (fmt_path(w, path, rel, "") || stat(path, &st) || !S_ISDIR(st.st_mode))
		return 0;
	return st.st_ino;
}

/* 1 when processes are in the cgroup, 0 when none, -errno (gone). */
static int populated(const struct cgwatch *w, const char *rel)
{
	struct run_cgroup cg = {.lock_fd = -1};
	int ret;

	if ((ret = fmt_path(w, cg.path, rel, "/cgroup.events")))
		return ret;
	cg.events_fd = open(cg.path, O_RDONLY | O_CLOEXEC);
	if (cg.events_fd < 0)
		return -errno;
	ret = run_cgroup_empty(&cg);
	close(cg.events_fd);
	return ret < 0 ? ret : !ret;
}

static bool matches(const struct cgwatch *w, const char *rel)
{
	for (size_t i = 0; i < w->nglobs; i++)
		if (policy_glob_match(w->globs[i], rel))
			return true;
	return false;
}

static bool ancestor_matches(const struct cgwatch *w, const char *rel)
{
	char buf[PATH_MAX];

	for (const char *s = strchr(rel + 1, '/'); s; s = strchr(s + 1, '/')) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(s - rel), rel);
		if (matches(w, buf))
			return true;
	}
	return false;
}

/*
 * Can a path strictly below rel match g? rel's components against g's leading ones, until g
 * has a "**" (then anything below may). Never false where a match is possible.
 */
static bool may_descend(const char *g, const char *rel)
{
	char gc[PATH_MAX], rc[PATH_MAX];

	for (;;) {
		size_t gl, rl;

		g += *g == '/';
		rel += *rel == '/';
		gl = strcspn(g, "/");
		if (!gl)
			return false; /* g ends at rel's depth or above */
		if (gl == 2 && !strncmp(g, "**", 2))
			return true;
		rl = strcspn(rel, "/");
		if (!rl)
			return true; /* g has a component for a child of rel */
		snprintf(gc, sizeof(gc), "%.*s", (int)gl, g);
		snprintf(rc, sizeof(rc), "%.*s", (int)rl, rel);
		if (fnmatch(gc, rc, 0) == FNM_NOMATCH)
			return false;
		g += gl;
		rel += rl;
	}
}

static enum kind classify(const struct cgwatch *w, const char *rel)
{
	if (!w->nglobs)
		return K_NONE;
	if (!*rel)
		return K_WALK;
	if (ancestor_matches(w, rel))
		return K_NONE;
	if (matches(w, rel))
		return K_CG;
	for (size_t i = 0; i < w->nglobs; i++)
		if (may_descend(w->globs[i], rel))
			return K_WALK;
	return K_NONE;
}

/* ---- watches ---- */

static int add_watch(struct cgwatch *w, const char *rel, const char *file, uint32_t mask)
{
	char path[PATH_MAX];
	int wd, err;

	if ((err = fmt_path(w, path, rel, file)))
		return err;
	if (w->cur.n >= w->max_watches) {
		if (!w->limit_said)
			log_warn("cgroup watcher: %zu watches, its cap: %s%s and the cgroups that "
				 "appear below it are not tracked until a tenth of them are gone",
				 w->cur.n, w->root, *rel ? rel : "/");
		w->limit_said = w->capped = true;
		return -ENOSPC;
	}
	wd = inotify_add_watch(w->ifd, path, mask);
	if (wd < 0) {
		err = -errno;
		if (err == -ENOSPC && !w->limit_said)
			log_warn(
			    "cannot watch %s: the system's inotify watch limit "
			    "(fs.inotify.max_user_watches) is reached; the cgroups that appear "
			    "below it are not tracked until the policy is reloaded",
			    path);
		else if (err != -ENOENT && err != -ENOTDIR && err != -ENOSPC)
			log_warn("cannot watch %s: %s", path, strerror(errno));
		w->limit_said |= err == -ENOSPC;
		return err;
	}
	/* the inode has a node already: cannot happen, directories have no second links */
	if (find_wd(&w->cur, wd))
		return -EEXIST;
	return wd;
}

static struct cgnode *add_node(struct cgwatch *w, const char *rel, uint64_t id, enum kind k)
{
	struct cgnode *n = calloc(1, sizeof(*n));
	int wd;

	if (!n || !(n->rel = strdup(rel))) {
		log_err("out of memory: cgroup %s is not watched", rel);
		node_free(n);
		return NULL;
	}
	wd = k == K_CG ? add_watch(w, rel, "/cgroup.events", CG_MASK)
		       : add_watch(w, rel, "", WALK_MASK);
	if (wd < 0) {
		node_free(n);
		return NULL;
	}
	n->id = id;
	n->wd = wd;
	n->kind = k;
	if (set_add(&w->cur, n)) {
		log_err("out of memory: cgroup %s is not watched", rel);
		inotify_rm_watch(w->ifd, wd);
		node_free(n);
		return NULL;
	}
	return n;
}

static void drop_one(struct cgwatch *w, struct cgnode *n, bool rm_watch)
{
	set_del(&w->cur, n);
	if (n->kind == K_CG && n->state == S_CLAIMED)
		enqueue(w, CGW_GONE, n, false);
	if (rm_watch)
		inotify_rm_watch(w->ifd, n->wd);
	node_free(n);
}

/*
 * The node is no longer watched: its cgroup is gone (said, if its run was claimed), and so is
 * what was below it (their own IN_DELETEs normally came first).
 */
static void drop_node(struct cgwatch *w, struct cgnode *n, bool rm_watch)
{
	size_t len = strlen(n->rel);

	for (size_t i = 0; n->kind == K_WALK && i < w->cur.n;) {
		struct cgnode *c = w->cur.v[i];

		if (!strncmp(c->rel, n->rel, len) && c->rel[len] == '/')
			drop_one(w, c, true);
		else
			i++;
	}
	drop_one(w, n, rm_watch);
}

/* A cg node's run, given populated as it is now. */
static void step(struct cgwatch *w, struct cgnode *n, int pop)
{
	if (pop < 0)
		return; /* removed: the parent's IN_DELETE follows */
	switch (n->state) {
	case S_CLAIMED:
		if (pop) {
			n->was_populated = true;
		} else if (n->was_populated) {
			n->state = S_GONE;
			n->repopulated = false;
			enqueue(w, CGW_GONE, n, false);
		}
		break;
	case S_GONE:
		n->repopulated = pop;
		break;
	case S_IDLE:
		if (!pop) {
			n->seen_empty = true;
		} else if (n->seen_empty) {
			n->state = S_CLAIMED;
			n->was_populated = true;
			n->told = false;
			enqueue(w, CGW_APPEARED, n, true);
		}
		break;
	}
}

static void add_dir(struct cgwatch *w, const char *rel);

/* A walk node's subdirectories, which may have been made before its watch existed. */
static void scan(struct cgwatch *w, const char *rel)
{
	char child[PATH_MAX]; /* the directory's path first: one buffer a level, MAX_DEPTH deep */
	struct dirent *e;
	DIR *d;

	if (fmt_path(w, child, rel, "") || !(d = opendir(child)))
		return;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", rel, e->d_name) < sizeof(child))
			add_dir(w, child);
	}
	closedir(d);
}

/* During a rescan: the node from before for this directory, if it still is the same one. */
static struct cgnode *take_old(struct cgwatch *w, const char *rel, uint64_t id, enum kind k)
{
	struct cgnode *o = w->old ? find_rel(w->old, rel) : NULL;

	/* a run in progress stays one, even where the new globs would only walk through it */
	if (!o || o->id != id || (o->kind != k && !(o->kind == K_CG && o->state != S_IDLE)))
		return NULL;
	set_del(w->old, o);
	if (set_add(&w->cur, o)) {
		log_err("out of memory: cgroup %s is not watched", rel);
		inotify_rm_watch(w->ifd, o->wd);
		node_free(o);
		return NULL;
	}
	return o;
}

/* A directory that appeared (or was found by a scan). */
static void add_dir(struct cgwatch *w, const char *rel)
{
	struct cgnode *n = find_rel(&w->cur, rel);
	uint64_t id = dir_id(w, rel);
	int pop, depth = 0;
	enum kind k;

	for (const char *s = rel; (s = strchr(s, '/')); s++)
		depth++;
	if (!id || depth > MAX_DEPTH || (n && n->id == id))
		return; /* gone already, too deep, or seen (a scan, then its IN_CREATE) */
	if (n)
		drop_node(w, n, true); /* an earlier one whose IN_DELETE is not read yet */
	k = classify(w, rel);
	if (k == K_NONE)
		return;
	if ((n = take_old(w, rel, id, k))) {
		if (n->kind == K_CG)
			step(w, n, populated(w, rel));
		else
			scan(w, rel);
		return;
	}
	if (!(n = add_node(w, rel, id, k)))
		return;
	if (k == K_WALK) {
		scan(w, rel);
		return;
	}
	/* read after the watch exists, so no change in between is missed */
	pop = populated(w, rel);
	if (pop < 0) {
		drop_node(w, n, true);
		return;
	}
	n->state = S_CLAIMED;
	n->was_populated = pop;
	enqueue(w, CGW_APPEARED, n, pop);
}

/* The parent's IN_DELETE named it. */
static void removed(struct cgwatch *w, const struct cgnode *parent, const char *name)
{
	char rel[PATH_MAX];
	struct cgnode *n;

	if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", parent->rel, name) >= sizeof(rel))
		return;
	n = find_rel(&w->cur, rel);
	if (n && dir_id(w, rel) != n->id)
		drop_node(w, n, true); /* else the event is of an earlier directory of that name */
}

/*
 * A run whose cgroup no glob reaches any more is followed still: its parent is watched for its
 * removal (unless the parent is a matching cgroup itself; then only cgroup.events ends it).
 */
static void pin_parent(struct cgwatch *w, const char *rel)
{
	char parent[PATH_MAX];
	uint64_t id;

	snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(rel, '/') - rel), rel);
	if (find_rel(&w->cur, parent) || !(id = dir_id(w, parent)))
		return;
	add_node(w, parent, id, K_WALK);
}

/* Everything again, from the globs and the tree as they are now; the old nodes' state is kept
 * where the same cgroup is still there. */
static void rescan(struct cgwatch *w)
{
	struct nodeset old = w->cur;

	memset(&w->cur, 0, sizeof(w->cur));
	w->old = &old;
	w->limit_said = w->capped = false;
	if (w->nglobs)
		add_dir(w, "");
	while (old.n) {
		struct cgnode *o = old.v[old.n - 1];
		bool alive = o->kind == K_CG && o->state != S_IDLE;

		set_del(&old, o);
		if (alive && !find_rel(&w->cur, o->rel) && dir_id(w, o->rel) == o->id &&
		    !set_add(&w->cur, o)) {
			pin_parent(w, o->rel);
			step(w, o, populated(w, o->rel));
			continue;
		}
		if (o->kind == K_CG && o->state == S_CLAIMED)
			enqueue(w, CGW_GONE, o, false);
		if (!find_wd(&w->cur, o->wd))
			inotify_rm_watch(w->ifd, o->wd);
		node_free(o);
	}
	set_clear(&old);
	w->old = NULL;
}

/* ---- the interface ---- */

int cgwatch_new(const char *root, cgwatch_cb cb, void *ctx, struct cgwatch **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct cgwatch *w = calloc(1, sizeof(*w));
	struct statfs sfs;
	int ret = 0;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->ifd = w->efd = w->pfd = -1;
	w->cb = cb;
	w->ctx = ctx;
	w->max_watches = CGWATCH_MAX_WATCHES;
	if (!root)
		ret = cgroup2_root(w->root, sizeof(w->root));
	else if ((size_t)snprintf(w->root, sizeof(w->root), "%s", root) >= sizeof(w->root))
		ret = -ENAMETOOLONG;
	if (ret)
		goto cleanup;
	/* relpaths start with "/": a trailing one on the root would double it */
	for (size_t n = strlen(w->root); n > 1 && w->root[n - 1] == '/'; n--)
		w->root[n - 1] = '\0';
	if (statfs(w->root, &sfs)) {
		ret = -errno;
		log_err("cannot watch cgroups: %s: %s", w->root, strerror(errno));
		goto cleanup;
	}
	if (sfs.f_type != CGROUP2_MAGIC) {
		ret = -EINVAL;
		log_err("cannot watch cgroups: %s is not a cgroup v2 mount", w->root);
		goto cleanup;
	}
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		ret = -errno;
		log_err("cannot watch cgroups: inotify_init1: %s%s", strerror(errno),
			errno == EMFILE ? " (the limit is fs.inotify.max_user_instances)" : "");
		goto cleanup;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->pfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->efd < 0 || w->pfd < 0 || epoll_ctl(w->pfd, EPOLL_CTL_ADD, w->ifd, &ev) ||
	    epoll_ctl(w->pfd, EPOLL_CTL_ADD, w->efd, &ev)) {
		ret = -errno;
		log_err("cannot watch cgroups: %s", strerror(errno));
		goto cleanup;
	}
	*out = w;
	return 0;
cleanup:
	cgwatch_free(w);
	return ret;
}

static void free_globs(char **g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i]);
	free(g);
}

int cgwatch_set(struct cgwatch *w, const char *const *globs, size_t n)
{
	char **g;

	for (size_t i = 0; i < n; i++)
		if (!globs[i] || globs[i][0] != '/')
			return -EINVAL;
	g = calloc(n ? n : 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(g[i] = strdup(globs[i]))) {
			free_globs(g, i);
			return -ENOMEM;
		}
	free_globs(w->globs, w->nglobs);
	w->globs = g;
	w->nglobs = n;
	rescan(w);
	wake(w);
	if (n && !find_rel(&w->cur, "")) {
		log_err("cannot watch the cgroup tree at %s", w->root);
		return -EIO;
	}
	return 0;
}

int cgwatch_fd(const struct cgwatch *w)
{
	return w->pfd;
}

/* One inotify event; *overflow set when the kernel dropped some. */
static void handle(struct cgwatch *w, const struct inotify_event *e, bool *overflow)
{
	struct cgnode *n;

	if (e->mask & IN_Q_OVERFLOW) {
		*overflow = true;
		return;
	}
	if (!(n = find_wd(&w->cur, e->wd)))
		return; /* a watch removed already */
	if (e->mask & IN_IGNORED) {
		drop_node(w, n, false); /* the kernel removed the watch (unmounted, deleted) */
		return;
	}
	if (n->kind == K_CG) {
		if (e->mask & IN_MODIFY)
			step(w, n, populated(w, n->rel));
		return;
	}
	if (!e->len || !(e->mask & IN_ISDIR))
		return;
	if (e->mask & IN_CREATE) {
		char rel[PATH_MAX];

		if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", n->rel, e->name) < sizeof(rel))
			add_dir(w, rel);
	} else if (e->mask & IN_DELETE) {
		removed(w, n, e->name);
	}
}

static int read_events(struct cgwatch *w, bool *overflow)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (int i = 0; i < READS_PER_CALL; i++) {
		ssize_t len = read(w->ifd, buf, sizeof(buf));

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == EAGAIN)
			return 0;
		if (len <= 0)
			return len < 0 ? -errno : -EIO;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			handle(w, e, overflow);
			p += sizeof(*e) + e->len;
		}
	}
	return 0; /* more is left: the fd stays readable */
}

int cgwatch_process(struct cgwatch *w)
{
	bool overflow = false;
	struct report *q;
	uint64_t v;
	size_t nq;
	int ret;

	if (read(w->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("cgroup watcher: cannot read its eventfd: %s", strerror(errno));
	ret = read_events(w, &overflow);
	if (overflow) {
		log_warn("cgroup watcher: the kernel dropped inotify events (queue overflow); "
			 "reading the cgroup tree again");
		rescan(w);
	} else if (w->capped && w->cur.n <= w->max_watches - w->max_watches / 10) {
		/* what the cap left out, now that there is room (not at every free watch) */
		rescan(w);
	}
	/* the callback may queue more (cgwatch_forget): those wake the next poll */
	q = w->q;
	nq = w->nq;
	w->q = NULL;
	w->nq = w->qcap = 0;
	for (size_t i = 0; i < nq; i++) {
		struct cgnode *n = find_rel(&w->cur, q[i].rel);

		if (q[i].ev == CGW_APPEARED && n && n->id == q[i].id)
			n->told = true;
		w->cb(w->ctx, q[i].ev, q[i].rel, q[i].id, q[i].populated);
		free(q[i].rel);
	}
	free(q);
	if (ret < 0)
		log_err("cgroup watcher: cannot read inotify events: %s", strerror(-ret));
	return ret < 0 ? ret : (int)nq;
}

void cgwatch_forget(struct cgwatch *w, const char *relpath)
{
	struct cgnode *n = find_rel(&w->cur, relpath);
	enum state prior;
	int pop;

	/* not a path the caller knows as a run (yet): a later cgroup there, reported next */
	if (!n || n->kind != K_CG || !n->told || n->state == S_IDLE)
		return;
	prior = n->state;
	pop = populated(w, relpath);
	n->state = S_IDLE;
	n->seen_empty = pop == 0 || prior == S_GONE;
	/* emptied, then populated again before the caller was done with the first run */
	if (prior == S_GONE && n->repopulated && pop == 1) {
		n->state = S_CLAIMED;
		n->was_populated = true;
		n->told = false;
		enqueue(w, CGW_APPEARED, n, true);
		wake(w);
	}
}

void cgwatch_set_max_watches(struct cgwatch *w, size_t n)
{
	w->max_watches = n;
}

void cgwatch_free(struct cgwatch *w)
{
	if (!w)
		return;
	set_clear(&w->cur);
	for (size_t i = 0; i < w->nq; i++)
		free(w->q[i].rel);
	free(w->q);
	free_globs(w->globs, w->nglobs);
	if (w->pfd >= 0)
		close(w->pfd);
	if (w->efd >= 0)
		close(w->efd);
	if (w->ifd >= 0)
		close(w->ifd);
	free(w);
}
