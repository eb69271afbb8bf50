"""Averaged gradient episodic memory (Chaudhry et al. 2019) through avalanche-lib's AGEMPlugin."""

from avalanche.training.plugins import AGEMPlugin


def plugin(settings: dict, memory_size: int) -> AGEMPlugin:
    """settings: {"sample_size": memory images per reference gradient}; memory_size images
    kept per earlier task (the paper's A-GEM: 500)."""
    return AGEMPlugin(patterns_per_experience=memory_size, sample_size=settings["sample_size"])
