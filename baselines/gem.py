"""Gradient episodic memory (Lopez-Paz & Ranzato 2017) through avalanche-lib's GEMPlugin."""

from avalanche.training.plugins import GEMPlugin


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> GEMPlugin:
    """settings: {"strength": GEM's gamma}; memory_per_task images of each earlier task kept
    as constraints (tasks unused)."""
    return GEMPlugin(patterns_per_experience=memory_per_task, memory_strength=settings["strength"])
