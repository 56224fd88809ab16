#!/bin/bash
# strace as an independent oracle (tests/lib/oracle.py) on the host with the tracepoint backend:
# each workload runs as `aicert-trace -- strace -f ... -- WORKLOAD`, and every file a successful
# open, exec or PROT_EXEC mmap reached must be in bom.json under the names it has at run end
# (minus the policy's exclusions), with the digest sha256sum gives.
# Workloads: PyTorch training (examples/train.py), a DataLoader with 2 workers, DDP with 2 ranks
# (torch.multiprocessing, gloo on 127.0.0.1), gcc, a shell pipeline, link publishing.
. "$(dirname "$0")/../lib/common.sh"
need_root "needs root to load BPF programs"
need_built aicert-trace
need_cmd strace "strace is not installed (scripts/install-deps.sh installs it)"
need_cmd gcc
/usr/bin/python3 -c 'import torch, yaml' 2> /dev/null ||
	skip "Debian's python3-torch and python3-yaml are needed (scripts/install-deps.sh)"
W=$(mktemp -d /tmp/aicert-oracle.XXXXXX)
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 tests/lib/oracle.py --trace "$B/aicert-trace" --backend tracepoint --workdir "$W/w"
