"""Two-task continual learning (Fig. 2A-C, 2F(i)): a CNN trained on MNIST learns
Fashion-MNIST by FIP (with one of its solvers: fip, fip_normalised, fip_exact, fip_smooth), naive
fine-tuning, OGD, EWC, GEM or replay, all from one base network.

One 20-way head is shared: MNIST uses outputs 0-9, Fashion-MNIST outputs 10-19. Every
method gets the same epochs, batch size and SGD settings on the new task."""

import copy
import json
from pathlib import Path

import torch
from torch.optim.swa_utils import update_bn

from baselines import ogd
from baselines.avalanche_cl import AVALANCHE_PLUGINS, learn_stream
from fipbench import models
from fipbench.data.vision import load_splits, to_input
from fipbench.fip import CrossEntropyObjective, OutputDistance, exact_update, fip_loss, normalised_update
from fipbench.results import Job, resolve_device, seed_everything, write_json_atomic
from fipbench.train import BatchStream, accuracy, predict, run_steps, sgd_update, supervised_loss

STUDY = "continual_2task"
TASKS = {"mnist": 0, "fashion_mnist": 10}  # dataset -> offset of its labels in the shared head
TUNED = {"fip": "beta", "ewc": "lambda", "gem": "strength"}  # method -> hyperparameter searched
FIP_SOLVERS = ("fip", "fip_normalised", "fip_exact", "fip_smooth")  # one engine; settings["step"] names the solver
WITH_MEMORY = (*FIP_SOLVERS, "ogd", "gem", "replay")


def load_tasks(data_dir: Path, device: torch.device) -> tuple[dict, dict]:
    """({dataset: {split: (x, y)}} on device, {dataset: data source for provenance})."""
    tasks, sources = {}, {}
    for name in TASKS:
        tasks[name], sources[name] = load_splits(Path(data_dir) / f"{name}.pt", device)
    return tasks, sources


def train_base(cfg: dict, seed: int, data_dir: Path, checkpoint: Path, out_dir: Path, threads: int) -> None:
    """Train the shared base network on MNIST; save it to checkpoint and its metrics to out_dir."""
    study, device = cfg[STUDY], resolve_device(cfg["device"])
    torch.set_num_threads(threads)
    seed_everything(seed)
    tasks, sources = load_tasks(data_dir, device)
    generator = torch.Generator().manual_seed(seed)
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = models.build(study["model"]).to(device)
        base = study["base"]
        stream = BatchStream(*tasks["mnist"]["train"], base["batch_size"], generator)
        optimizer = torch.optim.SGD(model.parameters(), lr=base["lr"], momentum=base["momentum"])
        job.steps = base["epochs"] * stream.steps_per_epoch
        run_steps(model, job.steps, supervised_loss(stream), sgd_update(optimizer), desc=f"base seed{seed}")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), checkpoint)
        job.finish({split: {"mnist_accuracy": accuracy(predict(model, tasks["mnist"][split][0]),
                                                       tasks["mnist"][split][1])}
                    for split in ("val", "test")}
                   | {"weights": sum(p.numel() for p in model.parameters())})


def accuracies(model, tasks: dict, split: str, limit: int | None = None) -> dict:
    """Class- and task-incremental accuracy (%) per task on `split` (first `limit` images)."""
    result = {}
    for name, offset in TASKS.items():
        x, y = tasks[name][split]
        logits, labels = predict(model, x[:limit]), y[:limit] + offset
        result[f"{name}_class_incremental"] = accuracy(logits, labels)
        result[f"{name}_task_incremental"] = accuracy(logits, labels, range(offset, offset + 10))
    for mode in ("class_incremental", "task_incremental"):
        result[f"mean_{mode}"] = sum(result[f"{n}_{mode}"] for n in TASKS) / len(TASKS)
    return result


def new_task_statistics_only(model, tasks: dict, batch_size: int = 500, n_batches: int = 20):
    """A copy of model whose batch-norm running statistics are re-estimated (update_bn,
    cumulative average) from Fashion-MNIST training batches alone: the weights are kept,
    the statistics no longer remember MNIST."""
    x, _ = tasks["fashion_mnist"]["train"]
    clone = copy.deepcopy(model)
    update_bn([to_input(x[i * batch_size:(i + 1) * batch_size]) for i in range(n_batches)], clone)
    return clone.eval()


def learn_new_task(cfg: dict, method: str, seed: int, data_dir: Path, base_checkpoint: Path,
                   out_dir: Path, threads: int, split: str = "test", settings: dict | None = None,
                   checkpoint_dir: Path | None = None) -> None:
    """Learn Fashion-MNIST from the base network with `method`; write the results to out_dir.

    split: where the final numbers and curves are measured ("val" when scoring the grid).
    settings: the method's hyperparameters (defaults: cfg[STUDY][method])."""
    study, device = cfg[STUDY], resolve_device(cfg["device"])
    settings = dict(study[method] if settings is None else settings)
    torch.set_num_threads(threads)
    seed_everything(seed)
    tasks, sources = load_tasks(data_dir, device)
    generator = torch.Generator().manual_seed(seed)
    sgd = study["new_task"]
    with Job(out_dir, cfg, seed, device, threads, sources) as job:
        model = models.build(study["model"]).to(device)
        model.load_state_dict(torch.load(base_checkpoint, map_location=device))

        mnist_train, fashion_train = tasks["mnist"]["train"], tasks["fashion_mnist"]["train"]
        drift = None  # output distance to the base network on the memory, along the path

        def record(net):
            entry = accuracies(net, tasks, split, study["curve_test_size"])
            if drift is not None:
                with torch.no_grad():
                    entry["memory_distance"] = drift(net).item()
            return entry

        if method in (*FIP_SOLVERS, "ogd", "naive"):
            stream = BatchStream(*fashion_train, sgd["batch_size"], generator, TASKS["fashion_mnist"])
            job.steps = sgd["epochs"] * stream.steps_per_epoch
            if method != "naive":
                memory_index = torch.randperm(len(mnist_train[1]), generator=generator)[:study["memory_size"]].to(device)
                memory = to_input(mnist_train[0][memory_index])
                drift = OutputDistance(model, memory, study["fip"]["distance"])
            optimizer = torch.optim.SGD(model.parameters(), lr=sgd["lr"], momentum=sgd["momentum"])
            if method in ("naive", "ogd"):
                loss_fn = supervised_loss(stream)
            else:
                distance = OutputDistance(model, memory, settings["distance"])
                loss_fn = fip_loss(distance, CrossEntropyObjective(stream), settings["beta"],
                                   settings["memory_batch"], generator)
            if method == "ogd":
                update = ogd.projected_update(optimizer, model, ogd.output_gradient_basis(
                    model, memory, mnist_train[1][memory_index] + TASKS["mnist"]))
            elif method in FIP_SOLVERS and settings["step"] == "normalised":
                update = normalised_update(model, settings["epsilon"])
            elif method in FIP_SOLVERS and settings["step"] == "exact":
                def probes():
                    return memory[torch.randperm(len(memory), generator=generator)[:settings["memory_batch"]].to(device)]
                update = exact_update(model, probes, settings["epsilon"], settings["lanczos_steps"],
                                      settings["distance"], generator, settings.get("acceleration", 0.0))
            else:
                update = sgd_update(optimizer)
            curve = run_steps(model, job.steps, loss_fn, update, record, study["record_every"],
                              checkpoint_dir, study["checkpoint_every"], desc=f"{method} seed{seed}")
        else:
            plugin = AVALANCHE_PLUGINS[method](settings, study["memory_size"])
            curve, job.steps = learn_stream(
                model, plugin, [(mnist_train[0], mnist_train[1] + TASKS["mnist"]),
                                (fashion_train[0], fashion_train[1] + TASKS["fashion_mnist"])], sgd["epochs"],
                sgd["batch_size"], sgd["lr"], sgd["momentum"], device, record, study["record_every"])
        final = accuracies(model, tasks, split)
        ablation = accuracies(new_task_statistics_only(model, tasks), tasks, split)
        job.finish({
            "method": method, "split": split, "settings": settings,
            "memory_size": study["memory_size"] if method in WITH_MEMORY else 0,
            "final": final,
            "bn_stats_from_new_task_only": ablation,
            "walk": walk_summary(curve, job.steps),
            "curve": curve,
        })


def walk_summary(curve: list[dict], steps: int) -> dict:
    """Path length (Euclidean, summed over steps), output distance to the base network on
    the memory at the end, their ratio, seconds per step (loss and update only) and the
    mean angle (radians) between consecutive steps, where the curve holds them (run_steps
    methods; the memory only where the method has one)."""
    last = curve[-1]
    walk = {key: last[key] for key in ("path_length", "memory_distance") if key in last}
    if "seconds" in last:
        walk["seconds_per_step"] = last["seconds"] / steps
        walk["turning_angle_per_step"] = last["turning_angle"] / max(steps - 1, 1)
    if "memory_distance" in walk:
        walk["memory_distance_per_path_length"] = walk["memory_distance"] / walk["path_length"]
    return walk


def select(grid_results: list[Path], out: Path) -> None:
    """Pick the grid value with the best mean class-incremental validation accuracy.

    grid_results: metrics.json files of one method's grid (split "val"). Writes out (JSON):
    {"method", "parameter", "value", "grid": [{"value", "score"}], "score": "..."}."""
    rows = []
    for path in grid_results:
        metrics = json.loads(Path(path).read_text())
        if metrics["split"] != "val":
            raise ValueError(f"{path}: grid results must be measured on the validation split")
        method = metrics["method"]
        value = metrics["settings"][TUNED[method]]
        rows.append({"value": value, "score": metrics["final"]["mean_class_incremental"]})
    best = max(rows, key=lambda row: row["score"])
    write_json_atomic(Path(out), {"method": method, "parameter": TUNED[method], "value": best["value"],
                                  "grid": rows, "score": "mean class-incremental accuracy, validation split"})


def tuned_settings(cfg: dict, method: str, chosen: Path | None) -> dict:
    """cfg[STUDY][method] with the hyperparameter chosen on the validation grid, if any."""
    settings = dict(cfg[STUDY][method])
    if chosen is not None:
        selection = json.loads(Path(chosen).read_text())
        settings[selection["parameter"]] = selection["value"]
    return settings
