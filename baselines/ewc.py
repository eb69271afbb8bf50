"""Elastic weight consolidation (Kirkpatrick et al. 2017) through avalanche-lib's EWCPlugin,
mode "separate", importances = mean squared mini-batch gradients over task 1's training set."""

from avalanche.training.plugins import EWCPlugin


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> EWCPlugin:
    """settings: {"lambda": penalty weight}. EWC keeps no memory; memory_per_task and tasks are unused."""
    return EWCPlugin(ewc_lambda=settings["lambda"], mode="separate")
