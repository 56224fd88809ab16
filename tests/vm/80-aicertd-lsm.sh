#!/bin/bash
# In the VM (Debian's 6.1 kernel with BPF LSM, IMA and the kernel's TPM resource manager):
# tests/integration/90-aicertd.sh with aicertd on the LSM backend and /dev/tpmrm0: concurrent
# runs (one unprivileged), a tracked cgroup with a nested child, lying clients, SIGHUP, kill -9
# and restart, SIGTERM; every bundle verified, every digest compared with sha256sum.
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicertd aicert-trace aicert aicert-verify
tests/vm/lib/vm.sh "cd $R && AICERT_BUILD=$B AICERTD_BACKEND=lsm AICERTD_TCTI=device:/dev/tpmrm0 \
TMPDIR=/run/tmp bash tests/integration/90-aicertd.sh > /run/tmp/d.out 2>&1; rc=\$?; \
sed -e 's/^ok - /ok - [lsm] /' -e 's/^not ok - /not ok - [lsm] /' /run/tmp/d.out; exit \$rc"
rc=$?
if [ $rc -ge 98 ]; then
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
exit $rc
