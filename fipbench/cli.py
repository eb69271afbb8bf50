"""Command line: `python -m fipbench.cli <command>` (or `fipbench <command>` once installed).

Every command takes --config, a JSON object of overrides (or a whole resolved config as
the Snakemake rules pass it), validated against config/schema.json before anything runs.
The commands are one table, COMMANDS: each names the function it runs and the options it
takes, each option declared once in OPTIONS under the name of the function's parameter."""

import argparse
import importlib
import json
import sys
from pathlib import Path

from fipbench.config import ConfigError, load
from fipbench.workflow import CONTINUAL_STUDIES

STUDIES = ["continual_2task", "task_sequence", "sparsity", "robustness", "geometry", "bert"]

OPTIONS = {  # parameter name -> (flag, argparse keywords); every option is required unless it has a default
    "seed": ("--seed", {"type": int}),
    "threads": ("--threads", {"type": int, "default": 1}),
    "out_dir": ("--out", {"type": Path, "help": "results folder of this job"}),
    "out": ("--out", {"type": Path, "help": "the file or folder written"}),
    "data": ("--data", {"type": Path, "help": "the prepared data: the folder of mnist.pt and fashion_mnist.pt "
                                              "(two-task), the dataset file (task sequence, spectrum)"}),
    "data_dir": ("--data-dir", {"type": Path, "help": "the folder of the prepared datasets"}),
    "checkpoint": ("--checkpoint", {"type": Path, "help": "where the trained network goes"}),
    "study": ("--study", {"choices": STUDIES}),
    "continual_study": ("--study", {"choices": CONTINUAL_STUDIES}),
    "method": ("--method", {}),
    "start": ("--start", {"type": Path, "help": "the base (or first-task) job's checkpoint"}),
    "split": ("--split", {"choices": ["val", "test"], "default": "test"}),
    "value": ("--value", {"type": float, "default": None, "help": "value of the method's tuned hyperparameter"}),
    "chosen": ("--chosen", {"type": Path, "default": None, "help": "chosen.json of the method's validation grid"}),
    "checkpoint_dir": ("--checkpoint-dir", {"type": Path, "default": None,
                                            "help": "the path's checkpoints (two-task study)"}),
    "network": ("--network", {}),
    "work": ("--work", {"type": Path, "help": "folder of the job's networks, images or nodes"}),
    "part": ("--part", {"type": int, "default": None, "help": "the part (0, 1, ...) of a training the recipe "
                                                              "splits into jobs (train.part_epochs), of FIP's "
                                                              "reach walk (fip.reach.cycles_per_part) or of LTH's "
                                                              "levels (lth.levels_per_part); default: "
                                                              "the last, or the whole"}),
    "lth_work": ("--work", {"type": Path, "default": None, "help": "folder of LTH's parts (lth.levels_per_part)"}),
    "slice_name": ("--name", {"help": "the slice (fipbench slices lists them)"}),
    "cores": ("--cores", {"type": int, "default": 1, "help": "Snakemake's --cores for the slice's jobs"}),
    "state_from": ("--state-from", {"type": Path, "default": None,
                                    "help": "an earlier slice's output folder to take the state in from"}),
    "base_dir": ("--base", {"type": Path, "help": "folder of the dense job's model.pt and rewind.pt"}),
    "trial": ("--trial", {"type": int}),
    "networks": ("--networks", {"type": Path, "help": "folder of the pool's seed<k>/model.pt"}),
    "surrogate": ("--surrogate", {"type": Path, "help": "the surrogate's model.pt"}),
    "single": ("--single", {"type": Path, "help": "the model.pt of the network the attack is calibrated on"}),
    "calibration": ("--calibration", {"type": Path, "help": "the calibration job's metrics.json"}),
    "members_path": ("--members", {"type": Path, "help": "the ensemble job's members.pt"}),
    "transfer": ("--transfer", {"type": Path, "help": "the transfer job's transfer.pt"}),
    "reach_transfer": ("--transfer", {"type": Path, "default": None,
                                      "help": "the transfer job's transfer.pt (fip scores its reach on it)"}),
    "state": ("--state", {}),
    "trained": ("--trained", {"type": Path, "default": None,
                              "help": "the trained network's state_dict (states trained, fip)"}),
    "text_file": ("--text", {"type": Path, "help": "the bert-text file"}),
    "path": ("--path", {"help": "base, sparse, yelp, imdb_fip, imdb_naive, co, cl_co or co_cl<p>"}),
    "paths": ("--paths", {"nargs": "+"}),
    "results": ("--results", {"type": Path, "help": "the study's results folder (one per path)"}),
    "results_root": ("--results", {"type": Path, "default": Path("results"), "help": "the folder of one results "
                                                                                     "tree per scale"}),
    "dataset": ("--dataset", {}),
    "raw_root": ("--raw-root", {"type": Path, "default": Path("resources/raw")}),
    "scale": ("--scale", {}),
    "readme": ("--readme", {"type": Path, "default": None, "help": "also rewrite this README's claims table"}),
    "score": ("--score", {"default": "mean_class_incremental", "help": "final accuracy key the grid is scored on"}),
    "metrics": ("metrics", {"type": Path, "nargs": "+"}),
}


def prepare_dataset(cfg: dict, dataset: str, out: Path, raw_root: Path) -> None:
    from fipbench.data.vision import prepare
    data = cfg["data"]
    prepare(dataset, out, raw_root, data["n_train"], data["n_val"], data["n_test"], data["subset_seed"])


def fetch_data(cfg: dict, out: Path) -> None:
    from fipbench.data.fetch import fetch_mirror
    from fipbench.data.mirror import DataError
    try:
        fetch_mirror(out)
    except DataError as error:
        sys.exit(f"fipbench: {error}")
    print(f"mirror ready: export FIPBENCH_DATA_MIRROR={out.resolve()}")


def learn(cfg: dict, continual_study: str, method: str, seed: int, data: Path, start: Path, out_dir: Path,
          threads: int, split: str, value: float | None, chosen: Path | None, checkpoint_dir: Path | None) -> None:
    """A continual-learning study's learn job, with the method's tuned hyperparameter."""
    from fipbench.selection import tuned_settings
    extra = {"checkpoint_dir": checkpoint_dir} if checkpoint_dir else {}
    importlib.import_module(f"fipbench.studies.{continual_study}").learn(
        cfg, method, seed, data, start, out_dir, threads, split,
        tuned_settings(cfg[continual_study], method, chosen, value), **extra)


def bert_text(cfg: dict, out: Path) -> None:
    from fipbench.data.text import prepare_text
    prepare_text(cfg["bert"]["text"], cfg["bert"]["model"], out)


def select(cfg: dict, metrics: list[Path], out: Path, score: str) -> None:
    from fipbench.selection import select as select_value
    select_value(metrics, out, score)


def aggregate(cfg: dict, study: str, scale: str, results_root: Path) -> None:
    from fipbench.report import AGGREGATORS
    AGGREGATORS[study](cfg, results_root / scale)


def run_slice(cfg: dict, slice_name: str, out: Path, cores: int, state_from: Path | None) -> None:
    from fipbench.slices import run_slice as run
    run(cfg, slice_name, out, cores, state_from)


def list_slices(cfg: dict, scale: str) -> None:
    from fipbench.slices import slices
    for piece in slices(cfg).values():
        print(f"{piece.name}: {len(piece.targets)} targets, takes in {len(piece.state_in)} files, "
              f"hands on {len(piece.state_out)}")


def check(cfg: dict, scale: str, results_root: Path, readme: Path | None) -> int:
    from fipbench.claims import run_check
    return run_check(cfg, results_root / scale, readme)


JOB = ["out_dir", "threads"]
COMMANDS = {  # command -> (function as "module:name" or one of this module's, help, its options after cfg)
    "prepare": (prepare_dataset, "verify and prepare one dataset into resources/", ["dataset", "out", "raw_root"]),
    "fetch-data": (fetch_data, "build a data mirror (like shared/data) from the public sources; point "
                               "FIPBENCH_DATA_MIRROR at --out", ["out"]),
    "base": ("continual_2task:train_base", "train the two-task study's base network on MNIST",
             ["seed", "data", "checkpoint", *JOB]),
    "first-task": ("task_sequence:train_first_task", "train the task-sequence study's network on its first task",
                   ["seed", "data", "checkpoint", *JOB]),
    "learn": (learn, "learn a continual-learning study's later tasks with one method, from the network every "
                     "method starts from",
              ["continual_study", "method", "seed", "data", "start", *JOB, "split", "value", "chosen", "checkpoint_dir"]),
    "dense": ("sparsity:train_dense", "train the sparsity study's dense network",
              ["network", "seed", "data_dir", "work", *JOB, "part"]),
    "sparsify": ("sparsity:sparsify", "make the dense network sparse at every target with one method",
                 ["network", "method", "seed", "data_dir", "base_dir", *JOB, "lth_work", "part"]),
    "network": ("robustness:train_network", "train one network of the robustness study (pool or surrogate)",
                ["seed", "data_dir", "work", *JOB, "part"]),
    "ensemble": ("robustness:build_ensemble", "build the members of one trial of one ensemble method",
                 ["method", "trial", "data_dir", "networks", "work", *JOB, "reach_transfer", "part"]),
    "calibrate": ("robustness:calibrate_attack", "find the transfer attack's strength at which one network falls "
                                                 "to the paper's accuracy", ["data_dir", "surrogate", "single", *JOB]),
    "transfer": ("robustness:transfer_set", "craft PGD images on the surrogate at every attack strength",
                 ["data_dir", "surrogate", "calibration", "work", *JOB]),
    "attack": ("robustness:evaluate_ensemble", "attack and analyse one trial of one ensemble method",
               ["method", "trial", "data_dir", "members_path", "surrogate", "transfer", *JOB]),
    "spectrum": ("geometry:spectrum", "the metric's spectrum of one network in one state",
                 ["network", "state", "seed", "data", "trained", *JOB]),
    "bert-text": (bert_text, "tokenize the BERT study's text once per scale", ["out"]),
    "bert-path": ("bert:run_path", "walk one path of the BERT study from its start node",
                  ["path", "text_file", "results", "work", "threads"]),
    "bert-oneshot": ("bert:run_oneshot", "Fig. 5A's pruning baselines from the base model",
                     ["text_file", "results", "work", "threads"]),
    "bert-query": ("bert:run_query", "score every node of the given paths by perplexity",
                   ["text_file", "results", "work", "paths", "threads"]),
    "select": (select, "pick a grid value on the validation split", ["metrics", "out", "score"]),
    "aggregate": (aggregate, "tables and figures of one study at one scale", ["study", "scale", "results_root"]),
    "check": (check, "compare results with config/claims.yaml", ["scale", "results_root", "readme"]),
    "slices": (list_slices, "list the slices of a scale (fipbench/slices.py)", ["scale"]),
    "slice": (run_slice, "run one slice and write its results, state out and slice.json to --out",
              ["slice_name", "out", "cores", "state_from"]),
}


def function_of(command: str):
    """The function COMMANDS names for command ("<study>:<name>" is in fipbench.studies)."""
    target = COMMANDS[command][0]
    if callable(target):
        return target
    module, name = target.split(":")
    return getattr(importlib.import_module(f"fipbench.studies.{module}"), name)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="fipbench", description=__doc__)
    top.add_argument("--config", default="{}", help="JSON object of config overrides")
    commands = top.add_subparsers(dest="command", required=True)
    for command, (_, help_text, options) in COMMANDS.items():
        sub = commands.add_parser(command, help=help_text)
        for name in options:
            flag, keywords = OPTIONS[name]
            if flag.startswith("--"):
                keywords = {"dest": name, "required": "default" not in keywords, **keywords}
            sub.add_argument(flag, **keywords)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = json.loads(args.config)
    if "scale" in COMMANDS[args.command][2]:
        overrides = {**overrides, "scale": args.scale}
    try:
        cfg = load(overrides)
    except ConfigError as error:
        sys.exit(f"fipbench: {error}")
    code = function_of(args.command)(cfg, **{name: getattr(args, name) for name in COMMANDS[args.command][2]})
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
