"""BERT customisation (Fig. 5): sparsity, the two task orders, the queried set."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fipbench.layout import seed_folder
from fipbench.report.common import save


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


def aggregate(cfg: dict, results: Path) -> None:
    """Fig. 5A-E (PNG + CSV), nodes.csv, and summary.md with the tables behind them."""
    from fipbench.studies.bert_paths import all_paths
    settings = cfg["bert"]
    study_dir, seed = Path(results) / "bert", settings["seed"]
    found = {path: json.loads((seed_folder(study_dir, path, seed=seed) / "metrics.json").read_text())
             for path in all_paths(settings)}
    nodes = bert_nodes(found)
    nodes.to_csv(study_dir / "nodes.csv", index=False)
    oneshot = json.loads((seed_folder(study_dir, "oneshot", seed=seed) / "metrics.json").read_text())
    query = json.loads((seed_folder(study_dir, "query", seed=seed) / "metrics.json").read_text())
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
