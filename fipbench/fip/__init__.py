"""The FIP engine: output distances against a frozen reference, secondary objectives,
steps (optimiser, normalised, exact, sampled), the path loss for fipbench.train.run_steps and
the walks' typed settings."""

from fipbench.fip.distances import DISTANCES, OutputDistance
from fipbench.fip.objectives import CrossEntropyObjective, SparseProjectionObjective, ZeroObjective
from fipbench.fip.path import fip_loss
from fipbench.fip.sampler import sample_members, walk_cycles
from fipbench.fip.step import exact_update, normalised_update, sampled_step
from fipbench.fip.walks import ContinualWalk, EnsembleWalk, SparsifyWalk

__all__ = ["DISTANCES", "OutputDistance", "CrossEntropyObjective", "SparseProjectionObjective", "ZeroObjective", "fip_loss",
           "exact_update", "normalised_update", "sample_members", "walk_cycles", "sampled_step", "ContinualWalk", "EnsembleWalk",
           "SparsifyWalk"]
