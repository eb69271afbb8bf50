"""Two-task continual learning (Fig. 2A-C, 2F(i)): a CNN trained on MNIST learns
Fashion-MNIST by FIP (with one of its solvers: fip, fip_normalised, fip_exact, fip_smooth), naive
fine-tuning, OGD, EWC, GEM or replay, all from one base network.

One 20-way head is shared: MNIST uses outputs 0-9, Fashion-MNIST outputs 10-19. Every
method gets the same epochs, batch size and SGD settings on the new task."""

import copy
from pathlib import Path

import torch
from torch.optim.swa_utils import update_bn

from fipbench import models
from fipbench.continual import METHODS, learn_tasks, task_accuracies, walk_summary
from fipbench.data.mirror import sha256
from fipbench.data.vision import load_splits, to_input
from fipbench.results import Job, start_job
from fipbench.train import (BatchStream, PathIntegral, accuracy, path_integral_beside, predict, run_steps, sgd_update,
                            supervised_loss)

STUDY = "continual_2task"
TASKS = {"mnist": 0, "fashion_mnist": 10}  # dataset -> offset of its labels in the shared head


def load_tasks(data_dir: Path, device: torch.device) -> tuple[dict, dict]:
    """({dataset: {split: (x, y)}} on device, {dataset: data source for provenance})."""
    tasks, sources = {}, {}
    for name in TASKS:
        tasks[name], sources[name] = load_splits(Path(data_dir) / f"{name}.pt", device)
    return tasks, sources


def train_base(cfg: dict, seed: int, data: Path, checkpoint: Path, out_dir: Path, threads: int) -> None:
    """Train the shared base network on MNIST; save it to checkpoint, the PathIntegral of its
    training beside it and its metrics to out_dir."""
    study = cfg[STUDY]
    device = start_job(cfg, seed, threads)
    tasks, sources = load_tasks(data, device)
    generator = torch.Generator().manual_seed(seed)
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = models.build(study["model"]).to(device)
        base = study["base"]
        stream = BatchStream(*tasks["mnist"]["train"], base["batch_size"], generator)
        optimizer = torch.optim.SGD(model.parameters(), lr=base["lr"], momentum=base["momentum"])
        job.steps = base["epochs"] * stream.steps_per_epoch
        path = PathIntegral(model)
        run_steps(model, job.steps, supervised_loss(stream), path.integrating(sgd_update(optimizer)),
                  desc=f"base seed{seed}")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), checkpoint)
        path.save_beside(checkpoint)
        job.finish({split: {"mnist_accuracy": accuracy(predict(model, tasks["mnist"][split][0]),
                                                       tasks["mnist"][split][1])}
                    for split in ("val", "test")}
                   | {"weights": sum(p.numel() for p in model.parameters())})


def task_list(tasks: dict) -> list[dict]:
    """The two tasks as fipbench.continual tasks: labels moved to their outputs of the head."""
    return [{"name": name, "classes": list(range(offset, offset + 10)),
             **{split: (x, y + offset) for split, (x, y) in tasks[name].items()}} for name, offset in TASKS.items()]


def new_task_statistics_only(model, tasks: dict, batch_size: int = 500, n_batches: int = 20):
    """A copy of model whose batch-norm running statistics are re-estimated (update_bn,
    cumulative average) from Fashion-MNIST training batches alone: the weights are kept,
    the statistics no longer remember MNIST."""
    x, _ = tasks["fashion_mnist"]["train"]
    clone = copy.deepcopy(model)
    update_bn([to_input(x[i * batch_size:(i + 1) * batch_size]) for i in range(n_batches)], clone)
    return clone.eval()


def learn(cfg: dict, method: str, seed: int, data_dir: Path, base_checkpoint: Path,
          out_dir: Path, threads: int, split: str = "test", settings: dict | None = None,
          checkpoint_dir: Path | None = None) -> None:
    """Learn Fashion-MNIST from the base network with `method`; write the results to out_dir.

    data_dir: the folder of the prepared mnist.pt and fashion_mnist.pt. split: where the
    final numbers and curves are measured ("val" when scoring the grid). settings: the
    method's hyperparameters (defaults: cfg[STUDY][method]). checkpoint_dir: where the
    path's checkpoints go (every checkpoint_every steps), for a resumed job."""
    study = cfg[STUDY]
    settings = dict(study[method] if settings is None else settings)
    device = start_job(cfg, seed, threads)
    tasks, sources = load_tasks(data_dir, device)
    generator = torch.Generator().manual_seed(seed)
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = models.build(study["model"]).to(device)
        model.load_state_dict(torch.load(base_checkpoint, map_location=device))

        sequence = task_list(tasks)
        sequence[0]["path_integral"] = path_integral_beside(base_checkpoint)  # read by the methods that use it

        def record(net, seen):
            return task_accuracies(net, seen, split, study["curve_test_size"])

        curve, job.steps = learn_tasks(model, method, settings, sequence, study["new_task"], study["memory_per_task"],
                                       study["fip"]["distance"], record, study["record_every"], generator, device,
                                       checkpoint_dir, study["checkpoint_every"], desc=f"{method} seed{seed}",
                                       timings=job.timings)
        final = task_accuracies(model, sequence, split)
        ablation = task_accuracies(new_task_statistics_only(model, tasks), sequence, split)
        job.finish({
            "method": method, "split": split, "settings": settings, "base_sha256": sha256(Path(base_checkpoint)),
            "memory_size": study["memory_per_task"] if METHODS[method].keeps_memory else 0,
            "final": final,
            "bn_stats_from_new_task_only": ablation,
            "walk": walk_summary(curve),
            "curve": curve,
        })
