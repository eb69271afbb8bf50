"""Cost per task of learning a task sequence, against the task's index (not a test).

On the laptop scale's split CIFAR-10 stream and reduced ResNet-18 (the task-sequence study's:
5 tasks of 2 classes, here the first `--images` training images of each), learns tasks 2..5
from the network at initialisation (task 1 is not trained: the cost does not depend on what the network knows) with
fipbench.continual.learn_tasks, as the task-sequence study runs it, and measures in one run:
  fip, naive, gem, agem, replay   wall seconds of each task (timings of learn_tasks: from
              drawing the memory and caching its reference outputs to the last step, less
              the curve's records);
  plain       the same number of SGD steps per task on the samples FIP touches: the new-task
              batch and a memory batch of the same size drawn from the earlier tasks'
              memory, in one forward (the "same samples" reference);
and FIP's memory (images, bytes of probes and cached reference outputs) per task. Writes
benchmarks/results/sequence_cost.json and sequence_cost.png.

    python benchmarks/sequence_cost.py --data resources/laptop/cifar10.pt [--images 1280] [--threads 1]
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fipbench.config import load  # noqa: E402
from fipbench.continual import learn_tasks  # noqa: E402
from fipbench.studies.task_sequence import build_model, load_stream  # noqa: E402
from fipbench.train import BatchStream, run_steps, sgd_update  # noqa: E402

SGD = {"epochs": 1, "batch_size": 64, "lr": 0.01, "momentum": 0.9}
SETTINGS = {
    "fip": {"distance": "bhattacharyya", "beta": 1.0, "step": "optimizer", "step_length": 0.01, "memory_batch": 64},
    "naive": {}, "replay": {},
    "gem": {"strength": 0.5, "memory_per_task": 50},
    "agem": {"memory_batch": 64, "memory_per_task": 500},
}


def plain_pass_seconds(tasks: list[dict], memory_per_task: int, model) -> list[float]:
    """Seconds per task of plain SGD steps of model on 64 new-task images + 64 memory images
    (the first memory_per_task training images of each earlier task), one step per FIP step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=SGD["lr"], momentum=SGD["momentum"])
    generator = torch.Generator().manual_seed(0)
    seconds = []
    for index in range(1, len(tasks)):
        new = BatchStream(*tasks[index]["train"], SGD["batch_size"], generator)
        earlier = tasks[:index]
        memory = BatchStream(torch.cat([t["train"][0][:memory_per_task] for t in earlier]),
                             torch.cat([t["train"][1][:memory_per_task] for t in earlier]), SGD["batch_size"], generator)

        def loss_fn(net):
            (x_new, y_new), (x_old, y_old) = next(new), next(memory)
            loss = F.cross_entropy(net(torch.cat([x_new, x_old])), torch.cat([y_new, y_old]))
            return loss, {}
        began = time.perf_counter()
        run_steps(model, new.steps_per_epoch * SGD["epochs"], loss_fn, sgd_update(optimizer), desc=f"plain task {index}")
        seconds.append(time.perf_counter() - began)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("resources/laptop/cifar10.pt"))
    parser.add_argument("--images", type=int, default=1280, help="training images per task")
    parser.add_argument("--memory-per-task", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sequence_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load({"scale": "laptop", "task_sequence": {"stream": "split_cifar10", "train_images_per_task": args.images}})
    tasks, order, n_classes, _ = load_stream(cfg, args.data, device)

    def new_model():
        torch.manual_seed(0)
        return build_model(cfg, n_classes, device)

    seconds, memory = {}, []
    for method, settings in SETTINGS.items():
        model = new_model()
        timings = {}
        curve, _ = learn_tasks(model, method, settings, tasks, SGD, args.memory_per_task, "bhattacharyya",
                               lambda net, seen: {}, 10**9, torch.Generator().manual_seed(0), device,
                               desc=f"{method}", timings=timings)
        seconds[method] = timings["seconds_per_task"]
        if method == "fip":
            memory = list({e["task"]: {"task": e["task"], "images": e["memory_images"], "bytes": e["memory_bytes"]}
                           for e in curve}.values())
    began = time.perf_counter()
    seconds["plain"] = plain_pass_seconds(tasks, args.memory_per_task, new_model())
    print(f"plain pass in {time.perf_counter() - began:.0f} s")

    tasks_learned = list(range(2, len(tasks) + 1))
    result = {
        "seconds_per_task": seconds,
        "fip_over_plain": [f / p for f, p in zip(seconds["fip"], seconds["plain"])],
        "fip_over_naive": [f / n for f, n in zip(seconds["fip"], seconds["naive"])],
        "fip_memory": memory,
        "tasks": tasks_learned, "images_per_task": args.images, "memory_per_task": args.memory_per_task,
        "steps_per_task": -(-args.images // SGD["batch_size"]), "settings": SETTINGS, "class_order": order,
        "threads": args.threads, "device": str(device), "machine": platform.machine(), "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for method, values in seconds.items():
        ax.plot(tasks_learned, values, marker="o", label=method)
    ax.set_xlabel("task index")
    ax.set_ylabel(f"seconds per task ({result['steps_per_task']} steps)")
    ax.set_xticks(tasks_learned)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)

    print(f"{'task':<6}" + "".join(f"{m:>9}" for m in seconds) + f"{'fip/plain':>11}{'fip/naive':>11}")
    for i, task in enumerate(tasks_learned):
        print(f"{task:<6}" + "".join(f"{seconds[m][i]:>9.2f}" for m in seconds)
              + f"{result['fip_over_plain'][i]:>11.2f}{result['fip_over_naive'][i]:>11.2f}")
    print("FIP memory per task:", memory)


if __name__ == "__main__":
    main()
