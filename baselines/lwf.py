"""Learning without forgetting (Li & Hoiem 2017) through avalanche-lib's LwFPlugin: the
network at the end of each task is kept, and every later step adds alpha x the KL
divergence (at a softmax temperature) from its outputs to the current network's, over the
classes of the tasks before, on the current task's images. It keeps no images."""

from avalanche.training.plugins import LwFPlugin


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> LwFPlugin:
    """settings: {"alpha": weight of the distillation term, "temperature": softmax
    temperature}. LwF keeps no memory; memory_per_task and tasks are unused."""
    return LwFPlugin(alpha=settings["alpha"], temperature=settings["temperature"])
