"""Wall time of one workflow run of a study, read from the provenance of its results
(not a test): the span from the first job's start to the last job's end, the sum of job
wall times per kind of job, the devices the jobs ran on, and for the robustness study the
headline ensemble accuracies, so that two runs of the same config (say CPU and GPU) can be
set side by side.

    python benchmarks/workflow_time.py RESULTS_DIR [--label cpu] [--out FILE.json]
"""

import argparse
import json
import statistics
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def job_kind(folder: Path, results: Path) -> str:
    """'network', 'build/fip', 'fip', ... : the results folder less its seed part."""
    return str(folder.relative_to(results).parent)


def robustness_headline(results: Path) -> dict:
    """{method: {condition: mean ensemble accuracy over trials}} at the attack epsilons."""
    table = defaultdict(lambda: defaultdict(list))
    for path in results.glob("*/seed*/metrics.json"):
        metrics = json.loads(path.read_text())
        if "clean" not in metrics:
            continue
        table[metrics["method"]]["clean"].append(metrics["clean"]["ensemble"])
        for attack in ("transfer", "white_box"):
            for key, value in metrics[attack].items():
                table[metrics["method"]][f"{attack}_{key}"].append(value["ensemble"])
    return {method: {name: round(statistics.mean(v), 2) for name, v in sorted(rows.items())}
            for method, rows in sorted(table.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    starts, ends, per_kind, devices = [], [], defaultdict(float), set()
    for path in sorted(args.results.rglob("provenance.json")):
        provenance = json.loads(path.read_text())
        starts.append(datetime.fromisoformat(provenance["start"]))
        ends.append(datetime.fromisoformat(provenance["end"]))
        per_kind[job_kind(path.parent, args.results)] += provenance["wall_seconds"]
        devices.add(provenance.get("device_name") or provenance["device"])
    if not starts:
        raise SystemExit(f"no provenance.json under {args.results}")
    result = {"label": args.label, "results": str(args.results), "jobs": len(starts),
              "span_seconds": (max(ends) - min(starts)).total_seconds(),
              "job_seconds": round(sum(per_kind.values()), 1),
              "job_seconds_by_kind": {k: round(v, 1) for k, v in sorted(per_kind.items())},
              "devices": sorted(devices)}
    if args.results.name == "robustness":
        result["ensemble_accuracy"] = robustness_headline(args.results)
    text = json.dumps(result, indent=1) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
