"""Slices (fipbench/slices.py) at smoke scale, run for real in a copy of the repository:
the LTH chain handing its state from slice to slice as between two machines, a slice
refused with the file it lacks named, state that does not match its manifest refused,
robustness trial 0 with the state it hands on, and the GPU machine's scripts (prepare
here, run there) on the CPU."""

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from fipbench.config import load
from fipbench.slices import slices
from test_workflow import IGNORED, cli, snakemake

SMOKE = json.dumps({"scale": "smoke"})
LTH = "work/smoke/sparsity/resnet20/lth/seed0"


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A clean copy of the repository with ResNet-20's dense network trained (the CPU's part
    of the chain)."""
    root = tmp_path_factory.mktemp("slices") / "fipbench"
    shutil.copytree(REPO, root, ignore=IGNORED)
    dense = "results/smoke/sparsity/resnet20/dense/seed0/metrics.json"
    snakemake("--cores", "2", "--config", "scale=smoke", "--", dense, cwd=root)
    return root


@pytest.mark.parametrize("scale", ["smoke", "laptop", "paper"])
def test_every_file_a_slice_takes_in_is_handed_on_by_the_slice_it_names(scale):
    chain = slices(load({"scale": scale}))
    for piece in chain.values():
        for path, maker in piece.state_in.items():
            assert path in chain[maker].state_out if maker in chain else maker.startswith("the workflow's")
    if scale == "paper":  # trial 1's FIP and FGE start from pool network 1, a DeepNet member of trial 0
        network = "work/paper/robustness/network/seed1/model.pt"
        assert network in chain["robustness-trial1"].state_in and network in chain["robustness-trial0"].state_out
        assert len([name for name in chain if name.startswith("lth-resnet20-seed0-")]) == 17
        lenet_only = slices(load({"scale": scale, "sparsity": {"networks": ["lenet300_100"]}}))
        assert not [name for name in lenet_only if name.startswith("lth-")]


def run_slice(root, name, out, *extra):
    return cli("--config", SMOKE, "slice", "--name", name, "--out", str(out), "--cores", "2", *extra, cwd=root)


def test_lth_slices_chain_through_the_state_they_hand_on(copy, tmp_path):
    first, last = "lth-resnet20-seed0-part0", "lth-resnet20-seed0-part1"
    early = run_slice(copy, last, tmp_path / "early")
    assert early.returncode != 0 and f"{LTH}/part0.pt (made by {first})" in early.stderr
    assert run_slice(copy, first, tmp_path / "first").returncode == 0
    handed = json.loads((tmp_path / "first" / "slice.json").read_text())["state_out"]
    assert list(handed) == [f"{LTH}/part0.pt"] and (tmp_path / "first" / "state" / LTH / "part0.pt").exists()
    shutil.rmtree(copy / LTH)  # the next slice runs elsewhere: it has only what the first wrote,
    (copy / "resources/smoke/cifar10.pt").touch()  # and data prepared after the dense network was made
    done = run_slice(copy, last, tmp_path / "last", "--state-from", str(tmp_path / "first"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sp_dense" not in done.stdout + done.stderr  # the dense network taken in is not trained again
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


def test_the_device_scripts_run_a_slice_from_what_they_carry(copy, tmp_path):
    """scripts/gpu_slice_prepare.sh (without the wheels, which need the registry) puts the
    mirror's CIFAR-10 in pieces and an earlier slice's folder into device-data/; on the
    device, scripts/gpu_slice.sh puts the pieces together and runs the slice from there."""
    first = tmp_path / "first"
    assert run_slice(copy, "lth-resnet20-seed0-part0", first).returncode == 0
    shutil.rmtree(copy / LTH)
    env = {**os.environ, "OUT": str(tmp_path / "device")}
    prepared = subprocess.run(["bash", "scripts/gpu_slice_prepare.sh", "--no-wheels", str(first)], cwd=copy, env=env,
                              capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    pieces = sorted((copy / "device-data" / "mirror").glob("cifar10-jpeg.zip.part*"))
    assert len(pieces) >= 2 and max(piece.stat().st_size for piece in pieces) <= 30 * 2**20
    ran = subprocess.run(["bash", "scripts/gpu_slice.sh", "lth-resnet20-seed0-part1", "smoke"], cwd=copy, env=env,
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    mirror = copy / "device-data" / "mirror"
    sums = dict(line.split()[::-1] for line in (mirror / "SHA256SUMS").read_text().splitlines() if line.strip())
    assert hashlib.sha256((mirror / "cifar10-jpeg.zip").read_bytes()).hexdigest() == sums["cifar10-jpeg.zip"]
    assert (tmp_path / "device/slice/results/smoke/sparsity/resnet20/lth/seed0/metrics.json").exists()
    assert (tmp_path / "device/logs.tgz").exists() and "rc 0" in (tmp_path / "device/slice.log").read_text()
