"""Weight-space geometry: the metric's spectra per network and state."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fipbench.layout import seed_of
from fipbench.records import read_results
from fipbench.report.common import save


def geometry_table(study_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(one row per network x state x seed of the spectrum's summary numbers, the top
    eigenvalues [network, state, seed, index, eigenvalue], the quadrature nodes pooled
    [network, state, seed, value, weight], weights divided by the number of vectors)."""
    rows, tops, nodes = [], [], []
    for folder, metrics, provenance in read_results(study_dir, "*/*/seed*/metrics.json"):
        key = {"network": metrics["network"], "state": metrics["state"], "seed": seed_of(folder)}
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


def aggregate(cfg: dict, results: Path) -> None:
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
