#!/bin/bash
# Faults, on the host (tracepoint backend, a swtpm of its own), with the real aicert-trace and the
# real aicert-verify:
#   1. nonce: run_start records --nonce; an older run re-quoted with a fresh nonce is rejected
#   2. a TPM restarted without an orderly shutdown (clock not safe): the run fails before the
#      command runs, never "quoted" then rejected by aicert-verify
#   3. a stopped TPM (SIGSTOP): a clear error within --tpm-timeout, no hang
#   4. errors name their cause: a full state filesystem (a small tmpfs), an unusable --cache,
#      --pcr 16 refused before the BPF programs load
#   5. the host log emptied, or an earlier record damaged, under aicert: recorded as a recovery
#   6. leftovers: SIGKILL of aicert-trace kills the run (watchdog); with the watchdog killed as
#      well, the next run removes the dead run's empty cgroup; a bundle directory is complete
#      or DIR.partial-<id>
#   7. a process that moves itself out of the run's cgroup: the run is marked detached
# Synchronised on marker files and FIFOs, never on sleeps.
. "$(dirname "$0")/../lib/common.sh"
CR="/usr/bin/python3 tests/lib/celreplay.py"
V=$B/aicert-verify
need_root "needs root to load BPF programs and mount a tmpfs"
need_built aicert-trace aicert-verify libaicert.a
need_cmd tpm2_quote "tpm2-tools not installed"

W=$(mktemp -d /tmp/aicert-faults.XXXXXX)
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CGROOT=${CGROOT:-/run/aicert/cgroup2}
cleanup() {
	[ -n "${SWTPM_DIR:-}" ] && kill -CONT "$(cat "$SWTPM_DIR/swtpm.pid" 2> /dev/null)" 2> /dev/null
	mountpoint -q "$W/full" && umount "$W/full"
	rm -rf "$W"
}
trap cleanup EXIT
need_swtpm
GEN=$W/gen
build_tamperer "$GEN"
AKH=0x81010020

trace() { # STATE OUT [options] -- command...
	local sd=$1 out=$2
	shift 2
	"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint --state-dir "$sd" \
		-o "$out" "$@"
}
verify() { "$V" "$@" > "$W/v.out" 2>&1; }
# the run_start record of a bundle, as JSON
run_start() {
	$CR dump "$1/events.cel" | /usr/bin/python3 -c 'import json, sys
print(json.dumps([r["content"] for r in json.load(sys.stdin)["records"]
                  if isinstance(r["content"], dict) and r["content"].get("kind") == "run_start"][-1]))'
}
echo "training data" > "$W/in"

# ---- 1. nonce ----
N1=00112233445566778899aabbccddeeff
N2=ffeeddccbbaa99887766554433221100
if trace "$W/s" "$W/n1" --nonce "$N1" -- cat "$W/in" > /dev/null 2> "$W/n1.err" &&
	run_start "$W/n1" | grep -q "\"nonce\": \"$N1\""; then
	ok "--nonce is recorded in run_start"
else
	nok "--nonce is recorded in run_start" "$(tail -1 "$W/n1.err")"
fi
verify "$W/n1" --ak "$W/n1/ak.pub.pem" --nonce "$N1" && ok "a run made after the challenge verifies with its --nonce" ||
	nok "a run made after the challenge verifies with its --nonce" "$(grep -m1 FAIL "$W/v.out")"
# the forgery: an older run (no nonce, or another one) quoted again by the AK's holder with the
# verifier's fresh nonce, manifest rewritten to match; the quote alone would verify
requote() { # BUNDLE NONCE
	/usr/bin/python3 -c 'import json, sys
m = json.load(open(sys.argv[1])); m["nonce"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"), indent=2)' "$1/manifest.json" "$2" &&
		tpm2_quote -c "$AKH" -l sha256:10,15 -q "$("$GEN" --binding "$1")" -g sha256 \
			-m "$1/quote.msg" -s "$1/quote.sig" > /dev/null 2>> "$W/tpm.err" &&
		"$GEN" --manifest "$1"
}
for old in none N1; do
	rm -rf "$W/old"
	if [ $old = none ]; then
		trace "$W/s" "$W/old" -- cat "$W/in" > /dev/null 2>&1
	else
		trace "$W/s" "$W/old" --nonce "$N1" -- cat "$W/in" > /dev/null 2>&1
	fi
	if ! requote "$W/old" "$N2"; then
		nok "re-quote an older run (nonce $old) with a fresh nonce" "$(tail -1 "$W/tpm.err")"
		continue
	fi
	verify "$W/old" --ak "$W/old/ak.pub.pem" --nonce "$N2"
	rc=$?
	if [ $rc = 3 ] && grep -q "^FAIL quote: --nonce: run_start" "$W/v.out"; then
		ok "an older run (nonce $old) re-quoted with a fresh nonce is rejected" \
			"$(grep -m1 '^FAIL' "$W/v.out" | cut -c1-100)"
	else
		nok "an older run (nonce $old) re-quoted with a fresh nonce is rejected" \
			"exit $rc: $(grep -m1 '^FAIL' "$W/v.out")"
	fi
done

# ---- 2. a TPM restarted without an orderly shutdown ----
swtpm_restart() {
	local pid
	pid=$(cat "$SWTPM_DIR/swtpm.pid")
	kill "$pid"
	while kill -0 "$pid" 2> /dev/null; do :; done
	swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
		--server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init --daemon --pid file="$SWTPM_DIR/swtpm.pid" \
		--log file="$SWTPM_DIR/swtpm.log" && tpm2_startup -c
}
if swtpm_restart && tpm2_readclock | grep -q "safe: no"; then
	trace "$W/s2" "$W/c1" -- touch "$W/c1.ran" > /dev/null 2> "$W/c1.err"
	rc=$?
	if [ $rc = 125 ] && grep -q "clock is not safe" "$W/c1.err" && [ ! -e "$W/c1.ran" ] &&
		[ ! -e "$W/c1" ] && ! ls -d "$W"/c1.partial-* > /dev/null 2>&1; then
		ok "TPM clock not safe: exit 125 before the command ran, no bundle" \
			"$(grep -m1 'clock is not safe' "$W/c1.err" | cut -c1-90)"
	else
		nok "TPM clock not safe: exit 125 before the command ran, no bundle" \
			"rc=$rc: $(tail -1 "$W/c1.err")"
	fi
	now=$(tpm2_readclock | awk '/clock:/ { print $2; exit }')
	tpm2_setclock $((now + 4194304 * 2)) 2>> "$W/tpm.err"
	if trace "$W/s2" "$W/c2" -- cat "$W/in" > /dev/null 2> "$W/c2.err" &&
		verify "$W/c2" --ak "$W/c2/ak.pub.pem"; then
		ok "once the clock is safe (tpm2_setclock), the run and aicert-verify succeed"
	else
		nok "once the clock is safe (tpm2_setclock), the run and aicert-verify succeed" \
			"$(tail -1 "$W/c2.err") / $(grep -m1 FAIL "$W/v.out")"
	fi
else
	nok "swtpm restarted without an orderly shutdown has clockInfo.safe = 0"
fi

# ---- 3. a stopped TPM ----
kill -STOP "$(cat "$SWTPM_DIR/swtpm.pid")"
t0=$(date +%s%N)
trace "$W/s" "$W/h1" --tpm-timeout 2 -- touch "$W/h1.ran" > /dev/null 2> "$W/h1.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$(cat "$SWTPM_DIR/swtpm.pid")"
if [ $rc = 125 ] && grep -q "within 2.0 s" "$W/h1.err" && [ ! -e "$W/h1.ran" ] &&
	[ $ms -lt 20000 ]; then
	ok "a stopped TPM (SIGSTOP): exit 125 after --tpm-timeout 2, no hang" \
		"${ms} ms: $(grep -m1 'within 2.0 s' "$W/h1.err" | cut -c1-100)"
else
	nok "a stopped TPM (SIGSTOP): exit 125 after --tpm-timeout 2, no hang" \
		"rc=$rc after ${ms} ms: $(tail -1 "$W/h1.err")"
fi
trace "$W/s" "$W/h2" -- true > /dev/null 2> "$W/h2.err" && ok "the TPM continued (SIGCONT): the next run works" ||
	nok "the TPM continued (SIGCONT): the next run works" "$(tail -1 "$W/h2.err")"

# ---- 4. errors name their cause ----
mkdir -p "$W/full"
if mount -t tmpfs -o size=16k tmpfs "$W/full"; then
	head -c 1M /dev/zero > "$W/full/filler" 2> /dev/null
	trace "$W/full" "$W/f1" -- touch "$W/f1.ran" > /dev/null 2> "$W/f1.err"
	rc=$?
	if [ $rc = 125 ] && grep -q "No space left on device" "$W/f1.err" &&
		! grep -qi "TPM" "$W/f1.err" && [ ! -e "$W/f1.ran" ]; then
		ok "a full --state-dir: 'No space left on device' and nothing about the TPM" \
			"$(grep -m1 'No space' "$W/f1.err" | cut -c1-90)"
	else
		nok "a full --state-dir: 'No space left on device' and nothing about the TPM" \
			"rc=$rc: $(tr '\n' '|' < "$W/f1.err" | cut -c1-200)"
	fi
	umount "$W/full"
else
	nok "mount a small tmpfs for the full-disk case"
fi
"$B/aicert-trace" --tcti "$AICERT_TCTI" --backend tracepoint --state-dir "$W/s" -o "$W/k1" \
	--cache /proc/aicert-cache -- touch "$W/k1.ran" > /dev/null 2> "$W/k1.err"
rc=$?
if [ $rc = 125 ] && grep -q "hash cache /proc/aicert-cache is unusable" "$W/k1.err" &&
	[ ! -e "$W/k1.ran" ]; then
	ok "an unusable --cache fails the run before the command runs" \
		"$(grep -m1 'unusable' "$W/k1.err" | cut -c1-90)"
else
	nok "an unusable --cache fails the run before the command runs" "rc=$rc: $(tail -1 "$W/k1.err")"
fi
trace "$W/s" "$W/p16" --pcr 16 -- true > /dev/null 2> "$W/p16.err"
rc=$?
if [ $rc = 125 ] && grep -q "PCR 16 is resettable" "$W/p16.err" &&
	! grep -q "tracing with" "$W/p16.err" && [ ! -e "$W/p16" ]; then
	ok "--pcr 16 is refused before the BPF programs load"
else
	nok "--pcr 16 is refused before the BPF programs load" "rc=$rc: $(tr '\n' '|' < "$W/p16.err")"
fi

# ---- 5. the host log ----
HL=$(ls "$W"/s/*/events.cel)
recoveries() { $CR dump "$HL" | grep -c '"kind": "recovery"'; }
before=$(recoveries)
: > "$HL"
if trace "$W/s" "$W/e1" -- cat "$W/in" > /dev/null 2> "$W/e1.err" && grep -q "emptied" "$W/e1.err" &&
	[ "$(recoveries)" = 1 ] && verify "$W/e1" --ak "$W/e1/ak.pub.pem"; then
	ok "a host log emptied under aicert is recorded as a recovery" "recoveries: $before -> 1"
else
	nok "a host log emptied under aicert is recorded as a recovery" \
		"$(tail -1 "$W/e1.err") / $(grep -m1 FAIL "$W/v.out")"
fi
# one byte of the last record's content (run_end of e1) changed: its digest still replays
printf 'Z' | dd of="$HL" bs=1 seek=$(($(stat -c %s "$HL") - 1)) conv=notrunc status=none
if trace "$W/s" "$W/d1" -- cat "$W/in" > /dev/null 2> "$W/d1.err" && grep -q "damaged" "$W/d1.err" &&
	ls "$HL".damaged-* > /dev/null 2>&1 && [ "$(recoveries)" = 1 ] &&
	verify "$W/d1" --ak "$W/d1/ak.pub.pem"; then
	ok "a damaged earlier record is detected and recorded as a recovery" \
		"$(grep -m1 damaged "$W/d1.err" | cut -c1-90)"
else
	nok "a damaged earlier record is detected and recorded as a recovery" "$(tail -1 "$W/d1.err")"
fi

# ---- 6. leftovers ----
# a command that says it runs (marker), then waits on a FIFO nobody writes
mkfifo "$W/never"
long_run() { # OUT: sets TPID (aicert-trace), CPID (the command), RUNCG (its cgroup), WD
	rm -f "$W/started"
	"$B/aicert-trace" --tcti "$AICERT_TCTI" --no-cache --backend tracepoint --state-dir "$W/s" \
		-o "$1" -- sh -c "echo \$\$ > '$W/started.tmp'; mv '$W/started.tmp' '$W/started'; cat '$W/never'" \
		> /dev/null 2> "$1.err" &
	TPID=$!
	while [ ! -s "$W/started" ] && kill -0 $TPID 2> /dev/null; do :; done
	CPID=$(cat "$W/started" 2> /dev/null)
	RUNCG=
	[ -n "$CPID" ] && RUNCG=$CGROOT$(awk -F: '$1 == "0" { print $3 }' "/proc/$CPID/cgroup")
	WD=$(pgrep -P $TPID -x aicert-watchdog)
}
gone() { while kill -0 "$1" 2> /dev/null; do :; done; }
# alive PID: running, not a zombie waiting for its new parent to reap it
alive() { [ -e "/proc/$1" ] && ! awk '{ exit $3 == "Z" ? 0 : 1 }' "/proc/$1/stat" 2> /dev/null; }
long_run "$W/l1"
if [ -n "$CPID" ] && [ -n "$WD" ]; then
	kill -KILL $TPID
	wait $TPID 2> /dev/null
	gone "$WD"
	# the cgroup's removal can trail the watchdog's exit on a loaded machine: wait for it
	i=0
	while { [ -d "$RUNCG" ] || alive "$CPID"; } && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -d "$RUNCG" ] && ! alive "$CPID"; then
		ok "SIGKILL of aicert-trace: the watchdog kills the run and removes its cgroup"
	else
		nok "SIGKILL of aicert-trace: the watchdog kills the run and removes its cgroup" \
			"$RUNCG: $(ls -d "$RUNCG" 2> /dev/null), command $(alive "$CPID" && echo alive); $(tail -2 "$W/l1.err" | tr '\n' ' ')"
	fi
	if [ ! -e "$W/l1" ] && ls -d "$W"/l1.partial-* > /dev/null 2>&1; then
		ok "a killed run leaves no bundle directory, only a recognisable $(basename "$(ls -d "$W"/l1.partial-*)")"
	else
		nok "a killed run leaves no bundle directory, only DIR.partial-<id>" "$(ls "$W" | tr '\n' ' ')"
	fi
else
	nok "start a long run with its watchdog" "$(tail -1 "$W/l1.err")"
fi
# the watchdog killed too: the cgroup stays; once its processes are gone, the next run removes it
long_run "$W/l2"
if [ -n "$CPID" ] && [ -n "$WD" ]; then
	kill -KILL $TPID $WD
	wait $TPID 2> /dev/null
	gone "$WD"
	[ -d "$RUNCG" ] || nok "the dead run's cgroup is left when the watchdog dies too"
	echo 1 > "$RUNCG/cgroup.kill"
	while grep -q "populated 1" "$RUNCG/cgroup.events" 2> /dev/null; do :; done
	trace "$W/s" "$W/l3" -- true > /dev/null 2> "$W/l3.err"
	if [ ! -d "$RUNCG" ] && grep -q "removed the cgroup $RUNCG" "$W/l3.err"; then
		ok "the next run removes the empty cgroup of a dead run"
	else
		nok "the next run removes the empty cgroup of a dead run" "$(tail -1 "$W/l3.err")"
	fi
else
	nok "start a long run with its watchdog" "$(tail -1 "$W/l2.err")"
fi
if [ -f "$W/l3/manifest.json" ] && ! ls "$W"/l3/*.tmp.* > /dev/null 2>&1 &&
	! ls -d "$W"/l3.partial-* > /dev/null 2>&1; then
	ok "a finished bundle is complete under its name: no *.tmp.* file, no .partial directory"
else
	nok "a finished bundle is complete under its name" "$(ls "$W/l3" "$W" | tr '\n' ' ')"
fi

# ---- 7. a process that moves itself out of the run's cgroup ----
trace "$W/s" "$W/x1" -- sh -c "echo \$\$ > '$CGROOT/cgroup.procs'; cat '$W/in'" > /dev/null 2> "$W/x1.err"
rc=$?
if [ $rc = 0 ] && grep -q "left the run's cgroup" "$W/x1.err" &&
	grep -q '"detached": true' "$W/x1/bom.json" && grep -q '"complete": false' "$W/x1/bom.json"; then
	ok "a command that leaves the run's cgroup: recorded, the run marked detached" \
		"$(grep -m1 "left the run" "$W/x1.err" | cut -c1-90)"
else
	nok "a command that leaves the run's cgroup: recorded, the run marked detached" \
		"rc=$rc: $(tail -1 "$W/x1.err")"
fi
verify "$W/x1" --ak "$W/x1/ak.pub.pem"
rc=$?
[ $rc = 9 ] && ok "aicert-verify says that run is incomplete (exit 9)" ||
	nok "aicert-verify says that run is incomplete (exit 9)" "exit $rc: $(grep -m1 FAIL "$W/v.out")"
# a child that escapes while its parent stays
trace "$W/s" "$W/x2" -- sh -c "sh -c 'echo \$\$ > $CGROOT/cgroup.procs; cat $W/in' ; true" \
	> /dev/null 2> "$W/x2.err"
if grep -q "left the run's cgroup" "$W/x2.err" && grep -q '"detached": true' "$W/x2/bom.json"; then
	ok "a child that leaves the run's cgroup: the run is marked detached"
else
	nok "a child that leaves the run's cgroup: the run is marked detached" "$(tail -1 "$W/x2.err")"
fi
trace "$W/s" "$W/x3" -- sh -c "cat '$W/in' | wc -c" > /dev/null 2> "$W/x3.err"
if ! grep -q "left the run's cgroup" "$W/x3.err" && grep -q '"complete": true' "$W/x3/bom.json"; then
	ok "a run whose processes stay in scope is complete (no false escape)"
else
	nok "a run whose processes stay in scope is complete (no false escape)" "$(tail -1 "$W/x3.err")"
fi
exit $((fails > 0))
