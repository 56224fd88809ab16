#!/bin/bash
# bench/soak.sh - aicertd's memory while runs start and end for a long time.
# For SOAK_S seconds (default 1800: the 30-minute soak), 4 clients at a time each trace a
# command that reads 2,500 distinct files (the same 10,000 across the 4), then the next 4 start;
# bundles are removed as they arrive. aicertd's RSS is sampled after every round.
# Targets: at least 1,000,000 files measured across the runs; RSS at the end (median of the
# last tenth of the samples) within 10 % of RSS after warm-up (median of the second tenth).
# Needs root. SOAK_S=120 gives a quick look.
set -u
B=${AICERT_BUILD:?}
R=$(cd "$(dirname "$0")/.." && pwd)
SOAK_S=${SOAK_S:-1800}
[ "$(id -u)" = 0 ] || { echo "bench soak: SKIPPED (needs root)"; exit 0; }
. "$(dirname "$0")/lib/paired.sh"
W=$(mktemp -d /tmp/aicert-bench-soak.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" 2> /dev/null; sleep 1; rm -rf "$W"' EXIT
export AICERT_SOCKET=$W/sock
"$B/aicertd" --socket "$AICERT_SOCKET" --state-dir "$W/state" --spool "$W/spool" --no-tpm --no-cache ||
	{ echo "bench soak: FAILED to start aicertd"; exit 1; }
PID=$("$B/aicert" status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
cc -O2 -o "$W/openloop" "$R/bench/openloop.c" || exit 1
for c in 1 2 3 4; do mkdir -p "$W/d$c"; "$W/openloop" create "$W/d$c" 2500 > /dev/null; done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
samples=() files=0 runs=0 failed=0
end=$(($(date +%s) + SOAK_S))
while [ "$(date +%s)" -lt $end ]; do
	pids=()
	for c in 1 2 3 4; do
		"$B/aicert-trace" -q -o "$W/o$c" -- "$W/openloop" read "$W/d$c" 2500 2500 > /dev/null &
		pids+=($!)
	done
	for c in 1 2 3 4; do
		if wait "${pids[$((c - 1))]}" && [ -f "$W/o$c/bom.json" ]; then
			n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["files"]))' "$W/o$c/bom.json")
			files=$((files + n))
		else
			failed=$((failed + 1))
		fi
		rm -rf "$W/o$c"
		runs=$((runs + 1))
	done
	rm -rf "$W/spool"/*
	samples+=("$(rss)")
done
k=${#samples[@]}
t=$((k / 10))
[ $t -ge 1 ] || t=1
warm=$(median "${samples[@]:$t:$t}")
last=$(median "${samples[@]:$((k - t)):$t}")
echo "soak: ${SOAK_S} s, $runs runs ($failed failed), $files files measured, $k samples; RSS after warm-up ${warm} KiB, at the end ${last} KiB (first ${samples[0]}, max $(printf '%s\n' "${samples[@]}" | sort -g | tail -1))"
echo "bench soak-files: files measured across runs: $files (target >= 1000000) $([ $files -ge 1000000 ] && echo PASS || echo MISS)"
awk -v w="$warm" -v l="$last" 'BEGIN { g = (l / w - 1) * 100
	printf "bench soak-rss: aicertd RSS growth from warm-up to the end: %+.1f %% (target <= 10 %%) %s\n", g, g <= 10 ? "PASS" : "MISS" }'
[ $failed = 0 ] || echo "bench soak-failed: $failed runs failed MISS"
