"""Sparsification (Fig. 3): FIP against the lottery ticket hypothesis, one-shot magnitude
pruning and random sparse networks, from one trained dense network per seed.

FIP walks one path from the dense network through the target sparsities in increasing
order: for each target p it minimises d(w, w_dense) on training inputs + beta(t) *
|w - P_p(w)|^2, with beta growing geometrically over the segment so that the path ends on
the p-sparse set, then projects exactly onto it, evaluates, and walks on from there. The
walk keeps the network in eval mode: the reference outputs were computed in eval mode, and
with batch norm in training mode the distance would start far from zero and pull the
weights toward making batch statistics mimic running ones (docs/sweeps/resnet_fip_bn_mode.py).

Every method's result per target records test and validation accuracy of the exactly
sparse network, the sparsity counted in its weights (overall and per layer), and the
optimiser steps spent to get there (the wall time goes to provenance.json's timings). FIP,
one-shot and random networks are also reported after the same masked fine-tuning budget,
apart from the numbers without it."""

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from baselines import lth, oneshot, random_sparse
from fipbench import models
from fipbench.analysis import weight_pca
from fipbench.data.vision import load_splits, to_input
from fipbench.fip import OutputDistance, SparseProjectionObjective, SparsifyWalk, fip_loss
from fipbench.precision import job_precision
from fipbench.pruning import distance_to_sparse, masked_update, measured_sparsity, project, prunable
from fipbench.records import level_key
from fipbench.results import Job, start_job
from fipbench.train import (RecipeTraining, accuracy, epoch_steps, predict, run_steps, save_atomically, sgd_update,
                            train_on_task, train_part, with_fresh_batch_norm)
from fipbench.workflow import lth_part_levels, part_count

STUDY = "sparsity"


def load_task(settings: dict, data_dir: Path, device: torch.device) -> tuple[dict, dict]:
    """({split: (x uint8, y)} on device, data source for provenance) of a network's dataset,
    the training split cut to its first settings["train_images"] images when that is set."""
    task, source = load_splits(Path(data_dir) / f"{settings['dataset']}.pt", device)
    task["train"] = tuple(t[:settings["train_images"]] for t in task["train"])
    return task, {settings["dataset"]: source}


def refreshed(model, task: dict, settings: dict):
    """model with batch-norm statistics re-estimated on the first 2,000 training images,
    augmented as the network's recipe (settings["train"]) augments its batches
    (fipbench.train.with_fresh_batch_norm), so that a pruned or projected network is not
    judged with its dense statistics."""
    return with_fresh_batch_norm(model, task["train"][0][:2000], settings["train"].get("augment", False))


def evaluate(model, task: dict, settings: dict) -> dict:
    """Validation and test accuracy (%) of model in eval mode (batch norm re-estimated
    first, as `refreshed` does for the network of settings)."""
    model = refreshed(model, task, settings)
    return {f"{split}_accuracy": accuracy(predict(model, task[split][0]), task[split][1])
            for split in ("val", "test")}


def train(model, task: dict, sgd: dict, n_steps: int, generator: torch.Generator, masks=None,
          desc: str = "train") -> int:
    """n_steps of SGD on the task's training split (masked when masks are given); returns n_steps."""
    update = None if masks is None else (lambda optimizer: masked_update(optimizer, model, masks))
    return train_on_task(model, task, sgd, n_steps, generator, update, desc)


def train_dense(cfg: dict, network: str, seed: int, data_dir: Path, work: Path, out_dir: Path,
                threads: int, part: int | None = None) -> None:
    """Train the dense network, or part `part` of its training when the recipe splits it
    (train.part_epochs: one job per part, each resumed from the state the one before saved
    under work/). The last part saves work/{rewind,model}.pt (the iterate LTH rewinds to
    and the trained network) and writes its metrics to out_dir."""
    settings = cfg[STUDY][network]
    device = start_job(cfg, seed, threads)
    task, sources = load_task(settings, data_dir, device)
    sgd, parts = settings["train"], part_count(settings["train"])
    part = parts - 1 if part is None else part
    model = models.build(network).to(device)
    training = RecipeTraining(model, task, sgd, epoch_steps(task, sgd), torch.Generator().manual_seed(seed))
    if part < parts - 1:
        with job_precision(cfg, device):
            train_part(training, part, parts, work, settings["lth"]["rewind_step"], desc=f"{network} dense seed{seed}")
        return
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        carried = train_part(training, part, parts, work, settings["lth"]["rewind_step"],
                             desc=f"{network} dense seed{seed}")
        job.steps = training.n_steps
        job.timings["parts_seconds"] = carried["seconds"]
        work.mkdir(parents=True, exist_ok=True)
        torch.save(carried["kept"], work / "rewind.pt")
        torch.save(model.state_dict(), work / "model.pt")
        job.finish({**evaluate(model, task, settings), "parameters": sum(p.numel() for p in model.parameters()),
                    "prunable_weights": sum(w.numel() for w in prunable(model).values())})


def flat_prunable(model) -> torch.Tensor:
    """The prunable weights of model as one vector [P] on the CPU (for the weight-space PCA)."""
    return torch.cat([w.detach().reshape(-1) for w in prunable(model).values()]).cpu()


def fip_path(dense, task: dict, settings: dict, targets: list[float], generator: torch.Generator,
             finetuned) -> tuple[dict, list, list]:
    """Walk the FIP from dense through the targets; returns ({target: result}, curve,
    [(label, weight vector)] of the path for the PCA)."""
    fip = SparsifyWalk.of(settings["fip"])
    model = copy.deepcopy(dense)
    distance = OutputDistance(dense, to_input(task["train"][0]), fip.distance)
    curve_x, curve_y = (t[:settings["curve_test_size"]] for t in task["test"])
    found, curve, snapshots, steps, seconds = {}, [], [("dense", flat_prunable(dense))], 0, 0.0
    for target in targets:
        def record(net):
            snapshots.append(("path", flat_prunable(net)))
            return {"test_accuracy": accuracy(predict(refreshed(net, task, settings), curve_x), curve_y),
                    "distance_to_sparse": distance_to_sparse(net, target)}

        start = time.time()
        loss_fn = fip_loss(distance, SparseProjectionObjective(target), fip.beta_at, fip.probe_batch, generator)
        optimizer = torch.optim.SGD(model.parameters(), lr=fip.lr, momentum=fip.momentum)
        segment = run_steps(model, fip.steps, loss_fn, sgd_update(optimizer), record, settings["fip"]["record_every"],
                            desc=f"fip to {target} %", train_mode=False)
        remaining = distance_to_sparse(model, target)
        masks = project(model, target)
        seconds += time.time() - start
        curve += [{**entry, "step": steps + entry["step"], "target": target} for entry in segment]
        steps += fip.steps
        snapshots.append((f"fip {target:g} %", flat_prunable(model)))
        found[target] = {**evaluate(model, task, settings), **measured_sparsity(model),
                         "distance_to_sparse_before_projection": remaining, "steps": steps,
                         "wall_seconds": round(seconds, 3), "finetuned": finetuned(model, masks)}
        print(f"fip {target} %: {found[target]['sparsity']:.2f} % zeros, test {found[target]['test_accuracy']:.2f} %,"
              f" relative distance to the sparse set before projection {remaining:.2e}", flush=True)
    return found, curve, snapshots


@dataclass
class SparsifyStart:
    """What a sparsification method gets: the trained dense network (eval mode, not to be
    changed), the folder of its checkpoints (model.pt, rewind.pt), the task, the network's
    settings, the targets (%, increasing), the job's generator, finetuned(model, masks)
    -> the result of the study's shared masked fine-tuning of a copy of model, and, for LTH
    in parts (lth.levels_per_part), the levels this job runs and the file of the part before."""
    dense: torch.nn.Module
    base_dir: Path
    task: dict
    settings: dict
    targets: list[float]
    generator: torch.Generator
    finetuned: Callable
    lth_levels: range | None = None
    lth_previous: Path | None = None


def _fip(start: SparsifyStart) -> tuple[dict, dict, int]:
    """One FIP path through the targets, and the weight-space PCA of its snapshots beside
    random sparse networks at settings["pca_sparsity"]."""
    settings = start.settings
    found, curve, snapshots = fip_path(start.dense, start.task, settings, start.targets, start.generator,
                                       start.finetuned)
    randoms = [flat_prunable(random_sparse.sample(start.dense, settings["pca_sparsity"], start.generator)[0])
               for _ in range(settings["random_samples"])]
    pca = {"sparsity": settings["pca_sparsity"], **weight_pca(snapshots + [("random", vector) for vector in randoms])}
    return found, {"curve": curve, "pca": pca}, found[start.targets[-1]]["steps"]


def _lth_levels(start: SparsifyStart) -> dict:
    """LTH's levels start.lth_levels (all without it) from the part before (start.lth_previous),
    retraining each level with the dense network's SGD settings for lth.epochs epochs; returns
    iterative_magnitude_pruning's state with the generator's, for the part after."""
    settings, task, schedule = start.settings, start.task, start.settings["lth"]
    per_level = epoch_steps(task, {**settings["train"], "epochs": schedule["epochs"]})
    device = next(start.dense.parameters()).device
    carried = torch.load(start.lth_previous, map_location=device) if start.lth_previous else None
    if carried:
        start.generator.set_state(carried["generator"])
    state = lth.iterative_magnitude_pruning(
        start.dense, torch.load(start.base_dir / "rewind.pt", map_location=device), start.targets,
        schedule["fraction"],
        lambda model, masks: train(model, task, settings["train"], per_level, start.generator, masks, "lth level"),
        lambda model: evaluate(model, task, settings), start.lth_levels, carried)
    return {**state, "generator": start.generator.get_state(), "steps_per_level": per_level}


def _lth(start: SparsifyStart) -> tuple[dict, dict, int]:
    """Iterative magnitude pruning with rewinding (baselines/lth.py), its last part when it
    runs in parts."""
    state = _lth_levels(start)
    found = state["found"]
    extra = {"levels_run": state["level"], "steps_per_level": state["steps_per_level"]}
    return found, extra, found[start.targets[-1]]["steps"]


def _oneshot(start: SparsifyStart) -> tuple[dict, dict, int]:
    """One-shot global magnitude pruning at each target (baselines/oneshot.py)."""
    found = {}
    for target in start.targets:
        model, masks = oneshot.prune_once(start.dense, target)
        found[target] = {**evaluate(model, start.task, start.settings), **measured_sparsity(model), "steps": 0,
                         "wall_seconds": 0.0, "finetuned": start.finetuned(model, masks)}
    return found, {}, 0


def _random(start: SparsifyStart) -> tuple[dict, dict, int]:
    """settings["random_samples"] random sparse networks at each target (baselines/random_sparse.py),
    scored on average; the first of them fine-tuned."""
    found = {}
    for target in start.targets:
        samples = [random_sparse.sample(start.dense, target, start.generator)
                   for _ in range(start.settings["random_samples"])]
        scores = [evaluate(model, start.task, start.settings) for model, _ in samples]
        found[target] = {**{k: sum(s[k] for s in scores) / len(scores) for k in scores[0]},
                         "samples": scores, **measured_sparsity(samples[0][0]), "steps": 0,
                         "wall_seconds": 0.0, "finetuned": start.finetuned(*samples[0])}
    return found, {}, 0


# method -> function of a SparsifyStart giving ({target: result}, extra metrics, optimiser steps
# to the last target, fine-tuning not counted)
METHODS = {"fip": _fip, "lth": _lth, "oneshot": _oneshot, "random": _random}


def sparsify(cfg: dict, network: str, method: str, seed: int, data_dir: Path, base_dir: Path,
             out_dir: Path, threads: int, lth_work: Path | None = None, part: int | None = None) -> None:
    """Make the dense network of base_dir (model.pt, rewind.pt) sparse at every target with
    METHODS[method]; write {"levels": {level_key(p): result}, ...} to out_dir. LTH split into
    parts (lth.levels_per_part): a part but the last saves its state to lth_work/part<part>.pt
    and writes no metrics; the last goes on from the part before's."""
    if method not in METHODS:
        raise ValueError(f"unknown sparsity method {method!r}; known: {', '.join(METHODS)}")
    settings = cfg[STUDY][network]
    device = start_job(cfg, seed, threads)
    task, sources = load_task(settings, data_dir, device)
    generator = torch.Generator().manual_seed(seed)
    targets = sorted(settings["sparsities"])
    dense = models.build(network).to(device)
    dense.load_state_dict(torch.load(Path(base_dir) / "model.pt", map_location=device))
    dense.eval()
    lth_run, lth_previous = None, None
    if method == "lth":
        lth_run, parts = lth_part_levels(settings, part)
        part = parts - 1 if part is None else part
        if parts > 1 and lth_work is None:
            raise ValueError(f"LTH of {network} runs in {parts} parts (lth.levels_per_part): pass --work, "
                             "the folder of its parts")
        lth_previous = Path(lth_work) / f"part{part - 1}.pt" if part > 0 else None
        if part < parts - 1:
            with job_precision(cfg, device):
                state = _lth_levels(SparsifyStart(dense, Path(base_dir), task, settings, targets, generator, None,
                                                  lth_run, lth_previous))
            save_atomically(state, Path(lth_work) / f"part{part}.pt")
            return
    tune = settings["finetune"]
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        def finetuned(model, masks) -> dict:
            tuned, start = copy.deepcopy(model), time.time()
            job.steps += train(tuned, task, tune, tune["steps"], generator, masks, desc="fine-tune")
            return {**evaluate(tuned, task, settings), "sparsity": measured_sparsity(tuned)["sparsity"],
                    "steps": tune["steps"], "wall_seconds": round(time.time() - start, 3)}

        found, extra, steps = METHODS[method](SparsifyStart(dense, Path(base_dir), task, settings, targets, generator,
                                                            finetuned, lth_run, lth_previous))
        job.steps += steps
        job.timings = {"to_sparsity_seconds": {level_key(p): found[p].pop("wall_seconds") for p in targets},
                       "finetune_seconds": {level_key(p): found[p]["finetuned"].pop("wall_seconds")
                                            for p in targets if "finetuned" in found[p]}}
        job.finish({"method": method, "network": network, "targets": targets, "layers": list(prunable(dense)),
                    "finetune_steps": tune["steps"], "dense": evaluate(dense, task, settings),
                    "levels": {level_key(p): found[p] for p in targets}, **extra})
