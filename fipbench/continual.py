"""Continual learning of a sequence of tasks from a network that has learned the first, by
every method of the continual-learning studies (the two-task study is the sequence of two).

A task is {"name": str, "classes": [output units], "train" | "val" | "test": (x uint8, y)}
with labels already in the shared head. FIP is iterated (Eq. 4 task after task): for task
i the probe set is the memory of tasks 1..i-1 (`memory_per_task` images drawn from each
when it is left), the reference is the network at the start of task i with its outputs on
that memory cached once, and L is task i's cross-entropy. OGD projects off the span of the
memory's ground-truth-logit gradients, extended at the start of each task. The avalanche
methods (EWC, GEM, A-GEM, replay) keep their own memories through their plugins. Both
continual studies choose a method's hyperparameter the same way (fipbench.selection)."""

import time
from typing import Callable

import torch

from baselines import ogd
from baselines.avalanche_cl import AVALANCHE_PLUGINS, learn_stream
from fipbench.data.vision import to_input
from fipbench.fip import CrossEntropyObjective, OutputDistance, exact_update, fip_loss, normalised_update
from fipbench.train import BatchStream, accuracy, predict, run_steps, sgd_update, supervised_loss

FIP_SOLVERS = ("fip", "fip_normalised", "fip_exact", "fip_smooth")  # one engine; settings["step"] names the solver
WITH_MEMORY = (*FIP_SOLVERS, "ogd", "gem", "agem", "replay")


def task_accuracies(model, tasks: list[dict], split: str, limit: int | None = None) -> dict:
    """Per task on `split` (first `limit` images): class-incremental accuracy (%) (argmax
    over the classes of all the given tasks) and task-incremental (argmax within the
    task's classes), and their means over the tasks."""
    seen = [c for task in tasks for c in task["classes"]]
    result = {}
    for task in tasks:
        x, y = task[split]
        logits, labels = predict(model, x[:limit]), y[:limit]
        result[f"{task['name']}_class_incremental"] = accuracy(logits, labels, seen)
        result[f"{task['name']}_task_incremental"] = accuracy(logits, labels, task["classes"])
    for mode in ("class_incremental", "task_incremental"):
        result[f"mean_{mode}"] = sum(result[f"{task['name']}_{mode}"] for task in tasks) / len(tasks)
    return result


def learn_tasks(model, method: str, settings: dict, tasks: list[dict], sgd: dict, memory_per_task: int,
                distance_kind: str, record: Callable, record_every: int, generator: torch.Generator,
                device: torch.device, checkpoint_dir=None, checkpoint_every: int = 0,
                desc: str = "", timings: dict | None = None) -> tuple[list[dict], int]:
    """Learn tasks[1:] in turn from model (which has learned tasks[0]) with `method`.

    sgd: epochs, batch_size, lr, momentum per task. memory_per_task: images kept of each
    task left (a method's settings may name its own "memory_per_task", as GEM's CPU cost
    asks). record(net, tasks seen) -> dict of numbers, called every record_every steps; for
    FIP and OGD each record also holds memory_images and memory_bytes (the probe images, and
    for FIP the cached reference outputs, held for the current task) and memory_distance,
    the output distance (distance_kind) on the memory to the network at the start of the
    current task. Returns (records, with "task" and steps counted over the whole sequence,
    each task's starting at the step the previous one ended; optimiser steps). timings (the
    job's, for provenance) gets seconds_per_task (wall seconds of each task, from drawing
    its memory to its last step, less the time spent in records) and, for run_steps methods,
    walk_seconds_per_step: the seconds per step of the last task spent in the loss and the
    update."""
    memory_per_task = settings.get("memory_per_task", memory_per_task)
    if method not in (*FIP_SOLVERS, "ogd", "naive"):
        plugin = AVALANCHE_PLUGINS[method](settings, memory_per_task, len(tasks))
        return learn_stream(model, plugin, [task["train"] for task in tasks], sgd["epochs"], sgd["batch_size"],
                            sgd["lr"], sgd["momentum"], device, lambda net, index: record(net, tasks[:index + 1]),
                            record_every, timings)
    curve, steps, memory, labels, basis, seconds = [], 0, [], [], None, []
    for index in range(1, len(tasks)):
        began = time.perf_counter()
        task, left = tasks[index], tasks[index - 1]
        stream = BatchStream(*task["train"], sgd["batch_size"], generator)
        n_steps = sgd["epochs"] * stream.steps_per_epoch
        drift = None
        if method != "naive":
            chosen = torch.randperm(len(left["train"][1]), generator=generator)[:memory_per_task].to(device)
            memory.append(to_input(left["train"][0][chosen]))
            labels.append(left["train"][1][chosen])
            drift = OutputDistance(model, torch.cat(memory), distance_kind)  # reference outputs cached once per task
        optimizer = torch.optim.SGD(model.parameters(), lr=sgd["lr"], momentum=sgd["momentum"])
        if method in ("naive", "ogd"):
            loss_fn = supervised_loss(stream)
        else:
            distance = (drift if settings["distance"] == distance_kind
                        else OutputDistance(model, drift.probes, settings["distance"]))
            loss_fn = fip_loss(distance, CrossEntropyObjective(stream), settings["beta"], settings["memory_batch"],
                               generator)
        if method == "ogd":
            basis = ogd.extend_basis(basis, ogd.output_gradient_basis(model, memory[-1], labels[-1]))
            update = ogd.projected_update(optimizer, model, basis)
        elif method != "naive" and settings["step"] == "normalised":
            update = normalised_update(model, settings["epsilon"])
        elif method != "naive" and settings["step"] == "exact":
            probes = torch.cat(memory)

            def draw(probes=probes):
                return probes[torch.randperm(len(probes), generator=generator)[:settings["memory_batch"]].to(device)]
            update = exact_update(model, draw, settings["epsilon"], settings["lanczos_steps"], settings["distance"],
                                  generator, settings.get("acceleration", 0.0))
        else:
            update = sgd_update(optimizer)

        recording = {"seconds": 0.0}

        def record_task(net, drift=drift, seen=tasks[:index + 1], recording=recording):
            began_record = time.perf_counter()
            entry = record(net, seen)
            if drift is not None:
                entry["memory_images"] = len(drift.probes)
                entry["memory_bytes"] = drift.probes.nbytes + (drift.nbytes if method != "ogd" else 0)
                with torch.no_grad():
                    entry["memory_distance"] = drift(net).item()
            recording["seconds"] += time.perf_counter() - began_record
            return entry
        clock = {}
        part = run_steps(model, n_steps, loss_fn, update, record_task, record_every,
                         None if checkpoint_dir is None else checkpoint_dir / f"task{index}", checkpoint_every,
                         desc=f"{desc} task {index}", clock=clock)
        seconds.append(time.perf_counter() - began - recording["seconds"])
        if timings is not None:
            timings["walk_seconds_per_step"] = clock["seconds"] / n_steps
            timings["seconds_per_task"] = seconds
        curve += [{**entry, "task": index, "step": steps + entry["step"]} for entry in part]
        steps += n_steps
    return curve, steps


def walk_summary(curve: list[dict]) -> dict:
    """Path length (Euclidean, summed over steps), output distance to the reference on the
    memory at the end, their ratio and the mean angle (radians) between consecutive steps,
    of the last task's walk, where the curve holds them (run_steps methods; the memory only
    where the method has one)."""
    last = curve[-1]
    task_steps = last["step"] - max((e["step"] for e in curve if e.get("task", 0) < last.get("task", 0)), default=0)
    walk = {key: last[key] for key in ("path_length", "memory_distance") if key in last}
    if "turning_angle" in last:
        walk["turning_angle_per_step"] = last["turning_angle"] / max(task_steps - 1, 1)
    if "memory_distance" in walk:
        walk["memory_distance_per_path_length"] = walk["memory_distance"] / walk["path_length"]
    return walk
