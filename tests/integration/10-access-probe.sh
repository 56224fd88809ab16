#!/bin/bash
# The kernel side of tracing on the host (tracepoint backend), through aicert-probe: every kind of
# record a run produces, scoping to the run's cgroup (daemons in, a concurrent process out) and
# the in-kernel de-duplication. AICERT_BACKEND=lsm runs the same checks on the LSM backend (in a
# VM with BPF LSM).
. "$(dirname "$0")/../lib/common.sh"
PROBE=${AICERT_PROBE:-$B/aicert-probe}
need_root "needs root to load BPF programs"
[ -x "$PROBE" ] || skip "$PROBE not built"

BACKEND=${AICERT_BACKEND:-tracepoint}
W=$(mktemp -d "${TMPDIR:-/tmp}/aicert-probe.XXXXXX")
bg=
cleanup() {
	touch "$W/stop"
	[ -n "$bg" ] && kill "$bg" 2>/dev/null && wait "$bg" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
check() { # name command...
	local name=$1
	shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name"; fails=$((fails + 1)); fi
}
has() { grep -qE "$1" "$W/out"; }
count() { grep -cE "$1" "$W/out"; }
stat_of() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$W/err" | tail -1; }

echo input > "$W/in.txt"
echo secret > "$W/untraced.txt"
echo daemon > "$W/daemon.txt"
echo many > "$W/many.txt"
echo v1 > "$W/changed.txt"
printf '#!/bin/sh\nexit 0\n' > "$W/script.sh"
chmod +x "$W/script.sh"
TRUE=$(readlink -f /bin/true)
SH=$(readlink -f /bin/sh)

# a process outside the run reading its own file the whole time
(while [ ! -e "$W/stop" ]; do cat "$W/untraced.txt" > /dev/null 2>&1; sleep 0.02; done) &
bg=$!

# shellcheck disable=SC2016 # expanded by the traced shell
"$PROBE" --backend "$BACKEND" --linger 10000 -- /bin/sh -c '
	W=$1
	cat "$W/in.txt" > /dev/null
	/bin/true
	echo data > "$W/out.tmp"
	mv "$W/out.tmp" "$W/out.txt"
	cd "$W" && echo rel > rel.tmp && mv rel.tmp rel.txt
	"$W/script.sh"
	cat "$W/changed.txt" > /dev/null
	echo v2 >> "$W/changed.txt"
	cat "$W/changed.txt" > /dev/null
	i=0
	while [ $i -lt 1000 ]; do read -r x < "$W/many.txt"; i=$((i + 1)); done
	setsid /bin/sh -c "sleep 0.5; cat \"$W/daemon.txt\" > /dev/null" < /dev/null > /dev/null 2>&1 &
	exit 3
' sh "$W" > "$W/out" 2> "$W/err"
rc=$?

check "probe exits with the command's status" [ "$rc" = 3 ]
check "$BACKEND backend loaded" grep -q "backend=$BACKEND " "$W/err"
check "read of a file" has "^file read .* path=$W/in.txt$"
check "exec of a program" has "^file exec .* path=$TRUE$"
check "exec record of the task" has "^exec .* comm=true "
check "write creating a file" has "^file write .*flags=created.* path=$W/out.tmp$"
if [ "$BACKEND" = lsm ]; then
	# the hook sees dentries: the moved inode and the new name in its directory
	check "rename (inode and directory)" has "^rename .*flags=rel dev=[1-9].* dir=$W name=out.txt$"
	check "rename in the cwd" has "^rename .*flags=rel dev=[1-9].* dir=$W name=rel.txt$"
else
	check "rename to an absolute name" has "^rename .* dir=- name=$W/out.txt$"
	check "rename to a relative name resolved against the cwd" \
		has "^rename .*flags=rel .* dir=$W name=rel.txt$"
fi
check "#! script: the script by name" has "^file exec .* path=$W/script.sh$"
check "#! script: the interpreter" has "^file exec .* path=$SH$"
check "mmap of a shared library" has "^file mmap .* path=.*/libc\.so\.6$"
check "fork records" has "^fork .* child=[1-9]"
check "exit record with the exit code" has "^exit .* exit_code=768$"
check "daemon reading after its parent exited" has "^file read .* path=$W/daemon.txt$"
check "concurrent untraced process not recorded" [ "$(count "untraced.txt")" = 0 ]
check "file read 1000 times gives one record" [ "$(count "path=$W/many.txt$")" = 1 ]
check "de-duplication counted" [ "$(stat_of dedup_hits)" -ge 999 ]
check "changed file reported again" [ "$(count "^file read .* path=$W/changed.txt$")" = 2 ]
check "no records lost" [ "$(stat_of rb_drops)" = 0 ]
check "no malformed records" [ "$(stat_of malformed)" = 0 ]
check "records carry the run's cgroup" \
	[ "$(grep -E '^file ' "$W/out" | sed 's/.* cgroup=\([0-9]*\) .*/\1/' | sort -u | wc -l)" = 1 ]
# the scope entry a record matched is its run: here the run's cgroup itself, for every record
check "records say their run (scope = the run's cgroup)" \
	[ -z "$(grep -vE ' cgroup=([0-9]+) scope=\1 ' "$W/out")" -a \
	"$(sed 's/.* scope=\([0-9]*\) .*/\1/' "$W/out" | sort -u | wc -l)" = 1 ]
check "run cgroup removed" \
	[ -z "$(find "$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)/aicert" \
		-maxdepth 1 -name "probe-*" 2>/dev/null)" ]

# without privileges the load fails with the documented message
if command -v setpriv > /dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PROBE" -- true > /dev/null 2> "$W/err2"
	nrc=$?
	check "unprivileged: clear error" \
		[ "$nrc" != 0 -a -n "$(grep 'must run as root' "$W/err2")" ]
fi

# a path deeper than the walk's bound, and a file opened again after it was unlinked
deep=$W/deep
for i in $(seq 1 70); do deep=$deep/d; done
mkdir -p "$deep" && echo deep > "$deep/f.txt" && echo gone > "$W/gone.txt"
"$PROBE" --backend "$BACKEND" -- /bin/sh -c \
	'cat "$1" > /dev/null; exec 3< "$2"; rm "$2"; cat /proc/self/fd/3 > /dev/null' sh \
	"$deep/f.txt" "$W/gone.txt" > "$W/out" 2> "$W/err"
if [ "$BACKEND" = lsm ]; then # bpf_d_path has no depth bound
	check "deep path in full" has "^file read .* path=$deep/f.txt$"
else
	check "deep path cut and flagged" has "^file read .*flags=trunc.* path=.*/d/d/f.txt$"
	check "deep path counted" [ "$(stat_of path_trunc)" -ge 1 ]
fi
check "open of an unlinked file flagged, plain name" \
	has "^file read .*flags=unlinked.* path=$W/gone.txt$"

# a cgroup the run creates below its own stays in scope (ancestor match) and is cleaned up
echo nested > "$W/nested.txt"
# shellcheck disable=SC2016 # expanded by the traced shell
"$PROBE" --backend "$BACKEND" -- /bin/sh -c '
	cg=$(awk "\$3 == \"cgroup2\" {print \$2; exit}" /proc/mounts)$(sed -n "s/^0:://p" /proc/self/cgroup)
	mkdir "$cg/nested" && echo $$ > "$cg/nested/cgroup.procs" && cat "$1" > /dev/null
' sh "$W/nested.txt" > "$W/out" 2> "$W/err"
check "nested cgroup of the run in scope" has "^file read .* path=$W/nested.txt$"
# matched through its ancestor: the record's scope is the run's cgroup, not the nested one
nest=$(grep -E "^file read .* path=$W/nested.txt$" "$W/out" | head -1)
first=$(head -1 "$W/out")
check "nested cgroup: the record's scope is the run's cgroup" \
	[ -n "$nest" -a "$(sed 's/.* scope=\([0-9]*\) .*/\1/' <<< "$nest")" = \
	"$(sed 's/.* cgroup=\([0-9]*\) .*/\1/' <<< "$first")" -a \
	"$(sed 's/.* cgroup=\([0-9]*\) .*/\1/' <<< "$nest")" != \
	"$(sed 's/.* scope=\([0-9]*\) .*/\1/' <<< "$nest")" ]
check "nested cgroup removed with the run" \
	[ -z "$(find "$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)/aicert" \
		-mindepth 1 -maxdepth 1 -name "probe-*" 2>/dev/null)" ]

# ctime: on 6.13+ bit 31 of i_ctime_nsec says "ctime was queried", not part of the time, so a
# stat between two reads neither changes the reported ctime nor defeats the de-duplication.
# An anonymous executable mapping whose fd argument happens to name a file is no access to it.
echo ctime > "$W/ctime.txt"
echo anon > "$W/anon.txt"
PY=$(command -v python3)
# shellcheck disable=SC2016 # expanded by the traced shell
"$PROBE" --backend "$BACKEND" -- /bin/sh -c '
	cat "$1" > /dev/null; stat "$1" > /dev/null; cat "$1" > /dev/null
	[ -z "$2" ] || "$2" -c "import ctypes
m = ctypes.CDLL(None).mmap
m.restype = ctypes.c_void_p
m.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
assert m(None, 4096, 5, 0x22, 0, 0) not in (None, ctypes.c_void_p(-1).value)" < "$3"
' sh "$W/ctime.txt" "$PY" "$W/anon.txt" > "$W/out" 2> "$W/err"
ct=$(stat -c %.9Z "$W/ctime.txt" | tr -d .)
check "ctime as stat(2) gives it" has "^file read .* ctime=$ct .* path=$W/ctime.txt$"
check "stat between two reads: one record" [ "$(count "path=$W/ctime.txt$")" = 1 ]
if [ -n "$PY" ]; then
	check "anonymous PROT_EXEC mapping with fd 0: stdin was read" \
		has "^file read .* path=$W/anon.txt$"
	check "anonymous PROT_EXEC mapping with fd 0: no mmap of stdin's file" \
		[ "$(count "^file mmap .* path=$W/anon.txt$")" = 0 ]
fi

# a burst of distinct files: every record submitted reaches the callback (access_stop drains)
mkdir "$W/many"
(cd "$W/many" && seq 1 3000 | xargs touch)
"$PROBE" --backend "$BACKEND" --quiet -- /bin/sh -c 'for f in "$1"/*; do : < "$f"; done' sh \
	"$W/many" > /dev/null 2> "$W/err"
ev=$(stat_of events)
check "burst of 3000 files: all delivered, none lost" \
	[ "$ev" -gt 3000 -a "$(stat_of records)" = "$ev" -a "$(stat_of rb_drops)" = 0 ]
check "burst of 3000 files: no scratch buffer contention, nothing undelivered" \
	[ "$(stat_of scratch_busy)" = 0 -a "$(stat_of undelivered)" = 0 ]

# a one-page ring buffer loses records of a burst; the de-duplication (LRU and per-CPU cache) must
# forget those files, so that a second pass, paced so that nothing is lost, reports every file
# again. The records' lines (over 100 KiB) fill the pipe to a reader that waits for the end of the
# first pass, so the drain stalls in the middle of the burst even where it would keep up (a slow
# VM). The second pass is paced by events, not sleeps: after each group of 8 files it creates a
# fresh marker file and goes on once the marker's record is in the output. The ring is FIFO, so
# then the group's records are out and the ring holds one group at most. A marker lost while the
# ring is still full of the first pass's burst is followed by another.
mkdir "$W/few"
(cd "$W/few" && seq 1 400 | sed 's/^/a-long-name-so-that-the-record-lines-fill-the-pipe-/' | xargs touch)
# shellcheck disable=SC2016 # expanded by the traced shell
"$PROBE" --backend "$BACKEND" --ringbuf 4096 -- /bin/sh -c '
	W=$1 k=0 n=0
	drained() { # the record of a fresh marker reached the output (retried, bounded: about 60 s)
		local i=0 j
		while [ $i -lt 300 ]; do
			k=$((k + 1))
			: > "$W/mark.$k"
			j=0
			while [ $j -lt 20 ]; do
				grep -q "path=$W/mark\.$k\$" "$W/out" && return 0
				sleep 0.01
				j=$((j + 1))
			done
			i=$((i + 1))
		done
		return 1
	}
	for f in "$W"/few/*; do : < "$f"; done
	touch "$W/pass1"
	i=0
	while [ ! -e "$W/reading" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
	drained || exit 1
	for f in "$W"/few/*; do
		: < "$f"
		n=$((n + 1))
		[ $((n % 8)) != 0 ] || drained || exit 1
	done' sh "$W" 2> "$W/err" |
	{
		i=0 # bounded: a probe that fails before the first pass must not hang the test
		while [ ! -e "$W/pass1" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
		touch "$W/reading"
		cat
	} > "$W/out"
check "records lost to a full ring buffer: some lost" [ "$(stat_of rb_drops)" -gt 0 ]
check "records lost to a full ring buffer: counted as ring_full, all causes add up" \
	[ "$(stat_of ring_full)" -gt 0 -a "$(stat_of rb_drops)" = \
	$(($(stat_of ring_full) + $(stat_of scratch_busy) + $(stat_of undelivered) + \
		$(stat_of prog_misses))) ]
check "records lost to a full ring buffer: reported at the next access" \
	[ "$(grep -o "path=$W/few/.*" "$W/out" | sort -u | wc -l)" = 400 ]

[ $fails = 0 ]
