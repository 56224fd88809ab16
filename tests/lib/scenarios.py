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
import socket
import struct
import subprocess
import sys
import threading
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
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.run(argv, cwd=self.w, timeout=timeout, **kw)
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


def sc_inode_reuse(s):
    """Temporary files created and unlinked one after another: ext4 gives the next one the
    freed inode number at once. Each is its own output (deleted before the run ended), not one
    file renamed four times."""
    names = [s.path(f"reuse{i}.tmp") for i in range(4)]
    script = write(s.path("reuse.py"), f"""
import os
for n in {names!r}:
    fd = os.open(n, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    os.write(fd, b"scratch")
    os.unlink(n)
    os.close(fd)
""")
    p = s.run("inode_reuse", [PY, script])
    expect("files reusing a freed inode number are each listed", p,
           [(n, "output", None) for n in names])
    if p.bom is not None:
        bad = [n for n in names for e in bomq.find(p.bom, n)
               if e.get("status") != "deleted before the run ended"]
        report("files reusing a freed inode number: each deleted before the run ended",
               not bad, f"wrong status for {bad}")


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


def elf_interp(path):
    """PT_INTERP of an ELF64 little-endian program, read here with struct (not by aicert)."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if ptype == 3:  # PT_INTERP
            return data[off:off + filesz].rstrip(b"\0").decode()
    return None


def strict_ok(p):
    run = (p.bom or {}).get("run", {})
    return p.returncode == 0 and run.get("complete") is True


def sc_link_publish(s):
    """Outputs published by link: an O_TMPFILE given its name with linkat(AT_EMPTY_PATH), and a
    temporary written, linked to its final name and unlinked. Both are measured under the final
    names, nothing is reported deleted, and --strict passes."""
    script = write(s.path("publish.py"), """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o644)
os.write(fd, b"weights published from an O_TMPFILE\\n" * 50)
assert libc.linkat(fd, b"", -100, b"pub/model.bin", 0x1000) == 0, os.strerror(ctypes.get_errno())
os.close(fd)
with open("pub/ckpt.tmp", "wb") as f:
    f.write(b"checkpoint published by link + unlink\\n" * 50)
os.link("pub/ckpt.tmp", "pub/ckpt.bin")
os.unlink("pub/ckpt.tmp")
""")
    os.makedirs(s.path("pub"), exist_ok=True)
    p = s.run("link-publish", [PY, script], opts=["--strict"])
    model, ckpt = s.path("pub/model.bin"), s.path("pub/ckpt.bin")
    digests = [sha256sum(f) if os.path.exists(f) else "absent" for f in (model, ckpt)]
    expect("outputs published by O_TMPFILE + linkat and by write + link + unlink", p,
           [(model, "output", digests[0]), (ckpt, "output", digests[1])],
           absent=[s.path("pub/ckpt.tmp")])
    gone = [f["path"] for f in (p.bom or {}).get("files", [])
            if f["path"].startswith(s.path("pub/")) and f.get("status")]
    report("... nothing of it is reported deleted, and --strict exits 0 with the run complete",
           strict_ok(p) and not gone, f"exit {p.returncode}, entries with a status: {gone}")


def sc_hardlink_alias(s):
    """A file with two names: a run that reads both lists both; a written file linked to a second
    name is an output under both."""
    a = write(s.path("alias_a.txt"), "one inode, two names\n")
    b = s.path("alias_b.txt")
    os.link(a, b)
    p = s.run("hardlink-alias", ["sh", "-c", "cat alias_a.txt > /dev/null; "
                                 "cat alias_b.txt > /dev/null; echo out > alias_out1.txt; "
                                 "ln alias_out1.txt alias_out2.txt"])
    o1, o2 = s.path("alias_out1.txt"), s.path("alias_out2.txt")
    expect("a second name of a hard-linked file is listed (read under both, written under both)",
           p, [(a, "input", sha256sum(a)), (b, "input", sha256sum(b)),
               (o1, "output", sha256sum(o1)), (o2, "output", sha256sum(o2))])


def sc_inherited(s):
    """cmd < data.csv > out.txt: the descriptors the command inherits are an input and an
    output."""
    data = write(s.path("inherit.csv"), "a,b\n1,2\n")
    out = s.path("inherit_out.txt")
    with open(data) as fin, open(out, "w") as fout:
        p = s.run("inherited", ["tr", "a-z", "A-Z"], opts=["--strict"], stdin=fin, stdout=fout)
    expect("inherited stdin is an input, inherited stdout an output", p,
           [(data, "input", sha256sum(data)), (out, "output", sha256sum(out))])
    report("... and --strict exits 0 with the run complete", strict_ok(p),
           f"exit {p.returncode}")


def sc_elf_interp(s):
    """The ELF interpreter the kernel maps inside execve: the LSM backend sees it, the tracepoint
    backend reads it from the program's PT_INTERP and marks it derived."""
    prog = os.path.realpath(shutil.which("true"))
    interp = os.path.realpath(elf_interp(prog))
    p = s.run("elf-interp", [prog])
    expect("the ELF interpreter of an executed program is a library", p,
           [(interp, "library", sha256sum(interp))])
    want = "elf-interpreter" if s.backend == "tracepoint" else None
    got = [e.get("derived") for e in bomq.find(p.bom, interp)] if p.bom else []
    report(f"... derived: {want}", got == [want], repr(got))


def sc_scm_rights(s):
    """A file opened outside the run and passed to the command over a Unix socket. The LSM
    backend records it (file_receive); the tracepoint backend cannot see it (README)."""
    secret = write(s.path("passed.txt"), "received over SCM_RIGHTS\n")
    sock_path = s.path("fd.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(300)
    err = []

    def serve():
        try:
            conn, _ = srv.accept()
            fd = os.open(secret, os.O_RDONLY)
            socket.send_fds(conn, [b"x"], [fd])
            os.close(fd)
            conn.recv(1)  # the command closes when done
            conn.close()
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=serve)
    t.start()
    script = write(s.path("receive.py"), f"""
import os, socket
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect({sock_path!r})
msg, fds, flags, addr = socket.recv_fds(c, 16, 1)
assert os.read(fds[0], 100)
""")
    try:
        p = s.run("scm-rights", [PY, script])
    finally:
        t.join(timeout=300)
        srv.close()
    if err:
        return report("SCM_RIGHTS", False, f"the sender failed: {err[0]}")
    if s.backend == "lsm":
        expect("a file received over SCM_RIGHTS is an input (LSM file_receive)", p,
               [(secret, "input", sha256sum(secret))])
    else:
        expect("a file received over SCM_RIGHTS: not seen by the tracepoint backend (README)",
               p, [], absent=[secret])


def sc_mprotect(s):
    """Code mapped readable, then made executable with mprotect: the LSM backend's file_mprotect
    hook records it as a library; the tracepoint backend sees only mmap's arguments (README)."""
    code = write(s.path("code.bin"), b"\xc3" * 4096)
    script = write(s.path("mprotect.py"), f"""
import ctypes, mmap, os
c = ctypes.CDLL(None, use_errno=True)
c.mmap.restype = ctypes.c_void_p
c.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                   ctypes.c_long]
c.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
fd = os.open({code!r}, os.O_RDONLY)
p = c.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
assert p not in (None, ctypes.c_void_p(-1).value)
os.close(fd)
assert c.mprotect(p, 4096, mmap.PROT_READ | mmap.PROT_EXEC) == 0, os.strerror(ctypes.get_errno())
""")
    p = s.run("mprotect", [PY, script])
    entries = bomq.find(p.bom, code) if p.bom else []
    roles = sorted({r for e in entries for r in e["roles"]})
    if s.backend == "lsm":
        expect("mprotect(PROT_EXEC) of a file mapping is a library (LSM file_mprotect)", p,
               [(code, "library", sha256sum(code))])
    else:
        report("mprotect(PROT_EXEC): the tracepoint backend sees the open only (README)",
               p.returncode == 0 and roles == ["input"], f"exit {p.returncode}, roles {roles}")


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
             sc_links, sc_openat2, sc_changed, sc_deleted, sc_inode_reuse, sc_names, sc_untraced, sc_dedup,
             sc_strict, sc_exit_codes, sc_signal, sc_not_root, sc_link_publish,
             sc_hardlink_alias, sc_inherited, sc_elf_interp, sc_scm_rights, sc_mprotect]


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
