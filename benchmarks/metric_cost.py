"""Cost of the metric of Eq. 2 (fipbench.fip.metric) on the two-task CNN (not a test).

Measures, in one run and on one device: the median wall time of one metric-vector product
g v over the probe inputs against one forward and backward pass (cross-entropy) over the
same inputs, and the wall time and number of products of Lanczos for the top-k
eigenvalues of g (scipy's eigsh, relative tolerance --tol). The network is the laptop
base network of the two-task study when its checkpoint exists (else one at
initialisation; the JSON says which); probes are the first MNIST training images.
Writes benchmarks/results/metric_cost.json and prints the ratio.

    python benchmarks/metric_cost.py [--probes 1000] [--k 50] [--threads 2] [--tol 1e-3]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fip_step_cost import median_seconds  # noqa: E402

from fipbench.data.vision import load_splits, to_input  # noqa: E402
from fipbench.fip import metric  # noqa: E402
from fipbench.models import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=Path("work/laptop/continual_2task/base/seed0/model.pt"))
    parser.add_argument("--data", type=Path, default=Path("resources/laptop/mnist.pt"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "metric_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build("cnn5")
    trained = args.checkpoint.is_file()
    if trained:
        model.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    model.eval()
    task, _ = load_splits(args.data, torch.device("cpu"))
    probes, labels = to_input(task["train"][0][:args.probes]), task["train"][1][:args.probes]
    params = [p for p in model.parameters() if p.requires_grad]
    direction = {name: torch.randn_like(p) for name, p in metric.trainable(model).items()}

    def forward_backward():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(probes), labels).backward()

    seconds = {
        "forward_backward": median_seconds(forward_backward, args.repeats, torch.device("cpu")),
        "metric_vector_product": median_seconds(lambda: metric.metric_vector_product(model, probes, direction),
                                                args.repeats, torch.device("cpu")),
    }
    start = time.perf_counter()
    values, products = metric.top_eigenvalues(model, probes, args.k, tol=args.tol)
    seconds["top_eigenvalues"] = time.perf_counter() - start
    result = {
        "network": "cnn5 " + ("trained (" + str(args.checkpoint) + ")" if trained else "at initialisation"),
        "parameters": sum(p.numel() for p in params), "probes": args.probes, "k": args.k, "tol": args.tol,
        "seconds": seconds, "products_in_lanczos": products,
        "product_over_forward_backward": seconds["metric_vector_product"] / seconds["forward_backward"],
        "top_eigenvalues": values.tolist(),
        "threads": args.threads, "machine": platform.machine(), "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "top_eigenvalues"}, indent=1))


if __name__ == "__main__":
    main()
