"""The task loop of the continual-learning methods whose steps run through run_steps
(FIP and its solvers, naive fine-tuning, OGD): a method says what it keeps and, at the
start of each task, gives that task's loss function and update (StepMethod.start_task);
the loop draws the memory, caches the reference outputs, runs the steps and records.

A task is {"name": str, "classes": [output units], "train" | "val" | "test": (x uint8, y)}
with labels already in the shared head."""

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from fipbench.data.vision import to_input
from fipbench.fip import OutputDistance
from fipbench.train import BatchStream, recipe_optimizer, run_steps


@dataclass
class TaskStart:
    """What a method gets at the start of task i: the network at that point (also the
    reference of drift), the task's batch stream and a fresh SGD optimizer, the memory of
    tasks 1..i-1 (inputs [M_k, C, H, W] and labels [M_k] per task left; empty for a method
    that keeps none), drift (the output distance on the whole memory to the network at the
    start of the task, reference outputs cached; None without memory), the method's
    settings (its config block, or what the method types it into), and `state`, kept by
    the method from one task to the next."""
    model: torch.nn.Module
    stream: BatchStream
    optimizer: torch.optim.Optimizer
    memory: list[torch.Tensor]
    labels: list[torch.Tensor]
    drift: OutputDistance | None
    settings: object
    distance_kind: str
    generator: torch.Generator
    device: torch.device
    state: dict = field(default_factory=dict)


class StepMethod:
    """A continual-learning method run through run_steps. Subclasses set keeps_memory
    (draws memory_per_task images of every task it leaves), caches_outputs (its memory
    bytes count the cached reference outputs too) and start_task."""
    keeps_memory = True
    caches_outputs = False

    def start_task(self, task: TaskStart) -> tuple[Callable, Callable]:
        """(loss function, update function) of run_steps for this task."""
        raise NotImplementedError

    def learn(self, model, settings: dict, tasks: list[dict], sgd: dict, memory_per_task: int, distance_kind: str,
              record: Callable, record_every: int, generator: torch.Generator, device: torch.device,
              checkpoint_dir=None, checkpoint_every: int = 0, desc: str = "",
              timings: dict | None = None) -> tuple[list[dict], int]:
        """fipbench.continual.learn_tasks for this method."""
        curve, steps, memory, labels, state, seconds = [], 0, [], [], {}, []
        for index in range(1, len(tasks)):
            began = time.perf_counter()
            task, left = tasks[index], tasks[index - 1]
            stream = BatchStream(*task["train"], sgd["batch_size"], generator)
            n_steps = sgd["epochs"] * stream.steps_per_epoch
            drift = None
            if self.keeps_memory:
                chosen = torch.randperm(len(left["train"][1]), generator=generator)[:memory_per_task].to(device)
                memory.append(to_input(left["train"][0][chosen]))
                labels.append(left["train"][1][chosen])
                drift = OutputDistance(model, torch.cat(memory), distance_kind)  # reference outputs cached once per task
            optimizer = recipe_optimizer(model.parameters(), sgd)
            loss_fn, update = self.start_task(TaskStart(model, stream, optimizer, memory, labels, drift, settings,
                                                        distance_kind, generator, device, state))
            recording = {"seconds": 0.0}

            def record_task(net, drift=drift, seen=tasks[:index + 1], recording=recording):
                began_record = time.perf_counter()
                entry = record(net, seen)
                if drift is not None:
                    entry["memory_images"] = len(drift.probes)
                    entry["memory_bytes"] = drift.probes.nbytes + (drift.nbytes if self.caches_outputs else 0)
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
