"""FIP ensemble sampler (L = 0, Fig. 4A): walk away from a trained network while keeping
its outputs, and keep networks along the way as ensemble members.

One cycle: perturb all trainable parameters by a random direction of Euclidean length
relative_perturbation * |w| (|w|: the norm of all of them at the start of the walk), then take
`descent_steps` optimiser steps on the output distance d(w, w_start) on probe inputs,
back toward the functionally invariant set. Every keep_every-th cycle ends in a member.
The walk runs in eval mode, like the reference outputs (batch norm keeps its statistics)."""

import copy

import torch

from fipbench.fip.distances import OutputDistance
from fipbench.fip.objectives import ZeroObjective
from fipbench.fip.path import fip_loss
from fipbench.fip.walks import EnsembleWalk
from fipbench.train import flat_parameters, run_steps, sgd_update


def sample_members(start, distance: OutputDistance, walk: EnsembleWalk, n_members: int,
                   generator: torch.Generator) -> tuple[list[dict], list[dict]]:
    """([state_dict of each member], [one record per cycle: distance and |w - w_start|]).
    start is not modified."""
    walker = copy.deepcopy(start)
    params = [p for p in walker.parameters() if p.requires_grad]
    scale = walk.relative_perturbation * flat_parameters(start).norm()
    loss_fn = fip_loss(distance, ZeroObjective(), 0.0, walk.probe_batch, generator)
    members, records = [], []
    for cycle in range(1, n_members * walk.keep_every + 1):
        with torch.no_grad():
            noise = [torch.randn(p.shape, generator=generator).to(p) for p in params]
            norm = torch.sqrt(sum(n.pow(2).sum() for n in noise))
            for p, n in zip(params, noise):
                p.add_(n * (scale / norm))
        optimizer = torch.optim.SGD(params, lr=walk.lr, momentum=walk.momentum)
        steps = run_steps(walker, walk.descent_steps, loss_fn, sgd_update(optimizer),
                          record_every=walk.descent_steps, desc=f"fip cycle {cycle}", train_mode=False)
        records.append({"cycle": cycle, "distance": steps[-1]["distance"],
                        "weight_distance": (flat_parameters(walker) - flat_parameters(start)).norm().item()})
        if cycle % walk.keep_every == 0:
            members.append(copy.deepcopy(walker.state_dict()))
    return members, records
