# Configuration, resolved and validated before any job runs, and shared names. Jobs run
# `python -m fipbench.cli` from the repository root, so they import this checkout's code.
import json
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)

from fipbench.config import load, sparsity_seeds  # noqa: E402
from fipbench.studies.bert_paths import all_paths  # noqa: E402
from fipbench.workflow import (bert_start, job_config, network_config, part_count, release_stale_locks,  # noqa: E402
                                tune_grid)

CFG = load(config)  # raises ConfigError naming the key: the workflow stops before any job
if workflow.is_main_process and (stale := release_stale_locks(os.getcwd())):
    print(f"fipbench: removed {len(stale)} stale Snakemake lock(s) (no Snakemake runs in this folder; "
          "a run killed mid-way leaves them)", file=sys.stderr)
SCALE = CFG["scale"]
RESULTS = f"results/{SCALE}"
CFG_JSON = json.dumps(CFG, sort_keys=True)
GPU = 1 if SCALE == "paper" else 0  # resource request for the SLURM profile
