#!/usr/bin/env bash
# The GPU check: the whole smoke DAG with device=cuda, the claims check, and the FIP step
# cost on CUDA. Run from the repository root on a machine with a GPU, torch installed and
# resources/smoke/*.pt prepared (the data rule needs the mirror, which may not be there):
#   OUT=gpu-out bash benchmarks/gpu_smoke.sh
# Not yet seen to finish: its one try (an H200, 2026-11-27) printed nvidia-smi's line and
# nothing more within 480 s, so each step below now prints a timestamp and the torch check
# has its own time limit, to show where a next try stalls.
set -euo pipefail
out="${OUT:-gpu-out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
date -u +"%T torch check" | tee -a "$out/gpu.txt"
timeout 120 python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$out/gpu.txt"
date -u +"%T smoke DAG" | tee -a "$out/gpu.txt"
start=$(date +%s)
python -m snakemake --cores 8 --config scale=smoke device=cuda > "$out/smoke_dag.log" 2>&1 || { tail -50 "$out/smoke_dag.log"; exit 1; }
echo "smoke DAG on the GPU: $(( $(date +%s) - start )) s wall" | tee -a "$out/gpu.txt"
python -m fipbench.cli check --scale smoke > "$out/claims_smoke_gpu.md" || true
date -u +"%T step cost" | tee -a "$out/gpu.txt"
python benchmarks/fip_step_cost.py --device cuda --repeats 200 --out "$out/fip_step_cost_cuda.json" | tee -a "$out/gpu.txt"
tar czf "$out/results_smoke_gpu.tgz" results/smoke logs/smoke
