#!/usr/bin/python3
"""oracle.py - strace as an independent oracle for aicert-trace's coverage.

Each workload runs once, as `aicert-trace -- strace -f ... -- WORKLOAD`: strace sees exactly the
run aicert records (strace's own opens are in the BOM too, which is fine: coverage is
strace <= BOM). From strace's log the harness collects every file that a successful
open/openat/openat2/creat, execve/execveat or PROT_EXEC mmap of a file descriptor reached,
follows it through rename/link/unlink to the names it has when the run is over, drops what the
policy excludes (policy/default.yaml: prefixes, pseudo filesystems, globs; the bundle directory),
and then asserts that bom.json lists each remaining name, and that every digest bom.json gives
for a file that still exists equals sha256sum's.

Not file accesses, so not expected (the BPF programs drop them on purpose): directories (opened
to list them) and O_PATH descriptors (no access to the data). An O_TMPFILE inode or an fd opened
on an already deleted file has no name; it is expected only once the run gives it one (linkat).
What the README says the tracepoint backend cannot see (files the kernel opens inside execve,
io_uring and open_by_handle_at opens, SCM_RIGHTS, inherited descriptors) never shows up as one
of the traced syscalls, so it needs no subtraction.

usage: oracle.py --trace PATH --backend B --workdir DIR [--only NAME,...] [--policy FILE]
Prints, per workload, "# " lines (files strace saw, covered, missed, each missed file) and one
"ok - oracle: NAME" / "not ok - oracle: NAME: why"; exits 1 when any workload failed.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bomq  # noqa: E402
import scenarios  # noqa: E402  (its report() and failure count)

PY = "/usr/bin/python3"
R = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SYSCALLS = ("open,openat,openat2,creat,execve,execveat,mmap,chdir,fchdir,clone,clone3,fork,"
            "vfork,rename,renameat,renameat2,link,linkat,unlink,unlinkat,rmdir,getdents64")


def report(name, ok, why=""):
    scenarios.report("oracle: " + name, ok, why)


def info(text):
    print("# " + text, flush=True)


# ---------- strace's log ----------

HEX = re.compile(rb"\\x([0-9a-fA-F]{2})")
# a descriptor decorated by -y: 3</path>, AT_FDCWD</cwd>, optionally followed by (deleted)
FD = re.compile(r'^(-?\d+|AT_FDCWD)<((?:\\x[0-9a-fA-F]{2})*)>(\(deleted\))?$')


def unhex(s):
    return HEX.sub(lambda m: bytes([int(m.group(1), 16)]), s.encode())


def string(arg):
    """A -xx string argument ("\\x2f\\x74...") as bytes; None when strace printed an address."""
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == '"' and arg[-1] == '"':
        return unhex(arg[1:-1])
    return None


def fdarg(arg):
    """(fd or 'AT_FDCWD', path bytes, deleted) of a decorated descriptor, else None."""
    m = FD.match(arg.strip())
    if not m:
        return None
    fd = m.group(1) if m.group(1) == "AT_FDCWD" else int(m.group(1))
    return fd, unhex(m.group(2)), bool(m.group(3))


def split_call(text):
    """'name(a, b) = ret' -> (name, [a, b], ret), or None for anything else."""
    i = text.find("(")
    if i <= 0 or not re.match(r"^[a-z0-9_]+$", text[:i]):
        return None
    depth, args, start, j = 0, [], i + 1, i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            j = text.index('"', j + 1)  # -xx: no quote or backslash-quote inside a string
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:j].strip())
            start = j + 1
        j += 1
    else:
        return None
    last = text[start:j].strip()
    if last:
        args.append(last)
    m = re.match(r"^\)\s*=\s*(.*)$", text[j:])
    if not m:
        return None
    return text[:i], args, m.group(1).strip()


def calls(log):
    """Each complete syscall of strace -f's log, unfinished/resumed pairs joined: (pid, text)."""
    pending = {}
    with open(log, "rb") as f:
        for raw in f:
            line = raw.decode("ascii", "replace").rstrip("\n")
            m = re.match(r"^(\d+)\s+(.*)$", line)
            if not m:
                continue
            pid, rest = int(m.group(1)), m.group(2)
            if rest.startswith(("---", "+++")):
                continue
            r = re.match(r"^<\.\.\. ([a-z0-9_]+) resumed>(.*)$", rest)
            if r:
                head = pending.pop(pid, None)
                if head is None:
                    continue
                rest = head + r.group(2)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
                continue
            yield pid, rest


# ---------- what strace saw: files and their names over the run ----------

class File:
    """One file (an inode) the run accessed, and the names the run gave it."""

    def __init__(self, name, anon=False):
        self.names = set() if anon else {name}
        self.last = None if anon else name
        self.first = name
        self.kinds = set()
        self.written = False
        self.directory = False
        self.opath = False
        self.anon = anon


class Proc:
    """A task's cwd and fd table; threads (CLONE_FS / CLONE_FILES) share the same lists."""

    def __init__(self, cwd=None, fds=None):
        self.cwd = cwd if cwd is not None else [None]
        self.fds = fds if fds is not None else {}


class Oracle:
    def __init__(self, root_cwd):
        self.root_cwd = os.fsencode(root_cwd)
        self.procs = {}
        self.index = {}  # current name -> File
        self.anon = {}  # "/dir/#ino" of an unnamed inode -> File
        self.files = []
        self.counts = {"open": 0, "exec": 0, "exec-mmap": 0}

    def proc(self, pid):
        p = self.procs.get(pid)
        if p is None:
            # the first task is the one strace started, in the workload's directory
            p = self.procs[pid] = Proc([self.root_cwd] if not self.procs else None)
        return p

    def resolve(self, pid, dirarg, path, follow=False):
        """An absolute name for path, relative to the decorated dirfd or the task's cwd."""
        if path is None:
            return None
        if not path.startswith(b"/"):
            base = None
            d = fdarg(dirarg) if dirarg else None
            if d:
                base = d[1]
            if base is None:
                base = self.proc(pid).cwd[0] or self.root_cwd
            path = base + b"/" + path
        path = os.path.normpath(path)
        if follow:
            return os.path.realpath(path)
        head, tail = os.path.split(path)
        return os.path.join(os.path.realpath(head), tail) if tail else path

    def access(self, name, kind, deleted=False):
        if deleted:
            f = self.anon.get(name)
            if f is None:
                f = self.anon[name] = File(name, anon=True)
                self.files.append(f)
        else:
            f = self.index.get(name)
            if f is None:
                f = self.index[name] = File(name)
                self.files.append(f)
        f.kinds.add(kind)
        self.counts[kind] += 1
        return f

    def rename(self, old, new, exchange=False):
        if exchange:
            a, b = self.index.pop(old, None), self.index.pop(new, None)
            for f, frm, to in ((a, old, new), (b, new, old)):
                if f:
                    f.names.discard(frm)
                    f.names.add(to)
                    f.last = to
                    self.index[to] = f
            return
        victim = self.index.get(new)
        moved = [(n, f) for n, f in self.index.items() if n == old or n.startswith(old + b"/")]
        if victim is not None and not any(f is victim for _, f in moved):
            victim.names.discard(new)
            del self.index[new]
        for n, f in moved:
            to = new + n[len(old):]
            del self.index[n]
            f.names.discard(n)
            f.names.add(to)
            f.last = to
            self.index[to] = f

    def link(self, f, new):
        if f is None:
            return
        f.names.add(new)
        f.last = new
        self.index[new] = f

    def unlink(self, name):
        f = self.index.pop(name, None)
        if f is not None:
            f.names.discard(name)

    def feed(self, pid, name, args, ret):
        p = self.proc(pid)
        for a in args[:1]:
            d = fdarg(a)
            if d and d[0] == "AT_FDCWD":
                p.cwd[0] = d[1]
        handler = getattr(self, "sc_" + name, None)
        if handler:
            handler(pid, p, args, ret)

    # -- opens --
    def opened(self, p, flags, ret):
        r = fdarg(ret)
        if r is None:
            return  # failed (-1 ENOENT ...) or not decorated
        fd, path, deleted = r
        f = self.access(path, "open", deleted=deleted)
        if "O_PATH" in flags:
            f.opath = True
        if "O_DIRECTORY" in flags and "O_TMPFILE" not in flags:
            f.directory = True
        if re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_TMPFILE", flags) or flags == "creat":
            f.written = True
        p.fds[fd] = f

    def sc_open(self, pid, p, a, ret):
        self.opened(p, a[1] if len(a) > 1 else "", ret)

    def sc_openat(self, pid, p, a, ret):
        self.opened(p, a[2] if len(a) > 2 else "", ret)

    def sc_openat2(self, pid, p, a, ret):
        m = re.search(r"flags=([A-Z0-9_|x]+)", a[2] if len(a) > 2 else "")
        self.opened(p, m.group(1) if m else "", ret)

    def sc_creat(self, pid, p, a, ret):
        self.opened(p, "creat", ret)

    # -- execs and exec mappings --
    def sc_execve(self, pid, p, a, ret):
        if ret.split()[0] != "0":
            return
        path = self.resolve(pid, None, string(a[0]), follow=True)
        if path:
            self.access(path, "exec")

    def sc_execveat(self, pid, p, a, ret):
        if ret.split()[0] != "0":
            return
        path = string(a[1])
        if path == b"" and fdarg(a[0]):
            path = fdarg(a[0])[1]
        path = self.resolve(pid, a[0], path, follow=True)
        if path:
            self.access(path, "exec")

    def sc_mmap(self, pid, p, a, ret):
        if len(a) < 6 or "PROT_EXEC" not in a[2] or ret.startswith(("-1", "?")):
            return
        d = fdarg(a[4])
        if d and isinstance(d[0], int) and d[0] >= 0:
            self.access(d[1], "exec-mmap", deleted=d[2])

    # -- cwd and tasks --
    def sc_chdir(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            p.cwd[0] = self.resolve(pid, None, string(a[0]), follow=True)

    def sc_fchdir(self, pid, p, a, ret):
        d = fdarg(a[0])
        if ret.split()[0] == "0" and d:
            p.cwd[0] = d[1]

    def cloned(self, p, flags, ret):
        try:
            child = int(ret.split()[0])
        except ValueError:
            return
        if child <= 0:
            return
        c = self.procs.get(child)
        cwd = p.cwd if "CLONE_FS" in flags else [p.cwd[0]]
        fds = p.fds if "CLONE_FILES" in flags else dict(p.fds)
        if c is None:
            self.procs[child] = Proc(cwd, fds)
        else:  # the child's first syscall was logged before the parent's return
            if c.cwd[0] is None:
                c.cwd = cwd
            c.fds.update(fds)

    def sc_clone(self, pid, p, a, ret):
        self.cloned(p, next((x for x in a if x.startswith("flags=")), ""), ret)

    def sc_clone3(self, pid, p, a, ret):
        self.cloned(p, a[0] if a else "", ret)

    def sc_fork(self, pid, p, a, ret):
        self.cloned(p, "", ret)

    sc_vfork = sc_fork

    # -- names --
    def sc_rename(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            self.rename(self.resolve(pid, None, string(a[0])),
                        self.resolve(pid, None, string(a[1])))

    def sc_renameat(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            self.rename(self.resolve(pid, a[0], string(a[1])),
                        self.resolve(pid, a[2], string(a[3])),
                        exchange=len(a) > 4 and "RENAME_EXCHANGE" in a[4])

    sc_renameat2 = sc_renameat

    def sc_link(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            old = self.resolve(pid, None, string(a[0]))
            self.link(self.index.get(old), self.resolve(pid, None, string(a[1])))

    def sc_linkat(self, pid, p, a, ret):
        if ret.split()[0] != "0":
            return
        old, new = string(a[1]), self.resolve(pid, a[2], string(a[3]))
        src = None
        d = fdarg(a[0])
        if old == b"" and "AT_EMPTY_PATH" in a[4] and d:
            src = self.anon.get(d[1]) if d[2] else self.index.get(d[1])
        else:
            m = re.match(rb"^/proc/(self|\d+)/fd/(\d+)$", old or b"")
            if m and "AT_SYMLINK_FOLLOW" in a[4]:
                owner = p if m.group(1) == b"self" else self.proc(int(m.group(1)))
                src = owner.fds.get(int(m.group(2)))
            else:
                src = self.index.get(self.resolve(pid, a[0], old))
        self.link(src, new)

    def sc_unlink(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            self.unlink(self.resolve(pid, None, string(a[0])))

    def sc_unlinkat(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            name = self.resolve(pid, a[0], string(a[1]))
            if len(a) > 2 and "AT_REMOVEDIR" in a[2]:
                self.directory(name)
            self.unlink(name)

    # -- directories opened without O_DIRECTORY (shutil.rmtree does), then removed --
    def directory(self, name):
        f = self.index.get(name)
        if f is not None:
            f.directory = True

    def sc_rmdir(self, pid, p, a, ret):
        if ret.split()[0] == "0":
            name = self.resolve(pid, None, string(a[0]))
            self.directory(name)
            self.unlink(name)

    def sc_getdents64(self, pid, p, a, ret):
        d = fdarg(a[0])
        if d:
            self.directory(d[1])


def read_strace(log, cwd):
    o = Oracle(cwd)
    for pid, text in calls(log):
        c = split_call(text)
        if c:
            o.feed(pid, *c)
    return o


# ---------- the policy's exclusions ----------

def octal_unescape(s):
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), s)


class Exclusions:
    def __init__(self, policy_file, bundle):
        import yaml  # python3-yaml
        with open(policy_file) as f:
            pol = yaml.safe_load(f)
        ex = pol.get("exclude") or {}
        self.prefixes = [os.fsencode(p.rstrip("/")) for p in ex.get("prefixes") or []]
        self.prefixes.append(os.fsencode(os.path.realpath(bundle)))
        self.fstypes = set(ex.get("filesystems") or [])
        self.globs = [glob_re(g) for g in ex.get("globs") or []]
        self.mounts = []
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                left, right = line.split(b" - ", 1)
                self.mounts.append((octal_unescape(left.split()[4]), right.split()[0].decode()))
        self.mounts.sort(key=lambda m: len(m[0]), reverse=True)

    def fstype(self, path):
        for mnt, fs in self.mounts:
            if mnt == b"/" or path == mnt or path.startswith(mnt + b"/"):
                return fs
        return "?"

    def why(self, path):
        """The reason the policy drops path, or None."""
        if not path.startswith(b"/"):
            return "pseudo file (" + path.split(b":")[0].decode(errors="replace") + ")"
        for p in self.prefixes:
            if path == p or path.startswith(p + b"/"):
                return "prefix " + p.decode(errors="replace")
        fs = self.fstype(path)
        if fs in self.fstypes:
            return "filesystem " + fs
        for g, whole in self.globs:
            if g.match(path if whole else os.path.basename(path)):
                return "glob"
        return None


def glob_re(g):
    """policy/default.yaml's GLOB: fnmatch with FNM_PATHNAME plus "**" components."""
    parts, out = g.split("/"), []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        rx = re.sub(r"\\\*", "[^/]*", re.escape(part)).replace("\\?", "[^/]")
        rx = re.sub(r"\\\[(.*?)\\\]", lambda m: "[" + m.group(1).replace("\\", "") + "]", rx)
        out.append(rx + ("" if last else "/"))
    return re.compile(("".join(out) + r"\Z").encode()), "/" in g


# ---------- sha256sum ----------

_digests = {}


def sha256sums(paths):
    """{path: hex digest} from the sha256sum program (-z: names are not escaped)."""
    todo, keys = [], {}
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        k = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        keys[p] = k
        if k not in _digests:
            todo.append(p)
    for i in range(0, len(todo), 500):
        chunk = todo[i:i + 500]
        out = subprocess.run(["sha256sum", "-z", "--", *chunk], capture_output=True).stdout
        for rec in out.split(b"\0"):
            if rec:
                digest, name = rec.split(b"  ", 1)
                if name in keys:
                    _digests[keys[name]] = digest.decode()
    return {p: _digests[k] for p, k in keys.items() if k in _digests}


# ---------- the check ----------

def check(name, o, bom, excl, limit=15, say=info):
    entries = {}
    for e in bom["files"]:
        entries.setdefault(e["pathb"], []).append(e)
    seen = excluded = not_access = unnamed = covered = 0
    missed, reasons, alive = [], {}, []
    for f in o.files:
        seen += 1
        if f.directory or f.opath or (f.names and all(os.path.isdir(n) for n in f.names)):
            not_access += 1
            continue
        if f.anon and not f.names:
            unnamed += 1
            continue
        want = sorted(f.names) if f.names else [f.last]
        why = [excl.why(n) for n in want]
        if all(why):
            excluded += 1
            reasons[why[0].split(" ")[0]] = reasons.get(why[0].split(" ")[0], 0) + 1
            continue
        want = [n for n, w in zip(want, why) if not w]
        lost = [n for n in want if n not in entries]
        if lost:
            missed.append((f, lost))
        else:
            covered += 1
        alive += [(f, n) for n in f.names if n in want and n in entries and os.path.isfile(n)]
    sums = sha256sums([n for _, n in alive])
    wrong, stale = [], 0
    for f, n in alive:
        if n not in sums:
            continue
        for e in entries[n]:
            if e["sha256"] is None:
                wrong.append(f"{n!r}: not measured ({e.get('status')}), sha256sum says {sums[n]}")
            elif e["sha256"] != sums[n]:
                if f.written and "output" not in e["roles"]:
                    stale += 1  # read as an input, rewritten later by the run itself
                else:
                    wrong.append(f"{n!r} {','.join(e['roles'])}: bom {e['sha256']}, "
                                 f"sha256sum {sums[n]}")
    c = o.counts
    say(f"{name}: strace saw {seen} files ({c['open']} opens, {c['exec']} execs, "
         f"{c['exec-mmap']} exec mmaps); excluded by the policy {excluded} "
         f"{reasons or ''}; directories and O_PATH {not_access}; never named {unnamed}")
    say(f"{name}: files {seen - excluded - not_access - unnamed} expected, {covered} covered, "
         f"{len(missed)} missed; digests checked {len(alive)}, wrong {len(wrong)}"
         + (f", inputs the run rewrote later {stale}" if stale else ""))
    for f, lost in missed[:limit]:
        for n in lost:
            say(f"{name}: MISSED {n!r} ({', '.join(sorted(f.kinds))}"
                 f"{', written' if f.written else ''}{', opened unnamed' if f.anon else ''}"
                 f"{', gone at run end' if not f.names else ''})")
    if len(missed) > limit:
        say(f"{name}: ... and {len(missed) - limit} more missed")
    for w in wrong[:limit]:
        say(f"{name}: WRONG DIGEST {w}")
    problems = []
    if missed:
        problems.append(f"{len(missed)} of {seen - excluded - not_access - unnamed} files missed"
                        f" (first: {missed[0][1][0]!r})")
    if wrong:
        problems.append(f"{len(wrong)} wrong or missing digests (first: {wrong[0]})")
    return problems


# ---------- workloads ----------

class Suite:
    def __init__(self, args):
        self.trace = os.path.abspath(args.trace)
        self.backend = args.backend
        self.policy = args.policy
        self.w = os.path.realpath(args.workdir)
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.w)
        self.strace = shutil.which("strace")
        self.controlled = False

    def run(self, name, setup, timeout=600):
        d = os.path.join(self.w, name)
        os.makedirs(d)
        cmd, must = setup(d)
        must = [os.fsencode(os.path.join(d, m)) for m in must]
        out = os.path.join(self.w, "bundles", name)
        log = os.path.join(d, "strace.log")
        argv = [self.trace, "-o", out, "--no-tpm", "--backend", self.backend,
                "--state-dir", os.path.join(self.w, "state"),
                "--cache", os.path.join(self.w, "cache"),
                "--", self.strace, "-f", "-qq", "-y", "-xx", "--seccomp-bpf",
                "-e", "signal=none", "-e", "trace=" + SYSCALLS, "-o", log, "--", *cmd]
        t0 = time.time()
        try:
            p = subprocess.run(argv, cwd=d, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return report(name, False, f"timed out after {timeout} s")
        elapsed = time.time() - t0
        if p.returncode != 0 or not os.path.exists(os.path.join(out, "bom.json")):
            return report(name, False, f"exit {p.returncode}; stderr: "
                          f"{p.stderr.decode(errors='replace')[-600:]}")
        bom = bomq.load(out)
        o = read_strace(log, d)
        run = bom["run"]
        info(f"{name}: {elapsed:.1f} s, backend {run.get('backend')}, complete "
             f"{run.get('complete')}, events_lost {run.get('events_lost')}, "
             f"{len(bom['files'])} files in bom.json")
        excl = Exclusions(self.policy, out)
        problems = check(name, o, bom, excl)
        names = {n for f in o.files for n in (f.names or {f.last})}
        blind = [m for m in must if m not in names]
        if blind:
            problems.insert(0, f"the oracle did not find {len(blind)} of the workload's own files"
                            f" in strace's log: {blind}")
        report(name, not problems, "; ".join(problems))
        if not self.controlled:
            self.controlled = control(o, bom, excl)


def control(o, bom, excl):
    """The check itself must fail a BOM with a file dropped and one with a digest changed."""
    files = [e for e in bom["files"] if e["sha256"] and not excl.why(e["pathb"])
             and any(e["pathb"] in f.names for f in o.files if not f.directory)]
    if not files:
        report("the check fails a BOM with a file dropped or a digest changed", False,
               "no measured file to drop")
        return True
    victim = files[0]
    dropped = dict(bom, files=[e for e in bom["files"] if e is not victim])
    forged = dict(bom, files=[dict(e, sha256="0" * 64) if e is victim else e
                              for e in bom["files"]])
    quiet = lambda text: None  # noqa: E731
    a = check("control", o, dropped, excl, say=quiet)
    b = check("control", o, forged, excl, say=quiet)
    report("the check fails a BOM with a file dropped or a digest changed",
           any("missed" in x for x in a) and any("wrong" in x for x in b),
           f"dropped {victim['path']!r}: {a}; forged its digest: {b}")
    return True


def write(path, data, mode=0o644):
    with open(path, "w") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Each workload writes its files into its directory d and returns (command, files): files are what
# the oracle itself must have found in strace's log (relative to d), so that a parser that drops
# everything cannot pass.
def w_train(d):
    return ([PY, os.path.join(R, "examples", "train.py"), "--epochs", "3", "--out", "out"],
            [os.path.join(R, "examples", "train.py"), os.path.realpath(PY), "out/model.pt",
             "out/metrics.json",
             "/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv"])


DATALOADER = r'''
import os, sys, torch
from torch.utils.data import DataLoader, Dataset

class Shards(Dataset):
    """Each item is read from its own file, so the worker processes open the data."""
    def __init__(self, d):
        self.files = sorted(os.path.join(d, n) for n in os.listdir(d))
    def __len__(self):
        return len(self.files)
    def __getitem__(self, i):
        with open(self.files[i]) as f:
            v = [float(x) for x in f.read().split(",")]
        return torch.tensor(v[:-1]), int(v[-1])

if __name__ == "__main__":
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    dl = DataLoader(Shards("shards"), batch_size=4, num_workers=2)
    for epoch in range(2):
        for x, y in dl:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    torch.save(model.state_dict(), "dl.pt")
'''


def w_dataloader(d):
    os.makedirs(os.path.join(d, "shards"))
    for i in range(16):
        write(os.path.join(d, "shards", f"s{i:02d}.csv"),
              ",".join(str((i * 7 + k) % 5) for k in range(4)) + f",{i % 2}")
    return ([PY, write(os.path.join(d, "dataloader.py"), DATALOADER)],
            ["dataloader.py", "dl.pt"] + [f"shards/s{i:02d}.csv" for i in range(16)])


DDP = r'''
import os, sys, torch
import torch.distributed as dist
import torch.multiprocessing as mp

def rank_main(rank, world):
    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Linear(8, 2)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()
    if rank == 0:
        torch.save(model.state_dict(), "ddp.pt.tmp")
        os.replace("ddp.pt.tmp", "ddp.pt")
    dist.barrier()
    dist.destroy_process_group()

if __name__ == "__main__":
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = sys.argv[1]
    mp.spawn(rank_main, args=(2,), nprocs=2, join=True)
'''


def w_ddp(d):
    return [PY, write(os.path.join(d, "ddp.py"), DDP), str(free_port())], ["ddp.py", "ddp.pt"]


def w_gcc(d):
    write(os.path.join(d, "util.h"), "int twice(int x);\n")
    write(os.path.join(d, "util.c"), '#include "util.h"\nint twice(int x) { return 2 * x; }\n')
    write(os.path.join(d, "main.c"), '#include <stdio.h>\n#include "util.h"\n'
          'int main(void) { printf("%d\\n", twice(21)); return 0; }\n')
    return (["sh", "-c", "gcc -O1 -Wall -o hello main.c util.c && ./hello > hello.out"],
            ["main.c", "util.c", "util.h", "hello", "hello.out"])


def w_pipeline(d):
    write(os.path.join(d, "words.txt"),
          "".join(f"Word{(i * 31) % 97}\n" for i in range(2000)))
    write(os.path.join(d, "weird\nname ü.txt"), "a file with an odd name\n")
    return (["sh", "-c", "cat words.txt | tr A-Z a-z | sort | uniq -c | sort -rn | head -5 "
             "> top.txt; gzip -c top.txt > top.txt.gz; wc -l < words.txt > count.txt; "
             "cat weird*.txt > /dev/null; (cd .. && cat pipeline/count.txt) > /dev/null"],
            ["words.txt", "weird\nname ü.txt", "top.txt", "top.txt.gz", "count.txt",
             os.path.realpath("/usr/bin/gzip")])


LINK = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = -100, 0x400, 0x1000

def linkat(olddirfd, old, new, flags):
    if libc.linkat(olddirfd, old, AT_FDCWD, new, flags) != 0:
        raise OSError(ctypes.get_errno(), "linkat " + new.decode())

# write a temporary name, link the final name, unlink the temporary one
with open("published.tmp", "wb") as f:
    f.write(b"weights published by link + unlink\n" * 64)
os.link("published.tmp", "published.bin")
os.unlink("published.tmp")
# O_TMPFILE, then linkat(fd, "", AT_EMPTY_PATH)
fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o644)
os.write(fd, b"weights from O_TMPFILE, linked by AT_EMPTY_PATH\n" * 64)
linkat(fd, b"", b"tmpfile-empty-path.bin", AT_EMPTY_PATH)
os.close(fd)
# O_TMPFILE, then linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW): what open(2) documents
fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o644)
os.write(fd, b"weights from O_TMPFILE, linked through /proc/self/fd\n" * 64)
linkat(AT_FDCWD, b"/proc/self/fd/%d" % fd, b"tmpfile-proc-fd.bin", AT_SYMLINK_FOLLOW)
os.close(fd)
'''


def w_link(d):
    return ([PY, write(os.path.join(d, "publish.py"), LINK)],
            ["publish.py", "published.bin", "tmpfile-empty-path.bin", "tmpfile-proc-fd.bin"])


WORKLOADS = [("train", w_train), ("dataloader", w_dataloader), ("ddp", w_ddp), ("gcc", w_gcc),
             ("pipeline", w_pipeline), ("link", w_link)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", required=True)
    ap.add_argument("--backend", default="tracepoint")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--policy", default=os.path.join(R, "policy", "default.yaml"))
    args = ap.parse_args()
    if not shutil.which("strace"):
        print("SKIPPED: strace is not installed (apt-get install strace)")
        return 77
    only = set(filter(None, args.only.split(",")))
    unknown = only - {n for n, _ in WORKLOADS}
    if unknown:
        ap.error(f"unknown workload(s) {sorted(unknown)}; known: {[n for n, _ in WORKLOADS]}")
    s = Suite(args)
    for name, setup in WORKLOADS:
        if not only or name in only:
            try:
                s.run(name, setup)
            except Exception as e:  # a crash in one workload must not hide the others
                report(name, False, f"{type(e).__name__}: {e}")
    return 1 if scenarios.failures else 0


if __name__ == "__main__":
    sys.exit(main())
