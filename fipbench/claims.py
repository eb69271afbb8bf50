"""Claims: judge every row of config/claims.yaml on a results tree (`fipbench check`).

Each row states one thing, its `statement`: a level (the paper's value, range or bound,
with the paper's sd and n where it gives them), an ordering (`beats` another method's
metric or a constant, by the paper's `gap` where it states one) or parity (`par`: at par
with another method). Wherever results exist, at every scale, the row gets one verdict by
one rule (docs/verdicts.md):

    sigma = sqrt(sum of sd^2 / n over the means compared)   ours from the seeds (and a stochastic estimate's
                                                             own standard error); the paper's from its sd and n
    t     = max(2 sigma, resolution)                         resolution: RESOLUTION points unless the row sets one
    level     d = how far our mean lies outside the stated value or range (0 inside): reproduced when |d| <= t
    ordering  d = ours - the other: not separated when |d| <= t, else reproduced when d > 0 and d >= gap / 4
    parity    d = ours - the other: reproduced when d >= -t

Gates (`gates: {scale: form}`) are what the suite guarantees at a scale: their own column;
a failed or incomplete gate fails the check. Each row also names its setting at the
scale: the paper's, or the reduction the scale runs (`settings` in config/claims.yaml)."""

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

from fipbench import REPO_ROOT
from fipbench.audit import audit
from fipbench.layout import seed_folder, seeds_of
from fipbench.data.mirror import mirror_root
from fipbench.records import job_time_table
from fipbench.selection import grid_edges

CLAIMS_FILE = REPO_ROOT / "config" / "claims.yaml"
RESOLUTION = 0.5  # points: no difference smaller than this is read as an effect (accuracies in %)


def lookup(metrics: dict, key: str):
    """The value at dotted path key in metrics (KeyError when absent); a last part `count`
    of a list gives its length."""
    value = metrics
    for part in key.split("."):
        value = len(value) if part == "count" and isinstance(value, list) else value[part]
    return value


@dataclass
class Sample:
    """One metric (key of method's metrics.json) over the seeds that should have it:
    missing, the seeds without a metrics.json; absent, those whose metrics.json has no such
    key (the scale does not measure it, for example a sparsity it does not run)."""
    method: str
    key: str
    values: list[float]
    missing: list[int]
    absent: list[int]
    errors: list[float]  # standard error of each seed's value as its job estimated it (0: exact)

    @property
    def mean(self) -> float:
        return statistics.mean(self.values)

    @property
    def variance_of_mean(self) -> float:
        """sd^2 / n over the seeds (0 for one seed: its spread is unknown), plus the mean
        squared standard error of the seeds' own estimates / n."""
        n = len(self.values)
        spread = statistics.variance(self.values) / n if n > 1 else 0.0
        return spread + sum(e * e for e in self.errors) / n / n

    def __str__(self) -> str:
        return f"{self.method} {self.key}: {summary(self.values)}"


def collect(results: Path, study: str, method: str, key: str, seeds: list[int]) -> Sample:
    """The metric over seeds, from results/<study>/<method>/seed<k>/metrics.json; where a
    key `standard_error` stands beside the metric (a stochastic estimate), its errors too."""
    values, missing, absent, errors = [], [], [], []
    sibling = ".".join(key.split(".")[:-1] + ["standard_error"])
    for seed in seeds:
        path = seed_folder(results, study, method, seed=seed) / "metrics.json"
        if not path.exists():
            missing.append(seed)
            continue
        metrics = json.loads(path.read_text())
        try:
            values.append(float(lookup(metrics, key)))
        except KeyError:
            absent.append(seed)
            continue
        try:
            errors.append(float(lookup(metrics, sibling)))
        except (KeyError, TypeError):  # no such key, or the metric sits in a list
            errors.append(0.0)
    return Sample(method, key, values, missing, absent, errors)


def number(value: float) -> str:
    """Two decimals from 1 up (accuracies, counts), five significant digits below, so that
    fractions near 1 and small distances stay readable."""
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.5g}"


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{number(statistics.mean(values))} +- {number(sd)} (n={len(values)})"


def bounds(statement: dict) -> tuple[float, float]:
    """(low, high) of a level statement: a value, a range, or a one-sided bound."""
    if "value" in statement:
        return statement["value"], statement["value"]
    if "range" in statement:
        return tuple(statement["range"])
    return statement.get("at_least", -math.inf), statement.get("at_most", math.inf)


def judge(statement: dict, ours: Sample, other: Sample | None, resolution: float) -> tuple[str, float, float]:
    """(verdict, d, t) of a statement by the module's rule. other: the compared method's
    sample of an ordering or parity (None when it compares with a constant or is a level)."""
    if "beats" in statement or "par" in statement:
        reference = other.mean if other is not None else float(statement.get("beats", statement.get("par")))
        d = ours.mean - reference
        t = max(2 * math.sqrt(ours.variance_of_mean + (other.variance_of_mean if other else 0.0)), resolution)
        if "par" in statement:
            return ("reproduced" if d >= -t else "not reproduced"), d, t
        if abs(d) <= t:
            return "not separated", d, t
        return ("reproduced" if d > 0 and d >= statement.get("gap", 0.0) / 4 else "not reproduced"), d, t
    low, high = bounds(statement)
    d = ours.mean - high if ours.mean > high else ours.mean - low if ours.mean < low else 0.0
    paper_variance = statement.get("sd", 0.0) ** 2 / statement.get("n", 1)
    t = max(2 * math.sqrt(ours.variance_of_mean + paper_variance), resolution)
    return ("reproduced" if abs(d) <= t else "not reproduced"), d, t


def compared_method(statement: dict) -> dict | None:
    """{method, key} an ordering or parity compares with; None for a level or a constant."""
    target = statement.get("beats", statement.get("par"))
    return target if isinstance(target, dict) else None


def describe_statement(statement: dict) -> str:
    """The statement as the table's paper column shows it."""
    spread = (f" +- {statement['sd']}" if "sd" in statement else "") + (f" (n={statement['n']})" if "n" in statement
                                                                       else "")
    target = statement.get("beats", statement.get("par"))
    if target is not None:
        name = f"{target['method']} {target['key']}" if isinstance(target, dict) else number(target)
        if "par" in statement:
            return f"at par with {name}"
        return f"> {name}" + (f" by {statement['gap']}" if "gap" in statement else "") + spread
    if "value" in statement:
        return f"{statement['value']}{spread}"
    if "range" in statement:
        return f"{statement['range'][0]}-{statement['range'][1]}{spread}"
    return (f">= {statement['at_least']}" if "at_least" in statement else f"<= {statement['at_most']}") + spread


GATE_FORMS = {  # gate form -> (test of (mean, other mean, form's value), text)
    "at_least": (lambda mean, other, v: mean >= v, lambda v: f">= {v}"),
    "at_most": (lambda mean, other, v: mean <= v, lambda v: f"<= {v}"),
    "range": (lambda mean, other, v: v[0] <= mean <= v[1], lambda v: f"in [{v[0]}, {v[1]}]"),
    "exceeds": (lambda mean, other, v: mean >= other + v["margin"],
                lambda v: f">= {v['method']} {v['key']} + {v['margin']}"),
    "ratio": (lambda mean, other, v: mean / other >= v["at_least"],
              lambda v: f"/ {v['method']} {v['key']} >= {v['at_least']}"),
}


def evaluate_gate(gate: dict, ours: Sample, results: Path, study: str, seeds_for) -> str:
    """'pass (...)', 'FAIL (...)' or 'incomplete (...)' of one gate form on ours."""
    form = next(name for name in GATE_FORMS if name in gate)
    test, text = GATE_FORMS[form]
    spec = gate[form]
    other = (collect(results, study, spec["method"], spec["key"], seeds_for(spec["method"]))
             if form in ("exceeds", "ratio") else None)
    if ours.missing or not ours.values or (other is not None and (other.missing or not other.values)):
        return f"incomplete ({text(spec)})"
    return ("pass" if test(ours.mean, other.mean if other else None, spec) else "FAIL") + f" ({text(spec)})"


def scale_setting(claim: dict, scale: str, settings: dict) -> dict | None:
    """The entry of `settings` (config/claims.yaml) for the row's study, or network of a
    study run per network (sparsity/<network>), at scale; None when there is none."""
    metric = claim["metric"]
    group = (f"{metric['study']}/{metric['method'].split('/')[0]}" if "/" in metric["method"] else metric["study"])
    by_scale = settings.get(scale, {})
    return by_scale.get(group) or by_scale.get(metric["study"]) or by_scale.get("default")


def setting_text(setting: dict | None, results: Path, seeds_for) -> str:
    """The setting column from the row's settings entry (scale_setting): the reduction the
    scale runs, with its anchor, our number against the paper's, read from the results."""
    if setting is None:
        return "-"
    text = setting["text"]
    anchor = setting.get("anchor")
    if anchor is not None:
        found = collect(results, anchor["study"], anchor["method"], anchor["key"], seeds_for(anchor["method"],
                                                                                             anchor["study"]))
        if found.values:
            text += f"; {anchor['label']} {number(found.mean)} % against {anchor['paper']}"
    return text


def evaluate_claim(claim: dict, scale: str, results: Path, seeds_for, settings: dict | None = None) -> dict:
    """One row of the claims table. seeds_for(method, study=the row's study) -> the seed
    folders that method should have at this scale."""
    statement, metric = claim["statement"], claim["metric"]
    study = metric["study"]
    setting = scale_setting(claim, scale, settings or {})
    row = {"id": claim["id"], "figure": claim["figure"], "claim": claim["claim"],
           "paper": describe_statement(statement), "ours": "-", "difference": "-", "verdict": "not run",
           "gate": "-", "setting": setting_text(setting, results, seeds_for)}
    reason = claim.get("not_run", {}).get(scale) or (setting or {}).get("not_run")
    if reason is not None:
        return {**row, "ours": f"not run: {reason}"}
    ours = collect(results, study, metric["method"], metric["key"], seeds_for(metric["method"]))
    target = compared_method(statement)
    other = collect(results, study, target["method"], target["key"], seeds_for(target["method"])) if target else None
    gate = claim.get("gates", {}).get(scale)
    if gate is not None:
        row["gate"] = evaluate_gate(gate, ours, results, study, seeds_for)
    samples = [ours] + ([other] if other is not None else [])
    absent = [f"{sample.method} {sample.key}" for sample in samples if sample.absent and not sample.values]
    if absent:
        return {**row, "ours": f"not measured at this scale (no {', '.join(absent)} in its results)"}
    needs = claim.get("needs", {}).get(scale)
    if not any(sample.values for sample in samples):
        return {**row, "ours": f"not run: needs {needs}" if needs else "no results at this scale"}
    row["ours"] = "; ".join(str(sample) for sample in samples)
    if needs and not all(sample.values for sample in samples):
        return {**row, "ours": row["ours"] + f"; not run: needs {needs}"}
    # a seed without the key that its other seeds have is a result older than the key: missing too
    missing = sorted({seed for sample in samples for seed in sample.missing + (sample.absent if sample.values else [])})
    if missing or not all(sample.values for sample in samples):
        return {**row, "ours": row["ours"] + f" [missing seeds {missing}]", "verdict": "incomplete"}
    resolution = claim.get("resolution", RESOLUTION)
    verdict, d, t = judge(statement, ours, other, resolution)
    if other is not None and statement.get("ratio"):
        row["ours"] += f"; ratio {ours.mean / other.mean:.2f}"
    ordering = "beats" in statement or "par" in statement
    plotted = {"percent": resolution == RESOLUTION, "ordering": ordering, "d": d, "t": t,
               "mean": ours.mean, "sd": statistics.stdev(ours.values) if len(ours.values) > 1 else 0.0}
    if ordering:
        plotted["gap"] = statement.get("gap")
    else:
        plotted.update(zip(("low", "high"), bounds(statement)), paper_sd=statement.get("sd", 0.0))
    return {**row, "difference": f"{d:+.3g} (t {t:.2g})", "verdict": verdict, "plotted": plotted}


def check(cfg: dict, results: Path) -> list[dict]:
    """Rows of the claims table of cfg's scale on the results folder of that scale."""
    spec = yaml.safe_load(CLAIMS_FILE.read_text())
    rows = []
    for claim in spec["claims"]:
        study = claim["metric"]["study"]

        def seeds_for(method, of_study=study):
            seeds = seeds_of(cfg, of_study)
            return seeds.get(method, []) if isinstance(seeds, dict) else seeds
        rows.append(evaluate_claim(claim, cfg["scale"], Path(results), seeds_for, spec.get("settings")))
    return rows


COLUMNS = [("id", "id"), ("figure", "figure"), ("claim", "claim"), ("paper", "paper"),
           ("ours", "ours (mean +- sd, n)"), ("difference", "d (threshold)"), ("verdict", "verdict"),
           ("gate", "gate"), ("setting", "setting")]


def markdown_table(rows: list[dict]) -> str:
    """The claims table in markdown, one row per claim."""
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [f"**{row[key]}**" if key == "verdict" else row[key] for key, _ in COLUMNS]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, scale: str, table: str, marker: str = "claims") -> None:
    """Replace the text between `<!-- MARKER:SCALE -->` and `<!-- /MARKER:SCALE -->` in readme."""
    start, end = f"<!-- {marker}:{scale} -->", f"<!-- /{marker}:{scale} -->"
    text = Path(readme).read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    Path(readme).write_text(head + start + "\n" + table + rest[rest.index(end):])


def run_check(cfg: dict, results: Path, readme: Path | None = None) -> int:
    """Print and write results/<scale>/claims.md (and the README's table of the scale when
    readme is given), with the provenance audit of the results; 1 when a gate fails or is
    incomplete, when a result's provenance does not check out, or when a hyperparameter was
    chosen on its grid's edge."""
    rows = check(cfg, results)
    table, job_times = markdown_table(rows), job_time_table(Path(results))
    problems, notes = audit(Path(results), cfg, mirror_root())
    problems += grid_edges(Path(results))
    counts = {verdict: sum(row["verdict"] == verdict for row in rows)
              for verdict in ("reproduced", "not separated", "not reproduced", "incomplete", "not run")}
    text = (f"# Claims at scale `{cfg['scale']}`\n\nGenerated by `fipbench check`. Verdict: the row's statement "
            "judged by the rule of docs/verdicts.md at this scale's setting (last column); gate: what the suite "
            "guarantees at this scale (a failed gate fails the check).\n\n"
            + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) + f" (of {len(rows)} rows).\n\n" + table
            + "\n## Provenance and grids audit\n\n" + "".join(f"- {line}\n" for line in problems + notes)
            + ("" if problems else "No problem found in what was checked.\n")
            + "\n## Job time\n\nSummed from the results' provenance (wall seconds of each job).\n\n" + job_times)
    Path(results).mkdir(parents=True, exist_ok=True)
    (Path(results) / "claims.md").write_text(text)
    from fipbench.report.overview import claims_overview  # matplotlib, only where the table is written
    claims_overview(rows, cfg["scale"], Path(results) / "claims_overview.png")
    if readme is not None:
        update_readme(readme, cfg["scale"], table)
        update_readme(readme, cfg["scale"], job_times, marker="jobtime")
    print(text)
    failed = [row["id"] for row in rows if row["gate"] != "-" and not row["gate"].startswith("pass")]
    if failed:
        print(f"fipbench check: gates not passed: {', '.join(failed)}")
    if problems:
        print(f"fipbench check: {len(problems)} problems in the provenance audit and the grids")
    return 1 if failed or problems else 0
