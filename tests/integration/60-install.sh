#!/bin/bash
# `make install` and `make static`, built from a private copy of the source tree (so nothing here
# races a build in the checkout): the installed programs and policy are where they belong, the
# installed aicert-trace traces a command from an unrelated directory, the installed aicert-verify
# and aicert read its bundle and link no libbpf, libelf or TPM access library (they still run with
# those hidden, as on an auditor's machine), and build-static/aicert-trace needs no libbpf, libelf
# or libz (it traces with them hidden, where the dynamic one cannot even start). aicertd.service
# lands under PREFIX (or UNITDIR) naming BINDIR's aicertd, systemd-analyze finds nothing wrong in
# it, and an install run as an unprivileged user into a prefix of its own succeeds, so it writes
# nothing outside PREFIX (or DESTDIR).
# MAKE_JOBS (default 2) sets make's -j.
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root to load BPF programs and hide libraries"; exit 77; }
for t in make cc readelf ldd unshare python3 sha256sum setpriv systemd-analyze strace; do
	command -v $t > /dev/null || { echo "SKIPPED: $t not installed"; exit 77; }
done
[ -s /etc/hostname ] || { echo "SKIPPED: no /etc/hostname to trace"; exit 77; }
W=$(mktemp -d /tmp/aicert-install.XXXXXX)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok - $1${2:+ ($2)}"; }
nok() {
	echo "not ok - $1: $2"
	fails=$((fails + 1))
}
last() { tail -${2:-1} "$1" 2> /dev/null | tr '\n' ' ' | cut -c1-300; }

# The source tree without .git and build outputs (build, build-*, whoever made them).
S=$W/src D=$W/root
mkdir -p "$S" "$D" "$W/run"
for e in $(ls -A); do
	case $e in .git | build | build-*) ;; *) cp -a "$e" "$S/" ;; esac
done
J=-j${MAKE_JOBS:-2}
# A make run from `make check` must not hand its jobserver or variables to these builds.
unset MAKEFLAGS MFLAGS MAKELEVEL BUILD DESTDIR PREFIX
# aicert-probe is a developer's tool: built, never installed
CMDNAMES=$(cd "$S/userspace/cmd" && ls *.c | sed 's/\.c$//' | grep -vx aicert-probe)

# bundle_ok NAME BUNDLE STDOUT: the traced `cat /etc/hostname` wrote its output and a bundle
# whose bom.json lists /etc/hostname with its real sha256, unattested.
want=$(sha256sum /etc/hostname | cut -d' ' -f1)
bundle_ok() {
	local out
	if ! cmp -s "$3" /etc/hostname; then
		nok "$1" "the command's output differs from /etc/hostname"
		return
	fi
	if out=$(python3 - "$2" "$want" << 'PY' 2>&1
import json, os, sys
b, want = sys.argv[1], sys.argv[2]
missing = [f for f in ("bom.json", "events.cel", "manifest.json") if not os.path.isfile(f"{b}/{f}")]
if missing:
    sys.exit(f"missing {missing}")
if os.path.exists(f"{b}/quote.msg"):
    sys.exit("a --no-tpm bundle has a quote.msg")
bom = json.load(open(f"{b}/bom.json"))
hits = [f for f in bom["files"] if f["path"] == "/etc/hostname"]
if not hits:
    sys.exit(f"/etc/hostname not in bom.json ({len(bom['files'])} files)")
if hits[0].get("sha256") != want:
    sys.exit(f"/etc/hostname sha256 {hits[0].get('sha256')} != {want}")
if "input" not in hits[0].get("roles", []):
    sys.exit(f"/etc/hostname roles {hits[0].get('roles')}")
print(f"{len(bom['files'])} files, /etc/hostname sha256 {want[:12]}..")
PY
	); then
		ok "$1" "$out"
	else
		nok "$1" "$out"
	fi
}

# hidden LIBS -- COMMAND...: run COMMAND in a private mount namespace where each library in LIBS
# (sonames the loader would find) reads as an empty file, as on a machine that lacks them.
hidden() {
	local libs=() l p
	while [ "$1" != -- ]; do
		libs+=("$1")
		shift
	done
	shift
	local script=""
	for l in "${libs[@]}"; do
		p=$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')
		[ -n "$p" ] && script+="mount --bind /dev/null $(readlink -f "$p") || exit 99; "
	done
	unshare --mount --propagation private sh -c "$script"'exec "$@"' sh "$@"
}

# ---- 1. make install ----
t0=$SECONDS
make -C "$S" $J install DESTDIR="$D" PREFIX=/usr > "$W/install.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	ok "make install DESTDIR=... PREFIX=/usr" "$((SECONDS - t0)) s"
else
	nok "make install DESTDIR=... PREFIX=/usr" "rc=$rc: $(last "$W/install.log" 3)"
	exit 1
fi
for c in $CMDNAMES; do
	if [ -x "$D/usr/bin/$c" ] && [ -f "$D/usr/bin/$c" ]; then
		ok "installed /usr/bin/$c"
	else
		nok "installed /usr/bin/$c" "not in $D/usr/bin ($(ls "$D/usr/bin" 2> /dev/null | tr '\n' ' '))"
	fi
done
if cmp -s "$D/usr/share/aicert/default.yaml" policy/default.yaml; then
	ok "installed /usr/share/aicert/default.yaml == policy/default.yaml"
else
	nok "installed /usr/share/aicert/default.yaml == policy/default.yaml" "missing or different"
fi
# unit_ok NAME UNIT BINDIR: the installed unit exists and starts BINDIR/aicertd --foreground.
unit_ok() {
	local l
	l=$(grep '^ExecStart=' "$2" 2> /dev/null)
	[ "$l" = "ExecStart=$3/aicertd --foreground" ] && ok "$1" "$l" ||
		nok "$1" "${l:-no $2}"
}
unit_ok "installed PREFIX/lib/systemd/system/aicertd.service, ExecStart under BINDIR" \
	"$D/usr/lib/systemd/system/aicertd.service" /usr/bin
# The unit used to go to DESTDIR/lib/systemd/system (so /lib/systemd/system without DESTDIR)
# whatever PREFIX said.
[ ! -e "$D/lib" ] && ok "nothing installed under DESTDIR/lib (PREFIX=/usr)" ||
	nok "nothing installed under DESTDIR/lib (PREFIX=/usr)" "$(cd "$D" && find lib | head -3 | tr '\n' ' ')"
[ ! -e "$D/usr/bin/aicert-probe" ] && ok "aicert-probe (a developer's tool) is not installed" ||
	nok "aicert-probe (a developer's tool) is not installed" "it is in $D/usr/bin"
for c in $CMDNAMES; do
	n=1
	[ "$c" = aicertd ] && n=8 # a system daemon
	m=$D/usr/share/man/man$n/$c.$n
	if [ -f "$m" ] && out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 > "$W/$c.man") &&
		[ -z "$out" ] && grep -q -- '--help' "$W/$c.man" && grep -q '^SYNOPSIS\|^DESCRIPTION' "$W/$c.man"; then
		ok "man page $c.$n installed, renders without warnings" "$(wc -l < "$W/$c.man") lines"
	else
		nok "man page $c.$n installed, renders without warnings" "${out:-missing or empty}"
	fi
	[ -f "$D/usr/share/bash-completion/completions/$c" ] && ok "bash completion for $c" ||
		nok "bash completion for $c" "not in usr/share/bash-completion/completions"
done
m=$D/usr/share/man/man5/aicert-policy.5
out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 > /dev/null)
[ -f "$m" ] && [ -z "$out" ] && ok "man page aicert-policy.5 installed, renders without warnings" ||
	nok "man page aicert-policy.5 installed, renders without warnings" "${out:-missing}"
# completion: the options offered are the program's own
comp=$(bash -c '. "$1"; COMP_WORDS=(aicert-verify --we); COMP_CWORD=1; PATH=$2:$PATH; _aicert_complete; echo "${COMPREPLY[*]}"' \
	sh "$D/usr/share/bash-completion/completions/aicert-verify" "$D/usr/bin" 2>&1)
[ "$comp" = --weights ] && ok "bash completion completes aicert-verify --we to --weights" ||
	nok "bash completion completes aicert-verify --we to --weights" "got '$comp'"
# comp WORD...: what the installed completion offers for the last word
comp() {
	bash -c '. "$1"; PATH=$2:$PATH; shift 2; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _aicert_complete
		echo "${COMPREPLY[*]}"' sh "$D/usr/share/bash-completion/completions/aicert" "$D/usr/bin" "$@" 2>&1
}
got=$(comp aicert '')
miss=$(for v in show runs status quote; do [[ " $got " == *" $v "* ]] || echo "$v"; done)
[ -z "$miss" ] && ok "bash completion offers the aicert verbs show, runs, status, quote" "$got" ||
	nok "bash completion offers the aicert verbs show, runs, status, quote" "no $miss in '$got'"
if [ -x "$D/usr/bin/aicertd" ]; then
	got=$(comp aicertd --fo)
	[ "$got" = --foreground ] && ok "bash completion completes aicertd --fo to --foreground" ||
		nok "bash completion completes aicertd --fo to --foreground" "got '$got'"
fi
stray=$(cd "$D" && find . -type f | grep -vE '^\./(usr/bin|usr/share/aicert|usr/share/man/man[158]|usr/share/bash-completion/completions|usr/lib/systemd/system)/')
[ -z "$stray" ] && ok "install writes only under DESTDIR/usr/{bin,share/{aicert,man,bash-completion},lib/systemd/system}" ||
	nok "install writes only under DESTDIR/usr/{bin,share/{aicert,man,bash-completion},lib/systemd/system}" "$stray"
# uninstall removes every file install wrote; BINDIR is honoured
make -C "$S" $J uninstall DESTDIR="$D" PREFIX=/usr > "$W/uninstall.log" 2>&1
left=$(cd "$D" && find . -type f)
[ -z "$left" ] && ok "make uninstall removes every installed file" || nok "make uninstall removes every installed file" "left: $left"
D2=$W/destdir2
if make -C "$S" $J install DESTDIR="$D2" PREFIX=/usr BINDIR=/opt/aicert/bin > "$W/install2.log" 2>&1 &&
	[ -x "$D2/opt/aicert/bin/aicert-verify" ] && [ ! -e "$D2/usr/bin" ]; then
	ok "make install BINDIR=/opt/aicert/bin puts the programs there"
else
	nok "make install BINDIR=/opt/aicert/bin puts the programs there" "$(ls -R "$D2" 2> /dev/null | head -5 | tr '\n' ' ')"
fi
unit_ok "make install BINDIR=/opt/aicert/bin: the unit starts /opt/aicert/bin/aicertd" \
	"$D2/usr/lib/systemd/system/aicertd.service" /opt/aicert/bin
D3=$W/destdir3
make -C "$S" $J install DESTDIR="$D3" PREFIX=/opt/aicert > "$W/install3.log" 2>&1
rc=$?
unit_ok "make install PREFIX=/opt/aicert: the unit is PREFIX/lib/systemd/system/aicertd.service" \
	"$D3/opt/aicert/lib/systemd/system/aicertd.service" /opt/aicert/bin
out=$(cd "$D3" && find . ! -type d | grep -v '^\./opt/aicert/')
[ $rc = 0 ] && [ -z "$out" ] && ok "make install PREFIX=/opt/aicert writes only under DESTDIR/opt/aicert" ||
	nok "make install PREFIX=/opt/aicert writes only under DESTDIR/opt/aicert" "rc=$rc: $out $(last "$W/install3.log")"
D4=$W/destdir4
make -C "$S" $J install DESTDIR="$D4" PREFIX=/usr UNITDIR=/etc/systemd/system > "$W/install4.log" 2>&1
unit_ok "make install UNITDIR=/etc/systemd/system puts the unit there" \
	"$D4/etc/systemd/system/aicertd.service" /usr/bin
[ ! -e "$D4/usr/lib/systemd" ] && ok "UNITDIR=/etc/systemd/system: no unit under PREFIX/lib/systemd" ||
	nok "UNITDIR=/etc/systemd/system: no unit under PREFIX/lib/systemd" "$(ls -R "$D4/usr/lib/systemd" | tr '\n' ' ')"

# No DESTDIR, as a user who can write only its own prefix: every file `make install` writes
# outside PREFIX would fail it (so would the old unconditional /lib/systemd/system).
NB=65534
as_nobody() { setpriv --reuid=$NB --regid=$NB --clear-groups --inh-caps=-all "$@"; }
chmod 755 "$W"
P=$W/prefix
mkdir -p "$P" && chown $NB:$NB "$P"
if as_nobody touch /usr/lib/systemd/system/.aicert-probe 2> /dev/null; then
	rm -f /usr/lib/systemd/system/.aicert-probe
	nok "control: uid $NB cannot write /usr/lib/systemd/system" "it can: the check below proves nothing"
else
	ok "control: uid $NB cannot write /usr/lib/systemd/system"
fi
as_nobody make -C "$S" install PREFIX="$P" > "$W/install5.log" 2>&1
rc=$?
[ $rc = 0 ] && ok "make install PREFIX=\$W/prefix (no DESTDIR) as uid $NB succeeds: nothing outside PREFIX" ||
	nok "make install PREFIX=\$W/prefix (no DESTDIR) as uid $NB succeeds: nothing outside PREFIX" \
		"rc=$rc: $(last "$W/install5.log" 3)"
U=$P/lib/systemd/system/aicertd.service
unit_ok "the unprivileged install's unit starts PREFIX/bin/aicertd" "$U" "$P/bin"
# systemd-analyze verify needs no running systemd; it checks the directives, that ExecStart and
# ExecReload are executables and that the Documentation= pages exist (here: the installed ones).
# A misspelt key only warns (exit 0), so its output must be empty too; the control proves that.
sed 's/^NoNewPrivileges=/NoNewPrivilegez=/' "$U" > "$W/bad.service"
out=$(MANPATH=$P/share/man systemd-analyze verify "$W/bad.service" 2>&1)
echo "$out" | grep -q "Unknown key 'NoNewPrivilegez'" &&
	ok "control: systemd-analyze verify reports a misspelt key in the unit" ||
	nok "control: systemd-analyze verify reports a misspelt key in the unit" "$(echo "$out" | head -3 | tr '\n' ' ')"
out=$(MANPATH=$P/share/man systemd-analyze verify "$U" 2>&1)
rc=$?
if [ -x "$P/bin/aicertd" ]; then
	[ $rc = 0 ] && [ -z "$out" ] && ok "systemd-analyze verify: the installed aicertd.service is clean" ||
		nok "systemd-analyze verify: the installed aicertd.service is clean" "rc=$rc: $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
else
	# a tree without userspace/cmd/aicertd.c: only the program and its page may be missing
	rest=$(echo "$out" | grep -v "Command $P/bin/aicertd is not executable" | grep -v "man aicertd(8)")
	[ -z "$rest" ] && echo "$out" | grep -q "$P/bin/aicertd is not executable" &&
		ok "systemd-analyze verify: aicertd.service is clean but for aicertd, not built in this tree" ||
		nok "systemd-analyze verify: aicertd.service is clean but for aicertd, not built in this tree" \
			"$(echo "$out" | tr '\n' ' ' | cut -c1-300)"
fi
as_nobody make -C "$S" uninstall PREFIX="$P" > "$W/uninstall5.log" 2>&1
left=$(find "$P" ! -type d)
[ -z "$left" ] && ok "make uninstall PREFIX=\$W/prefix as uid $NB removes every file, the unit too" ||
	nok "make uninstall PREFIX=\$W/prefix as uid $NB removes every file, the unit too" "left: $left"
make -C "$S" $J install DESTDIR="$D" PREFIX=/usr > "$W/install.log" 2>&1 # the tests below use it

# The installed tracer, from a directory with no source tree, no policy file, no build output.
T=$D/usr/bin/aicert-trace
(cd "$W/run" && "$T" --no-tpm --no-cache --state-dir "$W/state" -o "$W/b1" -- cat /etc/hostname \
	> "$W/b1.out" 2> "$W/b1.err")
rc=$?
if [ $rc = 0 ]; then
	ok "installed aicert-trace --no-tpm --no-cache -- cat /etc/hostname exits 0"
	bundle_ok "installed aicert-trace: the bundle lists /etc/hostname" "$W/b1" "$W/b1.out"
	grep -qi unattested "$W/b1.err" && ok "installed aicert-trace --no-tpm says unattested" ||
		nok "installed aicert-trace --no-tpm says unattested" "stderr: $(last "$W/b1.err" 3)"
else
	nok "installed aicert-trace --no-tpm --no-cache -- cat /etc/hostname exits 0" \
		"rc=$rc: $(last "$W/b1.err" 3)"
fi

# The auditor's programs: no libbpf, libelf, libz or TPM access library (tss2-mu only).
for c in aicert-verify aicert; do
	f=$D/usr/bin/$c
	[ -x "$f" ] || continue
	needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	all=$(ldd "$f" | awk '{ print $1 }' | tr '\n' ' ')
	bad=$(echo "$needed $all" | tr ' ' '\n' | grep -E '^lib(bpf|elf|z|tss2-(esys|tctildr|sys|rc|tcti[^.]*))\.so' |
		sort -u | tr '\n' ' ')
	[ -z "$bad" ] && ok "$c links no libbpf/libelf/libz/TPM access library" "NEEDED: $needed" ||
		nok "$c links no libbpf/libelf/libz/TPM access library" "it needs $bad"
done
HIDE_AUDIT="libbpf.so.1 libelf.so.1 libz.so.1 libtss2-esys.so.0 libtss2-tctildr.so.0 libtss2-sys.so.1
	libtss2-rc.so.0"
if [ -f "$W/b1/bom.json" ]; then
	V=$D/usr/bin/aicert-verify
	"$V" "$W/b1" > "$W/v1.out" 2>&1
	rc=$?
	"$V" "$W/b1" --json > "$W/v1.json" 2> "$W/v1.jerr"
	rcj=$?
	# 10: unattested (aicert-verify --help); everything else about the bundle must pass
	if [ $rc = 10 ] && grep -qi unattested "$W/v1.out" && [ $rcj = 10 ] &&
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/v1.json" 2> /dev/null; then
		ok "installed aicert-verify on the --no-tpm bundle: exit 10 (unattested), --json parses" \
			"$(grep -i -m1 unattested "$W/v1.out")"
	else
		nok "installed aicert-verify on the --no-tpm bundle: exit 10 (unattested), --json parses" \
			"rc=$rc/$rcj: $(last "$W/v1.out" 3)"
	fi
	fl=$(grep -E '^FAIL' "$W/v1.out" | grep -vi unattested)
	[ -z "$fl" ] && ok "installed aicert-verify: no check but the attestation fails" \
		"$(grep -c '^PASS' "$W/v1.out") PASS" ||
		nok "installed aicert-verify: no check but the attestation fails" "$fl"
	"$D/usr/bin/aicert" show "$W/b1" > "$W/s1.out" 2> "$W/s1.err"
	rc=$?
	[ $rc = 0 ] && grep -q /etc/hostname "$W/s1.out" &&
		ok "installed aicert show on the bundle: exit 0, /etc/hostname shown" ||
		nok "installed aicert show on the bundle: exit 0, /etc/hostname shown" \
			"rc=$rc: $(last "$W/s1.err" 2)"
	# the same answers with the tracing side's libraries gone
	hidden $HIDE_AUDIT -- "$V" "$W/b1" > "$W/v2.out" 2>&1
	rc=$?
	[ $rc = 10 ] && cmp -s "$W/v1.out" "$W/v2.out" &&
		ok "installed aicert-verify without libbpf/libelf/libz/tss2-esys/tctildr: same result" ||
		nok "installed aicert-verify without libbpf/libelf/libz/tss2-esys/tctildr: same result" \
			"rc=$rc: $(last "$W/v2.out" 2)"
	hidden $HIDE_AUDIT -- "$D/usr/bin/aicert" show "$W/b1" > "$W/s2.out" 2>&1
	rc=$?
	[ $rc = 0 ] && cmp -s "$W/s1.out" "$W/s2.out" &&
		ok "installed aicert show without libbpf/libelf/libz/tss2-esys/tctildr: same output" ||
		nok "installed aicert show without libbpf/libelf/libz/tss2-esys/tctildr: same output" \
			"rc=$rc: $(last "$W/s2.out" 2)"
fi

# ---- the unit's system call restrictions, against what the tracer calls ----
# aicertd runs the code aicert-trace runs (BPF load and attach, collector, hashing, the TPM
# through a network TCTI, the bundle). Under strace, an attested run of the installed
# aicert-trace must call nothing in the groups the installed unit's SystemCallFilter= denies,
# map nothing writable and executable and mprotect nothing executable (MemoryDenyWriteExecute=),
# and create or join no namespace (RestrictNamespaces=).
. tests/lib/swtpm.sh
U=$D/usr/lib/systemd/system/aicertd.service
if swtpm_start > "$W/swtpm.out" 2>&1; then
	(cd "$W/run" && strace -f -qq -o "$W/st" "$T" --no-cache --state-dir "$W/state3" -o "$W/b3" \
		-- cat /etc/hostname > "$W/b3.out" 2> "$W/b3.err")
	rc=$?
	if [ $rc = 0 ] && [ -f "$W/b3/quote.sig" ]; then
		ok "installed aicert-trace under strace with a swtpm: exits 0, the bundle is quoted"
	else
		nok "installed aicert-trace under strace with a swtpm: exits 0, the bundle is quoted" \
			"rc=$rc: $(last "$W/b3.err" 3)"
	fi
	sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1(/' "$W/st" | grep -oE '^[a-z0-9_]+\(' |
		tr -d '(' | sort -u > "$W/used"
	groups=$(sed -n 's/^SystemCallFilter=~//p' "$U")
	for g in $groups; do
		systemd-analyze syscall-filter "$g" | grep -E '^ +[a-z]' | tr -d ' '
	done | sort -u > "$W/denied"
	hit=$(comm -12 "$W/used" "$W/denied" | tr '\n' ' ')
	[ -n "$groups" ] && [ -s "$W/denied" ] && [ -z "$hit" ] &&
		ok "aicertd.service's SystemCallFilter=~$groups denies none of the tracer's system calls" \
			"$(wc -l < "$W/used") used, $(wc -l < "$W/denied") denied" ||
		nok "aicertd.service's SystemCallFilter=~$groups denies none of the tracer's system calls" \
			"groups '$groups', denied $(wc -l < "$W/denied"), used by the tracer: $hit"
	wx=$(grep -E '(mmap|mprotect|pkey_mprotect)\(.*PROT_[A-Z_|]*(WRITE[A-Z_|]*EXEC|EXEC[A-Z_|]*WRITE)|(mprotect|pkey_mprotect)\(.*PROT_EXEC|shmat\(.*SHM_EXEC' "$W/st" | head -2)
	grep -q '^MemoryDenyWriteExecute=yes' "$U" && [ -z "$wx" ] &&
		ok "MemoryDenyWriteExecute=yes: the tracer maps nothing writable+executable" ||
		nok "MemoryDenyWriteExecute=yes: the tracer maps nothing writable+executable" "${wx:-not in the unit}"
	ns=$(grep -E '(clone3?|unshare|setns)\(.*CLONE_NEW' "$W/st" | head -2)
	grep -q '^RestrictNamespaces=yes' "$U" && [ -z "$ns" ] &&
		ok "RestrictNamespaces=yes: the tracer creates or joins no namespace" ||
		nok "RestrictNamespaces=yes: the tracer creates or joins no namespace" "${ns:-not in the unit}"
	swtpm_stop
else
	nok "swtpm starts" "$(last "$W/swtpm.out" 2)"
fi

# ---- 2. make static ----
t0=$SECONDS
make -C "$S" $J static > "$W/static.log" 2>&1
rc=$?
ST=$S/build-static/aicert-trace
if [ $rc = 0 ] && [ -x "$ST" ]; then
	ok "make static builds build-static/aicert-trace" "$((SECONDS - t0)) s"
else
	nok "make static builds build-static/aicert-trace" "rc=$rc: $(last "$W/static.log" 3)"
	exit 1
fi
needed=$(readelf -d "$ST" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
bad=$(echo "$needed $(ldd "$ST" | awk '{ print $1 }')" | tr ' ' '\n' | grep -E '^lib(bpf|elf|z)\.' |
	sort -u | tr '\n' ' ')
[ -z "$bad" ] && ok "static aicert-trace needs no libbpf/libelf/libz" "NEEDED: $needed" ||
	nok "static aicert-trace needs no libbpf/libelf/libz" "it needs $bad"

HIDE_BPF="libbpf.so.1 libelf.so.1 libz.so.1"
# Control: with those hidden the dynamic tracer cannot start, so the hiding is real.
hidden $HIDE_BPF -- "$T" --version > "$W/ctl.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q 'shared libraries' "$W/ctl.out" &&
	ok "control: the dynamic aicert-trace does not start without libbpf/libelf/libz" \
		"$(last "$W/ctl.out" 1)" ||
	nok "control: the dynamic aicert-trace does not start without libbpf/libelf/libz" \
		"rc=$rc: $(last "$W/ctl.out" 2)"
(cd "$W/run" && hidden $HIDE_BPF -- "$ST" --no-tpm --no-cache --state-dir "$W/state2" -o "$W/b2" \
	-- cat /etc/hostname > "$W/b2.out" 2> "$W/b2.err")
rc=$?
if [ $rc = 0 ]; then
	ok "static aicert-trace without libbpf/libelf/libz: --no-tpm -- cat /etc/hostname exits 0"
	bundle_ok "static aicert-trace: the bundle lists /etc/hostname" "$W/b2" "$W/b2.out"
	"$D/usr/bin/aicert-verify" "$W/b2" > "$W/v3.out" 2>&1
	rc=$?
	fl=$(grep -E '^FAIL' "$W/v3.out" | grep -vi unattested)
	[ $rc = 10 ] && [ -z "$fl" ] &&
		ok "installed aicert-verify on the static tracer's bundle: only unattested (exit 10)" ||
		nok "installed aicert-verify on the static tracer's bundle: only unattested (exit 10)" \
			"rc=$rc: ${fl:-$(last "$W/v3.out" 2)}"
else
	nok "static aicert-trace without libbpf/libelf/libz: --no-tpm -- cat /etc/hostname exits 0" \
		"rc=$rc: $(last "$W/b2.err" 3)"
fi
[ $fails = 0 ]
