#!/usr/bin/python3
"""scenarios.py - aicert-trace's scenario suite, run as a user would run the tool.

Each scenario runs the real aicert-trace on a real command and checks the bundle's bom.json:
the files that must be there (with their role), the files that must not, and every digest
against the sha256sum program. Prints "ok - NAME" / "not ok - NAME: reason" lines; exits 1 when
any check failed.

usage: scenarios.py --trace PATH --backend B --workdir DIR [--only NAME,...] [--summary FILE]
The same suite runs on the host (tracepoint backend) and in the VM (LSM backend).
"""
import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bomq  # noqa: E402

PY = "/usr/bin/python3"
failures = 0
changed_paths = set()  # files a scenario changes on purpose: skip them in the global digest check


def report(name, ok, why=""):
    global failures
    if ok:
        print(f"ok - {name}", flush=True)
    else:
        failures += 1
        print(f"not ok - {name}: {why}", flush=True)


def sha256sum(path):
    # through stdin: sha256sum escapes names with a newline or backslash in its output
    with open(path, "rb") as f:
        out = subprocess.run(["sha256sum"], stdin=f, capture_output=True, check=True)
    return out.stdout.split()[0].decode()


def write(path, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return path


class Suite:
    def __init__(self, args):
        self.trace = os.path.abspath(args.trace)
        self.backend = args.backend
        self.w = os.path.realpath(args.workdir)
        self.bundles = {}
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.w)

    def run(self, name, cmd, opts=(), timeout=120, **kw):
        out = os.path.join(self.w, "bundles", name)
        argv = [self.trace, "-o", out, "--no-tpm", "--no-cache", "--backend", self.backend,
                *opts, "--", *cmd]
        t0 = time.time()
        p = subprocess.run(argv, cwd=self.w, capture_output=True, timeout=timeout, **kw)
        p.elapsed = time.time() - t0
        p.bom = bomq.load(out) if os.path.exists(os.path.join(out, "bom.json")) else None
        if p.bom is not None:
            self.bundles[name] = p.bom
        return p

    def path(self, name):
        return os.path.join(self.w, name)


def expect(name, p, files, absent=(), rc=0):
    """files: [(path, role or None, expected sha256 or None)]"""
    if p.returncode != rc:
        return report(name, False, f"exit {p.returncode}, wanted {rc}; stderr: "
                      f"{p.stderr.decode(errors='replace')[-400:]}")
    if p.bom is None:
        return report(name, False, "no bom.json written")
    for path, role, digest in files:
        entries = bomq.find(p.bom, path)
        if not entries:
            return report(name, False, f"{path!r} is missing from bom.json")
        if role and not any(role in e["roles"] for e in entries):
            return report(name, False, f"{path!r} lacks role {role}: "
                          f"{[e['roles'] for e in entries]}")
        if digest and not any(e["sha256"] == digest for e in entries):
            return report(name, False, f"{path!r}: digests {[e['sha256'] for e in entries]}"
                          f" {[e.get('status') for e in entries]}, sha256sum says {digest}")
    for path in absent:
        if bomq.find(p.bom, path):
            return report(name, False, f"{path!r} must not be in bom.json")
    report(name, True)


def sc_shell_reads(s):
    a = write(s.path("a.txt"), "alpha\n")
    b = write(s.path("b.txt"), "beta\n")
    p = s.run("shell-reads", ["sh", "-c", "cat a.txt b.txt /proc/self/status /sys/kernel/uevent_seqnum"
                              " > /dev/null"])
    cat = os.path.realpath(shutil.which("cat"))
    expect("shell reads two files; cat is an executable; /proc and /sys stay out", p,
           [(a, "input", sha256sum(a)), (b, "input", sha256sum(b)),
            (cat, "executable", sha256sum(cat))])
    pseudo = [f["path"] for f in (p.bom or {}).get("files", [])
              if f["path"].startswith(("/proc/", "/sys/", "/dev/"))]
    report("policy: no /proc, /sys or /dev file in bom.json", p.bom is not None and not pseudo,
           repr(pseudo[:3]))


def sc_exec_chain(s):
    d = write(s.path("d.txt"), "delta\n")
    s2 = write(s.path("script2.sh"), "#!/bin/sh\ncat " + d + " > /dev/null\n")
    s1 = write(s.path("script1.sh"), "#!/bin/sh\nsh -c 'exec " + s2 + "'\n")
    os.chmod(s1, 0o755)
    os.chmod(s2, 0o755)
    p = s.run("exec-chain", [s1])
    sh = os.path.realpath("/bin/sh")
    expect("exec chain: script -> sh -> script -> cat", p,
           [(s1, None, sha256sum(s1)), (s2, None, sha256sum(s2)), (d, "input", sha256sum(d)),
            (sh, "executable", sha256sum(sh))])


def sc_python_tmp_rename(s):
    csv = write(s.path("data.csv"), "x,y\n1,2\n3,4\n")
    script = write(s.path("train_small.py"), f"""
import os
rows = open({csv!r}).read().splitlines()
os.makedirs("out", exist_ok=True)
with open("out/model.bin.tmp", "wb") as f:
    f.write(("model of %d rows" % len(rows)).encode() * 100)
os.replace("out/model.bin.tmp", "out/model.bin")
""")
    p = s.run("python-tmp-rename", [PY, script])
    model = s.path("out/model.bin")
    expect("python reads a CSV, writes the model with tmp + rename", p,
           [(csv, "input", sha256sum(csv)), (script, "input", sha256sum(script)),
            (model, "output", sha256sum(model) if os.path.exists(model) else "absent")],
           absent=[model + ".tmp"])


def sc_daemon(s):
    f = write(s.path("daemon.txt"), "read by a daemon after its parent exited\n")
    cmd = ("setsid sh -c 'sleep 1; cat " + f + " > /dev/null' < /dev/null > /dev/null 2>&1 & "
           "exit 0")
    p = s.run("daemon", ["sh", "-c", cmd])
    expect("a double-forked daemon's read after its parent exited", p,
           [(f, "input", sha256sum(f))])


def sc_threads(s):
    files = [write(s.path(f"t{i}.txt"), f"thread {i}\n" * (i + 1)) for i in range(8)]
    script = write(s.path("threads.py"), f"""
import threading
def rd(p):
    open(p).read()
ts = [threading.Thread(target=rd, args=(p,)) for p in {files!r}]
[t.start() for t in ts]
[t.join() for t in ts]
""")
    p = s.run("threads", [PY, script])
    expect("eight threads each open a file", p, [(f, "input", sha256sum(f)) for f in files])


def sc_links(s):
    target = write(s.path("target.txt"), "the symlink's target\n")
    os.symlink(target, s.path("sym.txt"))
    orig = write(s.path("hl_orig.txt"), "hard-linked content\n")
    os.link(orig, s.path("hard.txt"))
    p = s.run("links", ["sh", "-c", "cat sym.txt hard.txt > /dev/null"])
    expect("a symlink is measured as its target; a hard link by the name used", p,
           [(target, "input", sha256sum(target)), (s.path("hard.txt"), "input", sha256sum(orig))],
           absent=[s.path("sym.txt")])


def sc_openat2(s):
    f = write(s.path("openat2.txt"), "opened with openat2\n")
    script = write(s.path("openat2.py"), f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
class How(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]
how = How(os.O_RDONLY, 0, 0)
fd = libc.syscall(437, -100, {f.encode()!r}, ctypes.byref(how), ctypes.sizeof(how))
assert fd >= 0, os.strerror(ctypes.get_errno())
os.read(fd, 100)
""")
    p = s.run("openat2", [PY, script])
    expect("openat2(2)", p, [(f, "input", sha256sum(f))])


def sc_changed(s):
    f = write(s.path("changing.txt"), "version one\n")
    first = sha256sum(f)
    changed_paths.add(f)
    p = s.run("changed", ["sh", "-c",
                          "cat changing.txt > /dev/null; sleep 0.5; echo two >> changing.txt; "
                          "cat changing.txt > /dev/null"])
    expect("a file changed between two opens is measured twice", p,
           [(f, "input", first), (f, "input", sha256sum(f)), (f, "output", sha256sum(f))])


def sc_deleted(s):
    f = write(s.path("deleted.txt"), "deleted right after it was opened\n")
    digest = sha256sum(f)
    script = write(s.path("deleted.py"), f"""
import os, time
fh = open({f!r})
os.unlink({f!r})
time.sleep(1)
fh.read()
""")
    p = s.run("deleted", [PY, script])
    expect("a file deleted right after it was opened (hashed through the open fd)", p,
           [(f, "input", digest)])


def sc_names(s):
    names = [b"with space.txt", b"new\nline.txt", b"\xff\xfe-not-utf8.txt"]
    paths = []
    for i, n in enumerate(names):
        pb = os.fsencode(s.w) + b"/" + n
        write(pb, f"odd name {i}\n")
        paths.append(pb)
    p = s.run("names", ["cat", *paths])
    expect("names with spaces, newlines and non-UTF-8 bytes", p,
           [(pb, "input", sha256sum(pb)) for pb in paths])


def sc_untraced(s):
    secret = write(s.path("secret.txt"), "read only by an untraced process\n")
    mine = write(s.path("mine.txt"), "read by the run\n")
    reader = subprocess.Popen(["sh", "-c", "while :; do cat secret.txt > /dev/null; "
                               "sleep 0.05; done"], cwd=s.w)
    try:
        p = s.run("untraced", ["sh", "-c", "sleep 1; cat mine.txt > /dev/null; sleep 0.5"])
    finally:
        reader.kill()
        reader.wait()
    expect("a concurrent untraced process's reads stay out", p,
           [(mine, "input", sha256sum(mine))], absent=[secret])


def sc_dedup(s):
    f = write(s.path("reread.txt"), "re-read every epoch\n")
    p = s.run("dedup", ["sh", "-c", "i=0; while [ $i -lt 1000 ]; do read x < reread.txt; "
                        "i=$((i+1)); done"])
    entries = bomq.find(p.bom, f) if p.bom else []
    expect("a file read 1000 times is measured", p, [(f, "input", sha256sum(f))])
    report("... and appears once", len(entries) == 1, f"{len(entries)} entries")


def sc_strict(s):
    """A path longer than a record holds (4096 bytes) is truncated: counted, the run is
    incomplete, and --strict makes that a failure."""
    name = "n" * 250
    fd = os.open(s.w, os.O_RDONLY)
    for _ in range(18):  # 18 * 251 bytes: past PATH_MAX, so built relative to a dir fd
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    wfd = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, b"far down\n")
    os.close(wfd)
    os.close(fd)
    cmd = f"import os\nfor _ in range(18): os.chdir({name!r})\nopen('deep.txt').read()\n"
    for strict in (True, False):
        p = s.run("strict" if strict else "not-strict", [PY, "-c", cmd],
                  opts=["--strict"] if strict else [])
        run = (p.bom or {}).get("run", {})
        got = {k: run.get(k) for k in ("complete", "paths_truncated", "events_lost")}
        if strict:
            report("--strict: a truncated path makes the run incomplete and exits 125",
                   p.returncode == 125 and run.get("complete") is False
                   and run.get("paths_truncated", 0) > 0, f"exit {p.returncode}, run {got}")
        else:
            report("... without --strict the command's status is kept, the BOM says incomplete",
                   p.returncode == 0 and run.get("complete") is False,
                   f"exit {p.returncode}, run {got}")


def sc_exit_codes(s):
    noexec = write(s.path("noexec.txt"), "not a program\n")
    for name, cmd, want in [("false", ["false"], 1), ("not found", ["/nonexistent/cmd"], 127),
                            ("not executable", [noexec], 126),
                            ("killed by SIGTERM", ["sh", "-c", "kill -TERM $$"], 143)]:
        p = s.run("exit-" + name.replace(" ", "-"), cmd)
        ok = p.returncode == want and p.bom is not None
        report(f"exit status: {name} -> {want}", ok,
               f"exit {p.returncode}, bom {'present' if p.bom else 'missing'}; "
               f"{p.stderr.decode(errors='replace')[-300:]}")


def sc_signal(s):
    out = os.path.join(s.w, "bundles", "signal")
    log = open(os.path.join(s.w, "signal.stderr"), "w+")
    # The command says when it runs (a line on its stdout, a pipe): the signal is sent only
    # then, however long the backend takes to load on a busy machine. No sleep.
    pr = subprocess.Popen([s.trace, "-o", out, "--no-tpm", "--no-cache", "--backend", s.backend,
                           "--", "sh", "-c", "echo started; exec sleep 60"],
                          cwd=s.w, stderr=log, stdout=subprocess.PIPE)
    ready, _, _ = select.select([pr.stdout], [], [], 300)
    line = pr.stdout.readline() if ready else b""
    if line != b"started\n":
        pr.kill()
        pr.wait()
        log.seek(0)
        report("SIGTERM reaches the command; the bundle is still written", False,
               f"the command never said it started ({line!r}); stderr: {log.read()[-300:]!r}")
        return
    t0 = time.time()
    pr.send_signal(signal.SIGTERM)
    try:
        rc = pr.wait(timeout=50)
    except subprocess.TimeoutExpired:
        pr.kill()
        rc = None
    log.seek(0)
    ok = rc == 128 + signal.SIGTERM and os.path.exists(os.path.join(out, "bom.json"))
    report("SIGTERM reaches the command; the bundle is still written", ok,
           f"exit {rc} {time.time() - t0:.1f} s after the signal; stderr: {log.read()[-300:]!r}")


def sc_not_root(s):
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", s.trace, "-o", "/run/aicert-never", "--no-tpm",
                        "--", "true"], capture_output=True)
    err = p.stderr.decode(errors="replace")
    report("not root: exit 125 with a clear message", p.returncode == 125 and "root" in err,
           f"exit {p.returncode}: {err.strip()[-200:]}")


def sc_all_digests(s):
    """Every digest in every bundle equals sha256sum of the file (when it still exists)."""
    seen, bad = 0, []
    for name, bom in s.bundles.items():
        for f in bom["files"]:
            path = f["pathb"]
            if not f["sha256"] or path in changed_paths or os.fsdecode(path) in changed_paths:
                continue
            if not os.path.isfile(path):
                continue
            seen += 1
            if sha256sum(path) != f["sha256"]:
                bad.append((name, path))
    report(f"every digest equals sha256sum ({seen} checked)", seen > 0 and not bad, repr(bad[:5]))


SCENARIOS = [sc_shell_reads, sc_exec_chain, sc_python_tmp_rename, sc_daemon, sc_threads,
             sc_links, sc_openat2, sc_changed, sc_deleted, sc_names, sc_untraced, sc_dedup,
             sc_strict, sc_exit_codes, sc_signal, sc_not_root]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trace", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--summary", help="write {scenario: [[path, roles, sha256]...]} as JSON")
    args = ap.parse_args()
    s = Suite(args)
    only = set(filter(None, args.only.split(",")))
    for sc in SCENARIOS:
        if only and sc.__name__[3:] not in only:
            continue
        try:
            sc(s)
        except Exception as e:  # a crash in one scenario must not hide the others
            report(sc.__name__[3:], False, f"{type(e).__name__}: {e}")
    if not only or len(only) > 1:
        sc_all_digests(s)
    if args.summary:
        summ = {n: sorted([os.fsdecode(f["pathb"]), f["roles"], f["sha256"]]
                          for f in b["files"]) for n, b in s.bundles.items()}
        with open(args.summary, "w") as f:
            json.dump(summ, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
