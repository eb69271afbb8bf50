"""Averaged gradient episodic memory (Chaudhry et al. 2019) through avalanche-lib's AGEMPlugin."""

from avalanche.training.plugins import AGEMPlugin


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> AGEMPlugin:
    """settings: {"memory_batch": memory images drawn per step for the reference gradient
    (avalanche's sample_size)}; memory_per_task images kept of each earlier task (the
    paper's A-GEM: 500; tasks unused)."""
    return AGEMPlugin(patterns_per_experience=memory_per_task, sample_size=settings["memory_batch"])
