"""Lottery ticket hypothesis (Frankle & Carbin 2019; Frankle et al. 2020) as iterative
magnitude pruning with rewinding, after open_lth's `sparse_global` strategy: at every
level prune 20 % of the remaining prunable weights by global magnitude, rewind the
surviving weights (and biases) to an early iterate of dense training, and retrain with the
mask re-applied after every optimiser step. Level 0 is the dense training itself."""

import copy
import time
from typing import Callable

from fipbench.pruning import apply_masks, magnitude_masks, measured_sparsity, prunable


def levels(targets: list[float], fraction: float = 0.2) -> list[float]:
    """Sparsities (%) of the pruning levels: each level prunes `fraction` of the weights
    that remain, except that a level which would pass a target stops exactly on it.
    levels([50], 0.2) -> [20, 36, 48.8, 50]."""
    sequence, current = [], 0.0
    for target in sorted(targets):
        while current < target:
            current = min(100 - (100 - current) * (1 - fraction), target)
            sequence.append(round(current, 6))
    return sequence


def iterative_magnitude_pruning(trained, rewind_state: dict, targets: list[float], fraction: float,
                                retrain: Callable, evaluate: Callable) -> dict[float, dict]:
    """Run LTH from the trained dense network `trained` (not modified).

    rewind_state: state_dict of the iterate that surviving weights are reset to.
    retrain(model, masks) -> optimiser steps taken (trains in place with the mask kept).
    evaluate(model) -> {name: value}. Returns {target: evaluate(...) + measured sparsity
    + cumulative "steps" and "wall_seconds" of retraining} for each target."""
    model, masks, steps, start = copy.deepcopy(trained), None, 0, time.time()
    found = {}
    for level, sparsity in enumerate(levels(targets, fraction), start=1):
        masks = magnitude_masks(prunable(model), sparsity, masks)
        model.load_state_dict(rewind_state)
        apply_masks(model, masks)
        steps += retrain(model, masks)
        result = evaluate(model)
        print(f"lth level {level}: {measured_sparsity(model)['sparsity']:.2f} % sparse, {result}", flush=True)
        if sparsity in targets:
            found[sparsity] = {**result, **measured_sparsity(model), "steps": steps,
                               "wall_seconds": round(time.time() - start, 3), "level": level}
    return found
