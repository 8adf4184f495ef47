#!/usr/bin/env python3
"""Write an image as a sparse fuzz input (tests/fuzz/fuzz.h): le32 size, then
records { le32 offset, le16 length, bytes } for its non-zero runs.

    sparse.py IMAGE OUT [--max-bytes N] [--size N]

--max-bytes keeps the records of the first N bytes of data (in offset order,
metadata first where the image puts it first); --size cuts the image."""
import argparse
import struct

GRAIN = 512


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("out")
    ap.add_argument("--max-bytes", type=int, default=1 << 20)
    ap.add_argument("--size", type=int, default=None)
    a = ap.parse_args()
    with open(a.image, "rb") as f:
        data = f.read() if a.size is None else f.read(a.size)
    size = min(len(data), 0xFFFFFFFF)
    out = [struct.pack("<I", size)]
    kept = 0
    off = 0
    while off < size and kept < a.max_bytes:
        if not any(data[off:off + GRAIN]):
            off += GRAIN
            continue
        end = off
        while end < size and end - off < 65024 and any(data[end:end + GRAIN]):
            end += GRAIN
        run = data[off:end].rstrip(b"\0")
        out.append(struct.pack("<IH", off, len(run)) + run)
        kept += len(run)
        off = end
    with open(a.out, "wb") as f:
        f.write(b"".join(out))


main()
