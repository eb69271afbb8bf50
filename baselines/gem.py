"""Gradient episodic memory (Lopez-Paz & Ranzato 2017) through avalanche-lib's GEMPlugin."""

from avalanche.training.plugins import GEMPlugin


def plugin(settings: dict, memory_size: int) -> GEMPlugin:
    """settings: {"strength": GEM's gamma}; memory_size task-1 images kept as constraints."""
    return GEMPlugin(patterns_per_experience=memory_size, memory_strength=settings["strength"])
