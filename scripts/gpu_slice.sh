#!/usr/bin/env bash
# Run one slice (fipbench/slices.py) where device-data/ was carried (scripts/gpu_slice_prepare.sh
# made it): on a lent GPU, from the repository root,
#   OUT=... bash scripts/gpu_slice.sh NAME [SCALE]       (SCALE: paper unless given)
# installs the carried wheels, puts the mirror's pieces together (the data rule checks the
# file against SHA256SUMS), takes the state in from device-data/state when an earlier slice's
# folder is there, runs the slice on every core and writes its folder (results, the state it
# hands on, slice.json) to $OUT/slice, its log to $OUT/slice.log and the jobs' logs to
# $OUT/logs.tgz. SLICE_LIMIT_S (default 450) stops it in time to bring back what it wrote.
set -uo pipefail
name="$1"; scale="${2:-paper}"; out="${OUT:-slice-out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if ls device-data/wheels/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site device-data/wheels/*.whl \
    || exit 1
  export PYTHONPATH="/tmp/site:$PWD" PATH="/tmp/site/bin:$PATH"
fi
for first in device-data/mirror/*.part00; do
  [ -e "$first" ] || continue
  whole="${first%.part00}"
  cat "$whole".part* > "$whole" && rm "$whole".part*
done
export FIPBENCH_DATA_MIRROR="$PWD/device-data/mirror"
state=()
if [ -f device-data/state/slice.json ]; then state=(--state-from device-data/state); fi
start=$(date +%s)
timeout "${SLICE_LIMIT_S:-450}" python3 -m fipbench.cli --config "{\"scale\": \"$scale\"}" slice --name "$name" \
  --out "$out/slice" --cores "$(nproc)" "${state[@]}" 2>&1 | tee "$out/slice.log"
rc=${PIPESTATUS[0]}
echo "slice $name: rc $rc, $(( $(date +%s) - start )) s wall" | tee -a "$out/slice.log"
tar czf "$out/logs.tgz" "logs/$scale" 2>/dev/null
exit "$rc"
