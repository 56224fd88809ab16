#!/bin/bash
# tests/lib/common.sh - what the integration and VM scripts share. Source it first thing:
#   . "$(dirname "$0")/../lib/common.sh"
# It turns on `set -u`, moves to the repository root and sets R (that root) and B (the build
# directory: $AICERT_BUILD, else ./build). The need_* checks print "SKIPPED: why" and exit 77
# (tests/run.sh's "skipped") when a prerequisite is missing; ok/nok print the check lines
# tests/run.sh reads and count the failures in $fails.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
R=$PWD
B=${AICERT_BUILD:-$PWD/build}
fails=0

skip() {
	echo "SKIPPED: $*"
	exit 77
}

need_root() { # why (root is needed)
	[ "$(id -u)" = 0 ] || skip "$1"
}

need_built() { # file... (programs must be executable)
	local f
	for f; do
		case $f in
		*.a) [ -e "$B/$f" ] ;;
		*) [ -x "$B/$f" ] ;;
		esac || skip "$B/$f not built"
	done
}

need_cmd() { # command [why]
	command -v "$1" > /dev/null || skip "${2:-$1 not installed}"
}

ok() { # name [detail]
	echo "ok - $1${2:+ ($2)}"
}

nok() { # name [reason]
	echo "not ok - $1${2:+: $2}"
	fails=$((fails + 1))
}

# swtpm_start (tests/lib/swtpm.sh), or the script ends: skipped without swtpm, failed when it
# does not start.
need_swtpm() {
	local rc
	. "$R/tests/lib/swtpm.sh"
	swtpm_start
	rc=$?
	[ $rc = 77 ] && exit 77
	[ $rc = 0 ] || {
		echo "not ok - swtpm starts"
		exit 1
	}
}

# build_tamperer OUT: tests/unit/test_verify.c built with -DVERIFY_GEN_ONLY (it makes and tampers
# with bundles) against $B/libaicert.a, or the script ends with "not ok" and cc's last line.
build_tamperer() {
	# shellcheck disable=SC2046
	if ! ${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -DVERIFY_GEN_ONLY -Iinclude -Iuserspace -o "$1" \
		tests/unit/test_verify.c "$B/libaicert.a" \
		$(pkg-config --libs openssl jansson yaml-0.1 tss2-mu) -lpthread 2> "$1.cc.err"; then
		echo "not ok - build the bundle tamperer: $(tail -1 "$1.cc.err")"
		exit 1
	fi
}
