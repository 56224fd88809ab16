#!/bin/bash
# In the VM (Debian's 6.1 kernel with BPF LSM): the strace oracle (tests/lib/oracle.py) with
# --backend lsm. Every file a successful open, exec or PROT_EXEC mmap reached, as strace -f saw it
# inside the run, must be in bom.json under its run-end names with sha256sum's digest.
# ORACLE_WORKLOADS picks the workloads. Measured under qemu's TCG on 2 busy host cores: gcc 21 s,
# pipeline 16 s, link 12 s, train 147 s (plus about 25 s of boot); the DataLoader (193 s) and
# DDP (182 s) workloads start 3 and 4 interpreters, so they are left to
# ORACLE_WORKLOADS=all (the six) or a list such as ORACLE_WORKLOADS=ddp.
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicert-trace
need_cmd strace "strace is not installed (scripts/install-deps.sh installs it)"
need_cmd gcc
/usr/bin/python3 -c 'import yaml' 2> /dev/null || skip "python3-yaml is needed (scripts/install-deps.sh)"
ONLY=${ORACLE_WORKLOADS:-pipeline,gcc,link,train}
[ "$ONLY" = all ] && ONLY=
# multiprocessing's semaphores (DataLoader, DDP) need a /dev/shm, which the guest's devtmpfs lacks;
# DDP's gloo rendezvous needs the loopback interface, which the guest does not bring up
tests/vm/lib/vm.sh "mountpoint -q /dev/shm || { mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm; }; \
ip link set lo up; \
cd $R && /usr/bin/python3 tests/lib/oracle.py --trace $B/aicert-trace \
--backend lsm --workdir /run/tmp/oracle ${ONLY:+--only $ONLY} \
| sed -e 's/^ok - oracle: /ok - oracle [lsm]: /' -e 's/^not ok - oracle: /not ok - oracle [lsm]: /'"
rc=$?
if [ $rc -ge 98 ]; then
	echo "not ok - the VM harness failed (exit $rc)"
	exit 1
fi
exit $rc
