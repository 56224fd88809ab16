#!/bin/bash
# In the VM (Debian's 6.1 kernel with BPF LSM): the kernel-side probe suite
# (tests/integration/10-access-probe.sh) with the LSM backend: records, flags, dedup, loss
# accounting, scope, the ELF interpreter that only LSM hooks see. Then the unit test that loads
# the backend (tests/unit/test_access.c: two runs at once, the drain barrier) on LSM too.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_built aicert-probe
need_built tests/test_access
tests/vm/lib/vm.sh "mount -t cgroup2 none /sys/fs/cgroup; cd $R && AICERT_BUILD=$B \
AICERT_BACKEND=lsm bash tests/integration/10-access-probe.sh; p=\$?; \
if AICERT_BACKEND=lsm $B/tests/test_access > \$TMPDIR/ta.log 2>&1; \
then echo 'ok - test_access on the lsm backend'; \
else cat \$TMPDIR/ta.log; echo 'not ok - test_access on the lsm backend'; p=1; fi; exit \$p"
rc=$?
if [ $rc -ge 98 ]; then
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
exit $rc
