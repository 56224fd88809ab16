// SPDX-License-Identifier: BSD-2-Clause
/* test_policy.c - policy loading, matching, categories and error messages. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "lib/policy.h"
#include "testutil.h"

/* The source tree: $AICERT_SRCDIR, else the working directory (tests/run.sh runs from the root). */
static char srcdir[PATH_MAX];

static int setup(void **state)
{
	const char *s = getenv("AICERT_SRCDIR");
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;

	snprintf(srcdir, sizeof(srcdir), "%s", s ? s : ".");
	snprintf(probe, sizeof(probe), "%s/policy/default.yaml", srcdir);
	if (access(probe, R_OK) == 0)
		return 0;
	/* BUILD/tests/test_policy -> the tree two levels up */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	snprintf(srcdir, sizeof(srcdir), "%.*s/../..", (int)(strrchr(exe, '/') - exe), exe);
	return 0;
}

static char *src(const char *rel)
{
	static char p[2 * PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", srcdir, rel);
	return p;
}

/* The built-in copy must be policy/default.yaml byte for byte (so digests agree too). */
static void test_default_matches_file(void **state)
{
	char err[256] = "";
	size_t len;
	char *text = (char *)tu_read_file(src("policy/default.yaml"), &len);
	struct policy *f = policy_load(src("policy/default.yaml"), err, sizeof(err));
	struct policy *d = policy_default();
	uint8_t df[32], dd[32], md[32];

	assert_non_null(text);
	assert_non_null(f);
	assert_non_null(d);
	if (strlen(policy_default_text()) != len || memcmp(policy_default_text(), text, len))
		fail_msg("the built-in policy in userspace/lib/policy.c differs from "
			 "policy/default.yaml: regenerate it");
	policy_digest(f, df);
	policy_digest(d, dd);
	SHA256((const uint8_t *)text, len, md);
	assert_memory_equal(df, dd, 32);
	assert_memory_equal(df, md, 32);
	policy_free(f);
	policy_free(d);
	free(text);
	policy_free(NULL);
}

static void test_excludes(void **state)
{
	struct policy *p = policy_default();

	assert_true(policy_excluded(p, "/proc", 0));
	assert_true(policy_excluded(p, "/proc/self/maps", 0));
	assert_false(policy_excluded(p, "/processes/x", 0));
	assert_true(policy_excluded(p, "/sys/fs/cgroup/x", 0));
	assert_true(policy_excluded(p, "/dev/null", 0));
	assert_false(policy_excluded(p, "/device.csv", 0));
	assert_true(policy_excluded(p, "/run/aicert/trace.sock", 0));
	assert_false(policy_excluded(p, "/run/user/1000/x", 0));
	/* By filesystem, wherever it is mounted. */
	assert_true(policy_excluded(p, "/mnt/x", policy_fs_magic("proc")));
	assert_true(policy_excluded(p, "/weird/cg", policy_fs_magic("cgroup2")));
	assert_true(policy_excluded(p, "pipe:[123]", policy_fs_magic("pipefs")));
	/* tmpfs holds real data: recorded. */
	assert_false(policy_excluded(p, "/tmp/train.csv", policy_fs_magic("tmpfs")));
	assert_false(policy_excluded(p, "/data/train.csv", 0xef53));
	/* __pycache__ is code the run executed: recorded. */
	assert_false(policy_excluded(p, "/src/__pycache__/m.cpython-311.pyc", 0));

	assert_false(policy_excluded(p, "/out/bundle/bom.json", 0));
	assert_int_equal(policy_add_exclude(p, "/out/bundle/"), 0);
	assert_true(policy_excluded(p, "/out/bundle/bom.json", 0));
	assert_true(policy_excluded(p, "/out/bundle", 0));
	assert_false(policy_excluded(p, "/out/bundle2/x", 0));
	assert_int_equal(policy_add_exclude(p, "relative"), -EINVAL);
	policy_free(p);
}

static void test_categories(void **state)
{
	static const struct {
		const char *path, *cat;
	} v[] = {
	    {"/data/train.csv", "dataset"},
	    {"/data/shard-0001.parquet", "dataset"},
	    {"/data/x.jsonl", "dataset"},
	    {"/data/emb.npy", "dataset"},
	    {"/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv", "dataset"},
	    {"/usr/lib/python3/dist-packages/sklearn/datasets/data/boston.json", "dataset"},
	    {"/usr/lib/python3/dist-packages/sklearn/datasets/_base.py", "code"},
	    {"/work/train.py", "code"},
	    {"/work/__pycache__/train.cpython-311.pyc", "code"},
	    {"/work/run.sh", "code"},
	    {"/out/model.pt", "model"},
	    {"/out/model.safetensors", "model"},
	    {"/out/clf.joblib", "model"},
	    {"/hf/pytorch_model.bin", "model"},
	    {"/var/lib/foo.bin", "other"},
	    {"/usr/lib/x86_64-linux-gnu/libc.so.6", "library"},
	    {"/usr/lib/python3/dist-packages/numpy/core/"
	     "_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
	     "library"},
	    {"/lib64/ld-linux-x86-64.so.2", "interpreter"},
	    {"/usr/bin/python3.11", "interpreter"},
	    {"/usr/bin/python3", "interpreter"},
	    {"/venv/bin/python", "interpreter"},
	    {"/bin/sh", "interpreter"},
	    {"/usr/bin/ls", "executable"},
	    {"/work/config.yaml", "config"},
	    {"/work/x.json", "config"},
	    {"/etc/ld.so.cache", "other"},
	    {"/work/README", "other"},
	};
	struct policy *p = policy_default();

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(policy_category(p, v[i].path), v[i].cat))
			fail_msg("%s: category %s, expected %s", v[i].path,
				 policy_category(p, v[i].path), v[i].cat);
	policy_free(p);
}

static void test_glob(void **state)
{
	assert_true(policy_glob_match("*.py", "/a/b/c.py"));
	assert_false(policy_glob_match("*.py", "/a/b.py/c"));
	assert_true(policy_glob_match("/a/*/c", "/a/b/c"));
	assert_false(policy_glob_match("/a/*/c", "/a/b/x/c"));
	assert_true(policy_glob_match("/a/**/c", "/a/c"));
	assert_true(policy_glob_match("/a/**/c", "/a/b/x/c"));
	assert_false(policy_glob_match("/a/**/c", "/a/bc"));
	assert_true(policy_glob_match("**/__pycache__/**", "/x/__pycache__/m.pyc"));
	assert_true(policy_glob_match("**/__pycache__/**", "/x/y/__pycache__/sub/m.pyc"));
	assert_false(policy_glob_match("**/__pycache__/**", "/x/__pycache__x/m.pyc"));
	assert_true(policy_glob_match("/srv/**", "/srv/a/b"));
	assert_false(policy_glob_match("/srv/**", "/srvx/a"));
	assert_true(policy_glob_match("**/d/**/e/*.csv", "/r/d/1/2/e/f.csv"));
	assert_false(policy_glob_match("**/d/**/e/*.csv", "/r/d/1/2/e/g/f.csv"));
	assert_true(policy_glob_match("**/bin/python[0-9]*", "/usr/bin/python3.11"));
	assert_false(policy_glob_match("**/bin/python[0-9]*", "/usr/bin/python-config"));
	/* several "**": every way of splitting the path is covered, each (suffix, suffix) once */
	assert_true(policy_glob_match("**/**/x", "/x"));
	assert_true(policy_glob_match("**/**/x", "/a/b/x"));
	assert_true(policy_glob_match("/a/**/b/**/c", "/a/b/c"));
	assert_true(policy_glob_match("/a/**/b/**/c", "/a/z/b/y/b/c"));
	assert_false(policy_glob_match("/a/**/b/**/c", "/a/c/b"));
	assert_false(policy_glob_match("**/a/**/a/**/a/**/x", "/a/a/y/x"));
	assert_true(policy_glob_match("**/a/**/a/**/a/**/x", "/a/q/a/a/x"));
}

/* 60 "**" against 60 components: each split tried once, not every combination of them. */
static void test_glob_many_stars(void **state)
{
	char pat[512] = "", path[512] = "";

	for (int i = 0; i < 60; i++) {
		strcat(pat, "**/a/");
		strcat(path, "/a");
	}
	strcat(pat, "x");
	strcat(path, "/y");
	assert_false(policy_glob_match(pat, path));
	path[strlen(path) - 1] = 'x';
	assert_true(policy_glob_match(pat, path));
}

static void test_custom_fixture(void **state)
{
	char err[256] = "";
	struct policy *p = policy_load(src("tests/fixtures/policy/custom.yaml"), err, sizeof(err));

	if (!p)
		fail_msg("%s", err);
	assert_true(policy_excluded(p, "/scratch/x", 0));
	assert_true(policy_excluded(p, "/scratch", 0));
	assert_true(policy_excluded(p, "/var/cache/apt/x", 0));
	assert_true(policy_excluded(p, "/tmp/x", policy_fs_magic("tmpfs")));
	assert_false(policy_excluded(p, "/sys/x", 0)); /* not in this policy */
	assert_true(policy_excluded(p, "/src/.git/objects/ab/cd", 0));
	assert_true(policy_excluded(p, "/src/.x.swp", 0));
	assert_string_equal(policy_category(p, "/srv/features/a/b.csv"), "feature-store");
	assert_string_equal(policy_category(p, "/data/b.csv"), "dataset");
	assert_string_equal(policy_category(p, "/data/b.py"), "other");
	policy_free(p);
}

static void expect_error(const char *yaml, const char *want)
{
	char err[256] = "";
	struct policy *p = policy_parse(yaml, strlen(yaml), "t.yaml", err, sizeof(err));

	if (p)
		fail_msg("accepted a bad policy (expected \"%s\"):\n%s", want, yaml);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_errors(void **state)
{
	expect_error("version: 1\nfoo: 2\n", "t.yaml:2:1: unknown key \"foo\"");
	expect_error("version: 2\n", "t.yaml:1:10: unsupported version");
	expect_error("exclude: {}\n", "missing \"version: 1\"");
	expect_error("", "empty document");
	expect_error("- a\n", "t.yaml:1:1: expected a mapping");
	expect_error("version: 1\nexclude:\n  prefixes: /proc\n", "t.yaml:3:13: expected a list");
	expect_error("version: 1\nexclude:\n  prefixes: [proc]\n", "t.yaml:3:14: prefix \"proc\"");
	expect_error("version: 1\nexclude:\n  prefixes: [[/a]]\n",
		     "t.yaml:3:14: expected a string");
	expect_error("version: 1\nexclude:\n  filesystems: [ext9]\n",
		     "t.yaml:3:17: unknown filesystem \"ext9\"");
	expect_error("version: 1\nexclude:\n  globs: [\"a/**b\"]\n", "t.yaml:3:11:");
	expect_error("version: 1\nexclude:\n  globs: [\"x/*.py\"]\n", "starts with neither");
	expect_error("version: 1\nexclude:\n  globs: [\"/a/b**\"]\n", "whole path component");
	expect_error("version: 1\nexclude:\n  globs: [\"\"]\n", "empty glob");
	expect_error("version: 1\ncategories:\n  - globs: [\"*.x\"]\n",
		     "t.yaml:3:5: category without a name");
	expect_error("version: 1\ncategories:\n  - name: Bad Name\n", "t.yaml:3:11: category name");
	expect_error("version: 1\ncategories:\n  - name: a\n    glob: [\"*.x\"]\n",
		     "t.yaml:4:5: unknown key \"glob\" in a category");
	expect_error("version: 1\ncategories: {a: b}\n",
		     "t.yaml:2:13: expected a list of categories");
	expect_error("version: 1\nversion: 1\n", "t.yaml:2:1: duplicate key \"version\"");
	expect_error("version: 1\nexclude: [\n", "t.yaml:3:1:");
	expect_error("version: 1\n---\nversion: 1\n", "more than one YAML document");
	expect_error("version: 1\n\tbad: tab\n", "t.yaml:2:");
}

/* "version: 1\nexclude:\n  prefixes: " and n open and n closing brackets (or braces) */
static char *nested(size_t n, char open, char close)
{
	static const char head[] = "version: 1\nexclude:\n  prefixes: ";
	size_t h = sizeof(head) - 1;
	char *s = malloc(h + 2 * n * 4 + 2);
	size_t k = h;

	assert_non_null(s);
	memcpy(s, head, h);
	for (size_t i = 0; i < n; i++) {
		s[k++] = open;
		if (open == '{')
			memcpy(s + k, "a: ", 3), k += 3;
	}
	for (size_t i = 0; i < n; i++)
		s[k++] = close;
	s[k++] = '\n';
	s[k] = '\0';
	return s;
}

static void expect_nested(size_t n, char open, char close, const char *want)
{
	char *s = nested(n, open, close);

	expect_error(s, want);
	free(s);
}

/* Nesting is capped before libyaml's per-level cost adds up; aliases are refused. */
static void test_limits(void **state)
{
	/* 100,000 levels: the error names the first level past the cap (root, exclude, 14) */
	expect_nested(100000, '[', ']', "t.yaml:3:27: nested more than 16 levels deep");
	expect_nested(100000, '{', '}', "nested more than 16 levels deep");
	/* 16 levels are parsed, and the schema has its say */
	expect_nested(14, '[', ']', "t.yaml:3:14: expected a string");
	expect_nested(15, '[', ']', "t.yaml:3:27: nested more than 16 levels deep");
	expect_error("version: 1\ncategories:\n  - &c {name: a, globs: [\"*.a\"]}\n  - *c\n",
		     "t.yaml:4:5: aliases (*name) are not allowed in a policy");
	expect_error("version: 1\nexclude: [\n", "t.yaml:3:1: did not find expected node content");
}

/* Repeated filesystems are kept once; many categories keep their order (first match wins). */
static void test_many(void **state)
{
	size_t cap = 1 << 20, k;
	char *y = malloc(cap), err[256];
	struct policy *p;

	assert_non_null(y);
	k = (size_t)snprintf(y, cap, "version: &v 1\nexclude:\n  filesystems: [");
	for (int i = 0; i < 5000; i++)
		k += (size_t)snprintf(y + k, cap - k, "%sproc", i ? ", " : "");
	k += (size_t)snprintf(y + k, cap - k, ", sysfs]\ncategories:\n");
	for (int i = 0; i < 3000; i++)
		k += (size_t)snprintf(y + k, cap - k,
				      "  - {name: c%d, globs: [\"*.e%d\", \"*.all\"]}\n", i, i);
	p = policy_parse(y, k, "many.yaml", err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_true(policy_excluded(p, "/x", policy_fs_magic("proc")));
	assert_true(policy_excluded(p, "/x", policy_fs_magic("sysfs")));
	assert_false(policy_excluded(p, "/x", policy_fs_magic("tmpfs")));
	assert_string_equal(policy_category(p, "/d/f.e2999"), "c2999");
	assert_string_equal(policy_category(p, "/d/f.e17"), "c17");
	assert_string_equal(policy_category(p, "/d/f.all"), "c0");
	policy_free(p);
	free(y);
}

static void test_fixture_errors(void **state)
{
	static const struct {
		const char *file, *want;
	} v[] = {
	    {"bad-unknown-key.yaml", "bad-unknown-key.yaml:4:3: unknown key \"filesytems\""},
	    {"bad-filesystem.yaml", "bad-filesystem.yaml:5:7: unknown filesystem \"notafs\""},
	    {"bad-type.yaml", "bad-type.yaml:4:12: expected a list"},
	    {"bad-syntax.yaml", "bad-syntax.yaml:4:1:"},
	};
	char err[512], rel[128];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(rel, sizeof(rel), "tests/fixtures/policy/%s", v[i].file);
		err[0] = '\0';
		assert_null(policy_load(src(rel), err, sizeof(err)));
		if (!strstr(err, v[i].want))
			fail_msg("error \"%s\" does not contain \"%s\"", err, v[i].want);
	}
	assert_null(policy_load("/nonexistent/policy.yaml", err, sizeof(err)));
	assert_string_equal(err, "cannot open /nonexistent/policy.yaml: No such file or directory");
}

static void test_digest_differs(void **state)
{
	const char *a = "version: 1\n", *b = "version: 1 \n";
	char err[128];
	struct policy *pa = policy_parse(a, strlen(a), "a", err, sizeof(err));
	struct policy *pb = policy_parse(b, strlen(b), "b", err, sizeof(err));
	uint8_t da[32], db[32];

	assert_non_null(pa);
	assert_non_null(pb);
	policy_digest(pa, da);
	policy_digest(pb, db);
	assert_memory_not_equal(da, db, 32);
	/* An empty policy records everything and labels everything "other". */
	assert_false(policy_excluded(pa, "/proc/x", policy_fs_magic("proc") + 1));
	assert_string_equal(policy_category(pa, "/x.py"), "other");
	policy_free(pa);
	policy_free(pb);
}

/* track: a list of cgroup globs, each a path below the cgroup v2 root. */
static void test_track(void **state)
{
	const char *y = "version: 1\ntrack:\n  - /system.slice/slurmstepd.scope/job_*/step_*\n"
			"  - /kubepods.slice/**/cri-containerd-*.scope\n";
	const char *const *g;
	char err[256] = "";
	struct policy *p = policy_parse(y, strlen(y), "t.yaml", err, sizeof(err));

	if (!p)
		fail_msg("%s", err);
	assert_int_equal(policy_track(p, &g), 2);
	assert_string_equal(g[0], "/system.slice/slurmstepd.scope/job_*/step_*");
	assert_string_equal(g[1], "/kubepods.slice/**/cri-containerd-*.scope");
	assert_true(policy_glob_match(g[0], "/system.slice/slurmstepd.scope/job_12/step_0"));
	assert_false(policy_glob_match(g[0], "/system.slice/slurmstepd.scope/job_12"));
	assert_true(policy_glob_match(g[1], "/kubepods.slice/kubepods-pod1.slice/"
					    "cri-containerd-ab12.scope"));
	/* the rest of the policy is as without the section */
	assert_string_equal(policy_category(p, "/x.py"), "other");
	policy_free(p);

	y = "version: 1\ntrack: []\n";
	p = policy_parse(y, strlen(y), "t.yaml", err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(policy_track(p, &g), 0);
	policy_free(p);
	p = policy_default();
	assert_non_null(p);
	assert_int_equal(policy_track(p, &g), 0);
	policy_free(p);
}

static void test_track_errors(void **state)
{
	expect_error("version: 1\ntrack: /a/b\n", "t.yaml:2:8: expected a list");
	expect_error("version: 1\ntrack: {a: b}\n", "t.yaml:2:8: expected a list");
	expect_error("version: 1\ntrack:\n  - /a\n  - job_*\n",
		     "t.yaml:4:5: track glob \"job_*\" does not start with \"/\"");
	expect_error("version: 1\ntrack: [\"**/job_*\"]\n",
		     "t.yaml:2:9: track glob \"**/job_*\" does not start with \"/\"");
	expect_error("version: 1\ntrack: [\"\"]\n", "t.yaml:2:9: track glob \"\" does not start");
	expect_error("version: 1\ntrack: [/a/]\n", "t.yaml:2:9: track glob \"/a/\" ends with");
	expect_error("version: 1\ntrack: [/]\n", "t.yaml:2:9: track glob \"/\" ends with");
	expect_error("version: 1\ntrack: [/a/b**]\n", "t.yaml:2:9: \"**\" must be a whole path");
	expect_error("version: 1\ntrack: [[/a]]\n", "t.yaml:2:9: expected a string");
	expect_error("version: 1\ntrack: [/a]\ntrack: [/b]\n",
		     "t.yaml:3:1: duplicate key \"track\"");
}

/* The caps: POLICY_TRACK_MAX entries, and a glob's length as everywhere in the policy. */
static void test_track_limits(void **state)
{
	size_t cap = 1 << 16, k;
	char *y = malloc(cap), err[256] = "";
	const char *const *g;
	struct policy *p;

	assert_non_null(y);
	k = (size_t)snprintf(y, cap, "version: 1\ntrack:\n");
	for (int i = 0; i < POLICY_TRACK_MAX; i++)
		k += (size_t)snprintf(y + k, cap - k, "  - /slice/job_%d/*\n", i);
	p = policy_parse(y, k, "t.yaml", err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(policy_track(p, &g), POLICY_TRACK_MAX);
	assert_string_equal(g[POLICY_TRACK_MAX - 1], "/slice/job_255/*");
	policy_free(p);
	/* one more: the error names the first entry past the cap (line 2 + 257) */
	k += (size_t)snprintf(y + k, cap - k, "  - /one/too/many\n");
	assert_null(policy_parse(y, k, "t.yaml", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:259:5: more than 256 track globs");

	k = (size_t)snprintf(y, cap, "version: 1\ntrack: [/");
	memset(y + k, 'a', 4096);
	k += 4096;
	k += (size_t)snprintf(y + k, cap - k, "]\n");
	expect_error(y, "t.yaml:2:9: glob too long");
	free(y);
}

/* The digest covers the section: a changed track list is a different policy. */
static void test_track_digest(void **state)
{
	const char *y[] = {"version: 1\n", "version: 1\ntrack: [/a/*]\n",
			   "version: 1\ntrack: [/b/*]\n"};
	uint8_t d[3][32];
	char err[128];

	for (int i = 0; i < 3; i++) {
		struct policy *p = policy_parse(y[i], strlen(y[i]), "t", err, sizeof(err));

		assert_non_null(p);
		policy_digest(p, d[i]);
		policy_free(p);
	}
	assert_memory_not_equal(d[0], d[1], 32);
	assert_memory_not_equal(d[1], d[2], 32);
	assert_memory_not_equal(d[0], d[2], 32);
}

static void test_fs_names(void **state)
{
	assert_int_equal(policy_fs_magic("proc"), 0x9fa0);
	assert_int_equal(policy_fs_magic("sysfs"), 0x62656572);
	assert_int_equal(policy_fs_magic("cgroup2"), 0x63677270);
	assert_int_equal(policy_fs_magic("tmpfs"), 0x01021994);
	assert_int_equal(policy_fs_magic("nope"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_matches_file),
	    cmocka_unit_test(test_excludes),
	    cmocka_unit_test(test_categories),
	    cmocka_unit_test(test_glob),
	    cmocka_unit_test(test_glob_many_stars),
	    cmocka_unit_test(test_custom_fixture),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_fixture_errors),
	    cmocka_unit_test(test_digest_differs),
	    cmocka_unit_test(test_fs_names),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_track),
	    cmocka_unit_test(test_track_errors),
	    cmocka_unit_test(test_track_limits),
	    cmocka_unit_test(test_track_digest),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
