#!/bin/bash
# The scenario suite (tests/lib/scenarios.py) on the host with the tracepoint backend: the real
# aicert-trace on real commands, every digest compared with sha256sum.
set -u
cd "$(dirname "$0")/../.."
B=${AICERT_BUILD:-$PWD/build}
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root to load BPF programs"; exit 77; }
[ -x "$B/aicert-trace" ] || { echo "SKIPPED: $B/aicert-trace not built"; exit 77; }
W=$(mktemp -d /tmp/aicert-scen.XXXXXX)
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 tests/lib/scenarios.py --trace "$B/aicert-trace" --backend tracepoint \
	--workdir "$W/w"
