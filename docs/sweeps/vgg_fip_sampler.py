"""How far the fixed-length FIP ensemble sampler moves, and what that buys (docs/deviations.md):
from one trained pool network, sample an ensemble (a member every 2nd cycle) at several
perturbation sizes epsilon (all other walk settings from the config) and score every
ensemble the same way. Run from the
repository root after the pool network and the transfer set of that scale exist:

    python docs/sweeps/vgg_fip_sampler.py --scale laptop --epsilons 0.02 0.05 0.1 0.2 0.5 1.0

Writes docs/sweeps/vgg_fip_sampler.json: per epsilon, the members' distance from the start
network (relative to its norm), validation accuracy of members and ensemble, per-layer
representation diversity on validation images, and the transfer-attack accuracy at the
headline epsilon (test images, the study's transfer set; reported, not used to choose)."""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fipbench.analysis import representation_diversity  # noqa: E402
from fipbench.config import load  # noqa: E402
from fipbench.data.vision import to_input  # noqa: E402
from fipbench.ensemble import Ensemble  # noqa: E402
from fipbench.fip import EnsembleWalk, OutputDistance, sample_members  # noqa: E402
from fipbench.studies import robustness  # noqa: E402
from fipbench.train import flat_parameters  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="laptop")
    parser.add_argument("--seed", type=int, default=0, help="pool network the walks start from")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    cfg = load({"scale": args.scale})
    work = Path(f"work/{args.scale}/robustness")
    settings, device, task, _ = robustness.setup(cfg, args.seed, Path(f"resources/{args.scale}"), args.threads)
    base = robustness.load_network(settings, work / "network" / f"seed{args.seed}" / "model.pt", device)
    start = flat_parameters(base)
    distance = OutputDistance(base, to_input(task["train"][0][:settings["fip"]["probe_images"]]),
                              settings["fip"]["distance"])
    headline = robustness.epsilon_key(settings["attack"]["headline_epsilon"])
    crafted = torch.load(work / "transfer" / "transfer.pt", map_location=device)[headline]
    labels = task["test"][1][:len(crafted)]
    val_images = task["val"][0][:settings["analysis"]["diversity_images"]]
    result = {"scale": args.scale, "start_seed": args.seed, "sampler": settings["fip"], "members": settings["members"],
              "start_val_accuracy": robustness.clean_accuracy(base, task)["val_accuracy"], "runs": []}
    for epsilon in args.epsilons:
        walk = EnsembleWalk.of({**settings["fip"], "relative_perturbation": epsilon, "keep_every": 2})
        states, cycles = sample_members(base, distance, walk, settings["members"],
                                        torch.Generator().manual_seed(args.seed))
        members = [robustness.refreshed(robustness.load_state(settings, s, device), task, settings) for s in states]
        ensemble = Ensemble(members).eval()
        diversity = representation_diversity(members, val_images)
        run = {"epsilon": epsilon,
               "relative_distance": [((flat_parameters(m) - start).norm() / start.norm()).item() for m in members],
               "final_output_distance": [c["distance"] for c in cycles],
               "val": robustness.accuracies(members, ensemble, to_input(task["val"][0]), task["val"][1]),
               "diversity_val": {"per_layer": diversity, "early_mean": sum(diversity[:6]) / 6},
               f"transfer_{headline}_test": robustness.accuracies(members, ensemble, crafted, labels)}
        result["runs"].append(run)
        print(json.dumps({k: run[k] for k in ("epsilon", "val", "diversity_val")})[:400], flush=True)
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
