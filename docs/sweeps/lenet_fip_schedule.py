"""The sweep behind FIP's sparsification schedule (docs/deviations.md): LeNet-300-100 at
laptop scale, one seed, scored on the validation split only. Reuses the study's own dense
training and FIP path. Run from the repository root after `snakemake
resources/laptop/mnist.pt`:

    python docs/sweeps/lenet_fip_schedule.py --part 0 --parts 1

Writes docs/sweeps/lenet_fip_schedule[-<part>].json (validation accuracy after exact
projection and the relative distance to the sparse set just before it, per target)."""

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fipbench import models  # noqa: E402
from fipbench.config import load  # noqa: E402
from fipbench.studies import sparsity  # noqa: E402

GRID = [(500, 0.01, 10), (500, 0.03, 30), (1500, 0.01, 1), (1500, 0.01, 10), (1500, 0.01, 100),
        (1500, 0.03, 10), (3000, 0.01, 10)]  # (steps per target, lr, beta_end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = load({"scale": "laptop"})["sparsity"]["lenet300_100"]
    task, _ = sparsity.load_task(settings, Path("resources/laptop"), torch.device("cpu"))
    torch.manual_seed(0)
    dense = models.build("lenet300_100")
    sparsity.train(dense, task, settings["train"], sparsity.epoch_steps(task, settings["train"]),
                   torch.Generator().manual_seed(0), desc="dense")
    rows = [{"dense_val_accuracy": sparsity.evaluate(dense, task, settings)["val_accuracy"]}]
    for steps, lr, beta_end in GRID[args.part::args.parts]:
        trial = copy.deepcopy(settings)
        trial["fip"].update(steps=steps, lr=lr, beta_end=beta_end)
        found, _, _ = sparsity.fip_path(dense, task, trial, sorted(trial["sparsities"]),
                                        torch.Generator().manual_seed(1), lambda model, masks: {})
        rows.append({"steps": steps, "lr": lr, "beta_end": beta_end,
                     "val_accuracy": {f"{p:g}": r["val_accuracy"] for p, r in found.items()},
                     "distance_before_projection": {f"{p:g}": r["distance_to_sparse_before_projection"]
                                                    for p, r in found.items()}})
        print(json.dumps(rows[-1]), flush=True)
    suffix = "" if args.parts == 1 else f"-{args.part}"
    (Path(__file__).parent / f"lenet_fip_schedule{suffix}.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
