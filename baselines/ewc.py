"""Elastic weight consolidation (Kirkpatrick et al. 2017) through avalanche-lib's EWCPlugin,
mode "separate", importances = mean squared mini-batch gradients over task 1's training set."""

from avalanche.training.plugins import EWCPlugin


class LastTaskFreeEWC(EWCPlugin):
    """avalanche's EWCPlugin less the importances of the stream's last task: nothing is
    trained after it, so they were computed (a pass over its whole training set) and never
    used."""

    def after_training_exp(self, strategy, **kwargs):
        experience = strategy.experience
        if experience.current_experience < len(experience.origin_stream) - 1:
            super().after_training_exp(strategy, **kwargs)


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> EWCPlugin:
    """settings: {"lambda": penalty weight}. EWC keeps no memory; memory_per_task and tasks are unused."""
    return LastTaskFreeEWC(ewc_lambda=settings["lambda"], mode="separate")
