#!/bin/bash
# Log quotes (trace/logquote.c, what `aicert quote` asks aicertd for) through the real
# aicert-verify. tests/unit/test_logquote --write makes one on a swtpm: a host log with the
# asker's run in clear, another run redacted and a run still going, quoted for a fresh nonce.
# Checked independently of the C code: events.cel's sha256sum is the manifest's, the
# aicert-binding/v1 with its "kind log-quote" line recomputed here (Python hashlib) is the
# qualifying data, tpm2_checkquote accepts it, and the quote's PCR digest is
# sha256(PCR 10 = zero || the replay of events.cel by tests/lib/celreplay.py). Then each forgery
# must fail the right check with its exit code (docs/verify.md): no --nonce or another one (3),
# a byte of events.cel (2, then 3 with the manifest rewritten), bom.json added (2), the kind
# edited (2), --weights (8), and a run's bundle relabelled a log quote (2 with bom.json, 3
# without it and with a manifest rewritten as a log quote's).
. "$(dirname "$0")/../lib/common.sh"
V=$B/aicert-verify
CR="/usr/bin/python3 tests/lib/celreplay.py"
need_built aicert-verify tests/test_logquote libaicert.a
need_cmd tpm2_checkquote "tpm2-tools not installed"
need_cmd tpm2_print "tpm2-tools not installed"

W=$(mktemp -d /tmp/aicert-verify-quote.XXXXXX)
trap 'rm -rf "$W"' EXIT
NONCE=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
OTHER=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
Q=$W/q

"$B/tests/test_logquote" --write "$Q" "$NONCE" > "$W/write.log" 2>&1
rc=$?
[ $rc = 77 ] || grep -q '^SKIPPED' "$W/write.log" && skip "$(grep -m1 '^SKIPPED' "$W/write.log")"
if [ $rc != 0 ] || [ ! -f "$Q/manifest.json" ]; then
	nok "test_logquote --write makes a log quote" "$(grep -m1 -i 'error\|fail' "$W/write.log")"
	exit 1
fi
ok "test_logquote --write makes a log quote" "$(ls "$Q" | tr '\n' ' ')"

# binding DIR NONCE [kind]: aicert-binding/v1 of DIR's files as lib/manifest.h documents it
binding() {
	/usr/bin/python3 - "$@" << 'EOF'
import hashlib, os, sys
d, nonce = sys.argv[1], sys.argv[2]
kind = sys.argv[3] if len(sys.argv) > 3 else "log-quote"
unbound = {"quote.msg", "quote.sig", "ak.pub.pem", "ak.cert.pem", "ima.bin", "manifest.json"}
t = b"aicert-binding/v1\n" + (b"kind log-quote\n" if kind == "log-quote" else b"")
for n in sorted(os.listdir(d), key=lambda s: s.encode()):
    if n not in unbound:
        t += b"%s %s\n" % (n.encode(), hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest().encode())
t += b"pcr 15\nnonce %s\n" % nonce.encode()
print(hashlib.sha256(t).hexdigest())
EOF
}
mfield() { /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print(v if v is not None else "")' "$1/manifest.json" "$2"; }
# relabel DIR NONCE: manifest.json rewritten as a log quote's (independently of manifest.c)
relabel() {
	/usr/bin/python3 - "$1" "$2" "$(binding "$1" "$2")" "$(mfield "$Q" qualifying_data_of)" << 'EOF'
import hashlib, json, os, sys
d, nonce, qd, text = sys.argv[1:5]
files = []
for n in sorted(os.listdir(d), key=lambda s: s.encode()):
    if n != "manifest.json":
        b = open(os.path.join(d, n), "rb").read()
        files.append({"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)})
m = {"schema": "aicert.manifest/v1", "files": files, "pcr": 15, "pcr_bank": "sha256",
     "qualifying_data": qd, "qualifying_data_of": text, "nonce": nonce, "kind": "log-quote"}
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(m, indent=2) + "\n")
EOF
}
# expect NAME CODE CHECK WORDS DIR [aicert-verify options]: exit CODE, CHECK fails saying WORDS
expect() {
	local name=$1 code=$2 check=$3 words=$4 dir=$5 out rc
	shift 5
	out=$("$V" "$dir" --ak "$Q/ak.pub.pem" "$@" 2>&1)
	rc=$?
	if [ $rc = "$code" ] && grep -q "^FAIL $check: .*$words" <<< "$out"; then
		ok "$name" "exit $rc, $(grep -m1 "^FAIL $check" <<< "$out" | cut -c1-100)"
	else
		nok "$name" "exit $rc (want $code), $(grep -m1 "^FAIL" <<< "$out" | cut -c1-160)"
	fi
}

# ---- the genuine log quote ----
out=$("$V" "$Q" --ak "$Q/ak.pub.pem" --nonce "$NONCE" 2>&1)
rc=$?
if [ $rc = 0 ] && [ "$(head -1 <<< "$out")" = "log quote: the host's event log as quoted for a challenge (not a run bundle)" ] &&
	[ "$(grep -c '^N/A  \(bom\|weights\|complete\): not applicable: log quote$' <<< "$out")" = 3 ] &&
	[ "$(grep -c '^PASS' <<< "$out")" = 5 ]; then
	ok "aicert-verify --nonce verifies the log quote" "$(tail -1 <<< "$out")"
else
	nok "aicert-verify --nonce verifies the log quote" "exit $rc: $(grep -m1 -v '^PASS\|^N/A\|^log quote' <<< "$out")"
fi
if "$V" "$Q" --ak "$Q/ak.pub.pem" --nonce "$NONCE" --json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert list(r)[0] == "kind" and r["kind"] == "log-quote", list(r)
na = [c["name"] for c in r["checks"] if c.get("applicable") is False]
assert na == ["bom", "weights", "complete"], na
assert all(c["ok"] for c in r["checks"]) and r["exit_code"] == 0 and r["verdict"] == "verified"'; then
	ok "--json: first key kind log-quote, bom/weights/complete not applicable"
else
	nok "--json: first key kind log-quote, bom/weights/complete not applicable"
fi
[ ! -e "$Q/bom.json" ] && [ "$(mfield "$Q" kind)" = log-quote ] && [ "$(mfield "$Q" nonce)" = "$NONCE" ] &&
	ok "no bom.json; manifest kind log-quote with the nonce" ||
	nok "no bom.json; manifest kind log-quote with the nonce" "$(ls "$Q" | tr '\n' ' ')"
want=$(/usr/bin/python3 -c 'import json,sys
print([f["sha256"] for f in json.load(open(sys.argv[1]))["files"] if f["name"] == "events.cel"][0])' "$Q/manifest.json")
[ "$(sha256sum < "$Q/events.cel" | cut -d' ' -f1)" = "$want" ] &&
	ok "events.cel: sha256sum is the manifest's" || nok "events.cel: sha256sum is the manifest's" "$want"
QD=$(mfield "$Q" qualifying_data)
[ "$(binding "$Q" "$NONCE")" = "$QD" ] &&
	ok "qualifying_data == aicert-binding/v1 with kind log-quote, recomputed in Python" ||
	nok "qualifying_data == aicert-binding/v1 with kind log-quote, recomputed in Python" "$QD"
[ "$(binding "$Q" "$NONCE" bundle)" != "$QD" ] &&
	ok "the same files as a bundle bind to another value (the kind line)" ||
	nok "the same files as a bundle bind to another value (the kind line)"
if tpm2_checkquote -u "$Q/ak.pub.pem" -m "$Q/quote.msg" -s "$Q/quote.sig" -q "$QD" -g sha256 > /dev/null 2>&1; then
	ok "tpm2_checkquote accepts it (-q qualifying_data)"
else
	nok "tpm2_checkquote accepts it (-q qualifying_data)"
fi
if tpm2_checkquote -u "$Q/ak.pub.pem" -m "$Q/quote.msg" -s "$Q/quote.sig" -q "$(binding "$Q" "$OTHER")" \
	-g sha256 > /dev/null 2>&1; then
	nok "tpm2_checkquote rejects the binding of another nonce"
else
	ok "tpm2_checkquote rejects the binding of another nonce"
fi
# the quoted PCR digest: sha256(PCR 10 (zero: IMA is off here) || replay of PCR 15)
replay=$($CR dump "$Q/events.cel" | /usr/bin/python3 -c 'import json,sys
r = json.load(sys.stdin)["replay"]
print(r["sha256"] if isinstance(r, dict) and "sha256" in r else r)' 2> /dev/null)
digest=$(tpm2_print -t TPMS_ATTEST "$Q/quote.msg" | sed -n 's/^ *pcrDigest: *//p')
calc=$(/usr/bin/python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes(32) + bytes.fromhex(sys.argv[1])).hexdigest())' "$replay" 2> /dev/null)
[ -n "$digest" ] && [ "$digest" = "$calc" ] &&
	ok "quoted pcrDigest == sha256(zero PCR 10 || celreplay.py's PCR 15)" "${digest:0:16}..." ||
	nok "quoted pcrDigest == sha256(zero PCR 10 || celreplay.py's PCR 15)" "quote $digest, replay $replay"

# ---- forgeries ----
expect "no --nonce: quote fails" 3 quote "give --nonce" "$Q"
expect "another --nonce: quote fails" 3 quote "another challenge" "$Q" --nonce "$OTHER"
expect "--weights: a log quote has no outputs" 8 weights "holds no run" "$Q" --nonce "$NONCE" --weights /etc/hostname

fresh() { rm -rf "$W/t" && cp -a "$Q" "$W/t"; }
fresh
printf Z | dd of="$W/t/events.cel" bs=1 seek=$(($(stat -c %s "$W/t/events.cel") - 3)) conv=notrunc status=none
expect "a byte of events.cel: manifest fails" 2 manifest "events.cel: sha256" "$W/t" --nonce "$NONCE"
relabel "$W/t" "$NONCE"
expect "... with the manifest rewritten: quote fails" 3 quote "qualifying" "$W/t" --nonce "$NONCE"

fresh
echo '{}' > "$W/t/bom.json"
expect "bom.json added: manifest fails" 2 manifest "bom.json: in the bundle but not in the manifest" "$W/t" --nonce "$NONCE"
relabel "$W/t" "$NONCE"
expect "bom.json added and listed: not a log quote's file" 2 manifest "bom.json: a log quote holds only" "$W/t" --nonce "$NONCE"

fresh
sed -i 's/"kind": "log-quote"/"kind": "bundle"/' "$W/t/manifest.json"
expect "kind edited to bundle: manifest fails (binding)" 2 manifest "binding of its kind (bundle)" "$W/t" --nonce "$NONCE"
out=$("$V" "$W/t" --ak "$Q/ak.pub.pem" --nonce "$NONCE")
grep -q '^FAIL bom: ' <<< "$out" && ! grep -q '^log quote' <<< "$out" &&
	ok "... and it is verified as a bundle, whose missing bom.json fails" ||
	nok "... and it is verified as a bundle, whose missing bom.json fails" "$(grep -m1 bom <<< "$out")"
fresh
sed -i 's/"kind": "log-quote"/"kind": "run"/' "$W/t/manifest.json"
expect "kind edited to an unknown word: manifest fails" 2 manifest "kind is not" "$W/t" --nonce "$NONCE"

# a run's bundle (test_verify's generator, software AK) relabelled a log quote
GEN=$W/gen
build_tamperer "$GEN"
if ! "$GEN" "$W/g" 20 5 --nonce "$NONCE" > "$W/gen.log" 2>&1; then
	nok "generate a bundle" "$(tail -1 "$W/gen.log")"
	exit 1
fi
openssl pkey -in "$W/g.key.pem" -pubout -out "$W/g.pub.pem" 2> /dev/null
expectg() { # like expect, against the generated bundle's AK
	local out rc
	out=$("$V" "$W/g" --ak "$W/g.pub.pem" --nonce "$NONCE" 2>&1)
	rc=$?
	if [ $rc = "$2" ] && grep -q "^FAIL $3: .*$4" <<< "$out"; then
		ok "$1" "exit $rc, $(grep -m1 "^FAIL $3" <<< "$out" | cut -c1-100)"
	else
		nok "$1" "exit $rc (want $2), $(grep -m1 '^FAIL' <<< "$out" | cut -c1-160)"
	fi
}
"$V" "$W/g" --ak "$W/g.pub.pem" --nonce "$NONCE" > /dev/null 2>&1 &&
	ok "the generated bundle verifies as a bundle" || nok "the generated bundle verifies as a bundle"
relabel "$W/g" "$NONCE"
expectg "bundle relabelled log-quote, bom.json kept: manifest fails" 2 manifest "a log quote holds only"
rm -f "$W/g/bom.json" "$W/g/bom.cdx.json" "$W/g/provenance.intoto.json"
relabel "$W/g" "$NONCE"
expectg "bundle relabelled log-quote without bom.json: quote fails (kind line)" 3 quote "qualifying"

[ "$fails" = 0 ]
