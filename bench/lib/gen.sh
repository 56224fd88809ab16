# bench/lib/gen.sh - sourced by the benchmarks: the bundle generators, built against $BUILD.
#   gen_build verify-gen|hostile-gen   -> $BUILD/bench/NAME
# verify-gen is tests/unit/test_verify.c with -DVERIFY_GEN_ONLY: bundles written with libaicert
# and quoted by a software ECDSA key standing in for the TPM's AK, in the TPM's encoding (MU);
# hostile-gen (bench/hostile-gen.c) turns one into a hostile input.
gen_build() {
	local src
	case $1 in
	verify-gen) src=(-DVERIFY_GEN_ONLY tests/unit/test_verify.c) ;;
	hostile-gen) src=(bench/hostile-gen.c) ;;
	*) echo "gen_build: unknown generator $1" >&2; return 1 ;;
	esac
	make --no-print-directory BUILD="$BUILD" "$BUILD/libaicert.a" "$BUILD/aicert-verify" >&2 &&
		mkdir -p "$BUILD/bench" &&
		# shellcheck disable=SC2046
		${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
			-Iinclude -Iuserspace -o "$BUILD/bench/$1" "${src[@]}" "$BUILD/libaicert.a" \
			$(pkg-config --libs openssl jansson yaml-0.1 tss2-mu) -lpthread
}
