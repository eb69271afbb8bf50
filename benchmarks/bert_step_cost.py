"""Cost of FIP steps on the packaged BERT-tiny against plain training steps over the same
samples, and of one perplexity query (not a test).

Measures, in one run, on the laptop scale's prepared text and settings, the median wall
time of (all steps with Adam, dropout off, as the FIP walks run):
  cl_plain       cross-entropy on an IMDB batch and on a Yelp memory batch (their labels);
  cl_fip         the CL step of the study: IMDB cross-entropy + beta * output distance to
                 the start model on the same memory batch, reference outputs cached once;
  cl_uncached    the same with the reference model re-run on the memory batch every step;
  co_plain       masked-token cross-entropy on a batch of masked probe sequences;
  co_fip         the Co step as the study runs it: MLM output distance on the same batch
                 (cached masked-position distributions over all 30,522 words) + beta *
                 |w - P_p(w)|^2;
  co_fip_autograd  co_fip with the Bhattacharyya distance through autograd's log_softmax
                 and logsumexp instead of the engine's fused forward and backward;
  co_fip_top     co_fip with the reference coarse-grained to its top TOP words and the
                 rest (OutputDistance(top_k=TOP), the option bert.co.reference_top_k);
  co_uncached    co_fip with the reference model re-run every step;
and the seconds of one perplexity query (one model on one query sample: loading its
state_dict, then scoring) for the WikiText-2 and the IMDB query.
Writes benchmarks/results/bert_step_cost.json and prints a table with the ratios.

    python benchmarks/bert_step_cost.py --text resources/laptop/bert_text.pt [--threads 1] [--repeats 30]
"""

import argparse
import copy
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fip_step_cost import median_seconds  # noqa: E402
from fipbench.config import load  # noqa: E402
from fipbench.fip import DISTANCES, CrossEntropyObjective, OutputDistance, SparseProjectionObjective, fip_loss  # noqa: E402
from fipbench.models.bert import MaskedLMView  # noqa: E402
from fipbench.studies.bert import adam_update, build_model, load_text, masked_scores, memory_of, task_stream  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, required=True, help="the laptop scale's bert_text.pt")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--top", type=int, default=64, help="words kept per distribution in co_fip_top")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bert_step_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = load({"scale": "laptop"})["bert"]
    device = torch.device("cpu")
    generator = torch.Generator().manual_seed(0)
    text = load_text(args.text, device)
    model = build_model(settings, text["mask_id"], 0).eval()
    reference = copy.deepcopy(model).eval()
    cl, co = settings["cl"], settings["co"]
    update = adam_update(model, cl["lr"], None)

    # CL: IMDB batch + Yelp memory batch
    imdb = task_stream(text, "imdb", settings["imdb"]["batch_size"], generator)
    memory = memory_of(text, ["yelp"], cl["memory_per_task"], generator)
    memory_labels = torch.randint(0, 2, (len(memory),), generator=generator)
    distance = OutputDistance(model, memory, cl["distance"])
    cl_fip = fip_loss(distance, CrossEntropyObjective(imdb), cl["beta"], cl["memory_batch"], generator)

    def memory_batch():
        return torch.randperm(len(memory), generator=generator)[:cl["memory_batch"]]

    def cl_plain(net):
        inputs, labels = next(imdb)
        index = memory_batch()
        return F.cross_entropy(net(inputs), labels) + F.cross_entropy(net(memory[index]), memory_labels[index]), {}

    def cl_uncached(net):
        index = memory_batch()
        with torch.no_grad():
            target = F.log_softmax(reference(memory[index]), dim=-1)
        d = DISTANCES[cl["distance"]](net(memory[index]), target).mean()
        inputs, labels = next(imdb)
        return F.cross_entropy(net(inputs), labels) + cl["beta"] * d, {}

    # Co: masked probe sequences
    probes = text["probes"]
    view, reference_view = MaskedLMView(model), MaskedLMView(reference)
    full_distance = OutputDistance(reference_view, probes, co["distance"])
    top_distance = OutputDistance(reference_view, probes, co["distance"], top_k=args.top)
    co_fip = fip_loss(full_distance, SparseProjectionObjective(50), co["beta_end"], co["probe_batch"], generator)
    through_autograd = copy.copy(full_distance)
    through_autograd.distance = lambda logits, log_q: -torch.logsumexp(0.5 * (F.log_softmax(logits, -1) + log_q), -1)
    co_fip_autograd = fip_loss(through_autograd, SparseProjectionObjective(50), co["beta_end"], co["probe_batch"],
                               generator)
    co_fip_top = fip_loss(top_distance, SparseProjectionObjective(50), co["beta_end"], co["probe_batch"], generator)
    targets = full_distance.reference.argmax(-1)  # [N, m]: the reference's own top word at every mask

    def probe_batch():
        return torch.randperm(len(probes), generator=generator)[:co["probe_batch"]]

    def co_plain(net):
        index = probe_batch()
        logits = net(probes[index])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[index].reshape(-1)), {}

    def co_uncached(net):
        index = probe_batch()
        with torch.no_grad():
            target = F.log_softmax(reference_view(probes[index]), dim=-1)
        d = DISTANCES[co["distance"]](net(probes[index]), target).mean()
        return d + co["beta_end"] * SparseProjectionObjective(50)(net), {}

    def step_with(net, loss_fn):
        def step():
            update(loss_fn(net)[0])
        return step

    seconds = {}
    for round_ in range(2):  # two interleaved rounds; the median of each is kept, then their minimum
        for name, net, loss_fn in (("cl_plain", model, cl_plain), ("cl_fip", model, cl_fip),
                                   ("cl_uncached", model, cl_uncached), ("co_plain", view, co_plain),
                                   ("co_fip", view, co_fip), ("co_fip_autograd", view, co_fip_autograd),
                                   ("co_fip_top", view, co_fip_top),
                                   ("co_uncached", view, co_uncached)):
            value = median_seconds(step_with(net, loss_fn), args.repeats, device)
            seconds[name] = min(seconds.get(name, value), value)

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "node.pt"
        torch.save(model.state_dict(), state)
        query = {}
        for name, sample in (("wikitext", text["wikitext"]), ("imdb", text["imdb_query"])):
            began = time.perf_counter()
            model.load_state_dict(torch.load(state, map_location=device))
            masked_scores(model, sample, settings["eval_batch"])
            query[name] = time.perf_counter() - began
    result = {
        "seconds_per_step": seconds,
        "cl_fip_over_plain": seconds["cl_fip"] / seconds["cl_plain"],
        "co_fip_over_plain": seconds["co_fip"] / seconds["co_plain"],
        "cl_uncached_over_fip": seconds["cl_uncached"] / seconds["cl_fip"],
        "co_fip_autograd_over_plain": seconds["co_fip_autograd"] / seconds["co_plain"],
        "co_fip_top_over_plain": seconds["co_fip_top"] / seconds["co_plain"],
        "co_uncached_over_fip": seconds["co_uncached"] / seconds["co_fip"],
        "co_reference_bytes": {"full": full_distance.nbytes, f"top_{args.top}": top_distance.nbytes},
        "query_seconds": query,
        "query_sequences": {name: list(text[key]["ids"].shape) for name, key in (("wikitext", "wikitext"),
                                                                                 ("imdb", "imdb_query"))},
        "batches": {"imdb": settings["imdb"]["batch_size"], "memory": cl["memory_batch"], "probes": co["probe_batch"]},
        "threads": args.threads, "repeats": args.repeats, "machine": platform.machine(), "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'step':<14}{'ms':>10}")
    for name, value in seconds.items():
        print(f"{name:<14}{1000 * value:>10.1f}")
    print(f"CL: FIP / plain step over the same samples: {result['cl_fip_over_plain']:.2f}x (target <= 1.3x); "
          f"uncached / cached {result['cl_uncached_over_fip']:.2f}x")
    print(f"Co: FIP / plain step over the same samples: {result['co_fip_over_plain']:.2f}x (target <= 1.3x) with the "
          f"full distributions cached ({full_distance.nbytes:,} bytes; {result['co_fip_autograd_over_plain']:.2f}x with the "
          f"distance through autograd), {result['co_fip_top_over_plain']:.2f}x with the "
          f"top {args.top} ({top_distance.nbytes:,} bytes); uncached / cached {result['co_uncached_over_fip']:.2f}x")
    print("perplexity query of one model: " + ", ".join(f"{k} {v:.2f} s" for k, v in query.items()))


if __name__ == "__main__":
    main()
