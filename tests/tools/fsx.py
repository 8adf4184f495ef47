#!/usr/bin/env python3
"""fsx-style random operations on a directory, checked against an in-memory model.

  fsx.py DIR --seed N [--ops COUNT] [--max-size BYTES] [--dump OUTDIR]

A seeded random sequence of operations (create, write at random offsets across
block and record boundaries, holes, truncate up and down, read and compare, rename
of files and directories with and without replacing, unlink, link, mkdir, rmdir,
append, fsync, open/close, reads after dropping the page cache, and operations that
must fail with a given errno) is applied to DIR (a mount) and to a model. Every read,
stat and listing is compared at once; at the end the whole tree is compared. Files
stay open across renames and unlinks, so open-unlinked files are exercised too.

With --dump, the final model is written to OUTDIR as a plain tree (to compare with
`rximg extract` after unmounting). On the first difference, prints the seed, the
operation number and the last operations, and exits 1.
"""
import argparse
import errno
import os
import random
import stat
import sys

RECORD = 131072
BLOCK = 4096


class Inode:
    __slots__ = ("data", "ident")
    counter = 0

    def __init__(self):
        Inode.counter += 1
        self.ident = Inode.counter
        self.data = bytearray()


class Failure(Exception):
    pass


class Fsx:
    def __init__(self, root, seed, max_size):
        self.root = root
        self.rnd = random.Random(seed)
        self.seed = seed
        self.max_size = max_size
        self.files = {}	 # relative path -> Inode
        self.dirs = {""}	 # relative paths of directories ("" is the root)
        self.fds = []	 # [fd, Inode, path when opened]
        self.log = []
        self.opno = 0
        self.name_seq = 0
        self.stats = {}
        self.trace = None

    # ---- helpers ----
    def host(self, rel):
        return os.path.join(self.root, rel) if rel else self.root

    def note(self, s):
        self.log.append("%d: %s" % (self.opno, s))
        if self.trace:
            self.trace.write(self.log[-1] + "\n")
        if len(self.log) > 40:
            del self.log[0]

    def fail(self, msg):
        raise Failure(msg)

    def new_name(self):
        self.name_seq += 1
        r = self.rnd.random()
        if r < 0.05:	 # long names, up to the 252-byte limit
            base = "L%d_" % self.name_seq
            return base + "n" * (self.rnd.randint(200, 252) - len(base))
        if r < 0.10:
            return "odd %d é-ü\t#%%*?" % self.name_seq
        if r < 0.12:
            return "ünïcödé_%d_日本" % self.name_seq
        return "f%d" % self.name_seq

    def pick_dir(self, max_depth=5):
        cands = [d for d in self.dirs if d.count("/") < max_depth]
        return self.rnd.choice(sorted(cands))

    def pick_file(self):
        return self.rnd.choice(sorted(self.files)) if self.files else None

    def children(self, d):
        pre = d + "/" if d else ""
        out = set()
        for p in list(self.files) + [x for x in self.dirs if x]:
            if p.startswith(pre) and "/" not in p[len(pre):]:
                out.add(p[len(pre):])
        return out

    def join(self, d, name):
        return d + "/" + name if d else name

    def nlink(self, ino):
        return sum(1 for i in self.files.values() if i is ino)

    def gen_data(self, n):
        r = self.rnd.random()
        if r < 0.55:
            return self.rnd.randbytes(n)
        if r < 0.75:
            pat = b"%d:%d;" % (self.seed, self.opno)
            return (pat * (n // len(pat) + 1))[:n]
        if r < 0.85:
            return bytes(n)
        return bytes([self.rnd.randrange(256)]) * n

    def gen_offset(self, size):
        r = self.rnd.random()
        if r < 0.35 or size == 0:
            off = self.rnd.randint(0, size)
        elif r < 0.5:
            off = size	 # append
        elif r < 0.7:	 # near a record or block boundary
            unit = RECORD if self.rnd.random() < 0.6 else BLOCK
            off = unit * self.rnd.randint(0, self.max_size // unit) + self.rnd.randint(-3, 3)
        else:	 # anywhere, holes included
            off = self.rnd.randint(0, self.max_size)
        return max(0, min(off, self.max_size - 1))

    def gen_len(self):
        r = self.rnd.random()
        if r < 0.5:
            return self.rnd.randint(1, 600)
        if r < 0.85:
            return self.rnd.randint(1, 9000)
        return self.rnd.randint(1, 3 * RECORD)

    def expect_errno(self, code, fn, *args):
        codes = code if isinstance(code, tuple) else (code,)
        names = " or ".join(errno.errorcode[c] for c in codes)
        try:
            fn(*args)
        except OSError as e:
            if e.errno not in codes:
                self.fail("%s%r: errno %s, expected %s" % (fn.__name__, args, errno.errorcode.get(e.errno, e.errno), names))
            return
        self.fail("%s%r succeeded, expected %s" % (fn.__name__, args, names))

    def compare(self, what, got, want, off=0):
        if got == bytes(want):
            return
        i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
        self.fail("%s: %d bytes read, %d expected; first difference at byte %d (file offset %d): got %r, want %r"
                  % (what, len(got), len(want), i, off + i, bytes(got[i:i + 16]), bytes(want[i:i + 16])))

    def fd_for(self, path):
        """An fd on path: an open one from the pool, or a fresh one (closed by the caller)."""
        ino = self.files[path]
        pool = [f for f in self.fds if f[1] is ino]
        if pool and self.rnd.random() < 0.5:
            return self.rnd.choice(pool)[0], False
        return os.open(self.host(path), os.O_RDWR), True

    # ---- operations ----
    def op_create(self):
        d = self.pick_dir()
        path = self.join(d, self.new_name())
        fd = os.open(self.host(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        ino = Inode()
        self.files[path] = ino
        n = self.rnd.choice([0, 0, self.rnd.randint(1, 4000), self.rnd.randint(1, 300000)])
        data = self.gen_data(n)
        if n:
            os.write(fd, data)
            ino.data[:] = data
        self.note("create %r with %d bytes" % (path, n))
        if len(self.fds) < 6 and self.rnd.random() < 0.5:
            self.fds.append([fd, ino, path])
        else:
            os.close(fd)

    def target(self):
        """A file to work on: (fd, inode, close_after, description); open-unlinked fds included."""
        if self.fds and self.rnd.random() < 0.35:
            fd, ino, path = self.rnd.choice(self.fds)
            return fd, ino, False, "fd %d (%r%s)" % (fd, path, "" if self.files.get(path) is ino else ", gone")
        path = self.pick_file()
        if path is None:
            return None
        fd, close = self.fd_for(path)
        return fd, self.files[path], close, repr(path)

    def op_write(self):
        t = self.target()
        if not t:
            return
        fd, ino, close, desc = t
        off = self.gen_offset(len(ino.data))
        n = min(self.gen_len(), self.max_size - off)
        data = self.gen_data(n)
        self.note("write %s at %d, %d bytes" % (desc, off, n))
        got = os.pwrite(fd, data, off)
        if got != n:
            self.fail("short write: %d of %d" % (got, n))
        if off > len(ino.data):
            ino.data.extend(bytes(off - len(ino.data)))
        ino.data[off:off + n] = data
        if close:
            os.close(fd)

    def op_append(self):
        path = self.pick_file()
        if path is None:
            return
        ino = self.files[path]
        n = min(self.rnd.randint(1, 5000), self.max_size - len(ino.data))
        if n <= 0:
            return
        data = self.gen_data(n)
        self.note("append %d bytes to %r" % (n, path))
        fd = os.open(self.host(path), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        ino.data.extend(data)

    def op_read(self, cold=False):
        t = self.target()
        if not t:
            return
        fd, ino, close, desc = t
        size = len(ino.data)
        off = self.rnd.randint(0, size + 100) if self.rnd.random() < 0.9 else self.gen_offset(size)
        n = self.gen_len()
        self.note("read%s %s at %d, %d bytes (size %d)" % (" cold" if cold else "", desc, off, n, size))
        if cold:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        got = os.pread(fd, n, off)
        self.compare("read %s at %d" % (desc, off), got, ino.data[off:off + n], off)
        st = os.fstat(fd)
        if st.st_size != size:
            self.fail("fstat %s: size %d, expected %d" % (desc, st.st_size, size))
        if close:
            os.close(fd)

    def op_truncate(self):
        t = self.target()
        if not t:
            return
        fd, ino, close, desc = t
        size = len(ino.data)
        r = self.rnd.random()
        if r < 0.4:
            new = self.rnd.randint(0, size)
        elif r < 0.6:
            new = RECORD * self.rnd.randint(0, self.max_size // RECORD) + self.rnd.randint(-2, 2)
        else:
            new = self.rnd.randint(0, self.max_size)
        new = max(0, min(new, self.max_size))
        self.note("truncate %s from %d to %d" % (desc, size, new))
        if close and self.rnd.random() < 0.5:	 # by name
            os.close(fd)
            close = False
            os.truncate(self.host(self.path_of(ino)), new)
        else:
            os.ftruncate(fd, new)
        if new < size:
            del ino.data[new:]
        else:
            ino.data.extend(bytes(new - size))
        if close:
            os.close(fd)

    def path_of(self, ino):
        return next(p for p, i in sorted(self.files.items()) if i is ino)

    def op_open_trunc(self):
        path = self.pick_file()
        if path is None:
            return
        self.note("open %r O_TRUNC" % path)
        fd = os.open(self.host(path), os.O_RDWR | os.O_TRUNC)
        ino = self.files[path]
        del ino.data[:]
        if len(self.fds) < 6:
            self.fds.append([fd, ino, path])
        else:
            os.close(fd)

    def op_open(self):
        path = self.pick_file()
        if path is None or len(self.fds) >= 6:
            return
        self.note("open %r" % path)
        self.fds.append([os.open(self.host(path), os.O_RDWR), self.files[path], path])

    def op_close(self):
        if not self.fds:
            return
        f = self.fds.pop(self.rnd.randrange(len(self.fds)))
        self.note("close fd %d (%r)" % (f[0], f[2]))
        os.close(f[0])

    def op_fsync(self):
        if not self.fds:
            return
        f = self.rnd.choice(self.fds)
        self.note("fsync fd %d" % f[0])
        os.fsync(f[0])

    def op_unlink(self):
        path = self.pick_file()
        if path is None:
            return
        self.note("unlink %r" % path)
        os.unlink(self.host(path))
        del self.files[path]

    def op_link(self):
        path = self.pick_file()
        if path is None:
            return
        new = self.join(self.pick_dir(), self.new_name())
        self.note("link %r -> %r" % (new, path))
        os.link(self.host(path), self.host(new))
        self.files[new] = self.files[path]
        want = self.nlink(self.files[path])
        got = os.lstat(self.host(new)).st_nlink
        if got != want:
            self.fail("after link: st_nlink %d, expected %d" % (got, want))

    def op_mkdir(self):
        d = self.pick_dir(4)
        path = self.join(d, self.new_name())
        self.note("mkdir %r" % path)
        os.mkdir(self.host(path))
        self.dirs.add(path)

    def op_rmdir(self):
        cands = sorted(d for d in self.dirs if d)
        if not cands:
            return
        d = self.rnd.choice(cands)
        if self.children(d):
            self.note("rmdir %r (not empty)" % d)
            self.expect_errno(errno.ENOTEMPTY, os.rmdir, self.host(d))
            return
        self.note("rmdir %r" % d)
        os.rmdir(self.host(d))
        self.dirs.discard(d)

    def op_rename(self):
        r = self.rnd.random()
        if r < 0.55 and self.files:	 # a file to a new name or over another file
            src = self.pick_file()
            if self.rnd.random() < 0.4 and len(self.files) > 1:
                dst = self.pick_file()
            else:
                dst = self.join(self.pick_dir(), self.new_name())
            self.note("rename file %r -> %r" % (src, dst))
            os.rename(self.host(src), self.host(dst))
            if src != dst and self.files[src] is not self.files.get(dst):
                self.files[dst] = self.files.pop(src)
            # rename between two names of one node does nothing (POSIX)
            return
        cands = sorted(d for d in self.dirs if d)
        if not cands:
            return
        src = self.rnd.choice(cands)
        choices = [d for d in self.dirs if not (d + "/").startswith(src + "/") and d.count("/") < 4]
        parent = self.rnd.choice(sorted(choices))
        empty = [d for d in self.dirs if d and not self.children(d) and not (d + "/").startswith(src + "/")
                 and not (src + "/").startswith(d + "/")]
        if empty and self.rnd.random() < 0.3:
            dst = self.rnd.choice(sorted(empty))	 # over an empty directory
        else:
            dst = self.join(parent, self.new_name())
        self.note("rename dir %r -> %r" % (src, dst))
        os.rename(self.host(src), self.host(dst))
        pre = src + "/"
        self.dirs = {(dst + d[len(src):]) if d == src or d.startswith(pre) else d for d in self.dirs}
        self.files = {((dst + p[len(src):]) if p.startswith(pre) else p): i for p, i in self.files.items()}
        for f in self.fds:
            if f[2].startswith(pre):
                f[2] = dst + f[2][len(src):]

    def op_bad(self):
        """Operations the model says must fail, with the errno they must fail with."""
        r = self.rnd.randrange(7)
        d = self.pick_dir()
        if r == 0:
            p = self.join(d, "missing%d" % self.opno)
            self.note("open missing %r" % p)
            self.expect_errno(errno.ENOENT, os.open, self.host(p), os.O_RDONLY)
        elif r == 1 and self.files:
            p = self.pick_file()
            self.note("create existing %r" % p)
            self.expect_errno(errno.EEXIST, os.open, self.host(p), os.O_RDWR | os.O_CREAT | os.O_EXCL)
        elif r == 2 and self.files:
            p = self.pick_file()
            self.note("mkdir under file %r" % p)
            self.expect_errno(errno.ENOTDIR, os.mkdir, self.host(p + "/sub"))
        elif r == 3:
            full = [x for x in self.dirs if self.children(x) and x]
            if full:
                tgt = self.rnd.choice(sorted(full))
                outside = sorted(p for p in self.files if not p.startswith(tgt + "/"))
                src = self.rnd.choice(outside) if outside else None
                if src and self.rnd.random() < 0.5:	 # (not into its own ancestor: ENOTEMPTY)
                    self.note("rename file %r over dir %r" % (src, tgt))
                    self.expect_errno(errno.EISDIR, os.rename, self.host(src), self.host(tgt))
                else:
                    srcs = [x for x in self.dirs if x and not (x + "/").startswith(tgt + "/")
                            and not (tgt + "/").startswith(x + "/")]
                    if srcs:
                        s = self.rnd.choice(sorted(srcs))
                        self.note("rename dir %r over non-empty dir %r" % (s, tgt))
                        self.expect_errno((errno.ENOTEMPTY, errno.EEXIST), os.rename, self.host(s), self.host(tgt))
        elif r == 4:
            p = self.join(d, "x" * 253)
            self.note("create 253-byte name in %r" % d)
            self.expect_errno(errno.ENAMETOOLONG, os.open, self.host(p), os.O_RDWR | os.O_CREAT, 0o644)
        elif r == 5:
            p = self.join(d, "a:b%d" % self.opno)
            self.note("create %r" % p)
            self.expect_errno(errno.EINVAL, os.open, self.host(p), os.O_RDWR | os.O_CREAT, 0o644)
        elif r == 6 and len(self.dirs) > 1:
            p = self.rnd.choice(sorted(x for x in self.dirs if x))
            self.note("unlink dir %r" % p)
            self.expect_errno(errno.EISDIR, os.unlink, self.host(p))

    def op_stat(self):
        path = self.pick_file()
        if path is None:
            return
        st = os.lstat(self.host(path))
        ino = self.files[path]
        self.note("stat %r" % path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(ino.data) or st.st_nlink != self.nlink(ino):
            self.fail("lstat %r: mode %o size %d nlink %d, expected a file of %d bytes with %d links"
                      % (path, st.st_mode, st.st_size, st.st_nlink, len(ino.data), self.nlink(ino)))

    def op_listdir(self):
        d = self.pick_dir()
        self.note("listdir %r" % d)
        got = set(os.listdir(self.host(d)))
        want = self.children(d)
        if got != want:
            self.fail("listdir %r: extra %r, missing %r" % (d, sorted(got - want), sorted(want - got)))

    OPS = [("create", 8), ("write", 30), ("append", 5), ("read", 20), ("read_cold", 5),
           ("truncate", 8), ("open_trunc", 1), ("open", 4), ("close", 4), ("fsync", 2),
           ("unlink", 4), ("link", 2), ("mkdir", 3), ("rmdir", 2), ("rename", 8),
           ("bad", 3), ("stat", 5), ("listdir", 3)]

    def step(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        if len(self.files) > 40:	 # keep the tree (and the run) small
            weights[names.index("create")] = 1
            weights[names.index("unlink")] = 12
        name = self.rnd.choices(names, weights)[0]
        self.stats[name] = self.stats.get(name, 0) + 1
        if name == "read_cold":
            self.op_read(cold=True)
        else:
            getattr(self, "op_" + name)()

    # ---- the whole tree ----
    def verify_tree(self):
        seen_files, seen_dirs = {}, {""}
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            rel = "" if rel == "." else rel
            for n in dirnames:
                seen_dirs.add(self.join(rel, n))
            for n in filenames:
                seen_files[self.join(rel, n)] = os.path.join(dirpath, n)
        if seen_dirs != self.dirs:
            self.fail("directories: extra %r, missing %r" % (sorted(seen_dirs - self.dirs), sorted(self.dirs - seen_dirs)))
        if set(seen_files) != set(self.files):
            self.fail("files: extra %r, missing %r" % (sorted(set(seen_files) - set(self.files)),
                                                        sorted(set(self.files) - set(seen_files))))
        for p, hp in sorted(seen_files.items()):
            with open(hp, "rb") as f:
                self.compare("final content of %r" % p, f.read(), self.files[p].data)
            st = os.lstat(hp)
            if st.st_nlink != self.nlink(self.files[p]):
                self.fail("%r: st_nlink %d, expected %d" % (p, st.st_nlink, self.nlink(self.files[p])))

    def dump(self, out):
        os.makedirs(out, exist_ok=True)
        for d in sorted(self.dirs):
            os.makedirs(os.path.join(out, d), exist_ok=True)
        for p, ino in self.files.items():
            with open(os.path.join(out, p), "wb") as f:
                f.write(ino.data)

    def run(self, count):
        for self.opno in range(1, count + 1):
            self.step()
        self.opno += 1
        self.note("verify the whole tree, with open files")
        self.verify_tree()
        for f in self.fds:
            self.note("close fd %d" % f[0])
            os.close(f[0])
        self.fds = []
        self.note("verify the whole tree, everything closed")
        self.verify_tree()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--ops", type=int, default=3000)
    ap.add_argument("--max-size", type=int, default=3 * RECORD * 4)
    ap.add_argument("--dump")
    ap.add_argument("--trace", help="write every operation to this file")
    a = ap.parse_args()
    fsx = Fsx(a.dir, a.seed, a.max_size)
    if a.trace:
        fsx.trace = open(a.trace, "w", buffering=1)
    try:
        fsx.run(a.ops)
    except (Failure, OSError) as e:
        print("fsx: seed %d, operation %d: %s: %s" % (a.seed, fsx.opno, type(e).__name__, e))
        print("fsx: rerun with: fsx.py DIR --seed %d --ops %d --max-size %d" % (a.seed, a.ops, a.max_size))
        print("fsx: the last operations:")
        for line in fsx.log:
            print("  " + line)
        return 1
    if a.dump:
        fsx.dump(a.dump)
    print("fsx: seed %d: %d operations, %d files, %d directories: %s" % (
        a.seed, a.ops, len(fsx.files), len(fsx.dirs),
        " ".join("%s=%d" % kv for kv in sorted(fsx.stats.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
