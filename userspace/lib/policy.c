// SPDX-License-Identifier: BSD-2-Clause
/*
 * policy.c - the collector's policy (format: the comment at the top of policy/default.yaml).
 *
 * Parsed with libyaml's document loader so every error can name the node's line and column.
 * The policy is strict: a typo in a key would otherwise silently record (or drop) the wrong files.
 *
 * default_yaml[] below is generated: edit policy/default.yaml, then run scripts/gen-policy-c.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "lib/fileio.h"
#include "lib/policy.h"

struct strv {
	char **v;
	size_t n, cap;
};

struct cat_rule {
	char *name;
	struct strv globs;
};

struct policy {
	struct strv prefixes, globs, track;
	uint32_t *magics;
	size_t nmagics;
	struct cat_rule *cats;
	size_t ncats, cats_cap;
	uint8_t digest[32];
};

/* Superblock magics (include/uapi/linux/magic.h and the filesystems' sources). */
static const struct {
	const char *name;
	uint32_t magic;
} fs_names[] = {
    {"proc", 0x9fa0},
    {"sysfs", 0x62656572},
    {"cgroup", 0x27e0eb},
    {"cgroup2", 0x63677270},
    {"debugfs", 0x64626720},
    {"tracefs", 0x74726163},
    {"securityfs", 0x73636673},
    {"bpf", 0xcafe4a11},
    {"pipefs", 0x50495045},
    {"sockfs", 0x534f434b},
    {"anon_inodefs", 0x09041934},
    {"devpts", 0x1cd1},
    {"mqueue", 0x19800202},
    {"nsfs", 0x6e736673},
    {"configfs", 0x62656570},
    {"pstore", 0x6165676c},
    {"efivarfs", 0xde5e81e4},
    {"hugetlbfs", 0x958458f6},
    {"binfmt_misc", 0x42494e4d},
    {"fusectl", 0x65735543},
    {"selinuxfs", 0xf97cff8c},
    {"smackfs", 0x43415d53},
    {"autofs", 0x0187},
    {"rpc_pipefs", 0x67596969},
    {"dmabuf", 0x444d4142},
    {"secretmem", 0x5345434d},
    {"tmpfs", 0x01021994}, /* also devtmpfs */
    {"ramfs", 0x858458f6},
    {"overlay", 0x794c7630},
    {"ext4", 0xef53}, /* also ext2, ext3 */
    {"xfs", 0x58465342},
    {"btrfs", 0x9123683e},
    {"nfs", 0x6969},
    {"fuse", 0x65735546},
    {"squashfs", 0x73717368},
    {"iso9660", 0x9660},
    {"zfs", 0x2fc12fc1},
    {"ceph", 0x00c36400},
    {"cifs", 0xff534d42},
    {"smb2", 0xfe534d42},
    {"9p", 0x01021997},
    {"virtiofs", 0x65735546}, /* a FUSE filesystem */
};

/*
 * BEGIN default.yaml: policy/default.yaml, one string literal per line (quotes and backslashes
 * escaped). tests/unit/test_policy.c checks that the two are byte for byte the same.
 */
static const char default_yaml[] =
    "# aicert default policy: which file accesses the collector records and how the BOM labels "
    "them.\n"
    "# policy_default() (userspace/lib/policy.c) embeds this text: after editing it, run\n"
    "# scripts/gen-policy-c.py (tests/unit/test_policy.c fails until the two agree).\n"
    "#\n"
    "# Format (every key is optional except version; any other key is an error):\n"
    "#\n"
    "#   version: 1\n"
    "#   exclude:\n"
    "#     prefixes: [PATH, ...]      # absolute paths; a path equal to PREFIX or under PREFIX/ is "
    "dropped\n"
    "#     filesystems: [NAME, ...]   # files on these filesystem types are dropped (names as in\n"
    "#                                # /proc/filesystems: proc, sysfs, cgroup2, ...; the "
    "collector\n"
    "#                                # compares the superblock magic the kernel reports)\n"
    "#     globs: [GLOB, ...]         # paths matching any of these are dropped\n"
    "#   categories:                  # ordered: the first rule with a matching glob names the "
    "category\n"
    "#     - name: NAME               # [a-z0-9_-]+; \"other\" is what an unmatched file gets\n"
    "#       globs: [GLOB, ...]\n"
    "#   track: [GLOB, ...]           # aicertd only: cgroups it traces as runs of their own "
    "(below)\n"
    "#\n"
    "# GLOB is fnmatch(3) with FNM_PATHNAME (\"*\", \"?\" and \"[...]\" never match \"/\") plus "
    "\"**\", a whole\n"
    "# path component that matches any number of directories (\"**/\" may match none). A GLOB "
    "without\n"
    "# \"/\" is matched against the file's last path component only (\"*.py\"); one with \"/\" is "
    "matched\n"
    "# against the whole absolute path and must start with \"/\" or \"**/\".\n"
    "#\n"
    "# track: globs name cgroup v2 paths relative to the hierarchy's root (/sys/fs/cgroup, or\n"
    "# wherever /proc/mounts has it), each starting with \"/\" and not ending with it; at most "
    "256.\n"
    "# aicertd picks a matching cgroup up when it appears, with every cgroup below it (only the\n"
    "# outermost match is a run), and ends its run when it is removed or no longer populated:\n"
    "#\n"
    "#   track:\n"
    "#     - /system.slice/slurmstepd.scope/job_*/step_*    # a Slurm job step\n"
    "#     - /kubepods.slice/**/cri-containerd-*.scope      # a Kubernetes container\n"
    "#\n"
    "# The built-in policy tracks nothing; aicert-trace ignores the section.\n"
    "#\n"
    "# tmpfs is deliberately not excluded: /tmp and container scratch space hold real data. "
    "/dev/shm\n"
    "# is under the /dev prefix and so not recorded (POSIX shared memory, e.g. PyTorch tensors\n"
    "# passed between processes); a policy that needs it lists /dev's other paths instead of /dev\n"
    "# (devtmpfs has tmpfs's superblock magic, so a filesystem rule would drop every tmpfs).\n"
    "# __pycache__ is kept: it is code the run executed.\n"
    "version: 1\n"
    "exclude:\n"
    "  prefixes:\n"
    "    - /proc\n"
    "    - /sys\n"
    "    - /dev\n"
    "    - /run/aicert\n"
    "  filesystems:\n"
    "    - proc\n"
    "    - sysfs\n"
    "    - cgroup\n"
    "    - cgroup2\n"
    "    - debugfs\n"
    "    - tracefs\n"
    "    - securityfs\n"
    "    - bpf\n"
    "    - pipefs\n"
    "    - sockfs\n"
    "    - anon_inodefs\n"
    "    - devpts\n"
    "    - mqueue\n"
    "    - nsfs\n"
    "    - configfs\n"
    "    - pstore\n"
    "    - efivarfs\n"
    "    - hugetlbfs\n"
    "    - binfmt_misc\n"
    "    - fusectl\n"
    "    - selinuxfs\n"
    "    - autofs\n"
    "    - rpc_pipefs\n"
    "  globs: []\n"
    "categories:\n"
    "  # The ELF loader and script interpreters first: they also look like libraries or programs.\n"
    "  - name: interpreter\n"
    "    globs:\n"
    "      - \"ld-linux*.so*\"\n"
    "      - \"ld-musl-*.so*\"\n"
    "      - \"**/bin/python\"\n"
    "      - \"**/bin/python[0-9]*\"\n"
    "      - \"**/bin/pypy*\"\n"
    "      - \"**/bin/sh\"\n"
    "      - \"**/bin/bash\"\n"
    "      - \"**/bin/dash\"\n"
    "      - \"**/bin/zsh\"\n"
    "      - \"**/bin/env\"\n"
    "      - \"**/bin/perl*\"\n"
    "      - \"**/bin/R\"\n"
    "      - \"**/bin/Rscript\"\n"
    "      - \"**/bin/julia\"\n"
    "      - \"**/bin/node\"\n"
    "      - \"**/bin/java\"\n"
    "  # Data shipped inside packages (scikit-learn's toy sets and the like) before \"code\" and "
    "\"config\".\n"
    "  - name: dataset\n"
    "    globs:\n"
    "      - \"**/sklearn/datasets/data/**\"\n"
    "      - \"**/sklearn/datasets/images/**\"\n"
    "      - \"**/site-packages/*/datasets/data/**\"\n"
    "      - \"*.csv\"\n"
    "      - \"*.csv.gz\"\n"
    "      - \"*.tsv\"\n"
    "      - \"*.parquet\"\n"
    "      - \"*.feather\"\n"
    "      - \"*.arrow\"\n"
    "      - \"*.npy\"\n"
    "      - \"*.npz\"\n"
    "      - \"*.jsonl\"\n"
    "      - \"*.jsonl.gz\"\n"
    "      - \"*.ndjson\"\n"
    "      - \"*.tfrecord\"\n"
    "      - \"*.tfrecords\"\n"
    "      - \"*.hdf5\"\n"
    "      - \"*.zarr\"\n"
    "      - \"*.lmdb\"\n"
    "      - \"*.mdb\"\n"
    "      - \"*.idx[0-9]-ubyte\"\n"
    "      - \"*.idx[0-9]-ubyte.gz\"\n"
    "      - \"*.tar\"\n"
    "      - \"*.tar.gz\"\n"
    "      - \"*.tgz\"\n"
    "      - \"*.zip\"\n"
    "      - \"*.wav\"\n"
    "      - \"*.flac\"\n"
    "      - \"*.jpg\"\n"
    "      - \"*.jpeg\"\n"
    "      - \"*.png\"\n"
    "  # Python's site-packages path files share PyTorch's \".pth\" suffix but are configuration.\n"
    "  - name: config\n"
    "    globs:\n"
    "      - \"**/site-packages/*.pth\"\n"
    "      - \"**/dist-packages/*.pth\"\n"
    "  # \".bin\" alone is far too common to mean \"model\"; only the names model hubs use.\n"
    "  - name: model\n"
    "    globs:\n"
    "      - \"*.pt\"\n"
    "      - \"*.pth\"\n"
    "      - \"*.safetensors\"\n"
    "      - \"*.onnx\"\n"
    "      - \"*.ckpt\"\n"
    "      - \"*.joblib\"\n"
    "      - \"*.pkl\"\n"
    "      - \"*.pickle\"\n"
    "      - \"*.h5\"\n"
    "      - \"*.keras\"\n"
    "      - \"*.gguf\"\n"
    "      - \"*.ggml\"\n"
    "      - \"*.tflite\"\n"
    "      - \"*.pb\"\n"
    "      - \"*.mlmodel\"\n"
    "      - \"pytorch_model*.bin\"\n"
    "      - \"tf_model.h5\"\n"
    "      - \"flax_model*.msgpack\"\n"
    "      - \"model-*-of-*.bin\"\n"
    "  - name: library\n"
    "    globs:\n"
    "      - \"*.so\"\n"
    "      - \"*.so.[0-9]*\"\n"
    "      - \"*.a\"\n"
    "  - name: code\n"
    "    globs:\n"
    "      - \"*.py\"\n"
    "      - \"*.pyc\"\n"
    "      - \"*.pyi\"\n"
    "      - \"*.pyx\"\n"
    "      - \"*.ipynb\"\n"
    "      - \"*.sh\"\n"
    "      - \"*.R\"\n"
    "      - \"*.jl\"\n"
    "      - \"*.lua\"\n"
    "      - \"*.pl\"\n"
    "      - \"*.pm\"\n"
    "      - \"*.rb\"\n"
    "      - \"*.js\"\n"
    "      - \"*.mjs\"\n"
    "  - name: config\n"
    "    globs:\n"
    "      - \"*.yaml\"\n"
    "      - \"*.yml\"\n"
    "      - \"*.json\"\n"
    "      - \"*.toml\"\n"
    "      - \"*.cfg\"\n"
    "      - \"*.ini\"\n"
    "      - \"*.conf\"\n"
    "      - \"*.env\"\n"
    "      - \"*.properties\"\n"
    "  - name: executable\n"
    "    globs:\n"
    "      - \"**/bin/*\"\n"
    "      - \"**/sbin/*\"\n"
    "      - \"**/libexec/**\"\n";
/* END default.yaml */

uint32_t policy_fs_magic(const char *name)
{
	for (size_t i = 0; i < sizeof(fs_names) / sizeof(fs_names[0]); i++)
		if (!strcmp(fs_names[i].name, name))
			return fs_names[i].magic;
	return 0;
}

static int strv_push(struct strv *s, const char *v)
{
	char *d;

	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 8;
		char **nv = realloc(s->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	d = strdup(v);
	if (!d)
		return -ENOMEM;
	s->v[s->n++] = d;
	return 0;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- matching ---- */

/* Matches the "**"-free pattern p against the first n bytes of s. */
static int fnmatch_n(const char *p, const char *s, size_t n)
{
	char buf[4096];
	char *t = n < sizeof(buf) ? buf : malloc(n + 1);
	int m;

	if (!t)
		return 0;
	memcpy(t, s, n);
	t[n] = '\0';
	m = fnmatch(p, t, FNM_PATHNAME) == 0;
	if (t != buf)
		free(t);
	return m;
}

/* The first pattern and path of a match, and the (pattern, path) suffix pairs already tried. */
struct gctx {
	const char *p0, *s0;
	size_t slen;
	uint8_t *tried; /* bit (p - p0) * (slen + 1) + (s - s0); NULL: fewer than two "**" */
};

static int glob_rec(struct gctx *g, const char *p, const char *s);

/*
 * A match found anywhere ends the whole search, so a pair met again failed the first time:
 * with this, k "**" against a path of n components cost O(k n^2) tries, not O(n^k).
 */
static int glob_at(struct gctx *g, const char *p, const char *s)
{
	if (g->tried) {
		size_t bit = (size_t)(p - g->p0) * (g->slen + 1) + (size_t)(s - g->s0);

		if (g->tried[bit / 8] & (1u << (bit % 8)))
			return 0;
		g->tried[bit / 8] |= 1u << (bit % 8);
	}
	return glob_rec(g, p, s);
}

/*
 * p may hold "**" components. Splits p at the first "**": the part before (empty or ending in
 * "/") must match a prefix of s ending at a component boundary, and "**" swallows any number of
 * whole components after it.
 */
static int glob_rec(struct gctx *g, const char *p, const char *s)
{
	const char *dd = strstr(p, "**");
	size_t alen, slen = strlen(s);
	char *a;
	int m = 0;

	if (!dd)
		return fnmatch(p, s, FNM_PATHNAME) == 0;
	alen = dd - p;
	a = strndup(p, alen);
	if (!a)
		return 0;
	for (size_t i = 0; i <= slen && !m; i++) {
		const char *rest = dd + 2;

		/* A non-empty prefix ends with "/", so it can only end right after a "/" of s. */
		if (alen ? (i == 0 || s[i - 1] != '/' || !fnmatch_n(a, s, i)) : i > 0)
			continue;
		if (*rest == '\0') {
			m = 1;
			break;
		}
		rest++; /* the "/" after "**" */
		for (size_t j = i; j <= slen && !m; j++)
			if (j == i || s[j - 1] == '/')
				m = glob_at(g, rest, s + j);
	}
	free(a);
	return m;
}

int policy_glob_match(const char *pattern, const char *path)
{
	struct gctx g = {pattern, path, strlen(path), NULL};
	const char *base, *dd = strstr(pattern, "**");
	int m;

	if (!strchr(pattern, '/')) {
		base = strrchr(path, '/');
		return fnmatch(pattern, base ? base + 1 : path, 0) == 0;
	}
	if (dd && strstr(dd + 2, "**")) {
		g.tried = calloc((strlen(pattern) + 1) * (g.slen + 1) / 8 + 1, 1);
		if (!g.tried)
			return 0;
	}
	m = glob_rec(&g, pattern, path);
	free(g.tried);
	return m;
}

static int prefix_match(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	/* "/" excludes everything; a stored prefix never ends with "/" otherwise. */
	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return !strncmp(prefix, path, n) && (path[n] == '\0' || path[n] == '/');
}

int policy_excluded(const struct policy *p, const char *path, uint32_t fs_magic)
{
	for (size_t i = 0; fs_magic && i < p->nmagics; i++)
		if (p->magics[i] == fs_magic)
			return 1;
	for (size_t i = 0; i < p->prefixes.n; i++)
		if (prefix_match(p->prefixes.v[i], path))
			return 1;
	for (size_t i = 0; i < p->globs.n; i++)
		if (policy_glob_match(p->globs.v[i], path))
			return 1;
	return 0;
}

const char *policy_category(const struct policy *p, const char *path)
{
	for (size_t i = 0; i < p->ncats; i++)
		for (size_t j = 0; j < p->cats[i].globs.n; j++)
			if (policy_glob_match(p->cats[i].globs.v[j], path))
				return p->cats[i].name;
	return "other";
}

static char *norm_prefix(const char *prefix)
{
	size_t n = strlen(prefix);
	char *d;

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	d = strndup(prefix, n);
	return d;
}

int policy_add_exclude(struct policy *p, const char *prefix)
{
	char *d;
	int ret;

	if (!p || !prefix || prefix[0] != '/')
		return -EINVAL;
	d = norm_prefix(prefix);
	if (!d)
		return -ENOMEM;
	ret = strv_push(&p->prefixes, d);
	free(d);
	return ret;
}

size_t policy_track(const struct policy *p, const char *const **globs)
{
	*globs = (const char *const *)p->track.v;
	return p->track.n;
}

void policy_digest(const struct policy *p, uint8_t out[32])
{
	memcpy(out, p->digest, 32);
}

const char *policy_default_text(void)
{
	return default_yaml;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	strv_free(&p->prefixes);
	strv_free(&p->globs);
	strv_free(&p->track);
	for (size_t i = 0; i < p->ncats; i++) {
		free(p->cats[i].name);
		strv_free(&p->cats[i].globs);
	}
	free(p->cats);
	free(p->magics);
	free(p);
}

/* ---- parsing ---- */

/* A valid policy is 4 levels deep (categories: a list of mappings holding a list). */
#define POLICY_MAX_DEPTH 16
#define POLICY_MAX_DEPTH_TEXT "16"

struct pctx {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	struct policy *p;
};

__attribute__((format(printf, 3, 4))) static int fail(struct pctx *c, const yaml_node_t *n,
						      const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->name, n->start_mark.line + 1,
			 n->start_mark.column + 1, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	return -1;
}

static yaml_node_t *node(struct pctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int check_glob(struct pctx *c, const yaml_node_t *n, const char *g)
{
	const char *dd;

	if (!*g)
		return fail(c, n, "empty glob");
	if (strchr(g, '/') && g[0] != '/' && strncmp(g, "**/", 3))
		return fail(c, n,
			    "glob \"%s\" has a \"/\" but starts with neither \"/\" nor \"**/\"", g);
	for (dd = strstr(g, "**"); dd; dd = strstr(dd + 2, "**"))
		if ((dd != g && dd[-1] != '/') || (dd[2] != '\0' && dd[2] != '/'))
			return fail(c, n, "\"**\" must be a whole path component in \"%s\"", g);
	if (strlen(g) >= 4096)
		return fail(c, n, "glob too long");
	return 0;
}

/* A sequence of strings; kind says what they are for checking and messages. */
enum item_kind { ITEM_PREFIX, ITEM_GLOB, ITEM_FS, ITEM_TRACK };

static int check_item(struct pctx *c, const yaml_node_t *n, const char *v, enum item_kind kind)
{
	if (kind == ITEM_TRACK && v[0] != '/')
		return fail(c, n,
			    "track glob \"%s\" does not start with \"/\" (a cgroup path below the "
			    "cgroup v2 root)",
			    v);
	if (kind == ITEM_TRACK && v[strlen(v) - 1] == '/')
		return fail(c, n, "track glob \"%s\" ends with \"/\" (a cgroup path has none)", v);
	if (kind == ITEM_GLOB || kind == ITEM_TRACK)
		return check_glob(c, n, v);
	if (kind == ITEM_PREFIX && v[0] != '/')
		return fail(c, n, "prefix \"%s\" is not an absolute path", v);
	if (kind == ITEM_FS && !policy_fs_magic(v))
		return fail(c, n, "unknown filesystem \"%s\"", v);
	return 0;
}

static int add_item(struct pctx *c, struct strv *out, const char *v, enum item_kind kind)
{
	struct policy *p = c->p;
	uint32_t *nm;
	char *d;
	int ret;

	if (kind == ITEM_FS) {
		/* once each: the list stays as short as fs_names[], however often a name repeats */
		for (size_t i = 0; i < p->nmagics; i++)
			if (p->magics[i] == policy_fs_magic(v))
				return 0;
		nm = realloc(p->magics, (p->nmagics + 1) * sizeof(*nm));
		if (!nm)
			return fail(c, NULL, "out of memory");
		p->magics = nm;
		p->magics[p->nmagics++] = policy_fs_magic(v);
		return 0;
	}
	d = kind == ITEM_PREFIX ? norm_prefix(v) : strdup(v);
	ret = d ? strv_push(out, d) : -ENOMEM;
	free(d);
	return ret ? fail(c, NULL, "out of memory") : 0;
}

static int parse_list(struct pctx *c, const yaml_node_t *n, struct strv *out, enum item_kind kind)
{
	yaml_node_item_t *it;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "expected a list");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		const char *v = scalar(e);

		if (!v)
			return fail(c, e, "expected a string");
		if (kind == ITEM_TRACK && out->n == POLICY_TRACK_MAX)
			return fail(c, e, "more than %d track globs", POLICY_TRACK_MAX);
		if (check_item(c, e, v, kind) || add_item(c, out, v, kind))
			return -1;
	}
	return 0;
}

typedef int (*key_fn)(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

/* Walks a mapping, rejecting non-string and duplicate keys. */
static int each_key(struct pctx *c, yaml_node_t *m, key_fn fn, void *arg)
{
	yaml_node_pair_t *pr, *q;

	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, "expected a mapping");
	for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
		const char *key = scalar(k);

		if (!key || !v)
			return fail(c, k, "expected a string key");
		for (q = m->data.mapping.pairs.start; q < pr; q++)
			if (scalar(node(c, q->key)) && !strcmp(scalar(node(c, q->key)), key))
				return fail(c, k, "duplicate key \"%s\"", key);
		if (fn(c, key, k, v, arg))
			return -1;
	}
	return 0;
}

static int exclude_key(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	if (!strcmp(key, "prefixes"))
		return parse_list(c, v, &c->p->prefixes, ITEM_PREFIX);
	if (!strcmp(key, "filesystems"))
		return parse_list(c, v, NULL, ITEM_FS);
	if (!strcmp(key, "globs"))
		return parse_list(c, v, &c->p->globs, ITEM_GLOB);
	return fail(c, k, "unknown key \"%s\" in exclude (expected prefixes, filesystems, globs)",
		    key);
}

static int valid_cat_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return 0;
	return 1;
}

static int cat_key(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct cat_rule *r = arg;
	const char *s = scalar(v);

	if (!strcmp(key, "name")) {
		if (!s || !valid_cat_name(s))
			return fail(c, v, "category name must match [a-z0-9_-]+");
		r->name = strdup(s);
		return r->name ? 0 : fail(c, NULL, "out of memory");
	}
	if (!strcmp(key, "globs"))
		return parse_list(c, v, &r->globs, ITEM_GLOB);
	return fail(c, k, "unknown key \"%s\" in a category (expected name, globs)", key);
}

static int parse_cats(struct pctx *c, yaml_node_t *n)
{
	yaml_node_item_t *it;
	struct policy *p = c->p;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "expected a list of categories");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);

		if (p->ncats == p->cats_cap) {
			size_t cap = p->cats_cap ? 2 * p->cats_cap : 8;
			struct cat_rule *nc = realloc(p->cats, cap * sizeof(*nc));

			if (!nc)
				return fail(c, NULL, "out of memory");
			p->cats = nc;
			p->cats_cap = cap;
		}
		memset(&p->cats[p->ncats], 0, sizeof(p->cats[0]));
		p->ncats++;
		if (each_key(c, e, cat_key, &p->cats[p->ncats - 1]))
			return -1;
		if (!p->cats[p->ncats - 1].name)
			return fail(c, e, "category without a name");
	}
	return 0;
}

static int top_key(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	int *seen_version = arg;
	const char *s = scalar(v);

	if (!strcmp(key, "version")) {
		if (!s || strcmp(s, "1"))
			return fail(c, v, "unsupported version (expected 1)");
		*seen_version = 1;
		return 0;
	}
	if (!strcmp(key, "exclude"))
		return each_key(c, v, exclude_key, NULL);
	if (!strcmp(key, "categories"))
		return parse_cats(c, v);
	if (!strcmp(key, "track"))
		return parse_list(c, v, &c->p->track, ITEM_TRACK);
	return fail(c, k, "unknown key \"%s\" (expected version, exclude, categories, track)", key);
}

static int parse_doc(struct pctx *c)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	int seen_version = 0;

	if (!root)
		return fail(c, NULL, "empty document");
	if (each_key(c, root, top_key, &seen_version))
		return -1;
	if (!seen_version)
		return fail(c, root, "missing \"version: 1\"");
	return 0;
}

static int syntax_error(struct pctx *c, const yaml_parser_t *parser)
{
	snprintf(c->err, c->errlen, "%s:%zu:%zu: %s%s%s", c->name, parser->problem_mark.line + 1,
		 parser->problem_mark.column + 1,
		 parser->problem ? parser->problem : "cannot parse", parser->context ? " " : "",
		 parser->context ? parser->context : "");
	return -1;
}

static int event_error(struct pctx *c, const yaml_event_t *ev, const char *msg)
{
	snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->name, ev->start_mark.line + 1,
		 ev->start_mark.column + 1, msg);
	return -1;
}

/*
 * libyaml's scanner spends time proportional to the nesting depth on every token (its stack of
 * possible simple keys), and an alias repeats the node it names wherever it appears: a deep or
 * aliased document costs more than linear time in its size. The events are read first, and
 * the walk stops at the first level past POLICY_MAX_DEPTH or the first alias, so what libyaml
 * does before the error is bounded by the cap, whatever the input's size.
 */
static int check_events(struct pctx *c, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, ret = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return fail(c, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !ret) {
		if (!yaml_parser_parse(&parser, &ev)) {
			ret = syntax_error(c, &parser);
			break;
		}
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
			if (++depth > POLICY_MAX_DEPTH)
				ret = event_error(c, &ev,
						  "nested more than " POLICY_MAX_DEPTH_TEXT
						  " levels deep (a policy needs 4)");
		} else if (ev.type == YAML_SEQUENCE_END_EVENT ||
			   ev.type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (ev.type == YAML_ALIAS_EVENT) {
			ret = event_error(c, &ev, "aliases (*name) are not allowed in a policy");
		} else if (ev.type == YAML_STREAM_END_EVENT) {
			done = 1;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return ret;
}

static int load_yaml(struct pctx *c, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int ret = -1;

	if (check_events(c, buf, len))
		return -1;
	if (!yaml_parser_initialize(&parser))
		return fail(c, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, c->doc)) {
		syntax_error(c, &parser);
		goto cleanup;
	}
	/* A second document would be silently ignored otherwise. */
	if (!yaml_parser_load(&parser, &extra)) {
		yaml_document_delete(c->doc);
		fail(c, NULL, "cannot parse after the first document");
		goto cleanup;
	}
	if (yaml_document_get_root_node(&extra)) {
		yaml_document_delete(&extra);
		yaml_document_delete(c->doc);
		fail(c, NULL, "more than one YAML document");
		goto cleanup;
	}
	yaml_document_delete(&extra);
	ret = 0;
cleanup:
	yaml_parser_delete(&parser);
	return ret;
}

struct policy *policy_parse(const char *buf, size_t len, const char *name, char *err, size_t errlen)
{
	yaml_document_t doc;
	struct pctx c = {&doc, name ? name : "policy", err, errlen, NULL};
	char dummy[1];
	int ret;

	if (!err || !errlen) {
		c.err = dummy;
		c.errlen = sizeof(dummy);
	}
	if (memchr(buf, '\0', len)) {
		fail(&c, NULL, "contains a NUL byte");
		return NULL;
	}
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p) {
		fail(&c, NULL, "out of memory");
		return NULL;
	}
	if (load_yaml(&c, buf, len)) {
		policy_free(c.p);
		return NULL;
	}
	ret = parse_doc(&c);
	yaml_document_delete(&doc);
	if (!ret && !EVP_Digest(buf, len, c.p->digest, NULL, EVP_sha256(), NULL))
		ret = fail(&c, NULL, "cannot compute sha256");
	if (ret) {
		policy_free(c.p);
		return NULL;
	}
	return c.p;
}

struct policy *policy_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	struct policy *p;
	uint8_t *buf;
	size_t len;

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	ret = fileio_read_fd(fd, 16u << 20, &buf, &len);
	close(fd);
	if (ret == -EFBIG || ret == -ENOMEM) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EFBIG ? "larger than 16 MiB" : "out of memory");
		return NULL;
	}
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return NULL;
	}
	p = policy_parse((char *)buf, len, path, err, errlen);
	free(buf);
	return p;
}

struct policy *policy_default(void)
{
	char err[256];

	return policy_parse(default_yaml, sizeof(default_yaml) - 1, "built-in policy", err,
			    sizeof(err));
}
