"""Fast geometric ensembling (Garipov et al. 2018): from a trained network, SGD with a
cyclic learning rate that falls linearly from lr_high to lr_low over the first half of
each cycle and rises back over the second; a member is taken at the middle of every
cycle, where the learning rate is lowest."""

import copy

import torch

from fipbench.train import BatchStream, run_steps, supervised_loss


def cyclic_lr(step: int, cycle_steps: int, high: float, low: float) -> float:
    """Learning rate of optimiser step `step` (1, 2, ...): Garipov et al.'s piecewise
    linear schedule, t = position in the cycle in (0, 1], lowest (= low) at t = 1/2."""
    t = ((step - 1) % cycle_steps + 1) / cycle_steps
    return (1 - 2 * t) * high + 2 * t * low if t <= 0.5 else (2 - 2 * t) * low + (2 * t - 1) * high


def collect(start, stream: BatchStream, n_members: int, cycle_steps: int, settings: dict) -> list[dict]:
    """[state_dict] of n_members snapshots, one at the middle of each cycle of cycle_steps
    optimiser steps (settings: lr_high, lr_low, momentum). start is not modified."""
    model = copy.deepcopy(start)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings["lr_high"], momentum=settings["momentum"])
    taken = 0

    def update(loss):
        nonlocal taken
        taken += 1
        for group in optimizer.param_groups:
            group["lr"] = cyclic_lr(taken, cycle_steps, settings["lr_high"], settings["lr_low"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    members, half = [], cycle_steps // 2
    for cycle in range(1, n_members + 1):
        run_steps(model, half, supervised_loss(stream), update, desc=f"fge cycle {cycle}, falling")
        members.append(copy.deepcopy(model.state_dict()))
        if cycle < n_members:
            run_steps(model, cycle_steps - half, supervised_loss(stream), update, desc=f"fge cycle {cycle}, rising")
    return members
