"""Experience replay through avalanche-lib's ReplayPlugin, with the same memory size as FIP:
it separates what the functionally invariant path does from what a memory alone does."""

from avalanche.training.plugins import ReplayPlugin


def plugin(settings: dict, memory_size: int) -> ReplayPlugin:
    """settings: {} (no knob); memory_size task-1 images mixed into every mini-batch."""
    return ReplayPlugin(mem_size=memory_size)
