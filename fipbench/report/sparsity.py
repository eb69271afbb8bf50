"""Sparsification (Fig. 3): accuracy against sparsity, layers, connectivity, weight PCA."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fipbench.layout import seed_folder, seed_of
from fipbench.records import level_key, read_results
from fipbench.report.common import save


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
                         "seed": seed_of(folder), "target": target,
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


def aggregate(cfg: dict, results: Path) -> None:
    """levels.csv, summary.md, Fig. 3B/3C and, per network with FIP results, its layer
    sparsity (3F, 3G), weight-space PCA (3D, 3E) and connectivity (3F top) under
    results/sparsity."""
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
    for network in [n for n in cfg["sparsity"]["networks"] if "fip" in set(levels[levels["network"] == n]["method"])]:
        part, sparsity = levels[levels["network"] == network], cfg["sparsity"][network]["pca_sparsity"]
        plot_layer_sparsity(part, sparsity, study_dir / f"layers_{network}.png").to_csv(
            study_dir / f"layers_{network}.csv", index=False)
        first = {method: seed_folder(study_dir, network, method, seed=min(part[part['method'] == method]['seed']))
                 for method in ("fip", "lth") if method in set(part["method"])}  # LTH may be left to a GPU
        metrics = {method: json.loads((folder / "metrics.json").read_text()) for method, folder in first.items()}
        plot_weight_pca(metrics["fip"]["pca"], study_dir / f"pca_{network}.png").to_csv(
            study_dir / f"pca_{network}.csv", index=False)
        recorded = {method: m["levels"][level_key(sparsity)] for method, m in metrics.items()
                    if "connectivity" in m["levels"][level_key(sparsity)]}  # results older than the key lack it
        plot_connectivity(recorded, study_dir / f"connectivity_{network}.png").to_csv(
            study_dir / f"connectivity_{network}.csv", index=False)
