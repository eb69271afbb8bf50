"""Aggregation: tables (CSV + markdown) and figures (PNG + the CSV behind each) of one
scale, read only from the results folders' metrics.json and provenance.json."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fipbench.records import level_key, read_results  # noqa: E402

TASK_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
FINAL_KEYS = ["mnist_class_incremental", "fashion_mnist_class_incremental", "mean_class_incremental",
              "mnist_task_incremental", "fashion_mnist_task_incremental", "mean_task_incremental"]


def save(fig, path: Path) -> None:
    """Lay out, write as PNG (120 dpi) and close a figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def continual_2task_tables(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per method x seed of final numbers, one row per method x seed x curve point)."""
    finals, curves = [], []
    for folder, metrics, provenance in read_results(study_dir, "*/seed*/metrics.json"):
        method, seed = folder.parent.name, int(folder.name.removeprefix("seed"))
        if method == "base":
            continue
        row = {"method": method, "seed": seed, **{k: metrics["final"][k] for k in FINAL_KEYS},
               **{f"bn_new_task_only_{k}": metrics["bn_stats_from_new_task_only"][k] for k in FINAL_KEYS[:3]},
               "memory_size": metrics["memory_size"], "settings": json.dumps(metrics["settings"], sort_keys=True),
               "optimizer_steps": provenance.get("optimizer_steps"), "wall_seconds": provenance.get("wall_seconds")}
        seconds = provenance.get("timings", {}).get("walk_seconds_per_step")
        finals.append(row | {f"walk_{key}": value for key, value in metrics.get("walk", {}).items()}
                      | ({"walk_seconds_per_step": seconds} if seconds is not None else {}))
        curves += [{"method": method, "seed": seed, "step": point["step"],
                    **{f"{task}_accuracy": point[f"{task}_class_incremental"] for task in TASK_LABELS},
                    **{key: point[key] for key in ("path_length", "memory_distance") if key in point},
                    "task_loss": point.get("objective", point.get("loss"))}
                   for point in metrics["curve"]]
    return pd.DataFrame(finals), pd.DataFrame(curves)


def grid_table(study_dir: Path) -> str:
    """Markdown section of the hyperparameters chosen on the validation split (tune/*/chosen.json)."""
    rows, score = [], "score"
    for path in sorted(study_dir.glob("tune/*/chosen.json")):
        chosen = json.loads(path.read_text())
        grid = ", ".join(f"{row['value']:g}: {row['score']:.2f}" for row in chosen["grid"])
        rows.append(f"| {chosen['method']} | {chosen['parameter']} | {grid} | {chosen['value']:g} |")
        score = chosen["score"].removesuffix(", validation split")
    return (f"## Hyperparameters chosen on the validation split (grid value: {score})\n\n"
            "| method | parameter | grid | chosen |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")


def mean_sd_table(finals: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per method: 'mean +- sd' of each column over seeds, and n."""
    grouped = finals.groupby("method")[columns]
    table = grouped.mean().round(2).astype(str) + " +- " + grouped.std(ddof=1).fillna(0).round(2).astype(str)
    table["n"] = finals.groupby("method").size()
    return table.reset_index()


def plot_curves(curves: pd.DataFrame, path: Path) -> None:
    """Fig. 2C: test accuracy on both tasks along the path / training, one panel per method."""
    mean = curves.groupby(["method", "step"]).mean(numeric_only=True).reset_index()
    methods = sorted(mean["method"].unique(), key=lambda m: (m != "naive", m != "fip", m))
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], methods):
        part = mean[mean["method"] == method]
        for task, label in TASK_LABELS.items():
            ax.plot(part["step"], part[f"{task}_accuracy"], label=label)
        ax.set_title(method)
        ax.set_xlabel("optimiser step on Fashion-MNIST")
    axes[0][0].set_ylabel("test accuracy (%), class-incremental")
    axes[0][0].legend()
    save(fig, path)


def plot_finals(finals: pd.DataFrame, path: Path) -> None:
    """Fig. 2F(i): final accuracies per method, mean with sd error bars over seeds."""
    keys = ["mnist_class_incremental", "fashion_mnist_class_incremental", "mean_class_incremental"]
    mean = finals.groupby("method")[keys].mean()
    sd = finals.groupby("method")[keys].std(ddof=1).fillna(0)
    ax = mean.plot.bar(yerr=sd, capsize=3, figsize=(7, 3.5), rot=0)
    ax.set_ylabel("test accuracy (%), class-incremental")
    ax.set_ylim(0, 115)
    ax.legend(["MNIST", "Fashion-MNIST", "mean"], loc="upper center", ncols=3, frameon=False)
    save(ax.figure, path)


def walk_table(finals: pd.DataFrame) -> pd.DataFrame:
    """Per method with a memory: path length, memory drift, drift per unit path length, mean
    turning angle and seconds per step (mean over seeds), and the cost per step relative to
    fip_normalised."""
    columns = ["walk_path_length", "walk_memory_distance", "walk_memory_distance_per_path_length",
               "walk_turning_angle_per_step", "walk_seconds_per_step"]
    if not set(columns) <= set(finals):
        return pd.DataFrame(columns=["method", *columns])
    table = finals.dropna(subset=columns).groupby("method")[columns].mean()
    if "fip_normalised" in table.index:
        table["cost_per_step_vs_fip_normalised"] = (table["walk_seconds_per_step"]
                                                    / table.loc["fip_normalised", "walk_seconds_per_step"])
    table.columns = [c.removeprefix("walk_") for c in table.columns]
    return table.reset_index()


def plot_solvers(curves: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The FIP solvers and OGD at equal path length: output distance to the base network on
    the memory, Fashion-MNIST accuracy and the new task's cross-entropy on the step's batch,
    against the Euclidean path length. Returns the plotted points (means over seeds)."""
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.2))
    part = curves.dropna(subset=["memory_distance"]) if "memory_distance" in curves else curves.iloc[0:0]
    points = part.groupby(["method", "step"]).mean(numeric_only=True).reset_index()
    points = points[[c for c in ("method", "step", "path_length", "memory_distance", "fashion_mnist_accuracy",
                                 "task_loss") if c in points]]
    for method, line in points.groupby("method"):
        left.plot(line["path_length"], line["memory_distance"], label=method)
        middle.plot(line["path_length"], line["fashion_mnist_accuracy"], label=method)
        right.plot(line["path_length"], line["task_loss"], label=method)
    left.set_ylabel("distance to base on memory")
    middle.set_ylabel("Fashion-MNIST accuracy (%)")
    right.set_ylabel("new-task cross-entropy (step batch)")
    for ax in (left, middle, right):
        ax.set_xlabel("Euclidean path length")
    left.legend()
    save(fig, path)
    return points


def aggregate(cfg: dict, results: Path) -> None:
    """Write the tables and figures of cfg's scale under results (= results/<scale>)."""
    study_dir = Path(results) / "continual_2task"
    finals, curves = continual_2task_tables(study_dir)
    if finals.empty:
        raise FileNotFoundError(f"no results under {study_dir}")
    finals.sort_values(["method", "seed"]).to_csv(study_dir / "finals.csv", index=False)
    curves.to_csv(study_dir / "fig2c_curves.csv", index=False)
    table = mean_sd_table(finals, FINAL_KEYS[:3] + [f"bn_new_task_only_{k}" for k in FINAL_KEYS[:3]]
                          + FINAL_KEYS[3:] + ["wall_seconds"])
    (study_dir / "summary.md").write_text(
        "# Two-task continual learning (MNIST -> Fashion-MNIST)\n\n"
        "Test accuracy (%) after learning Fashion-MNIST, mean +- sd over seeds. `bn_new_task_only_*`: the same "
        "weights with batch-norm statistics re-estimated from Fashion-MNIST alone.\n\n"
        + table.to_markdown(index=False)
        + "\n\n" + grid_table(study_dir) + "\n"
        "\n## The walk (methods with a memory, mean over seeds)\n\nPath length: Euclidean, summed over steps. "
        "Memory distance: Bhattacharyya output distance to the base network on the memory at the end. Turning "
        "angle: mean angle (radians) between consecutive steps. Seconds per step: loss and update only, this job's "
        "threads.\n\n" + walk_table(finals).to_markdown(index=False) + "\n")
    plot_curves(curves, study_dir / "fig2c_curves.png")
    plot_solvers(curves, study_dir / "fig_solvers.png").to_csv(study_dir / "fig_solvers.csv", index=False)
    finals.groupby("method")[FINAL_KEYS[:3]].agg(["mean", "std"]).to_csv(study_dir / "fig2f_final.csv")
    plot_finals(finals, study_dir / "fig2f_final.png")


def task_sequence_tables(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per method x seed of final numbers, one row per method x seed x task learned
    of the accuracies after it, with the FIP memory held and the task's wall seconds)."""
    finals, after = [], []
    for folder, metrics, provenance in read_results(study_dir, "*/seed*/metrics.json"):
        method, seed = folder.parent.name, int(folder.name.removeprefix("seed"))
        if method == "first_task":
            continue
        final = metrics["final"]
        finals.append({"method": method, "seed": seed, **{k: v for k, v in final.items() if k.startswith("mean")},
                       "memory_per_task": metrics["memory_per_task"], "optimizer_steps": provenance.get("optimizer_steps"),
                       "wall_seconds": provenance.get("wall_seconds")})
        seconds = [None, *provenance.get("timings", {}).get("seconds_per_task", [])]
        memory = {entry["task"]: entry["memory_images"] for entry in metrics["curve"] if "memory_images" in entry}
        after += [{"method": method, "seed": seed, "tasks_learned": entry["task"] + 1,
                   "mean_task_incremental": entry["mean_task_incremental"],
                   "mean_class_incremental": entry["mean_class_incremental"],
                   "memory_images": memory.get(entry["task"]),
                   "task_seconds": seconds[entry["task"]] if entry["task"] < len(seconds) else None}
                  for entry in metrics["after_task"]]
    return pd.DataFrame(finals), pd.DataFrame(after)


def plot_sequence_accuracy(after: pd.DataFrame, path: Path) -> None:
    """Fig. 2E(i): mean accuracy over the tasks seen after each task, task- and
    class-incremental, mean over seeds, one line per method."""
    mean = after.groupby(["method", "tasks_learned"]).mean(numeric_only=True).reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, mode in zip(axes, ("task_incremental", "class_incremental")):
        for method, line in mean.groupby("method"):
            ax.plot(line["tasks_learned"], line[f"mean_{mode}"], marker="o", label=method)
        ax.set_title(mode.replace("_", "-"))
        ax.set_xlabel("tasks learned")
    axes[0].set_ylabel("mean test accuracy over tasks seen (%)")
    axes[0].legend()
    save(fig, path)


def plot_score_heatmaps(study_dir: Path, methods: list[str], path: Path) -> None:
    """Fig. 2E(ii): classification score (probability of the true class among the classes
    seen) of fixed test images of every task (rows, grouped by task) after each task
    (columns), seed 0 of each method; blank where the image's task is not yet seen."""
    found = [(method, json.loads(p.read_text())) for method in methods
             if (p := study_dir / method / "seed0" / "metrics.json").exists()]
    fig, axes = plt.subplots(1, len(found), figsize=(2.2 * len(found) + 1, 4), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, (method, metrics) in zip(axes[0], found):
        grid = np.array([[np.nan if v is None else v for v in entry["scores"]] for entry in metrics["after_task"]]).T
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(method)
        ax.set_xlabel("tasks learned")
        ax.set_xticks(range(grid.shape[1]), range(1, grid.shape[1] + 1))
    axes[0][0].set_ylabel("test image (grouped by task)")
    fig.colorbar(image, ax=axes[0].tolist(), label="score of the true class")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_sequence_finals(finals: pd.DataFrame, path: Path) -> None:
    """Fig. 2F(ii): final mean accuracy over all tasks per method, task- and
    class-incremental, mean with sd error bars over seeds."""
    keys = ["mean_task_incremental", "mean_class_incremental"]
    mean = finals.groupby("method")[keys].mean()
    sd = finals.groupby("method")[keys].std(ddof=1).fillna(0)
    ax = mean.plot.bar(yerr=sd, capsize=3, figsize=(7, 3.5), rot=0)
    ax.set_ylabel("test accuracy over all tasks (%)")
    ax.set_ylim(0, 115)
    ax.legend(["task-incremental", "class-incremental"], loc="upper center", ncols=2, frameon=False)
    save(ax.figure, path)


def aggregate_task_sequence(cfg: dict, results: Path) -> None:
    """Tables (summary.md, finals.csv) and figures (fig2e_accuracy, fig2e_heatmap,
    fig2f_sequence) of the configured stream."""
    study = cfg["task_sequence"]
    study_dir = Path(results) / "task_sequence" / study["stream"]
    finals, after = task_sequence_tables(study_dir)
    if finals.empty:
        raise FileNotFoundError(f"no results under {study_dir}")
    finals.sort_values(["method", "seed"]).to_csv(study_dir / "finals.csv", index=False)
    after.to_csv(study_dir / "fig2e_accuracy.csv", index=False)
    first = [m for _, m, _ in read_results(study_dir, "first_task/seed*/metrics.json")]
    table = mean_sd_table(finals, ["mean_task_incremental", "mean_class_incremental", "wall_seconds"])
    along = after.drop(columns="seed").groupby(["method", "tasks_learned"]).mean().round(2)
    stream = study[study["stream"]]
    (study_dir / "summary.md").write_text(
        f"# Task sequence `{study['stream']}`: {stream['n_tasks']} tasks of {stream['classes_per_task']} "
        f"{stream['dataset']} classes\n\n"
        "Task 1 test accuracy of the trained networks: "
        + ", ".join(f"{m['test']['task1_task_incremental']:.2f}" for m in first)
        + f" (class order {first[0]['class_order'] if first else '-'}).\n\n"
        "Final test accuracy (%) over all tasks, mean +- sd over seeds; task-incremental: argmax within each "
        "task's classes, class-incremental: over all classes seen.\n\n"
        + table.to_markdown(index=False) + "\n\n" + grid_table(study_dir)
        + "\nAfter each task (mean over seeds; accuracies on the first `curve_test_size` test images of each "
        "task seen; memory_images: images FIP/OGD hold for the next walk; task_seconds: wall seconds of the task's "
        "training (provenance):\n\n" + along.reset_index().to_markdown(index=False) + "\n")
    plot_sequence_accuracy(after, study_dir / "fig2e_accuracy.png")
    plot_score_heatmaps(study_dir, study["methods"], study_dir / "fig2e_heatmap.png")
    plot_sequence_finals(finals, study_dir / "fig2f_sequence.png")


def sparsity_table(study_dir: Path) -> pd.DataFrame:
    """One row per network x method x seed x target sparsity (dense runs left out)."""
    rows = []
    for folder, metrics, provenance in read_results(study_dir, "*/*/seed*/metrics.json"):
        if folder.parent.name == "dense":
            continue
        for target in metrics["targets"]:
            level = metrics["levels"][level_key(target)]
            tuned = level.get("finetuned", {})
            rows.append({"network": metrics["network"], "method": metrics["method"],
                         "seed": int(folder.name.removeprefix("seed")), "target": target,
                         "sparsity": level["sparsity"], "test_accuracy": level["test_accuracy"],
                         "val_accuracy": level["val_accuracy"],
                         "finetuned_test_accuracy": tuned.get("test_accuracy"),
                         "steps": level["steps"],
                         "wall_seconds": provenance["timings"]["to_sparsity_seconds"][level_key(target)],
                         "distance_to_sparse_before_projection": level.get("distance_to_sparse_before_projection"),
                         **{f"sparsity_{name}": value for name, value in level["per_layer"].items()}})
    return pd.DataFrame(rows)


def mean_sd_pivot(levels: pd.DataFrame, column: str) -> pd.DataFrame:
    """target x method table of 'mean +- sd (n)' of column over seeds."""
    grouped = levels.groupby(["target", "method"])[column]
    cells = (grouped.mean().round(2).astype(str) + " +- " + grouped.std(ddof=1).fillna(0).round(2).astype(str)
             + " (" + grouped.size().astype(str) + ")")
    return cells.unstack("method").reset_index()


def plot_sparsity_accuracy(levels: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Fig. 3B/3C: test accuracy of the exactly sparse networks against sparsity, per method
    (mean +- sd over seeds; dashed: after the shared fine-tuning budget). Returns the data."""
    data = levels.melt(id_vars=["network", "method", "seed", "target"],
                       value_vars=["test_accuracy", "finetuned_test_accuracy"], var_name="measure").dropna()
    data = data.groupby(["network", "method", "measure", "target"])["value"].agg(["mean", "std"]).reset_index()
    networks = sorted(data["network"].unique())
    fig, axes = plt.subplots(1, len(networks), figsize=(6.5 * len(networks), 3.8), squeeze=False)
    for ax, network in zip(axes[0], networks):
        part = data[data["network"] == network]
        targets = sorted(part["target"].unique())
        position = {t: i for i, t in enumerate(targets)}
        colours = {method: f"C{i}" for i, method in enumerate(sorted(part["method"].unique()))}
        for (method, measure), line in part.groupby(["method", "measure"]):
            tuned = measure != "test_accuracy"
            ax.errorbar([position[t] for t in line["target"]], line["mean"], yerr=line["std"].fillna(0), capsize=2,
                        color=colours[method], linestyle="--" if tuned else "-", marker="o", markersize=3,
                        label=f"{method} + fine-tuning" if tuned else method)
        ax.set_xticks(range(len(targets)), [f"{t:g}" for t in targets])
        ax.set_xlabel("sparsity (% of prunable weights zero)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(network)
        ax.legend(fontsize=7, ncols=2)
    save(fig, path)
    return data


def plot_layer_sparsity(levels: pd.DataFrame, sparsity: float, path: Path) -> pd.DataFrame:
    """Fig. 3F/3G: per-layer sparsity of the FIP solutions of one network at `sparsity`
    across seeds. Returns the data."""
    fip = levels[(levels["method"] == "fip") & (levels["target"] == sparsity)]
    layer_columns = sorted((c for c in fip.columns if c.startswith("sparsity_layer") and fip[c].notna().any()),
                           key=lambda c: int(c.removeprefix("sparsity_layer")))
    data = fip[["network", "seed", *layer_columns]]
    fig, ax = plt.subplots(figsize=(min(0.5 * len(layer_columns), 12) + 2, 3.2))
    ax.boxplot([data[c].dropna() for c in layer_columns])
    ax.set_xticks(range(1, len(layer_columns) + 1), [c.removeprefix("sparsity_layer") for c in layer_columns])
    ax.set_xlabel("prunable layer (input to output)")
    ax.set_ylabel(f"% zero weights (FIP, {sparsity:g} % overall)")
    ax.set_title(data["network"].iloc[0] if len(data) else "")
    save(fig, path)
    return data


def plot_connectivity(results: dict[str, dict], path: Path) -> pd.DataFrame:
    """Fig. 3F top: how many surviving weights leave each input of the first layer (a
    square image when the inputs are pixels of one channel), one panel per method, with
    the hidden units still connected in and out. results: {method: metrics["levels"][p]}.
    Returns one row per method x input."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.4), squeeze=False)
    rows = []
    for ax, (method, level) in zip(axes[0], results.items()):
        fan_out = level["connectivity"]["input_fan_out"]
        rows += [{"method": method, "input": i, "fan_out": n} for i, n in enumerate(fan_out)]
        side = round(len(fan_out) ** 0.5)
        if side * side == len(fan_out) and side > 1:
            image = ax.imshow(np.reshape(fan_out, (side, side)), cmap="viridis")
            ax.figure.colorbar(image, ax=ax, shrink=0.7, label="surviving weights out")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.bar(range(len(fan_out)), fan_out)
            ax.set_xlabel("input channel")
            ax.set_ylabel("surviving weights out")
        live = level["connectivity"].get("live_units", {})
        ax.set_title(f"{method}, {level['sparsity']:.1f} % sparse\n"
                     + ", ".join(f"{name}: {n} live" for name, n in live.items()), fontsize=8)
    save(fig, path)
    return pd.DataFrame(rows)


def plot_weight_pca(pca: dict, path: Path) -> pd.DataFrame:
    """Fig. 3D/3E: the FIP path, its sparse solutions and random sparse networks in the
    first two principal components of weight space. Returns the points."""
    points = pd.DataFrame(pca["points"])
    fig, ax = plt.subplots(figsize=(5, 4))
    path_points = points[points["kind"].isin(["dense", "path"]) | points["kind"].str.startswith("fip")]
    ax.plot(path_points["x"], path_points["y"], color="tab:purple", linewidth=1, label="FIP path")
    solutions = points[points["kind"].str.startswith("fip")]
    ax.scatter(solutions["x"], solutions["y"], color="tab:red", s=18, zorder=3, label="FIP sparse networks")
    for _, row in solutions.iterrows():
        ax.annotate(row["kind"].removeprefix("fip "), (row["x"], row["y"]), fontsize=6)
    randoms = points[points["kind"] == "random"]
    ax.scatter(randoms["x"], randoms["y"], color="tab:blue", s=12, label=f"random {pca['sparsity']:g} % sparse")
    dense = points[points["kind"] == "dense"]
    ax.scatter(dense["x"], dense["y"], color="grey", s=30, zorder=3, label="dense")
    variance = pca["explained_variance"]
    ax.set_xlabel(f"PC1 ({100 * variance[0]:.0f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * variance[1]:.0f} % of variance)")
    ax.legend(fontsize=7)
    save(fig, path)
    return points


def aggregate_sparsity(cfg: dict, results: Path) -> None:
    """levels.csv, summary.md, Fig. 3B/3C and per network its layer sparsity (3F, 3G),
    weight-space PCA (3D, 3E) and connectivity (3F top) under results/sparsity."""
    study_dir = Path(results) / "sparsity"
    levels = sparsity_table(study_dir)
    if levels.empty:
        raise FileNotFoundError(f"no results under {study_dir}")
    levels = levels.sort_values(["network", "method", "seed", "target"])
    levels.to_csv(study_dir / "levels.csv", index=False)
    sections = ["# Sparsification (Fig. 3)\n\nExactly sparse networks (sparsity counted in their weights); "
                "test accuracy (%), mean +- sd (n seeds). Fine-tuned: the same networks after the shared masked "
                "fine-tuning budget."]
    for network, part in levels.groupby("network"):
        compute = part[part["method"].isin(["fip", "lth"])].groupby(["target", "method"])[["steps", "wall_seconds"]]
        compute = compute.mean().round(1).unstack("method")
        compute.columns = [f"{measure} {method}" for measure, method in compute.columns]
        if {"steps fip", "steps lth"} <= set(compute.columns):
            compute["steps lth / fip"] = (compute["steps lth"] / compute["steps fip"]).round(2)
        sections += [f"## {network}", "### Test accuracy without fine-tuning",
                     mean_sd_pivot(part, "test_accuracy").to_markdown(index=False),
                     "### Test accuracy after fine-tuning",
                     mean_sd_pivot(part.dropna(subset=["finetuned_test_accuracy"]),
                                   "finetuned_test_accuracy").to_markdown(index=False),
                     "### Measured sparsity (%)", mean_sd_pivot(part, "sparsity").to_markdown(index=False),
                     "### Compute to reach each sparsity (optimiser steps, wall seconds; mean over seeds)",
                     compute.reset_index().to_markdown(index=False)]
    (study_dir / "summary.md").write_text("\n\n".join(sections) + "\n")
    plot_sparsity_accuracy(levels, study_dir / "fig3b_accuracy.png").to_csv(study_dir / "fig3b_accuracy.csv", index=False)
    for network in cfg["sparsity"]["networks"]:
        part, sparsity = levels[levels["network"] == network], cfg["sparsity"][network]["pca_sparsity"]
        plot_layer_sparsity(part, sparsity, study_dir / f"layers_{network}.png").to_csv(
            study_dir / f"layers_{network}.csv", index=False)
        first = {method: study_dir / network / method / f"seed{min(part[part['method'] == method]['seed'])}"
                 for method in ("fip", "lth")}
        metrics = {method: json.loads((folder / "metrics.json").read_text()) for method, folder in first.items()}
        plot_weight_pca(metrics["fip"]["pca"], study_dir / f"pca_{network}.png").to_csv(
            study_dir / f"pca_{network}.csv", index=False)
        recorded = {method: m["levels"][level_key(sparsity)] for method, m in metrics.items()
                    if "connectivity" in m["levels"][level_key(sparsity)]}  # results older than the key lack it
        plot_connectivity(recorded, study_dir / f"connectivity_{network}.png").to_csv(
            study_dir / f"connectivity_{network}.csv", index=False)


def robustness_table(study_dir: Path) -> pd.DataFrame:
    """One row per method x trial x condition (clean, transfer, white_box) x epsilon:
    ensemble and mean member accuracy (%)."""
    rows = []
    for folder, metrics, _ in read_results(study_dir, "*/seed*/metrics.json"):
        if "clean" not in metrics:  # the trained networks and the transfer set
            continue
        base = {"method": metrics["method"], "trial": metrics["trial"]}
        rows.append({**base, "condition": "clean", "epsilon": 0.0, "ensemble": metrics["clean"]["ensemble"],
                     "member_mean": metrics["clean"]["member_mean"]})
        for condition in ("transfer", "white_box"):
            for key, result in metrics[condition].items():
                rows.append({**base, "condition": condition, "epsilon": float(key.removeprefix("eps").replace("_", ".")),
                             "ensemble": result["ensemble"], "member_mean": result["member_mean"]})
    return pd.DataFrame(rows)


def first_trials(study_dir: Path, methods: list[str]) -> dict[str, dict]:
    """{method: metrics of its lowest trial} for the methods that have one."""
    found = {}
    for method in methods:
        paths = sorted((study_dir / method).glob("seed*/metrics.json"), key=lambda p: int(p.parent.name[4:]))
        if paths:
            found[method] = json.loads(paths[0].read_text())
    return found


def plot_robustness(table: pd.DataFrame, path: Path) -> None:
    """Fig. 4D: ensemble accuracy against epsilon per method, transfer and white-box
    (mean +- sd over trials; epsilon 0 = clean)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    clean = table[table["condition"] == "clean"]
    for ax, condition in zip(axes, ("transfer", "white_box")):
        part = pd.concat([clean, table[table["condition"] == condition]])
        for method, rows in part.groupby("method"):
            stats = rows.groupby("epsilon")["ensemble"].agg(["mean", "std"]).reset_index()
            ax.errorbar(stats["epsilon"], stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3, label=method)
        ax.set_title({"transfer": "transfer from the surrogate (PGD)", "white_box": "white-box PGD on the ensemble"}[condition])
        ax.set_xlabel("epsilon (x 1/255)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("ensemble test accuracy (%)")
    save(fig, path)


def plot_members(first: dict[str, dict], epsilon: float, path: Path) -> pd.DataFrame:
    """Fig. 4C top: accuracy of each member (solid) and of the ensemble (dashed) on the
    transfer images at `epsilon`, first trial of each method. Returns the data."""
    key = f"eps{epsilon:g}".replace(".", "_")
    rows = [{"method": method, "member": i + 1, "accuracy": accuracy, "ensemble": metrics["transfer"][key]["ensemble"]}
            for method, metrics in first.items() for i, accuracy in enumerate(metrics["transfer"][key]["members"])]
    data = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (method, part) in enumerate(data.groupby("method")):
        ax.plot(part["member"], part["accuracy"], marker="o", color=f"C{i}", label=f"{method} members")
        ax.axhline(part["ensemble"].iloc[0], color=f"C{i}", linestyle="--", label=f"{method} ensemble")
    ax.set_xlabel("member")
    ax.set_ylabel(f"accuracy on transfer images, eps {epsilon:g}/255 (%)")
    ax.legend(fontsize=7, ncols=2)
    save(fig, path)
    return data


def plot_heatmaps(first: dict[str, dict], path: Path) -> None:
    """Fig. 4C right: each member's probability of the true label on each of the first
    adversarial (transfer) images, one panel per method (first trial)."""
    fig, axes = plt.subplots(len(first), 1, figsize=(8, 1.2 + 0.9 * len(first)), squeeze=False, sharex=True,
                             layout="constrained")
    for ax, (method, metrics) in zip(axes[:, 0], first.items()):
        image = ax.imshow(np.array(metrics["heatmap"]["true_label_probability"]), aspect="auto", vmin=0, vmax=1,
                          cmap="magma", interpolation="nearest")
        ax.set_ylabel(method, rotation=0, ha="right")
        ax.set_yticks([])
    axes[-1, 0].set_xlabel(f"adversarial test image (transfer, eps {metrics['heatmap']['epsilon']:g}/255)")
    fig.colorbar(image, ax=axes[:, 0], label="p(true label)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_member_pca(first: dict[str, dict], path: Path) -> None:
    """Fig. 4C left: each ensemble's members in the first two principal components of
    their own weights (first trial of each method)."""
    fig, axes = plt.subplots(1, len(first), figsize=(3.2 * len(first), 3.2), squeeze=False)
    for ax, (method, metrics) in zip(axes[0], first.items()):
        points = pd.DataFrame(metrics["pca"]["points"])
        ax.scatter(points["x"], points["y"], s=20)
        for _, row in points.iterrows():
            ax.annotate(row["kind"].removeprefix("member "), (row["x"], row["y"]), fontsize=7)
        variance = metrics["pca"]["explained_variance"]
        ax.set_title(method)
        ax.set_xlabel(f"PC1 ({100 * variance[0]:.0f} %)")
        ax.set_ylabel(f"PC2 ({100 * variance[1]:.0f} %)")
    save(fig, path)


def plot_coherence(study_dir: Path, methods: list[str], path: Path) -> pd.DataFrame:
    """Fig. 4E: histograms of the per-image input-gradient coherence of members with the
    surrogate, all trials of each method pooled. Returns the summary per method."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    summary = []
    for method in methods:
        values = [v for _, metrics, _ in read_results(study_dir / method, "seed*/metrics.json")
                  for member in metrics["coherence"]["values"] for v in member]
        if values:
            ax.hist(values, bins=40, alpha=0.5, density=True, label=method)
            summary.append({"method": method, "mean": float(np.mean(values)), "sd": float(np.std(values)),
                            "n": len(values)})
    ax.set_xlabel("cosine of input gradients, member vs surrogate")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    save(fig, path)
    return pd.DataFrame(summary)


def plot_diversity(study_dir: Path, methods: list[str], path: Path) -> pd.DataFrame:
    """Fig. 4F: representation diversity (1 - mean pairwise linear CKA) per layer, mean +-
    sd over trials, per method. Returns one row per method x trial x layer."""
    rows = [{"method": method, "trial": metrics["trial"], "layer": i + 1, "diversity": value}
            for method in methods for _, metrics, _ in read_results(study_dir / method, "seed*/metrics.json")
            for i, value in enumerate(metrics["diversity"]["per_layer"])]
    data = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for method, part in data.groupby("method"):
        stats = part.groupby("layer")["diversity"].agg(["mean", "std"]).reset_index()
        ax.errorbar(stats["layer"], stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=2, label=method)
    ax.set_xlabel("layer (ReLU outputs, input to output)")
    ax.set_ylabel("1 - mean pairwise linear CKA")
    ax.legend(fontsize=8)
    save(fig, path)
    return data


def aggregate_robustness(cfg: dict, results: Path) -> None:
    """accuracy.csv, summary.md and Fig. 4C-4F under results/robustness."""
    study_dir, settings = Path(results) / "robustness", cfg["robustness"]
    table = robustness_table(study_dir)
    if table.empty:
        raise FileNotFoundError(f"no ensemble results under {study_dir}")
    table = table.sort_values(["method", "trial", "condition", "epsilon"])
    table.to_csv(study_dir / "accuracy.csv", index=False)
    methods = [m for m in settings["methods"] if (study_dir / m).exists()]
    summary = table.groupby(["condition", "epsilon", "method"]).agg(
        ensemble=("ensemble", "mean"), ensemble_sd=("ensemble", "std"), member_mean=("member_mean", "mean"),
        member_mean_sd=("member_mean", "std"), trials=("ensemble", "size")).round(2)
    costs = []
    for folder, metrics, provenance in read_results(study_dir / "build", "*/seed*/metrics.json"):
        costs.append({"method": metrics["method"], "trial": metrics["trial"], "members": metrics["members"],
                      "optimizer_steps": provenance["optimizer_steps"],
                      "construction_seconds": provenance["timings"]["construction_seconds"]})
    networks = [{"seed": int(folder.name[4:]), "test_accuracy": metrics["test_accuracy"],
                 "wall_seconds": provenance["wall_seconds"]}
                for folder, metrics, provenance in read_results(study_dir / "network", "seed*/metrics.json")]
    transfer = json.loads(next((study_dir / "transfer").glob("seed*/metrics.json")).read_text())
    (study_dir / "summary.md").write_text(
        "# Adversarial robustness of ensembles (Fig. 4)\n\n"
        f"Test accuracy (%) on the first {transfer['images']} CIFAR-10 test images, mean +- sd (n trials), of the "
        "ensemble (softmax averaged) and of its members on average. Transfer: PGD images crafted on the surrogate; "
        f"white-box: PGD against the whole ensemble. Attack: {json.dumps(transfer['attack'])}; epsilon in 1/255.\n\n"
        + summary.reset_index().to_markdown(index=False)
        + "\n\n## The surrogate on its own PGD images\n\n"
        + pd.DataFrame([{"epsilon": k, **v} for k, v in transfer.items() if k.startswith("eps")]).to_markdown(index=False)
        + f"\n\nclean accuracy {transfer['clean_accuracy']:.2f} %\n\n## Trained networks\n\n"
        + pd.DataFrame(networks).sort_values("seed").to_markdown(index=False)
        + "\n\n## Cost of building each ensemble (DeepNet: the steps of training its members)\n\n"
        + pd.DataFrame(costs).to_markdown(index=False) + "\n")
    plot_robustness(table, study_dir / "fig4d_attacks.png")
    first = first_trials(study_dir, methods)
    plot_members(first, settings["attack"]["headline_epsilon"], study_dir / "fig4c_members.png").to_csv(
        study_dir / "fig4c_members.csv", index=False)
    plot_heatmaps(first, study_dir / "fig4c_heatmaps.png")
    plot_member_pca(first, study_dir / "fig4c_pca.png")
    plot_coherence(study_dir, methods, study_dir / "fig4e_coherence.png").to_csv(
        study_dir / "fig4e_coherence.csv", index=False)
    plot_diversity(study_dir, methods, study_dir / "fig4f_diversity.png").to_csv(
        study_dir / "fig4f_diversity.csv", index=False)


def geometry_table(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(one row per network x state x seed of the spectrum's summary numbers, the top
    eigenvalues [network, state, seed, index, eigenvalue], the quadrature nodes pooled
    [network, state, seed, value, weight], weights divided by the number of vectors)."""
    rows, tops, nodes = [], [], []
    for folder, metrics, provenance in read_results(study_dir, "*/*/seed*/metrics.json"):
        key = {"network": metrics["network"], "state": metrics["state"], "seed": int(folder.name.removeprefix("seed"))}
        below = {f"below_{t}": f"{v['mean']:.5f} +- {v['standard_error']:.5f}" for t, v in metrics["fraction_below"].items()}
        rows.append({**key, "parameters": metrics["parameters"], "probes": metrics["probes"],
                     "largest": metrics["largest"], **below, "forced_zero_fraction": round(metrics["forced_zero_fraction"], 4),
                     "effective_rank": round(metrics["effective_rank"], 1),
                     "products": metrics["metric_vector_products"], "wall_seconds": provenance.get("wall_seconds")})
        tops += [{**key, "index": i + 1, "eigenvalue": v} for i, v in enumerate(metrics["top_eigenvalues"])]
        vectors = len(metrics["quadrature"])
        nodes += [{**key, "value": v, "weight": w / vectors}
                  for run in metrics["quadrature"] for v, w in zip(run["values"], run["weights"])]
    return pd.DataFrame(rows), pd.DataFrame(tops), pd.DataFrame(nodes)


def plot_spectra(tops: pd.DataFrame, nodes: pd.DataFrame, path: Path) -> None:
    """Per network (columns): the top eigenvalues of g (top row) and the quadrature's
    spectral density on log10(eigenvalue / largest) (bottom row; eigenvalues below 1e-12 of
    the largest pooled at -12), one line per state, seed 0."""
    networks = sorted(tops["network"].unique())
    fig, axes = plt.subplots(2, len(networks), figsize=(3.6 * len(networks), 6), squeeze=False)
    for column, network in enumerate(networks):
        for state, part in tops[(tops["network"] == network) & (tops["seed"] == 0)].groupby("state"):
            axes[0][column].semilogy(part["index"], part["eigenvalue"], marker=".", label=state)
            share = nodes[(nodes["network"] == network) & (nodes["state"] == state) & (nodes["seed"] == 0)]
            relative = np.log10(np.clip(share["value"] / part["eigenvalue"].max(), 1e-12, None))
            axes[1][column].hist(relative, bins=np.linspace(-12, 0.5, 26), weights=share["weight"],
                                 histtype="step", label=state)
        axes[0][column].set_title(network)
        axes[0][column].set_xlabel("index")
        axes[1][column].set_xlabel("log10(eigenvalue / largest)")
        axes[1][column].set_yscale("log")
    axes[0][0].set_ylabel("eigenvalue of g")
    axes[1][0].set_ylabel("fraction of eigenvalues")
    axes[0][0].legend()
    save(fig, path)


def aggregate_geometry(cfg: dict, results: Path) -> None:
    """The spectrum table (summary.md, spectra.csv) and figure (fig_spectra.png + its CSVs)."""
    study_dir = Path(results) / "geometry"
    table, tops, nodes = geometry_table(study_dir)
    if table.empty:
        raise FileNotFoundError(f"no results under {study_dir}")
    table = table.sort_values(["network", "state", "seed"])
    table.to_csv(study_dir / "spectra.csv", index=False)
    tops.to_csv(study_dir / "fig_spectra_top.csv", index=False)
    nodes.to_csv(study_dir / "fig_spectra_density.csv", index=False)
    (study_dir / "summary.md").write_text(
        "# Weight-space geometry: the spectrum of the metric g (Eq. 2)\n\n"
        "`below_t`: estimated fraction of g's eigenvalues below t times the largest (stochastic Lanczos "
        "quadrature, +- standard error over its random vectors). `forced_zero_fraction`: 1 - rank bound / P, the "
        "fraction of zero eigenvalues the probe count alone forces (rank(g) <= probes x (classes - 1)); a "
        "`below_t` above it is degeneracy beyond over-parameterisation. `effective_rank`: exp of the entropy of "
        "the normalised spectrum. `fip`: after a FIP walk with L = 0 from the trained network.\n\n"
        + table.to_markdown(index=False) + "\n")
    plot_spectra(tops, nodes, study_dir / "fig_spectra.png")


BERT_FAMILY_COLOURS = {"base": "black", "sparse": "tab:red", "CL": "tab:purple", "CL-then-Co": "tab:green",
                       "Co-then-CL": "tab:orange"}


def bert_nodes(found: dict) -> pd.DataFrame:
    """One row per saved node of every path (found: {path: its metrics}): path, family, node,
    step, target, stage_end and its scores."""
    return pd.DataFrame([{"path": path, "family": metrics["family"], **{k: v for k, v in node.items() if k != "previous"}}
                         for path, metrics in found.items() for node in metrics["nodes"]])


def plot_bert_sparsity(oneshot: dict, path: Path) -> pd.DataFrame:
    """Fig. 5A: WikiText-2 masked-token loss and accuracy against sparsity of the FIP path's
    projected nodes and of the pruning baselines; the dense base model dotted. Returns the points."""
    rows = [{"sparsity": float(key), "method": method, "mlm_loss": level[method]["mlm_loss"],
             "mlm_accuracy": level[method]["mlm_accuracy"]}
            for key, level in oneshot["levels"].items() for method in ("fip", "oneshot", "oneshot_retrained", "random")]
    points = pd.DataFrame(rows)
    labels = {"fip": "FIP", "oneshot": "one-shot magnitude", "oneshot_retrained": "one-shot + retraining (same steps)",
              "random": "random sparse"}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, column, label in zip(axes, ("mlm_loss", "mlm_accuracy"), ("masked-token loss (nats)", "masked-token accuracy (%)")):
        for method, group in points.groupby("method", sort=False):
            ax.plot(group["sparsity"], group[column], marker="o", markersize=3, label=labels[method])
        ax.axhline(oneshot["dense"][column], color="grey", linestyle=":", label="dense base")
        ax.set_xlabel("sparsity of the encoder's weight matrices (%)")
        ax.set_ylabel(f"WikiText-2 test {label}")
    axes[1].legend(fontsize=7)
    save(fig, path)
    return points


def plot_bert_continual(found: dict, nodes: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Fig. 5B: Yelp (class-incremental) and IMDB (task-incremental) test accuracy along the
    FIP and the naive path from the Yelp model (step 0). Returns the points."""
    rows = []
    for name in ("imdb_fip", "imdb_naive"):
        rows.append({"path": name, "step": 0, **found[name]["start_scores"]})
        rows += nodes[nodes["path"] == name].to_dict("records")
    points = pd.DataFrame(rows)[["path", "step", "yelp_class_incremental", "imdb_task_incremental",
                                 "imdb_class_incremental"]]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, colour in (("imdb_fip", "tab:purple"), ("imdb_naive", "tab:blue")):
        group = points[points["path"] == name]
        label = "FIP" if name == "imdb_fip" else "naive"
        ax.plot(group["step"], group["yelp_class_incremental"], color=colour, label=f"{label}: Yelp")
        ax.plot(group["step"], group["imdb_task_incremental"], color=colour, linestyle="--", label=f"{label}: IMDB")
    ax.set_xlabel("optimiser steps on IMDB from the Yelp model")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    save(fig, path)
    return points


def plot_bert_orders(nodes: pd.DataFrame, orders: dict, path: Path) -> pd.DataFrame:
    """Fig. 5C-D: top, Yelp (solid, class-incremental) and IMDB (dashed, task-incremental)
    accuracy along both orders to the largest sparsity (C: Co through co, then co_cl<p>;
    D: CL through imdb_fip, then Co through cl_co), the sparsity on a second axis; bottom
    left, both orders' end points at every sparsity; bottom right, the weight distance
    between the two end points beside the distance each moved from the Yelp model.
    Returns the per-sparsity table."""
    table = pd.DataFrame([{"sparsity": float(p), **row} for p, row in orders.items()])
    last = int(table["sparsity"].max())
    co_end = nodes[(nodes["path"] == "co") & (nodes["target"] == last) & nodes["stage_end"]]["step"].iloc[0]
    co_walk = nodes[(nodes["path"] == "co") & (nodes["step"] <= co_end)]
    cl_walk = nodes[nodes["path"] == f"co_cl{last}"].assign(step=lambda f: f["step"] + co_end)
    fip_walk = nodes[nodes["path"] == "imdb_fip"]
    co_after = nodes[nodes["path"] == "cl_co"].assign(step=lambda f: f["step"] + fip_walk["step"].max())
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, walks, title in ((axes[0, 0], (co_walk, cl_walk), f"C: Co to {last} %, then CL (IMDB)"),
                             (axes[0, 1], (fip_walk, co_after), f"D: CL (IMDB), then Co to {last} %")):
        walk = pd.concat(walks)
        ax.plot(walk["step"], walk["yelp_class_incremental"], color="tab:purple", label="Yelp")
        ax.plot(walk["step"], walk["imdb_task_incremental"], color="tab:purple", linestyle="--", label="IMDB")
        ax.axvline(walks[0]["step"].max(), color="grey", linewidth=0.6)
        ax.set_xlabel("optimiser steps from the Yelp model")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title, fontsize=9)
        twin = ax.twinx()
        twin.plot(walk["step"], walk["sparsity"], color="tab:red", linewidth=0.8)
        twin.set_ylabel("sparsity (%)", color="tab:red")
        ax.legend(fontsize=7, loc="lower left")
    for order, colour, label in (("cl_co", "tab:green", "CL then Co"), ("co_cl", "tab:orange", "Co then CL")):
        axes[1, 0].plot(table["sparsity"], table[f"yelp_class_incremental_{order}"], color=colour, marker="o",
                        markersize=3, label=f"{label}: Yelp")
        axes[1, 0].plot(table["sparsity"], table[f"imdb_task_incremental_{order}"], color=colour, marker="o",
                        markersize=3, linestyle="--", label=f"{label}: IMDB")
    axes[1, 0].set_xlabel("sparsity (%)")
    axes[1, 0].set_ylabel("test accuracy of the end point (%)")
    axes[1, 0].legend(fontsize=7)
    width = 2.5
    axes[1, 1].bar(table["sparsity"] - width, table["distance"], width, label="between the two end points")
    axes[1, 1].bar(table["sparsity"], table["moved_cl_co"], width, label="CL then Co from the Yelp model")
    axes[1, 1].bar(table["sparsity"] + width, table["moved_co_cl"], width, label="Co then CL from the Yelp model")
    axes[1, 1].set_xlabel("sparsity (%)")
    axes[1, 1].set_ylabel("Euclidean weight distance")
    axes[1, 1].legend(fontsize=7)
    save(fig, path)
    return table


def graph_layout(ids: list[str], edges: list[dict]) -> np.ndarray:
    """2-D positions [N, 2] of the nodes: classical MDS of the shortest-path distances along
    the edges (lengths = weight distances), so the layout follows the paths' geometry."""
    index = {node: i for i, node in enumerate(ids)}
    distances = np.full((len(ids), len(ids)), np.inf)
    np.fill_diagonal(distances, 0.0)
    for edge in edges:
        a, b = index[edge["from"]], index[edge["to"]]
        distances[a, b] = distances[b, a] = min(distances[a, b], edge["length"])
    for k in range(len(ids)):  # Floyd-Warshall
        distances = np.minimum(distances, distances[:, k:k + 1] + distances[k:k + 1, :])
    squared = distances ** 2
    centring = np.eye(len(ids)) - 1.0 / len(ids)
    values, vectors = np.linalg.eigh(-0.5 * centring @ squared @ centring)
    return vectors[:, -2:][:, ::-1] * np.sqrt(np.maximum(values[-2:][::-1], 0))


def plot_bert_graph(query: dict, path: Path) -> pd.DataFrame:
    """Fig. 5E: the path-connected set of models, coloured by each query's inverse
    perplexity. Returns the nodes with their layout."""
    nodes = pd.DataFrame(query["nodes"])
    xy = graph_layout(list(nodes["id"]), query["edges"])
    nodes["x"], nodes["y"] = xy[:, 0], xy[:, 1]
    position = {node: (x, y) for node, x, y in zip(nodes["id"], nodes["x"], nodes["y"])}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, name, label in zip(axes, ("wikitext", "imdb"), ("WikiText-2", "IMDB")):
        for edge in query["edges"]:
            (x0, y0), (x1, y1) = position[edge["from"]], position[edge["to"]]
            ax.plot([x0, x1], [y0, y1], color="lightgrey", linewidth=0.6, zorder=1)
        shown = ax.scatter(nodes["x"], nodes["y"], c=1.0 / nodes[f"{name}_perplexity"], cmap="viridis", s=14, zorder=2)
        best = nodes.loc[nodes[f"{name}_perplexity"].idxmin()]
        ax.annotate(f"best: {best['id']}", (best["x"], best["y"]), fontsize=7)
        fig.colorbar(shown, ax=ax, label=f"1 / perplexity on {label}")
        ax.set_title(f"query: {label}")
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, path)
    return nodes


def plot_bert_scatter(nodes: pd.DataFrame, path: Path) -> None:
    """Fig. 5E right: inverse perplexity of every model on the two queries, by family."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for family, group in nodes.groupby("family"):
        ax.scatter(1.0 / group["wikitext_perplexity"], 1.0 / group["imdb_perplexity"], s=14,
                   color=BERT_FAMILY_COLOURS[family], label=family)
    ax.set_xlabel("1 / perplexity, WikiText-2 query")
    ax.set_ylabel("1 / perplexity, IMDB query")
    ax.legend(fontsize=7)
    save(fig, path)


def family_table(nodes: pd.DataFrame, ranks: dict) -> pd.DataFrame:
    """Per query and family: node count, best and median perplexity, and the query job's rank
    of the family's best (ranks: {query: {family: rank}}, 1 = lowest)."""
    rows = []
    for name in ("wikitext", "imdb"):
        column = f"{name}_perplexity"
        grouped = nodes.groupby("family")[column].agg(["count", "min", "median"]).reset_index()
        grouped["rank"] = grouped["family"].map(ranks[name])
        rows += [{"query": name, **row} for row in grouped.sort_values("rank").to_dict("records")]
    return pd.DataFrame(rows).rename(columns={"count": "models", "min": "best_perplexity",
                                              "median": "median_perplexity"})


def aggregate_bert(cfg: dict, results: Path) -> None:
    """Fig. 5A-E (PNG + CSV), nodes.csv, and summary.md with the tables behind them."""
    from fipbench.studies.bert_paths import all_paths
    settings = cfg["bert"]
    study_dir, seed = Path(results) / "bert", settings["seed"]
    found = {path: json.loads((study_dir / path / f"seed{seed}" / "metrics.json").read_text())
             for path in all_paths(settings)}
    nodes = bert_nodes(found)
    nodes.to_csv(study_dir / "nodes.csv", index=False)
    oneshot = json.loads((study_dir / "oneshot" / f"seed{seed}" / "metrics.json").read_text())
    query = json.loads((study_dir / "query" / f"seed{seed}" / "metrics.json").read_text())
    sparse, base = found["sparse"], found["base"]
    levels = plot_bert_sparsity(oneshot, study_dir / "fig5a_sparsity.png")
    levels.to_csv(study_dir / "fig5a_sparsity.csv", index=False)
    continual = plot_bert_continual(found, nodes, study_dir / "fig5b_continual.png")
    continual.to_csv(study_dir / "fig5b_continual.csv", index=False)
    orders = plot_bert_orders(nodes, query["orders"], study_dir / "fig5cd_orders.png")
    orders.to_csv(study_dir / "fig5cd_orders.csv", index=False)
    graph = plot_bert_graph(query, study_dir / "fig5e_graph.png")
    graph.to_csv(study_dir / "fig5e_nodes.csv", index=False)
    plot_bert_scatter(graph, study_dir / "fig5e_scatter.png")
    families = family_table(graph, query["family_rank"])
    fill = "\n".join(f"| {p} % | " + " | ".join(", ".join(f"{w} ({v:.2f})" for w, v in row["top"]) for row in table) + " |"
                     for p, table in sparse["fill_mask"].items())
    sentences = [row["sentence"] for row in next(iter(sparse["fill_mask"].values()))]
    wide = levels.pivot(index="sparsity", columns="method", values=["mlm_loss", "mlm_accuracy"])
    wide.columns = [f"{method} {value}" for value, method in wide.columns]
    finals = pd.DataFrame([{"path": name, **found[name]["final"]} for name in ("yelp", "imdb_fip", "imdb_naive")])
    (study_dir / "summary.md").write_text(
        f"# BERT customisation (Fig. 5), model `{settings['model']}`\n\n"
        f"Base model: WikiText-2 test masked-token loss {base['start_scores']['wikitext_mlm_loss']:.3f} before and "
        f"{base['final']['wikitext_mlm_loss']:.3f} after the re-adaptation ({settings['base']['steps']} steps); "
        f"{len(graph)} models in the path-connected set, {len(query['edges'])} edges.\n\n"
        "## Fig. 5A: sparsified by FIP, beside the pruning baselines (WikiText-2 test)\n\n"
        + wide.reset_index().to_markdown(index=False, floatfmt=".3f") + "\n\n"
        "Fill in the mask (top-3 words, probability), FIP path:\n\n| sparsity | " + " | ".join(f"`{s}`" for s in sentences)
        + " |\n|" + "---|" * (len(sentences) + 1) + "\n" + fill + "\n\n"
        "## Fig. 5B: IMDB after Yelp (final test accuracy, %)\n\n" + finals.to_markdown(index=False, floatfmt=".2f")
        + "\n\n## Fig. 5C-D: the two orders at each sparsity\n\n" + orders.to_markdown(index=False, floatfmt=".3f")
        + "\n\n## Fig. 5E: which order family each query prefers\n\n"
        + "".join(f"- {name}: " + ", ".join(f"{family} {value:+.3f}" for family, value in preference.items())
                  + " (log of the other order family's best pseudo-perplexity over this family's: positive, "
                  "preferred)\n" for name, preference in query.get("order_preference", {}).items())
        + "\nEvery family, base and sparse beside them (pseudo-perplexity, lower is better):\n\n"
        + families.to_markdown(index=False, floatfmt=".2f") + "\n")


AGGREGATORS = {"continual_2task": aggregate, "task_sequence": aggregate_task_sequence, "sparsity": aggregate_sparsity, "robustness": aggregate_robustness,
               "geometry": aggregate_geometry, "bert": aggregate_bert}


VERDICT_COLOURS = {"reproduced": "tab:green", "not separated": "tab:gray", "not reproduced": "tab:red"}


def claims_overview(rows: list[dict], scale: str, path: Path) -> None:
    """The whole reproduction at a glance (PNG): every judged row of the paper in percentage points,
    coloured by verdict. Left, the levels the paper states: its value or range in black
    (its sd as a thin bar), ours as mean +- sd over seeds. Right, the orderings and
    parities: our difference d with the threshold t as a bar, the paper's stated gap in
    black where it gives one."""
    judged = [row for row in rows if "plotted" in row and row["plotted"]["percent"]
              and not row["figure"].startswith("(")]  # the paper's claims, not the suite's own
    panels = [[row for row in judged if not row["plotted"]["ordering"]
               and np.isfinite([row["plotted"]["low"], row["plotted"]["high"]]).all()],  # a value or a range
              [row for row in judged if row["plotted"]["ordering"]]]
    height = 0.22 * max(len(panel) for panel in panels) + 1.5
    fig, axes = plt.subplots(1, 2, figsize=(13, height))
    for ax, panel, ordering in zip(axes, panels, (False, True)):
        for y, row in enumerate(reversed(panel)):
            numbers, colour = row["plotted"], VERDICT_COLOURS[row["verdict"]]
            if ordering:
                ax.errorbar(numbers["d"], y, xerr=numbers["t"], fmt="o", color=colour, ms=4, capsize=2)
                if numbers.get("gap") is not None:
                    ax.plot(numbers["gap"], y, "kd", ms=4)
            else:
                ax.plot([numbers["low"], numbers["high"]], [y, y], "k-", lw=3)
                ax.errorbar((numbers["low"] + numbers["high"]) / 2, y, xerr=numbers["paper_sd"] or None, fmt="kd",
                            ms=4, lw=0.8)
                ax.errorbar(numbers["mean"], y, xerr=numbers["sd"], fmt="o", color=colour, ms=4, capsize=2)
        ax.set_yticks(range(len(panel)), [row["id"] for row in reversed(panel)], fontsize=7)
        ax.set_ylim(-1, max(len(panel), 1))
        ax.grid(axis="x", alpha=0.3)
        if ordering:
            ax.axvline(0, color="k", lw=0.8)
            ax.set_xlabel("d (points) = ours - the compared; bar: threshold t; black: the paper's gap")
            ax.set_title("orderings and parities")
        else:
            ax.set_xlabel("accuracy or sparsity (%); black: the paper; colour: ours (mean +- sd)")
            ax.set_title("levels the paper states")
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=v) for v, c in VERDICT_COLOURS.items()]
    fig.suptitle(f"Claims at scale {scale}: the paper against fipbench", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.legend(handles=handles, loc="upper right", ncol=3, fontsize=8, frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)
