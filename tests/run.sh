#!/bin/bash
# tests/run.sh - run aicert's test suites and print one summary line "N passed, N failed".
#
#   tests/run.sh [--busy N] [unit] [integration] [vm] [fuzz] [asan]     (default: all five)
#
# --busy N runs N CPU burners (shell loops at normal priority) beside the suites, for as long as
# they run: every test must pass with all cores busy (tests synchronize on events, not sleeps).
#
# Suites:
#   unit         build/tests/test_* (cmocka); every cmocka test case counts
#   integration  tests/integration/*.sh on the host (root; tracepoint backend, swtpm)
#   vm           tests/vm/*.sh: each boots the project's qemu harness (tests/vm/lib/vm.sh) with
#                BPF LSM, IMA and a TPM, and runs its checks in the guest
#   fuzz         build/fuzz/fuzz_* for FUZZ_SECONDS (default 20) each, from tests/fuzz/corpus/<name>
#   asan         the unit tests and the host scenario suite again, built with ASan + UBSan
#                (`make asan` builds them into build-asan/)
#
# Scripts report each check as a line "ok - NAME" or "not ok - NAME: reason"; a script that exits
# non-zero without a "not ok" line counts as one failure. A script that cannot run prints
# "SKIPPED: reason" and exits 77: that is counted and shown loudly, and under CI=true (where
# everything must be present) a skip counts as a failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export AICERT_BUILD=$PWD/$BUILD
burners=()
stop_burners() {
	local p
	for p in "${burners[@]}"; do kill "$p" 2> /dev/null; done
	burners=()
}
trap stop_burners EXIT
if [ "${1:-}" = --busy ]; then
	case ${2:-} in
	'' | *[!0-9]*) echo "tests/run.sh: --busy needs a number of burners" >&2; exit 2 ;;
	esac
	for _ in $(seq 1 "$2"); do
		sh -c 'while :; do :; done' &
		burners+=($!)
	done
	echo "==== $2 CPU burner(s) running beside the suites"
	shift 2
fi
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit integration vm fuzz asan)
pass=0 fail=0 skip=0
failed=()
LOGDIR=${TEST_LOGDIR:-$BUILD/test-logs}
mkdir -p "$LOGDIR"

count_script() { # name logfile rc
	local name=$1 log=$2 rc=$3 ok nok
	ok=$(grep -c '^ok - ' "$log")
	nok=$(grep -c '^not ok - ' "$log")
	pass=$((pass + ok))
	fail=$((fail + nok))
	grep '^not ok - ' "$log" | sed "s|^|  $name: |" | while IFS= read -r l; do echo "$l"; done
	while IFS= read -r l; do failed+=("$name: ${l#not ok - }"); done < <(grep '^not ok - ' "$log")
	if [ "$rc" = 77 ]; then
		skip=$((skip + 1))
		echo "  !!! $name SKIPPED: $(grep -m1 'SKIPPED' "$log" | sed 's/.*SKIPPED:* *//')"
		if [ "${CI:-}" = true ]; then
			fail=$((fail + 1))
			failed+=("$name: skipped under CI")
		fi
	elif [ "$rc" != 0 ] && [ "$nok" = 0 ]; then
		fail=$((fail + 1))
		failed+=("$name: exited $rc (see $log)")
		echo "  $name: exited $rc without a failing check; last lines:"
		tail -5 "$log" | sed 's/^/    /'
	fi
}

run_unit() { # build dir
	local t log rc p f
	for t in "$1"/tests/test_*; do
		[ -x "$t" ] || continue
		log=$LOGDIR/unit-$(basename "$t").log
		"$t" > "$log" 2>&1
		rc=$?
		cat "$log"
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		pass=$((pass + ${p:-0}))
		fail=$((fail + ${f:-0}))
		if [ -n "${f:-}" ] && [ "${f:-0}" -gt 0 ]; then failed+=("$(basename "$t"): $f case(s)"); fi
		if [ $rc != 0 ] && [ -z "${f:-}" ]; then
			fail=$((fail + 1))
			failed+=("$(basename "$t"): crashed (rc=$rc)")
		fi
	done
}

run_scripts() { # dir
	local s
	for s in "$1"/*.sh; do
		[ -f "$s" ] || continue
		run_scripts_named "$s" "$(basename "$1")"
	done
}

run_scripts_named() { # script log-prefix
	local s=$1 log rc
	{
		log=$LOGDIR/$2-$(basename "$s" .sh).log
		echo "== $s"
		local t0=$SECONDS
		bash "$s" > "$log" 2>&1 < /dev/null
		rc=$?
		grep -E '^(ok|not ok) - |SKIPPED' "$log" | sed 's/^/  /'
		count_script "$2/$(basename "$s")" "$log" $rc
		echo "   ($((SECONDS - t0)) s, log $log)"
	}
}

run_fuzz() {
	local f name log rc corpus
	for f in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		log=$LOGDIR/$name.log
		corpus=tests/fuzz/corpus/${name#fuzz_}
		work=$(mktemp -d)
		[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
		"$f" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$LOGDIR/$name-" "$work" > "$log" 2>&1
		rc=$?
		rm -rf "$work"
		if [ $rc = 0 ]; then
			echo "ok - $name ($(grep -o 'Done [0-9]* runs' "$log" | tail -1))"
			pass=$((pass + 1))
		else
			echo "not ok - $name: rc=$rc, see $log"
			tail -20 "$log"
			fail=$((fail + 1))
			failed+=("$name: fuzzer found a crash (log $log)")
		fi
	done
}

for s in "${suites[@]}"; do
	echo "==== suite: $s"
	suite_t0=$SECONDS
	case $s in
	unit) run_unit "$BUILD" ;;
	asan)
		if [ ! -x build-asan/aicert-trace ]; then
			echo "not ok - asan: build-asan/ is not built (make asan)"
			fail=$((fail + 1))
			failed+=("asan: build-asan/ missing")
			continue
		fi
		export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
		export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
		run_unit build-asan
		AICERT_BUILD=$PWD/build-asan run_scripts_named tests/integration/20-trace-scenarios.sh asan
		;;
	integration) run_scripts tests/integration ;;
	vm) run_scripts tests/vm ;;
	fuzz) run_fuzz ;;
	*) echo "unknown suite $s" >&2; exit 2 ;;
	esac
	echo "==== suite $s took $((SECONDS - suite_t0)) s"
done

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failed[@]}"
fi
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail = 0 ]
