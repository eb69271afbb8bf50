"""Data layer: the mirror's checksums, preparation, and the errors a user sees."""

import shutil

import pytest
import torch
import torchvision

from fipbench.data.mirror import DataError, verified_files
from fipbench.data.vision import load_prepared, load_raw


def test_prepared_splits_are_disjoint_and_sized(smoke_data, smoke_config):
    data = load_prepared(smoke_data / "mnist.pt")
    sizes = smoke_config["data"]
    assert len(data["train"][1]) == sizes["n_train"]
    assert len(data["val"][1]) == sizes["n_val"]
    assert len(data["test"][1]) == sizes["n_test"]
    assert data["train"][0].dtype == torch.uint8 and data["train"][0].shape[1:] == (28, 28)
    train_rows = {row.numpy().tobytes() for row in data["train"][0]}
    assert not any(row.numpy().tobytes() in train_rows for row in data["val"][0])
    assert data["source"]["kind"] == "mirror"
    assert set(data["source"]["files"]) == {f"MNIST/raw/{n}" for n in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def test_corrupted_mirror_file_fails_with_its_name(mirror, tmp_path, monkeypatch):
    copy = tmp_path / "mirror"
    (copy / "MNIST").mkdir(parents=True)
    shutil.copytree(mirror / "MNIST" / "raw", copy / "MNIST" / "raw")
    shutil.copy(mirror / "SHA256SUMS", copy / "SHA256SUMS")
    victim = copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    victim.chmod(0o644)
    payload = bytearray(victim.read_bytes())
    payload[100] ^= 0xFF
    victim.write_bytes(bytes(payload))
    with pytest.raises(DataError, match="MNIST/raw/t10k-labels-idx1-ubyte.gz"):
        verified_files(copy, "MNIST")
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(copy))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz fails its checksum"):
        load_raw("mnist", tmp_path / "raw")


def mnist_mirror(mirror, folder):
    """A writable copy of the mirror's MNIST files and SHA256SUMS under folder."""
    (folder / "MNIST").mkdir(parents=True)
    shutil.copytree(mirror / "MNIST" / "raw", folder / "MNIST" / "raw")
    shutil.copy(mirror / "SHA256SUMS", folder / "SHA256SUMS")
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def test_damaged_local_copies_are_replaced_and_unpacked_files_rebuilt(mirror, tmp_path, monkeypatch):
    """A copy cut short (what a killed copy leaves) is replaced from the mirror, and an
    unpacked file zeroed by hand is rebuilt from its verified archive, never read."""
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(mirror))
    good, _ = load_raw("mnist", tmp_path / "raw")
    raw = tmp_path / "raw" / "MNIST" / "raw"
    archive = raw / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:100])
    unpacked = raw / "train-images-idx3-ubyte"
    unpacked.write_bytes(unpacked.read_bytes()[:16] + bytes(len(unpacked.read_bytes()) - 16))
    again, _ = load_raw("mnist", tmp_path / "raw")
    for split in ("train", "test"):
        assert torch.equal(again[split][0], good[split][0]) and torch.equal(again[split][1], good[split][1])
    assert good["train"][0].float().mean() > 30  # real digits, not black images
    assert not list(raw.glob(".*.partial"))


def test_malformed_checksum_list_is_a_named_data_error(mirror, tmp_path, monkeypatch):
    copy = mnist_mirror(mirror, tmp_path / "mirror")
    lines = (copy / "SHA256SUMS").read_text().splitlines()
    (copy / "SHA256SUMS").write_text("\n".join(lines[:3] + [lines[3][:40]] + lines[4:]) + "\n")  # a line cut mid-way
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(copy))
    with pytest.raises(DataError, match="SHA256SUMS line 4 is not"):
        load_raw("mnist", tmp_path / "raw")


def test_a_file_the_checksums_do_not_list_is_a_named_data_error(mirror, tmp_path, monkeypatch):
    """torchvision would download a file it misses; with a mirror set that is an error
    naming the file, before anything is read or fetched."""
    copy = mnist_mirror(mirror, tmp_path / "mirror")
    sums = copy / "SHA256SUMS"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines()
                            if line.split()[-1] != "MNIST/raw/train-labels-idx1-ubyte.gz"))
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(copy))
    with pytest.raises(DataError, match="does not list MNIST/raw/train-labels-idx1-ubyte.gz"):
        load_raw("mnist", tmp_path / "raw")
    assert not (tmp_path / "raw" / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").exists()


def test_no_mirror_and_no_download_names_the_variable(tmp_path, monkeypatch):
    """Without a mirror torchvision downloads; here its mirror list points at a closed port
    on this machine, so the download fails the way it does offline."""
    monkeypatch.delenv("FIPBENCH_DATA_MIRROR", raising=False)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DataError, match="FIPBENCH_DATA_MIRROR"):
        load_raw("mnist", tmp_path / "raw")


def test_mirror_without_checksums_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(tmp_path))
    with pytest.raises(DataError, match="SHA256SUMS"):
        load_raw("mnist", tmp_path / "raw")


def test_cifar10_from_the_mirror_archive(mirror, tmp_path):
    from fipbench.data.vision import prepare, to_input
    prepare("cifar10", tmp_path / "cifar10.pt", tmp_path / "raw", 1000, 200, 500, 1234)
    data = load_prepared(tmp_path / "cifar10.pt")
    assert data["train"][0].shape == (1000, 32, 32, 3) and data["train"][0].dtype == torch.uint8
    assert len(data["val"][1]) == 200 and len(data["test"][1]) == 500
    assert set(data["train"][1].tolist()) == set(range(10))
    assert data["source"]["files"] == {"cifar10-jpeg.zip": verified_files(mirror, "cifar10-jpeg.zip")["cifar10-jpeg.zip"]}
    assert "lossy" in data["source"]["note"]
    inputs = to_input(data["test"][0][:4])
    assert inputs.shape == (4, 3, 32, 32) and 0 <= inputs.min() and inputs.max() <= 1
    # channel order is RGB: airplanes and ships are bluer than they are red on average
    x, y = data["train"]
    sky = x[(y == 0) | (y == 8)].float().mean(dim=(0, 1, 2))
    assert sky[2] > sky[0]
