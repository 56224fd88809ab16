#!/bin/bash
# aicert-verify against real bundles and their forgeries. Two runs of the real aicert-trace on a
# swtpm share one host log (--state-dir), so the second bundle carries the first run's records
# redacted; a third run, after the forgeries that re-quote the second bundle, binds a nonce. Every forgery must be rejected by the right
# check with its exit code (docs/verify.md):
#   - as a tamperer without the AK leaves it: the manifest (2), or the quote (3) when the
#     manifest is rewritten to match;
#   - "resealed" as an attacker holding the TPM could: manifest rewritten and the bundle quoted
#     again with the AK (tpm2_quote), so the deeper check (event log 5, bom 7) must catch it.
# IMA is off on this host, so the ima.bin cases run on a generated bundle (software AK, a real
# IMA list from tests/fixtures/ima). The byte surgery is tests/unit/test_verify.c's, built
# with -DVERIFY_GEN_ONLY.
. "$(dirname "$0")/../lib/common.sh"
V=$B/aicert-verify
need_root "needs root to trace (BPF)"
need_built aicert-trace aicert-verify libaicert.a
need_cmd tpm2_quote "tpm2-tools not installed"
need_cmd openssl

W=$(mktemp -d /tmp/aicert-verify-tamper.XXXXXX)
trap 'rm -rf "$W"' EXIT
need_swtpm

GEN=$W/gen
build_tamperer "$GEN"

trace() { # OUT [options]
	local out=$1
	shift
	"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint \
		--state-dir "$W/state" -o "$out" "$@" -- \
		sh -c "cat '$W/input.txt' > /dev/null; echo x > '$W/out-$(basename "$out").bin'" \
		> "$W/trace-$(basename "$out").log" 2>&1
}
echo "training data" > "$W/input.txt"
for run in run1 run2; do
	if ! trace "$W/$run"; then
		nok "aicert-trace makes an attested bundle ($run)" "$(tail -1 "$W/trace-$run.log")"
		exit 1
	fi
done
GOOD=$W/run2
AK=$GOOD/ak.pub.pem
[ -f "$GOOD/quote.msg" ] || { nok "the bundle is attested" "no quote.msg in $GOOD"; exit 1; }
SEL=$(/usr/bin/python3 - "$GOOD/quote.msg" << 'EOF'
import sys
# TPMS_ATTEST: magic(4) type(2) signer(2+n) extra(2+n) clock(17) fw(8) pcrSelect(count(4) ...)
b = open(sys.argv[1], "rb").read()
o = 6
for _ in range(2):
    o += 2 + int.from_bytes(b[o:o + 2], "big")
o += 17 + 8
count = int.from_bytes(b[o:o + 4], "big"); o += 4
banks = []
for _ in range(count):
    alg = int.from_bytes(b[o:o + 2], "big"); n = b[o + 2]; sel = b[o + 3:o + 3 + n]; o += 3 + n
    pcrs = [str(8 * i + j) for i in range(n) for j in range(8) if sel[i] >> j & 1]
    banks.append({0x0b: "sha256", 0x04: "sha1"}.get(alg, hex(alg)) + ":" + ",".join(pcrs))
print("+".join(banks))
EOF
)
AKH=0x81010020 # aicert's AK (userspace/trace/tpm.h TPM_AK_HANDLE_DEFAULT)

# expect NAME WANT_EXIT CHECK BUNDLE [aicert-verify options]: exit code and the FAIL line
expect() {
	local name=$1 want=$2 check=$3 dir=$4 rc out
	shift 4
	out=$("$V" "$dir" "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		nok "$name" "exit $rc, expected $want: $(grep -m1 '^FAIL' <<< "$out")"
	elif [ "$want" = 0 ]; then
		ok "$name"
	elif ! grep -q "^FAIL $check: " <<< "$out"; then
		nok "$name" "exit $rc but no 'FAIL $check' line"
	else
		ok "$name (exit $rc: $(grep -m1 "^FAIL $check: " <<< "$out" | cut -c1-110))"
	fi
}
copy() { rm -rf "$W/t" && cp -a "$GOOD" "$W/t"; }
# the attacker with the TPM: quote the new binding with the AK, rewrite the manifest
reseal() { # DIR [selection]
	local q
	q=$("$GEN" --binding "$1") || return 1
	tpm2_quote -c "$AKH" -l "${2:-$SEL}" -q "$q" -g sha256 -m "$1/quote.msg" -s "$1/quote.sig" \
		> /dev/null 2>> "$W/tpm.err" || return 1
	"$GEN" --manifest "$1"
}

expect "good bundle verifies with --ak ak.pub.pem ($SEL)" 0 - "$GOOD" --ak "$AK"
expect "good bundle verifies with --weights of its output" 0 - "$GOOD" --ak "$AK" \
	--weights "$W/out-run2.bin"
expect "without --ak or --ca the AK is not authenticated" 4 ak "$GOOD"
# tpm2_quote's own output must pass as well: the reseal path is sound
copy
reseal "$W/t" && expect "good bundle re-quoted with tpm2_quote verifies" 0 - "$W/t" --ak "$AK"

for c in flip delete reorder duplicate append truncate redacted-digest redacted-content \
	redact-own renumber; do
	copy
	"$GEN" --tamper-log "$W/t" "$c"
	expect "events.cel $c: manifest" 2 manifest "$W/t" --ak "$AK"
	reseal "$W/t" || { nok "reseal after $c" "$(tail -1 "$W/tpm.err")"; continue; }
	expect "events.cel $c, resealed: eventlog" 5 eventlog "$W/t" --ak "$AK"
done
for c in digest add remove role run-id exit lost; do
	copy
	"$GEN" --tamper-bom "$W/t" "$c"
	expect "bom.json $c: manifest" 2 manifest "$W/t" --ak "$AK"
	reseal "$W/t" || { nok "reseal after bom $c" "$(tail -1 "$W/tpm.err")"; continue; }
	expect "bom.json $c, resealed: bom" 7 bom "$W/t" --ak "$AK"
done

copy
cp "$W/run1/quote.msg" "$W/run1/quote.sig" "$W/t/"
"$GEN" --manifest "$W/t"
expect "a quote from another run" 3 quote "$W/t" --ak "$AK"

openssl ecparam -name prime256v1 -genkey -noout -out "$W/other.key" 2> /dev/null &&
	openssl ec -in "$W/other.key" -pubout -out "$W/other.pem" 2> /dev/null
expect "another AK (--ak other)" 4 ak "$GOOD" --ak "$W/other.pem"

# --ca: an AK certificate from a test CA (the swtpm has none in NV), with an AK's profile
# (not a CA, digitalSignature, EKU tcg-kp-AIKCertificate); the profile's forgeries are in 45
ca() { # NAME: a self-signed CA in $W/NAME.{key,pem}
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=aicert test $1" -keyout "$W/$1.key" -out "$W/$1.pem" 2> /dev/null
}
copy
if ca ca && ca otherca && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-nodes -subj "/CN=aicert AK" -keyout "$W/csr.key" -out "$W/ak.csr" 2> /dev/null &&
	printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
		extendedKeyUsage=2.23.133.8.3 > "$W/ak.ext" &&
	openssl x509 -req -in "$W/ak.csr" -force_pubkey "$AK" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
		-CAcreateserial -days 1 -extfile "$W/ak.ext" -out "$W/t/ak.cert.pem" 2> /dev/null; then
	"$GEN" --manifest "$W/t" # ak.cert.pem is evidence, not in the binding
	expect "AK certificate chains to --ca" 0 - "$W/t" --ca "$W/ca.pem"
	expect "AK certificate and --ak together" 0 - "$W/t" --ca "$W/ca.pem" --ak "$AK"
	expect "AK certificate from another CA" 4 ak "$W/t" --ca "$W/otherca.pem"
	expect "--ca without ak.cert.pem" 4 ak "$GOOD" --ca "$W/ca.pem"
else
	nok "make a test CA and AK certificate with openssl" "openssl failed"
fi

copy
/usr/bin/python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-5]^=1; open(p,"wb").write(b)' \
	"$W/t/quote.sig"
"$GEN" --manifest "$W/t"
expect "a corrupted signature" 3 quote "$W/t" --ak "$AK"

copy
reseal "$W/t" "sha256:15,16" && expect "a quote over another PCR selection" 3 quote "$W/t" --ak "$AK"
copy
"$GEN" --manifest-pcr "$W/t" 16
expect "PCR index changed in the manifest" 3 quote "$W/t" --ak "$AK"

# a third run extends PCR 15: from here on, run2 cannot be re-quoted
NONCE=00112233445566778899aabbccddeeff
if trace "$W/run3" --nonce "$NONCE"; then
	expect "nonce bundle verifies with its --nonce" 0 - "$W/run3" --ak "$AK" --nonce "$NONCE"
	expect "a wrong nonce" 3 quote "$W/run3" --ak "$AK" --nonce "ff${NONCE#??}"
	expect "a nonce bundle checked without --nonce still binds the manifest's nonce" 0 - \
		"$W/run3" --ak "$AK"
else
	nok "aicert-trace --nonce" "$(tail -1 "$W/trace-run3.log")"
fi
expect "a nonce the bundle was not made with" 3 quote "$GOOD" --ak "$AK" --nonce "$NONCE"

echo "other weights" > "$W/fake.bin"
expect "substituted weights" 8 weights "$GOOD" --ak "$AK" --weights "$W/fake.bin"

# ima.bin cases: generated bundle, software AK, a real list and its quoted PCR 10
IMA=tests/fixtures/ima/ima-ng-sha256
"$GEN" "$W/g" 50 10 --ima "$IMA" || nok "generate a bundle with ima.bin" "gen failed"
expect "generated bundle with ima.bin verifies" 0 - "$W/g" --ak "$W/g/ak.pub.pem"
rm -rf "$W/t" && cp -a "$W/g" "$W/t"
cp tests/fixtures/ima/ima-ng-sha1/binary_after "$W/t/ima.bin"
expect "ima.bin from another boot: manifest" 2 manifest "$W/t" --ak "$W/g/ak.pub.pem"
"$GEN" --manifest "$W/t" # ima.bin is not in the binding: no AK needed to get this far
expect "ima.bin from another boot, manifest rewritten: ima" 6 ima "$W/t" --ak "$W/g/ak.pub.pem"

rm -rf "$W/u"
"$GEN" "$W/u" 5 5 --unattested
expect "an unattested (--no-tpm) bundle: UNATTESTED" 10 quote "$W/u" --ak "$W/g/ak.pub.pem"
"$GEN" "$W/l" 5 5 --lost 3
expect "a run that lost events: incomplete" 9 complete "$W/l" --ak "$W/l/ak.pub.pem"

[ "$fails" = 0 ]
