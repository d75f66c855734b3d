#!/usr/bin/env python3
"""Where a component's code bytes come from, by crate and by roundtrip source file.

    CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=1 CARGO_TARGET_DIR=/tmp/sz \\
        cargo build --release --target wasm32-wasip2 --example get
    python3 bench/size_by_source.py /tmp/sz/wasm32-wasip2/release/examples/get.wasm

Takes the component's largest core module, reads its DWARF line table with `llvm-dwarfdump`
(apt: llvm) and charges each code byte to the source file of its innermost inlined line, so
a generic helper from `core` inlined into roundtrip counts as `core`. The build with debug
info has nearly the same code as the stripped release build (198,008 against 198,330 bytes
for `get` on 2026-11-28); the debug information is in custom sections.
"""
import collections
import re
import subprocess
import sys
import tempfile


def leb(d, i):
    r = s = 0
    while True:
        b = d[i]
        i += 1
        r |= (b & 0x7F) << s
        s += 7
        if b < 0x80:
            return r, i


def largest_core_module(component):
    d = open(component, "rb").read()
    i, best = 8, b""
    while i < len(d):
        sid = d[i]
        n, i = leb(d, i + 1)
        if sid == 1 and n > len(best):  # component section 1: a core module
            best = d[i:i + n]
        i += n
    return best


def dwarfdump(path, what):
    for exe in ("llvm-dwarfdump", "llvm-dwarfdump-14", "llvm-dwarfdump-16"):
        try:
            return subprocess.run([exe, what, path], capture_output=True, text=True, check=True).stdout
        except FileNotFoundError:
            continue
    sys.exit("llvm-dwarfdump not found (apt install llvm)")


def bytes_by_file(core_path):
    # A line program's relative directories are relative to its compile unit's comp_dir.
    comp_dirs = {}
    for blk in dwarfdump(core_path, "--debug-info").split("DW_TAG_compile_unit")[1:]:
        head = blk[:3000]
        sl = re.search(r"DW_AT_stmt_list\s*\((0x[0-9a-f]+)\)", head)
        cd = re.search(r'DW_AT_comp_dir\s*\("([^"]*)"\)', head)
        if sl:
            comp_dirs[int(sl.group(1), 16)] = cd.group(1) if cd else ""
    lines = dwarfdump(core_path, "--debug-line").split("\n")
    sizes = collections.Counter()
    dirs, files, prev, comp = {}, {}, None, ""
    for i, line in enumerate(lines):
        m = re.match(r"debug_line\[(0x[0-9a-f]+)\]", line)
        if m:
            dirs, files, prev = {}, {}, None
            comp = comp_dirs.get(int(m.group(1), 16), "")
        m = re.match(r'include_directories\[\s*(\d+)\] = "(.*)"', line)
        if m:
            d = m.group(2)
            dirs[int(m.group(1))] = d if d.startswith("/") or "://" in d else comp + "/" + d
        m = re.match(r"file_names\[\s*(\d+)\]:", line)
        if m:
            name = re.search(r'"(.*)"', lines[i + 1]).group(1)
            dix = int(re.search(r"(\d+)", lines[i + 2]).group(1))
            base = dirs.get(dix, "") if dix else comp
            files[int(m.group(1))] = name if name.startswith("/") else base + "/" + name
        m = re.match(r"^0x([0-9a-f]{16})\s+\d+\s+\d+\s+(\d+)\s.*?(end_sequence)?\s*$", line)
        if m:
            addr = int(m.group(1), 16)
            if prev is not None:
                sizes[files.get(prev[1], "?")] += addr - prev[0]
            prev = None if m.group(3) else (addr, int(m.group(2)))
    return sizes


def crate_of(path):
    if "wasisdk" in path or path.endswith((".c", ".h")):
        return "wasi-libc"
    m = re.search(r"(?:index\.crates\.io-[0-9a-f]+|/deps)/([A-Za-z0-9_\-]+?)-\d+\.", path)
    if m:
        return m.group(1)
    if "/rustc/" in path or "library/" in path:
        m = re.search(r"library/([a-z_\-]+)/", path)
        return "rust " + (m.group(1) if m else "?")
    m = re.search(r"/(src|examples)/", path)
    return "roundtrip" if m and m.group(1) == "src" else ("example" if m else "other")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with tempfile.NamedTemporaryFile(suffix=".wasm") as f:
        f.write(largest_core_module(sys.argv[1]))
        f.flush()
        sizes = bytes_by_file(f.name)
    crates = collections.Counter()
    for path, n in sizes.items():
        crates[crate_of(path)] += n
    print(f"{sum(crates.values()):,} bytes of code with line information")
    for crate, n in crates.most_common():
        print(f"{n:>8,}  {crate}")
    print("\nroundtrip, by file:")
    for path, n in sizes.most_common():
        if crate_of(path) == "roundtrip":
            print(f"{n:>8,}  {path[path.rindex('/src/') + 1:]}")


if __name__ == "__main__":
    main()
