#!/usr/bin/env python3
"""rxcraft: craft hostile RedoxFS v8 images for the rximg test suite.

Every subcommand edits an existing, good image IN PLACE. Structural corruptions
are "re-sealed": after a block is rewritten, the hash in its parent pointer is
recomputed, then the parent's hash in its own parent, and so on up to the
header, which is written back into the same ring slot with a fresh hash (and
encrypted_hash = hash + 8 zero bytes, i.e. an unencrypted filesystem). The
corruption therefore reaches the structure checks instead of being stopped by
a checksum mismatch. `flip`, `zero-ring` and `truncate` deliberately do not
re-seal.

Format references (sections of the RedoxFS v8 spec): SeaHash 3, BlockAddr and
BlockPtr 4, header ring 5, node tree 7, node 8, records 9, directories 10,
allocation log 11. Python 3 standard library only.
"""

import argparse
import hashlib
import os
import re
import struct
import sys

BLOCK = 4096
RING = 256
FIRST_DATA = 257
SCAN_BLOCKS = 65536
MASK64 = (1 << 64) - 1

MODE_TYPE = 0xF000
MODE_FILE = 0x8000
MODE_DIR = 0x4000
MODE_SYMLINK = 0xA000
MODE_SOCK = 0xC000
FLAG_INLINE = 1
INLINE_OFF = 128
INLINE_MAX = BLOCK - INLINE_OFF
DIRLIST_BYTES = 4092
HTREE_ENTRIES = 204
HTREE_EMPTY = 0xFFFFFFFF
TREE_ENTRIES = 254
ALLOC_ENTRIES = 255
MARKER = 0xFFFFFFFFFFFFFFF0

# (first record, slot count, first slot, indirection depth) of the level data (spec 8.1, 8.3)
RANGES = ((0, 128, 0, 0), (128, 64, 128, 1), (128 + 64 * 256, 32, 192, 2),
          (128 + 64 * 256 + 32 * 256 ** 2, 16, 224, 3),
          (128 + 64 * 256 + 32 * 256 ** 2 + 16 * 256 ** 3, 8, 240, 4))

NODE_FIELDS = {  # name: (offset, struct format) of the node header (spec 8.1)
    "mode": (0, "<H"), "uid": (2, "<I"), "gid": (6, "<I"), "links": (10, "<I"),
    "size": (14, "<Q"), "blocks": (22, "<Q"), "ctime": (30, "<Q"), "ctime_nsec": (38, "<I"),
    "mtime": (42, "<Q"), "mtime_nsec": (50, "<I"), "atime": (54, "<Q"), "atime_nsec": (62, "<I"),
    "record_level": (66, "<I"), "flags": (70, "<I"),
}
TYPE_NAMES = {"file": MODE_FILE, "dir": MODE_DIR, "symlink": MODE_SYMLINK, "sock": MODE_SOCK}


class CraftError(Exception):
    pass


# ---------------------------------------------------------------- SeaHash (spec 3)

_P = 0x6EED0E9DA4D94A4F
_SEEDS = (0x16F11FE89B0D677C, 0xB480A793D8E6C86C, 0x6FE2E5AAF078EBC9, 0x14F994A4C5259381)


def diffuse(x):
    x = (x * _P) & MASK64
    x ^= (x >> 32) >> (x >> 60)
    return (x * _P) & MASK64


def seahash(data):
    """seahash::hash with the default seeds, as used for every block checksum."""
    data = bytes(data)
    n = len(data)
    full = n // 8
    words = list(struct.unpack_from("<%dQ" % full, data)) if full else []
    if n % 8:
        words.append(int.from_bytes(data[full * 8:], "little"))
    s = list(_SEEDS)
    for i, w in enumerate(words):
        lane = i & 3
        s[lane] = diffuse(s[lane] ^ w)
    return diffuse(s[0] ^ s[1] ^ s[2] ^ s[3] ^ n)


def name_hash(name):
    """The 32-bit directory hash of a name (spec 10.4)."""
    h = seahash(name) & 0xFFFFFFFF
    return 0xFFFFFFFE if h == HTREE_EMPTY else h


def selftest():
    """The spec's test vectors (section 3.2); raises on a mismatch."""
    seq = bytes(i % 256 for i in range(4096))
    vectors = [
        (bytes(4072), 0xE81FFCB86026FF96), (bytes(4096), 0x7AD6348702DA2905),
        (b"", 0xC920CA43256FDCB9), (b"to be or not to be", 0x1B993A826F4AE575),
        (b"love is a wonderful terrible thing", 0x426531339A1CD0AE),
        (seq, 0xE8010714612E6C70), (seq[:1], 0x78D3DB1F028AC5FD), (seq[:7], 0xF2401B4F29A84BDD),
        (seq[:8], 0xBEF3905516C9161D), (seq[:9], 0xBD9938EEE4A1CE16),
        (seq[:15], 0x1DA2D2F183459F57), (seq[:16], 0xB305C0A1EBD99EA9),
        (seq[:17], 0x8FACE76008A25AE6), (seq[:23], 0x99A55EABAE83C925),
        (seq[:24], 0x29D29A509E40AF34), (seq[:25], 0x7626B8E0DCE82BAF),
        (seq[:31], 0x174DB43E5D284F03), (seq[:32], 0x2F6B06CF184A204F),
        (seq[:33], 0x4E44CD0F57422A14), (seq[:63], 0xC42BC99B3B06A840),
        (seq[:64], 0xB667F87C9CA0DB70), (seq[:100], 0x3331A656BBF415BC),
    ]
    for data, want in vectors:
        got = seahash(data)
        if got != want:
            raise CraftError("seahash(%d bytes) = %016x, expected %016x" % (len(data), got, want))
    for x, want in ((0, 0), (1, 15197155197312260123), (2, 1571904453004118546),
                    (3, 16467633989910088880), (0xDEADBEEF, 12110756357096144265),
                    (94203824938, 17289265692384716055)):
        if diffuse(x) != want:
            raise CraftError("diffuse(%d) = %d, expected %d" % (x, diffuse(x), want))
    for name, want in ((b"hello.txt", 0xA3F404E7), (b"a", 0x6A16E94D), (b"dir", 0x3CA6F872),
                       (b"big.txt", 0x3A735986), (b"file00001", 0x05839E0F),
                       (b"file00150", 0xF2716979)):
        if name_hash(name) != want:
            raise CraftError("name hash of %r = %08x, expected %08x" % (name, name_hash(name), want))
    return len(vectors)


# ---------------------------------------------------------------- pointers (spec 4)

def make_addr(index, level=0, decomp=0):
    return ((index << 8) | ((decomp & 0xF) << 4) | (level & 0xF)) & MASK64


def addr_index(addr):
    return addr >> 8


def addr_level(addr):
    return addr & 0xF


def addr_decomp(addr):
    return (addr >> 4) & 0xF


def is_marker(addr, h):
    return (addr | 0xF) == MASK64 and h == MASK64


def is_null(addr, h):
    return not is_marker(addr, h) and addr_index(addr) == 0


class Ref:
    """Where a BlockPtr is stored: in block `holder` at byte `off` (holder None: the header)."""

    def __init__(self, holder, off):
        self.holder, self.off = holder, off

    def __repr__(self):
        return "%s+%d" % ("header" if self.holder is None else "block %d" % self.holder, self.off)


# ---------------------------------------------------------------- the image

class Image:
    opened = []  # every image opened by this process; main() closes (flushes) them

    def __init__(self, path, writable=True):
        self.path = path
        Image.opened.append(self)
        self.f = open(path, "r+b" if writable else "rb")
        self.file_size = os.fstat(self.f.fileno()).st_size
        self.start = self._find_ring()
        self.slot, self.hdr = self._newest_header()
        self.nblocks = struct.unpack_from("<Q", self.hdr, 32)[0] // BLOCK

    def close(self):
        if not self.f.closed:
            self.f.close()

    # -- raw access, fs-relative block indexes
    def read(self, index, level=0):
        size = BLOCK << level
        off = self.start + index * BLOCK
        if index < 0 or off + size > self.file_size:
            raise CraftError("block %d (level %d) is beyond the end of the image" % (index, level))
        self.f.seek(off)
        data = self.f.read(size)
        if len(data) != size:
            raise CraftError("short read at block %d" % index)
        return bytearray(data)

    def write(self, index, data):
        if index < RING and index != self.slot:
            raise CraftError("refusing to write block %d inside the header ring" % index)
        self.f.seek(self.start + index * BLOCK)
        self.f.write(bytes(data))

    def readable(self, index, level=0):
        return index > 0 and self.start + (index + (1 << level)) * BLOCK <= self.file_size

    # -- header ring (spec 5)
    @staticmethod
    def header_valid(b):
        return (b[:8] == b"RedoxFS\0" and struct.unpack_from("<Q", b, 8)[0] == 8
                and struct.unpack_from("<Q", b, 4088)[0] == seahash(b[:4072]))

    def _find_ring(self):
        total = min(self.file_size // BLOCK, SCAN_BLOCKS)
        for blk in range(total):
            self.f.seek(blk * BLOCK)
            b = self.f.read(BLOCK)
            if b[:8] != b"RedoxFS\0" or not self.header_valid(b):
                continue
            slot = struct.unpack_from("<Q", b, 40)[0] % RING
            if blk >= slot:
                return (blk - slot) * BLOCK
        raise CraftError("%s: no valid RedoxFS header in the first %d blocks" % (self.path, total))

    def _newest_header(self):
        best = None
        for i in range(RING):
            off = self.start + i * BLOCK
            if off + BLOCK > self.file_size:
                break
            self.f.seek(off)
            b = bytearray(self.f.read(BLOCK))
            if not self.header_valid(b):
                continue
            gen = struct.unpack_from("<Q", b, 40)[0]
            if best is None or gen > best[0]:
                best = (gen, i, b)
        return best[1], best[2]

    def write_header(self):
        h = seahash(self.hdr[:4072])
        struct.pack_into("<Q", self.hdr, 4088, h)
        self.hdr[4072:4088] = struct.pack("<Q", h) + bytes(8)
        self.f.seek(self.start + self.slot * BLOCK)
        self.f.write(bytes(self.hdr))

    # -- pointers
    def get_ptr(self, ref):
        b = self.hdr if ref.holder is None else self.read(ref.holder)
        return struct.unpack_from("<QQ", b, ref.off)

    def set_ptr(self, ref, addr, h):
        """Store a pointer without re-sealing the holder."""
        if ref.holder is None:
            struct.pack_into("<QQ", self.hdr, ref.off, addr, h)
            self.write_header()
        else:
            b = self.read(ref.holder)
            struct.pack_into("<QQ", b, ref.off, addr, h)
            self.write(ref.holder, b)

    def target(self, ref, what="block"):
        """The block index a pointer names; fails on null, marker or unreadable pointers."""
        addr, h = self.get_ptr(ref)
        if is_marker(addr, h) or is_null(addr, h):
            kind = "a marker" if is_marker(addr, h) else "null"
            raise CraftError("%s: the pointer at %r is %s" % (what, ref, kind))
        if not self.readable(addr_index(addr), addr_level(addr)):
            raise CraftError("%s: the pointer at %r names block %d, outside the image"
                             % (what, ref, addr_index(addr)))
        return addr_index(addr)

    def seal(self, chain):
        """Recompute the hashes along a chain of Refs (header first), bottom up, then the header."""
        for ref in reversed(chain):
            addr, _ = self.get_ptr(ref)
            data = self.read(addr_index(addr), addr_level(addr))
            if ref.holder is None:
                struct.pack_into("<Q", self.hdr, ref.off + 8, seahash(data))
            else:
                b = self.read(ref.holder)
                struct.pack_into("<Q", b, ref.off + 8, seahash(data))
                self.write(ref.holder, b)
        self.write_header()

    # -- node tree (spec 7)
    def node_chain(self, node_id):
        """Refs from header.tree down to the L0 entry naming the node block."""
        idx = [(node_id >> s) & 0xFF for s in (24, 16, 8, 0)]
        if node_id == 0 or max(idx) >= TREE_ENTRIES:
            raise CraftError("node id %d is invalid" % node_id)
        chain = [Ref(None, 48)]
        for i in idx:
            blk = self.target(chain[-1], "node %d" % node_id)
            chain.append(Ref(blk, 16 * i))
        self.target(chain[-1], "node %d" % node_id)
        return chain

    def node(self, node_id):
        chain = self.node_chain(node_id)
        return Node(self, node_id, chain, self.target(chain[-1]))

    def all_node_ids(self):
        """Every node id present in the tree."""
        ids = []

        def walk(ref, level, prefix):
            addr, h = self.get_ptr(ref)
            if is_null(addr, h) or is_marker(addr, h) or not self.readable(addr_index(addr)):
                return
            b = self.read(addr_index(addr))
            for i in range(TREE_ENTRIES):
                a, hh = struct.unpack_from("<QQ", b, 16 * i)
                if is_null(a, hh):
                    continue
                nid = prefix | (i << (8 * level))
                if level == 0:
                    ids.append(nid)
                else:
                    walk(Ref(addr_index(addr), 16 * i), level - 1, nid)
        walk(Ref(None, 48), 3, 0)
        return ids

    # -- path resolution (no symlinks followed: tests name real entries)
    def lookup(self, path):
        """(node, entry) for an absolute path; entry is None for the root."""
        node, entry = self.node(1), None
        for comp in [c for c in path.encode("utf-8", "surrogateescape").split(b"/") if c]:
            if not node.is_dir():
                raise CraftError("%s: %r is not a directory" % (path, node.node_id))
            entry = node.find(comp)
            if entry is None:
                raise CraftError("%s: no entry %r" % (path, comp.decode("utf-8", "replace")))
            node = self.node(entry.node_id)
        return node, entry

    # -- allocation log (spec 11)
    def alloc_chain(self):
        """Refs to the AllocLists, newest first: [header.alloc, newest.prev, ...]."""
        refs, ref, seen = [], Ref(None, 64), set()
        while True:
            addr, h = self.get_ptr(ref)
            if is_null(addr, h) or addr_index(addr) in seen:
                return refs
            seen.add(addr_index(addr))
            refs.append(ref)
            ref = Ref(addr_index(addr), 0)


class Entry:
    """One DirEntry: where it is and what it says."""

    def __init__(self, dirlist, index, node_id, name):
        self.dirlist, self.index, self.node_id, self.name = dirlist, index, node_id, name


class DirList:
    """A DirList block (spec 10.2) reached through `chain` (Refs, header first)."""

    def __init__(self, img, chain):
        self.img, self.chain = img, chain
        self.block = img.target(chain[-1], "directory list")
        b = img.read(self.block)
        self.count, self.used = struct.unpack_from("<HH", b, DIRLIST_BYTES)
        self.entries, pos = [], 0
        for i in range(self.count):
            if pos + 5 > min(self.used, DIRLIST_BYTES):
                break
            nid, ln = struct.unpack_from("<IB", b, pos)
            self.entries.append(Entry(self, i, nid, bytes(b[pos + 5:pos + 5 + ln])))
            pos += 5 + ln

    def store(self, entries=None, count=None, used=None):
        """Rewrite the entry area from `entries` (list of (id, name)) and re-seal."""
        if entries is None:
            entries = [(e.node_id, e.name) for e in self.entries]
        body = b"".join(struct.pack("<IB", nid, len(name) & 0xFF) + name for nid, name in entries)
        if len(body) > DIRLIST_BYTES:
            raise CraftError("the entries do not fit in one directory list")
        b = bytearray(BLOCK)
        b[:len(body)] = body
        struct.pack_into("<HH", b, DIRLIST_BYTES, len(entries) if count is None else count,
                         len(body) if used is None else used)
        self.img.write(self.block, b)
        self.img.seal(self.chain)


class Node:
    def __init__(self, img, node_id, chain, block):
        self.img, self.node_id, self.chain, self.block = img, node_id, chain, block
        self.raw = img.read(block)
        for name, (off, fmt) in NODE_FIELDS.items():
            setattr(self, name, struct.unpack_from(fmt, self.raw, off)[0])

    def is_dir(self):
        return self.mode & MODE_TYPE == MODE_DIR

    def is_inline(self):
        return self.flags & FLAG_INLINE != 0

    def slot_ref(self, slot):
        """Ref to level-data pointer `slot` (0..247) of this node."""
        return Ref(self.block, INLINE_OFF + 16 * slot)

    def save(self):
        """Write self.raw back and re-seal up to the header."""
        self.img.write(self.block, self.raw)
        self.img.seal(self.chain)

    def set_field(self, name, value):
        off, fmt = NODE_FIELDS[name]
        struct.pack_into(fmt, self.raw, off, value)
        setattr(self, name, value)

    # -- directories (spec 10.3-10.5)
    def depth(self):
        addr, h = struct.unpack_from("<QQ", self.raw, INLINE_OFF)
        if is_null(addr, h):
            return -1
        if not is_marker(addr, h):
            raise CraftError("directory node %d has no h-tree marker" % self.node_id)
        return addr & 0xF

    def dirlists(self):
        """Every DirList of the directory, in listing order."""
        d = self.depth()
        if d < 0:
            return []
        out = []

        def walk(chain, levels):
            if levels == 0:
                out.append(DirList(self.img, chain))
                return
            blk = self.img.target(chain[-1], "h-tree index")
            b = self.img.read(blk)
            for k in range(HTREE_ENTRIES):
                mh, addr, h = struct.unpack_from("<IQQ", b, 20 * k)
                if mh == HTREE_EMPTY and is_null(addr, h):
                    break
                walk(chain + [Ref(blk, 20 * k + 4)], levels - 1)
        walk(self.chain + [self.slot_ref(1)], d)
        return out

    def entries(self):
        return [e for dl in self.dirlists() for e in dl.entries]

    def find(self, name):
        for e in self.entries():
            if e.name == name:
                return e
        return None

    # -- file records (spec 8.3)
    def record_chain(self, r):
        """Refs from the header down to the pointer of record r (through BlockLists)."""
        if self.is_inline():
            raise CraftError("node %d holds inline data, not records" % self.node_id)
        for first, slots, base, depth in RANGES:
            if r >= first + slots * 256 ** depth:
                continue
            rel = r - first
            chain = self.chain + [self.slot_ref(base + rel // 256 ** depth)]
            for d in range(depth, 0, -1):
                blk = self.img.target(chain[-1], "record %d" % r)
                chain.append(Ref(blk, 16 * ((rel // 256 ** (d - 1)) % 256)))
            return chain
        raise CraftError("record %d is beyond the largest file" % r)

    def records(self):
        """(record index, addr, hash) of every non-null record pointer below the size."""
        out = []
        if self.is_inline() or self.is_dir():
            return out
        recsize = BLOCK << min(self.record_level, 5)
        nrec = -(-self.size // recsize)
        for first, slots, base, depth in RANGES:
            for s in range(slots):
                self._walk_records(self.slot_ref(base + s), depth, first + s * 256 ** depth, nrec, out)
        return out

    def _walk_records(self, ref, depth, first, nrec, out):
        if first >= nrec:
            return
        addr, h = self.img.get_ptr(ref)
        if is_null(addr, h):
            return
        if depth == 0:
            out.append((first, addr, h))
            return
        blk = addr_index(addr)
        for i in range(256):
            self._walk_records(Ref(blk, 16 * i), depth - 1, first + i * 256 ** (depth - 1), nrec, out)


# ---------------------------------------------------------------- verification

def verify(img, out=sys.stdout):
    """Check every hash reachable from the header that can be checked; returns mismatches.

    Pointers that are out of range, markers or otherwise uninterpretable are
    skipped (those are the corruptions the structural checks must catch).
    """
    bad = []

    def check(ref, what):
        addr, h = img.get_ptr(ref)
        if is_null(addr, h) or is_marker(addr, h):
            return None
        idx, lvl = addr_index(addr), addr_level(addr)
        if idx < FIRST_DATA or lvl > 5 or not img.readable(idx, lvl):
            return None
        data = img.read(idx, lvl)
        if seahash(data) != h:
            bad.append("%s at %r (block %d)" % (what, ref, idx))
            return None
        return idx

    def tree(ref, level, prefix):
        blk = check(ref, "node tree level %d" % level)
        if blk is None:
            return
        for i in range(TREE_ENTRIES):
            sub = Ref(blk, 16 * i)
            if level > 0:
                tree(sub, level - 1, prefix | i << (8 * level))
            elif check(sub, "node %d" % (prefix | i)) is not None:
                node_data(img.node(prefix | i))

    def index(ref, levels, what):
        blk = check(ref, what)
        if blk is None or levels == 0:
            return
        b = img.read(blk)
        for k in range(HTREE_ENTRIES):
            mh, addr, h = struct.unpack_from("<IQQ", b, 20 * k)
            if mh == HTREE_EMPTY and is_null(addr, h):
                break
            index(Ref(blk, 20 * k + 4), levels - 1, what)

    def node_data(n):
        what = "data of node %d" % n.node_id
        if n.is_dir():
            addr, h = struct.unpack_from("<QQ", n.raw, INLINE_OFF)
            if is_marker(addr, h) and addr & 0xF <= 8:
                index(n.slot_ref(1), addr & 0xF, what)
        elif not n.is_inline() and n.record_level <= 5:
            for first, slots, base, depth in RANGES:
                for s in range(slots):
                    blocklists(n.slot_ref(base + s), depth, what)

    def blocklists(ref, depth, what):
        blk = check(ref, what)
        if blk is None or depth == 0:
            return
        for i in range(256):
            blocklists(Ref(blk, 16 * i), depth - 1, what)

    tree(Ref(None, 48), 3, 0)
    for ref in img.alloc_chain():
        check(ref, "allocation list")
    for line in bad:
        print("hash mismatch: " + line, file=out)
    return bad


# ---------------------------------------------------------------- an independent reader

def lz4_block_decode(src, out_size):
    """Decode one raw LZ4 block (spec 9.5, 9.6) into exactly out_size bytes (zero-padded)."""
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            while True:
                if i >= n:
                    raise CraftError("LZ4: literal length runs past the input")
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        if i + lit > n:
            raise CraftError("LZ4: literals run past the input")
        out += src[i:i + lit]
        i += lit
        if i == n:
            break
        if i + 2 > n:
            raise CraftError("LZ4: truncated match offset")
        off = src[i] | src[i + 1] << 8
        i += 2
        if off == 0 or off > len(out):
            raise CraftError("LZ4: match offset %d outside the output" % off)
        ml = token & 15
        if ml == 15:
            while True:
                if i >= n:
                    raise CraftError("LZ4: match length runs past the input")
                b = src[i]
                i += 1
                ml += b
                if b != 255:
                    break
        ml += 4
        start = len(out) - off
        for k in range(ml):
            out.append(out[start + k])
        if len(out) > out_size:
            raise CraftError("LZ4: output larger than the record")
    if len(out) > out_size:
        raise CraftError("LZ4: output larger than the record")
    return bytes(out) + bytes(out_size - len(out))


class Reader:
    """Walk a whole image from its newest header, strictly, written from the spec alone.

    Every block reached is read through its pointer and its SeaHash compared;
    directories are parsed and every name looked up again through the h-tree;
    files are read record by record (LZ4 decoded); the allocation log is replayed
    and no block may be reachable twice or be reachable and free. Encrypted
    images are not supported (no AES in the standard library).
    """

    def __init__(self, img):
        self.img = img
        self.problems = []
        self.owner = {}       # block -> what uses it
        self.links = {}       # node id -> entries naming it
        self.rows = []
        self.lookup_cache = {}

    def problem(self, msg):
        self.problems.append(msg)

    def claim(self, index, level, what):
        for b in range(index, index + (1 << level)):
            if b in self.owner:
                self.problem("%s: block %d is also used by %s" % (what, b, self.owner[b]))
            self.owner[b] = what

    def fetch(self, addr, h, what, meta=True):
        """The bytes a pointer names (None on a problem, which is recorded)."""
        idx, lvl, dec = addr_index(addr), addr_level(addr), addr_decomp(addr)
        if is_marker(addr, h) or is_null(addr, h):
            self.problem("%s: unexpected %s pointer" % (what, "marker" if is_marker(addr, h) else "null"))
            return None
        if meta and (lvl or dec):
            self.problem("%s: metadata pointer with level %d/%d" % (what, lvl, dec))
            return None
        if lvl > 5 or dec > 5 or idx < FIRST_DATA or idx + (1 << lvl) > self.img.nblocks or idx % (1 << lvl):
            self.problem("%s: pointer to block %d level %d is out of range or unaligned" % (what, idx, lvl))
            return None
        data = self.img.read(idx, lvl)
        if seahash(data) != h:
            self.problem("%s: hash mismatch in block %d" % (what, idx))
            return None
        self.claim(idx, lvl, what)
        return data

    def node(self, nid, what):
        idx = [(nid >> s) & 0xFF for s in (24, 16, 8, 0)]
        if nid == 0 or max(idx) >= TREE_ENTRIES:
            self.problem("%s: invalid node id %d" % (what, nid))
            return None
        addr, h = struct.unpack_from("<QQ", self.img.hdr, 48)
        for i in idx:
            if is_null(addr, h):
                self.problem("%s: node %d is not in the tree" % (what, nid))
                return None
            b = self.tree_cache.get(addr_index(addr))
            if b is None:
                self.problem("%s: node %d lies under an unreadable tree list" % (what, nid))
                return None
            addr, h = struct.unpack_from("<QQ", b, 16 * i)
        if is_null(addr, h):
            self.problem("%s: node %d is not in the tree" % (what, nid))
            return None
        raw = self.nodes.get(nid)
        if raw is None:
            self.problem("%s: node %d is unreadable" % (what, nid))
        return raw

    def walk_tree(self, addr, h, level, prefix):
        b = self.fetch(addr, h, "node tree level %d" % level)
        if b is None:
            return
        self.tree_cache[addr_index(addr)] = b
        for i in range(TREE_ENTRIES):
            a, hh = struct.unpack_from("<QQ", b, 16 * i)
            nid = prefix | i << (8 * level)
            if is_null(a, hh):
                continue
            if level:
                self.walk_tree(a, hh, level - 1, nid)
            elif nid == 0:
                self.problem("node tree: the reserved id 0 is used")
            else:
                raw = self.fetch(a, hh, "node %d" % nid)
                if raw is not None:
                    self.nodes[nid] = raw

    def dir_entries(self, raw, path):
        addr, h = struct.unpack_from("<QQ", raw, INLINE_OFF)
        if any(struct.unpack_from("<QQ", raw, INLINE_OFF + 16 * s) != (0, 0) for s in range(2, 248)):
            self.problem("%s: directory with data pointers" % path)
        if is_null(addr, h):
            return [], 0
        if not is_marker(addr, h) or addr & 0xF > 8:
            self.problem("%s: bad h-tree marker" % path)
            return [], 0
        depth = addr & 0xF
        out, blocks = [], [0]

        def walk(a, hh, levels):
            b = self.fetch(a, hh, path)
            if b is None:
                return
            blocks[0] += 1
            if levels == 0:
                count, used = struct.unpack_from("<HH", b, DIRLIST_BYTES)
                pos = 0
                for _ in range(count):
                    if pos + 5 > used or used > DIRLIST_BYTES:
                        self.problem("%s: directory list overrun" % path)
                        return
                    nid, ln = struct.unpack_from("<IB", b, pos)
                    name = bytes(b[pos + 5:pos + 5 + ln])
                    if pos + 5 + ln > used:
                        self.problem("%s: directory list overrun" % path)
                        return
                    out.append((nid, name))
                    pos += 5 + ln
                if pos != used:
                    self.problem("%s: directory list length mismatch" % path)
                return
            seen_empty = False
            for k in range(HTREE_ENTRIES):
                mh, ca, ch = struct.unpack_from("<IQQ", b, 20 * k)
                if mh == HTREE_EMPTY and is_null(ca, ch):
                    seen_empty = True
                    continue
                if seen_empty:
                    self.problem("%s: gap in an h-tree index" % path)
                walk(ca, ch, levels - 1)
        ra, rh = struct.unpack_from("<QQ", raw, INLINE_OFF + 16)
        walk(ra, rh, depth)
        return out, blocks[0]

    def block(self, index):
        if index not in self.lookup_cache:
            self.lookup_cache[index] = self.img.read(index)
        return self.lookup_cache[index]

    def lookup(self, raw, name):
        """Spec 10.5: the node id the h-tree finds for name, or None."""
        addr, h = struct.unpack_from("<QQ", raw, INLINE_OFF)
        if not is_marker(addr, h):
            return None
        d = addr & 0xF
        hn = name_hash(name)
        ra, rh = struct.unpack_from("<QQ", raw, INLINE_OFF + 16)
        entries = [(0xFFFFFFFE, ra, rh)] if d == 0 else None

        def search(entries, levels):
            taking, prev = False, None
            for mh, a, hh in entries:
                if mh == HTREE_EMPTY and is_null(a, hh):
                    break
                if taking and prev != hn:
                    break
                if not taking and mh < hn:
                    continue
                taking, prev = True, mh
                b = self.block(addr_index(a))
                if levels == 1:
                    count, used = struct.unpack_from("<HH", b, DIRLIST_BYTES)
                    pos = 0
                    for _ in range(count):
                        nid, ln = struct.unpack_from("<IB", b, pos)
                        if bytes(b[pos + 5:pos + 5 + ln]) == name:
                            return nid
                        pos += 5 + ln
                else:
                    r = search(index_entries(b), levels - 1)
                    if r is not None:
                        return r
            return None

        def index_entries(b):
            return [struct.unpack_from("<IQQ", b, 20 * k) for k in range(HTREE_ENTRIES)]
        if entries is None:
            entries = index_entries(self.block(addr_index(ra)))
        return search(entries, max(d, 1))

    def file_data(self, raw, nid, path):
        mode, size, flags, level = (struct.unpack_from("<H", raw, 0)[0], struct.unpack_from("<Q", raw, 14)[0],
                                    struct.unpack_from("<I", raw, 70)[0], struct.unpack_from("<I", raw, 66)[0])
        if flags & FLAG_INLINE:
            data = bytes(raw[INLINE_OFF:INLINE_OFF + min(size, INLINE_MAX)])
            return data + bytes(size - len(data)) if size < (1 << 30) else None
        if level > 5:
            self.problem("%s: record level %d" % (path, level))
            return None
        recsize = BLOCK << level
        nrec = -(-size // recsize)
        if size > (1 << 34):
            self.problem("%s: size %d too large for this reader" % (path, size))
            return None
        out = bytearray(size)
        for first, slots, base, depth in RANGES:
            for sl in range(slots):
                a, h = struct.unpack_from("<QQ", raw, INLINE_OFF + 16 * (base + sl))
                self.records(a, h, depth, first + sl * 256 ** depth, nrec, recsize, out, path)
        return bytes(out)

    def records(self, a, h, depth, first, nrec, recsize, out, path):
        if is_null(a, h) or first >= nrec:
            return
        if depth:
            b = self.fetch(a, h, path)
            if b is None:
                return
            for i in range(256):
                ca, ch = struct.unpack_from("<QQ", b, 16 * i)
                self.records(ca, ch, depth - 1, first + i * 256 ** (depth - 1), nrec, recsize, out, path)
            return
        data = self.fetch(a, h, "%s record %d" % (path, first), meta=False)
        if data is None:
            return
        lvl, dec = addr_level(a), addr_decomp(a)
        if dec:
            clen = struct.unpack_from("<H", data, 0)[0]
            if clen == 0 or clen + 2 > len(data) or lvl >= dec or (BLOCK << dec) > recsize:
                self.problem("%s record %d: bad compressed record" % (path, first))
                return
            try:
                data = lz4_block_decode(bytes(data[2:2 + clen]), BLOCK << dec)
            except CraftError as e:
                self.problem("%s record %d: %s" % (path, first, e))
                return
        elif (BLOCK << lvl) > recsize:
            self.problem("%s record %d: larger than the record size" % (path, first))
            return
        off = first * recsize
        n = min(len(data), len(out) - off)
        out[off:off + n] = data[:n]

    def run(self):
        img = self.img
        self.tree_cache, self.nodes = {}, {}
        ta, th = struct.unpack_from("<QQ", img.hdr, 48)
        self.walk_tree(ta, th, 3, 0)
        reached = set()
        queue = [(b"/", 1)]
        root = self.node(1, "/")
        if root is None or struct.unpack_from("<H", root, 0)[0] & MODE_TYPE != MODE_DIR:
            self.problem("/: the root directory is missing or not a directory")
            queue = []
        reached.add(1)
        while queue:
            path, nid = queue.pop(0)
            raw = self.node(nid, path.decode("utf-8", "replace"))
            if raw is None:
                continue
            f = {name: struct.unpack_from(fmt, raw, off)[0] for name, (off, fmt) in NODE_FIELDS.items()}
            typ = f["mode"] & MODE_TYPE
            p = path.decode("utf-8", "replace")
            if typ == MODE_DIR:
                ents, nblk = self.dir_entries(raw, p)
                if f["size"] != nblk * BLOCK:
                    self.problem("%s: directory size %d for %d blocks" % (p, f["size"], nblk))
                names = set()
                for cid, name in ents:
                    child = path.rstrip(b"/") + b"/" + name
                    cp = child.decode("utf-8", "replace")
                    if (not name or len(name) > 252 or b"/" in name or b"\0" in name
                            or name in (b".", b"..")):
                        self.problem("%s: bad name %r" % (p, name))
                        continue
                    if name in names:
                        self.problem("%s: duplicate name" % cp)
                    names.add(name)
                    if self.lookup(raw, name) != cid:
                        self.problem("%s: not found through the h-tree" % cp)
                    self.links[cid] = self.links.get(cid, 0) + 1
                    craw = self.node(cid, cp)
                    if craw is None:
                        continue
                    if cid in reached:
                        if struct.unpack_from("<H", craw, 0)[0] & MODE_TYPE == MODE_DIR:
                            self.problem("%s: directory reached twice" % cp)
                        continue
                    reached.add(cid)
                    queue.append((child, cid))
                self.rows.append((path, "dir", nid, f["mode"] & 0o7777, "-", "-"))
            elif typ in (MODE_FILE, MODE_SYMLINK, MODE_SOCK):
                data = self.file_data(raw, nid, p)
                kind = {MODE_FILE: "file", MODE_SYMLINK: "symlink", MODE_SOCK: "sock"}[typ]
                digest = "-" if data is None else hashlib.sha256(data).hexdigest()
                if typ == MODE_SYMLINK and data is not None:
                    digest = "-> " + data.decode("utf-8", "backslashreplace")
                self.rows.append((path, kind, nid, f["mode"] & 0o7777, f["size"], digest))
            else:
                self.problem("%s: unknown node type %o" % (p, f["mode"]))
            for t in ("ctime_nsec", "mtime_nsec", "atime_nsec"):
                if f[t] >= 10 ** 9:
                    self.problem("%s: %s out of range" % (p, t))
        for nid, raw in self.nodes.items():
            if nid == 1:
                continue
            links = struct.unpack_from("<I", raw, 10)[0]
            if nid not in reached:
                self.problem("node %d: in the tree but in no directory" % nid)
            elif links != self.links.get(nid, 0):
                self.problem("node %d: links %d but %d entries" % (nid, links, self.links.get(nid, 0)))
        # Release list and allocation log (spec 11).
        ra, rh = struct.unpack_from("<QQ", img.hdr, 3152)
        while not is_null(ra, rh):
            b = self.fetch(ra, rh, "release list")
            if b is None:
                break
            ra, rh = struct.unpack_from("<QQ", b, 0)
        chain = []
        aa, ah = struct.unpack_from("<QQ", img.hdr, 64)
        while not is_null(aa, ah):
            b = self.fetch(aa, ah, "allocation log")
            if b is None or len(chain) > img.nblocks:
                break
            chain.append(b)
            aa, ah = struct.unpack_from("<QQ", b, 0)
        free = bytearray(img.nblocks)
        for b in reversed(chain):
            for k in range(ALLOC_ENTRIES):
                idx, cnt = struct.unpack_from("<Qq", b, 16 + 16 * k)
                if cnt == 0:
                    continue
                if idx >= img.nblocks or abs(cnt) > img.nblocks - idx:
                    self.problem("allocation log: entry (%d, %d) out of range" % (idx, cnt))
                    continue
                for x in range(idx, idx + abs(cnt)):
                    if cnt < 0 and not free[x]:
                        self.problem("allocation log: block %d allocated while not free" % x)
                    if cnt > 0 and free[x]:
                        self.problem("allocation log: block %d freed twice" % x)
                    free[x] = 1 if cnt > 0 else 0
        for x in range(FIRST_DATA):
            if free[x]:
                self.problem("allocation log: ring block %d is free" % x)
        for x, what in self.owner.items():
            if free[x]:
                self.problem("%s: block %d is in use but free in the allocation log" % (what, x))
        self.rows.sort()
        return self.problems


def escape_path(text):
    """Tab, newline and backslash as \\t, \\n, \\\\ (the manifest convention)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def cmd_read(args):
    """Walk the whole image independently of rximg and print one line per path:
    PATH TYPE NODE-ID PERMISSIONS SIZE SHA256 (symlinks: -> TARGET). Problems go to
    standard error and make the exit status 1."""
    img = Image(args.image, writable=False)
    r = Reader(img)
    problems = r.run()
    for path, kind, nid, perm, size, digest in r.rows:
        print("%s\t%s\t%d\t%04o\t%s\t%s" % (escape_path(path.decode("utf-8", "backslashreplace")),
                                           kind, nid, perm, size, escape_path(digest)))
    for p in problems:
        print("problem: " + p, file=sys.stderr)
    if problems:
        sys.exit(1)


# ---------------------------------------------------------------- subcommands

def parse_int(text):
    return int(text, 0)


def name_arg(text):
    """A name on the command line; \\xNN escapes allowed for raw bytes."""
    raw = text.encode("utf-8", "surrogateescape")
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def split_path(path):
    parent, _, base = path.rstrip("/").rpartition("/")
    return parent or "/", base


def cmd_selftest(args):
    print("seahash: %d vectors ok" % selftest())


def cmd_verify(args):
    img = Image(args.image, writable=False)
    bad = verify(img)
    if bad:
        sys.exit(1)
    print("%s: every checkable hash matches (generation %d in slot %d)" % (
        args.image, struct.unpack_from("<Q", img.hdr, 40)[0], img.slot))


def read_listing(path):
    rows = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 6:
                rows[cols[0]] = (cols[1], int(cols[2]), cols[3], cols[4], "\t".join(cols[5:]))
    return rows


def cmd_compare_intact(args):
    """Compare `read` listings before and after a repair (REPORT: `rximg check --repair --json`).

    Every node kept must have the same type, permissions, size and contents, unless
    the report names its path (or, for a node that moved to lost+found, its old
    path); every node that disappeared must have its path or a parent directory
    named in the report. Prints each difference; exit 1 if there is any.
    """
    import json
    before, after = read_listing(args.before), read_listing(args.after)
    with open(args.report, encoding="utf-8") as f:
        named = {escape_path(r["where"]) for r in json.load(f).get("repairs", [])}
    by_id = {v[1]: (k, v) for k, v in before.items()}
    bad = []

    def explained(path):
        while True:
            if path in named:
                return True
            if path == "/":
                return False
            path = path.rsplit("/", 1)[0] or "/"
    seen = set()
    for path, row in after.items():
        old = by_id.get(row[1])
        if old is None:
            continue
        seen.add(row[1])
        opath, orow = old
        if orow[0] != row[0] or (row[0] != "dir" and orow[2:] != row[2:]) or orow[2] != row[2]:
            if path not in named and opath not in named:
                bad.append("%s (was %s): changed but not reported: %r -> %r" % (path, opath, orow, row))
    for opath, orow in before.items():
        if orow[1] not in seen and not explained(opath):
            bad.append("%s (node %d): lost but not reported" % (opath, orow[1]))
    for line in bad:
        print(line)
    if bad:
        sys.exit(1)


def cmd_flip(args):
    """Flip (XOR 0xFF) the byte at OFFSET from the start of BLOCK; nothing is re-sealed.

    OFFSET may exceed 4095 to reach into a multi-block (level > 0) record.
    """
    img = Image(args.image)
    pos = img.start + args.block * BLOCK + args.offset
    if args.offset < 0 or pos >= img.file_size:
        raise CraftError("byte %d of block %d is outside the image" % (args.offset, args.block))
    img.f.seek(pos)
    b = img.f.read(1)[0] ^ 0xFF
    img.f.seek(pos)
    img.f.write(bytes([b]))


def cmd_zero_ring(args):
    """Zero all 256 header slots."""
    img = Image(args.image)
    img.f.seek(img.start)
    img.f.write(bytes(RING * BLOCK))


def cmd_truncate(args):
    with open(args.image, "r+b") as f:
        f.truncate(args.bytes)


def where(img, path, what):
    """Block index of something belonging to path: node, dirlist[:N], htree, record:N."""
    if path in ("tree", "alloc"):
        return img.target(Ref(None, 48 if path == "tree" else 64))
    node, _ = img.lookup(path)
    kind, _, arg = what.partition(":")
    if kind == "node":
        return node.block
    if kind == "dirlist":
        return node.dirlists()[int(arg or 0)].block
    if kind == "htree":
        return img.target(node.slot_ref(1))
    if kind == "record":
        return img.target(node.record_chain(int(arg))[-1])
    if kind == "l0":
        return node.chain[-1].holder
    raise CraftError("unknown block kind %r" % what)


def cmd_where(args):
    img = Image(args.image, writable=False)
    print(where(img, args.path, args.what))


def cmd_show(args):
    """Print a node, its entries or records (debugging aid)."""
    img = Image(args.image, writable=False)
    node, _ = img.lookup(args.path)
    print("node %d at block %d" % (node.node_id, node.block))
    for name in NODE_FIELDS:
        v = getattr(node, name)
        print("  %-12s %s" % (name, oct(v) if name == "mode" else v))
    if node.is_dir():
        print("  h-tree depth %d" % node.depth())
        for dl in node.dirlists():
            print("  dirlist block %d: count %d, used %d" % (dl.block, dl.count, dl.used))
            for e in dl.entries:
                print("    %8d %r" % (e.node_id, e.name.decode("utf-8", "replace")))
    elif node.is_inline():
        print("  inline: %r" % bytes(node.raw[INLINE_OFF:INLINE_OFF + min(node.size, 64)]))
    else:
        for r, addr, h in node.records():
            print("  record %d: block %d level %d decomp %d hash %016x" % (
                r, addr_index(addr), addr_level(addr), addr_decomp(addr), h))


def edit_entries(img, path, fn):
    """Apply fn(list of [id, name], index of path's entry) to path's DirList and re-seal."""
    _, entry = img.lookup(path)
    if entry is None:
        raise CraftError("the root has no directory entry")
    dl = entry.dirlist
    ents = [[e.node_id, e.name] for e in dl.entries]
    fn(ents, entry.index)
    dl.store([tuple(e) for e in ents])


def cmd_rename(args):
    """Rename a directory entry in place (any bytes: '/', '.', '..', empty...)."""
    img = Image(args.image)
    new = name_arg(args.newname)

    def fn(ents, i):
        ents[i][1] = new
    edit_entries(img, args.path, fn)


def cmd_set_entry_id(args):
    """Make a directory entry name another node id (raw number)."""
    img = Image(args.image)

    def fn(ents, i):
        ents[i][0] = args.id
    edit_entries(img, args.path, fn)


def cmd_tree_zero(args):
    """Make the reserved node id 0 name PATH's node too: entry 0 of the node tree's
    L0 block that holds PATH (whose id must be below 254), re-sealed."""
    img = Image(args.image)
    node, _ = img.lookup(args.path)
    chain = node.chain
    if any(ref.off != 0 for ref in chain[1:-1]):
        raise CraftError("%s: node id %d does not share an L0 block with id 0" % (args.path, node.node_id))
    addr, h = img.get_ptr(chain[-1])
    img.set_ptr(Ref(chain[-1].holder, 0), addr, h)
    img.seal(chain[:-1])


def cmd_retarget(args):
    """Make the entry at PATH name the node that TARGET names (e.g. a parent: a loop)."""
    img = Image(args.image)
    target, _ = img.lookup(args.target)

    def fn(ents, i):
        ents[i][0] = target.node_id
    edit_entries(img, args.path, fn)


def cmd_add_entry(args):
    """Add an entry NAME to directory DIR naming TARGET's node (a hard link, maybe a duplicate name)."""
    img = Image(args.image)
    d, _ = img.lookup(args.dir)
    if not d.is_dir() or d.depth() < 0:
        raise CraftError("%s is not a non-empty directory" % args.dir)
    target, _ = img.lookup(args.target)
    dl = d.dirlists()[0]
    ents = [(e.node_id, e.name) for e in dl.entries]
    new = (target.node_id, name_arg(args.name))
    ents.insert(0 if args.first else len(ents), new)
    dl.store(ents)


def cmd_dirlist_header(args):
    """Overwrite the count and/or used length of a directory's first DirList."""
    img = Image(args.image)
    d, _ = img.lookup(args.dir)
    dl = d.dirlists()[args.list]
    dl.store(count=args.count, used=args.used)


def cmd_set_symlink(args):
    """Give an inline symlink a new target (bytes), fixing its size."""
    img = Image(args.image)
    node, _ = img.lookup(args.path)
    if node.mode & MODE_TYPE != MODE_SYMLINK or not node.is_inline():
        raise CraftError("%s is not an inline symlink" % args.path)
    t = name_arg(args.target)
    if len(t) >= INLINE_MAX:
        raise CraftError("target too long for inline data")
    node.raw[INLINE_OFF:] = t + bytes(INLINE_MAX - len(t))
    node.set_field("size", len(t))
    node.save()


def cmd_set_node(args):
    """Set node header fields: FIELD=VALUE ... (type=file|dir|symlink|sock|0xN keeps perms)."""
    img = Image(args.image)
    node, _ = img.lookup(args.path)
    for item in args.assignments:
        name, _, value = item.partition("=")
        if name == "type":
            t = TYPE_NAMES.get(value)
            t = parse_int(value) if t is None else t
            node.set_field("mode", (node.mode & ~MODE_TYPE & 0xFFFF) | (t & MODE_TYPE))
        elif name in NODE_FIELDS:
            node.set_field(name, parse_int(value))
        else:
            raise CraftError("unknown node field %r" % name)
    if args.zero_data:
        node.raw[INLINE_OFF:] = bytes(INLINE_MAX)
    node.save()


def ptr_ref(img, path, which):
    """(ref, chain to the ref's holder) for a named pointer."""
    if which in ("tree", "alloc", "release"):
        return Ref(None, {"tree": 48, "alloc": 64, "release": 3152}[which]), []
    node, _ = img.lookup(path)
    kind, _, arg = which.partition(":")
    if kind == "node":
        return node.chain[-1], node.chain[:-1]
    if kind == "marker":
        return node.slot_ref(0), node.chain
    if kind == "dir":
        return node.slot_ref(1), node.chain
    if kind == "slot":
        return node.slot_ref(int(arg)), node.chain
    if kind == "record":
        chain = node.record_chain(int(arg))
        return chain[-1], chain[:-1]
    if kind == "htree":
        ref = node.slot_ref(1)
        blk = img.target(ref)
        return Ref(blk, 20 * int(arg) + 4), node.chain + [ref]
    raise CraftError("unknown pointer %r" % which)


def cmd_set_ptr(args):
    """Rewrite a pointer's address (index/level/decomp), re-sealing everything above it.

    The pointer's own hash is recomputed over the new target when that range
    lies inside the image, so only range and level checks can stop a reader.
    """
    img = Image(args.image)
    ref, above = ptr_ref(img, args.path, args.which)
    addr, h = img.get_ptr(ref)
    if args.addr is not None:
        addr = args.addr
    else:
        addr = make_addr(addr_index(addr) if args.index is None else args.index,
                         addr_level(addr) if args.level is None else args.level,
                         addr_decomp(addr) if args.decomp is None else args.decomp)
    if args.hash is not None:
        h = args.hash
    elif img.readable(addr_index(addr), addr_level(addr)):
        h = seahash(img.read(addr_index(addr), addr_level(addr)))
    img.set_ptr(ref, addr, h)
    img.seal(above)


def cmd_set_marker(args):
    """Set a directory's h-tree marker to the given depth (0..15)."""
    img = Image(args.image)
    node, _ = img.lookup(args.dir)
    if node.depth() < 0:
        raise CraftError("%s is empty: no marker" % args.dir)
    struct.pack_into("<QQ", node.raw, INLINE_OFF, MARKER | (args.depth & 0xF), MASK64)
    node.save()


def compressed_record(node, r):
    recs = [x for x in node.records() if addr_decomp(x[1])]
    if r is None:
        if not recs:
            raise CraftError("node %d has no compressed record" % node.node_id)
        return recs[0][0]
    return r


def cmd_set_comp_len(args):
    """Set the u16 length prefix of a compressed record (spec 9.5) and re-seal.

    VALUE may be a number, 'zero', or 'big' (two bytes more than the stored block holds).
    """
    img = Image(args.image)
    node, _ = img.lookup(args.path)
    r = compressed_record(node, args.record)
    chain = node.record_chain(r)
    addr, _ = img.get_ptr(chain[-1])
    if not addr_decomp(addr):
        raise CraftError("record %d is not compressed" % r)
    stored = BLOCK << addr_level(addr)
    value = {"zero": 0, "big": min(stored - 1, 0xFFFF)}.get(args.value)
    value = parse_int(args.value) if value is None else value
    data = img.read(addr_index(addr), addr_level(addr))
    struct.pack_into("<H", data, 0, value)
    img.write(addr_index(addr), data)
    img.seal(chain)
    print(r)


def cmd_scramble_record(args):
    """Overwrite the LZ4 stream of a compressed record with bytes that do not decode."""
    img = Image(args.image)
    node, _ = img.lookup(args.path)
    r = compressed_record(node, args.record)
    chain = node.record_chain(r)
    addr, _ = img.get_ptr(chain[-1])
    data = img.read(addr_index(addr), addr_level(addr))
    comp_len = struct.unpack_from("<H", data, 0)[0]
    # A token asking for a 15+255-byte literal run and then a match at offset 0xFFFF:
    # both reach far outside the input and output buffers.
    junk = bytes([0xFF, 0xFF]) + bytes([0xFF]) * 8 + bytes([0xFF, 0xFF])
    data[2:2 + comp_len] = (junk * (comp_len // len(junk) + 1))[:comp_len]
    img.write(addr_index(addr), data)
    img.seal(chain)
    print(r)


def cmd_alloc_entry(args):
    """Rewrite entry K of the newest AllocList (index, count) and re-seal the header."""
    img = Image(args.image)
    ref = Ref(None, 64)
    blk = img.target(ref, "allocation log")
    b = img.read(blk)
    if not 0 <= args.entry < ALLOC_ENTRIES:
        raise CraftError("entry must be 0..254")
    struct.pack_into("<Qq", b, 16 + 16 * args.entry, args.index, args.count)
    img.write(blk, b)
    img.seal([ref])


def cmd_set_header(args):
    """Set header fields (size, generation) and re-seal the header in its slot."""
    img = Image(args.image)
    for item in args.assignments:
        name, _, value = item.partition("=")
        off = {"size": 32, "generation": 40, "version": 8}.get(name)
        if off is None:
            raise CraftError("unknown header field %r" % name)
        struct.pack_into("<Q", img.hdr, off, parse_int(value))
    img.write_header()


def build_parser():
    p = argparse.ArgumentParser(
        prog="rxcraft.py", description=__doc__.split("\n\n")[0],
        epilog="Paths name entries inside the image (/dir/file); symlinks are not followed.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    def add(name, fn, help_text):
        sp = sub.add_parser(name, help=help_text, description=(fn.__doc__ or help_text))
        sp.set_defaults(fn=fn)
        return sp

    add("selftest", cmd_selftest, "check SeaHash against the spec's test vectors")
    sp = add("verify", cmd_verify, "check every hash that can be checked (exit 1 on a mismatch)")
    sp.add_argument("image")
    sp = add("read", cmd_read, "walk the whole image strictly, verify it, print every path (exit 1 on a problem)")
    sp.add_argument("image")
    sp = add("compare-intact", cmd_compare_intact,
             "compare `read` listings before/after a repair against its JSON report")
    sp.add_argument("before")
    sp.add_argument("after")
    sp.add_argument("report")
    sp = add("where", cmd_where, "print a block index: node, dirlist[:N], htree, record:N, l0")
    sp.add_argument("image")
    sp.add_argument("path", help="/path, or 'tree' / 'alloc' for the header's pointers")
    sp.add_argument("what", nargs="?", default="node")
    sp = add("show", cmd_show, "describe a node (debugging)")
    sp.add_argument("image")
    sp.add_argument("path")

    sp = add("flip", cmd_flip, "flip one byte of a block, without re-sealing")
    sp.add_argument("image")
    sp.add_argument("block", type=parse_int)
    sp.add_argument("offset", type=parse_int)
    sp = add("zero-ring", cmd_zero_ring, "zero the 256 header slots")
    sp.add_argument("image")
    sp = add("truncate", cmd_truncate, "cut the image file to BYTES")
    sp.add_argument("image")
    sp.add_argument("bytes", type=parse_int)

    sp = add("rename", cmd_rename, "rename a directory entry (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("path")
    sp.add_argument("newname", help="new name; may be empty, contain '/', \\xNN escapes")
    sp = add("set-entry-id", cmd_set_entry_id, "make an entry name a raw node id (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("path")
    sp.add_argument("id", type=parse_int)
    sp = add("tree-zero", cmd_tree_zero, "make the reserved node id 0 name a node too (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("path")
    sp = add("retarget", cmd_retarget, "make an entry name another path's node (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("path")
    sp.add_argument("target")
    sp = add("add-entry", cmd_add_entry, "add an entry naming an existing node (re-sealed)")
    sp.add_argument("--first", action="store_true", help="put it before the existing entries")
    sp.add_argument("image")
    sp.add_argument("dir")
    sp.add_argument("name")
    sp.add_argument("target")
    sp = add("dirlist-header", cmd_dirlist_header, "overwrite a DirList's count/used (re-sealed)")
    sp.add_argument("--list", type=int, default=0)
    sp.add_argument("--count", type=parse_int)
    sp.add_argument("--used", type=parse_int)
    sp.add_argument("image")
    sp.add_argument("dir")
    sp = add("set-symlink", cmd_set_symlink, "change an inline symlink's target (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("path")
    sp.add_argument("target")
    sp = add("set-node", cmd_set_node, "set node fields FIELD=VALUE (re-sealed)")
    sp.add_argument("--zero-data", action="store_true", help="clear the inline/level-data area")
    sp.add_argument("image")
    sp.add_argument("path")
    sp.add_argument("assignments", nargs="+", metavar="FIELD=VALUE",
                    help="fields: type, %s" % ", ".join(NODE_FIELDS))
    sp = add("set-ptr", cmd_set_ptr, "rewrite a pointer's address (re-sealed)")
    sp.add_argument("--index", type=parse_int)
    sp.add_argument("--level", type=parse_int)
    sp.add_argument("--decomp", type=parse_int)
    sp.add_argument("--addr", type=parse_int, help="the raw 64-bit address")
    sp.add_argument("--hash", type=parse_int, help="store this hash instead of recomputing it")
    sp.add_argument("image")
    sp.add_argument("path", help="/path (ignored for tree/alloc/release)")
    sp.add_argument("which", help="node, dir, marker, slot:S, record:N, htree:K, tree, alloc, release")
    sp = add("set-marker", cmd_set_marker, "set a directory's h-tree marker depth (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("dir")
    sp.add_argument("depth", type=parse_int)
    sp = add("set-comp-len", cmd_set_comp_len, "set a compressed record's length prefix (re-sealed)")
    sp.add_argument("--record", type=int, help="record index (default: the first compressed one)")
    sp.add_argument("image")
    sp.add_argument("path")
    sp.add_argument("value", help="number, 'zero' or 'big'")
    sp = add("scramble-record", cmd_scramble_record, "make a compressed record undecodable (re-sealed)")
    sp.add_argument("--record", type=int)
    sp.add_argument("image")
    sp.add_argument("path")
    sp = add("alloc-entry", cmd_alloc_entry, "rewrite an allocation-log entry (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("entry", type=int)
    sp.add_argument("index", type=parse_int)
    sp.add_argument("count", type=parse_int)
    sp = add("set-header", cmd_set_header, "set header fields size/generation (re-sealed)")
    sp.add_argument("image")
    sp.add_argument("assignments", nargs="+", metavar="FIELD=VALUE")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
        for img in Image.opened:
            img.close()
    except (CraftError, OSError) as e:
        print("rxcraft: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
