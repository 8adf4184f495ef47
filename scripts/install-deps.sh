#!/bin/sh
# Install what rximg needs to build and test on Debian (12 or newer).
set -e
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config ca-certificates \
	libblkid-dev liblz4-dev zlib1g-dev libssl-dev libfuse3-dev fuse3 libedit-dev libargon2-dev \
	zstd python3 qemu-utils qemu-system-arm qemu-efi-aarch64 gdisk fdisk zsh bash-completion dosfstools mtools groff-base man-db strace \
	time clang libclang-rt-dev valgrind >/dev/null
# npm fetches zig (the macOS cross-compiler of scripts/cross-macos.sh).
command -v npm >/dev/null 2>&1 || $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
