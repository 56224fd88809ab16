// SPDX-License-Identifier: BSD-2-Clause
/*
 * aicert-verify - check an aicert bundle offline: manifest, TPM quote, AK trust, event log and
 * IMA replay, bom.json against the log, and the weights a user holds; or a log quote (the host
 * log quoted for a challenge, lib/verify.h). No TPM, no root, no BPF.
 * Exit codes: docs/verify.md (enum verify_exit).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "lib/hex.h"
#include "lib/manifest.h"
#include "lib/verify.h"

#define MAX_LIST 64

static const char usage[] =
    "usage: aicert-verify BUNDLE [--ak PEM | --ca PEM ...] [--nonce HEX] [--weights FILE|DIR ...]\n"
    "                     [--allow-resettable-pcr] [--json]\n"
    "Verify an aicert bundle offline. Each check prints PASS or FAIL with a reason.\n"
    "BUNDLE may also be a log quote (aicert quote --nonce HEX -o DIR): the host's event log\n"
    "quoted for a challenge; the report then starts with \"log quote:\", and bom, weights and\n"
    "complete print N/A (not applicable: there is no run).\n"
    "  --ak PEM         trust the AK whose public key (or certificate) is PEM\n"
    "  --ca PEM         trust an AK whose ak.cert.pem chains to this CA (repeatable) and has\n"
    "                   an AK's profile: not a CA, keyUsage digitalSignature, an extended\n"
    "                   key usage only tcg-kp-AIKCertificate (2.23.133.8.3) if any\n"
    "  --nonce HEX      the challenge given to aicert-trace or aicert quote; the quote must\n"
    "                   include it (required for a log quote)\n"
    "  --weights FILE   FILE's sha256 must be an output of the run (repeatable; streamed)\n"
    "  --weights DIR    every regular file under DIR (links followed) must be one\n"
    "  --allow-resettable-pcr  accept a bundle on PCR 16 or 23, which anyone able to\n"
    "                   send TPM commands can reset: such a bundle proves little\n"
    "  --json           print a JSON report instead of lines\n"
    "  -h, --help       this text\n"
    "  --version        print the version\n"
    "Without --ak or --ca the AK is not authenticated and verification fails (exit 4);\n"
    "`--ak BUNDLE/ak.pub.pem` self-checks a bundle made on this machine.\n"
    "Every bundle file must be a regular file (a FIFO, device, socket or link fails).\n"
    "Exit: 0 verified, 1 usage, 2 manifest, 3 quote, 4 AK trust, 5 event log, 6 IMA,\n"
    "7 bom.json (or bom.cdx.json, provenance.intoto.json) vs log, 8 weights,\n"
    "9 incomplete (events lost), 10 unattested, 11 internal, 12 incomplete (an output\n"
    "not measured).\n";

enum { O_AK = 256, O_CA, O_NONCE, O_WEIGHTS, O_JSON, O_HELP, O_VERSION, O_RESETTABLE };

struct args {
	struct verify_opts o;
	const char *ca[MAX_LIST], *weights[MAX_LIST];
	uint8_t nonce[MANIFEST_NONCE_MAX];
	bool json;
};

static int parse_nonce(struct args *a, const char *text)
{
	size_t n = strlen(text);

	if (!n || n % 2 || n / 2 > sizeof(a->nonce) || hex_decode(text, a->nonce, n / 2)) {
		fprintf(stderr, "aicert-verify: --nonce %s: expected 2 to %zu hex digits\n", text,
			2 * sizeof(a->nonce));
		return -1;
	}
	a->o.nonce = a->nonce;
	a->o.nonce_len = n / 2;
	return 0;
}

static int add(const char **list, size_t *n, const char *v, const char *opt)
{
	if (*n == MAX_LIST) {
		fprintf(stderr, "aicert-verify: at most %d %s options\n", MAX_LIST, opt);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"ak", required_argument, NULL, O_AK},
	    {"ca", required_argument, NULL, O_CA},
	    {"nonce", required_argument, NULL, O_NONCE},
	    {"weights", required_argument, NULL, O_WEIGHTS},
	    {"json", no_argument, NULL, O_JSON},
	    {"allow-resettable-pcr", no_argument, NULL, O_RESETTABLE},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {0},
	};
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_AK:
			if (a->o.ak_pem) {
				fprintf(stderr, "aicert-verify: --ak given twice\n");
				return -1;
			}
			a->o.ak_pem = optarg;
			break;
		case O_CA:
			bad |= add(a->ca, &a->o.n_ca, optarg, "--ca");
			break;
		case O_WEIGHTS:
			bad |= add(a->weights, &a->o.n_weights, optarg, "--weights");
			break;
		case O_NONCE:
			bad |= parse_nonce(a, optarg);
			break;
		case O_JSON:
			a->json = true;
			break;
		case O_RESETTABLE:
			a->o.allow_resettable = true;
			break;
		case 'h':
		case O_HELP:
			fputs(usage, stdout);
			exit(0);
		case O_VERSION:
			printf("aicert-verify %s\n", AICERT_VERSION);
			exit(0);
		default:
			return -1;
		}
	}
	if (bad)
		return -1;
	if (optind != argc - 1) {
		fprintf(stderr, "aicert-verify: expected one BUNDLE directory\n");
		return -1;
	}
	a->o.bundle = argv[optind];
	a->o.ca_pems = a->ca;
	a->o.weights = a->weights;
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct verify_report r;
	struct stat st;
	json_t *j;

	/* tpm2-tss MU would print its own warnings on malformed input; our reasons say it all. */
	setenv("TSS2_LOG", "all+none", 0);
	if (parse(argc, argv, &a)) {
		fputs(usage, stderr);
		return VERIFY_EXIT_USAGE;
	}
	if (stat(a.o.bundle, &st)) {
		fprintf(stderr, "aicert-verify: %s: %s\n", a.o.bundle, strerror(errno));
		return VERIFY_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "aicert-verify: %s: not a directory (a bundle is one)\n",
			a.o.bundle);
		return VERIFY_EXIT_USAGE;
	}
	verify_bundle(&a.o, &r);
	if (!a.json) {
		verify_report_print(&r, stdout);
		return r.exit_code;
	}
	j = verify_report_json(&r);
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) || fputc('\n', stdout) == EOF) {
		fprintf(stderr, "aicert-verify: cannot write the JSON report\n");
		json_decref(j);
		return VERIFY_EXIT_INTERNAL;
	}
	json_decref(j);
	return r.exit_code;
}
