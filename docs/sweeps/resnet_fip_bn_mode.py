"""Why the FIP walk runs in eval mode (docs/deviations.md): the laptop-scale dense
ResNet-20 of one seed walked toward 50 % sparsity for a few steps with batch norm in
training mode (batch statistics) and in eval mode (running statistics, as the reference
outputs were computed), then projected. Run from the repository root after the laptop
dense job of that seed:

    python docs/sweeps/resnet_fip_bn_mode.py --steps 150 --seed 0

Writes docs/sweeps/resnet_fip_bn_mode.json: the output distance of the dense network to
its own reference in each mode, and validation/test accuracy before and after projection."""

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fipbench import models  # noqa: E402
from fipbench.config import load  # noqa: E402
from fipbench.data.vision import to_input  # noqa: E402
from fipbench.fip import OutputDistance, SparseProjectionObjective, fip_loss  # noqa: E402
from fipbench.pruning import project  # noqa: E402
from fipbench.studies import sparsity  # noqa: E402
from fipbench.train import run_steps, sgd_update  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = load({"scale": "laptop"})["sparsity"]["resnet20"]
    task, _ = sparsity.load_task(settings, Path("resources/laptop"), torch.device("cpu"))
    dense = models.build("resnet20")
    dense.load_state_dict(torch.load(f"work/laptop/sparsity/resnet20/dense/seed{args.seed}/model.pt"))
    dense.eval()
    distance = OutputDistance(dense, to_input(task["train"][0]), settings["fip"]["distance"])
    probe = torch.randperm(len(distance.probes), generator=torch.Generator().manual_seed(0))[:128]
    result = {"dense": sparsity.evaluate(dense, task, settings), "steps": args.steps, "target": args.target, "modes": {}}
    fip = settings["fip"]
    ratio = (fip["beta_end"] / fip["beta_start"]) ** (1 / (fip["steps"] - 1))
    for mode, train_mode in (("train", True), ("eval", False)):
        model = copy.deepcopy(dense)
        model.train(train_mode)
        with torch.no_grad():
            start = distance(model, probe).item()
        loss_fn = fip_loss(distance, SparseProjectionObjective(args.target), lambda i: fip["beta_start"] * ratio ** i,
                           fip["probe_batch"], torch.Generator().manual_seed(0))
        optimizer = torch.optim.SGD(model.parameters(), lr=fip["lr"], momentum=fip["momentum"])
        run_steps(model, args.steps, loss_fn, sgd_update(optimizer), desc=f"{mode} mode", train_mode=train_mode)
        walked = sparsity.evaluate(model, task, settings)
        project(model, args.target)
        result["modes"][mode] = {"distance_at_start": start, "walked": walked, "projected": sparsity.evaluate(model, task, settings)}
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
