"""FIP ensemble sampler (L = 0, Fig. 4A): walk away from a trained network while keeping
its outputs, and keep networks along the way as ensemble members.

One cycle: perturb all trainable parameters by a random direction of Euclidean length
relative_perturbation * |w| (|w|: the norm of all of them at the start of the walk), then take
`descent_steps` optimiser steps on the output distance d(w, w_start) on probe inputs,
back toward the functionally invariant set. Every keep_every-th cycle ends in a member.
The walk runs in eval mode, like the reference outputs (batch norm keeps its statistics)."""

import copy
import itertools
from collections.abc import Iterator

import torch

from fipbench.fip.distances import OutputDistance
from fipbench.fip.objectives import ZeroObjective
from fipbench.fip.path import fip_loss
from fipbench.fip.walks import EnsembleWalk
from fipbench.train import flat_parameters, run_steps, sgd_update


def walk_cycles(start, distance: OutputDistance, walk: EnsembleWalk, generator: torch.Generator,
                after: tuple[int, dict] | None = None) -> Iterator[dict]:
    """The walk's cycles, without end: after each, one record {cycle, distance, weight_distance
    (|w - w_start|), step_length (|w - w before the cycle|)} while the walker (one model,
    moved on in place, start untouched) is `walker` of the record. after: (cycle, the
    walker's state_dict then) to go on from, with generator in its state of that moment."""
    walker = copy.deepcopy(start)
    if after is not None:
        walker.load_state_dict(after[1])
    params = [p for p in walker.parameters() if p.requires_grad]
    scale = walk.relative_perturbation * flat_parameters(start).norm()
    loss_fn = fip_loss(distance, ZeroObjective(), 0.0, walk.probe_batch, generator)
    origin, before = flat_parameters(start), flat_parameters(walker)
    for cycle in itertools.count(1 if after is None else after[0] + 1):
        with torch.no_grad():
            noise = [torch.randn(p.shape, generator=generator).to(p) for p in params]
            norm = torch.sqrt(sum(n.pow(2).sum() for n in noise))
            for p, n in zip(params, noise):
                p.add_(n * (scale / norm))
        optimizer = torch.optim.SGD(params, lr=walk.lr, momentum=walk.momentum)
        steps = run_steps(walker, walk.descent_steps, loss_fn, sgd_update(optimizer),
                          record_every=walk.descent_steps, desc=f"fip cycle {cycle}", train_mode=False)
        now = flat_parameters(walker)
        yield {"cycle": cycle, "distance": steps[-1]["distance"], "weight_distance": (now - origin).norm().item(),
               "step_length": (now - before).norm().item(), "walker": walker}
        before = now


def sample_members(start, distance: OutputDistance, walk: EnsembleWalk, n_members: int,
                   generator: torch.Generator) -> tuple[list[dict], list[dict]]:
    """([state_dict of each member: every keep_every-th cycle's end], [one record per cycle:
    distance, |w - w_start| and the cycle's step length]). start is not modified."""
    members, records = [], []
    for record in walk_cycles(start, distance, walk, generator):
        walker = record.pop("walker")
        records.append(record)
        if record["cycle"] % walk.keep_every == 0:
            members.append(copy.deepcopy(walker.state_dict()))
        if len(members) == n_members:
            return members, records
