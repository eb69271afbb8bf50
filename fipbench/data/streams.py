"""Task streams: a dataset's classes split into a sequence of tasks (split CIFAR-100 into
20 tasks of 5 classes, split CIFAR-10 into 5 of 2), in a seeded class order."""

import torch


def class_order(n_classes: int, seed: int) -> list[int]:
    """A permutation of 0..n_classes-1 fixed by seed (recorded in provenance by the jobs)."""
    return torch.randperm(n_classes, generator=torch.Generator().manual_seed(seed)).tolist()


def split_tasks(data: dict, n_tasks: int, classes_per_task: int, seed: int) -> tuple[list[dict], list[int]]:
    """([task i: {"classes": [...], split: (x, y)} for every split of data], the class order).

    data: {split: (images [N, ...], labels int64 [N])}. Task i holds the images of classes
    order[i * classes_per_task:(i + 1) * classes_per_task]; labels keep their values (one
    head over all classes). Raises ValueError when the tasks need more classes than exist."""
    n_classes = int(max(labels.max() for _, labels in data.values())) + 1
    if n_tasks * classes_per_task > n_classes:
        raise ValueError(f"{n_tasks} tasks x {classes_per_task} classes need {n_tasks * classes_per_task} classes; "
                         f"the data has {n_classes}")
    order = class_order(n_classes, seed)
    tasks = []
    for i in range(n_tasks):
        classes = order[i * classes_per_task:(i + 1) * classes_per_task]
        task = {"classes": classes}
        for split, (x, y) in data.items():
            keep = torch.isin(y, torch.tensor(classes, device=y.device))
            task[split] = (x[keep], y[keep])
        tasks.append(task)
    return tasks, order
