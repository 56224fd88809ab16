#!/bin/bash
# In the VM (Debian's 6.1 kernel: BPF LSM, IMA ima_policy=tcb into PCR 10, a TPM behind the
# kernel's resource manager): a bundle made there by aicert-trace --backend lsm with the default
# TCTI (device:/dev/tpmrm0) verifies with aicert-verify (every check PASS, the IMA check on a
# real ima.bin) and tpm2_checkquote; then forgeries on copies of it, made in the guest, are each
# rejected with their documented exit code (docs/verify.md):
#   - a flipped byte in events.cel: manifest (2); resealed by an attacker holding the TPM (the
#     binding re-quoted with the AK, ima.bin re-read, manifest rewritten): eventlog (5)
#   - ima.bin replaced by a list from another boot (tests/fixtures/ima): manifest (2); with the
#     manifest rewritten (ima.bin is not in the binding, so no AK is needed): ima (6)
#   - a substituted weights file: weights (8)
#   - another AK (openssl): --ak other.pem: ak (4); the bundle's ak.pub.pem swapped for it as
#     well (manifest rewritten): quote (3)
# The traced script and data are made on the host under /var/tmp (the real root, shared into the
# guest), because IMA's tcb policy does not measure tmpfs. The manifest surgery is
# tests/unit/test_verify.c built with -DVERIFY_GEN_ONLY (as tests/integration/40-verify-tamper.sh).
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicert-trace aicert-verify libaicert.a
need_cmd tpm2_checkquote "tpm2-tools not installed"
need_cmd openssl
W=$(mktemp -d /var/tmp/aicert-verify.XXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
head -c 4096 /dev/urandom > "$W/data.bin"
cat > "$W/train.py" << 'PY'
import hashlib, os, sys
with open(sys.argv[1], "rb") as f:
    data = f.read()
os.makedirs("/run/tmp/out", exist_ok=True)
with open("/run/tmp/out/model.bin.tmp", "wb") as f:
    f.write(hashlib.sha256(data).digest() + data[::-1])
os.rename("/run/tmp/out/model.bin.tmp", "/run/tmp/out/model.bin")
PY
build_tamperer "$W/gen"

cat > "$W/guest.sh" << 'SH'
B=$1; W=$2; G=$W/gen; O=/run/tmp; D=$O/b; AKH=0x81010020
V="$B/aicert-verify"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1: $2"; fails=$((fails + 1)); }
# expect NAME WANT CHECK DIR [options]: exit code and the FAIL line of CHECK
expect() {
	local name=$1 want=$2 check=$3 dir=$4 rc out
	shift 4
	out=$("$V" "$dir" "$@" 2>&1); rc=$?
	if [ "$rc" != "$want" ]; then
		nok "$name" "exit $rc, expected $want: $(grep -m1 '^FAIL' <<< "$out")"
	elif ! grep -q "^FAIL $check: " <<< "$out"; then
		nok "$name" "exit $rc but no 'FAIL $check' line"
	else
		ok "$name (exit $rc: $(grep -m1 "^FAIL $check: " <<< "$out" | cut -c1-100))"
	fi
}
flip() { # FILE OFFSET: xor one byte with 1
	local b
	b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null
}
copy() { rm -rf $O/t && cp -a $D $O/t; }
unset TPM2TOOLS_TCTI TCTI TSS2_TCTI
[ -c /dev/tpmrm0 ] || { nok "the guest has /dev/tpmrm0" "absent"; exit 1; }

"$B/aicert-trace" --backend lsm -o $D -- /usr/bin/python3 "$W/train.py" "$W/data.bin" \
	> $O/trace.out 2> $O/trace.err
rc=$?
if [ $rc = 0 ] && [ -f $D/manifest.json ] && [ -f $O/out/model.bin ]; then
	ok "aicert-trace --backend lsm, default TCTI: bundle and model.bin written"
else
	nok "aicert-trace --backend lsm, default TCTI" "rc=$rc: $(tail -3 $O/trace.err | tr '\n' ' ')"
	exit 1
fi
[ -s $D/ima.bin ] && ok "ima.bin is in the bundle ($(stat -c %s $D/ima.bin) bytes)" ||
	nok "ima.bin is in the bundle" "absent or empty"

out=$("$V" $D --ak $D/ak.pub.pem --weights $O/out/model.bin 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
[ $rc = 0 ] && ok "aicert-verify --ak ak.pub.pem --weights model.bin exits 0" ||
	nok "aicert-verify --ak ak.pub.pem --weights model.bin exits 0" "exit $rc"
for c in manifest quote ak eventlog ima bom weights complete; do
	if grep -q "^PASS $c: " <<< "$out"; then ok "check $c: PASS"
	else nok "check $c: PASS" "$(grep -m1 "^[A-Z]* $c" <<< "$out")"; fi
done
grep -q '^FAIL' <<< "$out" && nok "no FAIL line" "$(grep -m1 '^FAIL' <<< "$out")"

export TPM2TOOLS_TCTI=device:/dev/tpmrm0
q=$(sed -n 's/.*"qualifying_data": *"\([0-9a-f]*\)".*/\1/p' $D/manifest.json)
pcr=$(sed -n 's/.*"pcr": *\([0-9]*\).*/\1/p' $D/manifest.json)
if out=$(tpm2_checkquote -u $D/ak.pub.pem -m $D/quote.msg -s $D/quote.sig -q "$q" -g sha256 2>&1)
then ok "tpm2_checkquote accepts the quote (-q qualifying_data)"
else nok "tpm2_checkquote accepts the quote" "$(tail -1 <<< "$out")"; fi

AK=$D/ak.pub.pem
copy
flip $O/t/events.cel $(($(stat -c %s $O/t/events.cel) / 2))
expect "events.cel byte flipped: manifest" 2 manifest $O/t --ak $AK
# the attacker holding the TPM: quote the new binding, re-read ima.bin, rewrite the manifest
if qn=$($G --binding $O/t) &&
	tpm2_quote -c $AKH -l sha256:10,$pcr -q "$qn" -g sha256 -m $O/t/quote.msg -s $O/t/quote.sig \
		> /dev/null 2> $O/quote.err &&
	cat /sys/kernel/security/ima/binary_runtime_measurements > $O/t/ima.bin && $G --manifest $O/t
then expect "events.cel byte flipped, resealed with the AK: eventlog" 5 eventlog $O/t --ak $AK
else nok "reseal with tpm2_quote -c $AKH" "$(tail -1 $O/quote.err)"; fi

copy
cp tests/fixtures/ima/ima-ng-sha256/binary_runtime_measurements $O/t/ima.bin
expect "ima.bin from another boot: manifest" 2 manifest $O/t --ak $AK
$G --manifest $O/t
expect "ima.bin from another boot, manifest rewritten: ima" 6 ima $O/t --ak $AK

cp $O/out/model.bin $O/fake.bin && flip $O/fake.bin 0
expect "substituted weights file" 8 weights $D --ak $AK --weights $O/fake.bin

openssl ecparam -name prime256v1 -genkey -noout -out $O/other.key 2> /dev/null &&
	openssl ec -in $O/other.key -pubout -out $O/other.pem 2> /dev/null
expect "another AK (--ak other.pem)" 4 ak $D --ak $O/other.pem
copy
cp $O/other.pem $O/t/ak.pub.pem && $G --manifest $O/t
expect "ak.pub.pem swapped for another AK, --ak other.pem: quote" 3 quote $O/t --ak $O/other.pem
[ $fails = 0 ]
SH

VMH_QUIET=${VMH_QUIET:-1} tests/vm/lib/vm.sh "cd $R && /bin/bash $W/guest.sh $B $W" 2> "$W/vm.err"
rc=$?
if [ $rc -ge 98 ]; then
	tail -20 "$W/vm.err"
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
exit $rc
