#!/usr/bin/python3
"""aicertd_client.py - speak aicertd's socket protocol directly, as a hostile client would.

  aicertd_client.py SOCKET lie-uid        a "run" that names uid 0 (run as a user): refused?
  aicertd_client.py SOCKET not-my-child   a "run" with a pidfd of a process that is not ours
  aicertd_client.py SOCKET no-pidfd       a "run" without the pidfd
  aicertd_client.py SOCKET garbage        bytes that are not JSON
  aicertd_client.py SOCKET request JSON   one request, the answer printed

Prints the daemon's answer (one JSON object per line); exit 0 when it was an error answer of the
expected kind for the lie-*/not-*/no-*/garbage cases, 1 otherwise.
"""
import json
import os
import socket
import subprocess
import sys


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def answer(s):
    s.settimeout(30)
    data = s.recv(65536)
    if not data:
        return None
    return json.loads(data)


def run_req(extra, fds):
    req = {"op": "run", "argv": ["/bin/true"], "cwd": "/"}
    req.update(extra)
    return json.dumps(req).encode()


def main():
    path, what = sys.argv[1], sys.argv[2]
    s = connect(path)
    if what == "lie-uid":
        child = subprocess.Popen(["/bin/sleep", "30"])
        pfd = os.pidfd_open(child.pid)
        socket.send_fds(s, [run_req({"uid": 0}, 1)], [pfd])
        a = answer(s)
        child.kill()
        child.wait()
        want = "denied"
    elif what == "not-my-child":
        # our parent (the test's shell) is not our child
        pfd = os.pidfd_open(os.getppid())
        socket.send_fds(s, [run_req({}, 1)], [pfd])
        a = answer(s)
        want = "denied"
    elif what == "no-pidfd":
        s.send(run_req({}, 0))
        a = answer(s)
        want = "bad-request"
    elif what == "garbage":
        s.send(b"{not json")
        try:
            a = answer(s)
        except (ConnectionResetError, json.JSONDecodeError):
            a = None
        # a daemon may answer bad-request or drop the connection; either way it must still serve
        s2 = connect(path)
        s2.send(json.dumps({"op": "status"}).encode())
        b = answer(s2)
        print(json.dumps(a))
        print(json.dumps(b))
        return 0 if b and b.get("op") == "status" else 1
    elif what == "request":
        s.send(sys.argv[3].encode())
        a = answer(s)
        print(json.dumps(a))
        return 0
    else:
        print("unknown case", what, file=sys.stderr)
        return 2
    print(json.dumps(a))
    return 0 if a and a.get("op") == "error" and a.get("code") == want else 1


if __name__ == "__main__":
    sys.exit(main())
