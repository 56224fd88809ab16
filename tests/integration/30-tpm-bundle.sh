#!/bin/bash
# The TPM binding through the real aicert-trace on a swtpm (tests/lib/swtpm.sh), every bundle
# checked with tests/lib/celreplay.py (an independent reader of events.cel) and tpm2-tools:
# replay == tpm2_pcrread, tpm2_checkquote accepts, bom.json == the run's batch, run_end and
# baseline records (a run killed by a signal, a detached run); two
# concurrent runs each reveal only their own files; SIGKILL at random points leaves a host log
# that verifies and is recovered by the next run; TPM errors exit 125 with a clear message.
# Every run uses a temporary --state-dir and --no-cache.
. "$(dirname "$0")/../lib/common.sh"
CR="/usr/bin/python3 tests/lib/celreplay.py"
need_root "needs root to load BPF programs"
need_built aicert-trace
need_cmd tpm2_checkquote "tpm2-tools not installed"

W=$(mktemp -d /tmp/aicert-tpm.XXXXXX)
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CGROOT=${CGROOT:-/run/aicert/cgroup2}

# The cgroups of runs killed here (their ids are in our own state dirs' run_start records):
# kill what is left in them and remove them. Nothing else on the host is touched.
reap_cgroups() {
	local log id
	for log in "$W"/*/*/events.cel; do
		[ -f "$log" ] || continue
		for id in $($CR dump "$log" --tolerant 2> /dev/null |
			/usr/bin/python3 -c 'import json,sys
for r in json.load(sys.stdin)["records"]:
    c = r["content"]
    if isinstance(c, dict) and c.get("kind") == "run_start": print(c["run_id"])'); do
			[ -d "$CGROOT/aicert/$id" ] || continue
			[ -f "$CGROOT/aicert/$id/cgroup.kill" ] && echo 1 > "$CGROOT/aicert/$id/cgroup.kill"
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				rmdir "$CGROOT/aicert/$id" 2> /dev/null && break
				sleep 0.1
			done
		done
	done
}
trap 'reap_cgroups; rm -rf "$W"' EXIT

need_swtpm

# check NAME command...: ok with the command's last output line, or not ok with it
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name" "$(tail -1 <<< "$out")"
	else
		nok "$name" "$(tail -1 <<< "$out" | tr -d '\n')"
	fi
}
qdata() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["qualifying_data"])' "$1/manifest.json"; }
checkquote() {
	[ -f "$1/quote.msg" ] || { echo "no quote.msg in $1"; return 1; }
	tpm2_checkquote -u "$1/ak.pub.pem" -m "$1/quote.msg" -s "$1/quote.sig" -q "$(qdata "$1")" \
		-g sha256 > /dev/null && echo "tpm2_checkquote accepts (-q qualifying_data)"
}
trace() { # STATE_DIR OUT [aicert-trace options] -- command...
	local sd=$1 out=$2
	shift 2
	"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint --state-dir "$sd" \
		-o "$out" "$@"
}
# the bundle checks: replay == TPM now (when no other writer extended since), the quote, the BOM
bundle_checks() { # NAME BUNDLE [pcr]
	local pcr=${3:-15}
	check "$1: events.cel replays to tpm2_pcrread (every bank)" $CR tpm "$2/events.cel" --pcr "$pcr"
	check "$1: tpm2_checkquote" checkquote "$2"
	check "$1: quote binds the bundle and the replayed PCR" $CR quote "$2" --pcr10 tpm
	check "$1: bom.json == the run's batch, run_end and baseline records" $CR bom "$2"
}

# run_end_is BUNDLE PYTHON-DICT: the bundle's run_end record holds these values
run_end_is() {
	$CR dump "$1/events.cel" | /usr/bin/python3 -c 'import json, sys
want = eval(sys.argv[1])
end = [r["content"] for r in json.load(sys.stdin)["records"]
       if isinstance(r["content"], dict) and r["content"].get("kind") == "run_end"][-1]
got = {k: end.get(k) for k in want}
if got != want:
    sys.exit(f"run_end has {got}, not {want}")
print(f"run_end has {got}")' "$2"
}

# SECTIONS="1 3" runs only those (while working on one); default all
want() { [[ " ${SECTIONS:-1 2 3 4} " == *" $1 "* ]]; }
mkdir -p "$W/in"
for i in 1 2 3; do head -c $((1000 * i)) /dev/urandom > "$W/in/data$i"; done

# ---- 1. one run ----
if want 1; then
trace "$W/s1" "$W/b1" -- sh -c "cat $W/in/data1 $W/in/data2 > $W/out1; cat $W/in/data3 > /dev/null" \
	2> "$W/b1.err"
rc=$?
if [ $rc = 0 ] && [ -f "$W/b1/manifest.json" ]; then
	ok "traced run exits 0 with a bundle"
	bundle_checks "one run" "$W/b1"
else
	nok "traced run exits 0 with a bundle" "rc=$rc: $(tail -1 "$W/b1.err")"
fi

# the log itself says how the command ended (not only bom.json): signal, exit status, detached
trace "$W/s1" "$W/b1k" -- sh -c "cat $W/in/data1 > /dev/null; kill -TERM \$\$" 2> "$W/b1k.err"
rc=$?
if [ $rc = 143 ] && [ -f "$W/b1k/manifest.json" ]; then
	ok "a command killed by SIGTERM: exit 143 with a bundle"
	bundle_checks "SIGTERM" "$W/b1k"
	check "SIGTERM: run_end says signal 15, exit status 143" \
		run_end_is "$W/b1k" '{"signal": 15, "exit_status": 143, "detached": False}'
else
	nok "a command killed by SIGTERM: exit 143 with a bundle" "rc=$rc: $(tail -1 "$W/b1k.err")"
fi
trace "$W/s1" "$W/b1d" --detach-timeout 1 -- sh -c "(sleep 3; cat $W/in/data2 > /dev/null) & exit 0" \
	> /dev/null 2> "$W/b1d.err"
rc=$?
if [ $rc = 0 ] && [ -f "$W/b1d/manifest.json" ]; then
	ok "a command that leaves a process behind: exit 0 with a bundle"
	bundle_checks "detached" "$W/b1d"
	check "detached: run_end says detached, exit status 0" \
		run_end_is "$W/b1d" '{"signal": 0, "exit_status": 0, "detached": True}'
else
	nok "a command that leaves a process behind: exit 0 with a bundle" "rc=$rc: $(tail -1 "$W/b1d.err")"
fi

fi

# ---- 2. two concurrent runs, one host log ----
if want 2; then
pids=()
for r in A B; do
	for i in 1 2 3; do echo "$r $i" > "$W/in/run$r-secret-$i"; done
done
for r in A B; do
	trace "$W/s2" "$W/b2$r" -- sh -c "cat $W/in/run$r-secret-1; sleep 1; \
cat $W/in/run$r-secret-2 > /dev/null; sleep 1; cat $W/in/run$r-secret-3 > $W/run$r-out" \
		> /dev/null 2> "$W/b2$r.err" &
	pids+=($!)
	sleep 0.3
done
wait "${pids[0]}"; rcA=$?
wait "${pids[1]}"; rcB=$?
if [ $rcA = 0 ] && [ $rcB = 0 ]; then
	ok "two concurrent runs both exit 0"
else
	nok "two concurrent runs both exit 0" "rc $rcA, $rcB: $(tail -1 "$W/b2A.err") $(tail -1 "$W/b2B.err")"
fi
for r in A B; do
	o=$([ $r = A ] && echo B || echo A)
	[ -f "$W/b2$r/manifest.json" ] || continue
	oid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["id"])' \
		"$W/b2$o/bom.json" 2> /dev/null)
	check "concurrent run $r: tpm2_checkquote" checkquote "$W/b2$r"
	check "concurrent run $r: events.cel replays to the quoted PCR" $CR quote "$W/b2$r" --pcr10 tpm
	check "concurrent run $r: bom.json == its batch, run_end and baseline records, other runs redacted" \
		$CR bom "$W/b2$r"
	check "concurrent run $r: run $o's paths and id are not in its events.cel" \
		$CR absent "$W/b2$r/events.cel" "run$o-secret" "run$o-out" ${oid:-no-id}
	n=$($CR dump "$W/b2$r/events.cel" | grep -c '"content_type": 226')
	if [ "$n" -gt 0 ]; then
		ok "concurrent run $r: run $o's records are in its events.cel, redacted" "$n records"
	else
		nok "concurrent run $r: run $o's records are in its events.cel, redacted" "none: the runs did not interleave"
	fi
done
check "concurrent runs: the host log replays to tpm2_pcrread" $CR tpm "$W"/s2/*/events.cel
if [ "$($CR dump "$W"/s2/*/events.cel | grep -cE '"kind": "(recovery|baseline)"')" = 1 ]; then
	ok "concurrent runs: one baseline, no recovery record in the host log"
else
	nok "concurrent runs: one baseline, no recovery record in the host log" "see $W/s2"
fi

fi

# ---- 3. SIGKILL at 10 random points of a run reading 2000 files ----
if want 3; then
mkdir -p "$W/many"
for i in $(seq 2000); do echo "f$i" > "$W/many/f$i"; done
# an unkilled run first: its bundle checked, its length T in ms (the kills fall in 0..T)
t0=$(date +%s%N)
trace "$W/s3" "$W/k0" -- sh -c "for f in $W/many/*; do cat \"\$f\"; done > /dev/null" \
	> /dev/null 2> "$W/k0.err"
rc=$?
T=$((($(date +%s%N) - t0) / 1000000))
if [ $rc = 0 ]; then
	ok "2000-file run exits 0" "${T} ms"
	bundle_checks "2000-file run" "$W/k0"
else
	nok "2000-file run exits 0" "rc=$rc: $(tail -1 "$W/k0.err")"
fi
recovered=0 nkills=0
for k in ${KILLS:-1 2 3 4 5 6 7 8 9 10}; do
	nkills=$((nkills + 1))
	case $k in
	1) d=0 ;;
	2) d=0.1 ;;
	# anywhere in the run, or in its last 800 ms, where the records are appended
	[3579]) d=$(awk -v r=$RANDOM -v t=$T 'BEGIN { printf "%.2f", (0.2 + r / 32767 * (t - 200)) / 1000 }') ;;
	*) d=$(awk -v r=$RANDOM -v t=$T 'BEGIN { printf "%.2f", (t - 800 + r / 32767 * 900) / 1000 }') ;;
	esac
	# not through trace(): $! must be aicert-trace itself, not a subshell running it
	"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint --state-dir "$W/s3" \
		-o "$W/k$k" -- sh -c "for f in $W/many/*; do cat \"\$f\"; done > /dev/null" \
		> /dev/null 2> "$W/k$k.err" &
	pid=$!
	sleep "$d"
	kill -KILL $pid 2> /dev/null
	wait $pid 2> /dev/null
	reap_cgroups
	log=$(ls "$W"/s3/*/events.cel 2> /dev/null)
	st=$W/k$k.state
	rm -f "$st"
	if [ -z "$log" ]; then
		ok "kill $k after ${d}s: the host log verifies" "no log written yet"
	elif out=$($CR tpm "$log" --host --state "$st" 2>&1); then
		ok "kill $k after ${d}s: the host log verifies" "$out"
	else
		nok "kill $k after ${d}s: the host log verifies" "$out"
	fi
	trace "$W/s3" "$W/n$k" -- cat "$W/in/data1" > /dev/null 2> "$W/n$k.err"
	rc=$?
	if [ $rc != 0 ]; then
		nok "run after kill $k" "rc=$rc: $(tail -1 "$W/n$k.err")"
		continue
	fi
	if [ -f "$st" ]; then
		if out=$($CR recovery "$W"/s3/*/events.cel "$st" 2>&1); then
			ok "run after kill $k: recovery" "$out"
			case $out in recovery*) recovered=$((recovered + 1)) ;; esac
		else
			nok "run after kill $k: recovery" "$out"
		fi
	fi
	bundle_checks "run after kill $k" "$W/n$k"
	rm -rf "$W/k$k" "$W/n$k"
done
ok "kills done" "$recovered of $nkills left a tail that needed a recovery record"
# The fsync-to-extend window is too short for random kills to hit often: make its leftovers
log=$(ls "$W"/s3/*/events.cel)
check "torn tail: damage the host log" $CR tear "$log"
check "torn tail: the damaged host log verifies to its last extended record" \
	$CR tpm "$log" --host --state "$W/tear.state"
trace "$W/s3" "$W/n11" -- cat "$W/in/data1" > /dev/null 2> "$W/n11.err"
rc=$?
if [ $rc = 0 ]; then
	check "run after the torn tail: recovery" $CR recovery "$log" "$W/tear.state"
	bundle_checks "run after the torn tail" "$W/n11"
	check "run after the torn tail: the recovery record is in its bundle" \
		$CR recovery "$W/n11/events.cel" "$W/tear.state"
else
	nok "run after the torn tail" "rc=$rc: $(tail -1 "$W/n11.err")"
fi

fi

# ---- 4. errors ----
want 4 || exit $((fails > 0))
M=$W/marker
"$B/aicert-trace" --tcti swtpm:host=127.0.0.1,port=1 --no-cache --backend tracepoint \
	--state-dir "$W/s4" -o "$W/b4" -- touch "$M" 2> "$W/b4.err"
rc=$?
if [ $rc = 125 ] && grep -q 'swtpm:host=127.0.0.1,port=1' "$W/b4.err" && [ ! -e "$M" ]; then
	ok "wrong TCTI: exit 125, the error names it, the command did not run" \
		"$(grep -m1 'port=1' "$W/b4.err")"
else
	nok "wrong TCTI: exit 125, the error names it, the command did not run" \
		"rc=$rc marker=$([ -e "$M" ] && echo yes || echo no): $(tr '\n' ' ' < "$W/b4.err")"
fi
rm -f "$M"

trace "$W/s5" "$W/b5" --pcr 23 -- touch "$M" 2> "$W/b5.err"
rc=$?
if [ $rc = 125 ] && grep -qi 'resettable' "$W/b5.err" && [ ! -e "$M" ]; then
	ok "PCR 23 without --allow-resettable-pcr: exit 125 before the command runs" \
		"$(grep -m1 -i 'resettable' "$W/b5.err")"
else
	nok "PCR 23 without --allow-resettable-pcr: exit 125 before the command runs" \
		"rc=$rc marker=$([ -e "$M" ] && echo yes || echo no): $(tr '\n' ' ' < "$W/b5.err")"
fi
trace "$W/s5" "$W/b5b" --pcr 23 --allow-resettable-pcr -- cat "$W/in/data1" > /dev/null 2> "$W/b5b.err"
rc=$?
if [ $rc = 0 ] && [ -f "$W/b5b/manifest.json" ]; then
	ok "PCR 23 with --allow-resettable-pcr: the run works"
	bundle_checks "PCR 23" "$W/b5b" 23
else
	nok "PCR 23 with --allow-resettable-pcr: the run works" "rc=$rc: $(tail -1 "$W/b5b.err")"
fi

NONCE=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
trace "$W/s1" "$W/b6" --nonce "$NONCE" -- cat "$W/in/data2" > /dev/null 2> "$W/b6.err"
rc=$?
if [ $rc = 0 ] && grep -q "\"nonce\": \"$NONCE\"" "$W/b6/manifest.json"; then
	ok "--nonce: exit 0, manifest.json has the nonce"
	bundle_checks "--nonce" "$W/b6"
else
	nok "--nonce: exit 0, manifest.json has the nonce" "rc=$rc: $(tail -1 "$W/b6.err")"
fi

# last: the TPM goes away while the command runs
"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint --state-dir "$W/s7" \
	-o "$W/b7" -- sh -c "cat $W/in/data1 > /dev/null; : > $W/b7.started
while [ ! -e $W/b7.go ]; do sleep 0.05; done" > /dev/null 2> "$W/b7.err" &
pid=$!
# the command says when it runs (a marker file); the TPM is killed only then, then it goes on
i=0; while [ ! -e "$W/b7.started" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
log=$(ls "$W"/s7/*/events.cel 2> /dev/null)
if [ -n "$log" ] && out=$($CR tpm "$log"); then
	cp "$log" "$W/s7-before.cel"
	ok "TPM gone: before, the host log replays to tpm2_pcrread" "$out"
else
	nok "TPM gone: before, the host log replays to tpm2_pcrread" "${out:-no log in $W/s7}"
fi
kill "$(cat "$SWTPM_DIR/swtpm.pid")"
: > "$W/b7.go"
wait $pid
rc=$?
if [ $rc = 125 ] && grep -qiE 'tpm|esys|tcti' "$W/b7.err"; then
	ok "TPM gone mid-run: exit 125 with an error" "$(grep -m1 -iE 'tpm|esys|tcti' "$W/b7.err")"
else
	nok "TPM gone mid-run: exit 125 with an error" "rc=$rc: $(tr '\n' ' ' < "$W/b7.err")"
fi
# The TPM's PCRs are gone with it: the log must still decode whole, its digests match their
# contents, it extends the prefix the TPM confirmed, by at most the one record whose extend failed.
if [ -f "$W/s7-before.cel" ] && out=$(/usr/bin/python3 - "$W/s7-before.cel" "$log" <<'PY'
import sys
sys.path.insert(0, "tests/lib")
import celreplay as c
before, after = (open(p, "rb").read() for p in sys.argv[1:3])
recs, torn = c.decode(after)
bad = c.digest_errors(recs)
n0 = len(c.decode(before)[0])
if bad or not after.startswith(before) or len(recs) - n0 > 1:
    sys.exit(f"digest errors {bad[:2]}, prefix kept {after.startswith(before)}, "
             f"{len(recs) - n0} records after the confirmed {n0}")
print(f"{n0} confirmed records kept, {len(recs) - n0} written after the TPM went away")
PY
); then
	ok "TPM gone mid-run: the host log still verifies up to its last record" "$out"
else
	nok "TPM gone mid-run: the host log still verifies up to its last record" "$out"
fi
[ $fails = 0 ]
