# bench/lib/paired.sh - sourced by the benchmarks: A/B verdicts from runs taken in alternation.
#
# These machines are shared and noisy, and load drifts over a benchmark's minutes: medians of A
# and of B taken apart can disagree with what the runs taken side by side say. So each A run is
# followed by its B run, each pair gives the ratio B/A, and the verdict is the median of those
# ratios; their min and max are printed with it (the spread says how far to trust it).

# pair_ratios A... -- B...: the ratio B[i] / A[i] of each pair, one per line
pair_ratios() {
	local a=() b=() i
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	[ ${#b[@]} = ${#a[@]} ] || { echo "pair_ratios: ${#a[@]} A and ${#b[@]} B values" >&2; return 1; }
	for i in "${!a[@]}"; do
		awk -v a="${a[$i]}" -v b="${b[$i]}" 'BEGIN { printf "%.9g\n", b / a }'
	done
}

# pair_stats A... -- B...: "median min max n" of the pairs' ratios B/A
pair_stats() {
	pair_ratios "$@" | sort -g | awk '{ r[NR] = $1 } END {
		if (!NR) exit 1
		m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
		printf "%.9g %.9g %.9g %d\n", m, r[1], r[NR], NR }'
}

# median VALUE...: the median (the mean of the middle two for an even count)
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pair_verdict overhead|ratio NAME WHAT TARGET A... -- B...: one verdict line on the median of
# the pairs. overhead: A and B are costs (time), B's overhead over A in percent must be
# <= TARGET. ratio: A and B are rates, B/A must be >= TARGET.
pair_verdict() {
	local kind=$1 name=$2 what=$3 target=$4 a=() s
	shift 4
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	s=$(pair_stats "${a[@]}" -- "$@") || return 1
	awk -v kind="$kind" -v n="$name" -v w="$what" -v t="$target" -v s="$s" \
		-v am="$(median "${a[@]}")" -v bm="$(median "$@")" 'BEGIN {
		split(s, x, " ")
		if (kind == "overhead")
			printf "%s: %s, %d pairs: overhead %+.1f %% (median of the pairs; min %+.1f %%, max %+.1f %%; medians A %.4g, B %.4g) (target <= %s %%) %s\n",
				n, w, x[4], (x[1] - 1) * 100, (x[2] - 1) * 100, (x[3] - 1) * 100, am, bm, t,
				((x[1] - 1) * 100 <= t) ? "PASS" : "MISS"
		else
			printf "%s: %s, %d pairs: ratio %.2f (median of the pairs; min %.2f, max %.2f; medians A %.4g, B %.4g) (target >= %s) %s\n",
				n, w, x[4], x[1], x[2], x[3], am, bm, t, (x[1] >= t) ? "PASS" : "MISS" }'
}
