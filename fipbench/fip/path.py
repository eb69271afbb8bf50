"""The FIP path runner: run_steps with the loss d(w, w_ref) on a probe batch + beta * L(w)."""

from typing import Callable

import torch

from fipbench.fip.distances import OutputDistance


def fip_loss(distance: OutputDistance, objective: Callable, beta: float | Callable[[int], float],
             probe_batch: int, generator: torch.Generator) -> Callable:
    """Loss function for fipbench.train.run_steps.

    Each call draws probe_batch probe inputs at random (from `generator`) and returns
    (distance on them + beta * objective, {"distance", "objective", "loss"} as detached tensors).
    beta is a number or a schedule: a function of the call's index 0, 1, 2, ..."""
    n_probes = len(distance.probes)
    schedule = beta if callable(beta) else (lambda _: beta)
    calls = 0

    def loss_fn(model):
        nonlocal calls
        index = torch.randperm(n_probes, generator=generator)[:probe_batch].to(distance.probes.device)
        weight = schedule(calls)
        calls += 1
        d = distance(model, index)
        secondary = objective(model)
        loss = d + weight * secondary
        return loss, {"distance": d.detach(), "objective": secondary.detach(), "loss": loss.detach()}
    return loss_fn
