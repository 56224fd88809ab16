#!/bin/bash
# In the VM (Debian's 6.1 kernel with BPF LSM, IMA and a TPM behind the kernel's resource
# manager): a traced run with --backend lsm and the default TCTI (device:/dev/tpmrm0; no --tcti,
# no TCTI variables) gives a bundle whose events.cel replays (tests/lib/celreplay.py) to
# tpm2_pcrread and whose quote tpm2_checkquote accepts; ima.bin is there and bom.json has IMA
# results. IMA's own checks (PCR 10 replay, correlation) are tests/vm/30-ima-correlate.sh's.
# /var/lib is read-only in the guest: the host log goes to --state-dir /run/aicert-state.
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicert-trace
need_cmd tpm2_checkquote "tpm2-tools not installed"
W=$(mktemp -d /var/tmp/aicert-tpmvm.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
# on the real root (shared read-only into the guest), where IMA's tcb policy measures reads
head -c 4096 /dev/urandom > "$W/data.bin"

cat > "$W/guest.sh" <<'SH'
B=$1; W=$2; O=$VMH_OUT
CR="/usr/bin/python3 tests/lib/celreplay.py"
S=/run/aicert-state
ok() { echo "ok - $1${2:+ ($2)}"; }
nok() { echo "not ok - $1: $2"; }
check() {
	name=$1; shift
	if out=$("$@" 2>&1); then ok "$name" "$(echo "$out" | tail -1)"
	else nok "$name" "$(echo "$out" | tail -1)"; fi
}
unset TPM2TOOLS_TCTI TCTI TSS2_TCTI
[ -c /dev/tpmrm0 ] || { nok "the guest has /dev/tpmrm0" "absent"; exit 1; }
run() { # name: a traced run with the default TCTI
	env -u TPM2TOOLS_TCTI "$B/aicert-trace" --backend lsm --no-cache --state-dir $S \
		-o /run/tmp/$1 -- /usr/bin/python3 -c \
		"import sys; d = open(sys.argv[1], 'rb').read(); open('/run/tmp/$1.out', 'wb').write(d[::-1])" \
		"$W/data.bin" > $O/$1.out 2> $O/$1.err
	rc=$?
	cp -r /run/tmp/$1 $O/ 2> /dev/null
	if [ $rc = 0 ] && [ -f /run/tmp/$1/manifest.json ]; then
		ok "$1: aicert-trace --backend lsm with the default TCTI exits 0" \
			"$(grep -m1 'attested' $O/$1.err)"
	else
		nok "$1: aicert-trace --backend lsm with the default TCTI exits 0" \
			"rc=$rc: $(tail -3 $O/$1.err | tr '\n' ' ')"
		return 1
	fi
}
bundle() { # name
	d=/run/tmp/$1
	export TPM2TOOLS_TCTI=device:/dev/tpmrm0
	check "$1: events.cel replays to tpm2_pcrread sha1+sha256:15 (every bank)" \
		$CR tpm $d/events.cel
	q=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["qualifying_data"])' $d/manifest.json)
	if out=$(tpm2_checkquote -u $d/ak.pub.pem -m $d/quote.msg -s $d/quote.sig -q "$q" \
		-g sha256 2>&1); then
		ok "$1: tpm2_checkquote accepts the quote (-q qualifying_data)"
	else
		nok "$1: tpm2_checkquote accepts the quote (-q qualifying_data)" "$(echo "$out" | tail -1)"
	fi
	check "$1: the quote binds the bundle (qualifying data, PCR selection)" $CR quote $d
	check "$1: every hashed bom.json file is in the run's batch records" $CR bom $d
	if [ -s $d/ima.bin ]; then
		ok "$1: ima.bin is in the bundle" "$(stat -c %s $d/ima.bin) bytes"
	else
		nok "$1: ima.bin is in the bundle" "absent or empty"
	fi
	n=$(/usr/bin/python3 -c 'import json,sys
b = json.load(open(sys.argv[1]))
print(sum(1 for f in b["files"] if f.get("ima", "unavailable") != "unavailable"))' $d/bom.json)
	if [ "${n:-0}" -gt 0 ]; then
		ok "$1: bom.json has IMA results" "$n files with \"ima\" other than unavailable"
	else
		nok "$1: bom.json has IMA results" "every file is \"ima\": \"unavailable\""
	fi
	unset TPM2TOOLS_TCTI
}
run first && bundle first
# a second run on the same host log: it follows the chain the first one left
run second && bundle second
TPM2TOOLS_TCTI=device:/dev/tpmrm0 check "the host log replays to tpm2_pcrread" \
	$CR tpm $S/*/events.cel
SH

tests/vm/lib/vm.sh "cd $R && /bin/sh $W/guest.sh $B $W" 2> "$W/vm.err"
rc=$?
if [ $rc -ge 98 ]; then
	tail -20 "$W/vm.err"
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
exit $rc
