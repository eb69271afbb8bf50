"""Continual learning of a sequence of tasks from a network that has learned the first, by
every method of the continual-learning studies (the two-task study is the sequence of two),
each from one registry, METHODS: FIP and its solvers (here), naive fine-tuning and OGD
(baselines/, run through fipbench.stepwise's task loop) and avalanche-lib's EWC, GEM, A-GEM
and replay (baselines/avalanche_cl.py).

FIP is iterated (Eq. 4 task after task): for task i the probe set is the memory of tasks
1..i-1 (`memory_per_task` images drawn from each when it is left), the reference is the
network at the start of task i with its outputs on that memory cached once, and L is task
i's cross-entropy; its settings are a ContinualWalk (fipbench/fip/walks.py), whose `step`
names the solver. Both continual studies choose a method's hyperparameter the same way
(fipbench.selection)."""

from typing import Callable

import torch

from baselines import naive, ogd
from baselines.avalanche_cl import METHODS as AVALANCHE_METHODS
from fipbench.fip import ContinualWalk, CrossEntropyObjective, OutputDistance, exact_update, fip_loss, normalised_update
from fipbench.stepwise import StepMethod, TaskStart
from fipbench.train import accuracy, predict, sgd_update


def _exact(task: TaskStart) -> Callable:
    walk, probes = task.settings, task.drift.probes

    def draw():
        return probes[torch.randperm(len(probes), generator=task.generator)[:walk.memory_batch].to(task.device)]
    return exact_update(task.model, draw, walk.step_length, walk.lanczos_steps, walk.distance, task.generator,
                        walk.acceleration)


SOLVERS = {  # ContinualWalk.step -> the update of a FIP step (fipbench/fip/step.py)
    "optimizer": lambda task: sgd_update(task.optimizer),
    "normalised": lambda task: normalised_update(task.model, task.settings.step_length),
    "exact": _exact,
}


class FIP(StepMethod):
    """Each step: the output distance on a memory batch to the cached reference (in the
    walk's distance) + beta * the new task's cross-entropy, moved by the walk's solver."""
    caches_outputs = True

    def learn(self, model, settings: dict, *args, **kwargs):
        """StepMethod.learn with the config block typed once, as a ContinualWalk."""
        return super().learn(model, ContinualWalk(**settings), *args, **kwargs)

    def start_task(self, task: TaskStart):
        walk = task.settings
        distance = (task.drift if walk.distance == task.distance_kind
                    else OutputDistance(task.model, task.drift.probes, walk.distance))
        loss_fn = fip_loss(distance, CrossEntropyObjective(task.stream), walk.beta, walk.memory_batch, task.generator)
        return loss_fn, SOLVERS[walk.step](task)


METHODS = {**{name: FIP() for name in ("fip", "fip_normalised", "fip_exact", "fip_smooth")},
           "naive": naive.METHOD, "ogd": ogd.METHOD, **AVALANCHE_METHODS}


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
    """Learn tasks[1:] in turn from model (which has learned tasks[0]) with METHODS[method].

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
    return METHODS[method].learn(model, settings, tasks, sgd, settings.get("memory_per_task", memory_per_task),
                                 distance_kind, record, record_every, generator, device, checkpoint_dir,
                                 checkpoint_every, desc, timings)


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
