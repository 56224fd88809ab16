#!/bin/bash
# bench/tpm.sh - TPM cost of the event log on swtpm.
#  1. TPM commands for a whole run (open, run_start, N measurements, run_end, export, quote) with
#     N = 1k, 10k, 100k: batching must keep it flat (PASS when 100k costs what 1k costs).
#  2. TPM2_PCR_Extend latency (all allocated banks in one command), mean of 200.
# The driver is compiled here against the build's archives (or the sources).
set -u
cd "$(dirname "$0")/.."
B=${AICERT_BUILD:-$PWD/build}
W=$(mktemp -d /tmp/aicert-bench-tpm.XXXXXX)
. tests/lib/swtpm.sh
trap 'rm -rf "$W"' EXIT
swtpm_start > /dev/null || { echo "bench tpm: swtpm unavailable, not run"; exit 0; }
trap 'swtpm_stop; rm -rf "$W"' EXIT

cat > "$W/tpmbench.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/log.h"
#include "trace/eventlog.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *tcti = argv[1], *dir = argv[2];
	const char *av[] = { "train" };
	uint8_t sha[32] = { 0 };
	char path[64], out[512];

	log_init("tpmbench", LOG_ERROR);
	if (argc == 4 && !strcmp(argv[3], "extend")) {
		struct tpm *t;
		uint16_t algs[CEL_MAX_BANKS];
		struct cel_digests d = { 0 };
		size_t n;
		double t0;

		if (tpm_open(tcti, 0, &t) || tpm_banks(t, 15, algs, &n))
			return 1;
		for (size_t i = 0; i < n; i++)
			cel_content_digest(algs[i], CEL_CT_AICERT, sha, 32, &d.v[i]);
		d.n = n;
		t0 = now();
		for (int i = 0; i < 200; i++)
			if (tpm_pcr_extend(t, 15, &d))
				return 1;
		printf("%.3f %zu\n", (now() - t0) / 200 * 1e3, n);
		tpm_close(t);
		return 0;
	}
	for (int k = 3; k < argc; k++) {
		long n = atol(argv[k]);
		struct evlog_opts o = { .statedir = dir, .tcti = tcti };
		struct evlog_run_info ri = { .run_id = "00000000-0000-4000-8000-000000000000",
					     .argv = av, .argc = 1, .cwd = "/", .backend = "bench" };
		struct evlog *ev;
		struct evlog_run *er;
		double t0 = now();

		if (evlog_open(&o, &ev) || evlog_run_start(ev, &ri, &er))
			return 1;
		for (long i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "/data/shard-%ld", i);
			sha[0] = i;
			if (evlog_measure(er, path, sha, i, 1, 0))
				return 1;
		}
		snprintf(out, sizeof(out), "%s/events.cel", dir);
		if (evlog_run_end(er, &(struct evlog_run_end){0}) ||
		    evlog_export(ev, &(struct evlog_view){ ri.run_id, EVLOG_VIEW_NOUID }, out) ||
		    evlog_quote(ev, sha, 32, dir))
			return 1;
		printf("%ld %llu %llu %.3f\n", n, (unsigned long long)evlog_tpm_commands(ev),
		       (unsigned long long)evlog_records(ev), now() - t0);
		evlog_run_free(er);
		evlog_close(ev);
	}
	return 0;
}
C
if [ -f "$B/libtrace.a" ] && [ -f "$B/libaicert.a" ]; then
	objs=("$B/libtrace.a" "$B/libaicert.a")
else
	objs=(userspace/trace/eventlog.c userspace/trace/tpm.c userspace/trace/tpmguard.c userspace/lib/cel.c userspace/lib/fileio.c
		userspace/lib/hex.c userspace/lib/log.c)
fi
cc -O2 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace -o "$W/tpmbench" "$W/tpmbench.c" \
	"${objs[@]}" $(pkg-config --libs tss2-esys tss2-tctildr tss2-rc tss2-mu openssl jansson) \
	-lpthread || { echo "bench tpm: cannot build the driver"; exit 1; }

# one warm-up run creates the log and the AK, which later runs reuse
"$W/tpmbench" "$AICERT_TCTI" "$W/state" 1 > /dev/null || { echo "bench tpm: warm-up failed"; exit 1; }
first=
while read -r n cmds recs secs; do
	echo "bench tpm: run with $n measurements: $cmds TPM commands, $recs records, ${secs}s"
	[ -n "$first" ] || first=$cmds
	last=$cmds
done < <("$W/tpmbench" "$AICERT_TCTI" "$W/state" 1000 10000 100000)
if [ -n "$first" ] && [ "$first" = "$last" ]; then
	echo "bench tpm: TPM commands per run flat from 1k to 100k measurements ($first) PASS"
else
	echo "bench tpm: TPM commands per run grow with measurements ($first -> ${last:-?}) MISS"
fi
read -r ms banks < <("$W/tpmbench" "$AICERT_TCTI" "$W/state" extend)
echo "bench tpm: PCR extend latency on swtpm ($banks banks in one command): ${ms:-?} ms"
