"""Typed settings of the FIP walks, built once where a job starts from the config block
that holds them (config/default.yaml): the continual-learning studies' step, the ensemble
sampler's walk and the sparsifying walk. Lengths are in weight units (Euclidean norm over
all trainable parameters)."""

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ContinualWalk:
    """A FIP step per batch of the new task (fipbench.continual.FIP): the output distance
    (`distance`) on memory_batch memory images drawn per step + beta * the task's loss,
    moved by the solver `step` (optimizer | normalised | exact). step_length: Euclidean
    length of a normalised or exact step; lanczos_steps: metric-vector products of the
    exact step's Krylov space; acceleration: weight of its change-of-step penalty (0: none)."""
    distance: str
    beta: float
    step: str
    step_length: float
    memory_batch: int
    lanczos_steps: int = 0
    acceleration: float = 0.0


@dataclass(frozen=True)
class EnsembleWalk:
    """The sampler's walk (fipbench.fip.sampler, Fig. 4A): each cycle perturbs the weights
    by a random direction of length relative_perturbation * |w_start|, then takes
    descent_steps SGD steps (lr, momentum) on the output distance over probe_batch probe
    images; every keep_every-th cycle ends in a member (sample_members; the robustness
    study's reach walk picks its members itself)."""
    relative_perturbation: float
    descent_steps: int
    lr: float
    momentum: float
    probe_batch: int
    keep_every: int = 1

    @classmethod
    def of(cls, block: dict) -> "EnsembleWalk":
        """The walk's fields of a config block (its other keys, the distance and the probe
        images, set up the OutputDistance the walk descends)."""
        return cls(**{f.name: block[f.name] for f in fields(cls) if f.name in block})


@dataclass(frozen=True)
class SparsifyWalk:
    """FIP sparsification to a target (the sparsity study's walk, BERT's co operation):
    `steps` optimiser steps (lr; momentum for SGD, none for BERT's Adam) on the output
    distance (`distance`) to the start network over probe_batch probe inputs + beta * the
    distance to the target's sparse set, beta rising geometrically from beta_start at the
    first step to beta_end at the last (beta_at)."""
    distance: str
    beta_start: float
    beta_end: float
    steps: int
    lr: float
    probe_batch: int
    momentum: float = 0.0

    @classmethod
    def of(cls, block: dict) -> "SparsifyWalk":
        """The walk's fields of a config block (its other keys say how the walk is
        recorded: record_every, node_every, reference_top_k)."""
        return cls(**{f.name: block[f.name] for f in fields(cls) if f.name in block})

    def beta_at(self, step: int) -> float:
        """beta at optimiser step `step` (0-based) of the walk to one target."""
        ratio = (self.beta_end / self.beta_start) ** (1 / max(self.steps - 1, 1))
        return self.beta_start * ratio ** step
