#!/usr/bin/env bash
# CI step: the two-task study's smoke DAG runs once locally and once through profiles/slurm on
# a single-node SLURM cluster on this machine (scripts/slurm_localhost.sh); every metrics.json
# of the SLURM run must equal the local run's (same jobs, same seeds, CPU). Each run works in
# its own git worktree of HEAD; the daemons and worktrees are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

target=results/smoke/continual_2task/summary.md
study=results/smoke/continual_2task
work=$(mktemp -d)
cleanup() {
  scripts/slurm_localhost.sh stop || true
  for run in local slurm; do git worktree remove --force "$work/$run" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

scripts/slurm_localhost.sh start
for run in local slurm; do git worktree add --quiet --detach "$work/$run" HEAD; done

start=$(date +%s)
(cd "$work/local" && snakemake --quiet --cores 2 --config scale=smoke -- "$target") > "$work/local.log" 2>&1 \
  || { tail -40 "$work/local.log"; exit 1; }
echo "local run: $(( $(date +%s) - start )) s"

start=$(date +%s)
(cd "$work/slurm" && timeout -s KILL 600 snakemake --quiet --profile profiles/slurm --config scale=smoke \
   --default-resources slurm_partition=local mem_mb=2000 runtime=30 --slurm-no-account \
   --slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 2 -- "$target") \
  > "$work/slurm.log" 2>&1 || { tail -40 "$work/slurm.log"; exit 1; }
echo "SLURM run: $(( $(date +%s) - start )) s"

python - "$work/local/$study" "$work/slurm/$study" <<'EOF'
"""Every metrics.json of the SLURM run equals the local run's, and both ran the same jobs."""
import json
import sys
from pathlib import Path

local, slurm = (Path(p) for p in sys.argv[1:])
names = sorted(str(p.relative_to(local)) for p in local.rglob("metrics.json"))
assert names, f"the local run wrote no metrics.json under {local}"
assert names == sorted(str(p.relative_to(slurm)) for p in slurm.rglob("metrics.json")), "different jobs ran"
differ = [n for n in names if json.loads((local / n).read_text()) != json.loads((slurm / n).read_text())]
assert not differ, f"metrics differ between the local and the SLURM run: {differ}"
print(f"{len(names)} metrics.json identical between the local and the SLURM run")
EOF
