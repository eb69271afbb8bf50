"""The results contract: one folder per job with metrics.json and provenance.json, written
atomically, plus the provenance every result carries (commit, config, data, timing)."""

import hashlib
import platform
import random
import subprocess
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from fipbench import REPO_ROOT
from fipbench.config import config_hash
from fipbench.precision import autocast, resolve_precision
from fipbench.records import json_bytes, write_bytes_atomic, write_json_atomic

PACKAGES = ["torch", "torchvision", "avalanche-lib", "numpy", "snakemake", "pandas"]


def git_state() -> dict:
    """{"commit": sha or None, "dirty": bool or None} of the repository this code runs from;
    dirty means tracked files outside results/ differ from the commit."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
    try:
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed)}
    except (subprocess.CalledProcessError, FileNotFoundError):
        return {"commit": None, "dirty": None}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_job(cfg: dict, seed: int, threads: int) -> torch.device:
    """What every job does first: its torch threads set, Python, NumPy and torch seeded
    from seed; returns the device cfg["device"] names (resolve_device)."""
    device = resolve_device(cfg["device"])
    torch.set_num_threads(threads)
    seed_everything(seed)
    return device


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device=cuda but torch sees no CUDA device")
    return torch.device(name)


class Job:
    """Context of one results folder: times the job, runs its body in the job's precision
    (cfg["precision"], resolved for device: bf16 autocast or fp32) and writes its results on
    success.

    with Job(folder, cfg, seed, device, threads, data_sources) as job:
        ...; job.steps += n; job.finish(metrics)
    Entering removes the folder's metrics.json and provenance.json of an earlier run, and
    nothing is written when the body raises, so a failed or interrupted job leaves neither.
    provenance.json records the sha256 of the metrics.json written with it (`outputs`), so
    that `fipbench check` finds a number edited afterwards.
    Wall times of a job's phases go to job.timings (provenance), never into the metrics,
    so that the same job twice writes identical metrics."""

    def __init__(self, folder: Path, cfg: dict, seed: int, device: torch.device, threads: int,
                 data_sources: dict):
        self.folder, self.cfg, self.seed = Path(folder), cfg, seed
        self.device, self.threads, self.data_sources = device, threads, data_sources
        self.steps = 0
        self.timings = {}
        self.precision = resolve_precision(cfg["precision"], device)
        self._autocast = autocast(self.precision, device)

    def __enter__(self):
        self.start_wall, self.start = time.time(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.git = git_state()  # the code this job runs: a commit made while it runs is not it
        for stale in ("metrics.json", "provenance.json"):
            (self.folder / stale).unlink(missing_ok=True)
        self._autocast.__enter__()
        return self

    def __exit__(self, *exc):
        self._autocast.__exit__(*exc)
        return False

    def finish(self, metrics: dict) -> None:
        """Write provenance.json, then metrics.json (the file Snakemake takes as done)."""
        metrics_bytes = json_bytes(metrics)
        provenance = {
            **self.git,
            "config": self.cfg,
            "config_hash": config_hash(self.cfg),
            "scale": self.cfg["scale"],
            "seed": self.seed,
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else platform.processor() or platform.machine(),
            "threads": self.threads,
            "precision": self.precision,
            "python": platform.python_version(),
            "packages": {name: _version(name) for name in PACKAGES},
            "data": self.data_sources,
            "start": self.start,
            "end": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_seconds": round(time.time() - self.start_wall, 3),
            "optimizer_steps": self.steps,
            "timings": self.timings,
            "outputs": {"metrics.json": hashlib.sha256(metrics_bytes).hexdigest()},
        }
        write_json_atomic(self.folder / "provenance.json", provenance)
        write_bytes_atomic(self.folder / "metrics.json", metrics_bytes)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
