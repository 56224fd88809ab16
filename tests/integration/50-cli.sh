#!/bin/bash
# The command-line contract of aicert-trace, aicert-verify and `aicert show`, as a user meets it:
# --help names every option the program accepts (read from its getopt tables), --version, usage
# errors (one line naming the option, the documented exit code: aicert-trace 125 as env(1),
# aicert-verify 1, aicert 2), refused runs that leave the command unrun and an existing bundle
# untouched, -q, --no-tpm, exit status pass-through and --detach-timeout / --strict.
# The format checks of `aicert show` are in 30-show.sh; the verifier's checks in 40-verify-tamper.sh.
. "$(dirname "$0")/../lib/common.sh"
T=$B/aicert-trace V=$B/aicert-verify A=$B/aicert
need_built aicert-trace aicert-verify aicert
W=$(mktemp -d /tmp/aicert-cli.XXXXXX)
cleanup() {
	local f
	for f in "$W"/daemon*.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
# run CMD...: stdout in $W/out, stderr in $W/err, the exit status in $rc
run() {
	"$@" > "$W/out" 2> "$W/err" < /dev/null
	rc=$?
}
err1() { head -1 "$W/err" | head -c 300; }
errs() { head -c 300 "$W/err" | tr '\n' '|'; }
VERSION=$(sed -n 's/^VERSION := *//p' Makefile)

# --- --help and --version ---

# The options a program accepts, from its source: long options of every struct option table,
# the letters of its getopt_long optstring, and argv[1] strings compared by hand (aicert).
options_of() { # source.c
	grep -oP '\{\s*"\K[a-z][a-z0-9-]*(?=",\s*(no|required|optional)_argument)' "$1" |
		sed 's/^/--/'
	grep -oP 'getopt_long\([^"]*"\K[^"]*' "$1" | tr -d '+:' | grep -o . | sed 's/^/-/'
	grep -oP 'strcmp\(argv\[1\], "\K-[^"]*' "$1"
}
mentions() { # option file: the option as a word of its own, not part of a longer one
	grep -qE -- "(^|[^a-zA-Z0-9-])$1([^a-zA-Z0-9-]|\$)" "$2"
}
check_help() { # name source.c program [args]
	local name=$1 src=$2 o missing="" n=0
	shift 2
	run "$@" --help
	if [ $rc != 0 ] || [ ! -s "$W/out" ] || [ -s "$W/err" ]; then
		nok "$name --help: exit $rc, $(wc -l < "$W/out") lines on stdout, stderr: $(errs)"
		return
	fi
	ok "$name --help prints its usage on stdout and exits 0"
	for o in $(options_of "$src" | sort -u); do
		n=$((n + 1))
		mentions "$o" "$W/out" || missing="$missing $o"
	done
	if [ $n -lt 3 ]; then
		nok "$name: found only $n options in $src (the getopt table was not read)"
	elif [ -z "$missing" ]; then
		ok "$name --help mentions all $n options it accepts"
	else
		nok "$name --help does not mention:$missing (accepted by $src)"
	fi
}
check_version() { # name program
	run "$2" --version
	if [ $rc = 0 ] && [ "$(cat "$W/out")" = "$1 $VERSION" ] && [ ! -s "$W/err" ]; then
		ok "$1 --version prints '$1 $VERSION'"
	else
		nok "$1 --version: exit $rc, stdout '$(head -c 100 "$W/out")', stderr $(errs)"
	fi
}
check_help aicert-trace userspace/cmd/aicert-trace.c "$T"
check_help aicert-verify userspace/cmd/aicert-verify.c "$V"
check_help aicert userspace/cmd/aicert.c "$A"
run "$A" show -h
[ $rc = 0 ] && grep -q '^Usage: aicert show' "$W/out" && ok "aicert show -h prints the usage" ||
	nok "aicert show -h: exit $rc, $(head -c 100 "$W/out")"
check_version aicert-trace "$T"
check_version aicert-verify "$V"
check_version aicert "$A"

# --- usage errors: the documented exit code, one line that names the option ---

# usage_error NAME WANT_RC PROG_LABEL PATTERN CMD...: the first stderr line starts with the
# program's name (getopt prints argv[0], so a path to it is fine) and matches PATTERN; stdout
# stays empty.
usage_error() {
	local name=$1 want=$2 label=$3 pat=$4 prefix
	shift 4
	run "$@"
	prefix=$(head -1 "$W/err" | sed -n 's/^\([^:]*\):.*/\1/p')
	prefix=${prefix##*/}
	if [ $rc != "$want" ]; then
		nok "$name: exit $rc, want $want; stderr: $(errs)"
	elif [ -s "$W/out" ]; then
		nok "$name: wrote to stdout: $(head -c 100 "$W/out")"
	elif ! head -1 "$W/err" | grep -qE -- "$pat"; then
		nok "$name: the first stderr line does not match /$pat/: $(err1)"
	elif [ "$prefix" != "$label" ]; then
		nok "$name: the message is prefixed '$prefix:', not '$label:': $(err1)"
	else
		ok "$name: exit $want, '$(err1)'"
	fi
}
usage_error "aicert-trace --bogus-opt" 125 aicert-trace "'?--bogus-opt" "$T" --bogus-opt -- true
usage_error "aicert-trace -Z" 125 aicert-trace "(-Z|'Z')" "$T" -Z -- true
usage_error "aicert-trace --pcr (no argument)" 125 aicert-trace "--pcr.*(requires|argument)" "$T" --pcr
usage_error "aicert-trace -o (no argument)" 125 aicert-trace "requires.*('o'|-o)|('o'|-o).*requires" "$T" -o
usage_error "aicert-trace without a command" 125 aicert-trace "no command.*usage: aicert-trace" \
	"$T" --no-tpm
usage_error "aicert-trace with an empty command after --" 125 aicert-trace "no command" \
	"$T" --no-tpm --
usage_error "aicert-verify --bogus-opt" 1 aicert-verify "'?--bogus-opt" "$V" --bogus-opt "$W"
usage_error "aicert-verify --ak (no argument)" 1 aicert-verify "--ak.*(requires|argument)" \
	"$V" "$W" --ak
usage_error "aicert-verify --nonce zz" 1 aicert-verify "--nonce.*zz|zz.*hex" "$V" --nonce zz "$W"
usage_error "aicert-verify with two bundles" 1 aicert-verify "one BUNDLE" "$V" "$W" "$W"
usage_error "aicert-verify without a bundle" 1 aicert-verify "BUNDLE" "$V"
usage_error "aicert show --bogus-opt" 2 "aicert show" "'?--bogus-opt" "$A" show --bogus-opt "$W"
usage_error "aicert show --json without a FILE" 2 "aicert show" "FILE" "$A" show --json
usage_error "aicert show with two FILEs" 2 "aicert show" "FILE" "$A" show "$W" "$W"

# aicert-trace's option values: each refused with 125 before anything runs
touch "$W/empty-file"
while IFS='|' read -r opt val pat; do
	rm -f "$W/marker"
	run "$T" "$opt" "$val" --no-tpm --no-cache -o "$W/v" -- touch "$W/marker"
	if [ $rc = 125 ] && head -1 "$W/err" | grep -qE -- "$pat" && [ ! -e "$W/marker" ] &&
		[ ! -e "$W/v/bom.json" ]; then
		ok "aicert-trace $opt $val: exit 125, '$(err1)'"
	else
		nok "aicert-trace $opt $val: exit $rc, marker $([ -e "$W/marker" ] && echo made ||
			echo absent), stderr: $(errs)"
	fi
done << 'EOF'
--backend|bogus|--backend.*bogus
--pcr|24|--pcr.*24
--pcr|x|--pcr.*x
--jobs|0|--jobs.*0
--nonce|zz|--nonce.*zz
--nonce|abc|--nonce.*abc
--ak-handle|0x123|--ak-handle.*0x123
--ak-alg|dsa|--ak-alg.*dsa
--detach-timeout|-1|--detach-timeout.*-1
--extend-rate|0|--extend-rate.*0
--tpm-timeout|0|--tpm-timeout.*0
--tpm-timeout|x|--tpm-timeout.*x
--pcr|16|PCR 16 is resettable
--pcr|10|PCR 10 belongs to IMA
EOF

# --- aicert-verify: what is not a bundle ---
run "$V" "$W/missing"
[ $rc = 1 ] && [ "$(wc -l < "$W/err")" = 1 ] && grep -q "$W/missing: No such file or directory" "$W/err" &&
	ok "aicert-verify MISSING: exit 1 (usage), '$(err1)'" ||
	nok "aicert-verify MISSING: exit $rc, stderr: $(errs)"
run "$V" "$W/empty-file"
[ $rc = 1 ] && [ "$(wc -l < "$W/err")" = 1 ] && grep -q "$W/empty-file: not a directory" "$W/err" &&
	ok "aicert-verify FILE: exit 1 (usage), '$(err1)'" ||
	nok "aicert-verify FILE: exit $rc, stderr: $(errs)"
mkdir "$W/emptydir"
run "$V" "$W/emptydir"
if [ $rc = 2 ] && grep -q '^FAIL manifest: .*manifest.json' "$W/out" &&
	grep -q 'exit 2)$' "$W/out"; then
	ok "aicert-verify EMPTY-DIR: exit 2 (manifest), '$(grep -m1 '^FAIL' "$W/out")'"
else
	nok "aicert-verify EMPTY-DIR: exit $rc, $(head -3 "$W/out" | tr '\n' '|') $(errs)"
fi
bad=$(grep -vcE '^(PASS|FAIL) [a-z]+: .+|^(verdict: |UNATTESTED: )' "$W/out")
[ "$bad" = 0 ] && ok "aicert-verify prints one 'PASS|FAIL check: reason' line per check" ||
	nok "aicert-verify: $bad lines are neither a check nor the verdict: $(head -c 200 "$W/out")"
check_json() { # name want_rc want_verdict (report in $W/out)
	if python3 - "$W/out" "$2" "$3" << 'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
assert isinstance(r["checks"], list) and r["checks"], "no checks"
for c in r["checks"]:
    assert isinstance(c["name"], str) and isinstance(c["ok"], bool) and isinstance(c["reason"], str), c
    assert "\n" not in c["reason"], c
assert r["verdict"] == sys.argv[3], r["verdict"]
assert r["exit_code"] == int(sys.argv[2]), r["exit_code"]
PY
		ok "$1: valid JSON with checks, verdict '$3', exit_code $2"
	else
		nok "$1: $(head -c 200 "$W/out")"
	fi
}
run "$V" --json "$W/emptydir"
[ $rc = 2 ] && ok "aicert-verify --json EMPTY-DIR exits 2" || nok "aicert-verify --json EMPTY-DIR: exit $rc"
check_json "aicert-verify --json EMPTY-DIR" 2 failed

# --- aicert show: inputs that are not logs or bundles (the formats are 30-show.sh's) ---
run "$A" show /dev/null
[ $rc = 1 ] && grep -q '^aicert show: /dev/null: not an IMA list, a CEL log, a firmware log or a bundle' "$W/err" &&
	ok "aicert show /dev/null (not a regular file): exit 1, '$(err1)'" ||
	nok "aicert show /dev/null: exit $rc, stderr: $(errs)"
printf 'hello\n' > "$W/text"
run "$A" show --ima "$W/text"
[ $rc = 1 ] && grep -q "^aicert show: $W/text: not an IMA list" "$W/err" &&
	ok "aicert show --ima TEXT: exit 1, '$(err1)'" || nok "aicert show --ima TEXT: exit $rc, stderr: $(errs)"
mkdir "$W/badbom"
printf '{not json\n' > "$W/badbom/bom.json"
run "$A" show "$W/badbom"
[ $rc = 1 ] && grep -q "^aicert show: $W/badbom/bom.json: .*line 1" "$W/err" && [ ! -s "$W/out" ] &&
	ok "aicert show BUNDLE with a broken bom.json: exit 1, '$(err1)'" ||
	nok "aicert show BUNDLE with a broken bom.json: exit $rc, stderr: $(errs)"

# --- aicert-trace runs (root: BPF) ---
if [ "$(id -u)" != 0 ]; then
	echo "SKIPPED: the aicert-trace run checks need root"
	exit 77
fi
TR=("$T" --no-tpm --no-cache)

run "${TR[@]}" -o "$W/b1" -- sh -c 'echo out-line; exit 7'
[ $rc = 7 ] && ok "aicert-trace exits with the command's status (sh -c 'exit 7' -> 7)" ||
	nok "aicert-trace -- sh -c 'exit 7': exit $rc, stderr: $(errs)"
[ "$(cat "$W/out")" = out-line ] && ok "the command's stdout passes through unchanged" ||
	nok "the command's stdout became '$(head -c 100 "$W/out")'"
grep -q '^aicert-trace: warning: UNATTESTED' "$W/err" && ok "--no-tpm warns UNATTESTED on stderr" ||
	nok "--no-tpm: no UNATTESTED warning on stderr: $(errs)"
[ -s "$W/b1/bom.json" ] || { nok "no bundle in $W/b1: $(errs)"; exit 1; }

run "${TR[@]}" -q -o "$W/q" -- sh -c 'echo quiet-out'
if [ $rc = 0 ] && [ "$(cat "$W/out")" = quiet-out ] && [ ! -s "$W/err" ] && [ -s "$W/q/bom.json" ]; then
	ok "-q: nothing but the command's own output"
else
	nok "-q: exit $rc, stdout '$(head -c 100 "$W/out")', stderr: $(errs)"
fi

for c in "127|nonexistent-command-aicert-cli" "126|$W/text" "143|sh|-c|kill -TERM \$\$"; do
	IFS='|' read -r -a cmd <<< "$c"
	want=${cmd[0]}
	run "${TR[@]}" -q -o "$W/x$want" -- "${cmd[@]:1}"
	[ $rc = "$want" ] && ok "aicert-trace -- ${cmd[*]:1}: exit $want as env(1) / 128+signal" ||
		nok "aicert-trace -- ${cmd[*]:1}: exit $rc, want $want; stderr: $(errs)"
done

# -o at a directory that holds a bundle: refused, nothing run, nothing changed
(cd "$W/b1" && sha256sum -- *) > "$W/b1.sums"
rm -f "$W/marker"
run "${TR[@]}" -o "$W/b1" -- touch "$W/marker"
if [ $rc = 125 ] && grep -qE 'already holds a bundle|not empty' "$W/err" && [ ! -e "$W/marker" ] &&
	(cd "$W/b1" && sha256sum -- *) | cmp -s - "$W/b1.sums"; then
	ok "-o at an existing bundle: exit 125, command not run, bundle unchanged, '$(err1)'"
else
	nok "-o at an existing bundle: exit $rc, marker $([ -e "$W/marker" ] && echo made || echo absent), $(
		(cd "$W/b1" && sha256sum -- *) | cmp - "$W/b1.sums" 2>&1 | head -1) stderr: $(errs)"
fi
# "must be empty or absent" (--help): a directory with a user's file is not a bundle to write into
mkdir "$W/notes"
echo "my notes" > "$W/notes/notes.txt"
rm -f "$W/marker"
run "${TR[@]}" -o "$W/notes" -- touch "$W/marker"
if [ $rc = 125 ] && [ ! -e "$W/marker" ] && [ ! -e "$W/notes/bom.json" ] &&
	[ "$(ls "$W/notes")" = notes.txt ]; then
	ok "-o at a non-empty directory: exit 125, command not run, '$(err1)'"
else
	nok "-o at a non-empty directory (--help: 'must be empty or absent'): exit $rc, it now holds" \
		"$(ls "$W/notes" | tr '\n' ' ')"
fi
echo keep > "$W/plainfile"
rm -f "$W/marker"
run "${TR[@]}" -o "$W/plainfile" -- touch "$W/marker"
[ $rc = 125 ] && grep -q 'not a directory' "$W/err" && [ ! -e "$W/marker" ] &&
	[ "$(cat "$W/plainfile")" = keep ] && ok "-o at a regular file: exit 125, '$(err1)'" ||
	nok "-o at a regular file: exit $rc, stderr: $(errs)"

# --backend lsm where the kernel has no BPF LSM
if grep -qw bpf /sys/kernel/security/lsm 2> /dev/null; then
	echo "# this kernel has BPF LSM: the --backend lsm refusal is not checked"
else
	rm -f "$W/marker"
	run "${TR[@]}" --backend lsm -o "$W/lsm" -- touch "$W/marker"
	if [ $rc = 125 ] && grep -qE 'LSM.*(/sys/kernel/security/lsm|lsm=)' "$W/err" &&
		[ ! -e "$W/marker" ] && [ ! -e "$W/lsm/bom.json" ]; then
		ok "--backend lsm without BPF LSM: exit 125, '$(grep -m1 LSM "$W/err")'"
	else
		nok "--backend lsm without BPF LSM: exit $rc, marker $([ -e "$W/marker" ] && echo made ||
			echo absent), stderr: $(errs)"
	fi
fi

# a policy that does not parse: file:line:col, nothing run
printf 'exclude:\n  - /proc\n  bad: [unclosed\n' > "$W/bad.yaml"
rm -f "$W/marker"
run "${TR[@]}" -p "$W/bad.yaml" -o "$W/pol" -- touch "$W/marker"
[ $rc = 125 ] && grep -qE "^aicert-trace: $W/bad.yaml:[0-9]+:[0-9]+: " "$W/err" && [ ! -e "$W/marker" ] &&
	ok "-p BAD.yaml: exit 125, '$(err1)'" ||
	nok "-p BAD.yaml: exit $rc, marker $([ -e "$W/marker" ] && echo made || echo absent), stderr: $(errs)"
run "${TR[@]}" -p "$W/nope.yaml" -o "$W/pol2" -- touch "$W/marker"
[ $rc = 125 ] && grep -q "$W/nope.yaml: No such file or directory" "$W/err" && [ ! -e "$W/marker" ] &&
	ok "-p MISSING.yaml: exit 125, '$(err1)'" || nok "-p MISSING.yaml: exit $rc, stderr: $(errs)"

# aicert-verify on the --no-tpm bundle: unattested, never 0
run "$V" --json "$W/b1" --ak "$W/b1/ak.pub.pem"
[ $rc = 10 ] && ok "aicert-verify --json on a --no-tpm bundle exits 10" ||
	nok "aicert-verify --json on a --no-tpm bundle: exit $rc"
check_json "aicert-verify --json on a --no-tpm bundle" 10 unattested

# --detach-timeout 1 with a daemon that lingers 30 s; --strict then makes it 125
daemon_run() { # name extra-args...
	local name=$1 t0
	shift
	t0=$(date +%s%N)
	run "${TR[@]}" --detach-timeout 1 "$@" -o "$W/$name" -- sh -c \
		"sh -c 'echo \$\$ > $W/daemon-$name.pid; exec sleep 30' < /dev/null > /dev/null 2>&1 & exit 0"
	elapsed=$((($(date +%s%N) - t0) / 1000000))
}
daemon_run det
# the event that matters: aicert-trace returned while the daemon it left behind still ran (on a
# loaded machine the BPF load alone can take seconds, so no tight wall-clock bound)
dpid=$(cat "$W/daemon-det.pid" 2> /dev/null)
if [ $rc = 0 ] && [ -n "$dpid" ] && kill -0 "$dpid" 2> /dev/null && [ $elapsed -lt 25000 ]; then
	ok "--detach-timeout 1 with a 30 s daemon: exit 0 after $elapsed ms, the daemon still running"
else
	nok "--detach-timeout 1 with a 30 s daemon: exit $rc after $elapsed ms, daemon ${dpid:-?} $(kill -0 "${dpid:-0}" 2> /dev/null && echo running || echo gone); stderr: $(errs)"
fi
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["run"]; sys.exit(not (r["detached"] is True and r["complete"] is False))' \
	"$W/det/bom.json" 2> /dev/null && ok 'the detached run says "detached": true, "complete": false' ||
	nok "the detached run's bom.json run: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["run"]; print(r.get("detached"), r.get("complete"))' "$W/det/bom.json" 2>&1 | tail -1)"
grep -q 'detached' "$W/err" && ok "a detached run is said on stderr" ||
	nok "a detached run is not said on stderr: $(errs)"
daemon_run detstrict --strict
[ $rc = 125 ] && grep -q -- '--strict' "$W/err" && [ -s "$W/detstrict/bom.json" ] &&
	ok "--strict on a detached run: exit 125, bundle still written, '$(grep -m1 -- --strict "$W/err")'" ||
	nok "--strict on a detached run: exit $rc, stderr: $(errs)"
run "${TR[@]}" --strict -o "$W/strict-ok" -- true
[ $rc = 0 ] && ok "--strict on a complete run: exit 0" || nok "--strict on a complete run: exit $rc, stderr: $(errs)"

[ $fails = 0 ]
