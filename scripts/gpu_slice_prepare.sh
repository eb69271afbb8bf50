#!/usr/bin/env bash
# Prepare device-data/ (git-ignored) for one slice (fipbench/slices.py) on a lent GPU:
#   bash scripts/gpu_slice_prepare.sh [--no-wheels] [EARLIER_SLICE_OUT]
# - device-data/wheels: envs/gpu-slice-wheels.txt as wheels for the GPU machine's Python 3.12
#   (skipped with --no-wheels, as on a machine that has them);
# - device-data/mirror: the CIFAR-10 mirror file ($FIPBENCH_DATA_MIRROR) in pieces of at
#   most 30 MiB, and SHA256SUMS: a device call carries at most 64 MiB with the working tree,
#   so the pieces travel in separate calls to the same warm machine;
# - device-data/state: EARLIER_SLICE_OUT (the folder an earlier slice wrote), when given.
# Then it prints the calls to make. scripts/gpu_slice.sh is what runs there.
set -euo pipefail
wheels=1
if [ "${1:-}" = "--no-wheels" ]; then wheels=0; shift; fi
earlier="${1:-}"
: "${FIPBENCH_DATA_MIRROR:?set FIPBENCH_DATA_MIRROR to the data mirror (README: Data)}"
rm -rf device-data && mkdir -p device-data/mirror
if [ "$wheels" = 1 ]; then
  grep -v '^#' envs/gpu-slice-wheels.txt | while read -r spec; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform any -d device-data/wheels "$spec" 2>/dev/null \
      || python3 -m pip wheel -q --no-deps -w device-data/wheels "$spec"  # a pure-Python sdist
  done
fi
cp "$FIPBENCH_DATA_MIRROR/SHA256SUMS" device-data/mirror/
split -b 30M -d -a 2 "$FIPBENCH_DATA_MIRROR/cifar10-jpeg.zip" device-data/mirror/cifar10-jpeg.zip.part
if [ -n "$earlier" ]; then cp -r "$earlier" device-data/state; fi
pieces=$(cd device-data/mirror && ls cifar10-jpeg.zip.part*)
echo "device-data: $(du -sh device-data | cut -f1); the working tree: $(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1) bytes"
echo "calls, one after the other on the same warm machine (each carries one piece):"
last=$(echo "$pieces" | tail -1)
for piece in $(echo "$pieces" | head -n -1); do echo "  carry [device-data/mirror/$piece]: true"; done
echo "  carry [device-data/mirror/$last, device-data/mirror/SHA256SUMS, device-data/wheels, device-data/state]:"
echo "    bash scripts/gpu_slice.sh NAME"
