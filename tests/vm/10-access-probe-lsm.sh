#!/bin/bash
# In the VM (Debian's 6.1 kernel with BPF LSM): the kernel-side probe suite
# (tests/integration/10-access-probe.sh) with the LSM backend: records, flags, dedup, loss
# accounting, scope, the ELF interpreter that only LSM hooks see.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_built aicert-probe
tests/vm/lib/vm.sh "mount -t cgroup2 none /sys/fs/cgroup; cd $R && AICERT_BUILD=$B \
AICERT_BACKEND=lsm bash tests/integration/10-access-probe.sh"
rc=$?
if [ $rc -ge 98 ]; then
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
exit $rc
