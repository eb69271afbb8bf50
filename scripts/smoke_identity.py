"""Does a change that means no behaviour change keep the numbers? Runs the whole smoke
workflow at two commits, each in a temporary git worktree with data from
FIPBENCH_DATA_MIRROR, and compares every results/smoke/**/metrics.json of the two runs
(not a test: it takes minutes).

    python scripts/smoke_identity.py BEFORE AFTER [--cores 2] [--out docs/smoke_identity.json]

Each file is "identical" (same bytes), "identical under renames" (equal once the keys
RENAMED_IN_METRICS lists are read under their new names: the continual studies' metrics
echo their method's settings, so a renamed config key shows there), "different" (the first
differing key is named), "new" (only in AFTER: a method or job the change adds) or "missing"
(only in BEFORE). Exit status 1 unless every file is identical, identical under renames or
new."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from fipbench.config import RENAMED

REPO = Path(__file__).resolve().parent.parent
# the renamed keys of the continual studies' method blocks, which their metrics echo as "settings"
RENAMED_IN_METRICS = {old.rsplit(".", 1)[1]: new for old, new in RENAMED.items()
                      if old.split(".")[0] in ("continual_2task", "task_sequence") and old.count(".") == 2}


def run_smoke(commit: str, folder: Path, cores: int) -> Path:
    """results/smoke of the smoke workflow run in a worktree of `commit` at `folder`."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), commit], cwd=REPO, check=True,
                   capture_output=True)
    print(f"{commit}: snakemake --cores {cores} --config scale=smoke in {folder}", flush=True)
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), "--config", "scale=smoke"],
                   cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return folder / "results" / "smoke"


def renamed(value):
    """value with every dict key of RENAMED_IN_METRICS under its new name, at any depth."""
    if isinstance(value, dict):
        return {RENAMED_IN_METRICS.get(k, k): renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v) for v in value]
    return value


def first_difference(a, b, path: str = "") -> str:
    """The first dotted key (or list index) where a and b differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b or a[key] != b[key]:
                return first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:60]} != {str(b)[:60]}"


def compare(before: Path, after: Path) -> dict[str, str]:
    """{metrics.json path relative to results/smoke: verdict}."""
    names = sorted({p.relative_to(root) for root in (before, after) for p in root.rglob("metrics.json")})
    verdicts = {}
    for name in names:
        a, b = before / name, after / name
        if not (a.exists() and b.exists()):
            verdicts[str(name)] = "missing" if a.exists() else "new"
        elif a.read_bytes() == b.read_bytes():
            verdicts[str(name)] = "identical"
        else:
            old, new = json.loads(a.read_text()), json.loads(b.read_text())
            verdicts[str(name)] = ("identical under renames" if renamed(old) == new
                                   else "different: " + first_difference(renamed(old), new))
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "smoke_identity.json")
    args = parser.parse_args()
    if not os.environ.get("FIPBENCH_DATA_MIRROR"):
        sys.exit("smoke_identity: set FIPBENCH_DATA_MIRROR to the data mirror")
    commits = [subprocess.run(["git", "rev-parse", c], cwd=REPO, check=True, capture_output=True,
                              text=True).stdout.strip() for c in (args.before, args.after)]
    with tempfile.TemporaryDirectory() as scratch:
        try:
            roots = [run_smoke(c, Path(scratch) / f"run{i}", args.cores) for i, c in enumerate(commits)]
            verdicts = compare(*roots)
        finally:
            for i in range(2):
                subprocess.run(["git", "worktree", "remove", "--force", str(Path(scratch) / f"run{i}")], cwd=REPO,
                               capture_output=True)
    counts = {}
    for verdict in verdicts.values():
        kind = verdict.split(":")[0]
        counts[kind] = counts.get(kind, 0) + 1
    report = {"before": commits[0], "after": commits[1], "renamed_in_metrics": RENAMED_IN_METRICS,
              "counts": counts, "files": verdicts}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(counts))
    return 0 if set(counts) <= {"identical", "identical under renames", "new"} else 1


if __name__ == "__main__":
    sys.exit(main())
