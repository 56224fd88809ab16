#!/bin/bash
# bench/verify.sh - aicert-verify on a bundle whose event log holds 1,000,000 file measurements
# (1,000 batch records of 1,000 files), with the matching 1,000,001-file bom.json, a manifest
# and a quote (target < 2 s for the whole verification).
#   BUILD=build bench/verify.sh [FILES]
#
# The bundle comes from tests/unit/test_verify.c built with -DVERIFY_GEN_ONLY (bench/lib/gen.sh):
# the log, bom.json and manifest.json are written with libaicert (cel, bom, manifest), and the quote over the
# replayed PCR 15 is signed by a software ECDSA P-256 key standing in for the TPM's AK, in the
# TPM's own encoding (MU). So every check runs, the signature included, as on a real bundle;
# only the key did not live in a TPM. Repeats: VERIFY_BENCH_RUNS (default 3), the best counts.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FILES=${1:-1000000}
RUNS=${VERIFY_BENCH_RUNS:-3}
TARGET=2
. bench/lib/gen.sh
gen_build verify-gen
tmp=$(mktemp -d /tmp/aicert-verify-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s.%N)
"$BUILD/bench/verify-gen" "$tmp/b" "$FILES" 1000
t1=$(date +%s.%N)
echo "generated: $FILES file measurements, $(du -sh "$tmp/b" | cut -f1) bundle," \
	"in $(printf %.1f "$(echo "$t1 - $t0" | bc)") s"
best=
for _ in $(seq "$RUNS"); do
	t0=$(date +%s.%N)
	rc=0
	"$BUILD/aicert-verify" "$tmp/b" --ak "$tmp/b/ak.pub.pem" > "$tmp/out" || rc=$?
	t1=$(date +%s.%N)
	if [ "$rc" != 0 ]; then
		cat "$tmp/out"
		echo "bench verify: aicert-verify exited $rc on the generated bundle MISS"
		exit 1
	fi
	s=$(echo "$t1 - $t0" | bc)
	if [ -z "$best" ] || [ "$(echo "$s < $best" | bc)" = 1 ]; then best=$s; fi
done
grep -E '^(PASS|FAIL)' "$tmp/out"
printf 'records: %s file measurements in %.3f s = %.0f records/s (best of %s; load %s)\n' \
	"$FILES" "$best" "$(echo "$FILES / $best" | bc -l)" "$RUNS" "$(cut -d' ' -f1 /proc/loadavg)"
verdict=MISS
[ "$(echo "$best < $TARGET" | bc)" = 1 ] && verdict=PASS
printf 'bench verify: %.2f s (target < %s s) %s\n' "$best" "$TARGET" "$verdict"
