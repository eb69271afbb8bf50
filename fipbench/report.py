"""Aggregation: tables (CSV + markdown) and figures (PNG + the CSV behind each) of one
scale, read only from the results folders' metrics.json and provenance.json."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from fipbench.results import read_results  # noqa: E402

TASK_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
FINAL_KEYS = ["mnist_class_incremental", "fashion_mnist_class_incremental", "mean_class_incremental",
              "mnist_task_incremental", "fashion_mnist_task_incremental", "mean_task_incremental"]


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
        finals.append(row)
        curves += [{"method": method, "seed": seed, "step": point["step"],
                    **{f"{task}_accuracy": point[f"{task}_class_incremental"] for task in TASK_LABELS}}
                   for point in metrics["curve"]]
    return pd.DataFrame(finals), pd.DataFrame(curves)


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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_finals(finals: pd.DataFrame, path: Path) -> None:
    """Fig. 2F(i): final accuracies per method, mean with sd error bars over seeds."""
    keys = ["mnist_class_incremental", "fashion_mnist_class_incremental", "mean_class_incremental"]
    mean = finals.groupby("method")[keys].mean()
    sd = finals.groupby("method")[keys].std(ddof=1).fillna(0)
    ax = mean.plot.bar(yerr=sd, capsize=3, figsize=(7, 3.5), rot=0)
    ax.set_ylabel("test accuracy (%), class-incremental")
    ax.set_ylim(0, 115)
    ax.legend(["MNIST", "Fashion-MNIST", "mean"], loc="upper center", ncols=3, frameon=False)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)


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
    grids = []
    for path in sorted(study_dir.glob("tune/*/chosen.json")):
        chosen = json.loads(path.read_text())
        grid = ", ".join(f"{row['value']:g}: {row['score']:.2f}" for row in chosen["grid"])
        grids.append(f"| {chosen['method']} | {chosen['parameter']} | {grid} | {chosen['value']:g} |")
    (study_dir / "summary.md").write_text(
        "# Two-task continual learning (MNIST -> Fashion-MNIST)\n\n"
        "Test accuracy (%) after learning Fashion-MNIST, mean +- sd over seeds. `bn_new_task_only_*`: the same "
        "weights with batch-norm statistics re-estimated from Fashion-MNIST alone.\n\n"
        + table.to_markdown(index=False)
        + "\n\n## Hyperparameters chosen on the validation split (grid value: mean class-incremental accuracy)\n\n"
        "| method | parameter | grid | chosen |\n|---|---|---|---|\n" + "\n".join(grids) + "\n")
    plot_curves(curves, study_dir / "fig2c_curves.png")
    finals.groupby("method")[FINAL_KEYS[:3]].agg(["mean", "std"]).to_csv(study_dir / "fig2f_final.csv")
    plot_finals(finals, study_dir / "fig2f_final.png")
