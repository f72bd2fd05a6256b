#!/usr/bin/env bash
# make gpu-wheels: the wheels `make gpu-check` needs that the lent GPU machine lacks (KINDS.md's
# package list: it has numpy 2, scipy, pytest, onnx, a CPU-only onnxruntime, no rasterio or pyproj),
# for CPython 3.12 on manylinux x86-64, packed into one tar and split into parts that each travel
# with the repository in one device call (64 MiB a call in all). docs/gpu-check/README.md has the calls.
set -euo pipefail
DEST=${1:-build/gpu-wheels}
PART_SIZE=45M
LIMIT_MIB=64
WHEELS=(onnxruntime-gpu==1.31.1 rasterio==1.5.2 pyproj==3.8.0 affine==3.0.1 cligj==0.7.2 click-plugins==1.1.1.2)

rm -rf "$DEST" && mkdir -p "$DEST/whl" "$DEST/parts"
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$DEST/whl" "${WHEELS[@]}" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
tar -C "$DEST" -cf "$DEST/wheels.tar" whl
split -b "$PART_SIZE" -d -a 2 "$DEST/wheels.tar" "$DEST/parts/wheels.tar.part"
(cd "$DEST" && sha256sum wheels.tar > wheels.tar.sha256 && rm wheels.tar)

# What travels with every call: tracked files and untracked ones git does not ignore.
repo=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | sort -zu | du -cb --files0-from=- | tail -1 | cut -f1)
largest=$(stat -c %s "$DEST"/parts/* | sort -n | tail -1)
ls -l "$DEST"/whl "$DEST"/parts
printf 'repository that travels: %.1f MiB; largest part: %.1f MiB; together: %.1f MiB of %d\n' \
  "$(echo "$repo/1048576" | bc -l)" "$(echo "$largest/1048576" | bc -l)" "$(echo "($repo+$largest)/1048576" | bc -l)" "$LIMIT_MIB"
if (( repo + largest > LIMIT_MIB * 1048576 )); then
  echo "gpu-wheels: a part and the repository exceed $LIMIT_MIB MiB: lower PART_SIZE" >&2
  exit 1
fi
