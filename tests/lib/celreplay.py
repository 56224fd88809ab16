#!/usr/bin/python3
"""celreplay.py - an independent reader of aicert's events.cel (docs/cel.md), for the tests.

It shares no code with userspace/lib/cel.c on purpose: the tests cross-check the C writer
against this reading of the documented format.

  celreplay.py dump LOG [--tolerant]
      the log as JSON: records (recnum, pcr, digests, content type, decoded content),
      per-bank replay from the baseline, content digest errors, torn tail bytes
  celreplay.py tpm LOG [--pcr N] [--host] [--state FILE]
      replay of LOG == tpm2_pcrread for every bank the log carries (sha1 and sha256 required).
      --host: a host log may have a torn tail and one last record not yet extended (a writer
      died between fsync and extend); says which, and --state writes it as JSON.
  celreplay.py bom BUNDLE
      every bom.json file is one batch file record of this run with the same sha256 (zeros:
      none), size, roles and status (mapped as docs/cel.md); its outputs are run_end's (path,
      sha256, size); run_end's exit status, signal, detached and paths_truncated and the
      baseline's hostname and kernel are bom.json's; every unredacted record's digests match
      its content; no other run's record is unredacted
  celreplay.py quote BUNDLE [--pcr10 HEX|tpm]
      qualifying_data == the aicert-binding/v1 of the bundle's files (lib/manifest.h),
      recomputed here; quote.msg's extraData == qualifying_data; its PCR selection is the
      dedicated PCR and PCR 10 (sha256); its pcrDigest == sha256(PCR10 || replay) when --pcr10
  celreplay.py recovery LOG STATE
      after a crash that `tpm --host --state STATE` described: the recovery record it calls for
      (last good recnum, bytes dropped) is in LOG, or none when nothing was lost
  celreplay.py tear LOG
      appends a valid record that was never extended and half of another (a crash's leftovers)
  celreplay.py absent FILE STRING...
      none of the strings occurs in FILE's bytes
Prints one line saying what failed (exit 1) or what was checked (exit 0).
"""
import hashlib
import json
import os
import re
import subprocess
import sys

ALGS = {0x04: "sha1", 0x0B: "sha256", 0x0C: "sha384", 0x0D: "sha512"}
SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
CT_AICERT, CT_REDACTED = 0xE1, 0xE2
KINDS = {1: "baseline", 2: "run_start", 3: "batch", 4: "loss", 5: "run_end", 6: "recovery"}


class CelError(Exception):
    pass


def tlvs(buf, where):
    """Splits buf into (type, value, start, end) TLVs; every length checked."""
    out, off = [], 0
    while off < len(buf):
        if len(buf) - off < 5:
            raise CelError(f"{where}: truncated TLV header at offset {off}")
        t, n = buf[off], int.from_bytes(buf[off + 1:off + 5], "big")
        if n > len(buf) - off - 5:
            raise CelError(f"{where}: TLV type {t} at offset {off} claims {n} bytes, "
                           f"{len(buf) - off - 5} left")
        out.append((t, buf[off + 5:off + 5 + n], off, off + 5 + n))
        off += 5 + n
    return out


def uint(v, maxlen, what):
    if not 1 <= len(v) <= maxlen:
        raise CelError(f"{what}: {len(v)} bytes for an integer of at most {maxlen}")
    return int.from_bytes(v, "big")


def text(v):
    return v.decode("utf-8", "surrogateescape")


def decode_file(v, where):
    f = {}
    names = {1: "path", 2: "sha256", 3: "size", 4: "roles", 5: "status"}
    for t, x, _, _ in tlvs(v, where):
        if t not in names or names[t] in f:
            raise CelError(f"{where}: unexpected file field {t}")
        if t == 1:
            f["path"] = text(x)
        elif t == 2:
            if len(x) != 32:
                raise CelError(f"{where}: sha256 of {len(x)} bytes")
            f["sha256"] = x.hex()
        else:
            f[names[t]] = uint(x, 8 if t == 3 else 4, where)
    if set(f) != set(names.values()):
        raise CelError(f"{where}: file lacks {sorted(set(names.values()) - set(f))}")
    return f


def decode_aicert(v, where):
    """aicert's content (type 0xE1) as a dict."""
    e = {}
    single = {1: "kind", 2: "run_id", 3: "time_ns", 10: "boot_id", 12: "hostname",
              13: "kernel", 21: "cwd", 22: "uid",
              23: "policy_sha256", 24: "backend", 25: "aicert_version", 26: "aicert_sha256", 27: "nonce",
              40: "lost", 50: "exit_status", 52: "total_files", 53: "total_lost",
              54: "total_batches", 55: "detached", 56: "paths_truncated", 57: "signal",
              60: "last_good_recnum", 61: "bytes_dropped"}
    for t, x, _, _ in tlvs(v, where):
        if t in single:
            name = single[t]
            if name in e:
                raise CelError(f"{where}: field {t} ({name}) twice")
            if t == 1:
                e[name] = KINDS.get(uint(x, 1, where), f"unknown({x.hex()})")
            elif t in (2, 10, 12, 13, 21, 24, 25):
                e[name] = text(x)
            elif t in (23, 26, 27):
                e[name] = x.hex()
            elif t in (50, 57):
                if len(x) != 4:
                    raise CelError(f"{where}: {name} of {len(x)} bytes")
                e[name] = int.from_bytes(x, "big", signed=True)
            elif t == 55:
                if len(x) != 1 or x[0] > 1:
                    raise CelError(f"{where}: detached is not one byte 0 or 1")
                e[name] = bool(x[0])
            else:
                e[name] = uint(x, 4 if t == 22 else 8, where)
        elif t == 11:
            if len(x) < 2:
                raise CelError(f"{where}: short pcr_value")
            alg = int.from_bytes(x[:2], "big")
            e.setdefault("pcr_values", {})[ALGS.get(alg, f"0x{alg:04x}")] = x[2:].hex()
        elif t == 20:
            e.setdefault("argv", []).append(text(x))
        elif t == 30:
            e.setdefault("files", []).append(decode_file(x, where))
        elif t == 51:
            o = {}
            for t2, x2, _, _ in tlvs(x, where):
                names = {1: "path", 2: "sha256", 3: "size"}
                if t2 not in names or names[t2] in o:
                    raise CelError(f"{where}: bad output field {t2}")
                if t2 == 1:
                    o["path"] = text(x2)
                elif t2 == 2 and len(x2) == 32:
                    o["sha256"] = x2.hex()
                elif t2 == 3 and len(x2) == 8:
                    o["size"] = int.from_bytes(x2, "big")
                else:
                    raise CelError(f"{where}: bad output field {t2}")
            if set(o) != {"path", "sha256", "size"}:
                raise CelError(f"{where}: output lacks {sorted({'path', 'sha256', 'size'} - set(o))}")
            e.setdefault("outputs", []).append(o)
        else:
            raise CelError(f"{where}: unknown aicert field type {t}")
    if "kind" not in e:
        raise CelError(f"{where}: no kind")
    return e


def decode(buf, tolerant=False):
    """Records of buf; with tolerant, stops at the first undecodable record (torn tail)."""
    recs, off = [], 0
    while off < len(buf):
        start = off
        try:
            rec = {"offset": off}
            fields = []
            for _ in range(4):
                if len(buf) - off < 5:
                    raise CelError(f"record at offset {start}: truncated")
                t, n = buf[off], int.from_bytes(buf[off + 1:off + 5], "big")
                if n > len(buf) - off - 5:
                    raise CelError(f"record at offset {start}: TLV type {t} claims {n} bytes")
                fields.append((t, buf[off + 5:off + 5 + n], off))
                off += 5 + n
            (t0, v0, _), (t1, v1, _), (t2, v2, _), (t3, v3, o3) = fields
            if t0 != 0 or t1 not in (1, 2) or t2 != 3 or t3 < 4:
                raise CelError(f"record at offset {start}: field types {t0},{t1},{t2},{t3}")
            rec["recnum"] = uint(v0, 8, f"recnum at {start}")
            rec["pcr" if t1 == 1 else "nv_index"] = uint(v1, 4, f"index at {start}")
            rec["digests"] = {}
            for t, d, _, _ in tlvs(v2, f"digests of record at {start}"):
                name = ALGS.get(t)
                if name is None or len(d) != SIZES[name] or name in rec["digests"]:
                    raise CelError(f"record at offset {start}: bad digest type {t} len {len(d)}")
                rec["digests"][name] = d.hex()
            rec["content_type"] = t3
            rec["raw_content_tlv"] = buf[o3:off]
            where = f"record {rec['recnum']} at offset {start}"
            if t3 == CT_AICERT:
                rec["content"] = decode_aicert(v3, where)
            elif t3 == CT_REDACTED:
                if v3 != b"redacted":
                    raise CelError(f"{where}: redacted content is {v3!r}")
                rec["content"] = "redacted"
            else:
                rec["content"] = v3.hex()
        except CelError:
            if not tolerant:
                raise
            return recs, len(buf) - start
        recs.append(rec)
    return recs, 0


def digest_errors(recs):
    bad = []
    for r in recs:
        if r["content_type"] == CT_REDACTED:
            continue
        for name, d in r["digests"].items():
            if hashlib.new(name, r["raw_content_tlv"]).hexdigest() != d:
                bad.append(f"record {r['recnum']}: {name} digest does not match its content")
    return bad


def replay(recs, pcr):
    """Per bank: the baseline's value folded with every record of pcr, and the value before
    the last such record."""
    if not recs or recs[0]["content_type"] != CT_AICERT or \
            recs[0]["content"]["kind"] != "baseline":
        raise CelError("the log does not start with a baseline record")
    base = recs[0]["content"].get("pcr_values", {})
    v, prev = {}, {}
    for name in recs[0]["digests"]:
        if name not in base:
            raise CelError(f"the baseline has no {name} value")
        v[name] = bytes.fromhex(base[name])
    for r in recs:
        if r.get("pcr") != pcr:
            continue
        prev = dict(v)
        for name in v:
            if name not in r["digests"]:
                raise CelError(f"record {r['recnum']} has no {name} digest")
            v[name] = hashlib.new(name, v[name] + bytes.fromhex(r["digests"][name])).digest()
    return {k: x.hex() for k, x in v.items()}, {k: x.hex() for k, x in prev.items()}


def pcrread(banks, pcr):
    sel = "+".join(f"{b}:{pcr}" for b in banks)
    out = subprocess.run(["tpm2_pcrread", sel], capture_output=True, text=True)
    if out.returncode:
        raise CelError(f"tpm2_pcrread {sel} failed: {out.stderr.strip()}")
    vals, bank = {}, None
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(\w+):\s*$", line)
        if m:
            bank = m.group(1)
            continue
        m = re.match(r"\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)", line)
        if m and bank and int(m.group(1)) == pcr:
            vals[bank] = m.group(2).lower()
    return vals


def load(path, tolerant=False):
    with open(path, "rb") as f:
        return decode(f.read(), tolerant)


def jsonable(recs):
    return [{k: v for k, v in r.items() if k != "raw_content_tlv"} for r in recs]


def cmd_dump(a):
    recs, torn = load(a[0], "--tolerant" in a)
    pcr = recs[0]["pcr"] if recs else 15
    v, prev = replay(recs, pcr) if recs else ({}, {})
    print(json.dumps({"records": jsonable(recs), "torn_bytes": torn, "replay": v,
                      "replay_but_last": prev, "digest_errors": digest_errors(recs)}, indent=1))
    return 0


def cmd_tpm(a):
    pcr = int(a[a.index("--pcr") + 1]) if "--pcr" in a else 15
    host = "--host" in a
    recs, torn = load(a[0], host)
    if not recs:
        if not host:
            raise CelError(f"{a[0]} holds no record")
        print(f"no complete record, torn tail {torn} bytes")
        if "--state" in a:
            with open(a[a.index("--state") + 1], "w") as f:
                json.dump({"records": 0, "torn": torn, "unextended": 0, "size": torn,
                           "kept_end": 0}, f)
        return 0
    bad = digest_errors(recs)
    if bad:
        raise CelError("; ".join(bad[:3]))
    if not {"sha1", "sha256"} <= set(recs[0]["digests"] if recs else ()):
        raise CelError("the log lacks the sha1 or sha256 bank")
    for i, r in enumerate(recs):
        if r["recnum"] != i:
            raise CelError(f"record {i} has recnum {r['recnum']}")
    v, prev = replay(recs, pcr)
    tpm = pcrread(sorted(v), pcr)
    if tpm == v:
        state = "all records extended"
    elif host and tpm == prev:
        state = "last record written but not extended"
    else:
        diff = [b for b in v if tpm.get(b) != v[b]]
        raise CelError(f"replay of {len(recs)} records != tpm2_pcrread in {diff}: "
                       f"replay sha256 {v.get('sha256')}, TPM {tpm.get('sha256')}")
    print(f"{len(recs)} records, banks {','.join(sorted(v))}, torn tail {torn} bytes: {state}")
    size = os.path.getsize(a[0])
    kept_end = recs[-1]["offset"] if tpm != v else size - torn
    if "--state" in a:
        with open(a[a.index("--state") + 1], "w") as f:
            json.dump({"records": len(recs), "torn": torn, "unextended": int(tpm != v),
                       "size": size, "kept_end": kept_end}, f)
    return 0


ROLE_BITS = {"input": 1, "output": 2, "executable": 4, "library": 8}
# bom.json file status -> the log's status code (docs/cel.md); "unreadable: <why>" by prefix
BOM_STATUS = {None: 0, "vanished": 2, "changed while hashing": 3, "replaced": 5,
              "not a regular file": 6, "deleted before the run ended": 7, "path truncated": 8}


def bom_status(st):
    if st is not None and st.startswith("unreadable"):
        return 1
    if st not in BOM_STATUS:
        raise CelError(f"bom.json file status {st!r} has no log status")
    return BOM_STATUS[st]


def cmd_bom(a):
    """bom.json == the log: every file (path, sha256, size, roles, status) is one batch file
    record of the run, the outputs are run_end's, and run_end / baseline hold bom.json's
    exit status, signal, detached, paths_truncated, hostname and kernel."""
    bundle = a[0]
    with open(os.path.join(bundle, "bom.json")) as f:
        bom = json.load(f)
    recs, _ = load(os.path.join(bundle, "events.cel"))
    bad = digest_errors(recs)
    if bad:
        raise CelError("; ".join(bad[:3]))
    rid = bom["run"]["id"]
    logged, kinds, others, end, base = {}, [], 0, None, None
    for r in recs:
        c = r["content"]
        if r["content_type"] != CT_AICERT:
            continue
        if c["kind"] == "baseline":
            base = c
        if c.get("run_id", rid) != rid:
            others += 1
            continue
        if "run_id" in c:
            kinds.append(c["kind"])
        if c["kind"] == "run_end":
            end = c
        for fl in c.get("files", []):
            logged.setdefault(fl["path"], []).append(fl)
    if others:
        raise CelError(f"{others} records of other runs are not redacted")
    if kinds[:1] != ["run_start"] or kinds[-1:] != ["run_end"]:
        raise CelError(f"this run's records are {kinds}, not run_start .. run_end")
    n, diff = 0, []
    for fl in bom["files"]:
        want = {"sha256": fl.get("sha256") or "0" * 64, "size": fl.get("size", 0),
                "roles": sum(ROLE_BITS[x] for x in fl["roles"]),
                "status": bom_status(fl.get("status"))}
        got = logged.get(fl["path"], [])
        n += bool(fl.get("sha256"))
        if len(got) != 1 or any(got[0][k] != v for k, v in want.items()):
            diff.append(f"{fl['path']}: bom {want}, log {got}")
    if len(logged) != len(bom["files"]):
        diff.append(f"{len(logged)} paths in the log, {len(bom['files'])} in bom.json")
    if diff:
        raise CelError(f"{len(diff)} bom files differ from the batch records: {diff[:2]}")
    if n == 0:
        raise CelError("bom.json lists no hashed file")
    outs = sorted((f["path"], f["sha256"], f.get("size", 0)) for f in bom["files"]
                  if "output" in f["roles"] and f.get("sha256"))
    louts = sorted((o["path"], o["sha256"], o["size"]) for o in end.get("outputs", []))
    if outs != louts:
        raise CelError(f"outputs: bom.json {outs[:2]}, run_end {louts[:2]}")
    run, host = bom["run"], bom["host"]
    sig = end.get("signal", 0)
    status = 128 + sig if sig else run["exit_code"]
    checks = [("signal", run.get("signal", 0), sig), ("exit status", status, end["exit_status"]),
              ("detached", run["detached"], end.get("detached", False)),
              ("paths_truncated", run["paths_truncated"], end.get("paths_truncated", 0)),
              ("hostname", host["hostname"], base and base.get("hostname")),
              ("kernel", host["kernel"], base and base.get("kernel"))]
    diff = [f"{k}: bom.json {b!r}, log {lg!r}" for k, b, lg in checks if b != lg]
    if diff:
        raise CelError("; ".join(diff))
    print(f"{len(bom['files'])} bom files ({n} hashed) == {kinds.count('batch')} batch records, "
          f"{len(outs)} outputs == run_end, exit {end['exit_status']} signal {sig} "
          f"detached {run['detached']} == run_end, host == baseline, run {rid}")
    return 0


def parse_attest(b):
    """TPMS_ATTEST of a quote: extraData, PCR selection, pcrDigest."""
    def take(n):
        nonlocal off
        if off + n > len(b):
            raise CelError("quote.msg is truncated")
        off += n
        return b[off - n:off]
    off = 0
    if take(4) != bytes.fromhex("ff544347") or take(2) != bytes.fromhex("8018"):
        raise CelError("quote.msg is no TPM2_ST_ATTEST_QUOTE TPMS_ATTEST")
    take(int.from_bytes(take(2), "big"))          # qualifiedSigner
    extra = take(int.from_bytes(take(2), "big"))  # extraData
    take(17 + 8)                                  # clockInfo, firmwareVersion
    sel = {}
    for _ in range(int.from_bytes(take(4), "big")):
        alg = int.from_bytes(take(2), "big")
        mask = take(take(1)[0])
        sel[ALGS.get(alg, hex(alg))] = [i for i in range(len(mask) * 8)
                                        if mask[i // 8] >> (i % 8) & 1]
    digest = take(int.from_bytes(take(2), "big"))
    if off != len(b):
        raise CelError(f"quote.msg has {len(b) - off} bytes after the TPMS_ATTEST")
    return extra, sel, digest


UNBOUND = {"quote.msg", "quote.sig", "ak.pub.pem", "ak.cert.pem", "ima.bin", "manifest.json"}


def binding(bundle, man):
    """aicert-binding/v1 (lib/manifest.h) recomputed from the bundle's files."""
    text = "aicert-binding/v1\n"
    for name in sorted(os.listdir(bundle), key=lambda n: n.encode()):
        if name in UNBOUND:
            continue
        with open(os.path.join(bundle, name), "rb") as f:
            text += f"{name} {hashlib.sha256(f.read()).hexdigest()}\n"
    text += f"pcr {man['pcr']}\n"
    if "nonce" in man:
        text += f"nonce {man['nonce']}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def tlv(t, v):
    return bytes([t]) + len(v).to_bytes(4, "big") + v


def cmd_tear(a):
    """Damages a host log as a crash would: a whole record written (encoded here) but never
    extended, then the first half of another record."""
    recs, torn = load(a[0])
    last = recs[-1]
    content = tlv(CT_AICERT, tlv(1, b"\x04") + tlv(2, b"0" * 36) +
                  tlv(3, (0).to_bytes(8, "big")) + tlv(40, (1).to_bytes(8, "big")))
    ids = {v: k for k, v in ALGS.items()}
    dig = b"".join(tlv(ids[n], hashlib.new(n, content).digest()) for n in last["digests"])
    rec = tlv(0, (last["recnum"] + 1).to_bytes(8, "big")) + \
        tlv(1, last["pcr"].to_bytes(4, "big")) + tlv(3, dig) + content
    with open(a[0], "ab") as f:
        f.write(rec + rec[:len(rec) // 2])
    print(f"appended an unextended record {last['recnum'] + 1} and {len(rec) // 2} torn bytes")
    return 0


def cmd_recovery(a):
    """After a crash: the log at a[0] has the recovery record the state a[1] calls for."""
    with open(a[1]) as f:
        st = json.load(f)
    recs, torn = load(a[0])
    if torn:
        raise CelError(f"torn tail of {torn} bytes left")
    need = st["torn"] > 0 or st["unextended"]
    last_good = st["records"] - 1 - st["unextended"]
    if last_good < 0:
        last_good = 2**64 - 1  # no record survived
    if st["records"] == 1 and st["unextended"] and not st["torn"]:
        need = False  # only an unextended baseline: the log starts over, nothing is lost
    new = [r for r in recs if r["recnum"] >= st["records"] - st["unextended"] and r["content_type"] == CT_AICERT
           and r["content"]["kind"] == "recovery"]
    if not need:
        if new:
            raise CelError(f"unexpected recovery record {new[0]['content']}")
        print(f"no recovery needed and none written ({len(recs)} records)")
        return 0
    want = {"last_good_recnum": last_good, "bytes_dropped": st["size"] - st["kept_end"]}
    for r in new:
        if all(r["content"].get(k) == v for k, v in want.items()):
            print(f"recovery record {r['recnum']}: {want}")
            return 0
    raise CelError(f"no recovery record with {want}; found {[r['content'] for r in new]}")


def cmd_quote(a):
    bundle = a[0]
    with open(os.path.join(bundle, "manifest.json")) as f:
        man = json.load(f)
    with open(os.path.join(bundle, "quote.msg"), "rb") as f:
        extra, sel, digest = parse_attest(f.read())
    if extra.hex() != man["qualifying_data"]:
        raise CelError(f"extraData {extra.hex()} != qualifying_data {man['qualifying_data']}")
    pcr = man["pcr"]
    if sel != {"sha256": sorted({pcr, 10})}:
        raise CelError(f"quote selects {sel}, not sha256 PCRs 10 and {pcr}")
    want = binding(bundle, man)
    if want != man["qualifying_data"]:
        raise CelError(f"qualifying_data {man['qualifying_data']} is not the aicert-binding/v1 "
                       f"of the bundle's files (recomputed {want})")
    what = ("qualifying_data == recomputed binding" + (" (with nonce)" if "nonce" in man else "")
            + ", extraData == qualifying_data, selection sha256:10," + str(pcr))
    if "--pcr10" in a:
        p10 = a[a.index("--pcr10") + 1]
        if p10 == "tpm":
            p10 = pcrread(["sha256"], 10)["sha256"]
        recs, _ = load(os.path.join(bundle, "events.cel"))
        v, _ = replay(recs, pcr)
        vals = {10: p10, pcr: v["sha256"]}
        want = hashlib.sha256(b"".join(bytes.fromhex(vals[i]) for i in sorted(vals))).digest()
        if want != digest:
            raise CelError(f"pcrDigest {digest.hex()} != sha256(PCR10 || replay) {want.hex()}")
        what += ", pcrDigest == sha256(PCR10 || events.cel replay)"
    print(what)
    return 0


def cmd_absent(a):
    with open(a[0], "rb") as f:
        data = f.read()
    found = [s for s in a[1:] if s.encode() in data]
    if found:
        raise CelError(f"{a[0]} contains {found[:3]}")
    print(f"none of {len(a) - 1} strings in {a[0]}")
    return 0


def main():
    cmds = {"dump": cmd_dump, "tpm": cmd_tpm, "bom": cmd_bom, "quote": cmd_quote,
            "absent": cmd_absent, "recovery": cmd_recovery, "tear": cmd_tear}
    if len(sys.argv) < 3 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[sys.argv[1]](sys.argv[2:])
    except (CelError, OSError, KeyError, ValueError) as e:
        print(f"{type(e).__name__}: {e}" if not isinstance(e, CelError) else str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
