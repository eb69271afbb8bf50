"""Task sequences (Fig. 2D-F(ii)): a network learns a stream of tasks, each a few classes of
one dataset (the paper: 20 tasks of 5 CIFAR-100 classes, ResNet-18). Task 1 is learned by
plain training from Xavier initialisation; every later task by iterated FIP or a baseline,
all through fipbench.continual.learn_tasks (the two-task study is its sequence of two).

One head over all classes of the dataset; every method gets the same stream, network,
epochs per task and seeds. Task-incremental accuracy takes the argmax within a task's
classes, class-incremental over the classes of all tasks seen."""

from pathlib import Path

import torch

from fipbench import models
from fipbench.continual import METHODS, learn_tasks, task_accuracies, walk_summary
from fipbench.data.mirror import sha256
from fipbench.data.streams import split_tasks
from fipbench.data.vision import load_splits
from fipbench.results import Job, start_job
from fipbench.train import PathIntegral, epoch_steps, path_integral_beside, predict, sgd_update, train_on_task

STUDY = "task_sequence"


def load_stream(cfg: dict, data: Path, device: torch.device) -> tuple[list[dict], list[int], int, dict]:
    """(tasks as fipbench.continual tasks named task1..taskN, the class order, the number
    of classes of the dataset (the head's outputs), data source for provenance) of the
    configured stream; each task keeps the first train_images_per_task of its training
    images (in the prepared file's seeded order; all when null)."""
    study = cfg[STUDY]
    stream = study[study["stream"]]
    splits, source = load_splits(data, device)
    n_classes = int(splits["train"][1].max()) + 1
    parts, order = split_tasks(splits, stream["n_tasks"], stream["classes_per_task"], study["class_order_seed"])
    limit = study["train_images_per_task"]
    tasks = [{**part, "name": f"task{i + 1}", "train": tuple(t[:limit] for t in part["train"])}
             for i, part in enumerate(parts)]
    return tasks, order, n_classes, {stream["dataset"]: source}


def build_model(cfg: dict, n_classes: int, device: torch.device):
    return models.build(cfg[STUDY]["model"], num_classes=n_classes, nf=cfg[STUDY]["width"]).to(device)


def train_first_task(cfg: dict, seed: int, data: Path, checkpoint: Path, out_dir: Path, threads: int) -> None:
    """Train the network on task 1 from its initialisation; save it to checkpoint, the
    PathIntegral of its training beside it and its task-1 test accuracy to out_dir."""
    study = cfg[STUDY]
    device = start_job(cfg, seed, threads)
    tasks, order, n_classes, sources = load_stream(cfg, data, device)
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = build_model(cfg, n_classes, device)
        path = PathIntegral(model)
        job.steps = train_on_task(model, tasks[0], study["first_task"], epoch_steps(tasks[0], study["first_task"]),
                                  torch.Generator().manual_seed(seed), lambda optimizer: path.integrating(
                                      sgd_update(optimizer)), desc=f"task 1 seed{seed}")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), checkpoint)
        path.save_beside(checkpoint)
        job.finish({"class_order": order, "train_images": len(tasks[0]["train"][1]),
                    "test": task_accuracies(model, tasks[:1], "test"),
                    "weights": sum(p.numel() for p in model.parameters())})


@torch.no_grad()
def scores(model, tasks: list[dict], n_seen: int, images: int, split: str = "test") -> list[float | None]:
    """Classification score of each of the first `images` images of every task's `split`: the
    probability of its true class under the softmax over the classes seen so far (tasks
    [:n_seen]); None for images of tasks not seen yet. Length images * len(tasks)."""
    seen = torch.tensor([c for task in tasks[:n_seen] for c in task["classes"]])
    result = []
    for index, task in enumerate(tasks):
        x, y = task[split]
        if index >= n_seen:
            result += [None] * len(y[:images])
            continue
        probabilities = predict(model, x[:images])[:, seen.to(x.device)].softmax(1)
        true = (seen.to(y.device)[None, :] == y[:images, None]).float()
        result += (probabilities * true).sum(1).tolist()
    return result


def learn(cfg: dict, method: str, seed: int, data: Path, first: Path, out_dir: Path, threads: int,
          split: str = "test", settings: dict | None = None) -> None:
    """Learn tasks 2..N in turn from the network trained on task 1 with `method`; write
    per-task accuracies after each task (with the heatmap scores), the final accuracies
    and the curve to out_dir.

    split: where every accuracy is measured ("val" when scoring the grid). settings: the
    method's hyperparameters (defaults: cfg[STUDY][method])."""
    study = cfg[STUDY]
    settings = dict(study[method] if settings is None else settings)
    device = start_job(cfg, seed, threads)
    tasks, order, n_classes, sources = load_stream(cfg, data, device)
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = build_model(cfg, n_classes, device)
        model.load_state_dict(torch.load(first, map_location=device))
        tasks[0]["path_integral"] = path_integral_beside(first)  # read by the methods that use it

        def record(net, seen):
            return {**task_accuracies(net, seen, split, study["curve_test_size"]),
                    "scores": scores(net, tasks, len(seen), study["heatmap_images"], split)}

        start = {"task": 0, "step": 0, **record(model, tasks[:1])}
        curve, job.steps = learn_tasks(model, method, settings, tasks, study["new_task"], study["memory_per_task"],
                                       study["fip"]["distance"], record, study["record_every"],
                                       torch.Generator().manual_seed(seed), device, desc=f"{method} seed{seed}",
                                       timings=job.timings)
        after_task = [start] + [[entry for entry in curve if entry["task"] == index][-1]
                                for index in range(1, len(tasks))]
        job.finish({
            "method": method, "split": split, "settings": settings, "first_task_sha256": sha256(Path(first)),
            "class_order": order, "tasks": [task["classes"] for task in tasks],
            "memory_per_task": settings.get("memory_per_task", study["memory_per_task"]) if METHODS[method].keeps_memory else 0,
            "final": task_accuracies(model, tasks, split),
            "after_task": after_task,
            "walk": walk_summary(curve),
            "curve": [{key: value for key, value in entry.items() if key != "scores"} for entry in curve],
        })
