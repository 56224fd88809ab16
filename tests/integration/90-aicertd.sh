#!/bin/bash
# aicertd on the host (tracepoint backend) with a swtpm: three concurrent runs through the daemon,
# one of them as an unprivileged user, next to an untraced process; a cgroup made by hand that a
# track: glob names, with a nested child; per-user visibility (runs, fetch); lying clients;
# SIGHUP with a good and a bad policy; kill -9 mid-run and restart; SIGTERM. Every bundle is
# checked with aicert-verify, every digest with sha256sum.
# Synchronised on marker files, FIFOs and the daemon's own answers, never on sleeps.
# VM=1 (tests/vm/80-aicertd-lsm.sh) runs the same script with the LSM backend.
. "$(dirname "$0")/../lib/common.sh"
need_root "needs root to run aicertd"
need_built aicertd aicert-trace aicert aicert-verify
need_cmd setpriv "setpriv (util-linux) not installed"
BACKEND=${AICERTD_BACKEND:-tracepoint}
V=$B/aicert-verify
CL="/usr/bin/python3 tests/lib/aicertd_client.py"

W=$(mktemp -d "${TMPDIR:-/tmp}/aicert-d.XXXXXX")
chmod 755 "$W"
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CGROOT=${CGROOT:-/run/aicert/cgroup2}
TRK="aicerttest.$$"
SOCK=$W/run/aicertd.sock
export AICERT_SOCKET=$SOCK
cleanup() {
	local p
	for p in $(cat "$W"/daemon.pids 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
	for d in "$CGROOT/$TRK"/*/ "$CGROOT/$TRK"; do
		[ -d "$d" ] && { echo 1 > "$d/cgroup.kill"; rmdir "$d"; } 2> /dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
# AICERTD_TCTI (the VM: device:/dev/tpmrm0) or a swtpm of our own
if [ -n "${AICERTD_TCTI:-}" ]; then
	AICERT_TCTI=$AICERTD_TCTI
else
	need_swtpm
fi

# the built-in policy plus a track: section (a policy file replaces the built-in one)
"$B/aicert" policy show-default > "$W/policy.yaml" 2> /dev/null ||
	cp policy/default.yaml "$W/policy.yaml"
cp "$W/policy.yaml" "$W/policy-base.yaml"
printf 'track:\n  - /%s/job_*\n' "$TRK" >> "$W/policy.yaml"

daemon() { # start aicertd (it returns once its socket answers)
	"$B/aicertd" --socket "$SOCK" --state-dir "$W/state" --spool "$W/spool" --tcti "$AICERT_TCTI" \
		--no-cache --backend "$BACKEND" -p "$W/policy.yaml" "$@"
}
dpid() { "$B/aicert" status --json 2> /dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
jq_() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
verify() { # BUNDLE [want exit]: aicert-verify with the bundle's own AK pinned
	local rc
	"$V" "$1" --ak "$1/ak.pub.pem" > "$1.verify" 2>&1
	rc=$?
	[ "$rc" = "${2:-0}" ] || { echo "aicert-verify exit $rc: $(grep FAIL "$1.verify" | head -1)"; return 1; }
}
# has BUNDLE FILE: bom.json lists FILE with sha256sum's digest
has() {
	local d
	d=$(sha256sum "$2" | cut -d' ' -f1)
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/lib"); import bomq
b = bomq.load(sys.argv[1]); f = bomq.find(b, sys.argv[2])
sys.exit(0 if any(x["sha256"] == sys.argv[3] for x in f) else 1)' "$1" "$2" "$d"
}
lacks() { ! /usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/lib"); import bomq
sys.exit(0 if bomq.find(bomq.load(sys.argv[1]), sys.argv[2]) else 1)' "$1" "$2"; }
# wait_for SECONDS CMD...: until CMD succeeds (each try is an answer of the daemon, not a sleep
# for an event to happen by itself)
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@" > /dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

# ---- start ----
"$B/aicertd" --help | grep -q -- "--spool DIR" && ok "aicertd --help documents --spool" ||
	nok "aicertd --help documents --spool"
"$B/aicertd" --bogus > /dev/null 2>&1
[ $? = 2 ] && ok "aicertd: an unknown option is a usage error (exit 2)" ||
	nok "aicertd: an unknown option is a usage error (exit 2)"
if daemon 2> "$W/start.err"; then
	ok "aicertd starts and returns once its socket answers"
else
	nok "aicertd starts" "$(tail -1 "$W/start.err")"
	exit 1
fi
PID=$(dpid)
echo "$PID" >> "$W/daemon.pids"
[ -n "$PID" ] && kill -0 "$PID" && ok "aicert status names the daemon's pid ($PID)" ||
	nok "aicert status names the daemon's pid"
"$B/aicert" status > "$W/status.txt" 2>&1 && grep -qi "$BACKEND" "$W/status.txt" &&
	ok "aicert status says the backend ($BACKEND)" || nok "aicert status says the backend" "$(head -3 "$W/status.txt")"
daemon 2> "$W/second.err"
[ $? != 0 ] && grep -q "another aicertd" "$W/second.err" &&
	ok "a second aicertd on the same state dir is refused" ||
	nok "a second aicertd on the same state dir is refused" "$(tail -1 "$W/second.err")"

# ---- three concurrent runs, one as nobody, beside an untraced process ----
mkdir -p "$W/in" "$W/nb"
chown 65534:65534 "$W/nb"
for x in A B C U; do head -c 5000 /dev/urandom > "$W/in/$x"; done
chmod 644 "$W"/in/*
for x in A B C; do mkfifo "$W/go.$x"; done
chmod 666 "$W"/go.*
# each run reads its file, says it started, waits for its go (a FIFO), then reads again
cmd() { echo "cat $W/in/$1 > /dev/null; touch $2/started.$1; cat $W/go.$1 > /dev/null; head -c1 $W/in/$1 > /dev/null"; }
mkdir -p "$W/m"
chmod 777 "$W/m"
"$B/aicert-trace" -q -o "$W/ra" -- sh -c "$(cmd A "$W/m")" 2> "$W/ra.err" &
pa=$!
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/aicert-trace" -q -o "$W/nb/rb" -- \
	sh -c "$(cmd B "$W/m")" 2> "$W/rb.err" &
pb=$!
"$B/aicert-trace" -q -o "$W/rc" -- sh -c "$(cmd C "$W/m"); exit 3" 2> "$W/rc.err" &
pc=$!
if wait_for 60 test -e "$W/m/started.A" -a -e "$W/m/started.B" -a -e "$W/m/started.C"; then
	ok "three runs through aicertd are running at once (one as nobody)"
else
	nok "three runs through aicertd are running at once" "$(tail -1 "$W/rb.err") $(tail -1 "$W/ra.err")"
fi
cat "$W/in/U" > /dev/null # untraced, while all three run
"$B/aicert" runs --json > "$W/runs-root.json" 2>&1
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/aicert" runs --json > "$W/runs-nb.json" 2>&1
for x in A B C; do echo go > "$W/go.$x"; done # each blocks until its reader is there
wait $pa; ra=$?
wait $pb; rb=$?
wait $pc; rc=$?
[ $ra = 0 ] && [ $rb = 0 ] && [ $rc = 3 ] && ok "exit statuses are the commands' (0, 0, 3)" ||
	nok "exit statuses are the commands' (0, 0, 3)" "got $ra $rb $rc: $(tail -1 "$W/rb.err")"
for x in a b c; do
	d=$W/r$x
	[ $x = b ] && d=$W/nb/rb
	X=$(tr a-c A-C <<< $x)
	if out=$(verify "$d"); then ok "run $X: aicert-verify accepts its bundle"; else nok "run $X: aicert-verify accepts its bundle" "$out"; fi
	has "$d" "$W/in/$X" && ok "run $X: its input with sha256sum's digest" || nok "run $X: its input with sha256sum's digest"
	for y in A B C U; do
		[ $y = "$X" ] && continue
		lacks "$d" "$W/in/$y" || nok "run $X: holds only its own run's files" "it lists $y"
	done
done
ok "no bundle lists another run's input or the untraced process's"
[ "$(stat -c %u "$W/nb/rb/bom.json" 2> /dev/null)" = 65534 ] &&
	ok "nobody's bundle is delivered with nobody's ownership" ||
	nok "nobody's bundle is delivered with nobody's ownership"
n_root=$(jq_ 'len([r for r in d["runs"] if r["state"] == "running"])' < "$W/runs-root.json" 2> /dev/null)
n_nb=$(jq_ 'len(d["runs"])' < "$W/runs-nb.json" 2> /dev/null)
uids_nb=$(jq_ 'sorted(set(r["uid"] for r in d["runs"]))' < "$W/runs-nb.json" 2> /dev/null)
[ "$n_root" = 3 ] && ok "root's aicert runs lists the three active runs" || nok "root's aicert runs lists the three active runs" "$n_root"
[ "$n_nb" = 1 ] && [ "$uids_nb" = "[65534]" ] && ok "nobody's aicert runs lists only nobody's run" ||
	nok "nobody's aicert runs lists only nobody's run" "$n_nb $uids_nb"
ida=$(jq_ 'd["run"]["id"]' < "$W/ra/bom.json")
idb=$(jq_ 'd["run"]["id"]' < "$W/nb/rb/bom.json")
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/aicert" runs --fetch "$ida" -o "$W/nb/stolen" > "$W/steal.out" 2>&1
[ $? != 0 ] && [ ! -e "$W/nb/stolen/bom.json" ] && ok "nobody cannot fetch root's run" ||
	nok "nobody cannot fetch root's run" "$(tail -1 "$W/steal.out")"
"$B/aicert" runs --fetch "$idb" -o "$W/fetched" > /dev/null 2>&1 && cmp -s "$W/fetched/bom.json" "$W/nb/rb/bom.json" &&
	ok "root fetches nobody's run: the same bundle" || nok "root fetches nobody's run"
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/aicert" quote --nonce 00ff11ee -o "$W/nb/q" > "$W/q.out" 2>&1
if [ -f "$W/nb/q/quote.msg" ]; then
	/usr/bin/python3 tests/lib/celreplay.py dump "$W/nb/q/events.cel" > "$W/q.json" 2>&1
	if grep -q "$idb" "$W/q.json" && ! grep -q "$ida" "$W/q.json"; then
		ok "nobody's quote shows nobody's run and not root's"
	else
		nok "nobody's quote shows nobody's run and not root's"
	fi
	"$V" "$W/nb/q" --ak "$W/nb/q/ak.pub.pem" --nonce 00ff11ee > "$W/q.verify" 2>&1 &&
		ok "aicert-verify --nonce accepts the log quote" || nok "aicert-verify --nonce accepts the log quote" "$(grep FAIL "$W/q.verify" | head -1)"
	"$V" "$W/nb/q" --ak "$W/nb/q/ak.pub.pem" --nonce 00ff11ef > /dev/null 2>&1 &&
		nok "aicert-verify refuses the log quote with another nonce" || ok "aicert-verify refuses the log quote with another nonce"
else
	nok "aicert quote as nobody" "$(tail -1 "$W/q.out")"
fi

# ---- lying clients ----
for case in lie-uid not-my-child no-pidfd garbage; do
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups $CL "$SOCK" $case 2>&1) &&
		ok "a lying client is refused: $case" || nok "a lying client is refused: $case" "$(tail -1 <<< "$out")"
done

# ---- a tracked cgroup made by hand, with a nested child ----
mkdir -p "$CGROOT/$TRK"
mkdir "$CGROOT/$TRK/job_1"
mkdir "$CGROOT/$TRK/job_1/step_0"
running_cg() { "$B/aicert" runs --json | jq_ "[r for r in d['runs'] if r.get('cgroup') == '/$TRK/job_1' and r['state'] == '$1'][0]['id']"; }
if wait_for 30 running_cg running; then
	ok "a cgroup matching track: is picked up as a run"
	sh -c "echo \$\$ > $CGROOT/$TRK/job_1/step_0/cgroup.procs; cat $W/in/C > /dev/null" &&
		cat "$W/in/A" > /dev/null
	rmdir "$CGROOT/$TRK/job_1/step_0" "$CGROOT/$TRK/job_1" 2> /dev/null
	if wait_for 60 running_cg done; then
		tid=$(running_cg done)
		d="$W/spool/$tid"
		out=$(verify "$d") && ok "tracked run: aicert-verify accepts its bundle" || nok "tracked run: aicert-verify accepts its bundle" "$out"
		has "$d" "$W/in/C" && ok "tracked run: the nested child's read, with sha256sum's digest" ||
			nok "tracked run: the nested child's read, with sha256sum's digest"
		lacks "$d" "$W/in/A" && ok "tracked run: nothing from outside the cgroup" || nok "tracked run: nothing from outside the cgroup"
		n=$("$B/aicert" runs --json | jq_ "len([r for r in d['runs'] if (r.get('cgroup') or '').startswith('/$TRK/job_1/')])")
		[ "$n" = 0 ] && ok "the nested child cgroup is not a run of its own" || nok "the nested child cgroup is not a run of its own" "$n"
	else
		nok "the tracked run ends when its cgroup goes"
	fi
else
	nok "a cgroup matching track: is picked up as a run"
fi

# ---- SIGHUP: a good policy, then a bad one ----
cp "$W/policy-base.yaml" "$W/policy.yaml"
printf 'track:\n  - /%s/job_*\n  - /%s/other_*\n' "$TRK" "$TRK" >> "$W/policy.yaml"
kill -HUP "$PID"
mkdir "$CGROOT/$TRK/other_1"
ocg() { "$B/aicert" runs --json | jq_ "[r for r in d['runs'] if r.get('cgroup') == '/$TRK/other_1'][0]['id']"; }
wait_for 30 ocg && ok "SIGHUP with a good policy: its new track: glob is in force" ||
	nok "SIGHUP with a good policy: its new track: glob is in force"
rmdir "$CGROOT/$TRK/other_1"
cp "$W/policy.yaml" "$W/policy.good"
printf 'exclude: [unclosed\n' >> "$W/policy.yaml"
kill -HUP "$PID"
mkdir "$CGROOT/$TRK/job_2"
jcg() { "$B/aicert" runs --json | jq_ "[r for r in d['runs'] if r.get('cgroup') == '/$TRK/job_2'][0]['id']"; }
if wait_for 30 jcg && grep -q "policy.yaml:[0-9]*:[0-9]*" "$W/state/aicertd/aicertd.log"; then
	ok "SIGHUP with a bad policy: refused with FILE:LINE:COL, the old policy stays"
else
	nok "SIGHUP with a bad policy: refused with FILE:LINE:COL, the old policy stays" "$(tail -2 "$W/state/aicertd/aicertd.log")"
fi
rmdir "$CGROOT/$TRK/job_2"
cp "$W/policy.good" "$W/policy.yaml"

# ---- kill -9 mid-run, then restart ----
mkfifo "$W/go2"
"$B/aicert-trace" -q -o "$W/rk" -- sh -c "cat $W/in/A > /dev/null; touch $W/m/started.K; cat $W/go2 > /dev/null" 2> "$W/rk.err" &
pk=$!
if wait_for 60 test -e "$W/m/started.K"; then
	idk=$("$B/aicert" runs --json | jq_ "[r['id'] for r in d['runs'] if r['state'] == 'running'][0]")
	kill -9 "$PID"
	echo x > "$W/go2"
	wait_for 60 sh -c "! kill -0 $PID"
	wait $pk
	rk=$?
	[ $rk = 125 ] && grep -q "aicertd went away" "$W/rk.err" &&
		ok "kill -9 aicertd: the client says the run is no longer traced (exit 125)" ||
		nok "kill -9 aicertd: the client says the run is no longer traced (exit 125)" "rc=$rk $(tail -1 "$W/rk.err")"
	if daemon 2> "$W/restart.err"; then
		PID=$(dpid)
		echo "$PID" >> "$W/daemon.pids"
		st=$("$B/aicert" runs --json | jq_ "[r['state'] for r in d['runs'] if r['id'] == '$idk'][0]")
		[ "$st" = interrupted ] && ok "after the restart, the interrupted run is listed as interrupted" ||
			nok "after the restart, the interrupted run is listed as interrupted" \
				"$st: $(grep -v libbpf "$W/state/aicertd/aicertd.log" | grep -B6 "${idk:0:8} was interrupted" | tr '\n' ' ' | tail -c 600)"
		d="$W/spool/$idk"
		reason=$(jq_ 'd["run"].get("incomplete_reason")' < "$d/bom.json" 2> /dev/null)
		[ "$reason" = "monitor restarted" ] && ok "its bundle says incomplete: monitor restarted" ||
			nok "its bundle says incomplete: monitor restarted" "$reason"
		out=$(verify "$d" 9) && ok "aicert-verify: the interrupted run's bundle verifies as incomplete (9)" ||
			nok "aicert-verify: the interrupted run's bundle verifies as incomplete (9)" "$out"
	else
		nok "aicertd restarts after kill -9" "$(tail -1 "$W/restart.err")"
	fi
else
	nok "a run for the kill -9 test starts"
fi

# ---- exit statuses and signals, as standalone ----
"$B/aicert-trace" -q -o "$W/r7" -- sh -c 'exit 7' 2> /dev/null
[ $? = 7 ] && ok "through aicertd: exit status 7 is passed on" || nok "through aicertd: exit status 7 is passed on"
mkfifo "$W/hold"
"$B/aicert-trace" -q --strict --detach-timeout 0 -o "$W/rst" -- sh -c "cat $W/hold > /dev/null & exit 0" 2> "$W/rst.err"
rst=$?
timeout 30 sh -c "echo x > $W/hold" # the process it left behind ends (if it still runs)
[ $rst = 125 ] && grep -q -- "--strict" "$W/rst.err" && [ -f "$W/rst/bom.json" ] &&
	ok "through aicertd: --strict with a detached run exits 125, with the bundle" ||
	nok "through aicertd: --strict with a detached run exits 125, with the bundle" "rc=$rst $(tail -1 "$W/rst.err")"
mkfifo "$W/sig"
"$B/aicert-trace" -q -o "$W/rs" -- sh -c "touch $W/m/started.S; exec cat $W/sig" 2> /dev/null &
ps_=$!
wait_for 60 test -e "$W/m/started.S"
kill -TERM $ps_
wait $ps_
[ $? = 143 ] && ok "through aicertd: SIGTERM reaches the command (exit 143)" || nok "through aicertd: SIGTERM reaches the command (exit 143)"
"$B/aicert-trace" -q --no-tpm -- true > "$W/notpm.out" 2>&1
[ $? = 125 ] && grep -q "aicertd" "$W/notpm.out" && ok "a daemon-side option in client mode is refused, saying why" ||
	nok "a daemon-side option in client mode is refused, saying why" "$(tail -1 "$W/notpm.out")"

# ---- SIGTERM: active runs written as incomplete ----
mkfifo "$W/go3"
"$B/aicert-trace" -q -o "$W/rt" -- sh -c "touch $W/m/started.T; cat $W/go3 > /dev/null" 2> "$W/rt.err" &
pt=$!
wait_for 60 test -e "$W/m/started.T"
kill -TERM "$PID"
wait_for 60 sh -c "! kill -0 $PID"
echo x > "$W/go3"
wait $pt
if [ -f "$W/rt/bom.json" ] && [ "$(jq_ 'd["run"].get("incomplete_reason")' < "$W/rt/bom.json")" = "monitor stopped" ]; then
	ok "SIGTERM: the active run's bundle is delivered, marked incomplete (monitor stopped)"
else
	nok "SIGTERM: the active run's bundle is delivered, marked incomplete (monitor stopped)" "$(tail -1 "$W/rt.err")"
fi
kill -0 "$PID" 2> /dev/null && nok "aicertd exits on SIGTERM" || ok "aicertd exits on SIGTERM"
[ -e "$SOCK" ] && nok "aicertd removes its socket on SIGTERM" || ok "aicertd removes its socket on SIGTERM"
exit $((fails > 0))
