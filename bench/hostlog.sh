#!/bin/bash
# bench/hostlog.sh - a run's memory against the size of the host's event log. The host log holds
# every run since boot; aicert-trace reads it when it opens it and when it exports the bundle's
# events.cel, one record at a time, so its peak RSS must not grow with it.
# Two state directories, each on its own swtpm: a small log (one run of 20 files, a few KB) and a
# large one (HOSTLOG_RUNS runs of 1000 files, about 50 MB by default). aicert-trace -- true runs
# against each in turn (A, B, A, B, ...); the verdict is the median of the paired ratios
# RSS(large) / RSS(small): PASS at most 1.05. Needs root (BPF) and swtpm; says so otherwise.
set -u
cd "$(dirname "$0")/.."
B=${AICERT_BUILD:-$PWD/build}
PAIRS=${HOSTLOG_PAIRS:-5}
W=$(mktemp -d /tmp/aicert-bench-hostlog.XXXXXX)
tpms=()
cleanup() {
	local d
	for d in "${tpms[@]}"; do
		kill "$(cat "$d/swtpm.pid")" 2> /dev/null
		rm -rf "$d"
	done
	rm -rf "$W"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench hostlog: needs root (BPF), not run"; exit 0; }
[ -x /usr/bin/time ] || { echo "bench hostlog: /usr/bin/time missing, not run"; exit 0; }
. tests/lib/swtpm.sh
declare -A tcti
for log in small large; do
	swtpm_start > /dev/null || { echo "bench hostlog: swtpm unavailable, not run"; exit 0; }
	trap cleanup EXIT # swtpm_start chained its own; ours stops every swtpm
	tcti[$log]=$AICERT_TCTI
	tpms+=("$SWTPM_DIR")
	SWTPM_DIR=
done

cat > "$W/fill.c" << 'C'
/* fill STATE TCTI RUNS FILES: RUNS runs of FILES measurements each into STATE's host log */
#include <stdio.h>
#include <stdlib.h>
#include "lib/log.h"
#include "trace/eventlog.h"

int main(int argc, char **argv)
{
	struct evlog_opts o = { .statedir = argv[1], .tcti = argv[2], .batch_hz = 1 };
	static const char *av[] = { "python3", "train.py" };
	int runs = atoi(argv[3]), files = atoi(argv[4]);
	uint8_t sha[32] = { 1 };
	char id[37], path[128];

	log_init("fill", LOG_ERROR);
	for (int r = 0; r < runs; r++) {
		struct evlog_run_info ri = { .run_id = id, .argv = av, .argc = 2, .cwd = "/w",
					     .backend = "tracepoint" };
		struct evlog *ev;
		struct evlog_run *er;

		snprintf(id, sizeof(id), "%08x-0000-4000-8000-000000000000", r);
		if (evlog_open(&o, &ev) || evlog_run_start(ev, &ri, &er))
			return 1;
		for (int i = 0; i < files; i++) {
			snprintf(path, sizeof(path), "/data/imagenet/train/n%08d/img_%06d.JPEG", r, i);
			if (evlog_measure(er, path, sha, 12345, 1, 0))
				return 1;
		}
		if (evlog_run_end(er, &(struct evlog_run_end){ 0 }))
			return 1;
		evlog_run_free(er);
		evlog_close(ev);
	}
	return 0;
}
C
cc -O2 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace -o "$W/fill" "$W/fill.c" "$B/libtrace.a" \
	"$B/libaicert.a" $(pkg-config --libs tss2-esys tss2-tctildr tss2-rc tss2-mu openssl jansson) \
	-lpthread || { echo "bench hostlog: cannot build the filler"; exit 1; }
"$W/fill" "$W/small" "${tcti[small]}" 1 20 &&
	"$W/fill" "$W/large" "${tcti[large]}" "${HOSTLOG_RUNS:-390}" 1000 ||
	{ echo "bench hostlog: cannot fill the host logs"; exit 1; }

rss() { # LOG N: peak RSS in KB of one aicert-trace run against that log
	/usr/bin/time -f %M "$B/aicert-trace" --tcti "${tcti[$1]}" --no-cache --backend tracepoint \
		--state-dir "$W/$1" -o "$W/out-$1-$2" -q -- true 2>&1 > /dev/null | tail -1
}
ratios=()
for i in $(seq "$PAIRS"); do
	a=$(rss small "$i")
	b=$(rss large "$i")
	[[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ ]] || { echo "bench hostlog: a run failed"; exit 1; }
	echo "bench hostlog: pair $i: $a KB against $(stat -c %s "$W"/small/*/events.cel) bytes," \
		"$b KB against $(stat -c %s "$W"/large/*/events.cel) bytes"
	ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')")
done
med=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
verdict=$(awk -v m="$med" 'BEGIN { print (m <= 1.05) ? "PASS" : "MISS" }')
echo "bench hostlog: peak RSS, large log / small log, median of $PAIRS paired ratios: $med" \
	"(target <= 1.05) $verdict"
