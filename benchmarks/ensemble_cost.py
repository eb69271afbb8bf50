"""Cost of an FIP ensemble member against training one DeepNet member, and PGD throughput
against a whole ensemble, for the robustness study's network at one scale (not a test).

Measures, in one run and on one device, the median wall time of one SGD training step
(batch robustness.train.batch_size) and of one FIP sampler descent step (probe batch
robustness.fip.probe_batch, output distance to the start network), and the wall time of
white-box PGD (robustness.attack) against an ensemble of robustness.members networks.
The member cost ratio multiplies the step times by the step counts the scale's config
asks for: keep_every * descent_steps FIP steps per member against epochs * steps per
epoch (CIFAR-10's 50,000 training images less the validation split) training steps.
Writes benchmarks/results/ensemble_cost-<scale>.json and prints the ratios.

    python benchmarks/ensemble_cost.py [--scale laptop] [--threads 1] [--repeats 20] [--device cpu]
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fip_step_cost import median_seconds  # noqa: E402

from fipbench.config import load  # noqa: E402
from fipbench.ensemble import Ensemble, pgd  # noqa: E402
from fipbench.fip import OutputDistance, ZeroObjective, fip_loss  # noqa: E402
from fipbench.models import build  # noqa: E402
from fipbench.train import BatchStream, sgd_update, supervised_loss  # noqa: E402

CIFAR10_TRAIN_IMAGES = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="laptop")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--pgd-images", type=int, default=250)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    cfg = load({"scale": args.scale})
    settings = cfg["robustness"]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2048, 32, 32, 3), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (2048,), device=device)

    def network():
        return build(settings["network"], width=settings["width"]).to(device)

    model = network()
    sgd, walk = settings["train"], settings["fip"]
    train_update = sgd_update(torch.optim.SGD(model.parameters(), lr=sgd["lr"], momentum=sgd["momentum"]))
    stream = BatchStream(images, labels, sgd["batch_size"], generator)
    walker = network()
    distance = OutputDistance(model, images.permute(0, 3, 1, 2).float() / 255, walk["distance"])
    fip = fip_loss(distance, ZeroObjective(), 0.0, walk["probe_batch"], generator)
    fip_update = sgd_update(torch.optim.SGD(walker.parameters(), lr=walk["lr"], momentum=walk["momentum"]))

    def step(net, loss_fn, update):
        def run():
            net.train()
            update(loss_fn(net)[0])
        return run

    seconds = {"train_step": median_seconds(step(model, supervised_loss(stream), train_update), args.repeats, device),
               "fip_descent_step": median_seconds(step(walker, fip, fip_update), args.repeats, device)}
    train_images = CIFAR10_TRAIN_IMAGES - cfg["data"]["n_val"] if cfg["data"]["n_train"] is None else cfg["data"]["n_train"]
    train_steps = sgd["epochs"] * -(-train_images // sgd["batch_size"])
    fip_steps = walk["keep_every"] * walk["descent_steps"]
    member_seconds = {"deepnet": train_steps * seconds["train_step"], "fip": fip_steps * seconds["fip_descent_step"]}

    ensemble = Ensemble([network().eval() for _ in range(settings["members"])]).eval()
    inputs = images[:args.pgd_images].permute(0, 3, 1, 2).float() / 255
    throughput = {}
    for name, attacked in (("single_network", model.eval()), ("ensemble", ensemble)):
        start = time.perf_counter()
        pgd(attacked, inputs, labels[:args.pgd_images], settings["attack"], 8 / 255, seed=0)
        throughput[name] = args.pgd_images / (time.perf_counter() - start)
    result = {
        "scale": args.scale, "network": settings["network"], "width": settings["width"], "members": settings["members"],
        "seconds_per_step": seconds, "steps_per_member": {"deepnet": train_steps, "fip": fip_steps},
        "seconds_per_member": member_seconds, "fip_member_over_deepnet_member": member_seconds["fip"] / member_seconds["deepnet"],
        "pgd_images_per_second": throughput, "attack": settings["attack"],
        "threads": args.threads, "device": str(device), "repeats": args.repeats,
        "machine": platform.machine(), "torch": torch.__version__,
    }
    out = Path(__file__).parent / "results" / f"ensemble_cost-{args.scale}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("seconds_per_step", "seconds_per_member", "fip_member_over_deepnet_member",
                                              "pgd_images_per_second")}, indent=1))


if __name__ == "__main__":
    main()
