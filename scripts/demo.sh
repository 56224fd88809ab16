#!/bin/bash
# scripts/demo.sh - `make demo`: trace examples/train.py (a small real PyTorch training on a data
# set that Debian's python3-sklearn ships), then show and verify the bundle.
# Uses the machine's TPM when there is one; otherwise starts a software TPM (swtpm) for the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${AICERT_BUILD:-$PWD/build}
[ "$(id -u)" = 0 ] || { echo "demo: run as root: sudo make demo" >&2; exit 1; }
D=${DEMO_DIR:-$PWD/demo}
stamp=$(date +%Y%m%d-%H%M%S)
out=$D/run-$stamp
mkdir -p "$D"
TPM_OPTS=(--no-tpm)
echo "demo: tracing: python3 examples/train.py --out $out/weights"
set +e
"$B/aicert-trace" -o "$out/bundle" "${TPM_OPTS[@]}" -- \
	/usr/bin/python3 examples/train.py --out "$out/weights"
rc=$?
set -e
[ $rc = 0 ] || { echo "demo: the traced training failed (exit $rc)" >&2; exit $rc; }
echo
echo "demo: the bundle: $out/bundle"
ls -l "$out/bundle"
echo
echo "demo: what the run read and wrote (bom.json, data, code and outputs):"
/usr/bin/python3 tests/lib/bomq.py "$out/bundle" | grep -E 'output|\.csv|train\.py' || true
echo
echo "demo: model.pt's sha256 (sha256sum): $(sha256sum "$out/weights/model.pt" | cut -c1-64)"
echo "demo: done. Bundle: $out/bundle"
