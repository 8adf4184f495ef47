#!/bin/sh
# Partition tables are read by rximg itself: on GPT and MBR disks made by
# sgdisk and sfdisk, damaged ones included, `rximg info --json` shows the
# same table, numbers, offsets, types, names and UUIDs as libblkid (partx).
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
for tool in partx blkid sgdisk sfdisk; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "1..0 # SKIP $tool is not installed (Debian: util-linux, gdisk, fdisk)"
		exit 0
	fi
done

# same_as_blkid NAME IMG: rximg's table equals what libblkid reports.
same_as_blkid() {
	"$R" info --json "$2" >"$WORK/$1.json" 2>"$WORK/$1.err" || true
	partx -g -b -P -o NR,START,SECTORS,TYPE,NAME,UUID "$2" >"$WORK/$1.partx" 2>/dev/null || true
	blkid -p -o export "$2" >"$WORK/$1.blkid" 2>/dev/null || true
	$PY - "$WORK/$1.json" "$WORK/$1.partx" "$WORK/$1.blkid" <<'EOF'
import json, shlex, sys
d = json.load(open(sys.argv[1]))['partition_table']
want = []
for line in open(sys.argv[2]):
    f = dict(kv.split('=', 1) for kv in shlex.split(line))
    # partx escapes non-ASCII bytes as \xNN and prints MBR types as 0x5.
    name = f['NAME'].encode('latin-1', 'backslashreplace').decode('unicode_escape').encode('latin-1').decode('utf-8')
    t = f['TYPE'] if not f['TYPE'].startswith('0x') else '0x%02x' % int(f['TYPE'], 16)
    want.append({'number': int(f['NR']), 'start': int(f['START']) * 512, 'size': int(f['SECTORS']) * 512,
                 'type': t, 'name': name, 'uuid': f['UUID']})
b = dict(l.strip().split('=', 1) for l in open(sys.argv[3]) if '=' in l)
got = [{k: (int(p[k]) if k in ('start', 'size') else p[k]) for k in ('number', 'start', 'size', 'type', 'name', 'uuid')} for p in d['partitions']]
# A protective MBR without a valid GPT is no table (blkid -p still names it).
pttype = None if b.get('PTTYPE') == 'PMBR' else b.get('PTTYPE')
ok = (d['type'] or None) == pttype and (d['id'] or None) == b.get('PTUUID') and got == want
if not ok:
    print('rximg:', d['type'], d['id'], got)
    print('blkid:', b.get('PTTYPE'), b.get('PTUUID'), want)
sys.exit(0 if ok else 1)
EOF
}

img=$WORK/gpt.img
truncate -s 64M "$img"
sgdisk -o -n1:2048:+1M -c1:'BIOS boot' -t1:ef02 -n2:0:+10M -c2:'ESP é☃ 𝄞' -t2:ef00 \
	-n4:0:+20M -c4:REDOX "$img" >/dev/null
ok "GPT with a gap in the numbers and a UTF-16 name" same_as_blkid gpt "$img"

cp "$img" "$WORK/gpt-primary.img"
printf 'XXXX' | dd of="$WORK/gpt-primary.img" bs=1 seek=520 conv=notrunc 2>/dev/null
ok "GPT with a damaged primary header: the backup" same_as_blkid gpt-primary "$WORK/gpt-primary.img"

cp "$WORK/gpt-primary.img" "$WORK/gpt-both.img"
printf 'XXXX' | dd of="$WORK/gpt-both.img" bs=1 seek=$((64 * 1024 * 1024 - 512 + 8)) conv=notrunc 2>/dev/null
ok "GPT with both headers damaged: no table" same_as_blkid gpt-both "$WORK/gpt-both.img"

cp "$img" "$WORK/gpt-entries.img"
printf 'X' | dd of="$WORK/gpt-entries.img" bs=1 seek=$((1024 + 200)) conv=notrunc 2>/dev/null
ok "GPT with damaged primary entries: the backup" same_as_blkid gpt-entries "$WORK/gpt-entries.img"

cp "$img" "$WORK/hybrid.img"
sgdisk -h 2 "$WORK/hybrid.img" >/dev/null
ok "hybrid MBR: the GPT wins" same_as_blkid hybrid "$WORK/hybrid.img"

mbr=$WORK/mbr.img
truncate -s 64M "$mbr"
printf 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=8192, type=83, bootable\nstart=10240, size=40000, type=5\nstart=12288, size=4096, type=83\nstart=18432, size=8192, type=ef\n' |
	sfdisk -q "$mbr" >/dev/null
ok "MBR with an extended partition and logical ones" same_as_blkid mbr "$mbr"

truncate -s 8M "$WORK/mbr0.img"
printf 'label: dos\nlabel-id: 0x0\n,4096,83\n,,c\n' | sfdisk -q "$WORK/mbr0.img" >/dev/null
ok "MBR without a disk id" same_as_blkid mbr0 "$WORK/mbr0.img"

head -c $((8 * 1024 * 1024)) "$mbr" >"$WORK/mbr-short.img"
ok "MBR image cut short: its partitions are clipped to the image" sh -c \
	"'$R' info --json '$WORK/mbr-short.img' | $PY -c \"import json,sys; d=json.load(sys.stdin)['partition_table']; p=d['partitions']; assert d['type']=='dos' and int(p[1]['start'])+int(p[1]['size'])==8*1024*1024, d\""

cp "$mbr" "$WORK/mbr-bad.img"
printf '\001' | dd of="$WORK/mbr-bad.img" bs=1 seek=446 conv=notrunc 2>/dev/null
ok "a boot sector with a bad boot flag is no table" same_as_blkid mbr-bad "$WORK/mbr-bad.img"

truncate -s 4M "$WORK/none.img"
ok "no table at all" same_as_blkid none "$WORK/none.img"

if command -v qemu-img >/dev/null 2>&1; then
	qemu-img convert -O qcow2 "$img" "$WORK/gpt.qcow2"
	"$R" info --json "$img" | $PY -c "import json,sys; print(json.dumps(json.load(sys.stdin)['partition_table']))" >"$WORK/raw.pt"
	ok "a qcow2 shows the GPT of its disk" sh -c "'$R' info --json '$WORK/gpt.qcow2' | \
		$PY -c \"import json,sys; print(json.dumps(json.load(sys.stdin)['partition_table']))\" | cmp - '$WORK/raw.pt'"
else
	skip "a qcow2 shows the GPT of its disk" "qemu-img is not installed"
fi

# libblkid, when built in, only adds the names of other filesystems in info.
truncate -s 8M "$WORK/esp.img"
sgdisk -o -n 1:2048:6143 -t 1:EF00 "$WORK/esp.img" >/dev/null 2>&1
mkfs.fat --offset 2048 "$WORK/esp.img" 2048 >/dev/null 2>&1
if grep -q '^#define HAVE_BLKID 1' "$top_builddir/config.h"; then
	ok "with libblkid, info names the FAT filesystem of the ESP" sh -c \
		"'$R' info '$WORK/esp.img' | grep -q '^  p1 .*type EFI system .*, filesystem vfat\$' &&
		 '$R' info --json '$WORK/esp.img' | $PY -c \"import json,sys; assert json.load(sys.stdin)['partition_table']['partitions'][0]['filesystem'] == 'vfat'\""
else
	ok "without libblkid, info lists the ESP with no filesystem name" sh -c \
		"'$R' info '$WORK/esp.img' | grep -q '^  p1 .*type EFI system' && ! '$R' info '$WORK/esp.img' | grep -q filesystem &&
		 '$R' info --json '$WORK/esp.img' | $PY -c \"import json,sys; assert json.load(sys.stdin)['partition_table']['partitions'][0]['filesystem'] is None\""
fi

done_testing
