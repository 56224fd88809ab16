#!/bin/bash
# In the VM (Debian's 6.1 kernel, ima_policy=tcb, ima_hash=sha256, ima-ng): a traced python run
# gets "ima": "match" for the interpreter, the script and the data file, and ima.bin is the
# kernel's list. Then a file changed after IMA measured it (docs/ima.md, "Correlation", says
# what each case shows and why):
#   guest: root rewrites it in the guest (writable 9p share $VMH_OUT): IMA re-measures -> match
#   share: the host rewrites it on that share (9p cache=none: a new inode per lookup) -> match
#   root:  the host rewrites it on the read-only root share (9p cache=loose: the guest keeps the
#          inode IMA measured) -> IMA keeps the old digest, aicert reads the new bytes -> mismatch
# The files are made on the host before the boot, on the real root filesystem (not a tmpfs,
# which the tcb policy does not measure).
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicert-trace
W=$(mktemp -d /var/tmp/aicert-ima.XXXXXX)
VMPID=
cleanup() {
	[ -n "$VMPID" ] && kill "$VMPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
chmod 755 "$W"
# unique content, so no earlier measurement of the same bytes can make a match by accident
head -c 64 /dev/urandom | base64 -w0 > "$W/data.csv"
echo >> "$W/data.csv"
printf 'version 1\n' > "$W/root.csv"
cat > "$W/train.py" <<'PY'
import sys
with open(sys.argv[1], "rb") as f:
    print("read", len(f.read()), "bytes of", sys.argv[1])
PY
cat > "$W/check.py" <<'PY'
"""check.py BUNDLE CHECKNAME PATH=EXPECT... : one ok/not ok line per PATH."""
import os, sys
sys.path.insert(0, "tests/lib")
import bomq
bundle, name = sys.argv[1], sys.argv[2]
bom = bomq.load(bundle)
for arg in sys.argv[3:]:
    path, want = arg.rsplit("=", 1)
    hits = bomq.find(bom, path)
    got = ",".join(sorted({f["ima"] for f in hits})) or "not in the BOM"
    if got == want:
        print(f"ok - {name}: {path} is \"ima\": \"{want}\"")
    else:
        print(f"not ok - {name}: {path} is \"ima\": \"{got}\", expected \"{want}\"")
PY
# The guest half. $1 = aicert build dir, $2 = work dir (host files), run from the repo root.
cat > "$W/guest.sh" <<'SH'
B=$1; W=$2; O=$VMH_OUT
IMA=/sys/kernel/security/ima
PY=$(readlink -f /usr/bin/python3)
trace() { # name data-file
	"$B/aicert-trace" --no-tpm --no-cache --backend lsm -o /run/tmp/$1 -- \
		/usr/bin/python3 "$W/train.py" "$2" > $O/$1.out 2> $O/$1.err
	rc=$?
	if [ $rc = 0 ] && [ -f /run/tmp/$1/bom.json ]; then echo "ok - $1: aicert-trace ran (lsm)"
	else echo "not ok - $1: aicert-trace exited $rc: $(tail -3 $O/$1.err | tr '\n' ' ')"; fi
	cp /run/tmp/$1/bom.json $O/$1.bom.json 2>/dev/null
}
# 1. the plain run: everything on the real root, measured by IMA when read or executed
trace plain "$W/data.csv"
/usr/bin/python3 "$W/check.py" /run/tmp/plain plain "$PY=match" "$W/train.py=match" \
	"$W/data.csv=match"
# securityfs says size 0, so copy the list before comparing (cmp -s trusts st_size)
cat $IMA/binary_runtime_measurements > /run/tmp/now.bin
n=$(stat -c %s /run/tmp/plain/ima.bin 2>/dev/null || echo 0)
if [ "$n" -gt 0 ] && [ "$(stat -c %s /run/tmp/now.bin)" -ge "$n" ] &&
	cmp -s -n "$n" /run/tmp/plain/ima.bin /run/tmp/now.bin; then
	echo "ok - plain: ima.bin is the kernel's list as read at run end ($n bytes, a prefix of it now)"
else
	echo "not ok - plain: ima.bin ($n bytes) is not a prefix of the kernel's list"
fi
# 2. root changes the file in the guest after IMA measured it (writable 9p: $VMH_OUT)
mkdir -p $O/mod
printf 'version 1\n' > $O/mod/guest.csv
cat $O/mod/guest.csv > /dev/null                   # IMA measures version 1
printf 'version 2\n' >> $O/mod/guest.csv           # root changes it
trace guest "$O/mod/guest.csv"
grep -a " $O/mod/guest.csv\$" $IMA/ascii_runtime_measurements > $O/guest.ima
echo "# guest: IMA records for $O/mod/guest.csv: $(wc -l < $O/guest.ima)"
/usr/bin/python3 "$W/check.py" /run/tmp/guest guest "$O/mod/guest.csv=match"
# 3. the host changes files behind the guest kernel's back: one on the writable share, one on
# the read-only root (same length, so the guest's cached size stays right)
printf 'version 1\n' > $O/mod/share.csv
cat $O/mod/share.csv "$W/root.csv" > /dev/null     # IMA measures both
touch $O/mod/host-ready
i=0; while [ ! -f $O/mod/host-changed ] && [ $i -lt 300 ]; do sleep 1; i=$((i + 1)); done
[ -f $O/mod/host-changed ] || echo "not ok - host: the host did not change the files"
echo 1 > /proc/sys/vm/drop_caches                  # page cache only: inodes (and IMA's state) stay
for c in share:$O/mod/share.csv:match root:$W/root.csv:mismatch; do
	name=${c%%:*}; f=${c#*:}; f=${f%:*}; want=${c##*:}
	trace $name "$f"
	grep -a " $f\$" $IMA/ascii_runtime_measurements > $O/$name.ima
	echo "# $name: IMA records for $f: $(wc -l < $O/$name.ima); now $(sha256sum < "$f")"
	/usr/bin/python3 "$W/check.py" /run/tmp/$name $name "$f=$want"
done
grep -a "IMA MISMATCH: $W/root.csv" $O/root.err | sed 's/^/# /'
grep -a "IMA MISMATCH: $W/root.csv" $O/root.err > /dev/null && echo "ok - root: the mismatch is logged" ||
	echo "not ok - root: no IMA MISMATCH warning for $W/root.csv on stderr"
SH
ERR=$W/vm.err
tests/vm/lib/vm.sh "cd $R && /bin/sh $W/guest.sh $B $W" > "$W/vm.out" 2> "$ERR" &
VMPID=$!
# The host half of case 3: wait for the guest's flag in its output dir, then rewrite the file.
run=
for _ in $(seq 900); do
	kill -0 $VMPID 2>/dev/null || break
	[ -n "$run" ] || run=$(sed -n 's/^vm.sh: kernel .* run dir \(.*\)$/\1/p' "$ERR")
	if [ -n "$run" ] && [ -f "$run/out/mod/host-ready" ]; then
		printf 'version 2 from the host\n' > "$run/out/mod/share.csv"
		printf 'VERSION 2\n' > "$W/root.csv"
		touch "$run/out/mod/host-changed"
		break
	fi
	sleep 1
done
wait $VMPID
rc=$?
VMPID=
cat "$W/vm.out"
run=$(sed -n 's/^vm.sh: run dir: \([^ ]*\).*/\1/p' "$ERR")
if [ $rc -ge 98 ] || [ -z "$run" ]; then
	cat "$ERR"
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
echo "# guest's IMA records of the changed files:"
sed 's/^/#   /' "$run/out/guest.ima" "$run/out/share.ima" "$run/out/root.ima" 2>/dev/null
grep -q '^not ok' "$W/vm.out" && exit 1
exit 0
