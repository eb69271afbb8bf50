"""Command line: `python -m fipbench.cli <command>` (or `fipbench <command>` once installed).

Every command takes --config, a JSON object of overrides (or a whole resolved config as
the Snakemake rules pass it), validated against config/schema.json before anything runs."""

import argparse
import importlib
import json
import sys
from pathlib import Path

from fipbench.config import ConfigError, load
from fipbench.workflow import CONTINUAL_STUDIES


def _config(overrides: dict) -> dict:
    try:
        return load(overrides)
    except ConfigError as error:
        sys.exit(f"fipbench: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fipbench", description=__doc__)
    parser.add_argument("--config", default="{}", help="JSON object of config overrides")
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser("prepare", help="verify and prepare one dataset into resources/")
    prepare.add_argument("--dataset", required=True)
    prepare.add_argument("--out", type=Path, required=True)
    prepare.add_argument("--raw-root", type=Path, default=Path("resources/raw"))

    fetch = commands.add_parser("fetch-data", help="build a data mirror (like shared/data) from the public sources")
    fetch.add_argument("--out", type=Path, required=True, help="the mirror folder; point FIPBENCH_DATA_MIRROR at it")

    base = commands.add_parser("base", help="train the two-task study's base network on MNIST")
    first = commands.add_parser("first-task", help="train the task-sequence study's network on its first task")
    learn = commands.add_parser("learn", help="learn a continual-learning study's later tasks with one method, from "
                                              "the network every method starts from")
    for sub in (base, first, learn):
        sub.add_argument("--seed", type=int, required=True)
        sub.add_argument("--data", type=Path, required=True, help="the study's prepared data: the folder of "
                                                                  "mnist.pt and fashion_mnist.pt (two-task), the "
                                                                  "stream's dataset file (task sequence)")
        sub.add_argument("--out", type=Path, required=True, help="results folder of this job")
        sub.add_argument("--threads", type=int, default=1)
    for sub in (base, first):
        sub.add_argument("--checkpoint", type=Path, required=True)
    learn.add_argument("--study", choices=list(CONTINUAL_STUDIES), required=True)
    learn.add_argument("--method", required=True)
    learn.add_argument("--start", type=Path, required=True, help="the base (or first-task) job's checkpoint")
    learn.add_argument("--split", choices=["val", "test"], default="test")
    learn.add_argument("--value", type=float, help="value of the method's tuned hyperparameter")
    learn.add_argument("--chosen", type=Path, help="chosen.json of the method's validation grid")
    learn.add_argument("--checkpoint-dir", type=Path, help="the path's checkpoints (two-task study)")

    dense = commands.add_parser("dense", help="train the sparsity study's dense network")
    sparsify = commands.add_parser("sparsify", help="make the dense network sparse at every target with one method")
    for sub in (dense, sparsify):
        sub.add_argument("--network", required=True)
        sub.add_argument("--seed", type=int, required=True)
        sub.add_argument("--data-dir", type=Path, required=True)
        sub.add_argument("--out", type=Path, required=True, help="results folder of this job")
        sub.add_argument("--threads", type=int, default=1)
    dense.add_argument("--work", type=Path, required=True, help="folder for model.pt and rewind.pt")
    sparsify.add_argument("--method", required=True)
    sparsify.add_argument("--base", type=Path, required=True, help="folder of the dense job's model.pt and rewind.pt")

    network = commands.add_parser("network", help="train one network of the robustness study (pool or surrogate)")
    ensemble = commands.add_parser("ensemble", help="build the members of one trial of one ensemble method")
    transfer = commands.add_parser("transfer", help="craft PGD images on the surrogate at every epsilon")
    attack = commands.add_parser("attack", help="attack and analyse one trial of one ensemble method")
    for sub in (network, ensemble, transfer, attack):
        sub.add_argument("--data-dir", type=Path, required=True)
        sub.add_argument("--out", type=Path, required=True, help="results folder of this job")
        sub.add_argument("--threads", type=int, default=1)
    for sub in (network, ensemble, transfer):
        sub.add_argument("--work", type=Path, required=True, help="folder for the job's networks or images")
    network.add_argument("--seed", type=int, required=True)
    for sub in (dense, network):
        sub.add_argument("--part", type=int, help="the part (0, 1, ...) of a training the recipe splits into "
                                                  "jobs (train.part_epochs); default: the last, or the whole")
    for sub in (ensemble, attack):
        sub.add_argument("--method", required=True)
        sub.add_argument("--trial", type=int, required=True)
    ensemble.add_argument("--networks", type=Path, required=True, help="folder of the pool's seed<k>/model.pt")
    for sub in (transfer, attack):
        sub.add_argument("--surrogate", type=Path, required=True, help="the surrogate's model.pt")
    attack.add_argument("--members", type=Path, required=True, help="the ensemble job's members.pt")
    attack.add_argument("--transfer", type=Path, required=True, help="the transfer job's transfer.pt")

    spectrum = commands.add_parser("spectrum", help="the metric's spectrum of one network in one state")
    spectrum.add_argument("--network", required=True)
    spectrum.add_argument("--state", required=True)
    spectrum.add_argument("--seed", type=int, required=True)
    spectrum.add_argument("--data", type=Path, required=True, help="the prepared dataset the network was trained on")
    spectrum.add_argument("--trained", type=Path, help="the trained network's state_dict (states trained, fip)")
    spectrum.add_argument("--out", type=Path, required=True, help="results folder of this job")
    spectrum.add_argument("--threads", type=int, default=1)

    text = commands.add_parser("bert-text", help="tokenize the BERT study's text once per scale")
    text.add_argument("--out", type=Path, required=True)
    bert_path = commands.add_parser("bert-path", help="walk one path of the BERT study from its start node")
    bert_path.add_argument("--path", required=True, help="base, sparse, yelp, imdb_fip, imdb_naive, co, cl_co or co_cl<p>")
    bert_oneshot = commands.add_parser("bert-oneshot", help="Fig. 5A's pruning baselines from the base model")
    bert_query = commands.add_parser("bert-query", help="score every node of the given paths by perplexity")
    bert_query.add_argument("--paths", nargs="+", required=True)
    for sub in (bert_path, bert_oneshot, bert_query):
        sub.add_argument("--text", type=Path, required=True, help="the bert-text file")
        sub.add_argument("--results", type=Path, required=True, help="the study's results folder (one per path)")
        sub.add_argument("--work", type=Path, required=True, help="the study's node folder (one per path)")
        sub.add_argument("--threads", type=int, default=1)

    select = commands.add_parser("select", help="pick a grid value on the validation split")
    select.add_argument("--out", type=Path, required=True)
    select.add_argument("--score", default="mean_class_incremental", help="final accuracy key the grid is scored on")
    select.add_argument("metrics", type=Path, nargs="+")

    aggregate = commands.add_parser("aggregate", help="tables and figures of one study at one scale")
    aggregate.add_argument("--study", choices=["continual_2task", "task_sequence", "sparsity", "robustness",
                                                    "geometry", "bert"],
                           default="continual_2task")
    check = commands.add_parser("check", help="compare results with config/claims.yaml")
    for sub in (aggregate, check):
        sub.add_argument("--scale", required=True)
        sub.add_argument("--results", type=Path, default=Path("results"))
    check.add_argument("--readme", type=Path, help="also rewrite this README's claims table of the scale")

    args = parser.parse_args(argv)
    overrides = json.loads(args.config)
    if args.command == "fetch-data":
        from fipbench.data.fetch import fetch_mirror
        from fipbench.data.mirror import DataError
        try:
            fetch_mirror(args.out)
        except DataError as error:
            sys.exit(f"fipbench: {error}")
        print(f"mirror ready: export FIPBENCH_DATA_MIRROR={args.out.resolve()}")
        return 0
    if args.command == "check":
        from fipbench.claims import run_check
        return run_check(_config({**overrides, "scale": args.scale}), args.results / args.scale, args.readme)
    cfg = _config(overrides)
    if args.command == "prepare":
        from fipbench.data.vision import prepare as prepare_dataset
        data = cfg["data"]
        prepare_dataset(args.dataset, args.out, args.raw_root, data["n_train"], data["n_val"],
                        data["n_test"], data["subset_seed"])
    elif args.command == "base":
        from fipbench.studies.continual_2task import train_base
        train_base(cfg, args.seed, args.data, args.checkpoint, args.out, args.threads)
    elif args.command == "first-task":
        from fipbench.studies.task_sequence import train_first_task
        train_first_task(cfg, args.seed, args.data, args.checkpoint, args.out, args.threads)
    elif args.command == "learn":
        from fipbench.selection import tuned_settings
        study = importlib.import_module(f"fipbench.studies.{args.study}")
        extra = {"checkpoint_dir": args.checkpoint_dir} if args.checkpoint_dir else {}
        study.learn(cfg, args.method, args.seed, args.data, args.start, args.out, args.threads, args.split,
                    tuned_settings(cfg[args.study], args.method, args.chosen, args.value), **extra)
    elif args.command == "dense":
        from fipbench.studies.sparsity import train_dense
        train_dense(cfg, args.network, args.seed, args.data_dir, args.work, args.out, args.threads, args.part)
    elif args.command == "sparsify":
        from fipbench.studies.sparsity import sparsify as sparsify_network
        sparsify_network(cfg, args.network, args.method, args.seed, args.data_dir, args.base, args.out, args.threads)
    elif args.command in ("network", "ensemble", "transfer", "attack"):
        from fipbench.studies import robustness
        if args.command == "network":
            robustness.train_network(cfg, args.seed, args.data_dir, args.work, args.out, args.threads, args.part)
        elif args.command == "ensemble":
            robustness.build_ensemble(cfg, args.method, args.trial, args.data_dir, args.networks, args.work, args.out,
                                      args.threads)
        elif args.command == "transfer":
            robustness.transfer_set(cfg, args.data_dir, args.surrogate, args.work, args.out, args.threads)
        else:
            robustness.evaluate_ensemble(cfg, args.method, args.trial, args.data_dir, args.members, args.surrogate,
                                         args.transfer, args.out, args.threads)
    elif args.command == "spectrum":
        from fipbench.studies.geometry import spectrum as measure_spectrum
        measure_spectrum(cfg, args.network, args.state, args.seed, args.data, args.trained, args.out, args.threads)
    elif args.command == "bert-text":
        from fipbench.data.text import prepare_text
        prepare_text(cfg["bert"]["text"], cfg["bert"]["model"], args.out)
    elif args.command in ("bert-path", "bert-oneshot", "bert-query"):
        from fipbench.studies import bert
        if args.command == "bert-path":
            bert.run_path(cfg, args.path, args.text, args.results, args.work, args.threads)
        elif args.command == "bert-oneshot":
            bert.run_oneshot(cfg, args.text, args.results, args.work, args.threads)
        else:
            bert.run_query(cfg, args.text, args.results, args.work, args.paths, args.threads)
    elif args.command == "select":
        from fipbench.selection import select as select_value
        select_value(args.metrics, args.out, args.score)
    elif args.command == "aggregate":
        from fipbench.report import AGGREGATORS
        AGGREGATORS[args.study](cfg, args.results / args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
