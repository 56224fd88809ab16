#!/bin/bash
# bench/trace.sh - what tracing costs a training loop, and whether anything is lost.
#  1. 1,000 files re-opened 100,000 times, traced vs untraced: the loop's own time (openloop
#     measures it, so aicert's start-up is not in it), 9 alternating runs each. The verdict uses
#     the loop's CPU time (user + kernel, the BPF programs included), which other tenants of a
#     shared machine do not inflate; wall-clock figures are printed next to it. Each untraced run
#     is followed by its traced run; the verdict is the median of the pairs' overheads
#     (bench/lib/paired.sh), printed with their min and max. Target: <= 10 % overhead.
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
. "$(dirname "$0")/lib/paired.sh"

# 1. re-opened files: alternate untraced and traced runs; the verdict is the median of the pairs
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
pair_verdict overhead "bench trace-reopen" "untraced vs traced ($backend), loop CPU time in ns" 10 \
	"${uc[@]}" -- "${tc[@]}"
pair_verdict overhead "bench trace-reopen-wall" "untraced vs traced ($backend), loop wall clock in ns" 10 \
	"${uw[@]}" -- "${tw[@]}" | sed 's/ (target <= 10 %) [A-Z]*$/ (for information)/'

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
pair_verdict overhead "bench trace-reopen-lsm-vm" \
	"untraced vs traced (lsm), loop CPU time in ns in a qemu TCG VM: emulated timing" 10 \
	"${uv[@]}" -- "${tv[@]}"
