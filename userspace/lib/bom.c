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

#include "lib/bom.h"
#include "lib/fileio.h"

#define BOM_MAX_BYTES (1u << 30)

static const char *const ima_names[] = {"unavailable", "match", "mismatch", "absent"};
static const char *const derived_names[] = {NULL, "elf-interpreter"};
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
	free(b->run.cgroup);
	free(b->run.incomplete_reason);
	free(b->host.hostname);
	free(b->host.kernel);
	free(b->host.boot_id);
	free(b->host.tpm);
	job_free(&b->job);
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

/* Room for one more file: 0, or -1 (ENOMEM). */
static int grow_files(struct bom *b)
{
	size_t nc = b->cap ? 2 * b->cap : 64;
	struct bom_file *nf;

	if (b->nfiles < b->cap)
		return 0;
	nf = realloc(b->files, nc * sizeof(*nf));
	if (!nf)
		return -1;
	b->files = nf;
	b->cap = nc;
	return 0;
}

int bom_reserve(struct bom *b, size_t n)
{
	struct bom_file *nf;

	if (b->nfiles + n <= b->cap)
		return 0;
	nf = realloc(b->files, (b->nfiles + n) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	b->files = nf;
	b->cap = b->nfiles + n;
	return 0;
}

struct bom_file *bom_add_file(struct bom *b, const char *path, const char *sha256hex)
{
	struct bom_file *f;

	if (!path || (sha256hex && !valid_hex64(sha256hex)) || grow_files(b))
		return NULL;
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

/*
 * Length of the valid UTF-8 sequence at s, of which avail bytes may be read (RFC 3629: no
 * overlongs, surrogates, > U+10FFFF), 0 if invalid.
 */
static size_t utf8_seq_n(const unsigned char *s, size_t avail)
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
	if (avail < n)
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

/* The same on a NUL-terminated string (a NUL is never a continuation byte). */
static size_t utf8_seq(const unsigned char *s)
{
	return utf8_seq_n(s, 4);
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : utf8_seq(p);

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

/*
 * The text is written directly rather than through a jansson DOM (seconds for a million files).
 * It is byte for byte what json_dumps(JSON_INDENT(2) | JSON_PRESERVE_ORDER) wrote, so bundles do
 * not change: two-space indentation, ": " after keys, "\uXXXX" (upper case) for control
 * characters, UTF-8 unescaped.
 */
struct out {
	char *s;
	size_t n, cap;
	int err; /* errno of the first failure */
};

static void put(struct out *o, const char *p, size_t n)
{
	if (o->err)
		return;
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 4096;
		char *ns;

		while (cap < o->n + n + 1)
			cap *= 2;
		ns = realloc(o->s, cap);
		if (!ns) {
			o->err = ENOMEM;
			return;
		}
		o->s = ns;
		o->cap = cap;
	}
	memcpy(o->s + o->n, p, n);
	o->n += n;
}

#define PUT(o, lit) put(o, lit, sizeof(lit) - 1)

static void fail_out(struct out *o, int err)
{
	if (!o->err)
		o->err = err;
}

/* A JSON string of s, which must be valid UTF-8 (EINVAL otherwise, as json_string refused it). */
static void put_str(struct out *o, const char *s)
{
	/* RFC 8259's two-character escapes; other control characters get \u00XX */
	static const char short_esc[] = {['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
					 ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't'};
	const char *run = s, *p;

	if (!utf8_valid(s))
		return fail_out(o, EINVAL);
	PUT(o, "\"");
	for (p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		char esc[8];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		put(o, run, p - run);
		run = p + 1;
		if (ch < sizeof(short_esc) && short_esc[ch])
			put(o, esc, snprintf(esc, sizeof(esc), "\\%c", short_esc[ch]));
		else
			put(o, esc, snprintf(esc, sizeof(esc), "\\u%04X", ch));
	}
	put(o, run, p - run);
	PUT(o, "\"");
}

static void put_nstr(struct out *o, const char *s)
{
	if (s)
		put_str(o, s);
	else
		PUT(o, "null");
}

/* ",\n" (but for the first member), the indentation of depth, and "key": . */
static void put_key(struct out *o, int depth, const char *key, int first)
{
	static const char spaces[] = "                ";

	if (!first)
		PUT(o, ",");
	PUT(o, "\n");
	put(o, spaces, 2 * depth);
	if (key) {
		put_str(o, key);
		PUT(o, ": ");
	}
}

static void put_u64(struct out *o, uint64_t v)
{
	char d[24], *p = d + sizeof(d);

	if (v > (uint64_t)INT64_MAX) /* jansson integers are int64 */
		return fail_out(o, EINVAL);
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	put(o, p, d + sizeof(d) - p);
}

static void put_int(struct out *o, int v)
{
	char d[16];

	put(o, d, snprintf(d, sizeof(d), "%d", v));
}

/* A member of an object at depth (see put_key) with its value. */
static void put_nstr_at(struct out *o, int depth, const char *key, const char *s, int first)
{
	put_key(o, depth, key, first);
	put_nstr(o, s);
}

static void put_u64_at(struct out *o, int depth, const char *key, uint64_t v, int first)
{
	put_key(o, depth, key, first);
	put_u64(o, v);
}

static void put_int_at(struct out *o, int depth, const char *key, int v, int first)
{
	put_key(o, depth, key, first);
	put_int(o, v);
}

static void put_bool_at(struct out *o, int depth, const char *key, int v, int first)
{
	put_key(o, depth, key, first);
	put(o, v ? "true" : "false", v ? 4 : 5);
}

/* An array of strings at depth (its elements one deeper); [] when empty. */
static void put_strs(struct out *o, int depth, const char *const *v, size_t n)
{
	PUT(o, "[");
	for (size_t i = 0; i < n; i++) {
		put_key(o, depth + 1, NULL, i == 0);
		put_str(o, v[i]);
	}
	if (n)
		put_key(o, depth, NULL, 1);
	PUT(o, "]");
}

/* key (and key_b64 when s is not UTF-8; see bom.h). */
static void put_bytes(struct out *o, int depth, const char *key, const char *s, int first)
{
	char k64[64];
	char *d, *e;

	put_key(o, depth, key, first);
	if (!s || utf8_valid(s))
		return put_nstr(o, s);
	d = display_form(s);
	e = b64_encode((const unsigned char *)s, strlen(s));
	if (d && e) {
		put_str(o, d);
		snprintf(k64, sizeof(k64), "%s_b64", key);
		put_key(o, depth, k64, 0);
		put_str(o, e);
	} else {
		fail_out(o, ENOMEM);
	}
	free(d);
	free(e);
}

static int any_invalid(char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!utf8_valid(v[i]))
			return 1;
	return 0;
}

/* With any non-UTF-8 argument, every element is a display form and command_b64 comes first. */
static void put_command(struct out *o, const struct bom_run *r)
{
	char **d = NULL, **e = NULL;
	size_t n = r->argc;

	if (!any_invalid(r->command, n)) {
		put_key(o, 2, "command", 0);
		put_strs(o, 2, (const char *const *)r->command, n);
		return;
	}
	d = calloc(n + 1, sizeof(*d));
	e = calloc(n + 1, sizeof(*e));
	for (size_t i = 0; d && e && i < n; i++) {
		d[i] = display_form(r->command[i]);
		e[i] = b64_encode((const unsigned char *)r->command[i], strlen(r->command[i]));
		if (!d[i] || !e[i])
			fail_out(o, ENOMEM);
	}
	if (!d || !e)
		fail_out(o, ENOMEM);
	if (!o->err) {
		put_key(o, 2, "command_b64", 0);
		put_strs(o, 2, (const char *const *)e, n);
		put_key(o, 2, "command", 0);
		put_strs(o, 2, (const char *const *)d, n);
	}
	for (size_t i = 0; i < n; i++) {
		free(d ? d[i] : NULL);
		free(e ? e[i] : NULL);
	}
	free(d);
	free(e);
}

static void put_run(struct out *o, const struct bom_run *r)
{
	PUT(o, "{");
	put_nstr_at(o, 2, "id", r->id, 1);
	put_command(o, r);
	put_bytes(o, 2, "cwd", r->cwd, 0);
	put_int_at(o, 2, "exit_code", r->exit_code, 0);
	put_int_at(o, 2, "signal", r->signal, 0);
	put_nstr_at(o, 2, "started", r->started, 0);
	put_nstr_at(o, 2, "finished", r->finished, 0);
	put_nstr_at(o, 2, "backend", r->backend, 0);
	put_u64_at(o, 2, "events_lost", r->events_lost, 0);
	put_u64_at(o, 2, "paths_truncated", r->paths_truncated, 0);
	put_bool_at(o, 2, "complete", r->complete, 0);
	put_bool_at(o, 2, "detached", r->detached, 0);
	if (r->cgroup)
		put_nstr_at(o, 2, "cgroup", r->cgroup, 0);
	if (r->incomplete_reason)
		put_nstr_at(o, 2, "incomplete_reason", r->incomplete_reason, 0);
	put_key(o, 1, NULL, 1);
	PUT(o, "}");
}

static void put_host(struct out *o, const struct bom_host *h)
{
	PUT(o, "{");
	put_nstr_at(o, 2, "hostname", h->hostname, 1);
	put_nstr_at(o, 2, "kernel", h->kernel, 0);
	put_nstr_at(o, 2, "boot_id", h->boot_id, 0);
	put_nstr_at(o, 2, "tpm", h->tpm, 0);
	put_key(o, 1, NULL, 1);
	PUT(o, "}");
}

static void put_job(struct out *o, const struct job_info *j)
{
	PUT(o, "{");
	put_nstr_at(o, 2, "scheduler", j->scheduler, 1);
	put_nstr_at(o, 2, "id", j->id, 0);
	put_nstr_at(o, 2, "step", j->step, 0);
	put_nstr_at(o, 2, "node", j->node, 0);
	put_key(o, 2, "nodes", 0);
	put_strs(o, 2, (const char *const *)j->nodes, j->n_nodes);
	put_key(o, 1, NULL, 1);
	PUT(o, "}");
}

static void put_file(struct out *o, const struct bom_file *f)
{
	const char *roles[4];
	size_t nr = 0;

	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (f->roles & (1u << i))
			roles[nr++] = role_names[i];
	PUT(o, "{");
	put_bytes(o, 3, "path", f->path, 1);
	put_nstr_at(o, 3, "sha256", f->sha256[0] ? f->sha256 : NULL, 0);
	put_u64_at(o, 3, "size", f->size, 0);
	put_key(o, 3, "roles", 0);
	put_strs(o, 3, roles, nr);
	put_nstr_at(o, 3, "category", f->category, 0);
	put_key(o, 3, "ima", 0);
	put_str(o, bom_ima_name(f->ima));
	if (f->status) {
		put_key(o, 3, "status", 0);
		put_str(o, f->status);
	}
	if (f->derived) {
		put_key(o, 3, "derived", 0);
		put_str(o, derived_names[f->derived]);
	}
	put_key(o, 2, NULL, 1);
	PUT(o, "}");
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
	int sorted = 1;

	if (!v)
		return NULL;
	for (size_t i = 0; i < b->nfiles; i++) {
		v[i] = &b->files[i];
		if (!v[i]->path) {
			free(v);
			errno = EINVAL;
			return NULL;
		}
		/* Files often come in order (a BOM read back, a sorted walk): no sort then. */
		if (sorted && i > 0 && file_cmp(&v[i - 1], &v[i]) > 0)
			sorted = 0;
	}
	if (!sorted)
		qsort(v, b->nfiles, sizeof(*v), file_cmp);
	return v;
}

char *bom_dumps(const struct bom *b)
{
	const struct bom_file **v = bom_sorted_files(b);
	struct out o = {.err = v ? 0 : errno};

	PUT(&o, "{");
	put_key(&o, 1, "schema", 1);
	put_str(&o, BOM_SCHEMA);
	put_key(&o, 1, "run", 0);
	put_run(&o, &b->run);
	put_key(&o, 1, "host", 0);
	put_host(&o, &b->host);
	if (b->job.scheduler) {
		put_key(&o, 1, "job", 0);
		put_job(&o, &b->job);
	}
	put_key(&o, 1, "attested", 0);
	put(&o, b->attested ? "true" : "false", b->attested ? 4 : 5);
	put_key(&o, 1, "files", 0);
	PUT(&o, "[");
	for (size_t i = 0; v && i < b->nfiles; i++) {
		put_key(&o, 2, NULL, i == 0);
		put_file(&o, v[i]);
	}
	if (b->nfiles)
		put_key(&o, 1, NULL, 1);
	PUT(&o, "]\n}\n");
	free(v);
	if (o.err) {
		free(o.s);
		errno = o.err;
		return NULL;
	}
	o.s[o.n] = '\0';
	return o.s;
}

int bom_write_text(const char *path, const char *text)
{
	return fileio_write_atomic(path, text, strlen(text), 0644, 0);
}

int bom_write_dumped(const char *path, char *text)
{
	int ret;

	if (!text)
		return -errno;
	ret = bom_write_text(path, text);
	free(text);
	return ret;
}

int bom_write(const struct bom *b, const char *path)
{
	return bom_write_dumped(path, bom_dumps(b));
}

/* ---- strict reader ---- */

/*
 * A purpose-built parser, not jansson's DOM: the verifier reads bom.json files of a million
 * entries, and building then walking a DOM of them took seconds. It fills struct bom as it reads
 * and accepts the JSON that jansson's json_loadb(JSON_REJECT_DUPLICATES) accepted: RFC 8259 text
 * in UTF-8, an object or array at the root, no "\u0000", surrogates only in pairs, integers within
 * int64, nesting up to 2048 deep (a raw NUL byte, which jansson let through in places, is always
 * an error here). When the document breaks the schema, the rest of it is
 * still checked as JSON, so a syntax error anywhere is what gets reported, as when a whole DOM was
 * parsed before the schema was checked.
 */
#define JSON_MAX_DEPTH 2048

struct rctx {
	char *err;
	size_t errlen;
	const char *buf, *p, *end;
	char *sbuf; /* strings that held escapes, decoded */
	size_t scap;
	int syntax; /* err holds a syntax error */
};

__attribute__((format(printf, 2, 3))) static int bad(struct rctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int syn(struct rctx *c, const char *at, const char *what)
{
	const char *line_start = c->buf, *q = c->buf;
	int line = 1;

	while ((q = memchr(q, '\n', at - q))) {
		line++;
		line_start = ++q;
	}
	c->syntax = 1;
	return bad(c, "line %d column %zu: %s", line, (size_t)(at - line_start) + 1, what);
}

static void ws(struct rctx *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\t' || *c->p == '\r'))
		c->p++;
}

/* The next byte, or 0 at the end (a NUL in the text is never valid where 0 is checked). */
static char peek(struct rctx *c)
{
	return c->p < c->end ? *c->p : 0;
}

static int expect(struct rctx *c, char ch, const char *what)
{
	ws(c);
	if (peek(c) != ch)
		return syn(c, c->p, c->p < c->end ? what : "premature end of input");
	c->p++;
	return 0;
}

static int literal(struct rctx *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return syn(c, c->p, c->p < c->end ? "invalid token" : "premature end of input");
	c->p += n;
	return 0;
}

static int sbuf_put(struct rctx *c, size_t *o, const void *src, size_t n)
{
	if (*o + n + 1 > c->scap) {
		size_t cap = c->scap ? 2 * c->scap : 256;
		char *nb;

		while (cap < *o + n + 1)
			cap *= 2;
		nb = realloc(c->sbuf, cap);
		if (!nb)
			return bad(c, "out of memory");
		c->sbuf = nb;
		c->scap = cap;
	}
	memcpy(c->sbuf + *o, src, n);
	*o += n;
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		return (ch | 0x20) - 'a' + 10;
	return -1;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
	*out = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int v = hexval((char)p[i]);

		if (v < 0)
			return -1;
		*out = *out << 4 | (unsigned)v;
	}
	return 0;
}

/* "\uXXXX" (a surrogate pair counts as one) at p, as UTF-8 into u8; its length in *used. */
static int unicode_escape(struct rctx *c, const unsigned char *p, char u8[4], size_t *n,
			  size_t *used)
{
	const unsigned char *end = (const unsigned char *)c->end;
	unsigned cp, lo;

	if (hex4(p + 2, end, &cp))
		return syn(c, (const char *)p, "invalid escape");
	*used = 6;
	if (cp == 0)
		return syn(c, (const char *)p, "\\u0000 is not allowed");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return syn(c, (const char *)p, "invalid Unicode (lone low surrogate)");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, end, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff)
			return syn(c, (const char *)p, "invalid Unicode (lone high surrogate)");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*used = 12;
	}
	if (cp < 0x80) {
		u8[0] = (char)cp, *n = 1;
	} else if (cp < 0x800) {
		u8[0] = (char)(0xc0 | cp >> 6), u8[1] = (char)(0x80 | (cp & 0x3f)), *n = 2;
	} else if (cp < 0x10000) {
		u8[0] = (char)(0xe0 | cp >> 12), u8[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u8[2] = (char)(0x80 | (cp & 0x3f)), *n = 3;
	} else {
		u8[0] = (char)(0xf0 | cp >> 18), u8[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u8[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u8[3] = (char)(0x80 | (cp & 0x3f)), *n = 4;
	}
	return 0;
}

static const char *const short_escapes = "\"\"\\\\//b\bf\fn\nr\rt\t";

/* The string from p (just past the quote) decoded into sbuf; the text holds an escape or UTF-8. */
static int str_slow(struct rctx *c, const unsigned char *p, const char **s, size_t *len)
{
	const unsigned char *end = (const unsigned char *)c->end;
	size_t o = 0, n = 0, used = 0;
	char u8[4];

	for (;;) {
		if (p >= end)
			return syn(c, c->end, "premature end of input");
		if (*p == '"')
			break;
		if (*p < 0x20)
			return syn(c, (const char *)p, "control character in string");
		if (*p == '\\') {
			const char *e = p + 1 < end && p[1] ? strchr(short_escapes, p[1]) : NULL;

			if (p + 1 < end && p[1] == 'u') {
				if (unicode_escape(c, p, u8, &n, &used) || sbuf_put(c, &o, u8, n))
					return -1;
				p += used;
				continue;
			}
			if (!e || (e - short_escapes) % 2)
				return syn(c, (const char *)p,
					   p + 1 < end ? "invalid escape"
						       : "premature end of input");
			if (sbuf_put(c, &o, e + 1, 1))
				return -1;
			p += 2;
			continue;
		}
		n = *p < 0x80 ? 1 : utf8_seq_n(p, end - p);
		if (!n)
			return syn(c, (const char *)p, "invalid UTF-8");
		if (sbuf_put(c, &o, p, n))
			return -1;
		p += n;
	}
	if (sbuf_put(c, &o, "", 0))
		return -1;
	c->sbuf[o] = '\0';
	c->p = (const char *)p + 1;
	*s = c->sbuf;
	*len = o;
	return 0;
}

/*
 * The string at c->p (a quote): *s points into the text or into sbuf, valid until the next string
 * is read; it holds no NUL.
 */
static int str(struct rctx *c, const char **s, size_t *len)
{
	const unsigned char *st = (const unsigned char *)c->p + 1, *p = st;
	const unsigned char *end = (const unsigned char *)c->end;
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	/* Eight bytes at a time while none is a control, non-ASCII, quote or backslash byte. */
	while (end - p >= 8) {
		uint64_t x, q, bs;

		memcpy(&x, p, 8);
		q = x ^ (ones * '"');
		bs = x ^ (ones * '\\');
		/* the usual "has a zero byte" / "has a byte less than n" tests */
		if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x) &
		    highs)
			break;
		p += 8;
	}
	while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	if (p < end && *p == '"') {
		*s = (const char *)st;
		*len = p - st;
		c->p = (const char *)p + 1;
		return 0;
	}
	return str_slow(c, st, s, len);
}

static int is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* A number; *is_int set with *v when it has no fraction or exponent. */
static int number(struct rctx *c, int *is_int, int64_t *v)
{
	const char *p = c->p, *st = p, *end = c->end;
	uint64_t acc = 0;
	int neg = 0, big = 0;

	*is_int = 1;
	if (p < end && *p == '-')
		neg = 1, p++;
	if (!is_digit(p, end))
		return syn(c, st, "invalid token");
	if (*p == '0' && is_digit(p + 1, end))
		return syn(c, st, "invalid token");
	for (; is_digit(p, end); p++) {
		unsigned d = (unsigned)(*p - '0');

		big |= acc > (UINT64_MAX - d) / 10;
		acc = acc * 10 + d;
	}
	if (p < end && *p == '.') {
		if (!is_digit(++p, end))
			return syn(c, st, "invalid token");
		while (is_digit(p, end))
			p++;
		*is_int = 0;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, end))
			return syn(c, st, "invalid token");
		while (is_digit(p, end))
			p++;
		*is_int = 0;
	}
	if (*is_int && (big || acc > (uint64_t)INT64_MAX + neg))
		return syn(c, st, neg ? "too big negative integer" : "too big integer");
	*v = neg ? (acc ? -(int64_t)(acc - 1) - 1 : 0) : (int64_t)acc;
	c->p = p;
	return 0;
}

static int scalar(struct rctx *c)
{
	const char *s;
	size_t n;
	int64_t v;
	int i;

	switch (peek(c)) {
	case '"':
		return str(c, &s, &n);
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	case '-':
	case '0' ... '9':
		return number(c, &i, &v);
	default:
		return syn(c, c->p, c->p < c->end ? "invalid token" : "premature end of input");
	}
}

/* After ',' in an object: a key, then ':'. */
static int any_key(struct rctx *c)
{
	const char *s;
	size_t n;

	ws(c);
	if (peek(c) != '"')
		return syn(c, c->p, c->p < c->end ? "string expected" : "premature end of input");
	return str(c, &s, &n) || expect(c, ':', "':' expected") ? -1 : 0;
}

/* The whole text as JSON, without the schema; iterative so depth costs no stack. */
static int check_syntax(struct rctx *c)
{
	char stack[JSON_MAX_DEPTH];
	int d = 0;

	c->p = c->buf;
	ws(c);
	if (peek(c) != '{' && peek(c) != '[')
		return syn(c, c->p, "'[' or '{' expected");
	for (;;) {
		ws(c);
		if (peek(c) == '{' || peek(c) == '[') {
			if (d == JSON_MAX_DEPTH)
				return syn(c, c->p, "maximum parsing depth reached");
			stack[d++] = *c->p == '{' ? '}' : ']';
			c->p++;
			ws(c);
			if (peek(c) == stack[d - 1]) {
				c->p++;
				d--;
			} else if (stack[d - 1] == '}') {
				if (any_key(c))
					return -1;
				continue;
			} else {
				continue;
			}
		} else if (scalar(c)) {
			return -1;
		}
		for (;;) {
			ws(c);
			if (d == 0)
				return c->p == c->end ? 0 : syn(c, c->p, "end of file expected");
			if (peek(c) == stack[d - 1]) {
				c->p++;
				d--;
				continue;
			}
			if (peek(c) != ',')
				return syn(c, c->p,
					   c->p < c->end ? "',' or closing bracket expected"
							 : "premature end of input");
			c->p++;
			if (stack[d - 1] == '}' && any_key(c))
				return -1;
			break;
		}
	}
}

/*
 * Object members against a key table: 1 with *k the index of the next key (its value is next),
 * 0 after the closing brace, -1 on error. The caller sets *first and *k = -1 after it read '{'.
 */
/* key (NUL-terminated) equals s[0..n) (s holds no NUL) */
static int same(const char *key, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && key[i] == s[i]; i++)
		;
	return i == n && !key[n];
}

/* "where" for messages: the name itself, or "name[idx]" for an element (idx != NO_IDX). */
#define NO_IDX ((size_t)-1)

static const char *where_of(char buf[48], const char *name, size_t idx)
{
	if (idx == NO_IDX)
		return name;
	snprintf(buf, 48, "%s[%zu]", name, idx);
	return buf;
}

static int next_key(struct rctx *c, const char *name, size_t idx, const char *const *keys,
		    unsigned *seen, int *first, int *k)
{
	const char *s, *at;
	char w[48];
	size_t n;
	int i;

	ws(c);
	if (peek(c) == '}') {
		c->p++;
		return 0;
	}
	if (!*first && peek(c) != ',')
		return syn(c, c->p, c->p < c->end ? "'}' expected" : "premature end of input");
	if (!*first) {
		c->p++;
		ws(c);
	}
	*first = 0;
	at = c->p;
	if (peek(c) != '"')
		return syn(c, c->p, c->p < c->end ? "string expected" : "premature end of input");
	if (str(c, &s, &n))
		return -1;
	/* Writers keep the key order: try the one after the previous key first. */
	i = *k + 1;
	if (!keys[i] || !same(keys[i], s, n))
		for (i = 0; keys[i] && !same(keys[i], s, n); i++)
			;
	if (expect(c, ':', "':' expected"))
		return -1;
	if (!keys[i])
		return bad(c, "%s: unknown key \"%.*s\"", where_of(w, name, idx), (int)n, s);
	if (*seen & 1u << i)
		return syn(c, at, "duplicate object key");
	*seen |= 1u << i;
	ws(c);
	*k = i;
	return 1;
}

static int check_missing(struct rctx *c, const char *name, size_t idx, const char *const *keys,
			 unsigned seen, unsigned required)
{
	char w[48];

	for (int i = 0; keys[i]; i++)
		if ((required & 1u << i) && !(seen & 1u << i))
			return bad(c, "%s: missing \"%s\"", where_of(w, name, idx), keys[i]);
	return 0;
}

/* Array elements: 1 when one follows (at c->p), 0 after the closing bracket. */
static int next_elem(struct rctx *c, int *first)
{
	ws(c);
	if (peek(c) == ']') {
		c->p++;
		return 0;
	}
	if (!*first && peek(c) != ',')
		return syn(c, c->p, c->p < c->end ? "']' expected" : "premature end of input");
	if (!*first)
		c->p++;
	*first = 0;
	ws(c);
	return 1;
}

/*
 * Typed values. They return 0, 1 when the value has another type (the caller says which field;
 * nothing is consumed), or -1 with err set.
 */
static int v_str(struct rctx *c, int nullable, char **out)
{
	const char *s;
	size_t n;

	*out = NULL;
	if (nullable && peek(c) == 'n')
		return literal(c, "null");
	if (peek(c) != '"')
		return 1;
	if (str(c, &s, &n))
		return -1;
	*out = malloc(n + 1);
	if (!*out)
		return bad(c, "out of memory");
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	return 0;
}

static int v_int(struct rctx *c, int64_t min, int64_t max, int64_t *out)
{
	int is_int;

	if (peek(c) != '-' && !is_digit(c->p, c->end))
		return 1;
	if (number(c, &is_int, out))
		return -1;
	return !is_int || *out < min || *out > max;
}

static int v_bool(struct rctx *c, int *out)
{
	if (peek(c) == 't' || peek(c) == 'f') {
		*out = peek(c) == 't';
		return literal(c, *out ? "true" : "false");
	}
	return 1;
}

/* The message for a value of the wrong type: "<where>.<key>: <what>". */
static int type_err(struct rctx *c, int r, const char *where, const char *key, const char *what)
{
	return r > 0 ? bad(c, "%s.%s: %s", where, key, what) : -1;
}

static int get_str(struct rctx *c, const char *where, const char *key, int nullable, char **out)
{
	int r = v_str(c, nullable, out);

	return r ? type_err(c, r, where, key, nullable ? "not a string or null" : "not a string")
		 : 0;
}

static int get_u64(struct rctx *c, const char *where, const char *key, uint64_t *out)
{
	int64_t v = 0;
	int r = v_int(c, 0, INT64_MAX, &v);

	*out = (uint64_t)v;
	return r ? type_err(c, r, where, key, "not a non-negative integer") : 0;
}

static int get_int(struct rctx *c, const char *where, const char *key, int min, int *out)
{
	int64_t v = 0;
	int r = v_int(c, min, INT32_MAX, &v);

	if (r > 0)
		return bad(c, "%s.%s: not an integer in [%d, 2^31)", where, key, min);
	*out = (int)v;
	return r;
}

static int get_bool(struct rctx *c, const char *where, const char *key, int *out)
{
	int r = v_bool(c, out);

	return r ? type_err(c, r, where, key, "not a boolean") : 0;
}

/*
 * The bytes behind a display string (malloc'd; taken over, freed on error) and its optional
 * base64 twin (see bom.h), into *out.
 */
static int decode_bytes(struct rctx *c, const char *where, char *disp, const char *b64, char **out)
{
	char *bytes = b64 ? b64_decode(b64) : NULL, *d = NULL;
	int ret = 0;

	*out = NULL;
	if (!b64) {
		*out = disp;
		return 0;
	}
	if (!bytes)
		ret = bad(c, "%s_b64: not base64 of a NUL-free string", where);
	else if (utf8_valid(bytes))
		ret = bad(c, "%s_b64: present although the value is valid UTF-8", where);
	else if (!(d = display_form(bytes)))
		ret = bad(c, "out of memory");
	else if (strcmp(d, disp))
		ret = bad(c, "%s: does not match %s_b64", where, where);
	free(d);
	free(disp);
	if (ret)
		free(bytes);
	else
		*out = bytes;
	return ret;
}

static int valid_time(const char *s)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd";
	int mo, d, h, mi, sec;

	/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.frac]Z */
	if (!s)
		return 1;
	for (size_t i = 0; i < sizeof(form) - 1; i++)
		if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != form[i])
			return 0;
	mo = atoi(s + 5), d = atoi(s + 8), h = atoi(s + 11), mi = atoi(s + 14), sec = atoi(s + 17);
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

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* An array of strings ("<where>[i]: <what>" for another type). */
static int get_strv(struct rctx *c, const char *where, const char *what, struct strv *s)
{
	int first = 1, r;

	if (peek(c) != '[')
		return bad(c, "%s: not an array", where);
	c->p++;
	while ((r = next_elem(c, &first)) > 0) {
		if (s->n + 1 >= s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 8;
			char **nv = realloc(s->v, cap * sizeof(*nv));

			if (!nv)
				return bad(c, "out of memory");
			s->v = nv;
			s->cap = cap;
		}
		r = v_str(c, 0, &s->v[s->n]);
		if (r > 0)
			return bad(c, "%s[%zu]: %s", where, s->n, what);
		if (r)
			return -1;
		s->n++;
	}
	return r;
}

/* run.command from its display strings and, when any argument is not UTF-8, command_b64. */
static int command_args(struct rctx *c, struct strv *disp, struct strv *b64, int has_b64,
			struct bom_run *r)
{
	if (has_b64 && b64->n != disp->n)
		return bad(c, "run.command_b64: not an array as long as run.command");
	r->command = calloc(disp->n + 1, sizeof(*r->command));
	if (!r->command)
		return bad(c, "out of memory");
	for (size_t i = 0; i < disp->n; i++) {
		const char *e = has_b64 ? b64->v[i] : NULL;
		char *bytes = e ? (*e ? b64_decode(e) : strdup("")) : NULL, *d;

		if (!has_b64) {
			r->command[r->argc++] = disp->v[i];
			disp->v[i] = NULL;
			continue;
		}
		if (!bytes)
			return bad(c, "run.command_b64[%zu]: not base64 of a NUL-free string", i);
		d = display_form(bytes);
		r->command[r->argc++] = bytes;
		if (!d || strcmp(d, disp->v[i])) {
			free(d);
			return bad(c, "run.command[%zu]: does not match command_b64[%zu]", i, i);
		}
		free(d);
	}
	if (has_b64 && !any_invalid(r->command, r->argc))
		return bad(c, "run.command_b64: present although every argument is UTF-8");
	return 0;
}

enum {
	RUN_ID,
	RUN_COMMAND,
	RUN_CWD,
	RUN_EXIT_CODE,
	RUN_SIGNAL,
	RUN_STARTED,
	RUN_FINISHED,
	RUN_BACKEND,
	RUN_EVENTS_LOST,
	RUN_PATHS_TRUNCATED,
	RUN_COMPLETE,
	RUN_DETACHED,
	RUN_COMMAND_B64,
	RUN_CWD_B64,
	RUN_CGROUP,		/* optional: a tracked cgroup's run */
	RUN_INCOMPLETE_REASON, /* optional */
};

/* One member of run; the _b64 twins wait in cmd64 and cwd64 for the end of the object. */
static int run_member(struct rctx *c, int k, struct bom_run *r, struct strv *cmd,
		      struct strv *cmd64, char **cwd64)
{
	int v;

	switch (k) {
	case RUN_ID:
		return get_str(c, "run", "id", 1, &r->id);
	case RUN_COMMAND:
		return get_strv(c, "run.command", "not a string", cmd);
	case RUN_COMMAND_B64:
		if (peek(c) != '[')
			return bad(c, "run.command_b64: not an array as long as run.command");
		return get_strv(c, "run.command_b64", "not base64 of a NUL-free string", cmd64);
	case RUN_CWD:
		return get_str(c, "run", "cwd", 1, &r->cwd);
	case RUN_CWD_B64:
		v = v_str(c, 0, cwd64);
		return v ? type_err(c, v, "run", "cwd_b64", "not a string") : 0;
	case RUN_EXIT_CODE:
		return get_int(c, "run", "exit_code", -1, &r->exit_code);
	case RUN_SIGNAL:
		return get_int(c, "run", "signal", 0, &r->signal);
	case RUN_STARTED:
		return get_str(c, "run", "started", 1, &r->started);
	case RUN_FINISHED:
		return get_str(c, "run", "finished", 1, &r->finished);
	case RUN_BACKEND:
		return get_str(c, "run", "backend", 1, &r->backend);
	case RUN_EVENTS_LOST:
		return get_u64(c, "run", "events_lost", &r->events_lost);
	case RUN_PATHS_TRUNCATED:
		return get_u64(c, "run", "paths_truncated", &r->paths_truncated);
	case RUN_COMPLETE:
		return get_bool(c, "run", "complete", &r->complete);
	case RUN_CGROUP:
		return get_str(c, "run", "cgroup", 0, &r->cgroup);
	case RUN_INCOMPLETE_REASON:
		return get_str(c, "run", "incomplete_reason", 0, &r->incomplete_reason);
	default:
		return get_bool(c, "run", "detached", &r->detached);
	}
}

static int read_run(struct rctx *c, struct bom_run *r)
{
	static const char *const keys[] = {
	    "id",	"command",  "cwd",	   "exit_code",	  "signal",
	    "started",	"finished", "backend",	   "events_lost", "paths_truncated",
	    "complete", "detached", "command_b64", "cwd_b64",	  "cgroup",
	    "incomplete_reason", NULL};
	struct strv cmd = {0}, cmd64 = {0};
	char *cwd64 = NULL, *disp;
	unsigned seen = 0;
	int first = 1, k = -1, ret;

	if (peek(c) != '{')
		return bad(c, "run: not an object");
	c->p++;
	while ((ret = next_key(c, "run", NO_IDX, keys, &seen, &first, &k)) > 0)
		if ((ret = run_member(c, k, r, &cmd, &cmd64, &cwd64)))
			goto cleanup;
	if (ret ||
	    (ret = check_missing(c, "run", NO_IDX, keys, seen, (1u << RUN_COMMAND_B64) - 1)) ||
	    (ret = command_args(c, &cmd, &cmd64, !!(seen & 1u << RUN_COMMAND_B64), r)))
		goto cleanup;
	if (!r->cwd && cwd64) {
		ret = bad(c, "run.cwd_b64: present although cwd is null");
		goto cleanup;
	}
	disp = r->cwd;
	r->cwd = NULL;
	if (disp && (ret = decode_bytes(c, "run.cwd", disp, cwd64, &r->cwd)))
		goto cleanup;
	if (!valid_time(r->started) || !valid_time(r->finished))
		ret = bad(c, "run.started/finished: not an RFC 3339 UTC time");
cleanup:
	strv_free(&cmd);
	strv_free(&cmd64);
	free(cwd64);
	return ret;
}

static int read_host(struct rctx *c, struct bom_host *h)
{
	static const char *const keys[] = {"hostname", "kernel", "boot_id", "tpm", NULL};
	char **fields[] = {&h->hostname, &h->kernel, &h->boot_id, &h->tpm};
	unsigned seen = 0;
	int first = 1, k = -1, ret;

	if (peek(c) != '{')
		return bad(c, "host: not an object");
	c->p++;
	while ((ret = next_key(c, "host", NO_IDX, keys, &seen, &first, &k)) > 0)
		if (get_str(c, "host", keys[k], 1, fields[k]))
			return -1;
	return ret ? ret : check_missing(c, "host", NO_IDX, keys, seen, 15);
}

static int read_job(struct rctx *c, struct job_info *j)
{
	static const char *const keys[] = {"scheduler", "id", "step", "node", "nodes", NULL};
	char **fields[] = {&j->scheduler, &j->id, &j->step, &j->node};
	struct strv nodes = {0};
	unsigned seen = 0;
	int first = 1, k = -1, ret;
	const char *why;

	if (peek(c) != '{')
		return bad(c, "job: not an object");
	c->p++;
	while ((ret = next_key(c, "job", NO_IDX, keys, &seen, &first, &k)) > 0) {
		if (k == 4 ? get_strv(c, "job.nodes", "not a string", &nodes)
			   : get_str(c, "job", keys[k], 0, fields[k])) {
			strv_free(&nodes);
			return -1;
		}
		if (k == 4 && nodes.n > JOB_NODES_MAX) {
			strv_free(&nodes);
			return bad(c, "job.nodes: more than %d nodes", JOB_NODES_MAX);
		}
	}
	j->nodes = nodes.v;
	j->n_nodes = nodes.n;
	if (ret || (ret = check_missing(c, "job", NO_IDX, keys, seen, 31)))
		return ret;
	if (job_check(j, &why))
		return bad(c, "job: %s", why ? why : "out of memory");
	return 0;
}

/* ---- files[] (the bulk of the text: no work per file that can be avoided) ---- */

struct rfile {
	char *path, *path64, *status, *category;
	char sha256[65];
	uint64_t size;
	unsigned roles;
	int ima, derived;
};

static int read_roles(struct rctx *c, size_t idx, unsigned *roles)
{
	int first = 1, r;
	size_t i = 0, k;

	if (peek(c) != '[')
		return bad(c, "files[%zu].roles: not an array", idx);
	c->p++;
	while ((r = next_elem(c, &first)) > 0) {
		const char *s = "";
		size_t n = 0;
		int is_str = peek(c) == '"';

		if (is_str && str(c, &s, &n))
			return -1;
		for (k = 0; k < sizeof(role_names) / sizeof(role_names[0]); k++)
			if (is_str && same(role_names[k], s, n))
				break;
		if (k == sizeof(role_names) / sizeof(role_names[0]))
			return bad(c,
				   "files[%zu].roles[%zu]: not one of input, output, executable, "
				   "library",
				   idx, i);
		if (*roles & (1u << k))
			return bad(c, "files[%zu].roles: \"%s\" twice", idx, role_names[k]);
		*roles |= 1u << k;
		i++;
	}
	return r;
}

/* 64 lowercase hex digits, without a branch per digit (they are random: mispredicted). */
static int hex64_lower(const char *s)
{
	unsigned bad = 0;

	for (int i = 0; i < 64; i++) {
		unsigned ch = (unsigned char)s[i];

		bad |= (ch - '0' > 9u) & (ch - 'a' > 5u);
	}
	return !bad;
}

static int read_sha(struct rctx *c, size_t idx, char out[65])
{
	const char *s = "";
	size_t n = 0;

	out[0] = '\0';
	if (peek(c) == 'n')
		return literal(c, "null");
	if (peek(c) == '"' && str(c, &s, &n))
		return -1;
	if (n != 64 || !hex64_lower(s))
		return bad(c, "files[%zu].sha256: not 64 lowercase hex digits or null", idx);
	memcpy(out, s, 64);
	out[64] = '\0';
	return 0;
}

/*
 * files[idx].<key>: a string that is one of names[first .. n); its index into *out. what lists the
 * allowed values for the error.
 */
static int read_name(struct rctx *c, size_t idx, const char *key, const char *const *names,
		     size_t first, size_t n, const char *what, int *out)
{
	const char *s;
	size_t len, k = n;

	if (peek(c) == '"') {
		if (str(c, &s, &len))
			return -1;
		for (k = first; k < n; k++)
			if (same(names[k], s, len))
				break;
	}
	if (k == n)
		return bad(c, "files[%zu].%s: not %s", idx, key, what);
	*out = (int)k;
	return 0;
}

static int read_ima(struct rctx *c, size_t idx, int *ima)
{
	return read_name(c, idx, "ima", ima_names, 0, sizeof(ima_names) / sizeof(ima_names[0]),
			 "one of match, mismatch, absent, unavailable", ima);
}

static int read_derived(struct rctx *c, size_t idx, int *derived)
{
	return read_name(c, idx, "derived", derived_names, 1,
			 sizeof(derived_names) / sizeof(derived_names[0]), "elf-interpreter",
			 derived);
}

enum { F_PATH, F_SHA256, F_SIZE, F_ROLES, F_CATEGORY, F_IMA, F_PATH_B64, F_STATUS, F_DERIVED };

static int file_member(struct rctx *c, size_t idx, int k, struct rfile *f)
{
	char where[48];
	int64_t v = 0;
	int r;

	switch (k) {
	case F_SHA256:
		return read_sha(c, idx, f->sha256);
	case F_SIZE:
		r = v_int(c, 0, INT64_MAX, &v);
		f->size = (uint64_t)v;
		break;
	case F_ROLES:
		return read_roles(c, idx, &f->roles);
	case F_IMA:
		return read_ima(c, idx, &f->ima);
	case F_DERIVED:
		return read_derived(c, idx, &f->derived);
	case F_CATEGORY:
		r = v_str(c, 1, &f->category);
		break;
	case F_PATH:
		r = v_str(c, 0, &f->path);
		break;
	case F_PATH_B64:
		r = v_str(c, 0, &f->path64);
		break;
	default:
		r = v_str(c, 0, &f->status);
		break;
	}
	if (r <= 0)
		return r;
	snprintf(where, sizeof(where), "files[%zu]", idx);
	return bad(c, "%s.%s: %s", where,
		   (const char *[]){"path", 0, "size", 0, "category", 0, "path_b64", "status"}[k],
		   k == F_SIZE	     ? "not a non-negative integer"
		   : k == F_CATEGORY ? "not a string or null"
				     : "not a string");
}

static struct bom_file *new_file(struct bom *b)
{
	return grow_files(b) ? NULL : &b->files[b->nfiles++];
}

static int read_file(struct rctx *c, size_t idx, struct bom *b)
{
	static const char *const keys[] = {"path", "sha256",   "size",	 "roles",   "category",
					   "ima",  "path_b64", "status", "derived", NULL};
	struct rfile f = {.ima = 0};
	struct bom_file *bf;
	char where[48] = "";
	unsigned seen = 0;
	int first = 1, k = -1, ret;

	if (peek(c) != '{')
		return bad(c, "files[%zu]: not an object", idx);
	c->p++;
	while ((ret = next_key(c, "files", idx, keys, &seen, &first, &k)) > 0)
		if ((ret = file_member(c, idx, k, &f)))
			goto cleanup;
	if (ret || (ret = check_missing(c, "files", idx, keys, seen, (1u << F_PATH_B64) - 1)))
		goto cleanup;
	if (f.path64)
		snprintf(where, sizeof(where), "files[%zu].path", idx);
	if ((ret = decode_bytes(c, where, f.path, f.path64, &f.path)))
		goto cleanup;
	if (!*f.path) {
		ret = bad(c, "files[%zu].path: empty", idx);
		goto cleanup;
	}
	bf = new_file(b);
	if (!bf) {
		ret = bad(c, "out of memory");
		goto cleanup;
	}
	*bf = (struct bom_file){.path = f.path,
				.size = f.size,
				.roles = f.roles,
				.category = f.category,
				.ima = (enum bom_ima)f.ima,
				.status = f.status,
				.derived = (enum bom_derived)f.derived};
	memcpy(bf->sha256, f.sha256, sizeof(bf->sha256));
	f.path = f.category = f.status = NULL;
cleanup:
	free(f.path);
	free(f.path64);
	free(f.category);
	free(f.status);
	return ret;
}

static int read_files(struct rctx *c, struct bom *b)
{
	int first = 1, r;

	if (peek(c) != '[')
		return bad(c, "files: not an array");
	c->p++;
	while ((r = next_elem(c, &first)) > 0)
		if (read_file(c, b->nfiles, b))
			return -1;
	return r;
}

static int read_root(struct rctx *c, struct bom *b)
{
	static const char *const keys[] = {"schema", "run", "host", "attested", "files", "job",
					   NULL};
	unsigned seen = 0;
	int first = 1, k = -1, r;
	char *schema;

	ws(c);
	if (peek(c) == '[')
		return bad(c, "bom: not an object");
	if (peek(c) != '{')
		return syn(c, c->p, "'[' or '{' expected");
	c->p++;
	while ((r = next_key(c, "bom", NO_IDX, keys, &seen, &first, &k)) > 0) {
		switch (k) {
		case 0:
			r = v_str(c, 0, &schema);
			if (r < 0)
				return -1;
			if (r > 0 || strcmp(schema, BOM_SCHEMA))
				r = bad(c, "schema: not \"%s\"", BOM_SCHEMA);
			free(schema);
			break;
		case 1:
			r = read_run(c, &b->run);
			break;
		case 2:
			r = read_host(c, &b->host);
			break;
		case 3:
			r = get_bool(c, "bom", "attested", &b->attested);
			break;
		case 5:
			r = read_job(c, &b->job);
			break;
		default:
			r = read_files(c, b);
			break;
		}
		if (r)
			return -1;
	}
	if (r || check_missing(c, "bom", NO_IDX, keys, seen, 31))
		return -1;
	ws(c);
	return c->p == c->end ? 0 : syn(c, c->p, "end of file expected");
}

int bom_loads(struct bom *b, const char *buf, size_t len, char *err, size_t errlen)
{
	char dummy[1];
	struct rctx c = {.err = err && errlen ? err : dummy,
			 .errlen = err && errlen ? errlen : sizeof(dummy),
			 .buf = buf,
			 .p = buf,
			 .end = buf + len};
	int ret;

	bom_free(b);
	ret = read_root(&c, b);
	/* A document that breaks the schema may also be broken JSON further on: say that. */
	if (ret && !c.syntax)
		check_syntax(&c);
	free(c.sbuf);
	if (ret)
		bom_free(b);
	return ret;
}

int bom_read(struct bom *b, const char *path, char *err, size_t errlen)
{
	char dummy[1];
	struct rctx c = {.err = err && errlen ? err : dummy,
			 .errlen = err && errlen ? errlen : sizeof(dummy)};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = -1, rc;

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
	rc = fileio_read_fd(fd, BOM_MAX_BYTES, &buf, &len);
	if (rc) {
		bad(&c, "cannot read %s: %s", path,
		    rc == -EFBIG ? "larger than 1 GiB" : strerror(-rc));
		goto cleanup;
	}
	ret = bom_loads(b, (char *)buf, len, c.err, c.errlen);
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
