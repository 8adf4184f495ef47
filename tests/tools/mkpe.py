#!/usr/bin/env python3
"""Write a synthetic PE/COFF file shaped like a UEFI loader (for the tests).

Usage: mkpe.py OUT [--machine aarch64|x86_64|i386|riscv64|0xNNNN] [--size N]
               [--subsystem N] [--seed S] [--live] [--usr]

The headers are those of a PE32+ EFI application (MZ stub, "PE\\0\\0", COFF
header, optional header with the subsystem, one .text section); the rest of
the file is deterministic pseudo-random bytes from the seed. --live embeds
the string "redox-live.iso" (what marks a live Redox loader), --usr the path
"usr/lib/boot/kernel" (a loader that reads /usr/lib/boot), otherwise the
"bootkernelinitfs" strings of a loader that reads /boot. Nothing here runs.
"""
import argparse
import random
import struct

MACHINES = {"aarch64": 0xAA64, "x86_64": 0x8664, "i386": 0x14C, "riscv64": 0x5064}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--machine", default="aarch64")
    ap.add_argument("--size", type=int, default=100000)
    ap.add_argument("--subsystem", type=int, default=10)
    ap.add_argument("--seed", default="pe")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--usr", action="store_true")
    a = ap.parse_args()
    machine = MACHINES.get(a.machine)
    if machine is None:
        machine = int(a.machine, 0)
    rng = random.Random(a.seed)
    size = max(a.size, 4096)
    body = bytearray(rng.getrandbits(8 * size).to_bytes(size, "little"))

    pe = 0x80
    body[0:0x40] = bytes(0x40)
    body[0:2] = b"MZ"
    struct.pack_into("<I", body, 0x3C, pe)
    body[0x40:pe] = b"This program cannot be run in DOS mode.\r\n$".ljust(pe - 0x40, b"\0")
    opt_size = 240
    body[pe:pe + 4] = b"PE\0\0"
    # COFF: machine, sections, time, symtab, nsyms, optional header size, characteristics
    struct.pack_into("<HHIIIHH", body, pe + 4, machine, 1, 0, 0, 0, opt_size, 0x22)
    opt = pe + 24
    body[opt:opt + opt_size] = bytes(opt_size)
    struct.pack_into("<H", body, opt, 0x20B)
    struct.pack_into("<I", body, opt + 16, 0x1000)           # AddressOfEntryPoint
    struct.pack_into("<Q", body, opt + 24, 0)                # ImageBase
    struct.pack_into("<II", body, opt + 32, 0x1000, 0x200)   # Section / File alignment
    struct.pack_into("<I", body, opt + 56, (size + 0xFFF) & ~0xFFF)  # SizeOfImage
    struct.pack_into("<I", body, opt + 60, 0x400)            # SizeOfHeaders
    struct.pack_into("<H", body, opt + 68, a.subsystem)
    sec = opt + opt_size
    body[sec:sec + 40] = bytes(40)
    body[sec:sec + 8] = b".text\0\0\0"
    struct.pack_into("<IIII", body, sec + 8, size - 0x400, 0x1000, size - 0x400, 0x400)
    struct.pack_into("<I", body, sec + 36, 0x60000020)
    body[sec + 40:0x400] = bytes(0x400 - sec - 40)

    strings = b"usr/lib/boot/kernel\0usr/lib/boot/initfs\0" if a.usr else b"boot\0kernel\0initfs\0".replace(b"\0", b"")
    if a.live:
        strings += b"\0\\redox-live.iso\0"
    # Placed across a 64 KiB boundary when the file is large enough: the scan must see through chunks.
    at = 65536 - len(strings) // 2 if size > 70000 else 0x500
    body[at:at + len(strings)] = strings
    with open(a.out, "wb") as f:
        f.write(body[:size])


if __name__ == "__main__":
    main()
