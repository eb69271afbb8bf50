"""Does bf16 cost the paper-scale ResNet-20 accuracy? (docs/deviations.md) The sparsity
study's ResNet-20 recipe at a short budget (--epochs, the cosine decay over them), seed
--seed, one thread, in --precision (bf16 autocast or fp32); the same seed gives both
precisions the same initial network and the same batches. Run from the repository root
once resources/paper/cifar10.pt is prepared:

    python docs/sweeps/resnet_precision_budget.py --precision fp32 --epochs 15

Writes docs/sweeps/resnet_precision_budget-<precision>-<epochs>.json: test accuracy (%)
with the network's own batch-norm statistics and after the study's refresh, training
accuracy on the first 5,000 training images, and the training's wall seconds."""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fipbench import models  # noqa: E402
from fipbench.config import load  # noqa: E402
from fipbench.precision import PRECISIONS, autocast  # noqa: E402
from fipbench.results import start_job  # noqa: E402
from fipbench.studies import sparsity  # noqa: E402
from fipbench.train import RecipeTraining, accuracy, epoch_steps, predict  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", choices=PRECISIONS, required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load({"scale": "paper"})
    settings = cfg["sparsity"]["resnet20"]
    sgd = {key: value for key, value in settings["train"].items() if key != "part_epochs"} | {"epochs": args.epochs}
    device = start_job(cfg, args.seed, 1)
    task, _ = sparsity.load_task(settings, Path("resources/paper"), device)
    model = models.build("resnet20").to(device)
    training = RecipeTraining(model, task, sgd, epoch_steps(task, sgd), torch.Generator().manual_seed(args.seed))
    with autocast(args.precision, device):
        began = time.perf_counter()
        training.run(training.n_steps, desc=f"resnet20 {args.precision} {args.epochs} epochs")
        seconds = time.perf_counter() - began
        model.eval()
        test_x, test_y = task["test"]
        result = {"precision": args.precision, "epochs": args.epochs, "seed": args.seed, "recipe": sgd,
                  "train_seconds": round(seconds, 1),
                  "test_own_statistics": accuracy(predict(model, test_x), test_y),
                  "test_after_the_study_refresh": accuracy(predict(sparsity.refreshed(model, task, settings), test_x),
                                                           test_y),
                  "train_first_5000": accuracy(predict(model, task["train"][0][:5000]), task["train"][1][:5000])}
    out = Path(__file__).with_name(f"resnet_precision_budget-{args.precision}-{args.epochs}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
