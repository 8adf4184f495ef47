#!/usr/bin/env python3
"""Print the manifest of a live directory tree (e.g. a FUSE mount of an image).

  tree_manifest.py DIR

Walks DIR with lstat/readlink/read only, never following symlinks, and prints the
manifest format of tests/data/*.manifest.tsv (`rximg manifest`), every column:

  path type mode uid gid size mtime ctime nlink symlink_target sha256

paths are relative to DIR ("/" is DIR itself), sorted by their bytes; tab, newline and
backslash are written as \\t, \\n, \\\\. Everything comes from the host's stat of each
entry, so what a mount reports (directory sizes, nlink, ctime) is compared too.
"""
import hashlib
import os
import stat
import sys

HEADER = b"# path\ttype\tmode\tuid\tgid\tsize\tmtime\tctime\tnlink\tsymlink_target\tsha256\n"


def escape(b):
    return b.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")


def ns_time(ns):
    return b"%d.%09d" % divmod(ns, 1000000000)


def kind(mode):
    if stat.S_ISDIR(mode):
        return b"dir"
    if stat.S_ISREG(mode):
        return b"file"
    if stat.S_ISLNK(mode):
        return b"symlink"
    if stat.S_ISSOCK(mode):
        return b"socket"
    return b"unknown"


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest().encode()


def collect(root):
    """(image path, host path) for root and everything below; bytes, no link is followed."""
    out = [(b"/", root)]
    stack = [(b"", root)]
    while stack:
        ipath, hpath = stack.pop()
        for name in os.listdir(hpath):
            ip, hp = ipath + b"/" + name, os.path.join(hpath, name)
            out.append((ip, hp))
            if stat.S_ISDIR(os.lstat(hp).st_mode):
                stack.append((ip, hp))
    out.sort()
    return out


def line(ipath, hpath):
    st = os.lstat(hpath)
    k = kind(st.st_mode)
    target, digest = b"-", b"-"
    if k == b"symlink":
        t = os.readlink(hpath)
        target, digest = escape(t), hashlib.sha256(t).hexdigest().encode()
    elif k != b"dir":
        digest = sha256_file(hpath)
    cols = [escape(ipath), k, b"%04o" % stat.S_IMODE(st.st_mode), b"%d" % st.st_uid,
            b"%d" % st.st_gid, b"%d" % st.st_size, ns_time(st.st_mtime_ns),
            ns_time(st.st_ctime_ns), b"%d" % st.st_nlink, target, digest]
    return b"\t".join(cols) + b"\n"


def main(argv):
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    root = os.fsencode(argv[0])
    out = sys.stdout.buffer
    out.write(HEADER)
    for ipath, hpath in collect(root):
        out.write(line(ipath, hpath))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
