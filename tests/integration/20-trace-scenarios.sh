#!/bin/bash
# The scenario suite (tests/lib/scenarios.py) on the host with the tracepoint backend: the real
# aicert-trace on real commands, every digest compared with sha256sum.
. "$(dirname "$0")/../lib/common.sh"
need_root "needs root to load BPF programs"
need_built aicert-trace
W=$(mktemp -d /tmp/aicert-scen.XXXXXX)
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 tests/lib/scenarios.py --trace "$B/aicert-trace" --backend tracepoint \
	--workdir "$W/w"
