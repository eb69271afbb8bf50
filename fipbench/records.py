"""Result records on disk, without torch (the aggregation, selection and check rules
import this in an environment that has no torch): JSON written atomically, the results
folders read back, and the keys the studies file their results under."""

import json
import os
import tempfile
from pathlib import Path


def json_bytes(payload) -> bytes:
    """payload as the JSON text results are written in (sorted keys, indent 1, no NaN)."""
    return (json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


def write_json_atomic(path: Path, payload) -> None:
    """Write payload as JSON to path via a temporary file in the same folder and os.replace."""
    write_bytes_atomic(path, json_bytes(payload))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write data to path via a temporary file in the same folder and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_results(root: Path, pattern: str = "**/metrics.json") -> list[tuple[Path, dict, dict]]:
    """[(folder, metrics, provenance)] for every results folder under root matching pattern."""
    found = []
    for path in sorted(Path(root).glob(pattern)):
        provenance_path = path.parent / "provenance.json"
        provenance = json.loads(provenance_path.read_text()) if provenance_path.exists() else {}
        found.append((path.parent, json.loads(path.read_text()), provenance))
    return found


def level_key(sparsity: float) -> str:
    """Key of a target sparsity in metrics["levels"]: 99.1 -> "99_1" (dots would split claim keys)."""
    return f"{sparsity:g}".replace(".", "_")
