#!/usr/bin/python3
"""bomq.py - read an aicert bundle's bom.json the way tests need it.

As a module: load(bundle_dir) -> dict with "run", "host", "files"; each file gets "pathb" (the
exact bytes of its name: path_b64 when present, else the UTF-8 of path).
As a command: bomq.py BUNDLE  prints one line per file: sha256 roles status path (repr).
"""
import base64
import json
import os
import sys


def load(bundle):
    with open(os.path.join(bundle, "bom.json"), "rb") as f:
        bom = json.load(f)
    for f in bom["files"]:
        if "path_b64" in f:
            f["pathb"] = base64.b64decode(f["path_b64"])
        else:
            f["pathb"] = f["path"].encode("utf-8")
    return bom


def find(bom, path):
    """Every entry whose name is path (str or bytes)."""
    if isinstance(path, str):
        path = os.fsencode(path)
    return [f for f in bom["files"] if f["pathb"] == path]


def main():
    bom = load(sys.argv[1])
    for f in bom["files"]:
        print(f["sha256"] or "-", ",".join(f["roles"]), f.get("status") or "ok", repr(f["pathb"]))


if __name__ == "__main__":
    main()
