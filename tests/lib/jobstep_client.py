#!/usr/bin/python3
"""jobstep_client.py - play slurmstepd for aicertd: register a job step's tasks as spank_aicert.so
does (socket op "slurm", as root, with each task's pidfd before it executes), then let them run.

  jobstep_client.py SOCKET --job ID --step S --node N --nodes HOSTLIST [--tasks K]
                    [--uid U --gid G] [--cwd DIR] [--cgroup V2DIR] -- COMMAND [ARGS...]

Each task is a forked child blocked on a pipe until every task is registered (as slurmstepd holds
its tasks until task_post_fork ran for all); then it drops to --uid/--gid, enters --cwd and
executes COMMAND with SLURM_PROCID, SLURM_LOCALID and SLURM_NODEID-like variables set. With
--cgroup, each task is first moved into V2DIR/task_<k> (made here): the shape of Slurm's own v2
step cgroup, which aicertd then adopts. Prints aicertd's answer for each task (one JSON per line)
and exits with the first task's exit status (128+N for signal N); 3 when a registration was
refused.
"""
import argparse
import json
import os
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--job", required=True)
    ap.add_argument("--step", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--tasks", type=int, default=1)
    ap.add_argument("--uid", type=int, default=0)
    ap.add_argument("--gid", type=int, default=0)
    ap.add_argument("--cwd", default=os.getcwd())
    ap.add_argument("--cgroup")
    ap.add_argument("--raw", help="extra JSON merged into every request (hostile tests)")
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()

    tasks = []
    for k in range(a.tasks):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(w)
            if os.read(r, 1) != b"g":
                os._exit(99)
            os.environ.update(SLURM_PROCID=str(k), SLURM_LOCALID=str(k),
                              SLURM_JOB_ID=a.job, SLURM_STEP_ID=a.step,
                              SLURMD_NODENAME=a.node, SLURM_NTASKS=str(a.tasks))
            try:
                if a.gid:
                    os.setgroups([])
                    os.setgid(a.gid)
                if a.uid:
                    os.setuid(a.uid)
                os.chdir(a.cwd)
                os.execvp(a.command[0], a.command)
            except OSError as e:
                print("jobstep_client: %s: %s" % (a.command[0], e), file=sys.stderr)
                os._exit(127)
        os.close(r)
        if a.cgroup:
            d = os.path.join(a.cgroup, "task_%d" % k)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        tasks.append((pid, w))

    refused = False
    for k, (pid, w) in enumerate(tasks):
        req = {"op": "slurm", "job": a.job, "step": a.step, "node": a.node,
               "nodes": a.nodes, "user_uid": a.uid, "user_gid": a.gid, "cwd": a.cwd,
               "argv": a.command, "task": k}
        if a.raw:
            req.update(json.loads(a.raw))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(a.socket)
        pfd = os.pidfd_open(pid)
        socket.send_fds(s, [json.dumps(req).encode()], [pfd])
        os.close(pfd)
        s.settimeout(30)
        ans = json.loads(s.recv(65536))
        s.close()
        print(json.dumps(ans), flush=True)
        refused |= ans.get("op") != "started"
    for pid, w in tasks:
        if refused:
            os.kill(pid, signal.SIGKILL)
        else:
            os.write(w, b"g")
        os.close(w)
    first = None
    for pid, _ in tasks:
        _, st = os.waitpid(pid, 0)
        code = 128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
        first = code if first is None else first
    sys.exit(3 if refused else first)


if __name__ == "__main__":
    main()
