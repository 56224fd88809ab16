#!/bin/bash
# bench/trace.sh - what tracing costs a training loop, and whether anything is lost.
#  1. 1,000 files re-opened 100,000 times, traced vs untraced: the loop's own time (openloop
#     measures it, so aicert's start-up is not in it), 9 alternating runs each. The verdict uses
#     the loop's CPU time (user + kernel, the BPF programs included), which other tenants of a
#     shared machine do not inflate; wall-clock figures are printed next to it.
#     Target: <= 10 % overhead.
#  2. 100,000 distinct files opened once, traced: events lost at default sizes. Target: 0.
#  3. The same loop under the LSM backend, in the VM harness's kernel (tests/vm/lib/vm.sh: BPF
#     LSM): traced vs untraced alternating in one boot. qemu emulates the CPU (TCG), so the
#     times are not the host's; both sides run under the same emulation, so the ratio still
#     says what the hooks cost. Skipped when qemu is missing.
# Uses the tracepoint backend on hosts without BPF LSM (this one); needs root.
set -u
B=${AICERT_BUILD:?}
T=$B/aicert-trace
ROUNDS=9
[ "$(id -u)" = 0 ] || { echo "bench trace: SKIPPED (needs root)"; exit 0; }
W=$(mktemp -d /tmp/aicert-bench-trace.XXXXXX)
# the VM sees the host's root read-only: openloop must live where the guest finds it
V=$(mktemp -d "$B/bench-trace-vm.XXXXXX")
trap 'rm -rf "$W" "$V"' EXIT
cc -O2 -o "$W/openloop" "$(dirname "$0")/openloop.c" || exit 1
OL=$W/openloop
mkdir -p "$W/small" "$W/many"
"$OL" create "$W/small" 1000 > /dev/null
"$OL" create "$W/many" 100000 > /dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
least() { sort -n | head -1; }
# overhead NAME WHAT UNTRACED... -- TRACED...: one line with the medians (the verdict), the
# minimums, and the median of the ratios of the runs taken one after the other (pairs)
overhead() {
	local name=$1 what=$2 u=() t=() um tm un tn pm i
	shift 2
	while [ "$1" != -- ]; do u+=("$1"); shift; done
	shift
	t=("$@")
	um=$(printf '%s\n' "${u[@]}" | median)
	tm=$(printf '%s\n' "${t[@]}" | median)
	un=$(printf '%s\n' "${u[@]}" | least)
	tn=$(printf '%s\n' "${t[@]}" | least)
	pm=$(for i in "${!u[@]}"; do awk -v u="${u[$i]}" -v t="${t[$i]}" 'BEGIN {print (t - u) / u * 100}'; done | median)
	awk -v n="$name" -v w="$what" -v u="$um" -v t="$tm" -v un="$un" -v tn="$tn" -v pm="$pm" -v k=${#u[@]} 'BEGIN {
		o = (t - u) / u * 100; om = (tn - un) / un * 100
		printf "%s: untraced %.1f ms, traced %.1f ms (%s, median of %d), overhead %.1f %% (min: %.1f %%, pairs: %.1f %%) (target <= 10 %%) %s\n",
			n, u / 1e6, t / 1e6, w, k, o, om, pm, o <= 10 ? "PASS" : "MISS" }'
}

# 1. re-opened files: alternate untraced and traced runs, compare medians
uc=() tc=() uw=() tw=()
for i in $(seq $ROUNDS); do
	out=$("$OL" read "$W/small" 1000 100000)
	uc+=("$(awk '/^loop_cpu_ns/ {print $2}' <<< "$out")")
	uw+=("$(awk '/^loop_ns/ {print $2}' <<< "$out")")
	out=$("$T" -q --no-tpm --no-cache -o "$W/b$i" -- "$OL" read "$W/small" 1000 100000)
	tc+=("$(awk '/^loop_cpu_ns/ {print $2}' <<< "$out")")
	tw+=("$(awk '/^loop_ns/ {print $2}' <<< "$out")")
done
backend=$(sed -n 's/.*"backend": "\([a-z]*\)".*/\1/p' "$W/b1/bom.json")
echo "100,000 opens of 1,000 files, CPU time: untraced ${uc[*]} ns, traced ($backend) ${tc[*]} ns"
echo "100,000 opens of 1,000 files, wall clock: untraced ${uw[*]} ns, traced ($backend) ${tw[*]} ns"
overhead "bench trace-reopen" "$backend, CPU time" "${uc[@]}" -- "${tc[@]}"
overhead "bench trace-reopen-wall" "$backend, wall clock" "${uw[@]}" -- "${tw[@]}" |
	sed 's/ (target <= 10 %) [A-Z]*$/ (for information)/'

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

# 3. the LSM backend in the VM: one boot, a warm-up run, then alternating pairs
if ! command -v qemu-system-x86_64 > /dev/null; then
	echo "bench trace-reopen-lsm-vm: SKIPPED (qemu-system-x86_64 is missing: no VM to run the LSM backend in)"
	exit 0
fi
VMROUNDS=7
cp "$OL" "$V/openloop"
G="D=/run/tmp/small; mkdir -p \$D; $V/openloop create \$D 1000 > /dev/null;
$V/openloop read \$D 1000 100000 > /dev/null;
for i in \$(seq $VMROUNDS); do
	$V/openloop read \$D 1000 100000 | sed 's/^/u /';
	$T -q --no-tpm --no-cache --backend lsm -o /run/tmp/b\$i -- $V/openloop read \$D 1000 100000 | sed 's/^/t /';
done"
"$(dirname "$0")/../tests/vm/lib/vm.sh" "$G" > "$W/vm.out" 2> "$W/vm.err"
rc=$?
uv=($(awk '$1 == "u" && $2 == "loop_cpu_ns" {print $3}' "$W/vm.out"))
tv=($(awk '$1 == "t" && $2 == "loop_cpu_ns" {print $3}' "$W/vm.out"))
if [ $rc != 0 ] || [ ${#uv[@]} != $VMROUNDS ] || [ ${#tv[@]} != $VMROUNDS ]; then
	tail -5 "$W/vm.err"
	echo "bench trace-reopen-lsm-vm: the VM run failed (exit $rc, ${#uv[@]}+${#tv[@]} of $((2 * VMROUNDS)) runs) MISS"
	exit 0
fi
echo "100,000 opens of 1,000 files in the VM (lsm, qemu TCG), CPU time: untraced ${uv[*]} ns, traced ${tv[*]} ns"
overhead "bench trace-reopen-lsm-vm" "lsm, CPU time in a qemu TCG VM: emulated timing" "${uv[@]}" -- "${tv[@]}"
