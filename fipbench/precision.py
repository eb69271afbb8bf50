"""Numerical precision of a job: fp32, or bf16 (bfloat16 autocast for the forward and
backward passes of training, evaluation and attacks). What must not lose precision stays
float32 under bf16: output distances and their cached reference outputs, metric-vector
products, losses (cross-entropy autocasts to float32) and accuracies."""

from contextlib import AbstractContextManager

import torch

PRECISIONS = ("fp32", "bf16")


def has_bfloat16_units(device: torch.device) -> bool:
    """True where bfloat16 runs on units made for it: CUDA capability >= 8.0, or a CPU
    with AMX or AVX512-BF16 instructions."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    return False


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where the device has bfloat16 units, else 'fp32'; 'fp32' and 'bf16'
    as they are."""
    if name == "auto":
        return "bf16" if has_bfloat16_units(device) else "fp32"
    if name not in PRECISIONS:
        raise ValueError(f"config key precision: {name!r} is not one of auto, {', '.join(PRECISIONS)}")
    return name


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The autocast context of `precision` on device: bfloat16 for bf16, off for fp32.

    Its cache of bfloat16 weight copies is off: the context spans a whole job, whose
    weights change in place, and a cached copy would keep the weights it was made from
    until the context ends (a walked network would be scored at its start)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False)


def job_precision(cfg: dict, device: torch.device) -> AbstractContextManager:
    """The autocast context a job runs in: cfg["precision"] resolved for device. results.Job
    enters it; a part of a job that writes no results (a training, walk or LTH split into
    jobs, all parts but the last) enters it itself, so that every part runs in the job's precision."""
    return autocast(resolve_precision(cfg["precision"], device), device)


def float32(device: torch.device) -> AbstractContextManager:
    """A float32 island inside a bf16 job (autocast off for what runs in it)."""
    return torch.autocast(device.type, enabled=False)
