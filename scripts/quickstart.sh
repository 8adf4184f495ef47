#!/bin/sh
# Install the build dependencies, build rximg, and look inside a sample image.
set -e
cd "$(dirname "$0")/.."
scripts/install-deps.sh
./bootstrap >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q
make -j"$(nproc)" -s
zstd -q -d -f ../tests/data/misc-tree.img.zst -o sample.img
zstd -q -d -f ../tests/data/initfs-bootstrap.img.zst -o sample-initfs.img
set -x
./rximg info sample.img
./rximg ls -l sample.img:/
./rximg cat sample.img:/hello.txt
./rximg check sample.img
./rximg extract -q sample.img sample-tree
{ set +x; } 2>/dev/null
echo "rximg is built in $(pwd); the sample image is sample.img, extracted to sample-tree/;"
echo "sample-initfs.img is an initfs archive. README.md's tour goes on from here."
