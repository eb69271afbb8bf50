"""Task sequences (Fig. 2D-F(ii)): accuracy after each task, score heatmaps, finals."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fipbench.layout import seed_of
from fipbench.records import read_results
from fipbench.report.common import grid_table, mean_sd_table, save


def task_sequence_tables(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per method x seed of final numbers, one row per method x seed x task learned
    of the accuracies after it, with the FIP memory held and the task's wall seconds)."""
    finals, after = [], []
    for folder, metrics, provenance in read_results(study_dir, "*/seed*/metrics.json"):
        method, seed = folder.parent.name, seed_of(folder)
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


def aggregate(cfg: dict, results: Path) -> None:
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
