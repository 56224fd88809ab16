#!/bin/bash
# aicertd's job steps (socket op "slurm", what spank_aicert.so sends from slurmstepd), played by
# tests/lib/jobstep_client.py without a scheduler: a 2-task step as an unprivileged user in a v2
# cgroup aicertd makes (a hybrid node); a step in a cgroup shaped like Slurm's own v2 step cgroup,
# which is adopted and left alone (a pure v2 node); a task killed by a signal; refusals (not root,
# a bad node list, a node outside its step, a pidfd of a process that is not the caller's child);
# the job in run_start, bom.json and `aicert runs`; kill -9 of aicertd mid-step, then restart.
# Every bundle is checked with aicert-verify (the swtpm's AK pinned), digests with sha256sum.
# Synchronised on FIFOs and the daemon's answers, never on sleeps.
. "$(dirname "$0")/../lib/common.sh"
need_root "needs root to run aicertd and to play slurmstepd"
need_built aicertd aicert aicert-verify
need_cmd setpriv "setpriv (util-linux) not installed"
V=$B/aicert-verify
JS="/usr/bin/python3 tests/lib/jobstep_client.py"

W=$(mktemp -d "${TMPDIR:-/tmp}/aicert-js.XXXXXX")
chmod 755 "$W"
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CGROOT=${CGROOT:-/run/aicert/cgroup2}
SL="aicertjs.$$"
SOCK=$W/run/aicertd.sock
export AICERT_SOCKET=$SOCK
cleanup() {
	local p d
	for p in $(cat "$W"/daemon.pids 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
	for d in $(find "$CGROOT/$SL" -depth -type d 2> /dev/null); do
		{ echo 1 > "$d/cgroup.kill"; rmdir "$d"; } 2> /dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
need_swtpm

daemon() {
	"$B/aicertd" --socket "$SOCK" --state-dir "$W/state" --spool "$W/spool" --tcti "$AICERT_TCTI" \
		--no-cache "$@"
}
dpid() { "$B/aicert" status --json 2> /dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
verify() { # BUNDLE [want exit]: aicert-verify with the bundle's own AK pinned
	local rc
	"$V" "$1" --ak "$1/ak.pub.pem" > "$1.verify" 2>&1
	rc=$?
	[ "$rc" = "${2:-0}" ] || { echo "aicert-verify exit $rc: $(grep FAIL "$1.verify" | head -1)"; return 1; }
}
has() { # BUNDLE FILE: bom.json lists FILE with sha256sum's digest
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/lib"); import bomq
b = bomq.load(sys.argv[1]); f = bomq.find(b, sys.argv[2])
sys.exit(0 if any(x["sha256"] == sys.argv[3] for x in f) else 1)' "$1" "$2" "$(sha256sum "$2" | cut -d' ' -f1)"
}
bomf() { /usr/bin/python3 -c "import json,sys; b=json.load(open(sys.argv[1] + '/bom.json')); print($2)" "$1"; }
wait_done() { # RUN-ID: until aicertd lists the run as finished (each try is the daemon's answer)
	local n=600
	while ! "$B/aicert" runs --json 2> /dev/null | /usr/bin/python3 -c 'import json,sys
sys.exit(0 if any(r["id"] == sys.argv[1] and r["bundle"] for r in json.load(sys.stdin)["runs"]) else 1)' "$1"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}
rid() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])' < "$1"; }

if daemon 2> "$W/start.err"; then ok "aicertd starts"; else nok "aicertd starts" "$(tail -1 "$W/start.err")"; exit 1; fi
dpid >> "$W/daemon.pids"
mkdir -p "$W/in" "$W/home"
chown 65534:65534 "$W/home"
for x in 0 1 other; do head -c 4000 /dev/urandom > "$W/in/shard$x"; done
chmod 644 "$W"/in/*

# ---- a 2-task step of user nobody, on a hybrid node: aicertd's own cgroup ----
$JS "$SOCK" --job 4242 --step 0 --node n1 --nodes "n[1-2]" --tasks 2 --uid 65534 --gid 65534 \
	--cwd "$W/home" -- sh -c "cat $W/in/shard\$SLURM_PROCID > /dev/null; echo m > model.\$SLURM_PROCID" \
	> "$W/s1.out" 2> "$W/s1.err"
rc=$?
[ $rc = 0 ] && [ "$(grep -c '"op": "started"' "$W/s1.out")" = 2 ] && grep -q '"joined": true' "$W/s1.out" &&
	ok "two tasks of a step: the first opens the run, the second joins it" ||
	nok "two tasks of a step: the first opens the run, the second joins it" "rc $rc: $(tail -1 "$W/s1.err") $(head -1 "$W/s1.out")"
R1=$(rid "$W/s1.out")
wait_done "$R1" && ok "the step's run ends when its tasks are gone" || nok "the step's run ends when its tasks are gone"
D1=$W/spool/$R1
if out=$(verify "$D1"); then ok "aicert-verify accepts the step's bundle (AK pinned)"; else nok "aicert-verify accepts the step's bundle" "$out"; fi
[ "$(bomf "$D1" 'b["job"]')" = "{'scheduler': 'slurm', 'id': '4242', 'step': '0', 'node': 'n1', 'nodes': ['n1', 'n2']}" ] &&
	ok "bom.json's job: slurm 4242 step 0 on n1 of n1,n2" || nok "bom.json's job" "$(bomf "$D1" 'b.get("job")')"
"$B/aicert" show "$D1/events.cel" | grep -q '"node": "n1"' && ok "run_start in events.cel holds the job" ||
	nok "run_start in events.cel holds the job"
has "$D1" "$W/in/shard0" && has "$D1" "$W/in/shard1" && ok "both tasks' shards, with sha256sum's digests" ||
	nok "both tasks' shards, with sha256sum's digests"
has "$D1" "$W/home/model.0" && has "$D1" "$W/home/model.1" && ok "both tasks' outputs, with sha256sum's digests" ||
	nok "both tasks' outputs, with sha256sum's digests"
/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/lib"); import bomq
sys.exit(1 if bomq.find(bomq.load(sys.argv[1]), sys.argv[2]) else 0)' "$D1" "$W/in/shardother" &&
	ok "a file no task read is not listed" || nok "a file no task read is not listed"
[ "$(bomf "$D1" 'b["run"]["cwd"]')" = "$W/home" ] && ok "the run's cwd is the step's" || nok "the run's cwd is the step's"
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/aicert" runs --json > "$W/runs-nb.json" 2>&1
/usr/bin/python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["runs"] if x["id"]==sys.argv[2]]
sys.exit(0 if r and r[0]["job"]["id"] == "4242" and r[0]["user"] == "nobody" else 1)' "$W/runs-nb.json" "$R1" &&
	ok "the job's user sees the step's run, with its job, in aicert runs" ||
	nok "the job's user sees the step's run in aicert runs" "$(head -c 300 "$W/runs-nb.json")"
[ ! -d "$CGROOT/aicert/$R1" ] && ok "aicertd's cgroup of the step is removed" || nok "aicertd's cgroup of the step is removed"

# ---- Slurm's own v2 step cgroup (a pure v2 node): adopted, nothing moved ----
CG=$CGROOT/$SL/job_4243/step_1/user
mkdir -p "$CG"
$JS "$SOCK" --job 4243 --step 1 --node n1 --nodes n1 --tasks 2 --cgroup "$CG" -- \
	sh -c "cat $W/in/shard1 > /dev/null; [ \$SLURM_PROCID = 1 ] || exit 0; kill -TERM \$\$" > "$W/s2.out" 2> "$W/s2.err"
rc=$?
grep -q "\"cgroup\": \"$CG\"" "$W/s2.out" && ok "a task in .../job_4243/step_1/user/task_N: the step's user cgroup is adopted" ||
	nok "Slurm's step cgroup is adopted" "$(head -1 "$W/s2.out") $(tail -1 "$W/s2.err")"
R2=$(rid "$W/s2.out")
wait_done "$R2" || nok "the adopted step's run ends"
D2=$W/spool/$R2
if out=$(verify "$D2"); then ok "aicert-verify accepts the adopted step's bundle"; else nok "aicert-verify accepts the adopted step's bundle" "$out"; fi
[ "$(bomf "$D2" 'b["run"]["cgroup"]')" = "/$SL/job_4243/step_1/user" ] && ok "bom.json names the adopted cgroup" ||
	nok "bom.json names the adopted cgroup" "$(bomf "$D2" 'b["run"].get("cgroup")')"
[ -d "$CG/task_0" ] && ok "Slurm's cgroup is left to Slurm (not removed)" || nok "Slurm's cgroup is left to Slurm"
[ "$(bomf "$D2" 'b["run"]["exit_code"], b["run"]["signal"]')" = "0 0" ] &&
	ok "the run's exit is the first task's (0), not the killed second's" || nok "the run's exit is the first task's" "$(bomf "$D2" 'b["run"]["exit_code"], b["run"]["signal"]')"

# ---- a step killed by a signal ----
$JS "$SOCK" --job 4244 --step 0 --node n1 --nodes n1 -- sh -c "cat $W/in/shard0 > /dev/null; kill -TERM \$\$" > "$W/s3.out" 2> "$W/s3.err"
rc=$?
R3=$(rid "$W/s3.out")
wait_done "$R3" || nok "the killed step's run ends"
[ $rc = 143 ] && [ "$(bomf "$W/spool/$R3" 'b["run"]["exit_code"], b["run"]["signal"]')" = "-1 15" ] &&
	ok "a task killed by SIGTERM: bom.json says signal 15" || nok "a task killed by SIGTERM: bom.json says signal 15" "rc $rc $(bomf "$W/spool/$R3" 'b["run"]')"
if out=$(verify "$W/spool/$R3"); then ok "aicert-verify accepts the killed step's bundle"; else nok "aicert-verify accepts the killed step's bundle" "$out"; fi

# ---- refusals ----
n0=$(ls "$W/spool" | wc -l)
setpriv --reuid=65534 --regid=65534 --clear-groups $JS "$SOCK" --job 1 --step 0 --node n1 --nodes n1 -- true > "$W/r1.out" 2>&1
[ $? = 3 ] && grep -q "only root" "$W/r1.out" && ok "a job step from a user (not root) is refused" || nok "a job step from a user is refused" "$(head -1 "$W/r1.out")"
$JS "$SOCK" --job 1 --step 0 --node n1 --nodes "n[1-" -- true > "$W/r2.out" 2>&1
[ $? = 3 ] && grep -q "not a Slurm hostlist" "$W/r2.out" && ok "a malformed node list is refused" || nok "a malformed node list is refused" "$(head -1 "$W/r2.out")"
$JS "$SOCK" --job 1 --step 0 --node n9 --nodes "n[1-2]" -- true > "$W/r3.out" 2>&1
[ $? = 3 ] && grep -q "not among the step's nodes" "$W/r3.out" && ok "a node outside its step's node list is refused" || nok "a node outside its step's nodes is refused" "$(head -1 "$W/r3.out")"
$JS "$SOCK" --job "1 2" --step 0 --node n1 --nodes n1 -- true > "$W/r4.out" 2>&1
[ $? = 3 ] && grep -q "bad-request" "$W/r4.out" && ok "a job id with a space is refused" || nok "a job id with a space is refused" "$(head -1 "$W/r4.out")"
/usr/bin/python3 - "$SOCK" > "$W/r5.out" 2>&1 << 'PY'
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
req = {"op": "slurm", "job": "1", "step": "0", "node": "n1", "nodes": "n1", "user_uid": 0,
       "user_gid": 0, "cwd": "/", "argv": ["true"]}
pfd = os.pidfd_open(os.getppid())  # the test's shell: not our child
socket.send_fds(s, [json.dumps(req).encode()], [pfd])
print(s.recv(65536).decode())
PY
grep -q "not the caller's child" "$W/r5.out" && ok "a pidfd of a process that is not the caller's child is refused" ||
	nok "a pidfd of a process that is not the caller's child is refused" "$(head -1 "$W/r5.out")"
[ "$(ls "$W/spool" | wc -l)" = "$n0" ] && ok "refused steps leave no bundle" || nok "refused steps leave no bundle"

# ---- kill -9 of aicertd mid-step, then restart ----
mkfifo "$W/hold"
$JS "$SOCK" --job 4245 --step 0 --node n1 --nodes n1 -- sh -c "cat $W/in/shard0 > /dev/null; cat $W/hold > /dev/null" > "$W/s4.out" 2> "$W/s4.err" &
js=$!
n=600
while ! grep -q started "$W/s4.out" 2> /dev/null && [ $n -gt 0 ]; do n=$((n - 1)); sleep 0.1; done
R4=$(rid "$W/s4.out")
kill -9 "$(dpid)"
echo go > "$W/hold"
wait $js
daemon 2> "$W/restart.err" && dpid >> "$W/daemon.pids" || nok "aicertd restarts" "$(tail -1 "$W/restart.err")"
wait_done "$R4" && [ "$(bomf "$W/spool/$R4" 'b["run"]["incomplete_reason"], b["job"]["id"]')" = "monitor restarted 4245" ] &&
	ok "after kill -9 and a restart the step's bundle is written, incomplete (monitor restarted), with its job" ||
	nok "the interrupted step's bundle after a restart" "$(bomf "$W/spool/$R4" 'b["run"]' 2>&1 | tail -1)"
if out=$(verify "$W/spool/$R4" 9); then
	ok "aicert-verify checks the recovered step's bundle and says it is incomplete (exit 9)"
else
	nok "aicert-verify on the recovered step's bundle" "$out"
fi
kill -TERM "$(dpid)"
exit $((fails > 0))
