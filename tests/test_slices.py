"""Slices (fipbench/slices.py) at smoke scale, run for real in a copy of the repository:
the LTH chain handing its state from slice to slice as between two machines, a slice
refused with the file it lacks named, state that does not match its manifest refused, and
robustness trial 0 with the state it hands on."""

import json
import shutil
import subprocess

import pytest

from conftest import REPO
from test_workflow import IGNORED, cli, snakemake

SMOKE = json.dumps({"scale": "smoke"})
LTH = "work/smoke/sparsity/resnet20/lth/seed0"


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A clean copy of the repository with ResNet-20's dense network trained (the CPU's part
    of the chain)."""
    root = tmp_path_factory.mktemp("slices") / "fipbench"
    shutil.copytree(REPO, root, ignore=IGNORED)
    snakemake("--cores", "2", "--config", "scale=smoke", "--", "results/smoke/sparsity/resnet20/dense/seed0/metrics.json",
              cwd=root)
    return root


def run_slice(root, name, out, *extra):
    return cli("--config", SMOKE, "slice", "--name", name, "--out", str(out), "--cores", "2", *extra, cwd=root)


def test_lth_slices_chain_through_the_state_they_hand_on(copy, tmp_path):
    first, last = "lth-resnet20-seed0-part0", "lth-resnet20-seed0-part1"
    early = run_slice(copy, last, tmp_path / "early")
    assert early.returncode != 0 and f"{LTH}/part0.pt (made by {first})" in early.stderr
    assert run_slice(copy, first, tmp_path / "first").returncode == 0
    handed = json.loads((tmp_path / "first" / "slice.json").read_text())["state_out"]
    assert list(handed) == [f"{LTH}/part0.pt"] and (tmp_path / "first" / "state" / LTH / "part0.pt").exists()
    shutil.rmtree(copy / LTH)  # the next slice runs elsewhere: it has only what the first wrote
    done = run_slice(copy, last, tmp_path / "last", "--state-from", str(tmp_path / "first"))
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((tmp_path / "last" / "slice.json").read_text())
    assert manifest["state_in"][f"{LTH}/part0.pt"] == handed[f"{LTH}/part0.pt"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=copy, capture_output=True, text=True).stdout.strip()
    assert manifest["commit"] == head
    metrics = json.loads((tmp_path / "last" / "results/smoke/sparsity/resnet20/lth/seed0/metrics.json").read_text())
    assert metrics["levels_run"] == 4 and set(metrics["levels"]) == {"50", "93"}


def test_state_that_does_not_match_its_manifest_is_refused(copy, tmp_path):
    first = tmp_path / "first"
    assert run_slice(copy, "lth-resnet20-seed0-part0", first).returncode == 0
    (first / "state" / LTH / "part0.pt").write_bytes(b"not the part")
    shutil.rmtree(copy / LTH)
    refused = run_slice(copy, "lth-resnet20-seed0-part1", tmp_path / "last", "--state-from", str(first))
    assert refused.returncode != 0 and "does not match the sha256" in refused.stderr


def test_robustness_trial0_slice_writes_its_results_and_hands_on_the_transfer_set(copy, tmp_path):
    out = tmp_path / "trial0"
    done = run_slice(copy, "robustness-trial0", out)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "slice.json").read_text())
    for method in ("fip", "deepnet", "fge", "adp"):
        assert (out / f"results/smoke/robustness/{method}/seed0/metrics.json").exists()
    assert "work/smoke/robustness/transfer/transfer.pt" in manifest["state_out"]
    assert all((out / "state" / path).exists() for path in manifest["state_out"])
    assert (out / "results/smoke/robustness/calibration/seed0/provenance.json").exists()
