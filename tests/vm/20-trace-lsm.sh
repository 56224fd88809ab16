#!/bin/bash
# In the VM (Debian's 6.1 kernel with BPF LSM, IMA and a TPM): the whole scenario suite with
# --backend lsm, then the tracepoint backend on the same kernel over a subset, and the two
# compared: the same (path, digest) set (the tracepoint backend derives the ELF interpreter from
# PT_INTERP, README "The two backends"); roles may differ where that is inherent.
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicert-trace
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT
SUBSET=shell_reads,exec_chain,python_tmp_rename,daemon,threads,links,openat2,names,dedup,\
link_publish,hardlink_alias,inherited,elf_interp
tests/vm/lib/vm.sh "cd $R && /usr/bin/python3 tests/lib/scenarios.py --trace $B/aicert-trace \
--backend lsm --workdir /run/tmp/lsm --summary \$VMH_OUT/lsm.json; \
/usr/bin/python3 tests/lib/scenarios.py --trace $B/aicert-trace --backend tracepoint \
--workdir /run/tmp/lsm --only $SUBSET --summary \$VMH_OUT/tp.json \
| sed -e 's/^ok - /ok - [tracepoint in the VM] /' -e 's/^not ok - /not ok - [tracepoint in the VM] /'" \
	2> "$ERR"
rc=$?
run=$(sed -n 's/^vm.sh: run dir: \([^ ]*\).*/\1/p' "$ERR")
if [ $rc -ge 98 ]; then
	cat "$ERR"
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
/usr/bin/python3 - "$run/out/lsm.json" "$run/out/tp.json" <<'PY'
import json, os, sys
lsm, tp = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
for name, files in tp.items():
    a = {(p, d) for p, r, d in lsm.get(name, []) if d}
    b = {(p, d) for p, r, d in files if d}
    if a != b:
        bad.append(f"{name}: only lsm {sorted(a - b)[:3]}, only tracepoint {sorted(b - a)[:3]}")
if len(tp) < 13:
    bad.append(f"only {len(tp)} scenarios ran on the tracepoint backend")
if bad:
    print("not ok - lsm and tracepoint give the same (path, digest) set:", "; ".join(bad))
else:
    print(f"ok - lsm and tracepoint give the same (path, digest) set over {len(tp)} scenarios")
PY
exit $rc
