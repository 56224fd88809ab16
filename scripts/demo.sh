#!/bin/bash
# scripts/demo.sh - `make demo`: trace examples/train.py (a small, real PyTorch training on the
# breast-cancer data set that Debian's python3-sklearn ships), then show and verify the bundle.
# Uses the machine's TPM (/dev/tpmrm0 or $TPM2TOOLS_TCTI) when there is one; otherwise starts a
# software TPM (swtpm) for the demo and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${AICERT_BUILD:-$PWD/build}
[ "$(id -u)" = 0 ] || { echo "demo: run as root: sudo make demo" >&2; exit 1; }
D=${DEMO_DIR:-$PWD/demo}
out=$D/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
TPM_OPTS=()
if [ -n "${TPM2TOOLS_TCTI:-}" ] || [ -c /dev/tpmrm0 ]; then
	echo "demo: using the machine's TPM (${TPM2TOOLS_TCTI:-device:/dev/tpmrm0})"
else
	. tests/lib/swtpm.sh
	swtpm_start > /dev/null || { echo "demo: cannot start swtpm" >&2; exit 1; }
	echo "demo: no hardware TPM here: started a software TPM (swtpm, $AICERT_TCTI) for the demo"
	TPM_OPTS=(--tcti "$AICERT_TCTI" --state-dir "$out/state")
fi
echo "demo: tracing: python3 examples/train.py --out $out/weights"
set +e
# the demo's hash cache lives in its own directory, not in the machine's /var/lib/aicert
"$B/aicert-trace" -o "$out/bundle" --cache "$D/cache" "${TPM_OPTS[@]}" -- \
	/usr/bin/python3 examples/train.py --out "$out/weights"
rc=$?
set -e
[ $rc = 0 ] || { echo "demo: the traced training failed (exit $rc)" >&2; exit $rc; }
echo
if [ -x "$B/aicert" ]; then
	"$B/aicert" show "$out/bundle"
else
	/usr/bin/python3 tests/lib/bomq.py "$out/bundle" | grep -E 'output|\.csv|train\.py' || true
fi
echo
echo "demo: model.pt's sha256 (sha256sum): $(sha256sum "$out/weights/model.pt" | cut -c1-64)"
if [ -x "$B/aicert-verify" ]; then
	echo "demo: verifying the bundle offline, the AK pinned to the bundle's own ak.pub.pem:"
	"$B/aicert-verify" "$out/bundle" --ak "$out/bundle/ak.pub.pem" \
		--weights "$out/weights/model.pt"
fi
q=$(sed -n 's/.*"qualifying_data": "\([0-9a-f]*\)".*/\1/p' "$out/bundle/manifest.json")
if [ -f "$out/bundle/quote.msg" ]; then
	echo "demo: cross-check with tpm2-tools:"
	tpm2_checkquote -u "$out/bundle/ak.pub.pem" -m "$out/bundle/quote.msg" \
		-s "$out/bundle/quote.sig" -q "$q" -g sha256 > /dev/null &&
		echo "  tpm2_checkquote: the quote is valid for qualifying data $q"
fi
echo "demo: done. Bundle: $out/bundle"
