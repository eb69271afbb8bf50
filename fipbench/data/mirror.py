"""The offline data mirror named by FIPBENCH_DATA_MIRROR, laid out like shared/data:
`<Dataset>/raw/*.gz`, `cifar10-jpeg.zip`, `text/*`, and a `SHA256SUMS` over every file."""

import hashlib
import os
from pathlib import Path

MIRROR_ENV = "FIPBENCH_DATA_MIRROR"


class DataError(RuntimeError):
    """Data that cannot be had, or a mirror file whose checksum does not match."""


def mirror_root() -> Path | None:
    """The mirror folder from FIPBENCH_DATA_MIRROR, or None when the variable is unset."""
    value = os.environ.get(MIRROR_ENV)
    if not value:
        return None
    root = Path(value)
    if not (root / "SHA256SUMS").is_file():
        raise DataError(f"{MIRROR_ENV}={value} has no SHA256SUMS; the mirror must be laid out "
                        "like shared/data (MNIST/raw/*.gz, FashionMNIST/raw/*.gz, SHA256SUMS)")
    return root


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_checksums(root: Path) -> dict[str, str]:
    """{relative path: sha256} as listed in root/SHA256SUMS."""
    sums = {}
    for line in (root / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def verified_files(root: Path, relative: str) -> dict[str, str]:
    """Verify the mirror file `relative`, or every file under the folder `relative`,
    against SHA256SUMS.

    Returns {relative path: sha256}; raises DataError naming the first file that is
    missing or whose checksum differs."""
    prefix = relative.rstrip("/")
    listed = {name: digest for name, digest in expected_checksums(root).items()
              if name == prefix or name.startswith(prefix + "/")}
    if not listed:
        raise DataError(f"{root}/SHA256SUMS lists no file {prefix} and nothing under {prefix}/")
    for name, digest in sorted(listed.items()):
        path = root / name
        if not path.is_file():
            raise DataError(f"mirror file {name} is missing from {root}")
        actual = sha256(path)
        if actual != digest:
            raise DataError(f"mirror file {name} fails its checksum: sha256 {actual}, "
                            f"SHA256SUMS says {digest}")
    return listed
