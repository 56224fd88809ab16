// SPDX-License-Identifier: BSD-2-Clause
/* manifest.c - read, write and check a bundle's manifest.json and its quote binding. */
#include "lib/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lib/fileio.h"
#include "lib/hex.h"

#define MANIFEST_TMP "manifest.json.tmp"
/* Bundles hold a handful of files; a manifest this large is not one of ours. */
#define MANIFEST_TEXT_MAX (16u << 20)
#define PCR_MAX 23

static int fail(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, MANIFEST_WHY_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

bool manifest_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!*p || strchr(name, '/') || strstr(name, "..") || !strcmp(name, ".") ||
	    !strcmp(name, MANIFEST_NAME))
		return false;
	/* The binding is line based ("<name> <hex>\n"): a space or newline in a name could
	 * forge a line. */
	for (; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

bool manifest_name_unbound(const char *name)
{
	/* ima.bin is read after the quote (so it covers the quoted PCR 10) and is attested by
	 * PCR 10 itself: its replay must reach the quoted value */
	static const char *const unbound[] = {"quote.msg", "quote.sig", "ak.pub.pem", "ak.cert.pem",
					      "ima.bin", MANIFEST_NAME};

	for (size_t i = 0; i < sizeof(unbound) / sizeof(unbound[0]); i++)
		if (!strcmp(name, unbound[i]))
			return true;
	return false;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i].name);
	free(m->files);
	free(m->qualifying_data_of);
	free(m);
}

static int line(EVP_MD_CTX *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int line(EVP_MD_CTX *ctx, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return EVP_DigestUpdate(ctx, buf, (size_t)n) == 1 ? 0 : -1;
}

int manifest_binding(const struct manifest *m, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char hex[2 * MANIFEST_NONCE_MAX + 1];
	unsigned len = 0;
	int ret = -1;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    line(ctx, "%s\n", MANIFEST_BINDING_TAG))
		goto cleanup;
	/* a bundle's binding has no kind line: it stays what it was before log quotes */
	if (m->kind == MANIFEST_LOG_QUOTE && line(ctx, "kind %s\n", MANIFEST_KIND_LOG_QUOTE))
		goto cleanup;
	for (size_t i = 0; i < m->n_files; i++) {
		if (manifest_name_unbound(m->files[i].name))
			continue;
		hex_encode(m->files[i].sha256, 32, hex);
		if (line(ctx, "%s %s\n", m->files[i].name, hex))
			goto cleanup;
	}
	if (line(ctx, "pcr %u\n", m->pcr))
		goto cleanup;
	if (m->has_nonce) {
		hex_encode(m->nonce, m->nonce_len, hex);
		if (line(ctx, "nonce %s\n", hex))
			goto cleanup;
	}
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
		goto cleanup;
	ret = 0;
cleanup:
	EVP_MD_CTX_free(ctx);
	return ret;
}

int manifest_check_binding(const struct manifest *m, char why[MANIFEST_WHY_MAX])
{
	uint8_t b[32];

	if (manifest_binding(m, b))
		return fail(why, "cannot compute the manifest binding: SHA-256 failed");
	if (memcmp(b, m->qualifying_data, 32))
		return fail(why,
			    "manifest qualifying_data is not the %s binding of its kind (%s), "
			    "files, pcr and nonce",
			    MANIFEST_BINDING_TAG, manifest_kind_name(m->kind));
	return 0;
}

/* Hashes dir/name, a regular file opened without following symlinks. */
static int hash_file(int dfd, const char *name, uint8_t sha[32], uint64_t *size, char *why)
{
	struct stat st;
	int fd, err, ret = -1;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return fail(why, "%s: cannot open: %s", name,
			    errno == ELOOP ? "is a symbolic link" : strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fail(why, "%s: not a regular file", name);
		goto cleanup;
	}
	err = fileio_sha256_fd(fd, sha, size);
	if (err == -EIO)
		fail(why, "%s: SHA-256 failed", name);
	else if (err)
		fail(why, "%s: cannot read: %s", name, strerror(-err));
	else
		ret = 0;
cleanup:
	close(fd);
	return ret;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct manifest_file *)a)->name,
		      ((const struct manifest_file *)b)->name);
}

/* Collects the names of dir's entries except ".", ".." and manifest.json. */
static int list_dir(DIR *d, const char *dir, struct manifest *m, char *why)
{
	struct dirent *e;
	size_t cap = 0;

	errno = 0;
	while ((e = readdir(d))) {
		struct manifest_file *f;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, MANIFEST_NAME))
			continue;
		if (!manifest_name_ok(e->d_name))
			return fail(why, "%s: file name '%s' is not allowed in a bundle", dir,
				    e->d_name);
		if (m->n_files == cap) {
			cap = cap ? 2 * cap : 16;
			f = realloc(m->files, cap * sizeof(*f));
			if (!f)
				return fail(why, "%s: out of memory", dir);
			m->files = f;
		}
		f = &m->files[m->n_files];
		memset(f, 0, sizeof(*f));
		f->name = strdup(e->d_name);
		if (!f->name)
			return fail(why, "%s: out of memory", dir);
		m->n_files++;
		errno = 0;
	}
	if (errno)
		return fail(why, "cannot read directory %s: %s", dir, strerror(errno));
	return 0;
}

static int set_nonce(struct manifest *m, const uint8_t *nonce, size_t len, char *why)
{
	if (!nonce)
		return 0;
	if (!len || len > MANIFEST_NONCE_MAX)
		return fail(why, "nonce must be 1 to %d bytes, not %zu", MANIFEST_NONCE_MAX, len);
	memcpy(m->nonce, nonce, len);
	m->nonce_len = len;
	m->has_nonce = true;
	return 0;
}

const char *manifest_kind_name(enum manifest_kind kind)
{
	return kind == MANIFEST_LOG_QUOTE ? MANIFEST_KIND_LOG_QUOTE : MANIFEST_KIND_BUNDLE;
}

const char *manifest_binding_text(enum manifest_kind kind)
{
	return kind == MANIFEST_LOG_QUOTE ? MANIFEST_BINDING_TEXT_LOG_QUOTE : MANIFEST_BINDING_TEXT;
}

int manifest_scan(const char *dir, unsigned pcr, const uint8_t *nonce, size_t nonce_len,
		  struct manifest **out, char why[MANIFEST_WHY_MAX])
{
	return manifest_scan_kind(dir, MANIFEST_BUNDLE, pcr, nonce, nonce_len, out, why);
}

int manifest_scan_kind(const char *dir, enum manifest_kind kind, unsigned pcr, const uint8_t *nonce,
		       size_t nonce_len, struct manifest **out, char why[MANIFEST_WHY_MAX])
{
	struct manifest *m = calloc(1, sizeof(*m));
	char inner[MANIFEST_WHY_MAX];
	DIR *d = NULL;
	int ret = -1;

	*out = NULL;
	if (!m)
		return fail(why, "cannot scan %s: out of memory", dir);
	if (pcr > PCR_MAX) {
		fail(why, "PCR %u out of range (0-%d)", pcr, PCR_MAX);
		goto cleanup;
	}
	if (kind == MANIFEST_LOG_QUOTE && !nonce) {
		fail(why, "a log quote needs a nonce (the verifier's challenge)");
		goto cleanup;
	}
	m->pcr = pcr;
	m->kind = kind;
	m->has_kind = kind != MANIFEST_BUNDLE;
	strcpy(m->pcr_bank, "sha256");
	m->qualifying_data_of = strdup(manifest_binding_text(kind));
	if (!m->qualifying_data_of || set_nonce(m, nonce, nonce_len, why))
		goto cleanup;
	d = opendir(dir);
	if (!d) {
		fail(why, "cannot open directory %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	if (list_dir(d, dir, m, why))
		goto cleanup;
	qsort(m->files, m->n_files, sizeof(*m->files), cmp_file);
	for (size_t i = 0; i < m->n_files; i++) {
		if (hash_file(dirfd(d), m->files[i].name, m->files[i].sha256, &m->files[i].size,
			      inner)) {
			fail(why, "%s/%s", dir, inner);
			goto cleanup;
		}
	}
	if (manifest_binding(m, m->qualifying_data)) {
		fail(why, "cannot compute the binding of %s: SHA-256 failed", dir);
		goto cleanup;
	}
	*out = m;
	m = NULL;
	ret = 0;
cleanup:
	if (d)
		closedir(d);
	manifest_free(m);
	return ret;
}

char *manifest_dump(const struct manifest *m)
{
	json_t *root = NULL, *files = json_array();
	char qd[65], nonce[2 * MANIFEST_NONCE_MAX + 1], *text = NULL, *nl = NULL;

	for (size_t i = 0; files && i < m->n_files; i++) {
		char h[65];

		hex_encode(m->files[i].sha256, 32, h);
		if (json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "name",
							   m->files[i].name, "sha256", h, "size",
							   (json_int_t)m->files[i].size)))
			goto cleanup;
	}
	hex_encode(m->qualifying_data, 32, qd);
	root = json_pack("{s:s, s:o, s:i, s:s, s:s, s:s}", "schema", MANIFEST_SCHEMA, "files",
			 files, "pcr", (int)m->pcr, "pcr_bank", m->pcr_bank, "qualifying_data", qd,
			 "qualifying_data_of", m->qualifying_data_of);
	files = NULL; /* "o" stole the reference, even on failure */
	if (!root)
		goto cleanup;
	if (m->has_nonce) {
		hex_encode(m->nonce, m->nonce_len, nonce);
		if (json_object_set_new(root, "nonce", json_string(nonce)))
			goto cleanup;
	}
	if (m->has_kind &&
	    json_object_set_new(root, "kind", json_string(manifest_kind_name(m->kind))))
		goto cleanup;
	text = json_dumps(root, JSON_INDENT(2));
	if (text && asprintf(&nl, "%s\n", text) < 0)
		nl = NULL;
cleanup:
	free(text);
	json_decref(files);
	json_decref(root);
	return nl;
}

int manifest_write(const char *dir, const struct manifest *m, char why[MANIFEST_WHY_MAX])
{
	char *text = manifest_dump(m);
	int dfd = -1, fd = -1, ret = -1;

	if (!text)
		return fail(why, "cannot write %s/%s: JSON encoding failed", dir, MANIFEST_NAME);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fail(why, "cannot open directory %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	fd = openat(dfd, MANIFEST_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fileio_write_all(fd, text, strlen(text)) || fsync(fd)) {
		fail(why, "cannot write %s/%s: %s", dir, MANIFEST_TMP, strerror(errno));
		goto cleanup;
	}
	if (close(fd)) {
		fd = -1;
		fail(why, "cannot write %s/%s: %s", dir, MANIFEST_TMP, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (renameat(dfd, MANIFEST_TMP, dfd, MANIFEST_NAME)) {
		fail(why, "cannot rename %s/%s to %s: %s", dir, MANIFEST_TMP, MANIFEST_NAME,
		     strerror(errno));
		goto cleanup;
	}
	fsync(dfd); /* best effort: the rename is what must be durable, and most FS order it */
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (ret && dfd >= 0)
		unlinkat(dfd, MANIFEST_TMP, 0);
	if (dfd >= 0)
		close(dfd);
	free(text);
	return ret;
}

int manifest_build(const char *dir, unsigned pcr, const uint8_t *nonce, size_t nonce_len,
		   struct manifest **out, char why[MANIFEST_WHY_MAX])
{
	return manifest_build_kind(dir, MANIFEST_BUNDLE, pcr, nonce, nonce_len, out, why);
}

int manifest_build_kind(const char *dir, enum manifest_kind kind, unsigned pcr,
			const uint8_t *nonce, size_t nonce_len, struct manifest **out,
			char why[MANIFEST_WHY_MAX])
{
	struct manifest *m = NULL;

	if (out)
		*out = NULL;
	if (manifest_scan_kind(dir, kind, pcr, nonce, nonce_len, &m, why) ||
	    manifest_write(dir, m, why)) {
		manifest_free(m);
		return -1;
	}
	if (out)
		*out = m;
	else
		manifest_free(m);
	return 0;
}

/* A string with no embedded NUL. */
static const char *get_str(json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static int get_hex(json_t *v, const char *what, uint8_t *out, size_t min, size_t max, size_t *len,
		   char *why)
{
	const char *s = get_str(v);
	size_t n;

	if (!s)
		return fail(why, "manifest: %s is not a string", what);
	n = strlen(s);
	if (n % 2 || n / 2 < min || n / 2 > max)
		return fail(why, "manifest: %s has %zu hex digits, expected %s%zu", what, n,
			    min == max ? "" : "2 to ", 2 * max);
	if (hex_decode(s, out, n / 2))
		return fail(why, "manifest: %s is not hex", what);
	if (len)
		*len = n / 2;
	return 0;
}

static int parse_file(json_t *v, size_t i, struct manifest_file *f, char *why)
{
	const char *key, *name;
	char what[48];
	json_t *val;

	if (!json_is_object(v))
		return fail(why, "manifest: files[%zu] is not an object", i);
	json_object_foreach(v, key, val)
	{
		if (strcmp(key, "name") && strcmp(key, "sha256") && strcmp(key, "size"))
			return fail(why, "manifest: files[%zu] has unknown field '%.40s'", i, key);
	}
	name = get_str(json_object_get(v, "name"));
	if (!name)
		return fail(why, "manifest: files[%zu].name missing or not a string", i);
	if (!manifest_name_ok(name))
		return fail(why, "manifest: files[%zu].name '%.64s' is not a plain file name", i,
			    name);
	snprintf(what, sizeof(what), "files[%zu].sha256", i);
	if (get_hex(json_object_get(v, "sha256"), what, f->sha256, 32, 32, NULL, why))
		return -1;
	val = json_object_get(v, "size");
	if (!json_is_integer(val) || json_integer_value(val) < 0)
		return fail(why, "manifest: files[%zu].size missing or not a non-negative integer",
			    i);
	f->size = (uint64_t)json_integer_value(val);
	f->name = strdup(name);
	return f->name ? 0 : fail(why, "manifest: out of memory");
}

static int parse_files(json_t *v, struct manifest *m, char *why)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v))
		return fail(why, "manifest: files missing or not an array");
	m->files = calloc(n ? n : 1, sizeof(*m->files));
	if (!m->files)
		return fail(why, "manifest: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (parse_file(json_array_get(v, i), i, &m->files[i], why))
			return -1;
		m->n_files++;
		if (i && strcmp(m->files[i - 1].name, m->files[i].name) >= 0)
			return fail(why, "manifest: files[%zu] '%.64s' is %s", i, m->files[i].name,
				    strcmp(m->files[i - 1].name, m->files[i].name)
					? "out of byte order of name"
					: "listed twice");
	}
	return 0;
}

static int check_keys(json_t *root, char *why)
{
	static const char *const known[] = {
	    "schema", "files", "pcr", "pcr_bank", "qualifying_data", "qualifying_data_of",
	    "nonce",  "kind"};
	const char *key;
	json_t *val;

	json_object_foreach(root, key, val)
	{
		size_t i = 0;

		while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]))
			i++;
		if (i == sizeof(known) / sizeof(known[0]))
			return fail(why, "manifest: unknown field '%.40s'", key);
	}
	return 0;
}

static int parse_root(json_t *root, struct manifest *m, char *why)
{
	const char *s;
	json_t *v;

	if (!json_is_object(root))
		return fail(why, "manifest: not a JSON object");
	if (check_keys(root, why))
		return -1;
	s = get_str(json_object_get(root, "schema"));
	if (!s || strcmp(s, MANIFEST_SCHEMA))
		return fail(why, "manifest: schema is not \"%s\"", MANIFEST_SCHEMA);
	if (parse_files(json_object_get(root, "files"), m, why))
		return -1;
	v = json_object_get(root, "pcr");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > PCR_MAX)
		return fail(why, "manifest: pcr missing or not an integer 0-%d", PCR_MAX);
	m->pcr = (unsigned)json_integer_value(v);
	s = get_str(json_object_get(root, "pcr_bank"));
	if (!s || strcmp(s, "sha256"))
		return fail(why, "manifest: pcr_bank is not \"sha256\"");
	strcpy(m->pcr_bank, s);
	if (get_hex(json_object_get(root, "qualifying_data"), "qualifying_data", m->qualifying_data,
		    32, 32, NULL, why))
		return -1;
	s = get_str(json_object_get(root, "qualifying_data_of"));
	if (!s || !*s)
		return fail(why, "manifest: qualifying_data_of missing or not a non-empty string");
	m->qualifying_data_of = strdup(s);
	if (!m->qualifying_data_of)
		return fail(why, "manifest: out of memory");
	v = json_object_get(root, "nonce");
	if (v && get_hex(v, "nonce", m->nonce, 1, MANIFEST_NONCE_MAX, &m->nonce_len, why))
		return -1;
	m->has_nonce = v != NULL;
	v = json_object_get(root, "kind");
	m->has_kind = v != NULL;
	if (v) {
		s = get_str(v);
		if (s && !strcmp(s, MANIFEST_KIND_LOG_QUOTE))
			m->kind = MANIFEST_LOG_QUOTE;
		else if (!s || strcmp(s, MANIFEST_KIND_BUNDLE))
			return fail(why, "manifest: kind is not \"%s\" or \"%s\"",
				    MANIFEST_KIND_BUNDLE, MANIFEST_KIND_LOG_QUOTE);
	}
	if (m->kind == MANIFEST_LOG_QUOTE && !m->has_nonce)
		return fail(why, "manifest: a log quote without a nonce (it answers a verifier's "
				 "challenge, which it must name)");
	return 0;
}

int manifest_parse(const char *text, size_t len, struct manifest **out, char why[MANIFEST_WHY_MAX])
{
	struct manifest *m = calloc(1, sizeof(*m));
	json_error_t err;
	json_t *root;
	int ret = -1;

	*out = NULL;
	if (!m)
		return fail(why, "manifest: out of memory");
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		fail(why, "manifest: invalid JSON at line %d column %d: %s", err.line, err.column,
		     err.text);
		goto cleanup;
	}
	if (parse_root(root, m, why))
		goto cleanup;
	*out = m;
	m = NULL;
	ret = 0;
cleanup:
	json_decref(root);
	manifest_free(m);
	return ret;
}

int manifest_read(const char *path, struct manifest **out, char why[MANIFEST_WHY_MAX])
{
	char inner[MANIFEST_WHY_MAX];
	uint8_t *buf = NULL;
	size_t n = 0;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(why, "cannot open %s: %s", path, strerror(errno));
	ret = fileio_read_fd(fd, MANIFEST_TEXT_MAX, &buf, &n);
	close(fd);
	if (ret)
		return fail(why, "cannot read %s: %s", path,
			    ret == -EFBIG ? "larger than 16 MiB" : strerror(-ret));
	ret = manifest_parse((char *)buf, n, out, inner) ? -1 : 0;
	if (ret)
		fail(why, "%s: %s", path, inner);
	free(buf);
	return ret;
}

static int report(manifest_report_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int report(manifest_report_fn fn, void *ctx, const char *fmt, ...)
{
	char buf[MANIFEST_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (fn)
		fn(ctx, buf);
	return 1;
}

static int check_listed(int dfd, const struct manifest *m, manifest_report_fn fn, void *ctx)
{
	char why[MANIFEST_WHY_MAX], h[65];
	int problems = 0;

	for (size_t i = 0; i < m->n_files; i++) {
		const struct manifest_file *f = &m->files[i];
		uint8_t sha[32];
		uint64_t size;

		if (hash_file(dfd, f->name, sha, &size, why)) {
			problems += report(fn, ctx, "%s", why);
			continue;
		}
		if (size != f->size)
			problems += report(fn, ctx, "%s: size %" PRIu64 ", manifest says %" PRIu64,
					   f->name, size, f->size);
		else if (memcmp(sha, f->sha256, 32)) {
			hex_encode(sha, 32, h);
			problems += report(fn, ctx, "%s: sha256 %.16s... differs from the manifest",
					   f->name, h);
		}
	}
	return problems;
}

int manifest_check_files(const char *dir, const struct manifest *m, manifest_report_fn fn,
			 void *ctx)
{
	struct dirent *e;
	int problems;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return report(fn, ctx, "cannot open directory %s: %s", dir, strerror(errno));
	problems = check_listed(dirfd(d), m, fn, ctx);
	errno = 0;
	while ((e = readdir(d))) {
		struct manifest_file key = {.name = e->d_name};

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, MANIFEST_NAME))
			continue;
		if (!m->n_files ||
		    !bsearch(&key, m->files, m->n_files, sizeof(*m->files), cmp_file))
			problems += report(fn, ctx, "%.200s: in the bundle but not in the manifest",
					   e->d_name);
		errno = 0;
	}
	if (errno)
		problems += report(fn, ctx, "cannot read directory %s: %s", dir, strerror(errno));
	closedir(d);
	return problems;
}
