"""Provenance audit of a results tree (part of `fipbench check`): every provenance.json
must name a commit this repository has, a config hash that matches the config it records,
and data checksums that match the mirror's SHA256SUMS."""

import json
import subprocess
from pathlib import Path

from fipbench import REPO_ROOT
from fipbench.config import config_hash
from fipbench.data.mirror import expected_checksums


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)


def audit(results: Path, mirror: Path | None) -> tuple[list[str], list[str]]:
    """(problems, notes) over every provenance.json under results. A problem names the
    folder and what does not match; notes say what could not be checked (no mirror, no or
    a shallow git history) and which results were made from a tree with uncommitted
    changes (listed, not failed: the commit still names the code they ran beside)."""
    problems, notes, dirty = [], [], []
    in_git = _git("rev-parse", "--git-dir").returncode == 0
    check_commits = in_git and _git("rev-parse", "--is-shallow-repository").stdout.strip() != "true"
    if not check_commits:
        notes.append("commits not checked: " + ("this clone is shallow" if in_git else "this copy is not a git checkout"))
    checksums = expected_checksums(mirror) if mirror is not None else None
    if checksums is None:
        notes.append("data checksums not checked: no mirror (FIPBENCH_DATA_MIRROR unset)")
    known_commits = {}
    for path in sorted(Path(results).rglob("provenance.json")):
        folder = path.parent.relative_to(results)
        provenance = json.loads(path.read_text())
        commit = provenance.get("commit")
        if provenance.get("dirty"):
            dirty.append(str(folder))
        if check_commits and commit is None:
            problems.append(f"{folder}: no commit recorded")
        elif check_commits:
            if commit not in known_commits:
                known_commits[commit] = _git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0
            if not known_commits[commit]:
                problems.append(f"{folder}: commit {commit} is not in this repository")
        if config_hash(provenance["config"]) != provenance["config_hash"]:
            problems.append(f"{folder}: config_hash {provenance['config_hash']} does not match its config "
                            f"({config_hash(provenance['config'])})")
        for dataset, source in provenance.get("data", {}).items():
            if checksums is None or source.get("kind") != "mirror":
                continue
            for name, digest in source["files"].items():
                if checksums.get(name) != digest:
                    problems.append(f"{folder}: {dataset} file {name} has sha256 {digest}, "
                                    f"the mirror's SHA256SUMS says {checksums.get(name)}")
    if dirty:
        notes.append(f"{len(dirty)} results were made with uncommitted changes beside their commit: "
                     + ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else ""))
    return problems, notes
