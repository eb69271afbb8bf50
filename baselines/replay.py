"""Experience replay through avalanche-lib's ReplayPlugin, with the same memory as FIP:
it separates what the functionally invariant path does from what a memory alone does."""

from avalanche.training.plugins import ReplayPlugin
from avalanche.training.storage_policy import ExperienceBalancedBuffer


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> ReplayPlugin:
    """settings: {} (no knob). memory_per_task images of each earlier task mixed into every
    mini-batch: a buffer of memory_per_task x len(tasks) split evenly over the tasks'
    experiences (fixed quotas, not avalanche's default of dividing the whole buffer over
    the tasks seen so far, which would shrink each task's share as FIP's memory grows)."""
    size = memory_per_task * len(tasks)
    return ReplayPlugin(mem_size=size, storage_policy=ExperienceBalancedBuffer(size, adaptive_size=False,
                                                                               num_experiences=len(tasks)))
