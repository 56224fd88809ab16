#!/bin/bash
# bench/hostile.sh - what hostile input costs: time and peak RSS of the real programs on inputs
# built to be expensive, each against its target.
#  1. ima.bin with 1,000,000 legacy "ima"-template violation entries appended (target <= 2 s).
#  2. events.cel with 2,000,000 redacted records (other runs' records, reduced to their digests)
#     between the baseline and the run (target <= 10 s).
#  3. A policy nested 100,000 levels deep, given to aicert-trace -p: refused (target <= 1 s).
# 1 and 2 are measured on the whole check path, twice: "accepted" is what an honest host with
# that history hands over (the quote's PCR digest is the replay of the new list/log, so the
# bundle verifies: exit 0 expected); "forged" is what an attacker holding the AK hands over
# (the same entries and records, which the quoted PCRs never saw, the bundle re-quoted so its
# binding holds: the verifier tries every IMA prefix and log tail it allows, then fails).
# The bundles come from bench/lib/gen.sh (verify-gen, then hostile-gen and a re-quote with the
# software AK). Each figure is the median of HOSTILE_RUNS (default 3) runs; the verdict is on
# CPU time (see measure()); peak RSS is /usr/bin/time's maximum resident set size.
#   BUILD=build bench/hostile.sh   (HOSTILE_IMA_ENTRIES, HOSTILE_CEL_RECORDS: other sizes; the
#   forged ima.bin case needs more entries than the 4096 the quote may lag by)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-${AICERT_BUILD:-build}}
RUNS=${HOSTILE_RUNS:-3}
IMA_N=${HOSTILE_IMA_ENTRIES:-1000000}
CEL_N=${HOSTILE_CEL_RECORDS:-2000000}
DEPTH=100000
. bench/lib/gen.sh
. bench/lib/paired.sh
gen_build verify-gen
gen_build hostile-gen
G=$BUILD/bench/verify-gen
H=$BUILD/bench/hostile-gen
tmp=$(mktemp -d /tmp/aicert-hostile-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -x /usr/bin/time ] || { echo "bench hostile: /usr/bin/time is missing (apt-get install time)"; exit 1; }

# measure NAME TARGET_S WANT_RC CMD...: median CPU time, wall clock and peak RSS of RUNS runs, one
# verdict line; an exit other than WANT_RC (the input was refused for another reason, or
# accepted) is a MISS. The verdict uses CPU time (user + system, every thread), which other
# tenants of a shared machine do not inflate; on an idle machine the wall clock is at most that.
measure() {
	local name=$1 target=$2 want=$3 cpu=() wall=() rss=() rc w u s r i
	shift 3
	for i in $(seq "$RUNS"); do
		rc=0
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" > "$tmp/out" 2>&1 || rc=$?
		if [ "$rc" != "$want" ]; then
			tail -5 "$tmp/out"
			echo "bench $name: exit $rc, expected $want MISS"
			return 0
		fi
		read -r w u s r < <(tail -1 "$tmp/time")
		wall+=("$w") rss+=("$r")
		cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
	done
	echo "  $(grep -m1 -E '^(verdict|aicert|.*nested)' "$tmp/out" || tail -1 "$tmp/out")"
	awk -v n="$name" -v c="$(median "${cpu[@]}")" -v w="$(median "${wall[@]}")" \
		-v r="$(median "${rss[@]}")" -v t="$target" -v rc="$rc" -v k="$RUNS" 'BEGIN {
		printf "bench %s: %.2f s CPU (wall %.2f s), peak RSS %.0f MB (exit %d, median of %d) (target <= %s s) %s\n",
			n, c, w, r / 1024, rc, k, t, (c <= t) ? "PASS" : "MISS" }'
}

# variant BASE DIR KIND N [--match]: a copy of BASE made hostile and re-quoted
variant() {
	cp -a "$1" "$2"
	"$H" "$3" "$2" "$4" ${5:-}
	"$G" --docs "$2" # provenance.intoto.json names events.cel's digest
	"$G" --reseal "$2" "$1.key.pem"
}

"$G" "$tmp/base" 1000 1000 --ima tests/fixtures/ima/ima-ng-sha256
V=("$BUILD/aicert-verify")
ak=(--ak "$tmp/base/ak.pub.pem")

# both KIND N FILE TARGET_S WHAT: the accepted and the forged bundle of a kind, measured
both() {
	variant "$tmp/base" "$tmp/$1-ok" "$1" "$2" --match
	variant "$tmp/base" "$tmp/$1-forged" "$1" "$2"
	echo "$3: $5, $(du -h "$tmp/$1-ok/$3" | cut -f1)"
	measure "hostile-$1-accepted" "$4" 0 "${V[@]}" "$tmp/$1-ok" "${ak[@]}"
	measure "hostile-$1-forged" "$4" 6 "${V[@]}" "$tmp/$1-forged" "${ak[@]}"
	rm -rf "$tmp/$1-ok" "$tmp/$1-forged"
}
both ima "$IMA_N" ima.bin 2 "$IMA_N legacy violation entries appended"
both cel "$CEL_N" events.cel 10 "$CEL_N redacted records after the baseline"

"$H" policy "$tmp/deep.yaml" "$DEPTH"
if [ "$(id -u)" != 0 ]; then
	echo "bench hostile-policy: SKIPPED (aicert-trace checks for root before it reads -p)"
else
	make --no-print-directory BUILD="$BUILD" "$BUILD/aicert-trace" >&2
	measure "hostile-policy-$DEPTH-levels" 1 125 "$BUILD/aicert-trace" -q --no-tpm --no-cache \
		-p "$tmp/deep.yaml" -o "$tmp/never" -- true
fi
