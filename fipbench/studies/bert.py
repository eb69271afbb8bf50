"""BERT customisation (Fig. 5): paths of FIP operations from one masked-language model.

Every path starts from a node of another path (the base path from the pretrained model)
and applies one operation, saving a node (state_dict, node<k>.pt) every `node_every` steps:
- "mlm": masked-language training on WikiText-2 valid (the base model's re-adaptation);
- "finetune": plain fine-tuning on a sentiment task (Yelp, or IMDB naively);
- "cl": FIP learning a sentiment task: L = its cross-entropy, d = the output distance of
  the sentiment head to the start model on a memory of the tasks it has learned;
- "co": FIP sparsification through increasing targets (the sparsity study's walk):
  L = |w - P_p(w)|^2 over the encoder's weight matrices with beta growing geometrically,
  d = the distance to the start model's outputs, then the exact projection onto p; the
  outputs kept are the MLM distributions at the masked positions of held-out WikiText-2
  probes for a model that has learned no sentiment task, else the sentiment head's on a
  memory of the tasks it has learned.
One shared head: Yelp negative/positive are classes 0-1, IMDB 2-3. A path that starts from
a sparse model keeps its zeros (masked updates). Every node is evaluated: masked-token loss
and accuracy on the fixed WikiText-2 test sample, class- and task-incremental accuracy on
Yelp and IMDB test, sparsity counted in the weights. The query job scores every node's
pseudo-perplexity on WikiText-2 and IMDB text (Fig. 5E)."""

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from baselines import oneshot, random_sparse
from fipbench.data.text import random_masking
from fipbench.fip import CrossEntropyObjective, OutputDistance, SparseProjectionObjective, SparsifyWalk, fip_loss
from fipbench.layout import seed_folder
from fipbench.models.bert import MaskedLMView, TextModel, load_masked_lm, load_tokenizer
from fipbench.pruning import masked_update, measured_sparsity, project, prunable
from fipbench.results import Job, start_job
from fipbench.studies.bert_paths import path_spec
from fipbench.train import BatchStream, accuracy, flat_parameters, run_steps, sgd_update, supervised_loss

STUDY = "bert"
TASKS = {"yelp": (0, 1), "imdb": (2, 3)}  # task -> its classes in the shared head
SCORES = ("wikitext_mlm_loss", "wikitext_mlm_accuracy", "yelp_class_incremental", "yelp_task_incremental",
          "imdb_class_incremental", "imdb_task_incremental", "sparsity")  # evaluate()'s keys, in a node's record


def targets_of(settings: dict, path: str) -> list[float]:
    """The sparsities a co path walks through: Fig. 5A's for the base model, else 5C-D's."""
    return sorted(settings["sparsities"] if path == "sparse" else settings["path_sparsities"])


def load_text(path: Path, device: torch.device) -> dict:
    """The prepared text (fipbench.data.text.prepare_text), tensors on device."""
    def move(value):
        if isinstance(value, torch.Tensor):
            return value.to(device)
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(move(v) for v in value)
        return value
    return move(torch.load(path, map_location="cpu"))


def build_model(settings: dict, mask_id: int, seed: int, state: Path | None = None) -> TextModel:
    """The pretrained model with a seeded sentiment head, or, with state, the saved node."""
    torch.manual_seed(seed)
    model = TextModel(load_masked_lm(settings["model"]), settings["classes"], mask_id)
    if state is not None:
        model.load_state_dict(torch.load(state, map_location="cpu"))
    return model


@torch.no_grad()
def masked_scores(model: TextModel, sample: dict, batch_size: int) -> dict:
    """Masked-token loss (mean NLL, nats), accuracy (%) and pseudo-perplexity exp(loss) of
    model on a fixed-masked sample {"ids": [N, T], "targets": [N, m]}."""
    model.eval()
    nll, correct = 0.0, 0
    for start in range(0, len(sample["ids"]), batch_size):
        logits = model.masked_logits(sample["ids"][start:start + batch_size])
        targets = sample["targets"][start:start + batch_size].reshape(-1)
        nll += F.cross_entropy(logits, targets, reduction="sum").item()
        correct += int((logits.argmax(1) == targets).sum())
    count = sample["targets"].numel()
    return {"mlm_loss": nll / count, "mlm_accuracy": 100.0 * correct / count, "perplexity": math.exp(nll / count)}


@torch.no_grad()
def sentiment_scores(model: TextModel, text: dict, batch_size: int) -> dict:
    """Class-incremental (argmax over all 4 classes) and task-incremental (within the task's
    2) test accuracy (%) of each sentiment task."""
    model.eval()
    scores = {}
    for task, classes in TASKS.items():
        ids, labels = text[task]["test"]
        logits = torch.cat([model(ids[i:i + batch_size]).float() for i in range(0, len(ids), batch_size)])
        scores[f"{task}_class_incremental"] = accuracy(logits, labels + classes[0])
        scores[f"{task}_task_incremental"] = accuracy(logits, labels + classes[0], classes)
    return scores


def evaluate(model: TextModel, text: dict, batch_size: int) -> dict:
    """Every node's scores: WikiText-2 masked-token loss/accuracy, sentiment accuracies, sparsity (%)."""
    wikitext = masked_scores(model, text["wikitext"], batch_size)
    return {"wikitext_mlm_loss": wikitext["mlm_loss"], "wikitext_mlm_accuracy": wikitext["mlm_accuracy"],
            **sentiment_scores(model, text, batch_size), "sparsity": measured_sparsity(model)["sparsity"]}


def mlm_loss(text: dict, settings: dict, generator: torch.Generator):
    """Loss function for run_steps: masked-token cross-entropy of a TextModel on the next
    batch (settings["base"]["batch_size"]) of the re-adaptation sequences text["mlm_train"],
    masked at random (fipbench.data.text.random_masking)."""
    sequences = text["mlm_train"]
    stream = BatchStream(sequences, torch.zeros(len(sequences), dtype=torch.int64), settings["base"]["batch_size"],
                         generator, transform=None)
    rate, mask_id = settings["text"]["mask_rate"], text["mask_id"]

    def loss_fn(model):
        ids, targets = random_masking(next(stream)[0], rate, mask_id, generator)
        loss = F.cross_entropy(model.masked_logits(ids), targets)
        return loss, {"loss": loss.detach()}
    return loss_fn


def task_stream(text: dict, task: str, batch_size: int, generator: torch.Generator) -> BatchStream:
    """Mini-batches of a sentiment task's training ids with labels in the shared head."""
    return BatchStream(*text[task]["train"], batch_size, generator, label_offset=TASKS[task][0], transform=None)


def memory_of(text: dict, tasks: list[str], per_task: int, generator: torch.Generator) -> torch.Tensor:
    """Token ids [per_task * len(tasks), T] drawn from the tasks' training inputs, padded to the longest T."""
    chosen = [text[t]["train"][0][torch.randperm(len(text[t]["train"][1]), generator=generator)[:per_task]]
              for t in tasks]
    width = max(ids.shape[1] for ids in chosen)
    return torch.cat([F.pad(ids, (0, width - ids.shape[1])) for ids in chosen])


def kept_zeros(model: TextModel) -> dict | None:
    """Masks (True = kept) of a sparse model's nonzero prunable weights; None when it is dense."""
    weights = prunable(model)
    if all(bool((w != 0).all()) for w in weights.values()):
        return None
    return {name: w.detach() != 0 for name, w in weights.items()}


def adam_update(model, lr: float, masks: dict | None):
    """Update function for run_steps: Adam, masked when masks are given."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return sgd_update(optimizer) if masks is None else masked_update(optimizer, model, masks)


class PathWriter:
    """Saves the nodes of one path: state_dict to work/node<k>.pt and their scores."""

    def __init__(self, work: Path, text: dict, batch_size: int, start_id: str | None, start_model: TextModel):
        self.work, self.text, self.batch_size = Path(work), text, batch_size
        self.nodes, self.previous_id, self.previous = [], start_id, flat_parameters(start_model)
        self.work.mkdir(parents=True, exist_ok=True)

    def save(self, model: TextModel, path: str, step: int, **labels) -> dict:
        current = flat_parameters(model)
        node = {"node": len(self.nodes), "step": step, "previous": self.previous_id,
                "edge_length": (current - self.previous).norm().item(), **labels,
                **evaluate(model, self.text, self.batch_size)}
        torch.save(model.state_dict(), self.work / f"node{node['node']}.pt")
        self.nodes.append(node)
        self.previous_id, self.previous = f"{path}/{node['node']}", current
        print(f"{path} node {node['node']} step {step}: " + ", ".join(
            f"{k} {v:.3f}" for k, v in node.items() if isinstance(v, float)), flush=True)
        return node


def walk(model, steps: int, node_every: int, loss_fn, update, writer: PathWriter, path: str, step0: int,
         train_mode: bool, finish=None, walker=None, **labels) -> int:
    """steps optimiser steps on walker (model, or a view of it such as MaskedLMView), a node
    every node_every steps and at the end (after finish(model), e.g. the projection onto a
    sparse set); returns the step count after them."""
    done = 0
    while done < steps:
        chunk = min(node_every, steps - done)
        run_steps(walker or model, chunk, loss_fn, update, desc=f"{path} step {step0 + done}", train_mode=train_mode)
        done += chunk
        end = done == steps
        if end and finish is not None:
            finish(model)
        writer.save(model, path, step0 + done, stage_end=end, **labels)
    return step0 + steps


def start_node(path: str, results: Path, work: Path, seed: int) -> tuple[Path | None, str | None, dict | None]:
    """(state_dict file, node id "<path>/<k>", the node's record with its scores) a path
    starts from: the last node of its start path, or for co_cl<p> the co path's node at the
    end of its walk to p %; (None, None, None) for the base path. results, work: the
    study's results and node folders."""
    parent = path_spec(path)[2]
    if parent is None:
        return None, None, None
    nodes = json.loads((seed_folder(results, parent, seed=seed) / "metrics.json").read_text())["nodes"]
    if path.startswith("co_cl"):
        target = float(path.removeprefix("co_cl"))
        nodes = [n for n in nodes if n.get("stage_end") and n["target"] == target]
        if not nodes:
            raise ValueError(f"{path}: the co path has no node at {target:g} % (bert.path_sparsities)")
    last = nodes[-1]
    return seed_folder(work, parent, seed=seed) / f"node{last['node']}.pt", f"{parent}/{last['node']}", last


@dataclass
class PathStart:
    """What a path's operation gets: the model at the path's start node (walked in place),
    the study's settings, the tokenized text, the path's name and task (None for an
    operation on the masked-LM), the tasks the start node has learned, the writer of the
    path's nodes, the masks of the start node's zeros (kept zero), the path's generator."""
    model: TextModel
    settings: dict
    text: dict
    path: str
    task: str | None
    start_tasks: list[str]
    writer: PathWriter
    masks: dict
    generator: torch.Generator


def _mlm(run: PathStart) -> tuple[int, dict]:
    """Masked-LM re-adaptation of the pretrained model (the base path)."""
    stage = run.settings["base"]
    return walk(run.model, stage["steps"], stage["node_every"], mlm_loss(run.text, run.settings, run.generator),
                adam_update(run.model, stage["lr"], run.masks), run.writer, run.path, 0, True), {}


def _finetune(run: PathStart) -> tuple[int, dict]:
    """Plain fine-tuning on the path's sentiment task."""
    stage = run.settings[run.task]
    return walk(run.model, stage["steps"], stage["node_every"],
                supervised_loss(task_stream(run.text, run.task, stage["batch_size"], run.generator)),
                adam_update(run.model, stage["lr"], run.masks), run.writer, run.path, 0, True), {}


def _cl(run: PathStart) -> tuple[int, dict]:
    """FIP continual learning of the path's task: its cross-entropy + the output distance
    on a memory of the tasks the start node has learned."""
    stage, fip = run.settings[run.task], run.settings["cl"]
    memory = memory_of(run.text, run.start_tasks, fip["memory_per_task"], run.generator)
    distance = OutputDistance(run.model, memory, fip["distance"])
    objective = CrossEntropyObjective(task_stream(run.text, run.task, stage["batch_size"], run.generator))
    steps = walk(run.model, stage["steps"], stage["node_every"],
                 fip_loss(distance, objective, fip["beta"], fip["memory_batch"], run.generator),
                 adam_update(run.model, fip["lr"], run.masks), run.writer, run.path, 0, False)
    return steps, {"memory": {"inputs": len(memory), "bytes": memory.nbytes + distance.nbytes}}


def _co(run: PathStart) -> tuple[int, dict]:
    """FIP sparsification through the path's targets (sparsify)."""
    steps, memory, fill_mask = sparsify(run.model, run.settings, run.text, run.path, run.start_tasks, run.writer,
                                        run.generator)
    return steps, {"memory": memory, **({} if fill_mask is None else {"fill_mask": fill_mask})}


# operation (bert_paths.PATHS) -> function of a PathStart giving (optimiser steps, extra metrics)
OPERATIONS = {"mlm": _mlm, "finetune": _finetune, "cl": _cl, "co": _co}


def run_path(cfg: dict, path: str, text_file: Path, results: Path, work: Path, threads: int) -> None:
    """Walk one path from its start node (start_node; the pretrained model for the base path)
    and write its nodes (metrics["nodes"]) to results/<path>/ and their weights to work/<path>/."""
    settings = cfg[STUDY]
    seed = settings["seed"]
    device = start_job(cfg, seed, threads)
    operation, task, _, family = path_spec(path)
    start, start_id, start_record = start_node(path, results, work, seed)
    out_dir, work = seed_folder(results, path, seed=seed), seed_folder(work, path, seed=seed)
    text = load_text(text_file, device)
    generator = torch.Generator().manual_seed(seed)
    with Job(out_dir, cfg, seed, device, threads, {"text": text["sources"]}) as job:
        model = build_model(settings, text["mask_id"], seed, start).to(device)
        start_tasks = [] if start is None else json.loads((Path(start).parent / "tasks.json").read_text())
        tasks = start_tasks + ([task] if task else [])
        writer = PathWriter(work, text, settings["eval_batch"], start_id, model)
        began = time.perf_counter()
        run = PathStart(model, settings, text, path, task, start_tasks, writer, kept_zeros(model), generator)
        if operation == "mlm":
            start_record = writer.save(model, path, 0, stage_end=False)  # the pretrained model: the root of every path
        job.steps, extra = OPERATIONS[operation](run)
        job.timings = {"path_seconds": round(time.perf_counter() - began, 3)}
        (Path(work) / "tasks.json").write_text(json.dumps(tasks))
        scores = [key for key in writer.nodes[-1] if key in SCORES]
        start_scores = {key: start_record[key] for key in scores}
        final = {key: writer.nodes[-1][key] for key in scores}
        job.finish({"path": path, "operation": operation, "family": family, "tasks": tasks, "start": start_id,
                    "start_scores": start_scores, "final": final,
                    "change": {key: final[key] - start_scores[key] for key in scores}, "nodes": writer.nodes, **extra})


def sparsify(model: TextModel, settings: dict, text: dict, path: str, tasks: list[str], writer: PathWriter,
             generator: torch.Generator) -> tuple[int, dict, dict | None]:
    """The co operation (module docstring) through targets_of(settings, path); returns
    (optimiser steps, {"inputs", "bytes", "outputs"}: what the cached reference holds, and
    for the base model (Fig. 5A) the fill-mask table {"0" (dense), "<p>": ...}, else None).
    The reference is model as it comes in: its outputs are cached before the first step."""
    block = settings["co"]
    co = SparsifyWalk.of(block)
    if tasks:
        walked, probes, outputs = model, memory_of(text, tasks, settings["cl"]["memory_per_task"], generator), "sentiment"
        distance = OutputDistance(model, probes, co.distance)
        tokenizer, tables = None, None
    else:
        walked, probes, outputs = MaskedLMView(model), text["probes"], "masked-token distributions"
        distance = OutputDistance(walked, probes, co.distance, top_k=block["reference_top_k"])
        tokenizer = load_tokenizer(settings["model"])
        tables = {"0": fill_mask(model, tokenizer, settings["fill_mask"])}
    step = 0
    for target in targets_of(settings, path):
        loss_fn = fip_loss(distance, SparseProjectionObjective(target), co.beta_at, co.probe_batch, generator)
        step = walk(model, co.steps, block["node_every"], loss_fn, adam_update(model, co.lr, None), writer,
                    path, step, False, finish=lambda net, target=target: project(net, target), walker=walked,
                    target=target)
        if tables is not None:
            tables[f"{target:g}"] = fill_mask(model, tokenizer, settings["fill_mask"])
    memory = {"inputs": len(probes), "bytes": probes.nbytes + distance.nbytes, "outputs": outputs}
    if distance.words is not None:  # the reference's probability within its top words, mean over distributions
        memory.update(top_k=block["reference_top_k"], reference_mass_in_top_k=1 - distance.reference[..., -1].exp().mean().item())
    return step, memory, tables


@torch.no_grad()
def fill_mask(model: TextModel, tokenizer, sentences: list[str], top: int = 3) -> list[dict]:
    """[{"sentence", "top": [[word, probability], ...]}]: the model's top words for the one
    [MASK] of each sentence."""
    model.eval()
    table = []
    for sentence in sentences:
        ids = torch.tensor([tokenizer(sentence)["input_ids"]], device=next(model.parameters()).device)
        probabilities = model.masked_logits(ids)[0].float().softmax(-1)
        values, indices = probabilities.topk(top)
        table.append({"sentence": sentence, "top": [[tokenizer.convert_ids_to_tokens(int(i)), round(float(v), 4)]
                                                    for v, i in zip(values, indices)]})
    return table


def run_oneshot(cfg: dict, text_file: Path, results: Path, work: Path, threads: int) -> None:
    """Fig. 5A's baselines from the base model at every target: one-shot magnitude pruning
    without retraining and after masked MLM retraining for as many steps as the FIP path
    took to reach the target, and random sparse (no retraining); WikiText-2 scores."""
    settings = cfg[STUDY]
    seed = settings["seed"]
    device = start_job(cfg, seed, threads)
    text = load_text(text_file, device)
    generator = torch.Generator().manual_seed(seed)
    start, start_id, _ = start_node("sparse", results, work, seed)
    with Job(seed_folder(results, "oneshot", seed=seed), cfg, seed, device, threads, {"text": text["sources"]}) as job:
        base = build_model(settings, text["mask_id"], seed, start).to(device)
        sparse = json.loads((seed_folder(results, "sparse", seed=seed) / "metrics.json").read_text())
        fip = {f"{n['target']:g}": n for n in sparse["nodes"] if n["stage_end"]}
        stage, levels = settings["base"], {}
        for target in targets_of(settings, "sparse"):
            pruned, masks = oneshot.prune_once(base, target)
            budget = fip[f"{target:g}"]["step"]  # the FIP path's optimiser steps from the base model to this target
            retrained = copy.deepcopy(pruned)
            run_steps(retrained, budget, mlm_loss(text, settings, generator),
                      adam_update(retrained, stage["lr"], masks), desc=f"one-shot {target} % retraining")
            job.steps += budget
            randomly, _ = random_sparse.sample(base, target, generator)
            levels[f"{target:g}"] = {
                "oneshot": {**masked_scores(pruned, text["wikitext"], settings["eval_batch"]),
                            "sparsity": measured_sparsity(pruned)["sparsity"]},
                "oneshot_retrained": {**masked_scores(retrained, text["wikitext"], settings["eval_batch"]),
                                      "sparsity": measured_sparsity(retrained)["sparsity"], "steps": budget},
                "random": {**masked_scores(randomly, text["wikitext"], settings["eval_batch"]),
                           "sparsity": measured_sparsity(randomly)["sparsity"]}}
            print(f"one-shot {target} %: " + ", ".join(f"{k} loss {v['mlm_loss']:.3f}" for k, v in levels[f'{target:g}'].items()),
                  flush=True)
        dense = masked_scores(base, text["wikitext"], settings["eval_batch"])
        for key, level in levels.items():
            level["fip"] = {"mlm_loss": fip[key]["wikitext_mlm_loss"], "mlm_accuracy": fip[key]["wikitext_mlm_accuracy"],
                            "sparsity": fip[key]["sparsity"], "steps": fip[key]["step"],
                            "accuracy_retained": fip[key]["wikitext_mlm_accuracy"] / dense["mlm_accuracy"]}
        from_50 = [level for key, level in levels.items() if float(key) >= 50]
        job.finish({"start": start_id, "dense": dense, "levels": levels,
                    # nats by which FIP's WikiText loss is below one-shot's without retraining, the least over p >= 50
                    "fip_loss_margin_from_50": min(lv["oneshot"]["mlm_loss"] - lv["fip"]["mlm_loss"] for lv in from_50)
                    if from_50 else None})


def run_query(cfg: dict, text_file: Path, results: Path, work: Path, paths: list[str], threads: int) -> None:
    """Fig. 5E: every node of every path is scored by pseudo-perplexity (exp of the mean
    masked-token NLL over the fixed masking) on the WikiText-2 and IMDB query samples;
    writes the graph: nodes (with their family and scores) and edges (consecutive nodes of
    a path, a path's first node joined to its start node, length = Euclidean weight distance)."""
    settings = cfg[STUDY]
    device = start_job(cfg, settings["seed"], threads)
    text = load_text(text_file, device)
    seed = settings["seed"]
    with Job(seed_folder(results, "query", seed=seed), cfg, seed, device, threads, {"text": text["sources"]}) as job:
        model = build_model(settings, text["mask_id"], settings["seed"]).to(device)
        found = {path: json.loads((seed_folder(results, path, seed=seed) / "metrics.json").read_text())
                 for path in paths}
        nodes, edges, seconds = [], [], {"wikitext": 0.0, "imdb": 0.0}
        ends, weights = order_ends(found, settings["path_sparsities"]), {}
        for path in paths:
            for node in found[path]["nodes"]:
                model.load_state_dict(torch.load(seed_folder(work, path, seed=seed) / f"node{node['node']}.pt",
                                                 map_location=device))
                scores = {}
                for query, sample in (("wikitext", text["wikitext"]), ("imdb", text["imdb_query"])):
                    began = time.perf_counter()
                    scores[f"{query}_perplexity"] = masked_scores(model, sample, settings["eval_batch"])["perplexity"]
                    seconds[query] += time.perf_counter() - began
                node_id = f"{path}/{node['node']}"
                if node_id in ends:
                    weights[node_id] = (flat_parameters(model).clone(), node)
                nodes.append({"id": node_id, "path": path, "family": found[path]["family"], "step": node["step"],
                              "sparsity": node["sparsity"], "target": node.get("target"), **scores})
                if node["previous"] is not None:
                    edges.append({"from": node["previous"], "to": node_id, "length": node["edge_length"]})
                print(f"{node_id}: " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()), flush=True)
        job.timings = {f"{query}_seconds_per_model": value / len(nodes) for query, value in seconds.items()}
        best = {query: min(nodes, key=lambda n: n[f"{query}_perplexity"])["id"] for query in ("wikitext", "imdb")}
        ranks = {query: family_ranks(nodes, f"{query}_perplexity") for query in ("wikitext", "imdb")}
        preference = {query: order_preference(nodes, f"{query}_perplexity") for query in ("wikitext", "imdb")}
        orders = compare_orders(ends, weights)
        job.finish({"nodes": nodes, "edges": edges, "best": best, "family_rank": ranks,
                    "order_preference": preference, "orders": orders,
                    "orders_min_separation": min(o["separation"] for o in orders.values()),
                    "orders_max_imdb_difference": max(abs(o["imdb_difference"]) for o in orders.values()),
                    "query_sequences": {q: list(text[s]["ids"].shape) for q, s in (("wikitext", "wikitext"),
                                                                                   ("imdb", "imdb_query"))}})


def order_ends(found: dict, sparsities: list[int]) -> dict:
    """{node id: role} of the nodes compare_orders needs: the Yelp model, and per sparsity p
    the end of CL-then-Co (cl_co's node at the end of its walk to p) and of Co-then-CL
    (co_cl<p>'s last node). found: {path: its metrics}."""
    def nodes(path):
        return found[path]["nodes"]
    ends = {f"yelp/{nodes('yelp')[-1]['node']}": ("yelp", None)}
    cl_co = {n["target"]: n for n in nodes("cl_co") if n["stage_end"]}
    for p in sparsities:
        ends[f"cl_co/{cl_co[p]['node']}"] = ("cl_co", p)
        ends[f"co_cl{p}/{nodes(f'co_cl{p}')[-1]['node']}"] = ("co_cl", p)
    return ends


def compare_orders(ends: dict, weights: dict) -> dict:
    """Per sparsity p (key "p"): the Euclidean weight distance between the end points of the
    two orders, the distance each moved from the Yelp model, separation = distance / the
    larger of those, and both ends' accuracies (IMDB task-incremental, Yelp class-incremental)
    with imdb_difference = CL-then-Co's minus Co-then-CL's. weights: {node id: (vector, node)}."""
    by_role = {role: weights[node_id] for node_id, role in ends.items()}
    yelp = by_role[("yelp", None)][0]
    orders = {}
    for (kind, p), (cl_co, cl_co_node) in by_role.items():
        if kind != "cl_co":
            continue
        co_cl, co_cl_node = by_role[("co_cl", p)]
        distance = (cl_co - co_cl).norm().item()
        moved = {"cl_co": (cl_co - yelp).norm().item(), "co_cl": (co_cl - yelp).norm().item()}
        orders[f"{p:g}"] = {"distance": distance, "moved_cl_co": moved["cl_co"], "moved_co_cl": moved["co_cl"],
                            "separation": distance / max(moved.values()),
                            **{f"{k}_{name}": node[k] for name, node in (("cl_co", cl_co_node), ("co_cl", co_cl_node))
                               for k in ("imdb_task_incremental", "yelp_class_incremental", "sparsity")},
                            "imdb_difference": cl_co_node["imdb_task_incremental"] - co_cl_node["imdb_task_incremental"]}
    return orders


ORDER_FAMILIES = ("CL-then-Co", "Co-then-CL")  # the two families Fig. 5E compares


def order_preference(nodes: list[dict], score: str) -> dict:
    """{family: log(best score of the other order family / its own best score)} for the
    two order families (best = lowest perplexity): positive where the query prefers that
    family, in nats; base, sparse and the other families do not enter (family_ranks has them)."""
    best = {family: min(node[score] for node in nodes if node["family"] == family) for family in ORDER_FAMILIES}
    first, second = ORDER_FAMILIES
    return {first: math.log(best[second] / best[first]), second: math.log(best[first] / best[second])}


def family_ranks(nodes: list[dict], score: str) -> dict:
    """{family: rank} of the families by their best (lowest) `score` among their nodes, 1 = best."""
    best = {}
    for node in nodes:
        best[node["family"]] = min(best.get(node["family"], math.inf), node[score])
    return {family: rank for rank, family in enumerate(sorted(best, key=best.get), start=1)}
