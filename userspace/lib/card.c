// SPDX-License-Identifier: BSD-2-Clause
/*
 * card.c - the model ID card (card.h): a bundle as one HTML page for people.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/card.h"

#define MAX_CATEGORIES 32

static const char style[] =
    "<style>\n"
    ":root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}\n"
    "body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);"
    "margin:0 auto;max-width:60rem;padding:1rem}\n"
    "h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;"
    "border-bottom:1px solid var(--line)}\n"
    "section{margin-bottom:1rem}table{border-collapse:collapse;width:100%}\n"
    "td,th{text-align:left;vertical-align:top;padding:.3rem .5rem .3rem 0;"
    "border-bottom:1px solid var(--line)}\n"
    "th{color:var(--muted);font-weight:600;white-space:nowrap}\n"
    ".hash,code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;"
    "overflow-wrap:anywhere}\n"
    ".name{overflow-wrap:anywhere}.muted{color:var(--muted)}\n"
    ".badge{display:inline-block;padding:.1rem .55rem;border-radius:1rem;color:#fff;"
    "font-weight:600}\n"
    ".ok{background:var(--ok)}.bad{background:var(--bad)}.warn{background:var(--warn)}\n"
    "details{margin:.4rem 0}summary{cursor:pointer}\n"
    "table.kv th{width:9rem}\n"
    "@media (max-width:40rem){body{font-size:15px}table.kv th{width:6.5rem;white-space:normal}"
    "table.files tr.head{display:none}table.files td{display:block;border:0;padding:.05rem 0}"
    "table.files tr{display:block;border-bottom:1px solid var(--line);padding:.35rem 0}}\n"
    "</style>\n";

/* Text into HTML: & < > " ' escaped, control characters shown as U+FFFD. */
static void esc(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fputs("&#xfffd;", f);
			else
				fputc(*p, f);
		}
	}
}

/* A file name as bom.json displays it (percent-encoded where it is not UTF-8), escaped. */
static int esc_name(FILE *f, const char *s)
{
	char *d = bom_display_name(s ? s : "");

	if (!d)
		return -1;
	esc(f, d);
	free(d);
	return 0;
}

static void size_text(uint64_t n, char out[32])
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%" PRIu64 " B", n);
	else
		snprintf(out, 32, "%.1f %s", v, unit[u]);
}

static void row(FILE *f, const char *k, const char *v)
{
	fprintf(f, "<tr><th>%s</th><td>", k);
	esc(f, v ? v : "?");
	fputs("</td></tr>\n", f);
}

static int file_row(FILE *f, const struct bom_file *x)
{
	char sz[32];

	size_text(x->size, sz);
	fputs("<tr><td class=\"name\">", f);
	if (esc_name(f, x->path))
		return -1;
	fputs("</td><td class=\"hash\">", f);
	if (x->sha256[0])
		esc(f, x->sha256);
	else {
		fputs("<span class=\"badge bad\">not measured</span> ", f);
		esc(f, x->status);
	}
	fprintf(f, "</td><td>%s</td></tr>\n", sz);
	return 0;
}

static int model_section(FILE *f, const struct bom *b)
{
	size_t n = 0;

	fputs("<section id=\"model\"><h2>The model</h2>\n", f);
	for (size_t i = 0; i < b->nfiles; i++)
		n += !!(b->files[i].roles & BOM_ROLE_OUTPUT);
	if (!n) {
		fputs("<p>The run wrote no file that outlived it.</p></section>\n", f);
		return 0;
	}
	fprintf(f, "<p>%zu output file%s written by the run, under its final name%s.</p>\n"
		"<table class=\"files\"><tr class=\"head\"><th>file</th><th>sha256</th><th>size</th></tr>\n", n, n == 1 ? "" : "s",
		n == 1 ? "" : "s");
	for (size_t i = 0; i < b->nfiles; i++)
		if ((b->files[i].roles & BOM_ROLE_OUTPUT) && file_row(f, &b->files[i]))
			return -1;
	fputs("</table></section>\n", f);
	return 0;
}

struct cat {
	const char *name;
	size_t n;
	uint64_t bytes;
};

/* The categories people look for first; the others follow by name, "other" last. */
static int cat_rank(const char *name)
{
	static const char *const order[] = {"dataset", "code", "model", "config", "interpreter",
					    "library"};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (!strcmp(name, order[i]))
			return (int)i;
	return strcmp(name, "other") ? 50 : 99;
}

static int cat_cmp(const void *a, const void *b)
{
	const struct cat *x = a, *y = b;
	int rx = cat_rank(x->name), ry = cat_rank(y->name);

	return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

/* Inputs (read, executed or mapped, and not only written) grouped by category. */
static size_t categories(const struct bom *b, struct cat *c)
{
	size_t nc = 0, j;

	for (size_t i = 0; i < b->nfiles; i++) {
		const struct bom_file *x = &b->files[i];
		const char *name = x->category ? x->category : "other";

		if (!(x->roles & ~BOM_ROLE_OUTPUT))
			continue;
		for (j = 0; j < nc && strcmp(c[j].name, name); j++)
			;
		if (j == nc) {
			if (nc == MAX_CATEGORIES)
				j = nc - 1; /* the last slot gathers the rest */
			else
				c[nc++] = (struct cat){name, 0, 0};
		}
		c[j].n++;
		c[j].bytes += x->size;
	}
	qsort(c, nc, sizeof(*c), cat_cmp);
	return nc;
}

static int inputs_section(FILE *f, const struct bom *b)
{
	struct cat c[MAX_CATEGORIES];
	size_t nc = categories(b, c), total = 0;
	char sz[32];

	for (size_t j = 0; j < nc; j++)
		total += c[j].n;
	fprintf(f, "<section id=\"inputs\"><h2>What went in</h2>\n<p>%zu file%s read, executed "
		"or mapped by the run's processes.</p>\n", total, total == 1 ? "" : "s");
	if (!nc) {
		fputs("</section>\n", f);
		return 0;
	}
	fputs("<table><tr><th>category</th><th>files</th><th>size</th></tr>\n", f);
	for (size_t j = 0; j < nc; j++) {
		size_text(c[j].bytes, sz);
		fputs("<tr><td>", f);
		esc(f, c[j].name);
		fprintf(f, "</td><td>%zu</td><td>%s</td></tr>\n", c[j].n, sz);
	}
	fputs("</table>\n", f);
	for (size_t j = 0; j < nc; j++) {
		fputs("<details><summary>", f);
		esc(f, c[j].name);
		fprintf(f, " (%zu)</summary>\n<table class=\"files\">\n", c[j].n);
		for (size_t i = 0; i < b->nfiles; i++) {
			const struct bom_file *x = &b->files[i];
			const char *name = x->category ? x->category : "other";

			if ((x->roles & ~BOM_ROLE_OUTPUT) && !strcmp(name, c[j].name) && file_row(f, x))
				return -1;
		}
		fputs("</table></details>\n", f);
	}
	fputs("</section>\n", f);
	return 0;
}

static int run_section(FILE *f, const struct bom *b)
{
	const struct bom_run *r = &b->run;
	char buf[64];

	fputs("<section id=\"run\"><h2>The run</h2>\n<table class=\"kv\">\n<tr><th>command</th><td><code>", f);
	for (size_t i = 0; i < r->argc; i++) {
		if (i)
			fputc(' ', f);
		if (esc_name(f, r->command[i]))
			return -1;
	}
	fputs("</code></td></tr>\n<tr><th>directory</th><td class=\"name\">", f);
	if (esc_name(f, r->cwd))
		return -1;
	fputs("</td></tr>\n", f);
	row(f, "started", r->started);
	row(f, "finished", r->finished);
	if (r->exit_code >= 0)
		snprintf(buf, sizeof(buf), "exit status %d", r->exit_code);
	else
		snprintf(buf, sizeof(buf), "killed by signal %d", r->signal);
	row(f, "ended", buf);
	row(f, "tracing backend", r->backend);
	fputs("<tr><th>record</th><td>", f);
	if (r->complete)
		fputs("<span class=\"badge ok\">complete</span> no event lost, no path cut", f);
	else
		fprintf(f, "<span class=\"badge warn\">incomplete</span> %" PRIu64 " event%s lost, "
			"%" PRIu64 " path%s truncated%s", r->events_lost, r->events_lost == 1 ? "" : "s",
			r->paths_truncated, r->paths_truncated == 1 ? "" : "s",
			r->detached ? ", processes left running (detached)" : "");
	fputs("</td></tr>\n</table></section>\n", f);
	return 0;
}

static void host_section(FILE *f, const struct bom *b)
{
	fputs("<section id=\"host\"><h2>The host</h2>\n<table class=\"kv\">\n", f);
	row(f, "host name", b->host.hostname);
	row(f, "kernel", b->host.kernel);
	row(f, "boot id", b->host.boot_id);
	row(f, "TPM", b->host.tpm);
	fputs("</table></section>\n", f);
}

static void verify_section(FILE *f, const struct bom *b, const struct card_opts *o)
{
	const struct verify_report *vr = o->vr;
	const char *cls;

	fputs("<section id=\"verification\"><h2>Verification</h2>\n", f);
	if (!vr) {
		fprintf(f, "<p><span class=\"badge warn\">not verified</span> This page shows what the "
			"bundle says%s. To check it against the TPM quote: <code>aicert-verify ",
			b->attested ? "" : "; it is unattested (made without a TPM), so nothing proves it");
		esc(f, o->bundle);
		fputs(" --ak AK.pem</code></p></section>\n", f);
		return;
	}
	cls = vr->exit_code == VERIFY_EXIT_OK ? "ok" : vr->exit_code == VERIFY_EXIT_INCOMPLETE ? "warn" : "bad";
	fprintf(f, "<p><span class=\"badge %s\">", cls);
	esc(f, vr->verdict);
	fprintf(f, "</span> aicert-verify exit code %d", vr->exit_code);
	if (o->verified_with) {
		fputs(", with <code>", f);
		esc(f, o->verified_with);
		fputs("</code>", f);
	}
	fputs("</p>\n<table class=\"kv\">\n", f);
	for (int i = 0; i < VERIFY_N_CHECKS; i++) {
		fprintf(f, "<tr><th>%s</th><td><span class=\"badge %s\">%s</span> ",
			vr->checks[i].name ? vr->checks[i].name : "?", vr->checks[i].ok ? "ok" : "bad",
			vr->checks[i].ok ? "PASS" : "FAIL");
		esc(f, vr->checks[i].reason);
		fputs("</td></tr>\n", f);
	}
	fputs("</table></section>\n", f);
}

int card_write_html(FILE *f, const struct bom *b, const struct card_opts *o)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>Model ID card: ", f);
	esc(f, o->bundle);
	fprintf(f, "</title>\n%s</head><body>\n<header><h1>Model ID card</h1>\n"
		"<p class=\"muted\">aicert bundle <code>", style);
	esc(f, o->bundle);
	fputs("</code>, run <code>", f);
	esc(f, b->run.id);
	fprintf(f, "</code>; %s</p></header>\n",
		b->attested ? "attested by a TPM quote" : "<strong>unattested</strong> (no TPM)");
	if (model_section(f, b) || inputs_section(f, b) || run_section(f, b))
		return -1;
	host_section(f, b);
	verify_section(f, b, o);
	fputs("<footer class=\"muted\"><p>Made by <code>aicert show --html</code>. Digests are "
	      "SHA-256 of the files' bytes; compare one with <code>sha256sum FILE</code>.</p>"
	      "</footer>\n</body></html>\n", f);
	if (ferror(f) || fflush(f)) {
		errno = errno ? errno : EIO;
		return -1;
	}
	return 0;
}
