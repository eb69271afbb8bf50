"""Cost of one FIP step against plain training steps on the two-task CNN (not a test).

Measures, in one run and on one device, the median wall time of:
  plain_128   one SGD step of cross-entropy on the new-task batch and the memory batch
              together (64 + 64 images, one forward), the "same samples" reference;
  naive_64    one SGD step of cross-entropy on the new-task batch alone (naive fine-tuning);
  fip         one FIP step as the study runs it (new-task batch + memory batch, reference
              outputs on the memory cached once);
  fip_uncached  the same with the reference network re-run on the memory batch every step,
              which is what caching avoids.
each in fp32 and in bf16 (fipbench.precision). Writes benchmarks/results/fip_step_cost.json
and prints a table with the ratios.

    python benchmarks/fip_step_cost.py [--threads 1] [--repeats 60] [--device cpu]
"""

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fipbench.fip import CrossEntropyObjective, OutputDistance, fip_loss  # noqa: E402
from fipbench.models import build  # noqa: E402
from fipbench.precision import PRECISIONS, autocast  # noqa: E402
from fipbench.train import BatchStream, sgd_update, supervised_loss  # noqa: E402


def median_seconds(step, repeats: int, device: torch.device) -> float:
    for _ in range(5):
        step()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(precision: str, repeats: int, device: torch.device) -> dict:
    """Median seconds of the four steps (module docstring) in `precision`, and their ratios."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2048, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (2048,), device=device)
    memory = images[:100].unsqueeze(1).float() / 255
    model = build("cnn5").to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    update = sgd_update(optimizer)
    new_task = BatchStream(images, labels, 64, generator, label_offset=10)
    together = BatchStream(images, labels, 128, generator)
    with autocast(precision, device):
        distance = OutputDistance(model, memory, "bhattacharyya")
    fip = fip_loss(distance, CrossEntropyObjective(new_task), 1.0, 64, generator)
    reference = copy.deepcopy(model).eval()

    def fip_uncached_loss(net):
        index = torch.randperm(len(memory), generator=generator)[:64].to(device)
        with torch.no_grad():
            target = F.log_softmax(reference(memory[index]).float(), dim=1)
        d = -torch.logsumexp(0.5 * (F.log_softmax(net(memory[index]).float(), dim=1) + target), dim=1).mean()
        inputs, targets = next(new_task)
        return d + F.cross_entropy(net(inputs), targets), {}

    def step_with(loss_fn):
        def step():
            with autocast(precision, device):
                model.train()
                update(loss_fn(model)[0])
        return step

    seconds = {
        "plain_128": median_seconds(step_with(supervised_loss(together)), repeats, device),
        "naive_64": median_seconds(step_with(supervised_loss(new_task)), repeats, device),
        "fip": median_seconds(step_with(fip), repeats, device),
        "fip_uncached": median_seconds(step_with(fip_uncached_loss), repeats, device),
    }
    return {
        "seconds_per_step": seconds,
        "fip_over_plain_128": seconds["fip"] / seconds["plain_128"],
        "fip_over_naive_64": seconds["fip"] / seconds["naive_64"],
        "fip_uncached_over_fip": seconds["fip_uncached"] / seconds["fip"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fip_step_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    result = {precision: measure(precision, args.repeats, device) for precision in PRECISIONS}
    result.update({"threads": args.threads, "device": str(device), "repeats": args.repeats,
                   "machine": platform.machine(), "torch": torch.__version__})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'step':<14}" + "".join(f"{precision + ' ms':>12}" for precision in PRECISIONS))
    for name in result["fp32"]["seconds_per_step"]:
        print(f"{name:<14}" + "".join(f"{1000 * result[p]['seconds_per_step'][name]:>12.1f}" for p in PRECISIONS))
    for precision in PRECISIONS:
        found = result[precision]
        print(f"{precision}: FIP / plain step over the same 128 samples {found['fip_over_plain_128']:.2f}x "
              f"(target <= 1.05x); FIP / naive step on the 64 new-task samples {found['fip_over_naive_64']:.2f}x; "
              f"uncached reference / cached FIP step {found['fip_uncached_over_fip']:.2f}x")


if __name__ == "__main__":
    main()
