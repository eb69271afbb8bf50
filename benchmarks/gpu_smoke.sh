#!/usr/bin/env bash
# The GPU check: the whole smoke DAG with device=cuda, the claims check, and the FIP step
# cost on CUDA. Run from the repository root on a machine with a GPU, with `python` holding
# torch and the requirements, and resources/smoke/*.pt prepared (the data rule needs the
# mirror, which may not be there):
#   OUT=gpu-out bash benchmarks/gpu_smoke.sh
# Every step streams its output and has its own time limit, so a stall shows where it is.
set -uo pipefail
out="${OUT:-gpu-out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
stamp() { date -u +"%T $*" | tee -a "$out/gpu.txt"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$out/gpu.txt"
stamp "imports"
timeout 120 python -c "import torch, avalanche, snakemake, fipbench; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$out/gpu.txt" || exit 1

stamp "smoke DAG"
start=$(date +%s)
timeout "${DAG_LIMIT_S:-300}" python -m snakemake --cores 8 --rerun-triggers mtime --config scale=smoke device=cuda 2>&1 | tee "$out/smoke_dag.log"
dag_rc=$?
echo "smoke DAG on the GPU: rc $dag_rc, $(( $(date +%s) - start )) s wall" | tee -a "$out/gpu.txt"
tar czf "$out/results_smoke_gpu.tgz" results/smoke logs/smoke 2>/dev/null
[ "$dag_rc" -eq 0 ] || exit 1
python -m fipbench.cli check --scale smoke > "$out/claims_smoke_gpu.md"
echo "claims check rc $?" | tee -a "$out/gpu.txt"

stamp "step cost"
timeout 120 python benchmarks/fip_step_cost.py --device cuda --repeats 200 --out "$out/fip_step_cost_cuda.json" 2>&1 | tee -a "$out/gpu.txt"
stamp "done"
