# Configuration, resolved and validated before any job runs, and shared names.
import json
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))

from fipbench.config import load  # noqa: E402

CFG = load(config)  # raises ConfigError naming the key: the workflow stops before any job
SCALE = CFG["scale"]
RESULTS = f"results/{SCALE}"
CFG_JSON = json.dumps(CFG, sort_keys=True)


def job_config(*sections):
    """JSON of the config sections a job depends on (with scale, device, threads and data),
    passed to the job as its overrides: a change elsewhere in the config does not make
    Snakemake rerun it."""
    keys = ("scale", "device", "threads", "data", *sections)
    return json.dumps({key: CFG[key] for key in keys}, sort_keys=True)
GPU = 1 if SCALE == "paper" else 0  # resource request for the SLURM profile
CLI = "python -m fipbench.cli --config {params.cfg:q}"
