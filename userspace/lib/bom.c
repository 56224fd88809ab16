// SPDX-License-Identifier: BSD-2-Clause
/*
 * bom.c - bom.json (aicert.bom/v1) in memory, on disk and back (layout: bom.h).
 *
 * The reader is strict (every key known, every type checked) because verifiers read what a
 * possibly hostile party wrote; the writer is deterministic (sorted files, fixed key order) so a
 * bundle's digest does not depend on thread scheduling.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/bom.h"

#define BOM_MAX_BYTES (1u << 30)

static const char *const ima_names[] = {"unavailable", "match", "mismatch", "absent"};
static const char *const role_names[] = {"input", "output", "executable", "library"};

const char *bom_ima_name(enum bom_ima v)
{
	if ((unsigned)v >= sizeof(ima_names) / sizeof(ima_names[0]))
		return "unavailable";
	return ima_names[v];
}

const char *bom_role_name(enum bom_role r)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if ((unsigned)r == 1u << i)
			return role_names[i];
	return NULL;
}

int bom_ima_parse(const char *s)
{
	for (size_t i = 0; s && i < sizeof(ima_names) / sizeof(ima_names[0]); i++)
		if (!strcmp(s, ima_names[i]))
			return (int)i;
	return -1;
}

void bom_init(struct bom *b)
{
	memset(b, 0, sizeof(*b));
	b->run.exit_code = -1;
}

static void file_free(struct bom_file *f)
{
	free(f->path);
	free(f->category);
	free(f->status);
}

void bom_free(struct bom *b)
{
	if (!b)
		return;
	free(b->run.id);
	for (size_t i = 0; i < b->run.argc; i++)
		free(b->run.command[i]);
	free(b->run.command);
	free(b->run.cwd);
	free(b->run.started);
	free(b->run.finished);
	free(b->run.backend);
	free(b->host.hostname);
	free(b->host.kernel);
	free(b->host.boot_id);
	free(b->host.tpm);
	for (size_t i = 0; i < b->nfiles; i++)
		file_free(&b->files[i]);
	free(b->files);
	bom_init(b);
}

static int valid_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return i == 64;
}

struct bom_file *bom_add_file(struct bom *b, const char *path, const char *sha256hex)
{
	struct bom_file *f;

	if (!path || (sha256hex && !valid_hex64(sha256hex)))
		return NULL;
	if (b->nfiles == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 64;
		struct bom_file *nf = realloc(b->files, nc * sizeof(*nf));

		if (!nf)
			return NULL;
		b->files = nf;
		b->cap = nc;
	}
	f = &b->files[b->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return NULL;
	for (size_t i = 0; sha256hex && i < 64; i++)
		f->sha256[i] =
		    (char)(sha256hex[i] >= 'A' && sha256hex[i] <= 'F' ? sha256hex[i] - 'A' + 'a'
								      : sha256hex[i]);
	f->ima = BOM_IMA_UNAVAILABLE;
	b->nfiles++;
	return f;
}

int bom_set_command(struct bom *b, char *const *argv, size_t argc)
{
	char **v = calloc(argc + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < argc; i++) {
		v[i] = strdup(argv[i]);
		if (!v[i]) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < b->run.argc; i++)
		free(b->run.command[i]);
	free(b->run.command);
	b->run.command = v;
	b->run.argc = argc;
	return 0;
}

/* ---- byte strings in JSON (see bom.h) ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates, > U+10FFFF), 0 if
 * invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);

		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

/* The display form: valid sequences kept, '%' and each byte of an invalid one as %XX. */
static char *display_form(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = utf8_seq(p);

		if (n && *p != '%') {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			o += sprintf(o, "%%%02X", *p++);
		}
	}
	*o = '\0';
	return out;
}

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		*o++ = b64_alpha[v >> 18 & 63];
		*o++ = b64_alpha[v >> 12 & 63];
		*o++ = i + 1 < len ? b64_alpha[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64_alpha[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64_alpha, c) : NULL;

	return p ? (int)(p - b64_alpha) : -1;
}

/* Strict RFC 4648 with padding; NULL when malformed or the bytes hold a NUL. */
static char *b64_decode(const char *in)
{
	size_t len = strlen(in), o = 0;
	char *out;

	if (len == 0 || len % 4)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;

		for (int j = 0; j < 4; j++) {
			v[j] = b64_val(in[i + j]);
			if (v[j] < 0 && in[i + j] == '=' && i + 4 == len && j >= 2 &&
			    (j == 3 || in[i + 3] == '=')) {
				v[j] = 0;
				pad++;
			} else if (v[j] < 0) {
				goto bad;
			}
		}
		/* Non-canonical encodings (stray low bits before the padding) are rejected. */
		if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
			goto bad;
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	if (memchr(out, '\0', o))
		goto bad;
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

int bom_utf8_valid(const char *s)
{
	return utf8_valid(s);
}

char *bom_display_name(const char *s)
{
	return utf8_valid(s) ? strdup(s) : display_form(s);
}

char *bom_b64(const char *s)
{
	return b64_encode((const unsigned char *)s, strlen(s));
}

/* ---- writer ---- */

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Sets key (and key_b64 when s is not UTF-8). -1 when memory ran out. */
static int set_bytes(json_t *o, const char *key, const char *s)
{
	char k64[64];
	char *d, *e;
	int ret;

	if (!s || utf8_valid(s))
		return json_object_set_new(o, key, jstr(s));
	d = display_form(s);
	e = b64_encode((const unsigned char *)s, strlen(s));
	snprintf(k64, sizeof(k64), "%s_b64", key);
	ret = d && e && !json_object_set_new(o, key, json_string(d)) &&
		      !json_object_set_new(o, k64, json_string(e))
		  ? 0
		  : -1;
	free(d);
	free(e);
	return ret;
}

static int set_u64(json_t *o, const char *key, uint64_t v)
{
	if (v > (uint64_t)INT64_MAX)
		return -1;
	return json_object_set_new(o, key, json_integer((json_int_t)v));
}

static int any_invalid(char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!utf8_valid(v[i]))
			return 1;
	return 0;
}

/* With any non-UTF-8 argument, every element is a display form and command_b64 is added. */
static json_t *command_json(const struct bom_run *r, json_t *run)
{
	int b64 = any_invalid(r->command, r->argc), err = 0;
	json_t *a = json_array(), *a64 = b64 ? json_array() : NULL;

	err = !a || (b64 && !a64);
	for (size_t i = 0; !err && i < r->argc; i++) {
		char *d = b64 ? display_form(r->command[i]) : NULL;
		char *e =
		    b64 ? b64_encode((unsigned char *)r->command[i], strlen(r->command[i])) : NULL;

		err = (b64 && (!d || !e)) ||
		      json_array_append_new(a, json_string(b64 ? d : r->command[i])) ||
		      (b64 && json_array_append_new(a64, json_string(e)));
		free(d);
		free(e);
	}
	if (!err && b64) {
		err = json_object_set_new(run, "command_b64", a64);
		a64 = NULL;
	}
	json_decref(a64);
	if (err) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *run_json(const struct bom_run *r)
{
	json_t *o = json_object(), *cmd;
	int err = 0;

	if (!o)
		return NULL;
	err |= json_object_set_new(o, "id", jstr(r->id));
	cmd = command_json(r, o);
	err |= !cmd || json_object_set_new(o, "command", cmd);
	err |= set_bytes(o, "cwd", r->cwd);
	err |= json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	err |= json_object_set_new(o, "signal", json_integer(r->signal));
	err |= json_object_set_new(o, "started", jstr(r->started));
	err |= json_object_set_new(o, "finished", jstr(r->finished));
	err |= json_object_set_new(o, "backend", jstr(r->backend));
	err |= set_u64(o, "events_lost", r->events_lost);
	err |= set_u64(o, "paths_truncated", r->paths_truncated);
	err |= json_object_set_new(o, "complete", json_boolean(r->complete));
	err |= json_object_set_new(o, "detached", json_boolean(r->detached));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *host_json(const struct bom_host *h)
{
	json_t *o = json_object();

	if (!o || json_object_set_new(o, "hostname", jstr(h->hostname)) ||
	    json_object_set_new(o, "kernel", jstr(h->kernel)) ||
	    json_object_set_new(o, "boot_id", jstr(h->boot_id)) ||
	    json_object_set_new(o, "tpm", jstr(h->tpm))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *file_json(const struct bom_file *f)
{
	json_t *o = json_object(), *roles = json_array();
	int err = !o || !roles;

	for (size_t i = 0; !err && i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (f->roles & (1u << i))
			err |= json_array_append_new(roles, json_string(role_names[i]));
	if (err || !f->path) {
		json_decref(roles);
		json_decref(o);
		return NULL;
	}
	err |= set_bytes(o, "path", f->path);
	err |=
	    json_object_set_new(o, "sha256", f->sha256[0] ? json_string(f->sha256) : json_null());
	err |= set_u64(o, "size", f->size);
	err |= json_object_set_new(o, "roles", roles);
	err |= json_object_set_new(o, "category", jstr(f->category));
	err |= json_object_set_new(o, "ima", json_string(bom_ima_name(f->ima)));
	if (f->status)
		err |= json_object_set_new(o, "status", json_string(f->status));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int file_cmp(const void *a, const void *b)
{
	const struct bom_file *x = *(const struct bom_file *const *)a;
	const struct bom_file *y = *(const struct bom_file *const *)b;
	int c = strcmp(x->path, y->path);

	return c ? c : strcmp(x->sha256, y->sha256);
}

const struct bom_file **bom_sorted_files(const struct bom *b)
{
	const struct bom_file **v = calloc(b->nfiles + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < b->nfiles; i++) {
		v[i] = &b->files[i];
		if (!v[i]->path) {
			free(v);
			errno = EINVAL;
			return NULL;
		}
	}
	qsort(v, b->nfiles, sizeof(*v), file_cmp);
	return v;
}

static json_t *files_json(const struct bom *b)
{
	const struct bom_file **v = bom_sorted_files(b);
	json_t *a = json_array();
	int err = !v || !a;

	for (size_t i = 0; !err && i < b->nfiles; i++) {
		json_t *f = file_json(v[i]);

		err = !f || json_array_append_new(a, f);
	}
	free(v);
	if (err) {
		json_decref(a);
		return NULL;
	}
	return a;
}

char *bom_dumps(const struct bom *b)
{
	json_t *o = json_object(), *run = run_json(&b->run), *host = host_json(&b->host);
	json_t *files = files_json(b);
	char *s = NULL, *t = NULL;
	int err = !o || !run || !host || !files;

	if (!err) {
		err |= json_object_set_new(o, "schema", json_string(BOM_SCHEMA));
		err |= json_object_set_new(o, "run", run);
		err |= json_object_set_new(o, "host", host);
		err |= json_object_set_new(o, "attested", json_boolean(b->attested));
		err |= json_object_set_new(o, "files", files);
		run = host = files = NULL;
	}
	if (!err)
		s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s && asprintf(&t, "%s\n", s) < 0)
		t = NULL;
	json_decref(run);
	json_decref(host);
	json_decref(files);
	json_decref(o);
	free(s);
	if (!t)
		errno = err ? EINVAL : ENOMEM;
	return t;
}

int bom_write_text(const char *path, const char *text)
{
	char *tmp = NULL, *dir = NULL, *slash;
	size_t len = strlen(text), off = 0;
	int fd = -1, dfd, ret = 0;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	while (off < len && !ret) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno != EINTR)
			ret = -errno;
		else if (w > 0)
			off += w;
	}
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
	dir = strdup(path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
cleanup:
	if (fd >= 0)
		close(fd);
	free(dir);
	free(tmp);
	return ret;
}

int bom_write(const struct bom *b, const char *path)
{
	char *text = bom_dumps(b);
	int ret;

	if (!text)
		return -errno;
	ret = bom_write_text(path, text);
	free(text);
	return ret;
}

/* ---- strict reader ---- */

struct rctx {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int bad(struct rctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Every key of o must be in keys (NULL-terminated); those before the first "?" entry are required.
 */
static int check_keys(struct rctx *c, const char *where, json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;
	int optional = 0;

	if (!json_is_object(o))
		return bad(c, "%s: not an object", where);
	for (size_t i = 0; keys[i]; i++) {
		if (!strcmp(keys[i], "?")) {
			optional = 1;
			continue;
		}
		if (!optional && !json_object_get(o, keys[i]))
			return bad(c, "%s: missing \"%s\"", where, keys[i]);
	}
	json_object_foreach(o, k, v)
	{
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i] || !strcmp(k, "?"))
			return bad(c, "%s: unknown key \"%s\"", where, k);
	}
	return 0;
}

/* A string or null into *out (NULL for null). */
static int get_str(struct rctx *c, const char *where, json_t *o, const char *key, int nullable,
		   char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (nullable && json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(c, "%s.%s: not a string%s", where, key, nullable ? " or null" : "");
	*out = strdup(json_string_value(v));
	return *out ? 0 : bad(c, "out of memory");
}

static int get_u64(struct rctx *c, const char *where, json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(c, "%s.%s: not a non-negative integer", where, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_int(struct rctx *c, const char *where, json_t *o, const char *key, int min, int *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > INT32_MAX)
		return bad(c, "%s.%s: not an integer in [%d, 2^31)", where, key, min);
	*out = (int)json_integer_value(v);
	return 0;
}

static int get_bool(struct rctx *c, const char *where, json_t *o, const char *key, int *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return bad(c, "%s.%s: not a boolean", where, key);
	*out = json_is_true(v);
	return 0;
}

/* The bytes behind a display string and its optional base64 twin (see bom.h). */
static int decode_bytes(struct rctx *c, const char *where, const char *disp, json_t *b64,
			char **out)
{
	char *bytes, *d;

	*out = NULL;
	if (!b64) {
		*out = strdup(disp);
		return *out ? 0 : bad(c, "out of memory");
	}
	if (!json_is_string(b64))
		return bad(c, "%s_b64: not a string", where);
	bytes = b64_decode(json_string_value(b64));
	if (!bytes)
		return bad(c, "%s_b64: not base64 of a NUL-free string", where);
	if (utf8_valid(bytes)) {
		free(bytes);
		return bad(c, "%s_b64: present although the value is valid UTF-8", where);
	}
	d = display_form(bytes);
	if (!d || strcmp(d, disp)) {
		free(d);
		free(bytes);
		return bad(c, "%s: does not match %s_b64", where, where);
	}
	free(d);
	*out = bytes;
	return 0;
}

static int get_bytes(struct rctx *c, const char *where, json_t *o, const char *key, int nullable,
		     char **out)
{
	char k64[64], w[96];
	json_t *v = json_object_get(o, key);

	snprintf(k64, sizeof(k64), "%s_b64", key);
	snprintf(w, sizeof(w), "%s.%s", where, key);
	*out = NULL;
	if (nullable && json_is_null(v)) {
		if (json_object_get(o, k64))
			return bad(c, "%s_b64: present although %s is null", w, key);
		return 0;
	}
	if (!json_is_string(v))
		return bad(c, "%s: not a string", w);
	return decode_bytes(c, w, json_string_value(v), json_object_get(o, k64), out);
}

static int valid_time(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0;

	/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.frac]Z */
	if (!s)
		return 1;
	if (strlen(s) < 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return 0;
	s += 19;
	if (*s == '.') {
		if (!(s[1] >= '0' && s[1] <= '9'))
			return 0;
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	}
	return !strcmp(s, "Z");
}

/* Bytes of command_b64[i]; command[i] must be their display form. */
static int command_arg(struct rctx *c, size_t i, const char *disp, json_t *e64, char **out)
{
	const char *e = json_string_value(e64);
	char *bytes = e ? (*e ? b64_decode(e) : strdup("")) : NULL, *d;

	*out = NULL;
	if (!bytes)
		return bad(c, "run.command_b64[%zu]: not base64 of a NUL-free string", i);
	d = display_form(bytes);
	if (!d || strcmp(d, disp)) {
		free(d);
		free(bytes);
		return bad(c, "run.command[%zu]: does not match command_b64[%zu]", i, i);
	}
	free(d);
	*out = bytes;
	return 0;
}

static int read_command(struct rctx *c, json_t *run, struct bom_run *r)
{
	json_t *a = json_object_get(run, "command"), *a64 = json_object_get(run, "command_b64");
	size_t n = json_array_size(a);

	if (!json_is_array(a))
		return bad(c, "run.command: not an array");
	if (a64 && (!json_is_array(a64) || json_array_size(a64) != n))
		return bad(c, "run.command_b64: not an array as long as run.command");
	r->command = calloc(n + 1, sizeof(*r->command));
	if (!r->command)
		return bad(c, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_array_get(a, i));

		if (!v)
			return bad(c, "run.command[%zu]: not a string", i);
		if (a64 ? command_arg(c, i, v, json_array_get(a64, i), &r->command[i])
			: !(r->command[i] = strdup(v)))
			return a64 ? -1 : bad(c, "out of memory");
		r->argc++;
	}
	if (a64 && !any_invalid(r->command, r->argc))
		return bad(c, "run.command_b64: present although every argument is UTF-8");
	return 0;
}

static int read_run(struct rctx *c, json_t *run, struct bom_run *r)
{
	static const char *const keys[] = {
	    "id",	   "command",	      "cwd",	  "exit_code",
	    "signal",	   "started",	      "finished", "backend",
	    "events_lost", "paths_truncated", "complete", "detached",
	    "?",	   "command_b64",     "cwd_b64",  NULL};

	if (check_keys(c, "run", run, keys) || get_str(c, "run", run, "id", 1, &r->id) ||
	    read_command(c, run, r) || get_bytes(c, "run", run, "cwd", 1, &r->cwd) ||
	    get_int(c, "run", run, "exit_code", -1, &r->exit_code) ||
	    get_int(c, "run", run, "signal", 0, &r->signal) ||
	    get_str(c, "run", run, "started", 1, &r->started) ||
	    get_str(c, "run", run, "finished", 1, &r->finished) ||
	    get_str(c, "run", run, "backend", 1, &r->backend) ||
	    get_u64(c, "run", run, "events_lost", &r->events_lost) ||
	    get_u64(c, "run", run, "paths_truncated", &r->paths_truncated) ||
	    get_bool(c, "run", run, "complete", &r->complete) ||
	    get_bool(c, "run", run, "detached", &r->detached))
		return -1;
	if (!valid_time(r->started) || !valid_time(r->finished))
		return bad(c, "run.started/finished: not an RFC 3339 UTC time");
	return 0;
}

static int read_host(struct rctx *c, json_t *host, struct bom_host *h)
{
	static const char *const keys[] = {"hostname", "kernel", "boot_id", "tpm", NULL};

	return check_keys(c, "host", host, keys) ||
		       get_str(c, "host", host, "hostname", 1, &h->hostname) ||
		       get_str(c, "host", host, "kernel", 1, &h->kernel) ||
		       get_str(c, "host", host, "boot_id", 1, &h->boot_id) ||
		       get_str(c, "host", host, "tpm", 1, &h->tpm)
		   ? -1
		   : 0;
}

static int read_roles(struct rctx *c, const char *where, json_t *a, unsigned *roles)
{
	size_t i, r;

	if (!json_is_array(a))
		return bad(c, "%s.roles: not an array", where);
	for (i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));

		for (r = 0; s && r < sizeof(role_names) / sizeof(role_names[0]); r++)
			if (!strcmp(s, role_names[r]))
				break;
		if (!s || r == sizeof(role_names) / sizeof(role_names[0]))
			return bad(c,
				   "%s.roles[%zu]: not one of input, output, executable, library",
				   where, i);
		if (*roles & (1u << r))
			return bad(c, "%s.roles: \"%s\" twice", where, s);
		*roles |= 1u << r;
	}
	return 0;
}

static int read_file(struct rctx *c, size_t idx, json_t *o, struct bom *b)
{
	static const char *const keys[] = {"path", "sha256", "size",	 "roles",  "category",
					   "ima",  "?",	     "path_b64", "status", NULL};
	char where[48];
	struct bom_file *f;
	json_t *sha = json_object_get(o, "sha256");
	char *path = NULL;
	int ima;

	snprintf(where, sizeof(where), "files[%zu]", idx);
	if (check_keys(c, where, o, keys) || get_bytes(c, where, o, "path", 0, &path))
		return -1;
	if (!*path) {
		free(path);
		return bad(c, "%s.path: empty", where);
	}
	if (!json_is_null(sha) && (!json_is_string(sha) || !valid_hex64(json_string_value(sha)) ||
				   strspn(json_string_value(sha), "0123456789abcdef") != 64)) {
		free(path);
		return bad(c, "%s.sha256: not 64 lowercase hex digits or null", where);
	}
	f = bom_add_file(b, path, json_is_null(sha) ? NULL : json_string_value(sha));
	free(path);
	if (!f)
		return bad(c, "out of memory");
	ima = bom_ima_parse(json_string_value(json_object_get(o, "ima")));
	if (ima < 0)
		return bad(c, "%s.ima: not one of match, mismatch, absent, unavailable", where);
	f->ima = (enum bom_ima)ima;
	if (get_u64(c, where, o, "size", &f->size) ||
	    read_roles(c, where, json_object_get(o, "roles"), &f->roles) ||
	    get_str(c, where, o, "category", 1, &f->category))
		return -1;
	if (json_object_get(o, "status") && get_str(c, where, o, "status", 0, &f->status))
		return -1;
	return 0;
}

static int read_doc(struct rctx *c, json_t *root, struct bom *b)
{
	static const char *const keys[] = {"schema", "run", "host", "attested", "files", NULL};
	const char *schema = json_string_value(json_object_get(root, "schema"));
	json_t *files = json_object_get(root, "files");

	if (check_keys(c, "bom", root, keys))
		return -1;
	if (!schema || strcmp(schema, BOM_SCHEMA))
		return bad(c, "schema: not \"%s\"", BOM_SCHEMA);
	if (read_run(c, json_object_get(root, "run"), &b->run) ||
	    read_host(c, json_object_get(root, "host"), &b->host) ||
	    get_bool(c, "bom", root, "attested", &b->attested))
		return -1;
	if (!json_is_array(files))
		return bad(c, "files: not an array");
	for (size_t i = 0; i < json_array_size(files); i++)
		if (read_file(c, i, json_array_get(files, i), b))
			return -1;
	return 0;
}

int bom_loads(struct bom *b, const char *buf, size_t len, char *err, size_t errlen)
{
	char dummy[1];
	struct rctx c = {err && errlen ? err : dummy, err && errlen ? errlen : sizeof(dummy)};
	json_error_t je;
	json_t *root;
	int ret;

	bom_free(b);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return bad(&c, "line %d column %d: %s", je.line, je.column, je.text);
	ret = read_doc(&c, root, b);
	json_decref(root);
	if (ret)
		bom_free(b);
	return ret;
}

int bom_read(struct bom *b, const char *path, char *err, size_t errlen)
{
	char dummy[1];
	struct rctx c = {err && errlen ? err : dummy, err && errlen ? errlen : sizeof(dummy)};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	int ret = -1;

	bom_free(b);
	if (fd < 0)
		return bad(&c, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		bad(&c, "cannot stat %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > BOM_MAX_BYTES) {
		bad(&c, "cannot read %s: %s", path,
		    !S_ISREG(st.st_mode) ? "not a regular file" : "larger than 1 GiB");
		goto cleanup;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		bad(&c, "cannot read %s: out of memory", path);
		goto cleanup;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			bad(&c, "cannot read %s: %s", path, r ? strerror(errno) : "short read");
			goto cleanup;
		}
		off += r;
	}
	ret = bom_loads(b, buf, off, c.err, c.errlen);
	if (ret && c.err != dummy) {
		/* Prefix the file name so the message stands alone. */
		char *m = strdup(c.err);

		if (m)
			snprintf(c.err, c.errlen, "%s: %s", path, m);
		free(m);
	}
cleanup:
	close(fd);
	free(buf);
	return ret;
}
