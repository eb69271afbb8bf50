"""Cost of one training step in fp32 and in bf16 (fipbench.precision: autocast, float32
losses) for every network the suite trains, at 1 and 2 threads, in one run (not a test).

Each step is the suite's own: supervised_loss on the next batch of random inputs, SGD with
momentum (sgd_update), inside the precision's autocast. Batch sizes are the laptop
scale's. BERT-tiny takes masked-token cross-entropy on 32 sequences of 64 tokens with 15 %
of them masked. Writes benchmarks/results/precision_cost.json and prints a table of
median ms per step and the fp32 / bf16 speed-up.

    python benchmarks/precision_cost.py [--repeats 20] [--threads 1 2] [--device cpu]
"""

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fip_step_cost import median_seconds  # noqa: E402
from fipbench.models import build  # noqa: E402
from fipbench.models.bert import TextModel, load_masked_lm  # noqa: E402
from fipbench.precision import PRECISIONS, autocast, has_bfloat16_units  # noqa: E402
from fipbench.train import BatchStream, sgd_update, supervised_loss  # noqa: E402

# name -> (model builder, image shape [H, W(, C)] or None for text, batch size)
NETWORKS = {
    "cnn5": (lambda: build("cnn5"), (28, 28), 64),
    "lenet300_100": (lambda: build("lenet300_100"), (28, 28), 128),
    "resnet20": (lambda: build("resnet20"), (32, 32, 3), 64),
    "resnet18_nf20": (lambda: build("resnet18", num_classes=10, nf=20), (32, 32, 3), 64),
    "resnet18_nf64": (lambda: build("resnet18", num_classes=100, nf=64), (32, 32, 3), 64),
    "vgg16_w0.25": (lambda: build("vgg16", width=0.25), (32, 32, 3), 128),
    "vgg16_w1": (lambda: build("vgg16", width=1.0), (32, 32, 3), 128),
    "bert_tiny_mlm": (None, None, 32),
}
SEQUENCE, MASKED = 64, 9  # tokens per sequence, masked positions per sequence (15 % of the 62 inner tokens)


def image_step(name: str, device: torch.device, generator: torch.Generator):
    """One SGD step of the suite's supervised loss on random uint8 images, as a closure."""
    make, shape, batch = NETWORKS[name]
    model = make().to(device).train()
    images = torch.randint(0, 256, (4 * batch, *shape), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (4 * batch,), device=device)
    loss_fn = supervised_loss(BatchStream(images, labels, batch, generator))
    update = sgd_update(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    return lambda: update(loss_fn(model)[0])


def bert_step(device: torch.device, generator: torch.Generator):
    """One SGD step of masked-token cross-entropy on BERT-tiny, as a closure."""
    model = TextModel(load_masked_lm("bert-tiny"), 4, mask_id=103).to(device).train()
    batch = NETWORKS["bert_tiny_mlm"][2]
    ids = torch.randint(1000, 30000, (batch, SEQUENCE), generator=generator).to(device)
    targets = ids[:, 1:1 + MASKED].reshape(-1).clone()
    ids[:, 1:1 + MASKED] = 103
    update = sgd_update(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    return lambda: update(torch.nn.functional.cross_entropy(model.masked_logits(ids), targets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "precision_cost.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = []
    print(f"{'network':<16}{'threads':>8}{'fp32 ms':>10}{'bf16 ms':>10}{'speed-up':>10}", flush=True)
    for name in args.networks:
        for threads in args.threads:
            torch.set_num_threads(threads)
            ms = {}
            for precision in PRECISIONS:
                torch.manual_seed(0)
                generator = torch.Generator().manual_seed(0)
                with autocast(precision, device):
                    step = bert_step(device, generator) if name == "bert_tiny_mlm" else image_step(name, device, generator)
                    ms[precision] = 1000 * median_seconds(step, args.repeats, device)
            rows.append({"network": name, "threads": threads, "batch_size": NETWORKS[name][2],
                         "ms_per_step": ms, "fp32_over_bf16": ms["fp32"] / ms["bf16"]})
            print(f"{name:<16}{threads:>8}{ms['fp32']:>10.1f}{ms['bf16']:>10.1f}{rows[-1]['fp32_over_bf16']:>9.2f}x",
                  flush=True)
    result = {"rows": rows, "device": str(device), "bfloat16_units": has_bfloat16_units(device),
              "amx": torch.cpu._is_amx_tile_supported(), "avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
              "repeats": args.repeats, "machine": platform.machine(), "torch": torch.__version__}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
