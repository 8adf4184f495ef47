#!/usr/bin/env python3
"""Compare what rximg produced with a golden manifest, independently of rximg.

  manifest_walk.py extract MANIFEST DIR [--no-owner]
      walk an extracted host tree (lstat/readlink/read) and compare it with the
      manifest: path, type, mode, uid, gid, size (files and symlinks), mtime,
      symlink target and SHA-256. ctime and nlink cannot be set on a host and
      directory sizes are host-specific, so those come from the JSON check.
  manifest_walk.py json MANIFEST LS_JSON [STAT_JSON]
      compare `rximg ls -lR --json` (plus `rximg stat --json IMG:/` for the root)
      with every column of the manifest except SHA-256.
Prints each difference and exits 1 when there is any.
"""
import hashlib
import json
import os
import stat
import sys

COLS = "path type mode uid gid size mtime ctime nlink symlink_target sha256".split()


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "n": "\n", "\\": "\\"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def read_manifest(path):
    rows = {}
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            row = dict(zip(COLS, line.split("\t")))
            row["path"] = unescape(row["path"])
            if row["symlink_target"] != "-":
                row["symlink_target"] = unescape(row["symlink_target"])
            rows[row["path"]] = row
    return rows


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def ns_time(ns):
    return "%d.%09d" % divmod(ns, 1000000000)


def walk(root):
    """Yield (image path, host path) for root and everything below, never following links."""
    yield "/", root
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        base = "/" if rel == "." else "/" + rel
        for name in sorted(dirnames + filenames):
            yield (base.rstrip("/") + "/" + name), os.path.join(dirpath, name)


def compare_extract(manifest, root, owners):
    want = read_manifest(manifest)
    problems = []
    seen = set()
    for ipath, hpath in walk(root):
        seen.add(ipath)
        if ipath not in want:
            problems.append("%s: extracted but not in the manifest" % ipath)
            continue
        w = want[ipath]
        st = os.lstat(hpath)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "file"
        got = {"type": kind, "mtime": ns_time(st.st_mtime_ns)}
        if kind != "symlink":
            got["mode"] = "%04o" % stat.S_IMODE(st.st_mode)
        if owners:
            got["uid"], got["gid"] = str(st.st_uid), str(st.st_gid)
        if kind == "file":
            got["size"] = str(st.st_size)
            got["sha256"] = sha256_file(hpath)
        elif kind == "symlink":
            target = os.readlink(hpath)
            got["size"] = str(len(target.encode()))
            got["symlink_target"] = target
            got["sha256"] = hashlib.sha256(target.encode()).hexdigest()
        for k, v in got.items():
            if w[k] != v:
                problems.append("%s: %s is %r, manifest says %r" % (ipath, k, v, w[k]))
    for p in sorted(set(want) - seen):
        problems.append("%s: in the manifest but not extracted" % p)
    return problems


def compare_json(manifest, ls_json, stat_json=None):
    want = read_manifest(manifest)
    entries = json.load(open(ls_json, encoding="utf-8"))
    if stat_json:
        entries += json.load(open(stat_json, encoding="utf-8"))
    problems = []
    seen = set()
    for e in entries:
        p = e["path"]
        if p in seen:
            problems.append("%s: listed twice" % p)
        seen.add(p)
        if p not in want:
            problems.append("%s: listed but not in the manifest" % p)
            continue
        w = want[p]
        got = {
            "type": e["type"], "mode": e["mode"], "uid": str(e["uid"]), "gid": str(e["gid"]),
            "size": str(e["size"]), "mtime": e["mtime"], "ctime": e["ctime"],
            "nlink": str(e["nlink"]), "symlink_target": e.get("target", "-"),
        }
        for k, v in got.items():
            if w[k] != v:
                problems.append("%s: %s is %r, manifest says %r" % (p, k, v, w[k]))
    for p in sorted(set(want) - seen):
        problems.append("%s: in the manifest but not listed" % p)
    return problems


def main(argv):
    if len(argv) >= 3 and argv[0] == "extract":
        problems = compare_extract(argv[1], argv[2], "--no-owner" not in argv)
    elif len(argv) >= 3 and argv[0] == "json":
        problems = compare_json(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    else:
        sys.stderr.write(__doc__)
        return 2
    for p in problems[:50]:
        print(p)
    if len(problems) > 50:
        print("... and %d more" % (len(problems) - 50))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
