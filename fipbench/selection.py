"""The validation grids of the continual-learning studies, without torch (the select rule
runs where torch is not installed): which hyperparameter a method's grid searches, the
pick of the best value, and a method's settings with the chosen value."""

import json
from pathlib import Path

from fipbench.records import write_json_atomic


def select(grid_results: list[Path], out: Path, score: str = "mean_class_incremental") -> None:
    """Pick the grid value with the best final `score` (a key of task_accuracies) on the
    validation split; a tie goes to the value whose result comes first in grid_results.

    grid_results: metrics.json files of one method's grid (split "val"), each in a folder
    <parameter>-<value> as the tune rules write them. Writes out (JSON):
    {"method", "parameter", "value", "grid": [{"value", "score"}], "score": "..."}."""
    rows = []
    for path in grid_results:
        metrics = json.loads(Path(path).read_text())
        if metrics["split"] != "val":
            raise ValueError(f"{path}: grid results must be measured on the validation split")
        method, parameter = metrics["method"], Path(path).parent.name.split("-", 1)[0]
        rows.append({"value": metrics["settings"][parameter], "score": metrics["final"][score]})
    best = max(rows, key=lambda row: row["score"])
    described = score.replace("_incremental", "-incremental").replace("_", " ")
    write_json_atomic(Path(out), {"method": method, "parameter": parameter, "value": best["value"],
                                  "grid": rows, "score": f"{described} accuracy, validation split"})


def grid_edges(results: Path) -> list[str]:
    """One line per choice (tune/<method>/chosen.json under results) that sits on an edge
    of a grid of 3 values or more: the grid did not bracket the best value and must be
    extended (a grid of 2, as the smoke scale runs, has no inside)."""
    problems = []
    for path in sorted(Path(results).rglob("tune/*/chosen.json")):
        chosen = json.loads(path.read_text())
        values = [row["value"] for row in chosen["grid"]]
        if len(values) > 2 and chosen["value"] in (min(values), max(values)):
            problems.append(f"{path.parent.relative_to(results)}: the chosen {chosen['parameter']} "
                            f"{chosen['value']} is an edge of its grid {sorted(values)}; extend the grid")
    return problems


def tuned_settings(study_cfg: dict, method: str, chosen: Path | None = None, value: float | None = None) -> dict:
    """study_cfg[method] with the hyperparameter chosen on the validation grid (chosen.json),
    or set to value (a grid job, for the one parameter study_cfg["tune"][method] searches), if given."""
    settings = dict(study_cfg[method])
    if chosen is not None:
        selection = json.loads(Path(chosen).read_text())
        settings[selection["parameter"]] = selection["value"]
    if value is not None:
        (parameter,) = study_cfg["tune"][method]
        settings[parameter] = value
    return settings
