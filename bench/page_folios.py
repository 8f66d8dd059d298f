#!/usr/bin/env python3
"""bench/page_folios.py FILE [MIB]: how the page cache holds the first MIB (default 64) of FILE:
pages in order-0 folios against pages in large folios (from /proc/self/pagemap and
/proc/kpageflags; needs root). The file is mapped read-only and each page touched, so pages not
cached yet are filled first. Used by bench/workload_bench.sh to show why a warm read through a
FUSE mount copies more slowly than the same read from ext4."""
import mmap
import os
import struct
import sys

KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL = 15, 16


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: page_folios.py FILE [MIB]")
    path = os.path.realpath(sys.argv[1])
    size = os.path.getsize(path)
    pages = min(size, (int(sys.argv[2]) if len(sys.argv) == 3 else 64) << 20) // 4096
    if pages == 0:
        sys.exit(f"page_folios: {path} is smaller than a page")
    fd = os.open(path, os.O_RDONLY)
    m = mmap.mmap(fd, pages * 4096, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    for i in range(pages):
        m[i * 4096]  # fault the page in
    ino = os.fstat(fd).st_ino
    base = None
    with open("/proc/self/maps") as maps:
        for line in maps:
            f = line.split(None, 5)
            if len(f) == 6 and int(f[4]) == ino and f[5].rstrip("\n") == path and int(f[2], 16) == 0:
                base = int(f[0].split("-")[0], 16)
                break
    if base is None:
        sys.exit(f"page_folios: no mapping of {path} in /proc/self/maps")
    small = large = absent = 0
    with open("/proc/self/pagemap", "rb") as pm, open("/proc/kpageflags", "rb") as kf:
        for i in range(pages):
            pm.seek((base // 4096 + i) * 8)
            entry = struct.unpack("<Q", pm.read(8))[0]
            if not entry >> 63 & 1:
                absent += 1
                continue
            pfn = entry & ((1 << 55) - 1)
            if pfn == 0:
                sys.exit("page_folios: page frame numbers are hidden (run as root)")
            kf.seek(pfn * 8)
            flags = struct.unpack("<Q", kf.read(8))[0]
            if flags >> KPF_COMPOUND_HEAD & 1 or flags >> KPF_COMPOUND_TAIL & 1:
                large += 1
            else:
                small += 1
    print(f"{path}: {pages} pages: {small} in order-0 folios, {large} in large folios"
          + (f", {absent} not present" if absent else ""))


if __name__ == "__main__":
    main()
