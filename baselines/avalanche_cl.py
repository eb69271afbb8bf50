"""Run an avalanche-lib continual-learning plugin on the tasks after the first of a stream,
starting from an already trained network (the same base network every method starts from).

The first experience is "trained" for 0 epochs, so the plugin's after_training_exp hook
stores what it keeps of task 1 (EWC's Fisher importances, GEM's and replay's memory) from
the base network itself; then every later experience is trained with the shared budget."""

import time
from dataclasses import dataclass
from typing import Callable

import torch
from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
from avalanche.benchmarks.utils.classification_dataset import _make_taskaware_classification_dataset
from avalanche.training.plugins import SupervisedPlugin
from avalanche.training.plugins.evaluation import EvaluationPlugin
from avalanche.training.supervised import Naive
from torch.utils.data import Dataset

from baselines import agem, ewc, gem, lwf, replay, si
from fipbench.data.vision import to_input
from fipbench.train import flat_parameters, recipe_optimizer



class _TaskDataset(Dataset):
    """uint8 images [N, H, W(, C)] and labels [N] as avalanche expects: (x [C, H, W], y, task 0)."""

    def __init__(self, images, labels):
        self.images, self.targets = images.cpu(), labels.cpu()
        self.targets_task_labels = torch.zeros_like(self.targets)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return to_input(self.images[i:i + 1])[0], int(self.targets[i]), 0


class _Recorder(SupervisedPlugin):
    """Calls record(model, task index) (eval mode) every `every` training iterations of the
    experiences after the first, counted across them, and at the end of each; like
    run_steps, it prints a progress line with the loss and the recorded accuracies, and it
    keeps the wall seconds of each experience's training less its records (for provenance)."""

    def __init__(self, record: Callable, every: int, name: str):
        super().__init__()
        self.record, self.every, self.name, self.records, self.iteration = record, every, name, [], 0
        self.start, self.task, self.began, self.recording, self.seconds_per_task = None, 0, 0.0, 0.0, []

    def take(self, model, loss):
        began = time.perf_counter()
        was_training = model.training
        model.eval()
        entry = {"step": self.iteration, "task": self.task,
                 "weight_distance": (flat_parameters(model) - self.start).norm().item()}
        if loss is not None:
            entry["loss"] = loss
        entry.update(self.record(model, self.task))
        self.records.append(entry)
        model.train(was_training)
        self.recording += time.perf_counter() - began

    def before_training_exp(self, strategy, **kwargs):
        self.task = strategy.clock.train_exp_counter
        if self.task == 1:
            self.start = flat_parameters(strategy.model)
            self.take(strategy.model, None)
        self.began, self.recording = time.perf_counter(), 0.0

    def after_training_exp(self, strategy, **kwargs):
        if self.task >= 1:
            self.seconds_per_task.append(time.perf_counter() - self.began - self.recording)

    def after_training_iteration(self, strategy, **kwargs):
        if strategy.clock.train_exp_counter < 1:
            return
        self.iteration += 1
        loss = strategy.loss.item()
        if not torch.isfinite(torch.tensor(loss)):
            raise FloatingPointError(f"non-finite loss {loss} at step {self.iteration}")
        if self.iteration % self.every == 0:
            self.take(strategy.model, loss)
            print(f"{self.name}: step {self.iteration}, loss {loss:.4f}, "
                  + ", ".join(f"{k} {v:.2f}" for k, v in self.records[-1].items() if "class_incremental" in k),
                  flush=True)


def learn_stream(model, plugin: SupervisedPlugin, tasks: list[tuple], sgd: dict, device: torch.device,
                 record: Callable, record_every: int, timings: dict | None = None) -> tuple[list[dict], int]:
    """Train model on tasks[1:] = [(images, labels), ...] in turn with `plugin`, after
    showing it tasks[0] (already learned: 0 epochs), sgd["epochs"] epochs each with the
    optimizer of sgd (fipbench.train.recipe_optimizer). Labels are already in the shared
    head. record(model, index of the task being learned) -> dict. Returns (records, each
    with its "task", optimiser steps over all trained tasks); the last record of each task
    is taken at its end. timings (the job's, for provenance) gets seconds_per_task: the
    wall seconds of each task's training, plugin work included, records not."""
    # avalanche's supervised dataset: targets and task labels as attributes (LwF reads them)
    stream = benchmark_from_datasets(train=[_make_taskaware_classification_dataset(_TaskDataset(*task))
                                            for task in tasks]).train_stream
    recorder = _Recorder(record, record_every, type(plugin).__name__)
    strategy = Naive(model=model, optimizer=recipe_optimizer(model.parameters(), sgd),
                     train_mb_size=sgd["batch_size"], train_epochs=0, device=device, plugins=[plugin, recorder],
                     evaluator=EvaluationPlugin(loggers=[]), eval_every=-1)
    strategy.train(stream[0], eval_streams=[])
    strategy.train_epochs = sgd["epochs"]
    for experience in stream[1:]:
        strategy.train(experience, eval_streams=[])
        if recorder.records[-1]["step"] != recorder.iteration:
            recorder.take(model, None)
    model.eval()
    if timings is not None:
        timings["seconds_per_task"] = recorder.seconds_per_task
    return recorder.records, recorder.iteration


@dataclass(frozen=True)
class AvalancheMethod:
    """A continual-learning method of avalanche-lib: plugin(settings, memory_per_task,
    tasks) builds its plugin (tasks: the stream's fipbench.continual tasks, the first
    with the file of its training's PathIntegral under "path_integral"); keeps_memory
    says whether it keeps images of tasks left."""
    plugin: Callable
    keeps_memory: bool

    def learn(self, model, settings: dict, tasks: list[dict], sgd: dict, memory_per_task: int, distance_kind: str,
              record: Callable, record_every: int, generator: torch.Generator, device: torch.device,
              checkpoint_dir=None, checkpoint_every: int = 0, desc: str = "",
              timings: dict | None = None) -> tuple[list[dict], int]:
        """fipbench.continual.learn_tasks for this method (avalanche draws its own batches
        and memory: generator, distance_kind and checkpoints are not used)."""
        return learn_stream(model, self.plugin(settings, memory_per_task, tasks), [task["train"] for task in tasks],
                            sgd, device, lambda net, index: record(net, tasks[:index + 1]), record_every, timings)


METHODS = {"ewc": AvalancheMethod(ewc.plugin, keeps_memory=False), "gem": AvalancheMethod(gem.plugin, keeps_memory=True),
           "agem": AvalancheMethod(agem.plugin, keeps_memory=True),
           "replay": AvalancheMethod(replay.plugin, keeps_memory=True),
           "lwf": AvalancheMethod(lwf.plugin, keeps_memory=False),
           "si": AvalancheMethod(si.plugin, keeps_memory=False)}
