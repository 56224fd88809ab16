#!/bin/bash
# bench/run.sh [NAME...] - run the benchmarks (bench/NAME.sh; all by default) in turn. Each prints
# its figures and one or more lines "bench NAME: ... PASS|MISS" against its target. These
# machines are noisy: where A is compared with B, the runs alternate A and B and the verdict is
# the median of the pairs' ratios (bench/lib/paired.sh, shared by every such benchmark).
# Benchmarks report, they never fail the build. The "bench" lines are repeated at the end as a
# summary.
set -u
cd "$(dirname "$0")/.."
export AICERT_BUILD=${AICERT_BUILD:-$PWD/build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for b in bench/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
	echo "==== bench $name"
	bash "$b" 2>&1 | tee -a "$log"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || echo "bench $name: FAILED to run (exit $rc)" | tee -a "$log"
done
echo "==== summary"
grep '^bench ' "$log"
