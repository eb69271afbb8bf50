"""Slices: named units of a scale's workflow, each run with one command on one machine (a
lent GPU for the paper scale's robustness trials and ResNet-20's lottery tickets, the CPU
at smoke scale in CI), through the workflow's own rules. A slice names its Snakemake
targets, the files it needs from what ran before it (state in) and the files it hands on
(state out). `fipbench slice` checks its state in is there (or takes it from the folder an
earlier slice wrote), runs the targets, and writes the results, the state out and a
manifest (slice.json: size and sha256 of every file in and out, wall seconds, commit) to
one folder, from which the next slice takes its state in; so the chain goes on from any
point, on the same machine or another.

- robustness-trial<k>: every ensemble method's trial k, built and attacked. Trial 0 also
  trains the surrogate and pool network 0, calibrates the attack and crafts the transfer
  set, which it hands on; a later trial takes them in, with any pool network it starts
  from that an earlier trial trained.
- lth-<network>-seed<s>-part<p>: part p of LTH's levels (lth.levels_per_part) from the
  dense network (trained on the CPU, taken in) and the part before."""

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from baselines.deepnet import members_of_trial
from fipbench.data.mirror import sha256
from fipbench.layout import sparsity_seeds
from fipbench.results import git_state
from fipbench.workflow import lth_part_levels


@dataclass(frozen=True)
class Slice:
    """Snakemake targets, the prepared data they read, and the files (relative to the
    repository) a slice takes in and hands on; state_in maps each file it takes in to the
    slice or workflow target that makes it."""
    name: str
    targets: tuple[str, ...]
    data: tuple[str, ...]
    state_in: dict[str, str] = field(default_factory=dict)
    state_out: tuple[str, ...] = ()


def _job_files(folder: str) -> tuple[str, str]:
    """The files of one job's results folder."""
    return f"{folder}/metrics.json", f"{folder}/provenance.json"


def _robustness(cfg: dict) -> list[Slice]:
    """One slice per trial k (the most any method has): each method with a trial k built and
    attacked. Trial 0 also makes what every trial shares (surrogate, calibration, transfer
    set) and hands it on, with the pool networks it trains that a later trial starts from."""
    scale, rb = cfg["scale"], cfg["robustness"]
    results, work = f"results/{scale}/robustness", f"work/{scale}/robustness"
    surrogate = rb["surrogate_seed"]
    calibration, transfer = f"{results}/calibration/seed0", f"{results}/transfer/seed{surrogate}"
    shared = (f"{work}/network/seed{surrogate}/model.pt", f"{work}/transfer/transfer.pt",
              *_job_files(calibration), *_job_files(transfer))
    network = f"{work}/network/seed{{}}/model.pt"
    pool, trials = list(range(rb["pool"])), range(max(rb["trials"].values()))
    methods = {trial: [m for m in rb["methods"] if rb["trials"][m] > trial] for trial in trials}
    trained, taken = {}, {trial: [] for trial in trials}  # pool network -> the trial that trains it; what a trial takes
    for trial in trials:
        needs = {trial} | (set(members_of_trial(pool, rb["members"], trial)) if "deepnet" in methods[trial] else set())
        needs |= {0} if trial == 0 else set()  # the attack is calibrated on pool network 0
        taken[trial] = sorted(seed for seed in needs if seed in trained)
        for seed in needs:
            trained.setdefault(seed, trial)
    found = []
    for trial in trials:
        targets = tuple(f"{results}/{method}/seed{trial}/metrics.json" for method in methods[trial])
        handed = tuple(network.format(seed) for later in trials for seed in taken[later] if trained[seed] == trial)
        if trial == 0:
            targets += (f"{calibration}/metrics.json", f"{transfer}/metrics.json")
            state_in, handed = {}, shared + handed
        else:
            state_in = {**dict.fromkeys(shared, "robustness-trial0"),
                        **{network.format(seed): f"robustness-trial{trained[seed]}" for seed in taken[trial]}}
        found.append(Slice(f"robustness-trial{trial}", targets, (f"resources/{scale}/{rb['dataset']}.pt",), state_in,
                           tuple(dict.fromkeys(handed))))
    return found


def _lth(cfg: dict) -> list[Slice]:
    """One slice per part of LTH's levels, per seed of each network the study runs whose
    lth.levels_per_part is set; the dense network (the workflow's, on the CPU) is taken in
    by every part."""
    scale, found = cfg["scale"], []
    for network in cfg["sparsity"]["networks"]:
        settings = cfg["sparsity"][network]
        if not settings["lth"].get("levels_per_part") or "lth" not in cfg["sparsity"]["methods"]:
            continue
        parts = lth_part_levels(settings)[1]
        for seed in sparsity_seeds(cfg, network):
            dense_results = f"results/{scale}/sparsity/{network}/dense/seed{seed}"
            dense_work = f"work/{scale}/sparsity/{network}/dense/seed{seed}"
            dense = (*_job_files(dense_results), f"{dense_work}/model.pt", f"{dense_work}/rewind.pt")
            lth_work = f"work/{scale}/sparsity/{network}/lth/seed{seed}"
            for part in range(parts):
                name = f"lth-{network}-seed{seed}-part{part}"
                state_in = dict.fromkeys(dense, f"the workflow's {dense_results}/metrics.json")
                if part:
                    state_in[f"{lth_work}/part{part - 1}.pt"] = f"lth-{network}-seed{seed}-part{part - 1}"
                last = part == parts - 1
                target = f"results/{scale}/sparsity/{network}/lth/seed{seed}/metrics.json" if last \
                    else f"{lth_work}/part{part}.pt"
                found.append(Slice(name, (target,), (f"resources/{scale}/{settings['dataset']}.pt",), state_in,
                                   () if last else (target,)))
    return found


def slices(cfg: dict) -> dict[str, Slice]:
    """Every slice of cfg's scale, by name, in the order they chain."""
    return {piece.name: piece for piece in _robustness(cfg) + _lth(cfg)}


def _manifest(paths, root: Path) -> dict:
    return {path: {"bytes": (root / path).stat().st_size, "sha256": sha256(root / path)} for path in paths}


def take_state(piece: Slice, state_from: Path | None, repo: Path) -> None:
    """Put piece's state in under repo: each file missing there is copied from state_from
    (an earlier slice's output folder: state/<path>, checked against its slice.json). Raises
    FileNotFoundError naming every file still missing and what makes it."""
    handed = json.loads((state_from / "slice.json").read_text())["state_out"] if state_from else {}
    for path in piece.state_in:
        if (repo / path).exists() or path not in handed:
            continue
        source = state_from / "state" / path
        if sha256(source) != handed[path]["sha256"]:
            raise ValueError(f"{source} does not match the sha256 its slice.json records")
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, repo / path)
    missing = [f"{path} (made by {maker})" for path, maker in piece.state_in.items() if not (repo / path).exists()]
    if missing:
        raise FileNotFoundError(f"slice {piece.name} needs " + "; ".join(missing)
                                + ": run that first, or pass --state-from the folder it wrote")


def run_slice(cfg: dict, name: str, out: Path, cores: int, state_from: Path | None = None,
              repo: Path = Path(".")) -> dict:
    """Run slice `name` of cfg's scale in repo and write out/results/<scale>/... (its results
    folders), out/state/<path> and out/slice.json; returns the manifest.

    Snakemake reruns a job whose input is newer than its output, whatever its rerun
    triggers, and on a new machine the data is prepared after the state was made, and files
    checked out of git are newer than files carried in. So the data is prepared first and
    dated 1970 (it is a fixed function of the checksummed mirror), every file of the state in
    is given one modification time, now, and then the targets run (greedy scheduler: the ILP
    one needs pulp, which a GPU machine may lack)."""
    known = slices(cfg)
    if name not in known:
        raise KeyError(f"no slice {name!r} at scale {cfg['scale']}; there are: {', '.join(known)}")
    piece, began = known[name], time.time()
    take_state(piece, state_from, repo)
    overrides = [f"scale={cfg['scale']}", f"device={cfg['device']}", f"precision={cfg['precision']}"]
    snakemake = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--scheduler", "greedy", "--rerun-triggers",
                 "code", "params", "software-env", "input", "--config", *overrides, "--"]
    subprocess.run(snakemake + list(piece.data), cwd=repo, check=True)
    for path in piece.data:
        os.utime(repo / path, (0, 0))
    now = time.time()
    for path in piece.state_in:
        os.utime(repo / path, (now, now))
    print(f"slice {name}: {' '.join(snakemake[1:] + list(piece.targets))}", flush=True)
    subprocess.run(snakemake + list(piece.targets), cwd=repo, check=True)
    results = sorted({str(Path(target).parent / file) for target in piece.targets if target.startswith("results/")
                      for file in ("metrics.json", "provenance.json")})
    for path, copy in [(path, out / path) for path in results] + [(path, out / "state" / path)
                                                                   for path in piece.state_out]:
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / path, copy)
    manifest = {"slice": name, "scale": cfg["scale"], **git_state(), "targets": list(piece.targets),
                "state_in": _manifest(piece.state_in, repo), "state_out": _manifest(piece.state_out, repo),
                "results": results, "wall_seconds": round(time.time() - began, 1)}
    (out / "slice.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"slice {name}: done in {manifest['wall_seconds']} s; results, state and slice.json in {out}", flush=True)
    return manifest
