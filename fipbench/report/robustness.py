"""Adversarial robustness (Fig. 4): ensembles under attack, members, coherence, diversity."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fipbench.layout import seed_of
from fipbench.records import read_results
from fipbench.report.common import save


def robustness_table(study_dir: Path, strengths: dict) -> pd.DataFrame:
    """One row per method x trial x condition (clean, transfer, white_box, and
    transfer_calibrated at the calibrated strength) x epsilon: ensemble and mean member
    accuracy (%). strengths: the transfer job's metrics ({key: {"epsilon"}})."""
    rows = []
    for folder, metrics, _ in read_results(study_dir, "*/seed*/metrics.json"):
        if "clean" not in metrics:  # the trained networks, the calibration and the transfer set
            continue
        base = {"method": metrics["method"], "trial": metrics["trial"]}
        rows.append({**base, "condition": "clean", "epsilon": 0.0, "ensemble": metrics["clean"]["ensemble"],
                     "member_mean": metrics["clean"]["member_mean"]})
        for condition in ("transfer", "white_box"):
            for key, result in metrics[condition].items():
                calibrated = key == "calibrated"
                rows.append({**base, "condition": f"{condition}_calibrated" if calibrated else condition,
                             "epsilon": strengths[key]["epsilon"] if calibrated else
                             float(key.removeprefix("eps").replace("_", ".")),
                             "ensemble": result["ensemble"], "member_mean": result["member_mean"]})
    return pd.DataFrame(rows)


def first_trials(study_dir: Path, methods: list[str]) -> dict[str, dict]:
    """{method: metrics of its lowest trial} for the methods that have one."""
    found = {}
    for method in methods:
        paths = sorted((study_dir / method).glob("seed*/metrics.json"), key=lambda p: seed_of(p.parent))
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


def plot_reach(study_dir: Path, path: Path) -> pd.DataFrame | None:
    """The FIP walk's reach, per trial, against its path length relative to |w_start|:
    validation accuracy, distance from the start, early-layer diversity from the start and
    transfer-attack accuracy of the walker and of the ensemble spread over the path so far,
    with the members' points marked. Returns one row per trial x scored point (None when
    no build has a reach)."""
    rows, members = [], []
    for _, metrics, _ in read_results(study_dir / "build" / "fip", "seed*/metrics.json"):
        if "reach" in metrics:
            rows += [{"trial": metrics["trial"], **point} for point in metrics["reach"]["points"]]
            members += [(metrics["trial"], cycle) for cycle in metrics["reach"]["member_cycles"]]
    if not rows:
        return None
    data = pd.DataFrame(rows)
    panels = [("val_accuracy", "validation accuracy (%)"), ("weight_distance", "|w - w_start| / |w_start|"),
              ("early_diversity", "early-layer 1 - CKA with the start"),
              ("transfer_accuracy", "transfer accuracy (%)")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for trial, part in data.groupby("trial"):
        chosen = part[part["cycle"].isin([cycle for t, cycle in members if t == trial])]
        for ax, (column, label) in zip(axes, panels):
            line, = ax.plot(part["path_length"], part[column], marker=".", label=f"trial {trial}")
            ax.plot(chosen["path_length"], chosen[column], "o", mfc="none", color=line.get_color())
            if column == "transfer_accuracy":
                ax.plot(part["path_length"], part["ensemble_transfer_accuracy"], "--", color=line.get_color())
                ax.set_title("walker (solid), ensemble spread over the path so far (dashed)", fontsize=8)
            ax.set_ylabel(label, fontsize=8)
    for ax in axes:
        ax.set_xlabel("path length / |w_start| (circles: members)")
    axes[0].legend(fontsize=8)
    save(fig, path)
    return data


def calibration_section(found: dict) -> str:
    """summary.md's section on the calibrated attack strength (the calibration job's metrics)."""
    epsilon = "not bracketed by the sweep" if found["epsilon"] is None else f"{found['epsilon']:.3f}/255"
    return (f"## The attack calibrated to one network's {found['target_accuracy']} %\n\n"
            f"Pool network 0 on PGD images crafted on the surrogate from the first {found['images']} test images "
            f"(clean {found['clean_accuracy']:.2f} %); calibrated epsilon: {epsilon}.\n\n"
            + pd.DataFrame(found["sweep"]).to_markdown(index=False) + "\n\n")


def aggregate(cfg: dict, results: Path) -> None:
    """accuracy.csv, summary.md and Fig. 4C-4F under results/robustness."""
    study_dir, settings = Path(results) / "robustness", cfg["robustness"]
    transfer = json.loads(next((study_dir / "transfer").glob("seed*/metrics.json")).read_text())
    table = robustness_table(study_dir, transfer)
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
    networks = [{"seed": seed_of(folder), "test_accuracy": metrics["test_accuracy"],
                 "wall_seconds": provenance["wall_seconds"]}
                for folder, metrics, provenance in read_results(study_dir / "network", "seed*/metrics.json")]
    calibration = [json.loads(path.read_text()) for path in (study_dir / "calibration").glob("seed*/metrics.json")]
    (study_dir / "summary.md").write_text(
        "# Adversarial robustness of ensembles (Fig. 4)\n\n"
        f"Test accuracy (%) on the first {transfer['images']} CIFAR-10 test images, mean +- sd (n trials), of the "
        "ensemble (softmax averaged) and of its members on average. Transfer: PGD images crafted on the surrogate; "
        f"white-box: PGD against the whole ensemble. Attack: {json.dumps(transfer['attack'])}; epsilon in 1/255.\n\n"
        + summary.reset_index().to_markdown(index=False)
        + "\n\n## The surrogate on its own PGD images\n\n"
        + pd.DataFrame([{"key": k, **v} for k, v in transfer.items()
                        if k.startswith("eps") or k == "calibrated"]).to_markdown(index=False)
        + f"\n\nclean accuracy {transfer['clean_accuracy']:.2f} %\n\n"
        + "".join(calibration_section(found) for found in calibration)
        + "## Trained networks\n\n"
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
    reach = plot_reach(study_dir, study_dir / "fig4_reach.png")
    if reach is not None:
        reach.to_csv(study_dir / "fig4_reach.csv", index=False)
