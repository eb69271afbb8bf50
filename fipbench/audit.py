"""Provenance audit of a results tree (part of `fipbench check`): every provenance.json
must name a commit of HEAD's history, made from a clean tree, a config hash that matches
the config it records, the tree's scale and the config that scale gives its job today (keys
renamed since, config.RENAMED, read under their new names), sha256 digests that match the
outputs beside it, and data checksums that match the mirror's SHA256SUMS."""

import hashlib
import json
import reprlib
import subprocess
from pathlib import Path

from fipbench import REPO_ROOT
from fipbench.config import config_hash, renamed
from fipbench.data.mirror import expected_checksums
from fipbench.workflow import expected_job_config


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)


_brief = reprlib.Repr()
_brief.maxdict, _brief.maxlist, _brief.maxstring, _brief.maxother = 3, 4, 40, 40
_short = _brief.repr


def first_difference(recorded, expected, path: str = "") -> str | None:
    """The first key (dotted path) where recorded and expected differ, with both values;
    None when they are equal."""
    if isinstance(recorded, dict) and isinstance(expected, dict):
        for key in sorted(set(recorded) | set(expected)):
            where = f"{path}.{key}" if path else key
            if key not in expected:
                return f"{where} is recorded but the config has no such key"
            if key not in recorded:
                return f"{where} is missing from the record (the config gives {_short(expected[key])})"
            found = first_difference(recorded[key], expected[key], where)
            if found:
                return found
        return None
    return None if recorded == expected else f"{path}: recorded {_short(recorded)}, the config gives {_short(expected)}"


def projected(recorded: dict, expected: dict, config: dict) -> dict:
    """recorded (a job's whole resolved config) cut, at every depth, to the keys the job
    depends on (expected's: a study section without its grid, the sparsity section with
    one network, a dense network's training keys), so that a change elsewhere in the config
    (today's, `config`) does not make the job's result stale (Snakemake does not rerun it
    either). A recorded key that today's config no longer has is kept, for the comparison
    to report."""
    return {key: (projected(value, expected[key], config.get(key, {}))
                  if isinstance(value, dict) and isinstance(expected.get(key), dict) else value)
            for key, value in recorded.items() if key in expected or key not in config}


def audit(results: Path, cfg: dict, mirror: Path | None) -> tuple[list[str], list[str]]:
    """(problems, notes) over every provenance.json under results, the tree of cfg's scale.
    A problem names the folder or file and what does not match (a result made from a tree
    with uncommitted changes, or at a commit that is not HEAD or one of its ancestors, is
    one: its code cannot be recovered from this history); notes say what could not be
    checked (no mirror, no or a shallow git history, results from before outputs were
    hashed) and, last, what was checked."""
    problems, notes, unhashed = [], [], []
    in_git = _git("rev-parse", "--git-dir").returncode == 0
    check_commits = in_git and _git("rev-parse", "--is-shallow-repository").stdout.strip() != "true"
    if not check_commits:
        notes.append("commits not checked: " + ("this clone is shallow" if in_git else "this copy is not a git checkout"))
    checksums = expected_checksums(mirror) if mirror is not None else None
    if checksums is None:
        notes.append("data checksums not checked: no mirror (FIPBENCH_DATA_MIRROR unset)")
    known_commits = {}
    paths = sorted(Path(results).rglob("provenance.json"))
    for path in paths:
        folder = path.parent.relative_to(results)
        provenance = json.loads(path.read_text())
        commit = provenance.get("commit")
        if provenance.get("dirty"):
            problems.append(f"{folder}: made from a tree with uncommitted changes beside commit {commit}")
        if check_commits and commit is None:
            problems.append(f"{folder}: no commit recorded")
        elif check_commits:
            if commit not in known_commits:
                known_commits[commit] = ("ancestor" if _git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0
                                         else "elsewhere" if _git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0
                                         else "unknown")
            if known_commits[commit] == "unknown":
                problems.append(f"{folder}: commit {commit} is not in this repository")
            elif known_commits[commit] == "elsewhere":
                problems.append(f"{folder}: commit {commit} is not HEAD or one of its ancestors")
        if config_hash(provenance["config"]) != provenance["config_hash"]:
            problems.append(f"{folder}: config_hash {provenance['config_hash']} does not match its config "
                            f"({config_hash(provenance['config'])})")
        if provenance.get("scale") != cfg["scale"]:
            problems.append(f"{folder}: made at scale {provenance.get('scale')!r}, found in the tree of scale "
                            f"{cfg['scale']!r}")
        else:
            expected = expected_job_config(cfg, folder)
            differs = first_difference(projected(renamed(provenance["config"]), expected, cfg), expected)
            if differs:
                problems.append(f"{folder}: its config is not what the {cfg['scale']} config gives this job: {differs}")
        if "outputs" not in provenance:
            unhashed.append(str(folder))
        for name, digest in provenance.get("outputs", {}).items():
            output = path.parent / name
            if not output.exists():
                problems.append(f"{folder / name}: missing (its provenance records it)")
            elif hashlib.sha256(output.read_bytes()).hexdigest() != digest:
                problems.append(f"{folder / name}: sha256 differs from the one its provenance records "
                                "(changed after the job wrote it)")
        for dataset, source in provenance.get("data", {}).items():
            if checksums is None or source.get("kind") != "mirror":
                continue
            for name, digest in source["files"].items():
                if checksums.get(name) != digest:
                    problems.append(f"{folder}: {dataset} file {name} has sha256 {digest}, "
                                    f"the mirror's SHA256SUMS says {checksums.get(name)}")
    for path in sorted(Path(results).rglob("metrics.json")):
        if not (path.parent / "provenance.json").exists():
            problems.append(f"{path.relative_to(results)}: no provenance.json beside it")
    if unhashed:
        notes.append(f"outputs not checked for {len(unhashed)} results made before provenance recorded their "
                     "sha256: " + ", ".join(unhashed[:5]) + (" ..." if len(unhashed) > 5 else ""))
    checked = [f"{len(paths)} provenance records", "clean trees", "config hashes",
               f"scale and config against the {cfg['scale']} config"]
    if check_commits:
        checked.append("commits in HEAD's history")
    if len(paths) > len(unhashed):
        checked.append(f"output sha256 of {len(paths) - len(unhashed)} results")
    if checksums is not None:
        checked.append("data checksums against the mirror")
    notes.append("checked: " + ", ".join(checked))
    return problems, notes
