"""Two-task continual learning (Fig. 2A-C, 2F(i)): finals, curves, the solver comparison."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from fipbench.layout import seed_of
from fipbench.records import read_results
from fipbench.report.common import grid_table, mean_sd_table, save

TASK_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
FINAL_KEYS = ["mnist_class_incremental", "fashion_mnist_class_incremental", "mean_class_incremental",
              "mnist_task_incremental", "fashion_mnist_task_incremental", "mean_task_incremental"]


def continual_2task_tables(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per method x seed of final numbers, one row per method x seed x curve point)."""
    finals, curves = [], []
    for folder, metrics, provenance in read_results(study_dir, "*/seed*/metrics.json"):
        method, seed = folder.parent.name, seed_of(folder)
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
