"""Side by side: the claims rows of some studies on two results trees of one scale, made
in two precisions (for example fp32 and bf16); writes a markdown table.

For each claims row whose metric lies in the given studies (and under the given method
prefixes): the fp32 mean +- sd of its metric over the seeds, the bf16 mean, their difference
in fp32 standard deviations, and the verdict on each tree. A headline moves "within 2 sd"
when |bf16 - fp32| <= 2 sd (fp32's sd over seeds; with one seed or sd 0, the difference
alone is shown). Rows of the table are claims; the last column says whether the verdicts agree.

    python scripts/compare_precision.py --scale laptop --fp32 TREE --bf16 TREE \
        --only continual_2task/ sparsity/lenet300_100/ --out docs/precision.md.table
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fipbench.claims import CLAIMS_FILE, collect, compared_method, evaluate_claim, number  # noqa: E402
from fipbench.layout import seeds_of  # noqa: E402
from fipbench.config import load  # noqa: E402


def compare(scale: str, fp32: Path, bf16: Path, only: list[str]) -> list[dict]:
    """One dict per claims row in `only` (prefixes of study/method): the metric's values on
    both trees, the mean of the metric it is compared with (if any) on each, and both verdicts."""
    cfg = load({"scale": scale})
    rows = []
    for claim in yaml.safe_load(CLAIMS_FILE.read_text())["claims"]:
        metric = claim["metric"]
        if not any(f"{metric['study']}/{metric['method']}/".startswith(prefix) for prefix in only):
            continue
        seeds = seeds_of(cfg, metric["study"])

        def seeds_for(method, study=None, seeds=seeds):
            return seeds.get(method, []) if isinstance(seeds, dict) else seeds
        values = {name: collect(tree, metric["study"], metric["method"], metric["key"],
                                seeds_for(metric["method"])).values
                  for name, tree in (("fp32", fp32), ("bf16", bf16))}
        verdicts = {name: evaluate_claim(claim, scale, tree, seeds_for)["verdict"]
                    for name, tree in (("fp32", fp32), ("bf16", bf16))}
        other = compared_method(claim["statement"])
        compared = "-"
        if other:
            means = [collect(tree, metric["study"], other["method"], other["key"], seeds_for(other["method"])).values
                     for tree in (fp32, bf16)]
            compared = f"{other['method']} {other['key']}: " + " / ".join(
                number(statistics.mean(v)) if v else "-" for v in means)
        ran = sorted({str(json.loads(path.read_text()).get("precision", "fp32 (before the setting)"))
                      for method in {metric["method"], (other or {}).get("method", metric["method"])}
                      for path in (bf16 / metric["study"] / method).glob("seed*/provenance.json")})
        rows.append({"id": claim["id"], "metric": f"{metric['method']} {metric['key']}", "values": values,
                     "compared": compared, "verdicts": verdicts, "bf16_tree_ran": ", ".join(ran)})
    return rows


def markdown(rows: list[dict]) -> str:
    header = ["claim", "metric", "fp32 (mean +- sd, n)", "bf16 (mean, n)", "bf16 - fp32 (in fp32 sd)",
              "compared with (fp32 / bf16 mean)", "verdict fp32", "verdict bf16", "same verdict",
              "precision the bf16 tree's results ran in"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        a, b = row["values"]["fp32"], row["values"]["bf16"]
        if a and b:
            sd = statistics.stdev(a) if len(a) > 1 else 0.0
            difference = statistics.mean(b) - statistics.mean(a)
            moved = f"{number(difference)}" + (f" ({difference / sd:+.2f} sd)" if sd > 0 else "")
            first = f"{number(statistics.mean(a))} +- {number(sd)} (n={len(a)})"
            second = f"{number(statistics.mean(b))} (n={len(b)})"
        else:
            moved, first, second = "-", f"n={len(a)}", f"n={len(b)}"
        same = "yes" if row["verdicts"]["fp32"] == row["verdicts"]["bf16"] else "**no**"
        lines.append("| " + " | ".join([row["id"], row["metric"], first, second, moved, row["compared"], row["verdicts"]["fp32"],
                                         row["verdicts"]["bf16"], same, row["bf16_tree_ran"]]) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="laptop")
    parser.add_argument("--fp32", type=Path, required=True, help="results/<scale> tree made in fp32")
    parser.add_argument("--bf16", type=Path, required=True, help="results/<scale> tree made in bf16")
    parser.add_argument("--only", nargs="+", required=True, help="prefixes study/method/ of the rows to compare")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    table = markdown(compare(args.scale, args.fp32, args.bf16, args.only))
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
