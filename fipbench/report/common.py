"""What every study's aggregation uses: saving a figure, mean +- sd tables, the grid table."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd



def save(fig, path: Path) -> None:
    """Lay out, write as PNG (120 dpi) and close a figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mean_sd_table(finals: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per method: 'mean +- sd' of each column over seeds, and n."""
    grouped = finals.groupby("method")[columns]
    table = grouped.mean().round(2).astype(str) + " +- " + grouped.std(ddof=1).fillna(0).round(2).astype(str)
    table["n"] = finals.groupby("method").size()
    return table.reset_index()


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
