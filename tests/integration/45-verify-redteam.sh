#!/bin/bash
# Red-team of aicert-verify: forgeries a demanding auditor would call lies, each made on real
# bundles from aicert-trace on a swtpm (two runs sharing one host log, so the second bundle
# carries the first run's records redacted) and, where the attacker needs it, "resealed" with
# the real AK (tpm2_quote with the AK at 0x81010020, manifest rewritten): the threat is a host
# that holds the AK but cannot rewrite the PCR's history. Every attack must be REJECTED.
# tests/integration/40-verify-tamper.sh holds the basic tampering cases; these are the ones that
# play with the CEL encoding, redaction, splicing of runs, manifest names, ima.bin, a resettable
# PCR, ak.cert.pem, and every bom.json fact the log holds (command, cwd, backend, times, host,
# exit status and signal, detached, truncated paths, file size, status and ima); bundle files
# that are FIFOs, devices, sockets or links (each refused within a second), bom.cdx.json and
# provenance.intoto.json rewritten, duplicate bom.json entries, AK certificates of the wrong
# profile, escape sequences in file names, and --weights streamed or given a directory.
. "$(dirname "$0")/../lib/common.sh"
V=$B/aicert-verify
need_root "needs root to trace (BPF)"
need_built aicert-trace aicert-verify libaicert.a
need_cmd tpm2_quote "tpm2-tools not installed"
need_cmd python3

W=$(mktemp -d /tmp/aicert-redteam.XXXXXX)
trap 'rm -rf "$W"' EXIT
need_swtpm

GEN=$W/gen
# shellcheck disable=SC2046
if ! ${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -DVERIFY_GEN_ONLY -Iinclude -Iuserspace -o "$GEN" \
	tests/unit/test_verify.c "$B/libaicert.a" \
	$(pkg-config --libs openssl jansson yaml-0.1 tss2-mu) -lpthread 2> "$W/cc.err"; then
	nok "build the bundle tamperer" "$(tail -1 "$W/cc.err")"
	exit 1
fi

# CEL surgery (docs/cel.md): records are [recnum, pcr, digests, content] TLV lists
cat > "$W/cel.py" << 'PY'
import hashlib, json, sys

def tlvs(b):
    o, out = 0, []
    while o < len(b):
        n = int.from_bytes(b[o + 1:o + 5], "big")
        out.append((b[o], b[o + 5:o + 5 + n]))
        o += 5 + n
    return out

def tlv(t, v):
    return bytes([t]) + len(v).to_bytes(4, "big") + v

def read(p):
    f = tlvs(open(p, "rb").read())
    return [list(f[i:i + 4]) for i in range(0, len(f), 4)]

def write(p, recs):
    open(p, "wb").write(b"".join(tlv(t, v) for r in recs for (t, v) in r))

def fields(r):
    return tlvs(r[3][1]) if r[3][0] == 0xE1 else []

def kind(r):
    return next((v[0] for t, v in fields(r) if t == 1), None)

def run_id(r):
    return next((v.decode() for t, v in fields(r) if t == 2), None)

ALGS = {0x04: hashlib.sha1, 0x0B: hashlib.sha256, 0x0C: hashlib.sha384, 0x0D: hashlib.sha512}

def set_content(r, ftlvs):
    """r's content replaced by these aicert fields, digests recomputed for every bank"""
    ct = (0xE1, b"".join(tlv(t, v) for t, v in ftlvs))
    r[3] = ct
    r[2] = (3, b"".join(tlv(a, ALGS[a](tlv(*ct)).digest()) for a, _ in tlvs(r[2][1])))

def redact(r):
    r[3] = (0xE2, b"redacted")

BASELINE, RUN_START, BATCH, LOSS, RUN_END = 1, 2, 3, 4, 5
PY
cel() { # BUNDLE PYTHON-CODE: L = the bundle's records, written back after the code
	python3 - "$1/events.cel" "$W" "$2" << 'PY'
import sys
sys.path.insert(0, sys.argv[2])
from cel import *
p = sys.argv[1]
L = read(p)
exec(sys.argv[3])
write(p, L)
PY
}
bomedit() { # BUNDLE PYTHON-CODE: b = bom.json as a dict
	python3 - "$1/bom.json" "$2" << 'PY'
import json, sys
p = sys.argv[1]
b = json.load(open(p))
exec(sys.argv[2])
open(p, "w").write(json.dumps(b, indent=2) + "\n")
PY
}

trace() { # NAME SHELL-COMMAND [aicert-trace options]
	local name=$1 cmd=$2
	shift 2
	"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint \
		--state-dir "$W/state" -o "$W/$name" "$@" -- sh -c "$cmd" > "$W/trace-$name.log" 2>&1
}
echo "training data" > "$W/input.txt"
echo "other data" > "$W/secret.txt"
trace run1 "cat '$W/secret.txt' > /dev/null; echo y > '$W/out-run1.bin'"
trace run2 "cat '$W/input.txt' > /dev/null; echo x > '$W/out-run2.bin'"
for r in run1 run2; do
	[ -f "$W/$r/quote.msg" ] || { nok "aicert-trace makes an attested bundle ($r)" \
		"$(tail -1 "$W/trace-$r.log")"; exit 1; }
done
GOOD=$W/run2
AK=$GOOD/ak.pub.pem
AKH=0x81010020 # aicert's AK (userspace/trace/tpm.h TPM_AK_HANDLE_DEFAULT)
SEL=sha256:10,15
grep -q 'selection sha256:15 ' < <("$V" "$GOOD" --ak "$AK") && SEL=sha256:15

# reject NAME BUNDLE [AK]: the forgery must fail a check (not a usage or internal error)
reject() {
	local name=$1 dir=$2 rc out
	out=$("$V" "$dir" --ak "${3:-$AK}" 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		nok "$name" "ACCEPTED (exit 0)"
	elif [ "$rc" = 1 ] || [ "$rc" = 11 ] || ! grep -q '^FAIL' <<< "$out"; then
		nok "$name" "exit $rc without a failed check: $(tail -1 <<< "$out")"
	else
		ok "$name" "exit $rc: $(grep -m1 '^FAIL' <<< "$out" | cut -c1-100)"
	fi
}
copy() { rm -rf "$W/t" && cp -a "${1:-$GOOD}" "$W/t"; }
reseal() { # DIR: quote the new binding with the AK, rewrite the manifest
	local q
	q=$("$GEN" --binding "$1") &&
		tpm2_quote -c "$AKH" -l "$SEL" -q "$q" -g sha256 -m "$1/quote.msg" \
			-s "$1/quote.sig" > /dev/null 2>> "$W/tpm.err" &&
		"$GEN" --manifest "$1"
}
# attack NAME PYTHON-FOR-THE-LOG: the log edited, the bundle resealed, must be rejected
attack_log() {
	copy
	cel "$W/t" "$2" || { nok "$1" "the CEL edit failed"; return; }
	reseal "$W/t" || { nok "$1" "reseal: $(tail -1 "$W/tpm.err")"; return; }
	reject "$1" "$W/t"
}

out=$("$V" "$GOOD" --ak "$AK" 2>&1)
[ $? = 0 ] || { nok "the untouched bundle verifies" "$(grep -m1 FAIL <<< "$out")"; exit 1; }
ok "the untouched bundle verifies ($SEL)"

# --- the run's own records ---
attack_log "a claimed input: a batch record the run never wrote, inserted before run_end" '
i = max(k for k, r in enumerate(L) if kind(r) == RUN_END)
fake = list(L[i])
set_content(fake, [(1, bytes([BATCH])), (2, run_id(L[i]).encode()),
    (30, tlv(1, b"/data/poisoned.csv") + tlv(2, bytes(32)) + tlv(3, bytes(8)) +
         tlv(4, (1).to_bytes(4, "big")) + tlv(5, bytes(4)))])
L.insert(i, fake)
for k, r in enumerate(L): r[0] = (0, (int.from_bytes(L[0][0][1], "big") + k).to_bytes(8, "big"))'
attack_log "a hidden input: the run's batch record replaced by the redaction marker" '
redact(next(r for r in L if kind(r) == BATCH and run_id(r)))'
attack_log "a hidden input: the batch record dropped and run_end's totals rewritten" '
i = next(k for k, r in enumerate(L) if kind(r) == BATCH and run_id(r) == run_id(L[-1]))
end = max(k for k, r in enumerate(L) if kind(r) == RUN_END)
f = [(t, v) for t, v in fields(L[end]) if t not in (52, 54)]
set_content(L[end], f + [(52, bytes(8)), (54, bytes(8))])
del L[i]
for k, r in enumerate(L): r[0] = (0, (int.from_bytes(L[0][0][1], "big") + k).to_bytes(8, "big"))'
attack_log "an output digest changed in run_end (digests recomputed)" '
end = max(k for k, r in enumerate(L) if kind(r) == RUN_END)
f = [(t, (tlv(1, tlvs(v)[0][1]) + tlv(2, bytes(32))) if t == 51 else v) for t, v in fields(L[end])]
set_content(L[end], f)'
attack_log "the exit status changed in run_end (digests recomputed)" '
end = max(k for k, r in enumerate(L) if kind(r) == RUN_END)
set_content(L[end], [(t, (1).to_bytes(4, "big") if t == 50 else v) for t, v in fields(L[end])])'
attack_log "the command changed in run_start (digests recomputed)" '
s = next(k for k, r in enumerate(L) if kind(r) == RUN_START)
set_content(L[s], [(t, b"true" if t == 20 else v) for t, v in fields(L[s])])'
attack_log "run_start replaced by the redaction marker" '
redact(next(r for r in L if kind(r) == RUN_START))'
attack_log "run_end replaced by the redaction marker" '
redact(next(r for r in reversed(L) if kind(r) == RUN_END))'

# --- another run's records ---
R1=$W/run1/events.cel
attack_log "another run's records unredacted next to this run's" "
O = read('$R1')
for k, r in enumerate(O):
    if k < len(L) and L[k][3][0] == 0xE2 and r[3][0] == 0xE1: L[k] = r"
attack_log "another run presented as this run: its records unredacted, this run's redacted" "
O = read('$R1')
me = run_id(L[-1])
for k, r in enumerate(L):
    if run_id(r) == me: redact(r)
for k, r in enumerate(O):
    if k < len(L) and L[k][3][0] == 0xE2 and r[3][0] == 0xE1: L[k] = r"
attack_log "a spliced run: the other run's run_start in place of this run's" "
O = read('$R1')
s = next(k for k, r in enumerate(L) if kind(r) == RUN_START)
o = next(r for r in O if kind(r) == RUN_START)
set_content(L[s], [(t, run_id(L[-1]).encode() if t == 2 else v) for t, v in fields(o)])"
attack_log "records of the two runs re-ordered (recnums kept in sequence)" '
a = next(k for k, r in enumerate(L) if r[3][0] == 0xE2)
b = next(k for k, r in enumerate(L) if kind(r) == RUN_START)
L[a][1:], L[b][1:] = L[b][1:], L[a][1:]'
attack_log "a redacted record's digests replaced by a record of this run's (duplicated batch)" '
a = next(k for k, r in enumerate(L) if r[3][0] == 0xE2)
b = next(r for r in L if kind(r) == BATCH and run_id(r))
L[a][2:] = b[2:]'

# --- CEL encoding leniency ---
attack_log "a redacted record moved to PCR 16 with a 1-byte pcr TLV" '
next(r for r in L if r[3][0] == 0xE2)[1] = (1, bytes([16]))'
attack_log "a redacted record turned into an nv_index record" '
r = next(r for r in L if r[3][0] == 0xE2); r[1] = (2, r[1][1])'
attack_log "this run's batch with an extra bank holding a wrong digest" '
r = next(r for r in L if kind(r) == BATCH)
r[2] = (3, r[2][1] + tlv(0x12, bytes(32)))'
attack_log "this run's batch with a second, wrong sha256 digest" '
r = next(r for r in L if kind(r) == BATCH)
r[2] = (3, r[2][1] + tlv(0x0B, bytes(32)))'
attack_log "a redacted record given an unknown content type" '
next(r for r in L if r[3][0] == 0xE2)[3] = (0x50, b"redacted")'
attack_log "a redacted record with a different marker" '
next(r for r in L if r[3][0] == 0xE2)[3] = (0xE2, b"REDACTED")'
attack_log "a redacted record turned into an empty aicert record" '
next(r for r in L if r[3][0] == 0xE2)[3] = (0xE1, b"")'
attack_log "a second baseline in place of a redacted record" '
a = next(k for k, r in enumerate(L) if r[3][0] == 0xE2); L[a] = [L[a][0]] + L[0][1:]'
attack_log "the log cut at this run's run_start, with a new baseline" '
s = next(k for k, r in enumerate(L) if kind(r) == RUN_START)
b = L[0]; del L[:s]; L.insert(0, b)
for k, r in enumerate(L): r[0] = (0, k.to_bytes(8, "big"))'
attack_log "a duplicated field (two exit_status) in run_end" '
end = max(k for k, r in enumerate(L) if kind(r) == RUN_END)
set_content(L[end], fields(L[end]) + [(50, (1).to_bytes(4, "big"))])'
attack_log "a trailing partial record after run_end" '
L.append([(0, bytes(8))])'

# --- manifest and bundle files ---
copy
cp "$W/run1/events.cel" "$W/t/events.cel"
"$GEN" --manifest "$W/t"
reject "another run's events.cel, manifest rewritten, not re-quoted" "$W/t"
copy
cp "$W/run1/events.cel" "$W/t/events.cel"
cp "$W/run1/bom.json" "$W/t/bom.json"
reseal "$W/t" && reject "another run's events.cel and bom.json re-quoted now (the PCR moved on)" "$W/t"
copy
mv "$W/t/events.cel" "$W/t/ima.bin"
reseal "$W/t" && reject "events.cel renamed to ima.bin (an unbound name)" "$W/t"
copy
mkdir "$W/t/sub" && echo x > "$W/t/sub/f"
reject "a subdirectory added" "$W/t"
copy
ln -s bom.json "$W/t/extra.json"
reject "a symbolic link added" "$W/t"
copy
cp "$W/t/bom.json" "$W/t/bom.json.orig"
"$GEN" --manifest "$W/t"
reject "an extra file added, manifest rewritten, not re-quoted" "$W/t"

# reject_code NAME BUNDLE CODE [aicert-verify options]: the forgery fails with that exit code
reject_code() {
	local name=$1 dir=$2 want=$3 rc out
	shift 3
	out=$("$V" "$dir" "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		nok "$name" "exit $rc, expected $want: $(grep -m1 '^FAIL' <<< "$out" | cut -c1-160)"
	else
		ok "$name" "exit $rc: $(grep -m1 '^FAIL' <<< "$out" | cut -c1-110)"
	fi
}

# --- bundle files that are not regular files: each refused by name, within a second ---
refuse_fast() { # NAME BUNDLE PATTERN
	local rc out
	out=$(timeout 1 "$V" "$2" --ak "$AK" 2>&1)
	rc=$?
	if [ "$rc" = 124 ]; then
		nok "$1" "still running after 1 s (killed by timeout)"
	elif [ "$rc" != 2 ] || ! grep -q "^FAIL manifest: .*$3" <<< "$out"; then
		nok "$1" "exit $rc: $(grep -m1 '^FAIL' <<< "$out" | cut -c1-140)"
	else
		ok "$1" "exit 2 within 1 s: $(grep -m1 '^FAIL' <<< "$out" | cut -c1-90)"
	fi
}
for f in events.cel bom.json quote.msg quote.sig manifest.json ak.pub.pem bom.cdx.json; do
	copy
	rm "$W/t/$f" && mkfifo "$W/t/$f"
	refuse_fast "a FIFO named $f" "$W/t" "$f: is a FIFO, not a regular file"
done
copy
rm "$W/t/events.cel" && ln -s /dev/zero "$W/t/events.cel"
refuse_fast "events.cel -> /dev/zero" "$W/t" "events.cel: is a symbolic link"
copy
rm "$W/t/bom.json" && mknod "$W/t/bom.json" c 1 5
refuse_fast "bom.json a character device (/dev/zero's)" "$W/t" "bom.json: is a character device"
copy
rm "$W/t/quote.msg" &&
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$W/t/quote.msg"
refuse_fast "quote.msg a socket" "$W/t" "quote.msg: is a socket"
copy
mkfifo "$W/t/notes"
refuse_fast "an extra FIFO the manifest does not list" "$W/t" "notes: is a FIFO"
ln -sfn "$GOOD" "$W/latest"
out=$("$V" "$W/latest" --ak "$AK" 2>&1)
if [ $? = 0 ] && grep -q "^PASS manifest: .*NOTE: the bundle directory .* is a symbolic link" <<< "$out"; then
	ok "a bundle directory given as a symbolic link verifies, and the report says so"
else
	nok "a bundle directory given as a symbolic link" "$(head -1 <<< "$out")"
fi

# --- the derived documents: regenerated from bom.json and compared byte for byte ---
attack_doc() { # NAME FILE PYTHON-FOR-THE-DOCUMENT (d): rewritten, resealed, must fail bom (7)
	copy
	python3 - "$W/t/$2" "$3" << 'PY' || { nok "$1" "the edit failed"; return; }
import json, sys
p = sys.argv[1]
d = json.load(open(p))
exec(sys.argv[2])
open(p, "w").write(json.dumps(d, separators=(",", ":")) + "\n")
PY
	reseal "$W/t" || { nok "$1" "reseal: $(tail -1 "$W/tpm.err")"; return; }
	reject_code "$1" "$W/t" 7 --ak "$AK"
}
attack_doc "bom.cdx.json: the model's hash rewritten, re-quoted" bom.cdx.json '
for c in d["components"] + [d["metadata"].get("component", {})]:
    for h in c.get("hashes", []):
        if c["name"].endswith("out-run2.bin"): h["content"] = "ee" * 32'
attack_doc "bom.cdx.json: an input dropped from the formulation, re-quoted" bom.cdx.json '
wf = d["formulation"][0]["workflows"][0]; wf["inputs"] = wf["inputs"][1:]'
attack_doc "provenance.intoto.json: another command, re-quoted" provenance.intoto.json '
d["predicate"]["buildDefinition"]["externalParameters"]["command"] = ["python3", "train.py", "--data", "clean.csv"]'
attack_doc "provenance.intoto.json: the subject (model) digest rewritten, re-quoted" provenance.intoto.json '
for s in d["subject"]: s["digest"]["sha256"] = "ee" * 32'
attack_doc "provenance.intoto.json: an input digest rewritten, re-quoted" provenance.intoto.json '
for r in d["predicate"]["buildDefinition"]["resolvedDependencies"]:
    if r["name"].endswith("input.txt"): r["digest"]["sha256"] = "ee" * 32'
copy
rm "$W/t/bom.cdx.json"
reseal "$W/t" && reject_code "bom.cdx.json removed, re-quoted" "$W/t" 7 --ak "$AK"

# --- unique entries; the documented qualifying_data_of ---
copy
bomedit "$W/t" '
f = [x for x in b["files"] if x["path"].endswith("input.txt")][0]
b["files"].append(dict(f, size=f["size"] + 4096))'
reseal "$W/t" && reject_code "bom.json: a second entry for an input (another size), re-quoted" \
	"$W/t" 7 --ak "$AK"
copy
python3 - "$W/t/manifest.json" << 'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
m["qualifying_data_of"] = "sha256 of whatever the signer liked"
open(p, "w").write(json.dumps(m, indent=2) + "\n")
PY
reject_code "manifest.json: another qualifying_data_of" "$W/t" 2 --ak "$AK"

# --- bom.json fields the log holds (resealed) ---
attack_bom() { # NAME PYTHON-FOR-bom.json (b)
	copy
	bomedit "$W/t" "$2" || { nok "$1" "the bom.json edit failed"; return; }
	reseal "$W/t" || { nok "$1" "reseal: $(tail -1 "$W/tpm.err")"; return; }
	reject "$1" "$W/t"
}
attack_bom "bom.json: the host's boot id from another boot" 'b["host"]["boot_id"] = "00000000-0000-4000-8000-000000000000"'
attack_bom "bom.json: the boot id removed" 'del b["host"]["boot_id"]'
attack_bom "bom.json: said unattested" 'b["attested"] = False'
attack_bom "bom.json: killed by a signal, but the log has exit 0" 'b["run"]["exit_code"] = -1; b["run"]["signal"] = 9'
attack_bom "bom.json: the other run's input swapped in (path kept)" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['sha256'] = '$(sha256sum "$W/secret.txt" | cut -c1-64)'"
attack_bom "bom.json: an input demoted to a library" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['roles'] = ['library']"
attack_bom "bom.json: the input's sha256 dropped (as if unhashable)" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['sha256'] = None; f['status'] = 'vanished'"
attack_bom "bom.json: an unknown field" 'b["run"]["approved_by"] = "qa"'

# --- facts the log now holds (run_end: signal, detached, paths_truncated, output sizes;
# --- baseline: hostname, kernel; file size and status) and the rest of bom.json's run ---
attack_bom "bom.json: another command" 'b["run"]["command"] = ["python3", "train.py", "--data", "clean.csv"]'
attack_bom "bom.json: another working directory" 'b["run"]["cwd"] = "/home/alice/clean"'
attack_bom "bom.json: another backend" 'b["run"]["backend"] = "lsm" if b["run"]["backend"] != "lsm" else "tracepoint"'
attack_bom "bom.json: started and finished moved to another day" 'b["run"]["started"] = "2020-01-01T00:00:00.000Z"; b["run"]["finished"] = "2020-01-01T01:00:00.000Z"'
attack_bom "bom.json: another host name" 'b["host"]["hostname"] = "trusted-builder-01"'
attack_bom "bom.json: another kernel" 'b["host"]["kernel"] = "6.1.0-hardened"'
attack_bom "bom.json: paths said truncated, the run said incomplete" 'b["run"]["paths_truncated"] = 1; b["run"]["complete"] = False'
attack_bom "bom.json: said detached, incomplete (the log says not detached)" 'b["run"]["detached"] = True; b["run"]["complete"] = False'
attack_bom "bom.json: an input's size changed" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['size'] = 999999999"
attack_bom "bom.json: an output's size changed" "
for f in b['files']:
    if f['path'].endswith('out-run2.bin'): f['size'] += 1"
attack_bom "bom.json: an input said vanished (digest kept)" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['status'] = 'vanished'"
attack_bom "bom.json: an input said path truncated (digest kept)" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['status'] = 'path truncated'"
attack_bom "bom.json: a file said to match the IMA log, without ima.bin" "
for f in b['files']:
    if f['path'].endswith('input.txt'): f['ima'] = 'match'"

# a command that exits 137 is no SIGKILL; a detached run is not complete (each attacked while
# its run is the host log's last, so the reseal's PCR is its replay)
trace run3 "cat '$W/input.txt' > /dev/null; exit 137"
if [ -f "$W/run3/quote.msg" ]; then
	GOOD=$W/run3 attack_bom "bom.json: exit 137 presented as killed by SIGKILL" \
		'b["run"]["exit_code"] = -1; b["run"]["signal"] = 9'
else
	nok "aicert-trace makes an attested bundle (exit 137)" "$(tail -1 "$W/trace-run3.log")"
fi
trace run4 "(sleep 3; cat '$W/input.txt' > /dev/null) & exit 0" --detach-timeout 1
if [ -f "$W/run4/quote.msg" ] && grep -q '"detached": true' "$W/run4/bom.json"; then
	GOOD=$W/run4 attack_bom "bom.json: a detached run presented as complete" \
		'b["run"]["detached"] = False; b["run"]["complete"] = True'
else
	nok "aicert-trace makes an attested detached bundle" "$(tail -1 "$W/trace-run4.log")"
fi

# an input whose name holds terminal escape sequences and a carriage return, its size forged
# (re-quoted): the FAIL line names it escaped, so it cannot rewrite itself into a PASS line
EVIL=$(printf 'evil\033[1A\033[2K\rPASS bom: ok\033[0m.txt')
printf 'payload\n' > "$W/$EVIL"
"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint --state-dir "$W/state" \
	-o "$W/run5" -- cat "$W/$EVIL" > "$W/trace-run5.log" 2>&1
if [ -f "$W/run5/quote.msg" ]; then
	# untouched, it verifies: bom.cdx.json and provenance.intoto.json regenerate exactly
	reject_code "a bundle whose input name holds escape sequences verifies untouched" \
		"$W/run5" 0 --ak "$AK"
	GOOD=$W/run5 copy
	bomedit "$W/t" '
for f in b["files"]:
    if "evil" in f["path"]: f["size"] += 1'
	if GOOD=$W/run5 reseal "$W/t"; then
		out=$("$V" "$W/t" --ak "$AK" 2>&1)
		rc=$?
		if [ "$rc" != 7 ] || LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' <<< "$out"; then
			nok "a file name with escape sequences is printed escaped" \
				"exit $rc or a control byte printed: $(grep -m1 '^FAIL' <<< "$out" | od -c | head -2)"
		elif ! grep -qF 'evil\x1B[1A\x1B[2K\x0DPASS bom: ok\x1B[0m.txt' <<< "$out"; then
			nok "a file name with escape sequences is printed escaped" "$(grep -m1 '^FAIL bom' <<< "$out")"
		else
			ok "a file name with escape sequences is printed escaped" "exit 7"
		fi
		if "$V" "$W/t" --ak "$AK" --json | python3 -c 'import json, sys; json.load(sys.stdin)'; then
			ok "the --json report of that forgery is valid JSON"
		else
			nok "the --json report of that forgery is valid JSON"
		fi
	else
		nok "a file name with escape sequences is printed escaped" "reseal failed"
	fi
else
	nok "aicert-trace makes an attested bundle (a name with escapes)" "$(tail -1 "$W/trace-run5.log")"
fi

# an output deleted before the run ended has no digest, but it is nothing the run left behind:
# not "unmeasured" (exit 12), the run verifies
trace run6 "echo scratch > '$W/scratch.tmp'; rm '$W/scratch.tmp'; echo y > '$W/out-run6.bin'"
if [ -f "$W/run6/quote.msg" ]; then
	reject_code "a run that wrote and deleted a scratch file verifies (not exit 12)" "$W/run6" 0 \
		--ak "$AK"
else
	nok "aicert-trace makes an attested bundle (a deleted output)" "$(tail -1 "$W/trace-run6.log")"
fi

# a resettable PCR: reset 16, extend a rewritten history of the run (an input's digest
# changed) onto it, quote it with the real AK
copy
if tpm2_pcrreset 16 2>> "$W/tpm.err" && python3 - "$W/t" "$W" << 'PY'
import json, subprocess, sys
sys.path.insert(0, sys.argv[2])
from cel import *
d = sys.argv[1]
L = read(d + "/events.cel")
evil = bytes.fromhex("ee" * 32)
names = {4: "sha1", 0xB: "sha256", 0xC: "sha384", 0xD: "sha512"}
for r in L:
    r[1] = (1, (16).to_bytes(4, "big"))
    if kind(r) == BASELINE:
        set_content(r, [(t, v[:2] + bytes(len(v) - 2)) if t == 11 else (t, v) for t, v in fields(r)])
    if kind(r) == BATCH:
        f = []
        for t, v in fields(r):
            if t == 30 and tlvs(v)[0][1].endswith(b"input.txt"):
                v = b"".join(tlv(a, evil if a == 2 else b) for a, b in tlvs(v))
            f.append((t, v))
        set_content(r, f)
for r in L:
    spec = "16:" + ",".join(names[a] + "=" + v.hex() for a, v in tlvs(r[2][1]) if a in names)
    subprocess.run(["tpm2_pcrextend", spec], check=True)
write(d + "/events.cel", L)
b = json.load(open(d + "/bom.json"))
for f in b["files"]:
    if f["path"].endswith("input.txt"): f["sha256"] = "ee" * 32
open(d + "/bom.json", "w").write(json.dumps(b, indent=2) + "\n")
PY
then
	"$GEN" --manifest-pcr "$W/t" 16 && SEL=${SEL/15/16} reseal "$W/t" &&
		reject "a resettable PCR (16) reset and re-extended with a rewritten run" "$W/t"
else
	nok "a resettable PCR (16) reset and re-extended with a rewritten run" "the setup failed"
fi

# ak.cert.pem (unbound) of another key, next to the real AK
copy
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/other.key" \
	-subj /CN=other -days 1 -out "$W/t/ak.cert.pem" 2> /dev/null
"$GEN" --manifest "$W/t"
reject "ak.cert.pem of another key, with --ak the real AK" "$W/t"

# --weights: streamed (a 512 MiB file under a 256 MiB address-space limit), a directory
truncate -s 512M "$W/big.bin"
out=$(ulimit -v 262144 && "$V" "$GOOD" --ak "$AK" --weights "$W/big.bin" 2>&1)
if [ $? = 8 ] && grep -q '^FAIL weights: 1 of 1 --weights file(s) not an output' <<< "$out"; then
	ok "--weights streams: a 512 MiB file hashed within 256 MiB of address space"
else
	nok "--weights streams a large file" "$(grep -m1 '^FAIL' <<< "$out")"
fi
rm -f "$W/big.bin"
mkdir -p "$W/model/snapshot"
cp "$W/out-run2.bin" "$W/model/model.safetensors"
ln -s ../model.safetensors "$W/model/snapshot/model.safetensors"
reject_code "--weights DIR: every file an output (a link followed)" "$GOOD" 0 --ak "$AK" \
	--weights "$W/model"
echo '{"vocab": 1}' > "$W/model/snapshot/tokenizer.json"
echo '{"layers": 2}' > "$W/model/config.json"
out=$("$V" "$GOOD" --ak "$AK" --weights "$W/model" 2>&1)
if [ $? = 8 ] && grep -q '^FAIL weights: 2 of 4 .*config.json.*snapshot/tokenizer.json' <<< "$out"; then
	ok "--weights DIR names each file that is not an output"
else
	nok "--weights DIR names each file that is not an output" "$(grep -m1 '^FAIL' <<< "$out")"
fi
mkfifo "$W/weights.fifo"
out=$(timeout 1 "$V" "$GOOD" --ak "$AK" --weights "$W/weights.fifo" 2>&1)
rc=$?
[ "$rc" = 8 ] && grep -q "is a FIFO" <<< "$out" &&
	ok "--weights FIFO refused within a second" ||
	nok "--weights FIFO refused within a second" "exit $rc: $(grep -m1 '^FAIL' <<< "$out")"

# IMA: an IMA-off bundle given an ima.bin
copy
cp tests/fixtures/ima/ima-ng-sha256/binary_runtime_measurements "$W/t/ima.bin"
"$GEN" --manifest "$W/t"
reject "ima.bin added to a bundle whose PCR 10 is zero (IMA off)" "$W/t"

# --- ima.bin (not bound; PCR 10 authenticates it): a generated bundle, software AK ---
cat > "$W/ima.py" << 'PY'
import hashlib, sys
def parse(b):
    o, out = 0, []
    while o < len(b):
        nl = int.from_bytes(b[o + 24:o + 28], "little")
        e = [int.from_bytes(b[o:o + 4], "little"), b[o + 4:o + 24], b[o + 28:o + 28 + nl]]
        o += 28 + nl
        dl = int.from_bytes(b[o:o + 4], "little")
        out.append(e + [b[o + 4:o + 4 + dl]])
        o += 4 + dl
    return out
def enc(L):
    return b"".join(p.to_bytes(4, "little") + d + len(n).to_bytes(4, "little") + n +
                    len(x).to_bytes(4, "little") + x for p, d, n, x in L)
def ng(path, digest):
    h = b"sha256:\0" + digest
    x = len(h).to_bytes(4, "little") + h + (len(path) + 1).to_bytes(4, "little") + path + b"\0"
    return x, hashlib.sha1(x).digest()
p = sys.argv[1]
L = parse(open(p, "rb").read())
exec(sys.argv[2])
open(p, "wb").write(enc(L))
PY
G=$W/g
if "$GEN" "$G" 20 10 --ima tests/fixtures/ima/ima-ng-sha256 > /dev/null 2>&1 &&
	"$V" "$G" --ak "$G/ak.pub.pem" > /dev/null 2>&1; then
	attack_ima() { # NAME PYTHON-FOR-ima.bin (L: [pcr, template digest, name, data])
		rm -rf "$W/t" && cp -a "$G" "$W/t"
		python3 - "$W/t/ima.bin" "$2" < "$W/ima.py" || { nok "$1" "the edit failed"; return; }
		"$GEN" --manifest "$W/t" # ima.bin is not in the binding: no AK needed
		reject "$1" "$W/t" "$G/ak.pub.pem"
	}
	attack_ima "ima.bin: a covered entry's file name changed (template digest recomputed)" '
x, d = ng(b"/models/approved.bin", bytes(32)); L[3][3] = x; L[3][1] = d'
	attack_ima "ima.bin: a covered entry turned into a violation" 'L[3][1] = bytes(20)'
	attack_ima "ima.bin: a covered entry removed" 'del L[3]'
	attack_ima "ima.bin: two covered entries swapped" 'L[3], L[4] = L[4], L[3]'
	attack_ima "ima.bin: the last covered entry replaced" '
x, d = ng(b"/models/approved.bin", bytes(32)); L[-1] = [10, d, b"ima-ng", x]'
	attack_ima "ima.bin: a template digest that does not match its data" '
L.append([10, bytes(19) + b"\1", L[1][2], L[1][3]])'
	attack_ima "ima.bin: a truncated list" 'L[-1][3] = L[-1][3][:-3]'
	attack_ima "ima.bin: an entry for PCR 11 inserted in the covered prefix" '
x, d = ng(b"/models/approved.bin", bytes(32)); L.insert(3, [11, d, b"ima-ng", x])'
	rm -rf "$W/t" && cp -a "$G" "$W/t"
	bomedit "$W/t" 'b["files"][0]["ima"] = "match"'
	"$GEN" --reseal "$W/t" "$G.key.pem" > /dev/null
	reject "bom.json: a file said to match ima.bin, which has no entry for it" "$W/t" "$G/ak.pub.pem"
else
	nok "generate a bundle with ima.bin" "gen or verify failed"
fi

# --- --ca: the AK certificate's profile. The generated bundle's quote is made by a software
# key: a CA that certified that key for TLS, for key agreement only, or as a sub-CA did not
# make it an AK, so none of those may verify it; the AK profile does ---
if [ -f "$G/ak.pub.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=aicert red-team CA" -keyout "$W/ca.key" -out "$W/ca.pem" 2> /dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=x" \
		-keyout "$W/csr.key" -out "$W/x.csr" 2> /dev/null
	akcert() { # NAME EXT-LINES...: a certificate of $G's key with these extensions
		local name=$1
		shift
		printf '%s\n' "$@" > "$W/$name.ext"
		rm -rf "$W/t" && cp -a "$G" "$W/t"
		openssl x509 -req -in "$W/x.csr" -force_pubkey "$G/ak.pub.pem" -CA "$W/ca.pem" \
			-CAkey "$W/ca.key" -CAcreateserial -days 1 -extfile "$W/$name.ext" \
			-out "$W/t/ak.cert.pem" 2> "$W/openssl.err" && "$GEN" --manifest "$W/t"
	}
	akcert ak basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
		extendedKeyUsage=2.23.133.8.3 &&
		reject_code "--ca: an AK certificate (not a CA, digitalSignature, tcg-kp-AIKCertificate)" \
			"$W/t" 0 --ca "$W/ca.pem"
	out=$("$V" "$W/t" --ak "$G/ak.pub.pem")
	grep -q '^PASS ak: .*ak.cert.pem: not checked (no --ca' <<< "$out" &&
		ok "--ak: a present ak.cert.pem is reported as not checked" ||
		nok "--ak: a present ak.cert.pem is reported as not checked" "$(grep '^PASS ak' <<< "$out")"
	akcert tls basicConstraints=CA:FALSE keyUsage=digitalSignature,keyEncipherment \
		extendedKeyUsage=serverAuth subjectAltName=DNS:build.example.com &&
		reject_code "--ca: a TLS server certificate of the quoting key" "$W/t" 4 --ca "$W/ca.pem"
	akcert ka basicConstraints=CA:FALSE keyUsage=critical,keyAgreement &&
		reject_code "--ca: a keyAgreement-only certificate of the quoting key" "$W/t" 4 \
			--ca "$W/ca.pem"
	akcert subca basicConstraints=critical,CA:TRUE keyUsage=critical,keyCertSign,cRLSign,digitalSignature &&
		reject_code "--ca: a sub-CA certificate of the quoting key, from the same CA" "$W/t" 4 \
			--ca "$W/ca.pem"
	akcert noku basicConstraints=CA:FALSE &&
		reject_code "--ca: a certificate without keyUsage" "$W/t" 4 --ca "$W/ca.pem"
	akcert mixed basicConstraints=CA:FALSE keyUsage=digitalSignature \
		extendedKeyUsage=2.23.133.8.3,clientAuth &&
		reject_code "--ca: an AK EKU beside clientAuth" "$W/t" 4 --ca "$W/ca.pem"
else
	nok "--ca profile cases" "no generated bundle"
fi

[ "$fails" = 0 ]
