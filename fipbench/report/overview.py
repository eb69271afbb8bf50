"""The claims overview: every judged claim of the paper, the paper against fipbench."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np



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
