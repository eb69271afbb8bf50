"""Shared fixtures: the repository on sys.path and smoke-scale data prepared from the mirror."""

import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fipbench.config import load  # noqa: E402
from fipbench.data.vision import prepare  # noqa: E402

torch.set_num_threads(1)  # the workflow tests run jobs beside this process on 2 cores


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The data mirror named by FIPBENCH_DATA_MIRROR (tests that need real data use it)."""
    value = os.environ.get("FIPBENCH_DATA_MIRROR")
    if not value:
        pytest.fail("FIPBENCH_DATA_MIRROR is not set; point it at the offline data mirror")
    return Path(value)


@pytest.fixture(scope="session")
def smoke_config() -> dict:
    return load({"scale": "smoke"})


@pytest.fixture(scope="session")
def smoke_data(mirror, smoke_config, tmp_path_factory) -> Path:
    """A folder with mnist.pt and fashion_mnist.pt prepared at smoke scale."""
    folder = tmp_path_factory.mktemp("smoke-data")
    data = smoke_config["data"]
    for name in ("mnist", "fashion_mnist"):
        prepare(name, folder / f"{name}.pt", folder / "raw", data["n_train"], data["n_val"],
                data["n_test"], data["subset_seed"])
    return folder
