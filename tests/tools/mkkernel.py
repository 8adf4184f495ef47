#!/usr/bin/env python3
"""Write a tiny AArch64 ELF64 executable: one PT_LOAD segment whose code spins
forever ("b ."), padded with a counting pattern to SIZE bytes. The boot tests
use it as a kernel (the loader checks the magic and takes e_entry) and as an
initfs bootstrap. Usage: mkkernel.py OUT [SIZE] [VADDR]"""
import struct
import sys

out = sys.argv[1]
size = int(sys.argv[2], 0) if len(sys.argv) > 2 else 20000
vaddr = int(sys.argv[3], 0) if len(sys.argv) > 3 else 0x400000
EHDR, PHDR = 64, 56
entry_off = EHDR + PHDR
code = struct.pack("<I", 0x14000000)  # b .
size = max(size, entry_off + len(code))

ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELF64, little-endian, SysV
ehdr += struct.pack("<HHIQQQIHHHHHH",
                    2,            # ET_EXEC
                    183,          # EM_AARCH64
                    1,            # EV_CURRENT
                    vaddr + entry_off,
                    EHDR,         # e_phoff
                    0,            # e_shoff
                    0,            # e_flags
                    EHDR, PHDR, 1,
                    64, 0, 0)     # no section headers
phdr = struct.pack("<IIQQQQQQ",
                   1,             # PT_LOAD
                   5,             # R + X
                   0, vaddr, vaddr,
                   size, size,
                   0x1000)
body = ehdr + phdr + code
body += bytes((i * 7 + 3) & 0xff for i in range(size - len(body)))
with open(out, "wb") as f:
    f.write(body)
