#!/bin/bash
# bench/memory.sh - what aicert-trace's memory grows with: 200,000 distinct files opened once,
# traced, and the run's peak RSS (/usr/bin/time -v) per file measured. Target: <= 2 KiB per file.
# Also the peak RSS of a traced run of one file, the floor (BPF maps, ring buffer, libraries),
# and the growth per file above it. Each run has a state directory of its own, so the host's event
# log (which aicert-trace copies into the bundle) is not in the figures. Needs root and GNU time.
set -u
B=${AICERT_BUILD:?}
T=$B/aicert-trace
N=${BENCH_MEMORY_FILES:-200000}
[ "$(id -u)" = 0 ] || { echo "bench memory: SKIPPED (needs root)"; exit 0; }
[ -x /usr/bin/time ] || { echo "bench memory: SKIPPED (/usr/bin/time, package time, is missing)"; exit 0; }
W=$(mktemp -d /tmp/aicert-bench-memory.XXXXXX)
trap 'rm -rf "$W"' EXIT
cc -O2 -o "$W/openloop" "$(dirname "$0")/openloop.c" || exit 1
mkdir "$W/many" "$W/one"
"$W/openloop" create "$W/many" "$N" > /dev/null
"$W/openloop" create "$W/one" 1 > /dev/null
rss() { # BUNDLE DIR N: peak RSS in KiB of a traced run reading N files of DIR
	/usr/bin/time -v "$T" -q --no-tpm --no-cache --state-dir "$1.state" -o "$1" -- \
		"$W/openloop" read "$2" "$3" "$3" \
		2>&1 > /dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
}
floor=$(rss "$W/b1" "$W/one" 1)
peak=$(rss "$W/bn" "$W/many" "$N")
n=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["files"]))' \
	"$W/bn/bom.json")
awk -v n="$N" -v got="$n" -v p="$peak" -v f="$floor" 'BEGIN {
	per = p * 1024 / n; grow = (p - f) * 1024 / n
	printf "bench memory: %d distinct files (%d in bom.json): peak RSS %.0f MiB, %.0f bytes per file (%.0f above the floor of %.0f MiB) (target <= 2048) %s\n",
		n, got, p / 1024, per, grow, f / 1024, per <= 2048 ? "PASS" : "MISS" }'
