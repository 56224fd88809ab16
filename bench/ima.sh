#!/bin/bash
# bench/ima.sh - parse + replay a generated 100,000-entry ima-ng list (target < 1 s).
#   BUILD=build bench/ima.sh [ENTRIES]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make --no-print-directory BUILD="$BUILD" "$BUILD/libaicert.a" >&2
mkdir -p "$BUILD/bench"
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iuserspace \
	-o "$BUILD/bench/ima-bench" bench/ima-bench.c "$BUILD/libaicert.a" \
	$(pkg-config --libs openssl)
tmp=$(mktemp /tmp/aicert-ima-bench.XXXXXX)
trap 'rm -f "$tmp"' EXIT
"$BUILD/bench/ima-bench" "${1:-100000}" "$tmp"
