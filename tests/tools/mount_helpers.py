#!/usr/bin/env python3
"""Helpers for tests/mount.sh: things a shell cannot check well on a FUSE mount.

  meta DIR [--no-nlink] [--no-mtime] [--no-root]
                                      one sorted line per entry: path, type, mode, owner,
                                      size (not dirs), mtime in ns, nlink (not dirs), target
  errnos DIR                          every error a POSIX filesystem must give, with its errno
  renameflags DIR                     renameat2 with RENAME_NOREPLACE and RENAME_EXCHANGE
  dirreuse DIR                        a new directory works while a removed one is still open
  unlinked DIR                        an open-unlinked file keeps working; its space comes back
  unlinked-hold DIR READY             make an open-unlinked file, fsync, say READY, sleep
  populate DIR COUNT SEED SUMS        write COUNT files, record their SHA-256 in SUMS (json)
  writer DIR SEED SUMS                write files in chunks, out of order, rename, unlink ...
  reader DIR SUMS STOP [OTHER...]     re-read (cold) and check DIR until STOP exists
  verify DIR SUMS                     DIR holds exactly what SUMS says
  churn DIR PROGRESS SEED             rewrite files (tmp + rename) and append to a log
                                      until the mount dies; every step is logged to PROGRESS
  churn-verify DIR PROGRESS KILLTIME BOUND
                                      after a crash: every file is one whole version, never
                                      newer than started, never older than what was done
                                      BOUND seconds before the crash; the log is a prefix
  zeros FILE ORIG KEEP                FILE = first KEEP bytes of ORIG, then zeros
Exit status 0 when everything holds; otherwise each problem is printed.
"""
import errno
import hashlib
import json
import os
import random
import stat
import sys
import time


def escape(b):
    return b.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")


def walk(root):
    out = [(b".", root)]
    stack = [(b".", root)]
    while stack:
        rel, host = stack.pop()
        for name in os.listdir(host):
            r, h = rel + b"/" + name, os.path.join(host, name)
            out.append((r, h))
            if stat.S_ISDIR(os.lstat(h).st_mode):
                stack.append((r, h))
    return sorted(out)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read_all(path, cold=False):
    fd = os.open(path, os.O_RDONLY)
    try:
        if cold:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


# ---- meta ----
def cmd_meta(args):
    root = os.fsencode(args[0])
    nlink = "--no-nlink" not in args
    mtime = "--no-mtime" not in args
    out = sys.stdout.buffer
    for rel, host in walk(root):
        if rel == b"." and "--no-root" in args:
            continue
        st = os.lstat(host)
        m = st.st_mode
        kind = b"d" if stat.S_ISDIR(m) else b"l" if stat.S_ISLNK(m) else b"f" if stat.S_ISREG(m) else b"?"
        cols = [escape(rel), kind, b"%04o" % stat.S_IMODE(m), b"%d:%d" % (st.st_uid, st.st_gid)]
        cols.append(b"-" if kind == b"d" else b"%d" % st.st_size)
        cols.append(b"%d" % st.st_mtime_ns if mtime else b"-")
        cols.append(b"%d" % st.st_nlink if nlink and kind != b"d" else b"-")
        cols.append(escape(os.readlink(host)) if kind == b"l" else b"-")
        out.write(b"\t".join(cols) + b"\n")
    return 0


# ---- errnos ----
def cmd_errnos(args):
    d = args[0]
    P = lambda *p: os.path.join(d, *p)
    problems = []
    count = [0]

    def expect(code, what, fn, *a):
        codes = code if isinstance(code, tuple) else (code,)
        names = " or ".join(errno.errorcode[c] for c in codes)
        count[0] += 1
        try:
            fn(*a)
        except OSError as e:
            if e.errno not in codes:
                problems.append("%s: %s, expected %s" % (what, errno.errorcode.get(e.errno, e.errno), names))
            return
        problems.append("%s: succeeded, expected %s" % (what, names))

    def works(what, fn, *a):
        count[0] += 1
        try:
            return fn(*a)
        except OSError as e:
            problems.append("%s: %s" % (what, e))

    def create(p):
        os.close(os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644))

    os.mkdir(P("dir"))
    os.mkdir(P("dir2"))
    os.mkdir(P("dir3"))
    with open(P("dir", "inner"), "wb") as f:
        f.write(b"inner")
    with open(P("file"), "wb") as f:
        f.write(b"file")
    long253 = "x" * 253
    long252 = "y" * 252
    utf252 = "日" * 84	 # 252 bytes of 3-byte UTF-8

    expect(errno.ENOENT, "stat a missing name", os.stat, P("missing"))
    expect(errno.ENOENT, "open a missing file", os.open, P("missing"), os.O_RDONLY)
    expect(errno.ENOENT, "unlink a missing file", os.unlink, P("missing"))
    expect(errno.ENOENT, "rmdir a missing directory", os.rmdir, P("missing"))
    expect(errno.ENOENT, "rename a missing name", os.rename, P("missing"), P("other"))
    expect(errno.ENOENT, "readlink a missing name", os.readlink, P("missing"))
    expect(errno.ENOENT, "create in a missing directory", os.open, P("nodir", "f"), os.O_RDWR | os.O_CREAT, 0o644)

    expect(errno.EEXIST, "mkdir an existing directory", os.mkdir, P("dir"))
    expect(errno.EEXIST, "mkdir over an existing file", os.mkdir, P("file"))
    expect(errno.EEXIST, "O_CREAT|O_EXCL an existing file", os.open, P("file"), os.O_RDWR | os.O_CREAT | os.O_EXCL)
    expect(errno.EEXIST, "link to an existing name", os.link, P("file"), P("dir"))
    expect(errno.EEXIST, "symlink to an existing name", os.symlink, "target", P("file"))

    expect(errno.ENOTEMPTY, "rmdir a non-empty directory", os.rmdir, P("dir"))
    expect((errno.ENOTEMPTY, errno.EEXIST), "rename a directory over a non-empty one", os.rename, P("dir2"), P("dir"))

    expect(errno.ENAMETOOLONG, "create a 253-byte name", os.open, P(long253), os.O_RDWR | os.O_CREAT, 0o644)
    expect(errno.ENAMETOOLONG, "mkdir a 253-byte name", os.mkdir, P(long253))
    expect(errno.ENAMETOOLONG, "symlink a 253-byte name", os.symlink, "t", P(long253))
    expect(errno.ENAMETOOLONG, "rename to a 253-byte name", os.rename, P("file"), P(long253))
    expect(errno.ENAMETOOLONG, "link to a 253-byte name", os.link, P("file"), P(long253))
    expect(errno.ENAMETOOLONG, "stat a 253-byte name", os.stat, P(long253))
    expect(errno.ENAMETOOLONG, "create a 254-byte UTF-8 name", os.open, P("é" + "日" * 84),
           os.O_RDWR | os.O_CREAT, 0o644)

    expect(errno.ENOTDIR, "stat below a file", os.stat, P("file", "x"))
    expect(errno.ENOTDIR, "mkdir below a file", os.mkdir, P("file", "x"))
    expect(errno.ENOTDIR, "rmdir a file", os.rmdir, P("file"))
    expect(errno.ENOTDIR, "list a file", os.listdir, P("file"))
    expect(errno.ENOTDIR, "rename a directory over a file", os.rename, P("dir3"), P("file"))

    expect(errno.EISDIR, "open a directory for writing", os.open, P("dir"), os.O_WRONLY)
    expect(errno.EISDIR, "unlink a directory", os.unlink, P("dir"))
    expect(errno.EISDIR, "rename a file over a directory", os.rename, P("file"), P("dir3"))
    expect(errno.EISDIR, "truncate a directory", os.truncate, P("dir"), 0)

    expect(errno.EINVAL, "create a name with ':'", os.open, P("a:b"), os.O_RDWR | os.O_CREAT, 0o644)
    expect(errno.EINVAL, "mkdir a name with ':'", os.mkdir, P("c:d"))
    expect(errno.EINVAL, "symlink a name with ':'", os.symlink, "t", P("e:f"))
    expect(errno.EINVAL, "rename to a name with ':'", os.rename, P("file"), P("g:h"))
    expect(errno.EINVAL, "link to a name with ':'", os.link, P("file"), P("i:j"))
    expect(errno.EINVAL, "rename a directory into itself", os.rename, P("dir"), P("dir", "sub"))
    expect(errno.EPERM, "hard link to a directory", os.link, P("dir"), P("dirlink"))

    # The limits themselves work: 252-byte names (ASCII and UTF-8), a ':' in a symlink target.
    for name in (long252, utf252):
        works("create a 252-byte name", create, P(name))
        st = works("stat a 252-byte name", os.stat, P(name))
        if st is not None and not stat.S_ISREG(st.st_mode):
            problems.append("252-byte name: not a file")
    works("mkdir a 252-byte name", os.mkdir, P("d" * 252))
    works("symlink whose target has ':'", os.symlink, "disk:/x", P("colon-target"))
    if os.path.lexists(P("colon-target")) and os.readlink(P("colon-target")) != "disk:/x":
        problems.append("readlink of a target with ':' differs")

    want = {"dir", "dir2", "dir3", "file", long252, utf252, "d" * 252, "colon-target"}
    got = set(os.listdir(d))
    if got != want:
        problems.append("after the failed calls: extra %r, missing %r" % (sorted(got - want), sorted(want - got)))
    if read_all(P("file")) != b"file" or read_all(P("dir", "inner")) != b"inner":
        problems.append("a failed call changed a file")
    for p in problems:
        print(p)
    print("%d checks, %d problems" % (count[0], len(problems)))
    return 1 if problems else 0


# ---- renameflags ----

def cmd_renameflags(args):
    import ctypes
    d = args[0]
    P = lambda *p: os.path.join(d, *p)
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, NOREPLACE, EXCHANGE = -100, 1, 2
    problems = []

    def rename2(a, b, flags):
        if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    def expect(code, what, *a):
        try:
            rename2(*a)
        except OSError as e:
            if e.errno != code:
                problems.append("%s: %s, expected %s" % (what, errno.errorcode.get(e.errno), errno.errorcode[code]))
            return
        problems.append("%s: succeeded, expected %s" % (what, errno.errorcode[code]))

    def put(p, data):
        with open(p, "wb") as f:
            f.write(data)

    os.mkdir(P("a"))
    os.mkdir(P("b"))
    put(P("a", "one"), b"one")
    put(P("b", "two"), b"two")
    os.mkdir(P("b", "sub"))
    put(P("b", "sub", "inner"), b"inner")

    expect(errno.EEXIST, "RENAME_NOREPLACE onto an existing name", P("a", "one"), P("b", "two"), NOREPLACE)
    expect(errno.ENOENT, "RENAME_EXCHANGE with a missing name", P("a", "one"), P("b", "none"), EXCHANGE)
    expect(errno.EINVAL, "RENAME_NOREPLACE|RENAME_EXCHANGE", P("a", "one"), P("b", "two"), NOREPLACE | EXCHANGE)
    if read_all(P("a", "one")) != b"one" or read_all(P("b", "two")) != b"two":
        problems.append("a refused rename changed a file")
    try:
        rename2(P("a", "one"), P("a", "uno"), NOREPLACE)
        rename2(P("a", "uno"), P("b", "two"), EXCHANGE)
        rename2(P("a", "uno"), P("b", "sub"), EXCHANGE)	# a file and a directory trade places
    except OSError as e:
        problems.append("a rename that should work: %s" % e)
    want = {P("a", "uno"): "dir", P("b", "two"): b"one", P("b", "sub"): b"two", P("a", "uno", "inner"): b"inner"}
    for p, v in want.items():
        if v == "dir":
            if not os.path.isdir(p):
                problems.append("%s: not a directory after the exchange" % p)
        elif not os.path.isfile(p) or read_all(p) != v:
            problems.append("%s: not %r after the exchanges" % (p, v))
    if sorted(os.listdir(P("a"))) != ["uno"] or sorted(os.listdir(P("b"))) != ["sub", "two"]:
        problems.append("after the exchanges: a holds %r, b holds %r" % (os.listdir(P("a")), os.listdir(P("b"))))
    for p in problems:
        print(p)
    return 1 if problems else 0


# ---- dirreuse ----
def cmd_dirreuse(args):
    d = args[0]
    problems = []

    def try_use(new, how):
        try:
            with open(os.path.join(d, new, "f"), "wb") as f:
                f.write(b"x")
            names = os.listdir(os.path.join(d, new))
            if names != ["f"]:
                problems.append("%s: listing of the new directory is %r" % (how, names))
        except OSError as e:
            problems.append("%s: creating a file in the new directory %r: %s" % (how, new, e))

    # rmdir while open
    os.mkdir(os.path.join(d, "a"))
    fd = os.open(os.path.join(d, "a"), os.O_RDONLY | os.O_DIRECTORY)
    old = os.fstat(fd).st_ino
    os.rmdir(os.path.join(d, "a"))
    os.mkdir(os.path.join(d, "b"))
    new = os.stat(os.path.join(d, "b")).st_ino
    try_use("b", "rmdir of an open directory (inode %d), then mkdir (inode %d)" % (old, new))
    os.close(fd)
    # replaced by rename while open
    os.mkdir(os.path.join(d, "c"))
    os.mkdir(os.path.join(d, "e"))
    fd = os.open(os.path.join(d, "e"), os.O_RDONLY | os.O_DIRECTORY)
    old = os.fstat(fd).st_ino
    os.rename(os.path.join(d, "c"), os.path.join(d, "e"))
    os.mkdir(os.path.join(d, "g"))
    new = os.stat(os.path.join(d, "g")).st_ino
    try_use("g", "rename over an open empty directory (inode %d), then mkdir (inode %d)" % (old, new))
    os.close(fd)
    # a removed directory still holding a cached lookup (negative entry) below it
    os.mkdir(os.path.join(d, "h"))
    os.mkdir(os.path.join(d, "i"))
    try:
        os.stat(os.path.join(d, "i", "nothing"))
    except FileNotFoundError:
        pass
    os.rename(os.path.join(d, "h"), os.path.join(d, "i"))
    os.mkdir(os.path.join(d, "j"))
    try_use("j", "rename over an empty directory with a cached negative entry, then mkdir")
    for p in problems:
        print(p)
    return 1 if problems else 0


# ---- open-unlinked files ----
def statvfs_free(path):
    sv = os.statvfs(path)
    return sv.f_bavail


def wait_free(path, above, seconds=6.0):
    end = time.monotonic() + seconds
    while True:
        f = statvfs_free(path)
        if f >= above or time.monotonic() > end:
            return f
        time.sleep(0.1)


def cmd_unlinked(args):
    d = args[0]
    rnd = random.Random(77)
    problems = []
    p = os.path.join(d, "victim")
    model = bytearray(rnd.randbytes(3 << 20))
    free0 = statvfs_free(d)
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, model)
    os.fsync(fd)
    free1 = statvfs_free(d)
    print("# free blocks: %d before, %d with the 3 MiB file" % (free0, free1))
    if free1 > free0 - 600:
        problems.append("statfs: writing 3 MiB took only %d blocks" % (free0 - free1))
    os.unlink(p)
    if os.path.lexists(p) or "victim" in os.listdir(d):
        problems.append("the unlinked name is still there")
    st = os.fstat(fd)
    if st.st_nlink != 0:
        problems.append("fstat after unlink: st_nlink %d, expected 0" % st.st_nlink)
    # keep using it: overwrite, extend, shrink, grow, read back (cached and cold)
    for off, n in ((100, 5000), (2 << 20, 300000), (len(model), 700000), (131072 * 7 - 5, 10)):
        data = rnd.randbytes(n)
        os.pwrite(fd, data, off)
        if off > len(model):
            model.extend(bytes(off - len(model)))
        model[off:off + n] = data
    os.ftruncate(fd, 1 << 20)
    del model[1 << 20:]
    os.ftruncate(fd, (1 << 20) + 200000)
    model.extend(bytes(200000))
    os.fsync(fd)	 # commits while the file has no name
    for cold in (False, True):
        if cold:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        got = os.pread(fd, len(model) + 10, 0)
        if got != bytes(model):
            problems.append("read back through the open fd%s: %d bytes, differs from what was written"
                            % (" (cold)" if cold else "", len(got)))
    # a second open through /proc/self/fd sees the same file
    try:
        fd2 = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY)
        if os.pread(fd2, 1 << 22, 0) != bytes(model):
            problems.append("a second open through /proc/self/fd reads other data")
        os.close(fd2)
    except OSError as e:
        problems.append("reopen through /proc/self/fd: %s" % e)
    if os.fstat(fd).st_size != len(model):
        problems.append("fstat size %d, expected %d" % (os.fstat(fd).st_size, len(model)))
    # a new file under the old name is another file
    with open(p, "wb") as f:
        f.write(b"new file")
    if os.pread(fd, 8, 0) == b"new file":
        problems.append("the new file under the old name shows through the old fd")
    os.unlink(p)
    held = statvfs_free(d)
    os.close(fd)
    back = wait_free(d, free0 - 64)
    print("# free blocks: %d while held open, %d after close (started at %d)" % (held, back, free0))
    if back < free0 - 64:
        problems.append("statfs: the space of the closed unlinked file did not come back "
                        "(%d free, %d before)" % (back, free0))
    for p_ in problems:
        print(p_)
    return 1 if problems else 0


def cmd_unlinked_hold(args):
    d, ready = args
    p = os.path.join(d, "held")
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, random.Random(5).randbytes(2 << 20))
    os.fsync(fd)
    os.unlink(p)
    os.write(fd, b"more")
    os.fsync(fd)	 # committed with the node on the release list
    with open(ready, "w") as f:
        f.write("READY\n")
    time.sleep(60)
    return 0


# ---- concurrency ----
def gen(rnd, n):
    if rnd.random() < 0.7:
        return rnd.randbytes(n)
    pat = b"%d-" % rnd.randrange(1 << 30)
    return (pat * (n // len(pat) + 1))[:n]


def cmd_populate(args):
    d, count, seed, sums = args[0], int(args[1]), int(args[2]), args[3]
    rnd = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    out = {}
    for i in range(count):
        n = rnd.choice([0, rnd.randint(1, 3967), rnd.randint(3968, 140000), rnd.randint(140000, 900000)])
        data = gen(rnd, n)
        name = "p%03d" % i
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        out[name] = sha(data)
    json.dump(out, open(sums, "w"), indent=0, sort_keys=True)
    return 0


def cmd_writer(args):
    d, seed, sums = args[0], int(args[1]), args[2]
    rnd = random.Random(seed)
    files = {}
    os.makedirs(d)
    for i in range(30):
        sub = "s%d" % (i % 3)
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        name = "%s/w%02d" % (sub, i)
        path = os.path.join(d, name)
        n = rnd.choice([0, rnd.randint(1, 3967), rnd.randint(3968, 200000), rnd.randint(200000, 700000)])
        data = bytearray(gen(rnd, n))
        tmp = path + ".part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        how = rnd.randrange(3)
        if how == 0:	 # sequential chunks of odd sizes
            off = 0
            while off < n:
                k = rnd.randint(1, 70000)
                os.write(fd, data[off:off + k])
                off += k
        else:	 # out of order (after an ftruncate to the final size, or not)
            if how == 1:
                os.ftruncate(fd, n)
            cuts = sorted(rnd.sample(range(1, n), min(8, n - 1))) if n > 1 else []
            pieces = list(zip([0] + cuts, cuts + [n]))
            rnd.shuffle(pieces)
            for a, b in pieces:
                os.pwrite(fd, data[a:b], a)
        os.close(fd)
        os.rename(tmp, path)
        files[name] = data
        r = rnd.random()
        if r < 0.2 and len(files) > 2:	 # rewrite a piece of an earlier file in place
            other = rnd.choice(sorted(files))
            od = files[other]
            off = rnd.randint(0, len(od))
            piece = gen(rnd, rnd.randint(1, 50000))
            fd = os.open(os.path.join(d, other), os.O_WRONLY)
            os.pwrite(fd, piece, off)
            os.close(fd)
            if off > len(od):
                od.extend(bytes(off - len(od)))
            od[off:off + len(piece)] = piece
        elif r < 0.3 and len(files) > 2:
            other = rnd.choice(sorted(files))
            os.unlink(os.path.join(d, other))
            del files[other]
    json.dump({k: sha(v) for k, v in files.items()}, open(sums, "w"), indent=0, sort_keys=True)
    return 0


def cmd_reader(args):
    d, sums, stop = args[0], args[1], args[2]
    others = args[3:]
    want = json.load(open(sums))
    rounds = 0
    while True:
        last = os.path.exists(stop)
        for name, h in sorted(want.items()):
            got = read_all(os.path.join(d, name), cold=rounds % 2 == 1)
            if sha(got) != h:
                print("reader: %s changed under concurrent writers (round %d, %d bytes)" % (name, rounds, len(got)))
                return 1
        if sorted(os.listdir(d)) != sorted(want):
            print("reader: the listing of %s changed" % d)
            return 1
        for o in others:	 # read whatever the writers have made so far, for the load
            for dirpath, _, filenames in os.walk(o):
                for fn in filenames:
                    try:
                        read_all(os.path.join(dirpath, fn))
                    except FileNotFoundError:
                        pass
        rounds += 1
        if last:
            break
    print("# reader: %d rounds" % rounds)
    return 0


def cmd_verify(args):
    d, sums = args[0], args[1]
    want = json.load(open(sums))
    problems = []
    got = {}
    for dirpath, _, filenames in os.walk(d):
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            got[os.path.relpath(p, d)] = sha(read_all(p, cold=True))
    for k in sorted(set(want) | set(got)):
        if k not in got:
            problems.append("%s: missing" % k)
        elif k not in want:
            problems.append("%s: unexpected" % k)
        elif got[k] != want[k]:
            problems.append("%s: content differs" % k)
    for p in problems[:30]:
        print(p)
    return 1 if problems else 0


# ---- churn under kill -9 ----
def version_data(name, v):
    rnd = random.Random("%s:%d" % (name, v))
    n = rnd.randint(1000, 300000)
    head = b"%s v%d len %d\n" % (name.encode(), v, n)
    return head + rnd.randbytes(n - len(head)) if n > len(head) else head


def cmd_churn(args):
    d, progress, seed = args[0], args[1], int(args[2])
    rnd = random.Random(seed)
    log = open(progress, "a", buffering=1)
    names = ["n%d" % i for i in range(10)]
    ver = {}
    present = set()
    line_no = 0
    try:
        os.makedirs(d)
        log.write("%.6f MKDIR\n" % time.time())
        while True:
            name = rnd.choice(names)
            if name in present and rnd.random() < 0.1:
                log.write("- S D %s\n" % name)
                os.unlink(os.path.join(d, name))
                present.discard(name)
                log.write("%.6f E D %s\n" % (time.time(), name))
            else:
                v = ver.get(name, 0) + 1
                ver[name] = v
                data = version_data(name, v)
                log.write("- S W %s %d\n" % (name, v))
                tmp = os.path.join(d, name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                off = 0
                while off < len(data):
                    k = rnd.randint(1000, 100000)
                    os.write(fd, data[off:off + k])
                    off += k
                os.close(fd)
                os.rename(tmp, os.path.join(d, name))
                present.add(name)
                log.write("%.6f E W %s %d\n" % (time.time(), name, v))
            line_no += 1
            line = b"line %d of the log, after %s\n" % (line_no, name.encode())
            log.write("- S A %d\n" % line_no)
            fd = os.open(os.path.join(d, "log.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(fd, line)
            os.close(fd)
            log.write("%.6f E A %d\n" % (time.time(), line_no))
    except OSError as e:
        log.write("%.6f STOP %d %s\n" % (time.time(), e.errno, e))
    return 0


def log_line(i, name):
    return b"line %d of the log, after %s\n" % (i, name.encode())


def cmd_churn_verify(args):
    d, progress, kill_time, bound = args[0], args[1], float(args[2]), float(args[3])
    surely = kill_time - bound	 # ops finished before this must be on disk
    steps = []	 # (kind, name, version) of every started op, in order
    done_before = -1	 # index of the last op finished before `surely`
    mkdir_done = False
    problems = []
    for line in open(progress):
        f = line.split()
        if f[1] == "STOP":
            # Only the dead mount may stop the writer (ENOTCONN, or EIO for data it lost).
            if float(f[0]) < kill_time:
                problems.append("the writer failed %.2f s %s the kill: %s"
                                % (abs(kill_time - float(f[0])), "before" if float(f[0]) < kill_time else "after",
                                   " ".join(f[3:])))
        elif f[1] == "MKDIR":
            mkdir_done = float(f[0]) < surely
        elif f[1] == "S":
            steps.append((f[2], f[3], int(f[4]) if f[2] == "W" else None))
        elif f[1] == "E" and float(f[0]) < surely:
            done_before = len(steps) - 1
    if not os.path.isdir(d):
        if mkdir_done:
            problems.append("%s: missing, although made long before the kill" % d)
        for p in problems:
            print(p)
        return 1 if problems else 0
    # acceptable states of each name, and of the log: after any op from done_before on
    names = sorted({s[1] for s in steps if s[0] in "WD"})
    acceptable = {}
    for n in names:
        state = None
        for i, s in enumerate(steps):
            if s[1] == n:
                state = s[2] if s[0] == "W" else None
            if i >= done_before:
                acceptable.setdefault(n, set()).add(state)
        if done_before < 0:
            acceptable[n].add(None)
    lines_done = sum(1 for s in steps[:done_before + 1] if s[0] == "A")
    lines_started = sum(1 for s in steps if s[0] == "A")
    # the name each log line follows
    after = []
    last = None
    for s in steps:
        if s[0] in "WD":
            last = s[1]
        else:
            after.append(last)
    seen = set(os.listdir(d))
    for n in names:
        acc = acceptable.get(n, {None})
        if n not in seen:
            if None not in acc:
                problems.append("%s: absent, expected one of versions %s" % (n, sorted(v for v in acc if v)))
            continue
        data = read_all(os.path.join(d, n))
        head = data.split(b"\n", 1)[0].split()
        try:
            v = int(head[1][1:])
            assert head[0] == n.encode()
        except Exception:
            problems.append("%s: not any version (corrupt head %r)" % (n, data[:40]))
            continue
        if data != version_data(n, v):
            problems.append("%s: version %d is damaged (%d bytes)" % (n, v, len(data)))
        elif v not in acc:
            problems.append("%s: version %d, expected one of %s" % (n, v, sorted(x for x in acc if x)))
    if "log.txt" in seen:
        data = read_all(os.path.join(d, "log.txt"))
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        else:
            problems.append("log.txt: ends in a torn line")
        k = len(lines)
        want = b"".join(log_line(i + 1, after[i]) for i in range(min(k, len(after))))
        if data != want:
            problems.append("log.txt: not a prefix of what was appended (%d lines)" % k)
        if k > lines_started:
            problems.append("log.txt: %d lines, only %d were ever written" % (k, lines_started))
        if k < lines_done:
            problems.append("log.txt: %d lines, but %d were appended long before the kill" % (k, lines_done))
    elif lines_done:
        problems.append("log.txt: missing, but %d lines were appended long before the kill" % lines_done)
    extra = seen - set(names) - {"log.txt"} - {n + ".tmp" for n in names}
    if extra:
        problems.append("unexpected names: %r" % sorted(extra))
    for p in problems:
        print("%s: %s" % (d, p))
    print("# %s: %d steps started, %d finished %.1f s before the kill; %d files, %d log lines"
          % (os.path.basename(d), len(steps), done_before + 1, bound, len(seen & set(names)),
             len(read_all(os.path.join(d, "log.txt")).split(b"\n")) - 1 if "log.txt" in seen else 0))
    return 1 if problems else 0


def cmd_zeros(args):
    path, orig, keep = args[0], args[1], int(args[2])
    got = read_all(path)
    o = read_all(orig)[:keep]
    if got[:keep] != o:
        print("the first %d bytes differ from the original" % keep)
        return 1
    if any(got[keep:]):
        i = next(i for i in range(keep, len(got)) if got[i])
        print("byte %d past the old end is %#x, not zero" % (i, got[i]))
        return 1
    return 0


CMDS = {
    "meta": cmd_meta, "errnos": cmd_errnos, "renameflags": cmd_renameflags, "dirreuse": cmd_dirreuse, "unlinked": cmd_unlinked,
    "unlinked-hold": cmd_unlinked_hold, "populate": cmd_populate, "writer": cmd_writer,
    "reader": cmd_reader, "verify": cmd_verify, "churn": cmd_churn,
    "churn-verify": cmd_churn_verify, "zeros": cmd_zeros,
}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in CMDS:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(CMDS[sys.argv[1]](sys.argv[2:]))
