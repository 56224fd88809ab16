#!/bin/bash
# bench/run.sh [NAME...] - run the benchmarks (bench/NAME.sh; all by default) in turn. Each prints
# its figures and one or more lines "bench NAME: ... PASS|MISS" against its target; ratios are
# measured within the same run because these machines are noisy. Benchmarks report, they never
# fail the build. The "bench" lines are repeated at the end as a summary.
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
