#!/usr/bin/env python3
"""Checks and hostile inputs for the initfs tests, independent of rximg's code.

  initfs_check.py header MANIFEST INFO_JSON
      the manifest's header line against `rximg initfs info --json`
  initfs_check.py listing MANIFEST LS_JSON ROOT_JSON
      every manifest row against `rximg initfs ls -lR --json` (+ `ls -d --json` of /)
  initfs_check.py extract MANIFEST DIR
      an extracted tree against the manifest: types, modes, contents, and symlinks
      whose host targets resolve to the stored (archive-root-relative) targets
  initfs_check.py same LS_JSON_A LS_JSON_B
      two listings hold the same paths, types, modes, sizes and targets (not inodes)
  initfs_check.py order LS_JSON_A LS_JSON_B
      the entries both listings have come in the same relative order
  initfs_check.py craft list
      the hostile cases, one "name<TAB>regex of the expected error" per line
  initfs_check.py craft NAME IN OUT
      write hostile case NAME, made from the v4 archive IN (or from nothing)
  initfs_check.py fuzz IN OUTDIR COUNT SEED
      COUNT archives with random damage in header, inode table, tables and names
  initfs_check.py bootelf OUT
      a minimal x86_64 bootstrap ELF linked as the initfs wants (p_vaddr = p_offset + 0x2000)
  initfs_check.py setowner IN OUT PATH UID GID
      a copy of the v4 archive IN with PATH's inode owned by UID:GID
  initfs_check.py setentry IN OUT ENTRY
      a copy of the archive IN with bootstrap_entry set to ENTRY (hex)
"""
import hashlib
import json
import os
import posixpath
import random
import stat
import struct
import sys


def read_manifest(path):
    header, rows = None, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# initfs header:"):
                header = dict(kv.split("=") for kv in line.split(":", 1)[1].split())
                continue
            if not line or line.startswith("#"):
                continue
            c = line.split("\t")
            rows[c[0]] = dict(zip("path type mode uid gid size target sha256 inode".split(), c))
    return header, rows


def check_header(manifest, info_json):
    header, _ = read_manifest(manifest)
    info = json.load(open(info_json))
    problems = []
    want = {"initfs_size": info["initfs_size"], "inode_count": info["inode_count"],
            "page_size": info["page_size"]}
    for k, v in want.items():
        if int(header[k], 16) != v:
            problems.append("%s: info says %s, manifest %s" % (k, v, header[k]))
    # A 64-bit address: a "0x..." string (JSON numbers lose precision above 2^53).
    entry = "0x%x" % int(header["bootstrap_entry"], 16)
    if info["bootstrap_entry"] != entry:
        problems.append("bootstrap_entry: info says %r, want the string %r" % (info["bootstrap_entry"], entry))
    if info["layout"] != "v4":
        problems.append("layout %s, the reference archiver writes v4" % info["layout"])
    return problems


def check_listing(manifest, ls_json, root_json):
    _, want = read_manifest(manifest)
    entries = json.load(open(ls_json)) + json.load(open(root_json))
    problems, seen = [], set()
    for e in entries:
        p = e["path"]
        if p in seen:
            problems.append("%s: listed twice" % p)
        seen.add(p)
        if p not in want:
            problems.append("%s: listed but not in the manifest" % p)
            continue
        w = want[p]
        got = {"type": e["type"], "mode": e["mode"], "uid": str(e["uid"]), "gid": str(e["gid"]),
               "size": str(e["size"]), "target": e.get("target", "-"), "inode": str(e["inode"])}
        for k, v in got.items():
            if w[k] != v:
                problems.append("%s: %s is %r, manifest says %r" % (p, k, v, w[k]))
        if e["type"] == "symlink":
            sha = hashlib.sha256(e["target"].encode()).hexdigest()
            if sha != w["sha256"]:
                problems.append("%s: the stored target's SHA-256 differs" % p)
    for p in sorted(set(want) - seen):
        problems.append("%s: in the manifest but not listed" % p)
    return problems


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def check_extract(manifest, root):
    _, want = read_manifest(manifest)
    problems, seen = [], {"/"}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        base = "" if rel == "." else "/" + rel
        for name in dirnames + filenames:
            ipath, hpath = base + "/" + name, os.path.join(dirpath, name)
            seen.add(ipath)
            if ipath not in want:
                problems.append("%s: extracted but not in the manifest" % ipath)
                continue
            w, st = want[ipath], os.lstat(hpath)
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "file"
            if kind != w["type"]:
                problems.append("%s: a %s, manifest says %s" % (ipath, kind, w["type"]))
                continue
            if kind != "symlink" and "%04o" % stat.S_IMODE(st.st_mode) != w["mode"]:
                problems.append("%s: mode %04o, manifest %s" % (ipath, stat.S_IMODE(st.st_mode), w["mode"]))
            if kind == "file":
                if sha256_file(hpath) != w["sha256"]:
                    problems.append("%s: contents differ" % ipath)
            elif kind == "symlink":
                # A host link relative to its directory must name what the archive's
                # root-relative target names.
                host = os.readlink(hpath)
                parent = posixpath.dirname(ipath).lstrip("/")
                if host.startswith("/") or posixpath.normpath(posixpath.join(parent, host)) != \
                        posixpath.normpath(w["target"]):
                    problems.append("%s: host link -> %s does not name %s" % (ipath, host, w["target"]))
                target = os.path.join(os.path.dirname(hpath), host)
                if os.path.exists(target) and os.path.isfile(target):
                    wt = want.get("/" + posixpath.normpath(w["target"]))
                    if wt and sha256_file(target) != wt["sha256"]:
                        problems.append("%s: reading through the link gives other contents" % ipath)
    for p in sorted(set(want) - seen):
        problems.append("%s: in the manifest but not extracted" % p)
    return problems


def listing_map(path):
    out = {}
    for e in json.load(open(path)):
        out[e["path"]] = (e["type"], e["mode"], e["size"], e.get("target"))
    return out


def check_same(a, b):
    x, y = listing_map(a), listing_map(b)
    problems = []
    for p in sorted(set(x) | set(y)):
        if x.get(p) != y.get(p):
            problems.append("%s: %r vs %r" % (p, x.get(p), y.get(p)))
    return problems


def check_order(a, b):
    x = [e["path"] for e in json.load(open(a))]
    y = [e["path"] for e in json.load(open(b))]
    common = set(x) & set(y)
    xs, ys = [p for p in x if p in common], [p for p in y if p in common]
    return [] if xs == ys else ["order differs: %r vs %r" % (xs[:20], ys[:20])]


# ---- hostile archives -------------------------------------------------------

class V4:
    """Just enough of a v4 archive to damage it precisely."""

    def __init__(self, data):
        self.b = bytearray(data)
        self.ito = struct.unpack_from("<I", self.b, 8)[0]
        self.cnt = struct.unpack_from("<H", self.b, 0x18)[0]

    def rec(self, i):
        return list(struct.unpack_from("<IIIII", self.b, self.ito + 20 * i))

    def set_rec(self, i, r):
        struct.pack_into("<IIIII", self.b, self.ito + 20 * i, *r)

    def entries(self, ino):
        """(position of the 8-byte entry, child inode, name length, name offset)."""
        _, length, off, _, _ = self.rec(ino)
        out = []
        for k in range(length // 8):
            pos = off + 8 * k
            c, nl, no = struct.unpack_from("<HHI", self.b, pos)
            out.append((pos, c, nl, no))
        return out

    def find(self, path):
        ino = 0
        for comp in [c for c in path.split("/") if c]:
            for pos, c, nl, no in self.entries(ino):
                if bytes(self.b[no:no + nl]) == comp.encode():
                    ino = c
                    break
            else:
                raise KeyError(path)
        return ino

    def entry_of(self, path):
        parent, name = posixpath.split(path)
        for e in self.entries(self.find(parent)):
            if bytes(self.b[e[3]:e[3] + e[2]]) == name.encode():
                return e
        raise KeyError(path)


def deep_archive(depth):
    """A valid byte-packed v3 archive of `depth` nested directories named d."""
    cnt = depth + 1
    table = 4096
    tables = table + 20 * cnt           # the 8-byte entry tables of dirs 0 .. depth-1
    names = tables + 8 * depth          # one "d" per entry
    total = names + depth
    b = bytearray(total)
    b[0:8] = b"RedoxFtw"
    struct.pack_into("<IQIH", b, 8, table, 1700000000, 0, cnt)
    struct.pack_into("<QQ", b, 0x1A, 0xFFFFFFFFFFFFFFFF, total)
    for k in range(cnt):
        length = 8 if k < depth else 0
        struct.pack_into("<IIIII", b, table + 20 * k, (1 << 28) | 0o755, length,
                         tables + 8 * k if k < depth else total, 0, 0)
        if k < depth:
            struct.pack_into("<HHI", b, tables + 8 * k, k + 1, 1, names + k)
            b[names + k] = ord("d")
    return b


def craft(name, src):
    a = V4(open(src, "rb").read()) if src else None
    b = a.b if a else None

    def name_bytes(path, new):
        pos, c, nl, no = a.entry_of(path)
        b[no:no + len(new)] = new
        struct.pack_into("<H", b, pos + 2, len(new))

    if name == "no-magic":
        b[0:8] = b"RedoxFTW"
    elif name == "data-past-end":
        r = a.rec(a.find("/etc/init.rc"))
        r[2] = 0xFFFFF000
        a.set_rec(a.find("/etc/init.rc"), r)
    elif name == "length-past-end":
        i = a.find("/lib/data.txt")
        r = a.rec(i)
        r[1] = 0xFFFFFFF0
        a.set_rec(i, r)
    elif name == "table-past-end":
        struct.pack_into("<I", b, 8, 0x7FFFF000)
    elif name == "loop":
        pos, c, nl, no = a.entry_of("/etc/pcid.d")
        struct.pack_into("<H", b, pos, 0)          # /etc/pcid.d is the root again
    elif name == "hardlinked-dir":
        pos, c, nl, no = a.entry_of("/lib")
        struct.pack_into("<H", b, pos, a.find("/etc"))
    elif name == "overlap":
        i, j = a.find("/etc/init.rc"), a.find("/etc/init_drivers.rc")
        ri, rj = a.rec(i), a.rec(j)
        rj[2] = ri[2] + 8
        a.set_rec(j, rj)
    elif name == "data-over-table":
        i = a.find("/etc/init.rc")
        r = a.rec(i)
        r[2] = a.ito
        a.set_rec(i, r)
    elif name == "data-over-header":
        i = a.find("/etc/init.rc")
        r = a.rec(i)
        r[2] = 16
        a.set_rec(i, r)
    elif name == "name-slash":
        name_bytes("/etc/init.rc", b"in/t.rc")
    elif name == "name-dotdot":
        name_bytes("/etc", b"..")
    elif name == "name-dot":
        name_bytes("/bin/prog1", b".")
    elif name == "name-nul":
        name_bytes("/bin/prog1", b"pr\0g1")
    elif name == "name-empty":
        pos, c, nl, no = a.entry_of("/bin/prog1")
        struct.pack_into("<H", b, pos + 2, 0)
    elif name == "name-past-end":
        pos, c, nl, no = a.entry_of("/bin/prog1")
        struct.pack_into("<I", b, pos + 4, 0xFFFFFF00)
    elif name == "duplicate-name":
        name_bytes("/bin/prog2", b"prog1")
    elif name == "inode-out-of-range":
        pos, c, nl, no = a.entry_of("/bin/prog1")
        struct.pack_into("<H", b, pos, 999)
    elif name == "huge-count":
        # 65535 inodes with a table that fits: all but 19 are unreachable.
        struct.pack_into("<H", b, 0x18, 0xFFFF)
        need = a.ito + 20 * 0xFFFF
        b.extend(bytes(max(0, need - len(b))))
        struct.pack_into("<Q", b, 0x22, len(b))
    elif name == "huge-dir":
        r = a.rec(0)
        r[1] = 0xFFFFFFF8
        a.set_rec(0, r)
    elif name == "dir-length-odd":
        i = a.find("/etc")
        r = a.rec(i)
        r[1] = 13
        a.set_rec(i, r)
    elif name == "root-not-dir":
        r = a.rec(0)
        r[0] = 0o755
        a.set_rec(0, r)
    elif name == "unknown-type":
        i = a.find("/bin/prog2")
        r = a.rec(i)
        r[0] = (7 << 28) | 0o755
        a.set_rec(i, r)
    elif name == "count-zero":
        struct.pack_into("<H", b, 0x18, 0)
    elif name == "size-past-end":
        struct.pack_into("<Q", b, 0x22, len(b) + 4096)
    elif name.startswith("truncated-"):
        keep = {"truncated-20": 20, "truncated-40": 40, "truncated-header": 4096 + 100,
                "truncated-table": a.ito + 30, "truncated-half": len(b) // 2,
                "truncated-last": len(b) - 1}[name]
        b = b[:keep]
    elif name == "deep":
        b = deep_archive(3000)
    else:
        raise SystemExit("unknown case " + name)
    return b


CASES = [
    ("no-magic", "no RedoxFtw magic"),
    ("data-past-end", "past the end"),
    ("length-past-end", "past the end"),
    ("table-past-end", "inode table .* past the end"),
    ("loop", "reached a second time"),
    ("hardlinked-dir", "reached a second time"),
    ("overlap", "overlaps"),
    ("data-over-table", "overlaps"),
    ("data-over-header", "overlaps"),
    ("name-slash", "contains '/'"),
    ("name-dotdot", "'..' are not allowed"),
    ("name-dot", "'..' are not allowed"),
    ("name-nul", "NUL byte"),
    ("name-empty", "empty"),
    ("name-past-end", "past the end"),
    ("duplicate-name", "appears twice"),
    ("inode-out-of-range", "inode 999 of 19"),
    ("huge-count", "not reachable|overlaps"),
    ("huge-dir", "past the end"),
    ("dir-length-odd", "multiple of 8"),
    ("root-not-dir", "not a directory"),
    ("unknown-type", "unknown type 7"),
    ("count-zero", "inode_count is 0"),
    ("size-past-end", "truncated"),
    ("truncated-20", "no RedoxFtw magic"),
    ("truncated-40", "unknown layout"),
    ("truncated-header", "truncated"),
    ("truncated-table", "truncated"),
    ("truncated-half", "truncated"),
    ("truncated-last", "truncated"),
]


def fuzz(src, outdir, count, seed):
    rnd = random.Random(seed)
    a = V4(open(src, "rb").read())
    regions = [(0, 0x2C), (a.ito, a.ito + 20 * a.cnt)]
    for i in range(a.cnt):
        t, length, off, _, _ = a.rec(i)
        if t >> 28 == 1 and length:
            regions.append((off, off + length))
            for pos, c, nl, no in a.entries(i):
                regions.append((no, no + nl))
    for n in range(count):
        b = bytearray(a.b)
        for _ in range(rnd.randint(1, 4)):
            lo, hi = rnd.choice(regions)
            pos = rnd.randrange(lo, max(lo + 1, hi))
            b[pos] = rnd.choice([0, 0xFF, 1, 0x10, 0x2F, 0x2E, rnd.randrange(256)])
        if rnd.random() < 0.15:
            b = b[:rnd.randrange(len(b))]
        with open(os.path.join(outdir, "fuzz-%03d.img" % n), "wb") as f:
            f.write(b)


def boot_elf():
    """ELF64 x86_64: one R+X PT_LOAD of the whole file at p_vaddr 0x2000, entry inside it."""
    size, code = 0x100, 0x80
    hdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x2000 + code, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x2000, 0x2000, size, size, 0x1000)
    body = hdr + ph
    return body + b"\x90" * (size - len(body) - 1) + b"\xc3"


def set_owner(src, path, uid, gid):
    a = V4(open(src, "rb").read())
    ino = a.find(path)
    r = a.rec(ino)
    r[3], r[4] = uid, gid
    a.set_rec(ino, r)
    return bytes(a.b)


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd == "header":
        problems = check_header(argv[1], argv[2])
    elif cmd == "listing":
        problems = check_listing(argv[1], argv[2], argv[3])
    elif cmd == "extract":
        problems = check_extract(argv[1], argv[2])
    elif cmd == "same":
        problems = check_same(argv[1], argv[2])
    elif cmd == "order":
        problems = check_order(argv[1], argv[2])
    elif cmd == "craft" and argv[1] == "list":
        for name, regex in CASES + [("deep", "")]:
            print("%s\t%s" % (name, regex))
        return 0
    elif cmd == "craft":
        data = craft(argv[1], argv[2] if argv[1] != "deep" else None)
        with open(argv[3], "wb") as f:
            f.write(data)
        return 0
    elif cmd == "bootelf":
        with open(argv[1], "wb") as f:
            f.write(boot_elf())
        return 0
    elif cmd == "setowner":
        with open(argv[2], "wb") as f:
            f.write(set_owner(argv[1], argv[3], int(argv[4]), int(argv[5])))
        return 0
    elif cmd == "setentry":
        b = bytearray(open(argv[1], "rb").read())
        struct.pack_into("<Q", b, 0x1A, int(argv[3], 16))
        with open(argv[2], "wb") as f:
            f.write(b)
        return 0
    elif cmd == "fuzz":
        fuzz(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    else:
        sys.stderr.write(__doc__)
        return 2
    for p in problems[:50]:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
