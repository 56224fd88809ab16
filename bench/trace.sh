#!/bin/bash
# bench/trace.sh - what tracing costs a training loop, and whether anything is lost.
#  1. 1,000 files re-opened 100,000 times, traced vs untraced: the loop's own time (openloop
#     measures it, so aicert's start-up is not in it). Target: <= 10 % overhead.
#  2. 100,000 distinct files opened once, traced: events lost at default sizes. Target: 0.
# Uses the tracepoint backend on hosts without BPF LSM (this one); needs root.
set -u
B=${AICERT_BUILD:?}
T=$B/aicert-trace
[ "$(id -u)" = 0 ] || { echo "bench trace: SKIPPED (needs root)"; exit 0; }
W=$(mktemp -d /tmp/aicert-bench-trace.XXXXXX)
trap 'rm -rf "$W"' EXIT
cc -O2 -o "$W/openloop" "$(dirname "$0")/openloop.c" || exit 1
OL=$W/openloop
mkdir -p "$W/small" "$W/many"
"$OL" create "$W/small" 1000 > /dev/null
"$OL" create "$W/many" 100000 > /dev/null
loop() { awk '/^loop_ns/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# 1. re-opened files: alternate untraced and traced runs, 5 each, compare medians
u=() t=()
for i in 1 2 3 4 5; do
	u+=("$("$OL" read "$W/small" 1000 100000 | loop)")
	t+=("$("$T" -q --no-tpm --no-cache -o "$W/b$i" -- "$OL" read "$W/small" 1000 100000 | loop)")
done
um=$(printf '%s\n' "${u[@]}" | median)
tm=$(printf '%s\n' "${t[@]}" | median)
backend=$(sed -n 's/.*"backend": "\([a-z]*\)".*/\1/p' "$W/b1/bom.json")
echo "100,000 opens of 1,000 files: untraced ${u[*]} ns, traced ($backend) ${t[*]} ns"
awk -v u="$um" -v t="$tm" 'BEGIN {
	o = (t - u) / u * 100
	printf "bench trace-reopen: untraced %.1f ms, traced %.1f ms (median of 5), overhead %.1f %% (target <= 10 %%) %s\n",
		u / 1e6, t / 1e6, o, o <= 10 ? "PASS" : "MISS" }'

# 2. distinct files, opened once each
s0=$(date +%s.%N)
"$T" -q --no-tpm --no-cache -o "$W/many-bundle" -- "$OL" read "$W/many" 100000 100000 > /dev/null
s1=$(date +%s.%N)
/usr/bin/python3 - "$W/many-bundle/bom.json" "$W/many" "$s0" "$s1" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
n = sum(1 for f in bom["files"] if f["path"].startswith(sys.argv[2] + "/"))
lost = bom["run"]["events_lost"]
ok = lost == 0 and n == 100000
print(f"bench trace-distinct: 100,000 distinct files opened once: {n} measured, {lost} events lost "
      f"(target 0), {float(sys.argv[4]) - float(sys.argv[3]):.1f} s with hashing "
      f"{'PASS' if ok else 'MISS'}")
PY
