"""Adversarial robustness of ensembles (Fig. 4): FIP ensembles against DeepNet ensembles,
fast geometric ensembling (FGE) and ADP, under PGD on CIFAR-10.

Jobs: `train_network` trains one VGG (the DeepNet pool, the FIP and FGE starting points,
and the surrogate are all such networks, told apart by seed); `build_ensemble` makes the
members of one method's trial; `calibrate_attack` finds the strength at which one network
falls to the paper's accuracy under transfer; `transfer_set` crafts PGD images on the
surrogate at every epsilon and that one; `evaluate_ensemble` scores members and ensemble
on clean, transfer and white-box adversarial images and computes the analyses (coherence
with the surrogate, per-layer representation diversity, weight-space PCA, per-image
scores).

Every member's batch-norm statistics are re-estimated on the first `bn_images` training
images, cropped and flipped when the recipe augments, before it is used (FIP and FGE move
weights under the training statistics)."""

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from baselines import adp, deepnet, fge
from fipbench import models
from fipbench.analysis import cka, coherence, layer_grams, representation_diversity, weight_pca
from fipbench.data.vision import load_splits, to_input
from fipbench.ensemble import Ensemble, perturbation_size, pgd
from fipbench.fip import EnsembleWalk, OutputDistance, walk_cycles
from fipbench.layout import seed_folder
from fipbench.precision import job_precision
from fipbench.records import write_json_atomic
from fipbench.results import Job, start_job
from fipbench.train import (RecipeTraining, accuracy, epoch_steps, flat_parameters, predict,
                            recipe_optimizer, recipe_stream, run_steps, save_atomically, scheduled, sgd_update,
                            train_part, with_fresh_batch_norm)
from fipbench.workflow import part_count, reach_part_count

STUDY = "robustness"


def epsilon_key(epsilon: float) -> str:
    """Key of an attack strength in metrics: 8 (in 1/255) -> "eps8"."""
    return f"eps{epsilon:g}".replace(".", "_")


def build_network(settings: dict, device: torch.device):
    return models.build(settings["network"], width=settings["width"]).to(device)


def load_state(settings: dict, state: dict, device: torch.device):
    """The study's network with the parameters and buffers of state, in eval mode."""
    model = build_network(settings, device)
    model.load_state_dict(state)
    return model.eval()


def load_network(settings: dict, path: Path, device: torch.device):
    return load_state(settings, torch.load(path, map_location=device), device)


def setup(cfg: dict, seed: int, data_dir: Path, threads: int) -> tuple[dict, torch.device, dict, dict]:
    """(settings, device, task {split: (x, y)}, data sources) of a robustness job."""
    settings = cfg[STUDY]
    device = start_job(cfg, seed, threads)
    task, source = load_splits(Path(data_dir) / f"{settings['dataset']}.pt", device)
    return settings, device, task, {settings["dataset"]: source}


def refreshed(model, task: dict, settings: dict):
    """model with batch-norm statistics re-estimated on the first settings["bn_images"]
    training images, augmented as the study's recipe (settings["train"]) augments its batches."""
    return with_fresh_batch_norm(model, task["train"][0][:settings["bn_images"]], settings["train"].get("augment", False))


def clean_accuracy(model, task: dict) -> dict:
    return {f"{split}_accuracy": accuracy(predict(model, task[split][0]), task[split][1]) for split in ("val", "test")}


def train_network(cfg: dict, seed: int, data_dir: Path, work: Path, out_dir: Path, threads: int,
                  part: int | None = None) -> None:
    """Train one network from scratch with seed, or part `part` of its training when the
    recipe splits it (train.part_epochs: one job per part, resumed from work/); the last
    part saves work/model.pt and writes its accuracy."""
    settings, device, task, sources = setup(cfg, seed, data_dir, threads)
    sgd = settings["train"]
    parts = part_count(sgd)
    part = parts - 1 if part is None else part
    model = build_network(settings, device)
    training = RecipeTraining(model, task, sgd, epoch_steps(task, sgd), torch.Generator().manual_seed(seed))
    if part < parts - 1:
        with job_precision(cfg, device):
            train_part(training, part, parts, work, desc=f"{settings['network']} seed{seed}")
        return
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        job.timings["parts_seconds"] = train_part(training, part, parts, work,
                                                  desc=f"{settings['network']} seed{seed}")["seconds"]
        job.steps = training.n_steps
        work.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), work / "model.pt")
        job.finish({**clean_accuracy(model, task), "parameters": sum(p.numel() for p in model.parameters())})


@dataclass
class EnsembleStart:
    """What an ensemble builder gets for one trial: the study's settings, the task, the
    folder of the trained pool (seed<k>/model.pt), the device, the trial's generator, the
    trial's index, the number of members, the pool's seeds, the transfer images
    ({epsilon_key: float images}; FIP's reach is scored on them) and the job's work folder
    (where FIP's reach keeps its progress)."""
    settings: dict
    task: dict
    networks: Path
    device: torch.device
    generator: torch.Generator
    trial: int
    size: int
    pool: list[int]
    transfer: dict | None = None
    work: Path | None = None


def _deepnet(start: EnsembleStart) -> tuple[list[dict], dict, int]:
    """Networks of the pool trained independently (baselines/deepnet.py picks which);
    the steps are what training them cost."""
    seeds = deepnet.members_of_trial(start.pool, start.size, start.trial)
    states = [torch.load(seed_folder(start.networks, seed=s) / "model.pt", map_location=start.device) for s in seeds]
    return states, {"pool_seeds": seeds}, start.size * epoch_steps(start.task, start.settings["train"])


def _base_of_trial(start: EnsembleStart) -> tuple[torch.nn.Module, int]:
    base_seed = start.pool[start.trial % len(start.pool)]
    network = load_network(start.settings, seed_folder(start.networks, seed=base_seed) / "model.pt", start.device)
    return network, base_seed


def evenly_along(lengths: list[float], count: int) -> list[int]:
    """Indices of `count` points of a path, in order, each nearest to i / count of its whole
    length (i = 1..count) among those left: the last is the path's end. lengths: the
    cumulative path length of each point, increasing; at least count of them."""
    if len(lengths) < count:
        raise ValueError(f"{count} members asked of a path of {len(lengths)} points")
    chosen, low = [], 0
    for i in range(1, count + 1):
        target = i / count * lengths[-1]
        index = min(range(low, len(lengths) - (count - i)), key=lambda j: abs(lengths[j] - target))
        chosen.append(index)
        low = index + 1
    return chosen


class ReachPoint:
    """What a point of the reach walk is scored by, against the start network: the
    walker's validation accuracy (%) and its transfer-attack accuracy (%) at the headline
    epsilon, both with batch-norm statistics re-estimated as every member's are, its
    distance from the start relative to |w_start|, and its early-layer diversity from the
    start (1 - linear CKA, mean over the first `early_layers` ReLUs; the start's statistics
    re-estimated too, so that the walk's point 0 scores 0). Keeps each point's
    softmax outputs [N, C] on the transfer images for the ensembles along the path."""

    early_layers = 6

    def __init__(self, start, task: dict, settings: dict, transfer: dict):
        self.task, self.settings = task, settings
        self.images = task["test"][0][:settings["analysis"]["diversity_images"]]
        self.inputs = transfer[epsilon_key(settings["attack"]["headline_epsilon"])]
        self.labels = attack_images(task, settings)[1]
        self.origin = flat_parameters(start)
        self.start_grams = layer_grams(refreshed(start, task, settings), self.images, first=self.early_layers)
        self.probabilities = []

    def score(self, walker, cycle: int, path_length: float) -> dict:
        model = refreshed(walker, self.task, self.settings)
        probabilities = torch.softmax(logits(model, self.inputs), 1)
        self.probabilities.append(probabilities)
        grams = layer_grams(model, self.images, first=self.early_layers)
        origin_norm = self.origin.norm().item()
        return {"cycle": cycle, "path_length": path_length / origin_norm,
                "weight_distance": (flat_parameters(model) - self.origin).norm().item() / origin_norm,
                "val_accuracy": accuracy(predict(model, self.task["val"][0]), self.task["val"][1]),
                "transfer_accuracy": accuracy(probabilities, self.labels),
                "early_diversity": 1 - sum(cka(a, b) for a, b in zip(self.start_grams, grams)) / len(grams)}

    def ensemble_accuracy(self, points: list[int]) -> float:
        """Transfer accuracy (%) of the ensemble of the scored points at these indices."""
        return accuracy(torch.stack([self.probabilities[i] for i in points]).mean(0), self.labels)


class ReachProgress:
    """The reach walk's progress, saved to work/reach.pt after every scored point (each
    point's weights once, to work/reach_point<cycle>.pt) so that a job cut off goes on
    from its last point, on the same path; ignored when made with other settings or from
    another start network or transfer set (told apart by the sums of their numbers),
    removed when the walk is done."""

    def __init__(self, work: Path | None, settings: dict, start, transfer_images: torch.Tensor):
        self.work = work
        self.settings = json.dumps({**{key: settings[key] for key in ("fip", "members", "bn_images", "attack", "analysis")},
                                    "start": flat_parameters(start).double().sum().item(),
                                    "transfer": transfer_images.double().sum().item()}, sort_keys=True)

    def load(self, device: torch.device) -> dict | None:
        path = self.work / "reach.pt" if self.work else None
        if path is None or not path.exists():
            return None
        saved = torch.load(path, map_location=device, weights_only=False)
        if saved["settings"] != self.settings:
            return None
        saved["states"] = [torch.load(self.work / f"reach_point{c}.pt", map_location=device) for c in saved["kept"]]
        return saved

    def save(self, progress: dict, walker_state: dict) -> None:
        if self.work is None:
            return
        self.work.mkdir(parents=True, exist_ok=True)
        cycle = progress["cycles"][-1]["cycle"]
        torch.save(walker_state, self.work / f"reach_point{cycle}.pt")
        save_atomically({**{k: v for k, v in progress.items() if k != "states"}, "settings": self.settings,
                         "walker": walker_state}, self.work / "reach.pt")

    def remove(self) -> None:
        for path in ([self.work / "reach.pt", *self.work.glob("reach_point*.pt")] if self.work else []):
            path.unlink(missing_ok=True)


def walk_reach(start: EnsembleStart, until: int | None = None) -> tuple[dict, ReachPoint, ReachProgress, int]:
    """The FIP walk (L = 0) from one network of the pool, scored every reach.record_every
    cycles (ReachPoint), going on until a point's validation accuracy is
    reach.accuracy_drop points below the start's, or for reach.max_cycles cycles, and for
    at least `members` points; or, given `until`, stopping at that cycle if it comes first.
    Resumes from its ReachProgress in start.work. Returns (progress: points, cycles,
    states, length, stopped, ...; the scorer; the progress saver; the start's seed)."""
    base, base_seed = _base_of_trial(start)
    block = start.settings["fip"]
    reach, walk = block["reach"], EnsembleWalk.of(block)
    probes = to_input(start.task["train"][0][:block["probe_images"]])
    scorer = ReachPoint(base, start.task, start.settings, start.transfer)
    saving = ReachProgress(start.work, start.settings, base, scorer.inputs)
    progress = saving.load(start.device)
    if progress is None:
        progress = {"points": [scorer.score(base, 0, 0.0)], "cycles": [], "kept": [], "states": [], "length": 0.0,
                    "stopped": "max_cycles", "probabilities": scorer.probabilities}
        after = None
    else:
        scorer.probabilities = progress["probabilities"]
        start.generator.set_state(progress["generator"])
        after = (progress["cycles"][-1]["cycle"], progress["walker"])
        print(f"reach resumed after cycle {after[0]}", flush=True)
    points, states, cycles = progress["points"], progress["states"], progress["cycles"]
    walked = walk_cycles(base, OutputDistance(base, probes, block["distance"]), walk, start.generator, after)
    while not ((progress["stopped"] == "accuracy_drop" or len(cycles) >= reach["max_cycles"])
               and len(states) >= start.size) and (until is None or len(cycles) < until):
        record = next(walked)
        walker = record.pop("walker")
        cycles.append(record)
        progress["length"] += record["step_length"]
        if record["cycle"] % reach["record_every"] == 0:
            points.append(scorer.score(walker, record["cycle"], progress["length"]))
            states.append(copy.deepcopy(walker.state_dict()))
            progress["kept"].append(record["cycle"])
            print(f"reach point {len(states)}: {points[-1]}", flush=True)
            if points[-1]["val_accuracy"] <= points[0]["val_accuracy"] - reach["accuracy_drop"]:
                progress["stopped"] = "accuracy_drop"
            saving.save({**progress, "generator": start.generator.get_state()}, states[-1])
    return progress, scorer, saving, base_seed


def _fip(start: EnsembleStart) -> tuple[list[dict], dict, int]:
    """Members spread evenly over the whole reach of a FIP walk (walk_reach); every point
    also scores the ensemble of members spread evenly over the path up to it."""
    progress, scorer, saving, base_seed = walk_reach(start)
    points, states, cycles = progress["points"], progress["states"], progress["cycles"]
    lengths = [point["path_length"] for point in points[1:]]
    for k, point in enumerate(points[1:], start=1):
        along = evenly_along(lengths[:k], min(start.size, k))
        point["ensemble_transfer_accuracy"] = scorer.ensemble_accuracy([i + 1 for i in along])
    chosen = evenly_along(lengths, start.size)
    extra = {"base_seed": base_seed, "cycles": cycles,
             "reach": {**start.settings["fip"]["reach"], "stopped": progress["stopped"], "points": points,
                       "member_cycles": [points[i + 1]["cycle"] for i in chosen]}}
    saving.remove()
    return [states[i] for i in chosen], extra, len(cycles) * EnsembleWalk.of(start.settings["fip"]).descent_steps


def _fge(start: EnsembleStart) -> tuple[list[dict], dict, int]:
    """Fast geometric ensembling (baselines/fge.py) from one network of the pool."""
    base, base_seed = _base_of_trial(start)
    cycle = start.settings["fge"]
    cycle_steps = epoch_steps(start.task, {"batch_size": cycle["batch_size"], "epochs": cycle["cycle_epochs"]})
    stream = recipe_stream(start.task, {**start.settings["train"], "batch_size": cycle["batch_size"]}, start.generator)
    states = fge.collect(base, stream, start.size, cycle_steps, cycle)
    return states, {"base_seed": base_seed}, start.size * cycle_steps - (cycle_steps - cycle_steps // 2)


def _adp(start: EnsembleStart) -> tuple[list[dict], dict, int]:
    """Members trained jointly with the adaptive diversity promoting loss (baselines/adp.py)."""
    joint = adp.Jointly([build_network(start.settings, start.device) for _ in range(start.size)])
    sgd, weights = start.settings["train"], start.settings["adp"]
    optimizer = recipe_optimizer(joint.parameters(), sgd)
    steps = epoch_steps(start.task, sgd)
    run_steps(joint, steps, adp.adp_objective(recipe_stream(start.task, sgd, start.generator),
                                               weights["alpha"], weights["beta"]),
              scheduled(sgd_update(optimizer), optimizer, sgd, steps), desc=f"adp trial{start.trial}")
    return [member.state_dict() for member in joint.members], {}, steps


# method -> function of an EnsembleStart giving (members' state_dicts, extra metrics, optimiser steps)
METHODS = {"fip": _fip, "deepnet": _deepnet, "fge": _fge, "adp": _adp}


def build_ensemble(cfg: dict, method: str, trial: int, data_dir: Path, networks: Path, work: Path,
                   out_dir: Path, threads: int, reach_transfer: Path | None = None, part: int | None = None) -> None:
    """Make the members of trial `trial` of METHODS[method] (seeded by trial) and save them
    to work/members.pt. networks: the folder holding seed<k>/model.pt of the trained pool;
    reach_transfer: the transfer job's transfer.pt (needed by fip). part: for fip, whose
    walk fip.reach.cycles_per_part splits into jobs, a part but the last walks on to the end
    of its cycles (or the walk's end) and writes work/reach_part<part>.json; the last part
    (the default) finishes the walk and makes the members."""
    if method not in METHODS:
        raise ValueError(f"unknown ensemble method {method!r}; known: {', '.join(METHODS)}")
    if method == "fip" and reach_transfer is None:
        raise ValueError("the fip ensemble scores its reach on the transfer images: pass --transfer")
    settings, device, task, sources = setup(cfg, trial, data_dir, threads)
    parts = reach_part_count(settings["fip"]["reach"]) if method == "fip" else 1
    part = parts - 1 if part is None else part
    transfer = torch.load(reach_transfer, map_location=device) if reach_transfer else None
    start_of_trial = EnsembleStart(settings, task, Path(networks), device, torch.Generator().manual_seed(trial), trial,
                                   settings["members"], list(range(settings["pool"])), transfer, Path(work))
    if part < parts - 1:
        with job_precision(cfg, device):
            progress = walk_reach(start_of_trial, until=(part + 1) * settings["fip"]["reach"]["cycles_per_part"])[0]
        write_json_atomic(Path(work) / f"reach_part{part}.json",
                          {"cycles": len(progress["cycles"]), "points": len(progress["points"]),
                           "stopped": progress["stopped"]})
        return
    with Job(out_dir, cfg, trial, device, threads, sources) as job:
        start = time.time()
        states, extra, job.steps = METHODS[method](start_of_trial)
        members = [refreshed(load_state(settings, state, device), task, settings) for state in states]
        job.timings = {"construction_seconds": round(time.time() - start, 3)}
        work.mkdir(parents=True, exist_ok=True)
        torch.save([member.state_dict() for member in members], work / "members.pt")
        ensemble = Ensemble(members).eval()
        job.finish({"method": method, "trial": trial, "members": start_of_trial.size, **extra,
                    "member_test_accuracy": [accuracy(predict(m, task["test"][0]), task["test"][1]) for m in members],
                    "ensemble": clean_accuracy(ensemble, task)})


def attack_images(task: dict, settings: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs float [N, 3, 32, 32] in [0, 1], labels [N]) of the first attack.test_images test images."""
    n = settings["attack"]["test_images"]
    return to_input(task["test"][0][:n]), task["test"][1][:n]


def crossing(epsilons: list[float], accuracies: list[float], target: float) -> float | None:
    """The epsilon at which accuracy (%) falls to target, interpolated linearly between the
    first two consecutive swept epsilons (increasing) whose accuracies bracket it; None when
    none do."""
    for (e0, a0), (e1, a1) in zip(zip(epsilons, accuracies), zip(epsilons[1:], accuracies[1:])):
        if a0 >= target >= a1 and a0 > a1:
            return e0 + (a0 - target) / (a0 - a1) * (e1 - e0)
    return None


def calibrate_attack(cfg: dict, data_dir: Path, surrogate: Path, single: Path, out_dir: Path, threads: int) -> None:
    """The transfer attack's strength at which one trained network (single: pool network
    0's model.pt) scores calibration.target_accuracy (%), the paper's single VGG16 on its
    adversarial images: PGD images crafted on the surrogate at each swept epsilon (1/255)
    from the first calibration.images test images; metrics: the sweep and the
    interpolated "epsilon" (None when the sweep does not bracket the target)."""
    settings, device, task, sources = setup(cfg, 0, data_dir, threads)
    attack, sweep = settings["attack"], settings["calibration"]
    with Job(out_dir, cfg, 0, device, threads, sources) as job:
        crafter, network = load_network(settings, surrogate, device), load_network(settings, single, device)
        inputs, labels = to_input(task["test"][0][:sweep["images"]]), task["test"][1][:sweep["images"]]
        found = []
        for epsilon in sweep["epsilons"]:
            crafted = pgd(crafter, inputs, labels, attack, epsilon / 255, seed=0)
            found.append(accuracy(logits(network, crafted), labels))
            job.steps += attack["steps"] * attack["restarts"]
            print(f"epsilon {epsilon}/255: single network {found[-1]:.2f} %", flush=True)
        job.finish({"target_accuracy": sweep["target_accuracy"], "images": len(labels),
                    "clean_accuracy": accuracy(logits(network, inputs), labels),
                    "sweep": [{"epsilon": e, "single_accuracy": a} for e, a in zip(sweep["epsilons"], found)],
                    "epsilon": crossing(sweep["epsilons"], found, sweep["target_accuracy"])})


def transfer_set(cfg: dict, data_dir: Path, surrogate: Path, calibration: Path, work: Path, out_dir: Path,
                 threads: int) -> None:
    """PGD images crafted on the surrogate at every epsilon, and at the calibrated one
    (calibration: the calibration job's metrics.json; key "calibrated", when it found one)
    -> work/transfer.pt ({key: float images}); metrics: the surrogate's accuracy on them."""
    seed = cfg[STUDY]["surrogate_seed"]
    settings, device, task, sources = setup(cfg, seed, data_dir, threads)
    attack = settings["attack"]
    strengths = {epsilon_key(epsilon): epsilon for epsilon in attack["epsilons"]}
    calibrated = json.loads(Path(calibration).read_text())["epsilon"]
    if calibrated is not None:
        strengths["calibrated"] = calibrated
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = load_network(settings, surrogate, device)
        inputs, labels = attack_images(task, settings)
        crafted, found = {}, {"clean_accuracy": accuracy(logits(model, inputs), labels)}
        for key, epsilon in strengths.items():
            crafted[key] = pgd(model, inputs, labels, attack, epsilon / 255, seed=0)
            found[key] = {"epsilon": epsilon, "surrogate_accuracy": accuracy(logits(model, crafted[key]), labels),
                          "max_perturbation": perturbation_size(crafted[key], inputs, attack["norm"]).max().item()}
            job.steps += attack["steps"] * attack["restarts"]
        work.mkdir(parents=True, exist_ok=True)
        torch.save(crafted, work / "transfer.pt")
        job.finish({"attack": attack, "images": len(labels), **found})


@torch.no_grad()
def logits(model, inputs: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Outputs [N, C] (float32) of model (eval mode) on float inputs [N, 3, H, W], in batches."""
    model.eval()
    return torch.cat([model(inputs[i:i + batch_size]).float() for i in range(0, len(inputs), batch_size)])


def true_label_probability(members: list, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax probability of the true label [M, N] of each member on inputs (Fig. 4C right)."""
    return torch.stack([torch.softmax(logits(m, inputs), 1).gather(1, labels[:, None])[:, 0] for m in members])


def accuracies(members: list, ensemble, inputs: torch.Tensor, labels: torch.Tensor) -> dict:
    """{"members": [accuracy % of each], "member_mean", "ensemble"} on float inputs."""
    each = [accuracy(logits(m, inputs), labels) for m in members]
    return {"members": each, "member_mean": sum(each) / len(each), "ensemble": accuracy(logits(ensemble, inputs), labels)}


def evaluate_ensemble(cfg: dict, method: str, trial: int, data_dir: Path, members_path: Path, surrogate: Path,
                      transfer: Path, out_dir: Path, threads: int) -> None:
    """Clean, transfer and white-box accuracy of members and ensemble, and the analyses."""
    settings, device, task, sources = setup(cfg, trial, data_dir, threads)
    attack, analysis = settings["attack"], settings["analysis"]
    with Job(out_dir, cfg, trial, device, threads, sources) as job:
        members = [load_state(settings, state, device) for state in torch.load(members_path, map_location=device)]
        ensemble = Ensemble(members).eval()
        surrogate_model = load_network(settings, surrogate, device)
        inputs, labels = attack_images(task, settings)
        crafted = torch.load(transfer, map_location=device)
        metrics = {"method": method, "trial": trial, "attack": attack, "images": len(labels),
                   "clean": accuracies(members, ensemble, inputs, labels), "transfer": {}, "white_box": {}}
        timings = {}
        for key, images in crafted.items():
            metrics["transfer"][key] = accuracies(members, ensemble, images, labels)
        for epsilon in attack["epsilons"]:
            key = epsilon_key(epsilon)
            start = time.time()
            adversarial = pgd(ensemble, inputs, labels, attack, epsilon / 255, seed=trial)
            timings[f"white_box_{key}_seconds"] = round(time.time() - start, 3)
            metrics["white_box"][key] = {**accuracies(members, ensemble, adversarial, labels),
                                         "max_perturbation": perturbation_size(adversarial, inputs, attack["norm"]).max().item()}
            job.steps += attack["steps"] * attack["restarts"]
        headline = crafted[epsilon_key(attack["headline_epsilon"])][:analysis["heatmap_images"]]
        metrics["heatmap"] = {"epsilon": attack["headline_epsilon"],
                              "true_label_probability": [[round(v, 4) for v in row] for row in
                                                         true_label_probability(members, headline, labels[:len(headline)]).tolist()]}
        n = analysis["coherence_images"]
        coherent = [coherence(m, surrogate_model, task["test"][0][:n], task["test"][1][:n]) for m in members]
        metrics["coherence"] = {"per_member_mean": [sum(c) / len(c) for c in coherent],
                                "mean": sum(map(sum, coherent)) / (n * len(members)),
                                "values": [[round(v, 4) for v in c] for c in coherent]}
        diversity = representation_diversity(members, task["test"][0][:analysis["diversity_images"]])
        metrics["diversity"] = {"per_layer": diversity, "early_mean": sum(diversity[:6]) / 6}
        metrics["pca"] = weight_pca([(f"member {i}", flat_parameters(m).cpu()) for i, m in enumerate(members)])
        job.timings = timings
        job.finish(metrics)
