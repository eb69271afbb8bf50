"""Claims and gates: evaluate config/claims.yaml on a results tree (`fipbench check`)."""

import json
import statistics
from pathlib import Path

import yaml

from fipbench import REPO_ROOT
from fipbench.audit import audit
from fipbench.config import sparsity_seeds
from fipbench.data.mirror import mirror_root

CLAIMS_FILE = REPO_ROOT / "config" / "claims.yaml"


def lookup(metrics: dict, key: str):
    """The value at dotted path key in metrics (KeyError when absent)."""
    value = metrics
    for part in key.split("."):
        value = value[part]
    return value


def collect(results: Path, study: str, method: str, key: str, seeds: list[int]) -> dict:
    """{"values": [...], "missing": [seeds without a result]} for one metric."""
    values, missing = [], []
    for seed in seeds:
        path = results / study / method / f"seed{seed}" / "metrics.json"
        if path.exists():
            values.append(float(lookup(json.loads(path.read_text()), key)))
        else:
            missing.append(seed)
    return {"values": values, "missing": missing}


def number(value: float) -> str:
    """Two decimals from 1 up (accuracies, counts), five significant digits below, so that
    fractions near 1 and small distances stay readable."""
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.5g}"


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{number(statistics.mean(values))} +- {number(sd)} (n={len(values)})"


def evaluate_claim(claim: dict, scale: str, results: Path, seeds: list[int] | dict[str, list[int]]) -> dict:
    """One row of the claims table: paper, reproduced, expectation and verdict. seeds: the
    seed folders every method should have, or {method: seeds} where methods differ."""
    paper = claim["paper"]
    row = {"id": claim["id"], "figure": claim["figure"], "claim": claim["claim"],
           "paper": "-" if paper.get("value") is None else
           f"{paper['value']}" + (f" +- {paper['sd']}" if paper.get("sd") is not None else "") + f" (n={paper['n']})"}
    expect = claim["expect"].get(scale)
    if expect is None or expect["kind"] == "not_run":
        reason = "not stated" if expect is None else f"not run: {expect['reason']}"
        return {**row, "kind": "-", "reproduced": "-", "expectation": reason, "verdict": "not run"}
    metric = claim["metric"]
    expected = seeds.get if isinstance(seeds, dict) else (lambda _: seeds)
    measured = collect(results, metric["study"], metric["method"], metric["key"], expected(metric["method"]))
    row.update(kind=expect["kind"], reproduced=f"{metric['method']} {metric['key']}: {summary(measured['values'])}")
    missing = measured["missing"]
    other = None
    compared = expect.get("exceeds") or expect.get("ratio")
    if compared:
        other = collect(results, metric["study"], compared["method"], compared["key"], expected(compared["method"]))
        row["reproduced"] += f"; {compared['method']} {compared['key']}: {summary(other['values'])}"
        missing = missing + other["missing"]
    row["expectation"] = describe(expect, paper)
    if missing:
        row["verdict"] = "incomplete" if measured["values"] or (other and other["values"]) else "not run"
        row["reproduced"] += f" [missing seeds {sorted(set(missing))}]"
        return row
    mean = statistics.mean(measured["values"])
    if "ratio" in expect:
        ratio = mean / statistics.mean(other["values"])
        row["reproduced"] += f"; ratio {ratio:.2f}"
    holds = {
        "at_least": lambda: mean >= expect["at_least"],
        "at_most": lambda: mean <= expect["at_most"],
        "within": lambda: abs(mean - paper["value"]) <= expect["within"],
        "range": lambda: expect["range"][0] <= mean <= expect["range"][1],
        "exceeds": lambda: mean >= statistics.mean(other["values"]) + expect["exceeds"]["margin"],
        "ratio": lambda: ratio >= expect["ratio"]["at_least"],
    }
    form = next(name for name in holds if name in expect)
    ok = holds[form]()
    if expect["kind"] == "gate":
        row["verdict"] = "pass" if ok else "FAIL"
    else:
        row["verdict"] = "reproduced" if ok else "not reproduced"
    return row


def describe(expect: dict, paper: dict) -> str:
    kind = expect["kind"]
    if "at_least" in expect:
        text = f">= {expect['at_least']}"
    elif "at_most" in expect:
        text = f"<= {expect['at_most']}"
    elif "within" in expect:
        text = f"within {expect['within']} of {paper['value']}"
    elif "range" in expect:
        text = f"in [{expect['range'][0]}, {expect['range'][1]}]"
    elif "ratio" in expect:
        spec = expect["ratio"]
        text = f"ratio to {spec['method']} {spec['key']} >= {spec['at_least']}"
    else:
        spec = expect["exceeds"]
        text = f">= {spec['method']} {spec['key']} + {spec['margin']}"
    return f"{kind}: {text}"


def check(cfg: dict, results: Path) -> list[dict]:
    """Rows of the claims table of cfg's scale on the results folder of that scale."""
    claims = yaml.safe_load(CLAIMS_FILE.read_text())["claims"]
    return [evaluate_claim(claim, cfg["scale"], Path(results), seeds_of(cfg, claim["metric"]["study"]))
            for claim in claims]


def seeds_of(cfg: dict, study: str) -> list[int] | dict[str, list[int]]:
    """The seed folders a study's methods write: cfg["seeds"], except in the robustness
    study, where seed k is the k-th trial of an ensemble's construction and each method
    has its own number of trials (and `network` is the trained pool), in the sparsity
    study, where a network may name its own seeds, and in the geometry and BERT studies
    (their own seeds; BERT has one)."""
    if study == "geometry":
        return cfg["geometry"]["seeds"]
    if study == "bert":
        return [cfg["bert"]["seed"]]
    if study == "sparsity":
        networks = [key for key, value in cfg["sparsity"].items() if isinstance(value, dict)]
        return {f"{network}/{method}": sparsity_seeds(cfg, network)
                for network in networks for method in [*cfg["sparsity"]["methods"], "dense"]}
    if study == "robustness":
        settings = cfg["robustness"]
        return {"network": list(range(settings["pool"])),
                **{method: list(range(n)) for method, n in settings["trials"].items()}}
    return cfg["seeds"]


def markdown_table(rows: list[dict]) -> str:
    """The claims table in markdown, one row per claim."""
    header = ["id", "figure", "claim", "paper", "reproduced (mean +- sd, n)", "expectation", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["id"], row["figure"], row["claim"], row["paper"], row["reproduced"],
                 row["expectation"], f"**{row['verdict']}**"]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, scale: str, table: str) -> None:
    """Replace the text between `<!-- claims:SCALE -->` and `<!-- /claims:SCALE -->` in readme."""
    start, end = f"<!-- claims:{scale} -->", f"<!-- /claims:{scale} -->"
    text = Path(readme).read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    Path(readme).write_text(head + start + "\n" + table + rest[rest.index(end):])


def run_check(cfg: dict, results: Path, readme: Path | None = None) -> int:
    """Print and write results/<scale>/claims.md (and the README's table of the scale when
    readme is given), with the provenance audit of the results; 1 when a gate fails or is
    incomplete, or when a result's provenance does not check out."""
    rows = check(cfg, results)
    table = markdown_table(rows)
    problems, notes = audit(Path(results), cfg, mirror_root())
    text = (f"# Claims at scale `{cfg['scale']}`\n\nGenerated by `fipbench check`; gates fail the check, "
            "findings report whether the paper's claim reproduces.\n\n" + table
            + "\n## Provenance audit\n\n" + "".join(f"- {line}\n" for line in problems + notes)
            + ("" if problems else "No problem found in what was checked.\n"))
    Path(results).mkdir(parents=True, exist_ok=True)
    (Path(results) / "claims.md").write_text(text)
    if readme is not None:
        update_readme(readme, cfg["scale"], table)
    print(text)
    failed = [row["id"] for row in rows if row["kind"] == "gate" and row["verdict"] != "pass"]
    if failed:
        print(f"fipbench check: gates not passed: {', '.join(failed)}")
    if problems:
        print(f"fipbench check: {len(problems)} results fail the provenance audit")
    return 1 if failed or problems else 0
