"""The offline data mirror named by FIPBENCH_DATA_MIRROR, laid out like shared/data:
`<Dataset>/raw/*.gz`, `cifar10-jpeg.zip`, `text/*`, and a `SHA256SUMS` over every file."""

import hashlib
import os
import shutil
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
    """{relative path: sha256} as listed in root/SHA256SUMS (lines `<64 hex digits>  <path>`);
    a line of another form raises DataError naming it."""
    sums = {}
    for number, line in enumerate((root / "SHA256SUMS").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdefABCDEF" for c in parts[0]):
            raise DataError(f"{root}/SHA256SUMS line {number} is not '<sha256>  <path>': {line[:100]!r}")
        sums[parts[1].strip().lstrip("*")] = parts[0].lower()
    return sums


def copy_verified(source: Path, target: Path, digest: str) -> None:
    """Make target a copy of source whose sha256 is digest: an existing target that does
    not match (a copy cut short, or changed) is replaced; the copy goes through a temporary
    file renamed into place and is hashed again. DataError when the copy does not match."""
    if target.is_file() and sha256(target) == digest:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    if sha256(partial) != digest:
        partial.unlink()
        raise DataError(f"copying {source} to {target} gave a file whose sha256 is not {digest}")
    partial.replace(target)


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
