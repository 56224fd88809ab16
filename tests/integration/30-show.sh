#!/bin/bash
# `aicert show`: the captured IMA lists print exactly as the kernel's ASCII lists, the CEL
# fixture prints as valid CEL-JSON, a bundle from a real traced run is summarised (with a quote
# and a manifest added from fixtures), and anything else is refused with a clear message.
. "$(dirname "$0")/../lib/common.sh"
A=$B/aicert
need_built aicert
W=$(mktemp -d /tmp/aicert-show.XXXXXX)
trap 'rm -rf "$W"' EXIT

# --- IMA lists: byte for byte the kernel's ascii_runtime_measurements ---
n=0
for d in tests/fixtures/ima/*/; do
	for pair in binary_runtime_measurements:ascii_runtime_measurements binary_after:ascii_after; do
		bin=$d${pair%%:*} asc=$d${pair##*:}
		[ -f "$bin" ] || continue
		n=$((n + 1))
		if "$A" show "$bin" > "$W/out" 2> "$W/err" && cmp -s "$W/out" "$asc"; then
			ok "show $bin == the kernel's $(basename "$asc")"
		else
			nok "show $bin differs from $asc: $(cmp "$W/out" "$asc" 2>&1 | head -1) $(head -c 200 "$W/err")"
		fi
	done
done
[ $n -gt 0 ] || nok "no IMA fixtures under tests/fixtures/ima"
# a renamed copy is still an IMA list (detection by content)
cp tests/fixtures/ima/ima-ng-sha256/binary_runtime_measurements "$W/some-name"
"$A" show "$W/some-name" | cmp -s - tests/fixtures/ima/ima-ng-sha256/ascii_runtime_measurements &&
	ok "an IMA list is recognised by its content, not its name" ||
	nok "show of a renamed IMA list"

# --- CEL: valid JSON, the same as h4's golden rendering ---
cel=tests/fixtures/cel/golden.cel
if [ -f "$cel" ]; then
	if "$A" show "$cel" > "$W/cel.json" 2> "$W/err" && python3 -m json.tool "$W/cel.json" > /dev/null; then
		ok "show $cel is valid JSON ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/cel.json") records)"
	else
		nok "show $cel: not valid JSON: $(head -c 200 "$W/err")"
	fi
	if [ -f tests/fixtures/cel/golden.json ] &&
		cmp -s "$W/cel.json" <(cat tests/fixtures/cel/golden.json; echo); then
		ok "show $cel == tests/fixtures/cel/golden.json (CEL-JSON)"
	else
		nok "show $cel differs from tests/fixtures/cel/golden.json"
	fi
else
	echo "# no CEL fixture ($cel): CEL checks not run"
fi

# --- bad input: non-zero exit and the clear message ---
bad() { # name path [args]
	local name=$1 path=$2
	shift 2
	"$A" show "$@" "$path" > "$W/out" 2> "$W/err"
	rc=$?
	if [ $rc -ne 0 ] && grep -qF "aicert show: $path: not an IMA list, a CEL log, a firmware log or a bundle" "$W/err"; then
		ok "$name is refused (exit $rc) with the clear message"
	else
		nok "$name: exit $rc, stderr: $(head -c 200 "$W/err")"
	fi
}
printf 'hello\n' > "$W/text"
bad "a text file" "$W/text"
f=tests/fixtures/ima/ima-ng-sha256/binary_runtime_measurements
head -c $(($(stat -c %s $f) - 3)) $f > "$W/truncated"  # mid-record
bad "a truncated IMA list" "$W/truncated"
head -c 100 "${cel:-/dev/null}" > "$W/torn.cel" 2>/dev/null
bad "a torn CEL log" "$W/torn.cel"
: > "$W/empty"
bad "an empty file" "$W/empty"
mkdir "$W/notabundle"
bad "a directory without bom.json" "$W/notabundle"
"$A" show "$W/missing" 2> "$W/err"
rc=$?
[ $rc -ne 0 ] && grep -q "cannot read $W/missing: No such file or directory" "$W/err" &&
	ok "a missing file: exit $rc, says why" || nok "a missing file: exit $rc, $(cat "$W/err")"
"$A" show > /dev/null 2>&1
[ $? = 2 ] && ok "show without an argument is a usage error (2)" || nok "show without an argument"
"$A" frobnicate > /dev/null 2>&1
[ $? = 2 ] && ok "an unknown command is a usage error (2)" || nok "an unknown command"
for h in --help help; do
	"$A" $h | grep -q '^Usage: aicert show' && ok "aicert $h prints the usage" || nok "aicert $h"
done
"$A" --version | grep -qx 'aicert [0-9][0-9.]*' && ok "aicert --version" || nok "aicert --version"

# --- a bundle from a real traced run ---
T=$B/aicert-trace
if [ "$(id -u)" != 0 ] || [ ! -x "$T" ]; then
	echo "SKIPPED: the bundle checks need root and $T"
	exit 77
fi
# stdout to /dev/null: a regular file there would be an output of the run (inherited fd 1)
if ! "$T" --no-tpm --no-cache -q -o "$W/b" -- cat /etc/hostname > /dev/null 2> "$W/trace.err"; then
	nok "aicert-trace could not make a bundle: $(tail -3 "$W/trace.err")"
	exit 1
fi
"$A" show "$W/b" > "$W/show" 2> "$W/err"
rc=$?
[ $rc = 0 ] && ok "show BUNDLE exits 0" || nok "show BUNDLE exits $rc: $(head -c 200 "$W/err")"
sha=$(sha256sum /etc/hostname | cut -d' ' -f1)
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["id"])' "$W/b/bom.json")
for want in "run         $id" "command     cat /etc/hostname" "exit code   0" "complete    yes" \
	"attested    UNATTESTED" "  $sha  /etc/hostname" "inputs: " "outputs (0)"; do
	grep -qF -- "$want" "$W/show" && ok "show BUNDLE has '$want'" ||
		nok "show BUNDLE lacks '$want'"
done
grep -qE '^files       [0-9]+: [0-9]+ input, 0 output, [1-9][0-9]* executable' "$W/show" &&
	ok "show BUNDLE counts files per role" || nok "show BUNDLE has no per-role counts"
"$A" show --json "$W/b" | cmp -s - "$W/b/bom.json" && ok "show --json BUNDLE is bom.json as is" ||
	nok "show --json BUNDLE differs from bom.json"
# the TPM evidence and manifest sections, from fixtures (decoded, not verified: that is
# aicert-verify's job, so any real quote will do)
q=tests/fixtures/quote/ecc
if [ -f $q/quote.msg ]; then
	cp $q/quote.msg $q/quote.sig "$W/b/"
	python3 - "$W/b" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
files = []
for n in sorted(os.listdir(d)):
    if n == "manifest.json":  # aicert-trace wrote one; this test writes its own
        continue
    b = open(os.path.join(d, n), "rb").read()
    files.append({"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)})
unbound = ("quote.msg", "quote.sig", "ak.pub.pem", "ak.cert.pem", "ima.bin")
bind = b"aicert-binding/v1\n" + b"".join(
    f"{f['name']} {f['sha256']}\n".encode() for f in files
    if f["name"] not in unbound) + b"pcr 15\n"
m = {"schema": "aicert.manifest/v1", "files": files, "pcr": 15, "pcr_bank": "sha256",
     "qualifying_data": hashlib.sha256(bind).hexdigest(), "qualifying_data_of": "test binding"}
json.dump(m, open(os.path.join(d, "manifest.json"), "w"), indent=2)
print(m["qualifying_data"], file=open(os.path.join(d, "..", "qd"), "w"))
PY
	"$A" show "$W/b" > "$W/show" 2> "$W/err"
	grep -q '^quote (decoded, not verified' "$W/show" && ! grep -q 'cannot decode' "$W/show" &&
		ok "show BUNDLE describes the quote" ||
		nok "show BUNDLE quote section: $(grep -A2 '^quote' "$W/show" | head -3) $(head -c 200 "$W/err")"
	grep -q "^  qualifying data  $(cat "$W/qd")\$" "$W/show" &&
		ok "show BUNDLE prints the manifest's qualifying data" ||
		nok "show BUNDLE manifest section: $(grep -A4 '^manifest' "$W/show" | tr '\n' ' ') $(head -c 200 "$W/err")"
else
	echo "# no quote fixture ($q): quote/manifest section checks not run"
fi
[ $fails = 0 ]
