"""The FIP path runner: run_steps with the loss d(w, w_ref) on a probe batch + beta * L(w)."""

from typing import Callable

import torch

from fipbench.fip.distances import OutputDistance


def fip_loss(distance: OutputDistance, objective: Callable, beta: float, probe_batch: int,
             generator: torch.Generator) -> Callable:
    """Loss function for fipbench.train.run_steps.

    Each call draws probe_batch probe inputs at random (from `generator`) and returns
    (distance on them + beta * objective, {"distance", "objective", "loss"})."""
    n_probes = len(distance.probes)

    def loss_fn(model):
        index = torch.randperm(n_probes, generator=generator)[:probe_batch].to(distance.probes.device)
        d = distance(model, index)
        secondary = objective(model)
        loss = d + beta * secondary
        return loss, {"distance": d.item(), "objective": secondary.item(), "loss": loss.item()}
    return loss_fn
