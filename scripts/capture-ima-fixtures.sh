#!/bin/bash
# capture-ima-fixtures.sh - capture golden IMA measurement lists from a real kernel.
#
#   scripts/capture-ima-fixtures.sh [NAME...]      (default: every configuration below)
#
# Boots the shared qemu harness (/work/shared/tools/run-in-vm.sh: Debian 6.1, swtpm TPM 2.0)
# once per configuration and saves, per configuration, under tests/fixtures/ima/NAME/:
#   binary_runtime_measurements, ascii_runtime_measurements   read back to back
#   pcr10.sha1, pcr10.sha256   tpm2_pcrread right after the copies (hex, one line)
#   binary_after, ascii_after  the lists again after tpm2_pcrread (whose own exec and libraries
#                              IMA measured first), so the PCR matches a prefix of binary_after
#   cmdline, ima-dmesg          the kernel command line and IMA's boot messages, as evidence
#
# Why a modified copy of the harness: the kernel keeps the FIRST ima_template=, ima_template_fmt=
# and ima_hash= on the command line (template_setup_done / hash_setup_done in ima_template.c and
# ima_main.c), and the harness already passes "ima_hash=sha256 ima_template=ima-ng" before
# VMH_APPEND. So the script removes those two words from a private copy of the harness (own VMH
# cache directory, reusing the shared kernel) and passes its own through VMH_APPEND.
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-/work/shared/tools/run-in-vm.sh}
DEST=${DEST:-tests/fixtures/ima}
NAMES=${NAMES:-/tmp/aicert-ima-names} # odd file names, on the shared root (9p is measured)
VMDIR=${VMDIR:-/tmp/vmh-aicert-ima}

declare -A CONF=(
	[ima-ng-sha256]="ima_template=ima-ng ima_hash=sha256"
	[ima-ng-sha1]="ima_template=ima-ng ima_hash=sha1"
	[ima-sig-sha256]="ima_template=ima-sig ima_hash=sha256"
	[ima-sha1]="ima_template=ima ima_hash=sha1"
	[custom-sha256]="ima_template_fmt=d-ng|n-ng|sig|iuid|igid|imode ima_hash=sha256"
	[ima-ng-canonical]="ima_template=ima-ng ima_hash=sha256 ima_canonical_fmt"
)

[ -x "$HARNESS" ] || { echo "SKIPPED: no VM harness at $HARNESS"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "capture-ima-fixtures: must run as root" >&2; exit 1; }

mkdir -p "$VMDIR/build"
[ -d /tmp/vmh/kernel ] && [ ! -e "$VMDIR/kernel" ] && ln -s /tmp/vmh/kernel "$VMDIR/kernel"
for f in /tmp/vmh/build/vmlinux-*; do
	[ -f "$f" ] && [ ! -e "$VMDIR/build/${f##*/}" ] && ln -s "$f" "$VMDIR/build/${f##*/}"
done
grep -q ' ima_hash=sha256 ima_template=ima-ng ' "$HARNESS" ||
	{ echo "capture-ima-fixtures: harness arguments changed; update the sed below" >&2; exit 1; }
sed 's/ ima_hash=sha256 ima_template=ima-ng / /' "$HARNESS" > "$VMDIR/run-in-vm.sh"

# Files the guest reads as root (tcb: FILE_CHECK uid=0), so their names land in the list.
# A space is recorded as '_' by the kernel; a newline is printed raw in the ASCII list.
rm -rf "$NAMES" && mkdir -p "$NAMES"
echo space > "$NAMES/with space.txt"
echo newline > "$NAMES/new"$'\n'"line.txt"
echo signed > "$NAMES/signed.txt"
# (A security.ima xattr set here does not reach the guest through the harness's 9p share, so
# the captured ima-sig "sig" fields are empty; unit tests cover non-empty ones synthetically.)

GUEST=$(cat <<GUESTCMD
set -e
I=/sys/kernel/security/ima
O=\$VMH_OUT
cat /proc/cmdline > \$O/cmdline
cat "$NAMES/with space.txt" "$NAMES/new
line.txt" "$NAMES/signed.txt" > /dev/null
cat \$I/ascii_runtime_measurements > /dev/null
cat \$I/binary_runtime_measurements > \$O/binary_runtime_measurements
cat \$I/ascii_runtime_measurements > \$O/ascii_runtime_measurements
TPM2TOOLS_TCTI=device:/dev/tpmrm0 tpm2_pcrread sha1:10+sha256:10 > \$O/pcrread.txt
cat \$I/binary_runtime_measurements > \$O/binary_after
cat \$I/ascii_runtime_measurements > \$O/ascii_after
dmesg | grep -i ima > \$O/ima-dmesg || true
GUESTCMD
)

pcr() { # bank file
	awk -v b="  $1:" '$0 == b {f = 1; next} /^  [a-z0-9]*:$/ {f = 0} f && /10 *:/ {
		sub(/.*0x/, ""); print tolower($0)}' "$2"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(ima-ng-sha256 ima-ng-sha1 ima-sig-sha256 ima-sha1 custom-sha256 ima-ng-canonical)
for n in "${names[@]}"; do
	[ -n "${CONF[$n]:-}" ] || { echo "capture-ima-fixtures: unknown configuration $n" >&2; exit 2; }
	echo "== $n: ${CONF[$n]}"
	log=$(mktemp)
	if ! VMH=$VMDIR VMH_APPEND="${CONF[$n]}" bash "$VMDIR/run-in-vm.sh" "$GUEST" > "$log" 2>&1; then
		tail -30 "$log"
		exit 1
	fi
	out=$(sed -n 's/^run dir: \([^ ]*\) .*/\1/p' "$log")/out
	rm -f "$log"
	d=$DEST/$n
	mkdir -p "$d"
	for f in binary_runtime_measurements ascii_runtime_measurements binary_after ascii_after \
		cmdline ima-dmesg; do
		cp "$out/$f" "$d/$f"
	done
	pcr sha1 "$out/pcrread.txt" > "$d/pcr10.sha1"
	pcr sha256 "$out/pcrread.txt" > "$d/pcr10.sha256"
	[ -s "$d/pcr10.sha1" ] && [ -s "$d/pcr10.sha256" ] ||
		{ echo "capture-ima-fixtures: no PCR 10 in $out/pcrread.txt" >&2; exit 1; }
	echo "   $(wc -l < "$d/ascii_runtime_measurements") entries," \
		"$(wc -c < "$d/binary_runtime_measurements") bytes, after: $(wc -l < "$d/ascii_after")"
done
