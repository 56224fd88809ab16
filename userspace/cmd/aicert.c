// SPDX-License-Identifier: BSD-2-Clause
/*
 * aicert.c - `aicert show`: a log or bundle for humans. Links libaicert only (no libbpf, no
 * TPM), so it runs on an auditor's machine like aicert-verify. It shows; it does not verify.
 * `aicert runs`, `status` and `quote` ask a running aicertd over its socket (lib/ipc.h).
 *
 * What a FILE is, is decided by its content, never its name: an IMA binary list is printed as
 * the kernel's ascii_runtime_measurements, a CEL log as CEL-JSON. A directory is a bundle.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/bom.h"
#include "lib/bootlog.h"
#include "lib/card.h"
#include "lib/cel.h"
#include "lib/hex.h"
#include "lib/ima.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "lib/quote.h"
#include "lib/verify.h"

#define SHOW_MAX_FILE (1u << 30) /* largest log read (IMA_MAX_LIST) */
#define SHOW_PER_CATEGORY 10	 /* inputs listed per category without --all */

enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

struct show_opts {
	int json, force_ima, all, facts, html;
	const char *ak;	     /* --html: verify with --ak */
	const char *cas[16]; /* --html: verify with --ca (repeatable) */
	size_t n_ca;
};

static const char usage_text[] =
    "Usage: aicert show [--json] [--ima] [--all] [--facts] FILE|BUNDLE\n"
    "  or:  aicert show --html [--ak PEM | --ca PEM...] BUNDLE > card.html\n"
    "  or:  aicert runs [--json] [--socket PATH]\n"
    "  or:  aicert runs --fetch ID -o DIR [--socket PATH]\n"
    "  or:  aicert status [--json] [--socket PATH]\n"
    "  or:  aicert quote --nonce HEX -o DIR [--socket PATH]\n"
    "  or:  aicert help | --help | --version\n"
    "runs, status and quote ask a running aicertd (aicert COMMAND --help says more).\n"
    "show shows an aicert log or bundle for humans; it verifies nothing (use\n"
    "aicert-verify).\n"
    "What FILE is, is decided by its content: an IMA binary list (ima.bin,\n"
    "binary_runtime_measurements) is printed exactly as the kernel's\n"
    "ascii_runtime_measurements; a TCG canonical event log (events.cel) as CEL-JSON; a\n"
    "firmware TCG PC Client event log (boot.bin, binary_bios_measurements) as tpm2_eventlog's\n"
    "YAML, with the PCR values it replays to. A BUNDLE directory is summarised: bom.json, the\n"
    "quote and the manifest.\n"
    "\n"
    "Options:\n"
    "      --json     for a bundle, print bom.json as it is\n"
    "      --ima      read FILE as an IMA list even when it does not look like one\n"
    "      --all      for a bundle, list every input (default: the first 10 of each category)\n"
    "      --facts    for a firmware log, what it says in plain words instead: Secure Boot,\n"
    "                 the PK/KEK/db/dbx digests, boot applications, command line, initrd,\n"
    "                 separators\n"
    "      --html     for a bundle, the model ID card: one self-contained HTML page (no\n"
    "                 script, no network) with the model, what went in by category, the run,\n"
    "                 the host and, with --ak or --ca, aicert-verify's verdict and checks.\n"
    "                 Without them the page says \"not verified\"\n"
    "      --ak PEM   with --html: verify with this pinned AK (as aicert-verify --ak)\n"
    "      --ca PEM   with --html: verify the AK certificate against this CA (repeatable)\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "\n"
    "Options of runs, status and quote (aicert COMMAND --help says more):\n"
    "      --socket PATH  aicertd's socket (default: $AICERT_SOCKET, else\n"
    "                     " IPC_SOCKET_DEFAULT ")\n"
    "      --json         print aicertd's answer as it is (runs, status)\n"
    "      --fetch ID     runs: write run ID's bundle from aicertd's spool into -o DIR\n"
    "      --nonce HEX    quote: the verifier's nonce, 1 to 64 bytes\n"
    "  -o, --out DIR      where a fetched bundle or a quote goes (absent or empty)\n"
    "\n"
    "Exit status: 0 shown, 1 the input cannot be read or is none of these formats (runs,\n"
    "status, quote: aicertd is not running, refused, or the files cannot be written), 2 usage.\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

static int slurp(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, r;
	uint8_t *buf = NULL, *nb;
	int ret = 0;

	if (!f)
		return -errno;
	do {
		if (n == cap || !buf) {
			if (buf && cap > SHOW_MAX_FILE) {
				ret = -EFBIG;
				goto cleanup;
			}
			cap = buf ? cap * 2 : cap;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				ret = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	if (ferror(f))
		ret = -EIO;
cleanup:
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* binary_runtime_measurements_<algo>: that bank's template digests (kernels >= 6.10). */
static const char *ima_list_algo(const char *path)
{
	static const char stem[] = "binary_runtime_measurements_";
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, stem, sizeof(stem) - 1) ? NULL : base + sizeof(stem) - 1;
}

static int show_ima(const struct ima_list *l)
{
	if (ima_render_ascii(stdout, l) || fflush(stdout)) {
		log_err("cannot write the list: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	return EXIT_OK;
}

static int show_cel(const struct cel_log *log)
{
	json_t *j = cel_log_json(log);
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int ret = EXIT_OK;

	if (!s) {
		log_err("cannot render the log as CEL-JSON: %s", strerror(ENOMEM));
		ret = EXIT_BAD_INPUT;
	} else if (printf("%s\n", s) < 0 || fflush(stdout)) {
		log_err("cannot write the log: %s", strerror(errno));
		ret = EXIT_BAD_INPUT;
	}
	free(s);
	json_decref(j);
	return ret;
}

static int show_boot(const char *path, const struct bootlog *l, const struct show_opts *o)
{
	struct bootlog_facts f;
	char err[256];
	int ret;

	if (!o->facts) {
		ret = bootlog_render_yaml(stdout, l);
	} else if (bootlog_facts(l, &f, err, sizeof(err))) {
		log_err("%s: %s", path, err);
		return EXIT_BAD_INPUT;
	} else {
		ret = bootlog_facts_print(stdout, &f);
		bootlog_facts_free(&f);
	}
	if (ret || fflush(stdout)) {
		log_err("cannot write the log: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	return EXIT_OK;
}

/*
 * A firmware log starts with its Spec ID event (an unambiguous signature); an IMA list parses
 * with at least one record; a CEL log decodes whole with at least one.
 */
static int show_file(const char *path, const struct show_opts *o)
{
	struct bootlog bl;
	char berr[256] = "";
	struct ima_parse_opts io = {.digest_algo = ima_list_algo(path)};
	struct ima_list l = {0};
	struct cel_log log = {0};
	char ierr[256] = "", cerr[CEL_ERR_MAX] = "";
	uint8_t *buf = NULL;
	size_t len, valid = 0;
	int ret;

	ret = slurp(path, &buf, &len);
	if (ret) {
		log_err("cannot read %s: %s", path, strerror(-ret));
		return EXIT_BAD_INPUT;
	}
	if (!o->force_ima && len >= 48 && !memcmp(buf + 32, "Spec ID Event03", 16)) {
		if (bootlog_parse(buf, len, &bl, berr, sizeof(berr))) {
			log_err("%s: a firmware event log, but malformed: %s", path, berr);
			ret = EXIT_BAD_INPUT;
		} else {
			ret = show_boot(path, &bl, o);
			bootlog_free(&bl);
		}
		goto cleanup;
	}
	if (o->facts) {
		log_err("%s: --facts is for a firmware event log (boot.bin)", path);
		ret = EXIT_USAGE;
		goto cleanup;
	}
	if (!ima_parse(buf, len, &io, &l, ierr, sizeof(ierr)) && (l.count || o->force_ima)) {
		ret = show_ima(&l);
		goto cleanup;
	}
	if (o->force_ima) {
		log_err("%s: not an IMA list: %s", path, ierr);
		ret = EXIT_BAD_INPUT;
		goto cleanup;
	}
	if (!cel_log_decode(buf, len, &log, &valid, cerr) && log.n && valid == len) {
		ret = show_cel(&log);
		goto cleanup;
	}
	log_err("%s: not an IMA list, a CEL log, a firmware log or a bundle", path);
	log_info("as an IMA list: %s", ierr[0] ? ierr : "no records");
	log_info("as a CEL log: %s", cerr[0] ? cerr : "no records");
	ret = EXIT_BAD_INPUT;
cleanup:
	ima_list_free(&l);
	cel_log_free(&log);
	free(buf);
	return ret;
}

/* Names are bytes: control characters and '\' are escaped so one file is one line. */
static void put_name_to(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static void put_name(const char *s)
{
	put_name_to(stdout, s);
}

static void show_run(const struct bom *b)
{
	const struct bom_run *r = &b->run;

	printf("run         %s\n", r->id ? r->id : "?");
	printf("command    ");
	for (size_t i = 0; i < r->argc; i++) {
		putchar(' ');
		put_name(r->command[i]);
	}
	printf("\ncwd         ");
	put_name(r->cwd);
	if (r->exit_code < 0 && r->signal)
		printf("\nexit        killed by signal %d\n", r->signal);
	else
		printf("\nexit code   %d\n", r->exit_code);
	printf("backend     %s\n", r->backend ? r->backend : "?");
	printf("started     %s\n", r->started ? r->started : "?");
	printf("finished    %s\n", r->finished ? r->finished : "?");
	printf("events lost %llu (paths truncated %llu)\n", (unsigned long long)r->events_lost,
	       (unsigned long long)r->paths_truncated);
	printf("complete    %s%s\n", r->complete ? "yes" : "NO: the BOM may miss files",
	       r->detached ? " (ended with processes left: --detach-timeout)" : "");
	printf("host        %s, kernel %s, boot %s\n", b->host.hostname ? b->host.hostname : "?",
	       b->host.kernel ? b->host.kernel : "?", b->host.boot_id ? b->host.boot_id : "?");
	printf("tpm         %s\n", b->host.tpm ? b->host.tpm : "?");
	printf("attested    %s\n", b->attested ? "yes (TPM quote in the bundle)"
					       : "UNATTESTED: nothing binds this bundle to a TPM");
}

static void show_counts(const struct bom *b)
{
	static const char *const roles[] = {"input", "output", "executable", "library"};
	size_t n[4] = {0}, ima[4] = {0}, unhashed = 0;

	for (size_t i = 0; i < b->nfiles; i++) {
		for (int r = 0; r < 4; r++)
			n[r] += !!(b->files[i].roles & (1u << r));
		ima[b->files[i].ima < 4 ? b->files[i].ima : 0]++;
		unhashed += !b->files[i].sha256[0];
	}
	printf("files       %zu:", b->nfiles);
	for (int r = 0; r < 4; r++)
		printf(" %zu %s%s", n[r], roles[r], r < 3 ? "," : "\n");
	if (unhashed)
		printf("            %zu NOT MEASURED (see below)\n", unhashed);
	printf("ima         %zu match, %zu mismatch, %zu absent, %zu unavailable\n",
	       ima[BOM_IMA_MATCH], ima[BOM_IMA_MISMATCH], ima[BOM_IMA_ABSENT],
	       ima[BOM_IMA_UNAVAILABLE]);
}

static void show_file_line(const struct bom_file *f)
{
	printf("  %-64s  ", f->sha256[0] ? f->sha256 : "NOT MEASURED");
	put_name(f->path);
	if (f->status)
		printf("  [%s]", f->status);
	if (f->ima == BOM_IMA_MISMATCH)
		printf("  [IMA MISMATCH]");
	putchar('\n');
}

static const char *category_of(const struct bom_file *f)
{
	return f->category && f->category[0] ? f->category : "(none)";
}

static void show_inputs(const struct bom *b, const struct show_opts *o)
{
	const char **cats = calloc(b->nfiles + 1, sizeof(*cats));
	size_t ncat = 0;

	if (!cats)
		return;
	/* categories in order of first appearance (files are sorted by path) */
	for (size_t i = 0; i < b->nfiles; i++) {
		const char *c = category_of(&b->files[i]);
		size_t k = 0;

		if (b->files[i].roles & BOM_ROLE_OUTPUT)
			continue;
		while (k < ncat && strcmp(cats[k], c))
			k++;
		if (k == ncat)
			cats[ncat++] = c;
	}
	for (size_t k = 0; k < ncat; k++) {
		size_t n = 0, shown = 0;

		for (size_t i = 0; i < b->nfiles; i++)
			n += !(b->files[i].roles & BOM_ROLE_OUTPUT) &&
			     !strcmp(category_of(&b->files[i]), cats[k]);
		printf("inputs: %s (%zu)\n", cats[k], n);
		for (size_t i = 0; i < b->nfiles; i++) {
			const struct bom_file *f = &b->files[i];

			if ((f->roles & BOM_ROLE_OUTPUT) || strcmp(category_of(f), cats[k]))
				continue;
			if (!o->all && shown == SHOW_PER_CATEGORY) {
				printf("  ... %zu more (aicert show --all)\n", n - shown);
				break;
			}
			show_file_line(f);
			shown++;
		}
	}
	free(cats);
}

static void show_outputs(const struct bom *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nfiles; i++)
		n += !!(b->files[i].roles & BOM_ROLE_OUTPUT);
	printf("outputs (%zu)\n", n);
	for (size_t i = 0; i < b->nfiles; i++)
		if (b->files[i].roles & BOM_ROLE_OUTPUT)
			show_file_line(&b->files[i]);
}

static void show_quote(const char *dir)
{
	char msg[PATH_MAX], sig[PATH_MAX], why[QUOTE_WHY_MAX];
	struct quote *q = NULL;

	snprintf(msg, sizeof(msg), "%s/quote.msg", dir);
	snprintf(sig, sizeof(sig), "%s/quote.sig", dir);
	if (access(msg, F_OK) && access(sig, F_OK))
		return;
	printf("\nquote (decoded, not verified: run aicert-verify)\n");
	if (quote_load(msg, sig, &q, why) != QUOTE_OK) {
		printf("  cannot decode: %s\n", why);
		return;
	}
	quote_describe(q, stdout);
	quote_free(q);
}

static void show_manifest(const char *dir)
{
	char path[PATH_MAX], why[MANIFEST_WHY_MAX], hex[2 * MANIFEST_NONCE_MAX + 1];
	struct manifest *m = NULL;

	snprintf(path, sizeof(path), "%s/" MANIFEST_NAME, dir);
	if (access(path, F_OK))
		return;
	printf("\nmanifest\n");
	if (manifest_read(path, &m, why)) {
		printf("  cannot read: %s\n", why);
		return;
	}
	printf("  files            %zu\n", m->n_files);
	printf("  pcr              %u (%s)\n", m->pcr, m->pcr_bank);
	hex_encode(m->qualifying_data, sizeof(m->qualifying_data), hex);
	printf("  qualifying data  %s\n", hex);
	printf("  of               %s\n", m->qualifying_data_of ? m->qualifying_data_of : "?");
	if (m->has_nonce) {
		hex_encode(m->nonce, m->nonce_len, hex);
		printf("  nonce            %s\n", hex);
	}
	manifest_free(m);
}

static int show_card(const char *dir, const struct bom *b, const struct show_opts *o)
{
	struct verify_opts vo = {
	    .bundle = dir, .ak_pem = o->ak, .ca_pems = o->cas, .n_ca = o->n_ca};
	struct verify_report vr;
	struct card_opts co = {.bundle = dir};
	char with[256] = "";

	if (o->ak || o->n_ca) {
		verify_bundle(&vo, &vr);
		co.vr = &vr;
		if (o->ak)
			snprintf(with, sizeof(with), "--ak %s", o->ak);
		else
			snprintf(with, sizeof(with), "--ca %s%s", o->cas[0],
				 o->n_ca > 1 ? " ..." : "");
		co.verified_with = with;
	}
	if (card_write_html(stdout, b, &co)) {
		log_err("cannot write the card: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	return EXIT_OK;
}

static int show_bundle(const char *dir, const struct show_opts *o)
{
	char path[PATH_MAX], err[256];
	struct bom b;
	uint8_t *text;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "%s/bom.json", dir);
	if (access(path, F_OK)) {
		log_err("%s: not an IMA list, a CEL log, a firmware log or a bundle (no bom.json)",
			dir);
		return EXIT_BAD_INPUT;
	}
	if (o->json) {
		ret = slurp(path, &text, &len);
		if (ret) {
			log_err("cannot read %s: %s", path, strerror(-ret));
			return EXIT_BAD_INPUT;
		}
		ret = fwrite(text, 1, len, stdout) == len && !fflush(stdout) ? EXIT_OK
									     : EXIT_BAD_INPUT;
		free(text);
		return ret;
	}
	bom_init(&b);
	if (bom_read(&b, path, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_BAD_INPUT;
	}
	if (o->html) {
		ret = show_card(dir, &b, o);
		bom_free(&b);
		return ret;
	}
	printf("bundle      %s\n", dir);
	show_run(&b);
	show_counts(&b);
	putchar('\n');
	show_outputs(&b);
	show_inputs(&b, o);
	show_quote(dir);
	show_manifest(dir);
	bom_free(&b);
	return fflush(stdout) ? EXIT_BAD_INPUT : EXIT_OK;
}

static int cmd_show(int argc, char **argv)
{
	static char name[] = "aicert show"; /* getopt's messages name argv[0] */
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"ima", no_argument, NULL, 'i'},
	    {"all", no_argument, NULL, 'a'},
	    {"facts", no_argument, NULL, 'f'},
	    {"html", no_argument, NULL, 'H'},
	    {"ak", required_argument, NULL, 'k'},
	    {"ca", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct show_opts o = {0};
	struct stat st;
	int c;

	argv[0] = name;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = 1;
			break;
		case 'i':
			o.force_ima = 1;
			break;
		case 'a':
			o.all = 1;
			break;
		case 'f':
			o.facts = 1;
			break;
		case 'H':
			o.html = 1;
			break;
		case 'k':
			o.ak = optarg;
			break;
		case 'c':
			if (o.n_ca == sizeof(o.cas) / sizeof(o.cas[0])) {
				log_err("--ca: at most %zu", sizeof(o.cas) / sizeof(o.cas[0]));
				return EXIT_USAGE;
			}
			o.cas[o.n_ca++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_err("one FILE or BUNDLE is needed");
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((o.ak || o.n_ca) && !o.html) {
		log_err("--ak and --ca go with --html (to verify, use aicert-verify)");
		return EXIT_USAGE;
	}
	if (o.ak && o.n_ca) {
		log_err("--ak and --ca: one or the other");
		return EXIT_USAGE;
	}
	if (o.html && (o.json || o.facts || o.force_ima)) {
		log_err("--html shows a bundle; it goes with no --json, --facts or --ima");
		return EXIT_USAGE;
	}
	if (stat(argv[optind], &st)) {
		log_err("cannot read %s: %s", argv[optind], strerror(errno));
		return EXIT_BAD_INPUT;
	}
	if (o.html && !S_ISDIR(st.st_mode)) {
		log_err("--html: %s is not a bundle directory", argv[optind]);
		return EXIT_USAGE;
	}
	if (S_ISDIR(st.st_mode) && !o.force_ima)
		return show_bundle(argv[optind], &o);
	if (!S_ISREG(st.st_mode)) {
		log_err("%s: not an IMA list, a CEL log, a firmware log or a bundle", argv[optind]);
		return EXIT_BAD_INPUT;
	}
	return show_file(argv[optind], &o);
}

/* ---- aicertd's verbs: runs, status, quote (a socket client; the daemon decides) ---- */

#define ASK_TIMEOUT_MS 120000 /* a quote waits for the TPM, which aicertd serialises */

static const char runs_usage[] =
    "Usage: aicert runs [--json] [--socket PATH]\n"
    "  or:  aicert runs --fetch ID -o DIR [--socket PATH]\n"
    "Lists the runs aicertd traces or traced: yours, or every user's for root. Columns: ID\n"
    "(the run ID's first 8 characters), USER, STATE (running, finishing, done, failed,\n"
    "interrupted; a finished run whose record is incomplete shows as incomplete), STARTED and\n"
    "the COMMAND, or the CGROUP of a run tracked by the policy's track: section.\n"
    "--fetch ID writes that run's bundle, kept in aicertd's spool, into DIR (absent or empty;\n"
    "the files are yours). Another user's run is \"not found\", as is one that does not exist.\n"
    "\n"
    "Options:\n"
    "      --json         print aicertd's answer as it is (JSON)\n"
    "      --fetch ID     the bundle of run ID (the full ID, as --json shows it)\n"
    "  -o, --out DIR      with --fetch: where the bundle goes\n"
    "      --socket PATH  aicertd's socket (default: $AICERT_SOCKET, else " IPC_SOCKET_DEFAULT ")\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 done, 1 aicertd is not running or refused, or the bundle cannot be\n"
    "written, 2 usage.\n";

static const char status_usage[] =
    "Usage: aicert status [--json] [--socket PATH]\n"
    "What aicertd says about itself: version, pid, since when, the BPF backend, runs active\n"
    "and done, events seen and lost (by cause), truncated paths, hash queue, the TPM\n"
    "(attested or not, TCTI, PCR, extends and commands) and its memory.\n"
    "\n"
    "Options:\n"
    "      --json         print aicertd's answer as it is (JSON)\n"
    "      --socket PATH  aicertd's socket (default: $AICERT_SOCKET, else " IPC_SOCKET_DEFAULT ")\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 shown, 1 aicertd is not running or refused, 2 usage.\n";

static const char quote_usage[] =
    "Usage: aicert quote --nonce HEX -o DIR [--socket PATH]\n"
    "A fresh TPM quote of aicertd's host log, bound to a verifier's nonce, written into DIR\n"
    "(absent or empty): events.cel (other users' records redacted, unless you are root),\n"
    "ima.bin when IMA is on, quote.msg, quote.sig, ak.pub.pem, ak.cert.pem when there is one,\n"
    "and manifest.json (kind \"log-quote\", with the nonce).\n"
    "\n"
    "Options:\n"
    "      --nonce HEX    the verifier's nonce: 1 to 64 bytes as hex digits\n"
    "  -o, --out DIR      where the files go\n"
    "      --socket PATH  aicertd's socket (default: $AICERT_SOCKET, else " IPC_SOCKET_DEFAULT ")\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 written, 1 aicertd is not running or refused, or DIR cannot be written,\n"
    "2 usage.\n";

enum { V_JSON = 1, V_SOCKET, V_FETCH, V_NONCE, V_OUT, V_HELP };

static const struct option verb_opts[] = {
    {"json", no_argument, NULL, V_JSON},
    {"socket", required_argument, NULL, V_SOCKET},
    {"fetch", required_argument, NULL, V_FETCH},
    {"nonce", required_argument, NULL, V_NONCE},
    {"out", required_argument, NULL, V_OUT},
    {"help", no_argument, NULL, V_HELP},
    {NULL, 0, NULL, 0},
};

struct verb_args {
	int json;
	const char *socket, *fetch, *nonce, *out;
};

#define V(opt) (1u << (opt))

/* Parses a verb's options; those it does not take (not in the allowed mask) are usage errors.
 * EXIT_OK to go on, -1 after --help, else EXIT_USAGE. */
static int verb_parse(int argc, char **argv, unsigned allowed, const char *text,
		      struct verb_args *a)
{
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", verb_opts, NULL)) != -1) {
		if (c == 'h' || c == V_HELP) {
			fputs(text, stdout);
			return -1;
		}
		if (c == 'o')
			c = V_OUT;
		if (c == '?' || !(allowed & V(c))) {
			for (const struct option *o = verb_opts; c != '?' && o->name; o++)
				if (o->val == c)
					log_err("--%s is not an option of %s", o->name, argv[0]);
			fprintf(stderr, "Try '%s --help'.\n", argv[0]);
			return EXIT_USAGE;
		}
		switch (c) {
		case V_JSON:
			a->json = 1;
			break;
		case V_SOCKET:
			a->socket = optarg;
			break;
		case V_FETCH:
			a->fetch = optarg;
			break;
		case V_NONCE:
			a->nonce = optarg;
			break;
		default:
			a->out = optarg;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int connect_daemon(const char *socket)
{
	const char *path = ipc_socket_path(socket);
	int fd = ipc_connect(path);

	if (fd == -ENOENT || fd == -ECONNREFUSED)
		log_err("no aicertd at %s (is it running?)", path);
	else if (fd < 0)
		log_err("cannot connect to aicertd at %s: %s", path, strerror(-fd));
	return fd;
}

/* Sends req (consumed) and returns the answer, whose "op" must be want (fds into fds). */
static json_t *ask(const char *socket, json_t *req, const char *want, int *fds, size_t *nfds)
{
	const char *path = ipc_socket_path(socket);
	int fd = connect_daemon(socket), r;
	json_t *ans = NULL;
	const char *op;

	*nfds = 0;
	r = fd < 0 ? fd : req ? ipc_send(fd, req, NULL, 0) : -ENOMEM;
	json_decref(req);
	if (fd < 0)
		return NULL;
	if (!r)
		r = ipc_recv(fd, &ans, fds, nfds, ASK_TIMEOUT_MS);
	close(fd);
	if (r == -EPIPE)
		log_err("aicertd at %s closed the connection without an answer", path);
	else if (r == -ETIMEDOUT)
		log_err("aicertd at %s did not answer in %d s", path, ASK_TIMEOUT_MS / 1000);
	else if (r)
		log_err("cannot talk to aicertd at %s: %s", path, strerror(-r));
	if (r)
		return NULL;
	op = json_string_value(json_object_get(ans, "op"));
	if (!strcmp(op, want))
		return ans;
	if (!strcmp(op, "error"))
		log_err("aicertd: %s", json_string_value(json_object_get(ans, "message"))
					   ? json_string_value(json_object_get(ans, "message"))
					   : "refused, without a message");
	else
		log_err("aicertd answered \"%s\" where \"%s\" was expected", op, want);
	ipc_close_fds(fds, *nfds);
	*nfds = 0;
	json_decref(ans);
	return NULL;
}

static int print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int ret = s && printf("%s\n", s) >= 0 && !fflush(stdout) ? EXIT_OK : EXIT_BAD_INPUT;

	free(s);
	return ret;
}

/* A scalar as one line of text: strings escaped as put_name does, numbers, yes/no, "-" for
 * null or absent. */
static void put_value_to(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		put_name_to(f, json_string_value(v));
	else if (json_is_integer(v))
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "yes" : "no", f);
	else
		fputc('-', f);
}

static void put_value(const json_t *v)
{
	put_value_to(stdout, v);
}

/* put_value in a column of width characters (and at least one space after it). */
static void put_padded(const json_t *v, int width)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		put_value_to(f, v);
		fclose(f);
	}
	printf("%-*s ", width - 1, text ? text : "?");
	free(text);
}

static void runs_row(const json_t *r)
{
	const json_t *cmd = json_object_get(r, "command"), *v, *user = json_object_get(r, "user");
	const char *id = json_string_value(json_object_get(r, "id"));
	json_t *state = json_incref(json_object_get(r, "state"));
	size_t i;

	if (json_is_false(json_object_get(r, "complete"))) {
		json_decref(state);
		state = json_string("incomplete");
	}
	printf("%-8.8s  ", id ? id : "?");
	put_padded(json_is_string(user) ? user : json_object_get(r, "uid"), 12);
	put_padded(state, 12);
	put_padded(json_object_get(r, "started"), 22);
	if (json_is_array(cmd)) {
		json_array_foreach(cmd, i, v)
		{
			if (i)
				putchar(' ');
			put_value(v);
		}
	} else {
		put_value(json_object_get(r, "cgroup"));
	}
	putchar('\n');
	json_decref(state);
}

static int runs_list(const struct verb_args *a)
{
	int fds[IPC_FDS_MAX];
	size_t n, i;
	json_t *ans = ask(a->socket, json_pack("{s:s}", "op", "runs"), "runs", fds, &n), *r;
	int ret;

	if (!ans)
		return EXIT_BAD_INPUT;
	ipc_close_fds(fds, n);
	if (a->json) {
		ret = print_json(ans);
	} else {
		printf("%-8s  %-12s%-12s%-22s%s\n", "ID", "USER", "STATE", "STARTED",
		       "COMMAND/CGROUP");
		json_array_foreach(json_object_get(ans, "runs"), i, r) runs_row(r);
		ret = fflush(stdout) ? EXIT_BAD_INPUT : EXIT_OK;
	}
	json_decref(ans);
	return ret;
}

/* Asks for req's files (a bundle or a quote) and writes them into out. */
static int fetch_files(const struct verb_args *a, json_t *req, const char *what)
{
	int fds[IPC_FDS_MAX], r;
	size_t n;
	json_t *ans;

	if (ipc_out_usable(a->out)) { /* before aicertd is asked */
		json_decref(req);
		return EXIT_BAD_INPUT;
	}
	ans = ask(a->socket, req, what, fds, &n);
	if (!ans)
		return EXIT_BAD_INPUT;
	r = ipc_recv_dir(ans, fds, n, a->out);
	ipc_close_fds(fds, n);
	json_decref(ans);
	if (r) {
		log_err("cannot write the %s into %s: %s", what, a->out,
			r == -EBADMSG ? "aicertd sent a malformed file list" : strerror(-r));
		return EXIT_BAD_INPUT;
	}
	printf("%s written to %s\n", what, a->out);
	return EXIT_OK;
}

static int cmd_runs(int argc, char **argv)
{
	static char name[] = "aicert runs";
	struct verb_args a = {0};
	int r;

	argv[0] = name;
	r = verb_parse(argc, argv, V(V_JSON) | V(V_SOCKET) | V(V_FETCH) | V(V_OUT), runs_usage, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!a.fetch != !a.out || (a.fetch && a.json) || (a.fetch && !*a.fetch)) {
		log_err(a.json ? "--json lists runs; --fetch writes a bundle: one or the other"
			       : "--fetch ID and -o DIR go together");
		fputs("Try 'aicert runs --help'.\n", stderr);
		return EXIT_USAGE;
	}
	if (!a.fetch)
		return runs_list(&a);
	return fetch_files(&a, json_pack("{s:s, s:s}", "op", "fetch", "id", a.fetch), "bundle");
}

static int status_line(const char *key, const json_t *v)
{
	printf("%-18s ", key);
	put_value(v);
	putchar('\n');
	return 0;
}

static void status_print(const json_t *s)
{
	static const char *const top[] = {"version",	"pid",	     "started",
					  "backend",	"events",    "paths_truncated",
					  "dedup_hits", "hash_queue"};
	static const char *const groups[] = {"runs", "lost", "tpm", "memory"};
	const char *k;
	json_t *v;
	char key[64];

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		status_line(top[i], json_object_get(s, top[i]));
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		json_object_foreach((json_t *)json_object_get(s, groups[i]), k, v)
		{
			snprintf(key, sizeof(key), "%s.%s", groups[i], k);
			status_line(key, v);
		}
}

static int cmd_status(int argc, char **argv)
{
	static char name[] = "aicert status";
	struct verb_args a = {0};
	int fds[IPC_FDS_MAX], r;
	size_t n;
	json_t *ans;

	argv[0] = name;
	r = verb_parse(argc, argv, V(V_JSON) | V(V_SOCKET), status_usage, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	ans = ask(a.socket, json_pack("{s:s}", "op", "status"), "status", fds, &n);
	if (!ans)
		return EXIT_BAD_INPUT;
	ipc_close_fds(fds, n);
	if (a.json) {
		r = print_json(ans);
	} else {
		status_print(ans);
		r = fflush(stdout) ? EXIT_BAD_INPUT : EXIT_OK;
	}
	json_decref(ans);
	return r;
}

static int cmd_quote(int argc, char **argv)
{
	static char name[] = "aicert quote";
	uint8_t nonce[MANIFEST_NONCE_MAX];
	char hex[2 * MANIFEST_NONCE_MAX + 1];
	struct verb_args a = {0};
	size_t len;
	int r;

	argv[0] = name;
	r = verb_parse(argc, argv, V(V_NONCE) | V(V_OUT) | V(V_SOCKET), quote_usage, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!a.nonce || !a.out) {
		log_err("--nonce HEX and -o DIR are needed");
		fputs("Try 'aicert quote --help'.\n", stderr);
		return EXIT_USAGE;
	}
	len = strlen(a.nonce) / 2;
	if (!len || strlen(a.nonce) % 2 || len > MANIFEST_NONCE_MAX ||
	    hex_decode(a.nonce, nonce, len)) {
		log_err("--nonce: 1 to %d bytes as hex digits (an even number of them)",
			MANIFEST_NONCE_MAX);
		return EXIT_USAGE;
	}
	hex_encode(nonce, len, hex);
	return fetch_files(&a, json_pack("{s:s, s:s}", "op", "quote", "nonce", hex), "quote");
}

int main(int argc, char **argv)
{
	log_init("aicert show", LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("aicert %s\n", AICERT_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "show"))
		return cmd_show(argc - 1, argv + 1);
	log_init("aicert", LOG_WARN);
	if (!strcmp(argv[1], "runs"))
		return cmd_runs(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "quote"))
		return cmd_quote(argc - 1, argv + 1);
	log_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
