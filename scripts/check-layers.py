#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks the folder layering of docs/architecture.md; exits 1 naming every violation.

  scripts/check-layers.py [SOURCE_ROOT]

1. A product folder's C files include quoted headers only from itself and the folders it may
   depend on (LAYERS below). A header name found in several folders resolves to the including
   file's own folder first, as the compiler's quoted include does.
2. No product folder's meson.build reaches into another folder with include_directories('..…').
3. The dependency graph in LAYERS has no cycle.
"""
import os
import re
import sys

# folder -> the folders its code may include from (besides itself)
LAYERS = {
    "base": [],
    "wg": ["base"],
    "uapi": ["base", "wg"],
    "node": ["base", "wg"],
    "agent": ["base", "wg", "uapi", "node"],
    "dataplane": ["base", "wg"],
    "gateway": ["base", "wg", "uapi", "node", "agent", "dataplane"],
    "relay": ["base", "wg"],
    "coord": ["base", "wg"],
    "cli": ["base"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
INCDIR = re.compile(r"include_directories\(([^)]*)\)", re.S)


def headers_by_folder(root):
    where = {}
    for folder in LAYERS:
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(".h"):
                where.setdefault(name, []).append(folder)
    return where


def check_cycles():
    state, errors = {}, []

    def visit(n, path):
        if state.get(n) == 1:
            errors.append("cycle: " + " -> ".join(path + [n]))
            return
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in LAYERS[n]:
            visit(m, path + [n])
        state[n] = 2

    for n in LAYERS:
        visit(n, [])
    return errors


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    where = headers_by_folder(root)
    errors = check_cycles()
    checked = 0
    for folder, allowed in LAYERS.items():
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name == "meson.build":
                for args in INCDIR.findall(open(path).read()):
                    if ".." in args:
                        errors.append(f"{folder}/meson.build: include_directories({args.strip()}) "
                                      "reaches outside the folder")
                continue
            if not name.endswith((".c", ".h")):
                continue
            checked += 1
            text = open(path, encoding="utf-8", errors="replace").read()
            for inc in INCLUDE.findall(text):
                if "/" in inc:
                    errors.append(f"{folder}/{name}: #include \"{inc}\" names a path; "
                                  "depend on the folder's library instead")
                    continue
                homes = where.get(inc, [])
                if not homes or folder in homes:
                    continue
                ok = [h for h in homes if h in allowed]
                if not ok:
                    errors.append(f"{folder}/{name}: includes \"{inc}\" from "
                                  f"{'/'.join(homes)}/, which {folder}/ may not depend on "
                                  f"(allowed: {', '.join(allowed) or 'nothing'})")
    for e in errors:
        print("check-layers: " + e)
    print(f"check-layers: {checked} files in {len(LAYERS)} folders, {len(errors)} violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
