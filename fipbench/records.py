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


def job_time_table(results: Path) -> str:
    """Markdown table of what a results tree cost, from its provenance: per study (the
    sparsity and geometry studies per network) the jobs, their summed wall time (a training
    run in parts counts every part), the longest job, and the devices and precisions they ran on."""
    groups = {}
    for path in sorted(Path(results).rglob("provenance.json")):
        parts = path.parent.relative_to(results).parts
        group = "/".join(parts[:2]) if parts[0] in ("sparsity", "geometry", "task_sequence") else parts[0]
        provenance = json.loads(path.read_text())
        entry = groups.setdefault(group, {"jobs": 0, "seconds": 0.0, "longest": (0.0, ""), "devices": set(),
                                          "precisions": set()})
        earlier_parts = provenance.get("timings", {}).get("parts_seconds", [])[:-1]  # jobs before the last part
        seconds = provenance.get("wall_seconds", 0.0) + sum(earlier_parts)
        entry["jobs"] += 1
        entry["seconds"] += seconds
        entry["longest"] = max(entry["longest"], (seconds, "/".join(parts[group.count("/") + 1:])))
        entry["devices"].add(provenance.get("device_name") or provenance.get("device", "?"))
        entry["precisions"].add(str(provenance.get("precision", "fp32 (before the setting)")))
    lines = ["| study | jobs | job time (s) | longest job (s) | device | precision |", "|---|---|---|---|---|---|"]
    for group, entry in sorted(groups.items()):
        seconds, name = entry["longest"]
        lines.append(f"| {group} | {entry['jobs']} | {entry['seconds']:,.0f} | {seconds:,.0f} ({name}) | "
                     f"{', '.join(sorted(entry['devices']))} | {', '.join(sorted(entry['precisions']))} |")
    total = sum(entry["seconds"] for entry in groups.values())
    lines.append(f"| all | {sum(e['jobs'] for e in groups.values())} | {total:,.0f} | | | |")
    return "\n".join(lines) + "\n"
