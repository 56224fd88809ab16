#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Regenerates the built-in policy in userspace/lib/policy.c from policy/default.yaml.

policy_default() must parse the very text of policy/default.yaml (tests/unit/test_policy.c
checks that they agree), so after editing the YAML run, from the repository root:

    scripts/gen-policy-c.py          # rewrite the default_yaml[] literal in policy.c
    scripts/gen-policy-c.py --check  # exit 1 when policy.c's literal differs from the YAML

The literal lies between "static const char default_yaml[] =" and "/* END default.yaml */",
one C string per YAML line (backslashes and double quotes escaped); policy.c is then run through
clang-format (the repository's .clang-format splits long lines), so --check compares the string
the literal denotes, not its layout.
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
YAML = os.path.join(ROOT, "policy", "default.yaml")
C_FILE = os.path.join(ROOT, "userspace", "lib", "policy.c")
BLOCK = re.compile(r"static const char default_yaml\[\] =\n.*?(/\* END default\.yaml \*/)", re.S)


def literal(text):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    for i, line in enumerate(lines, 1):
        if any(ord(c) < 0x20 and c != "\t" for c in line) or "\r" in line:
            sys.exit("%s:%d: control character; the literal would not match the file" % (YAML, i))
    return "\n".join('\t"%s\\n"' % l.replace("\\", "\\\\").replace('"', '\\"') for l in lines)


def denoted(block):
    """The string a run of adjacent C string literals denotes (the escapes literal() writes)."""
    out = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', block):
        out.append(re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)),
                          m.group(1)))
    return "".join(out)


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        sys.exit("usage: gen-policy-c.py [--check]")
    with open(YAML, "rb") as f:
        text = f.read().decode("utf-8")
    with open(C_FILE, encoding="utf-8") as f:
        src = f.read()
    blocks = [m.group(0) for m in BLOCK.finditer(src)]
    if len(blocks) != 1:
        sys.exit("%s: no single default_yaml[] ... /* END default.yaml */ block" % C_FILE)
    if denoted(blocks[0].split("=", 1)[1]) == text:
        return
    if check:
        sys.exit("%s is out of date with %s: run scripts/gen-policy-c.py" % (C_FILE, YAML))
    new, n = BLOCK.subn(lambda m: "static const char default_yaml[] =\n" + literal(text) + ";\n" +
                        m.group(1), src)
    assert n == 1
    with open(C_FILE, "w", encoding="utf-8") as f:
        f.write(new)
    if shutil.which("clang-format"):
        subprocess.run(["clang-format", "-i", C_FILE], cwd=ROOT, check=True)
    else:
        print("clang-format not found: %s left unformatted" % C_FILE, file=sys.stderr)


if __name__ == "__main__":
    main()
