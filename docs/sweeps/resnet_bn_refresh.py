"""What re-estimating batch norm costs the paper-scale dense ResNet-20 (docs/deviations.md):
its test accuracy with its own running statistics (collected on augmented batches while it
trained), after the sparsity study's refresh (`sparsity.refreshed`: update_bn on the first
2,000 training images, cropped and flipped as the recipe's batches), after refreshes on
plain image sets (the study's refresh until 2026-12-08 read the first 2,000 plain), and
its accuracy on training images.
Run from the repository root after the paper dense job of that seed:

    python docs/sweeps/resnet_bn_refresh.py --seed 0

Writes docs/sweeps/resnet_bn_refresh-<seed>.json (accuracies in %)."""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fipbench import models  # noqa: E402
from fipbench.config import load  # noqa: E402
from fipbench.studies import sparsity  # noqa: E402
from fipbench.train import accuracy, predict, with_fresh_batch_norm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = load({"scale": "paper"})["sparsity"]["resnet20"]
    task, _ = sparsity.load_task(settings, Path("resources/paper"), torch.device("cpu"))
    dense = models.build("resnet20")
    dense.load_state_dict(torch.load(f"work/paper/sparsity/resnet20/dense/seed{args.seed}/model.pt"))
    train_x, test = task["train"][0], task["test"]

    def test_accuracy(model) -> float:
        return accuracy(predict(model, test[0]), test[1])

    plain_sets = {"train 2,000": train_x[:2000], "train 10,000": train_x[:10000], "train 45,000 (all)": train_x,
                  "validation 2,000": task["val"][0][:2000]}
    result = {"seed": args.seed, "own_running_statistics": {"test": test_accuracy(dense),
              "train_first_5000": accuracy(predict(dense, train_x[:5000]), task["train"][1][:5000])},
              "test_after_the_study_refresh": test_accuracy(sparsity.refreshed(dense, task, settings)),
              "test_after_refresh_on_plain": {name: test_accuracy(with_fresh_batch_norm(dense, images))
                                              for name, images in plain_sets.items()}}
    out = Path(__file__).with_name(f"resnet_bn_refresh-{args.seed}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
