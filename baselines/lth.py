"""Lottery ticket hypothesis (Frankle & Carbin 2019; Frankle et al. 2020) as iterative
magnitude pruning with rewinding, after open_lth's `sparse_global` strategy: at every
level prune 20 % of the remaining prunable weights by global magnitude, rewind the
surviving weights (and biases) to an early iterate of dense training, and retrain with the
mask re-applied after every optimiser step. Level 0 is the dense training itself. The
levels can run in parts (one job each), each going on from what the part before left."""

import copy
import time
from typing import Callable

from fipbench.pruning import apply_masks, magnitude_masks, measured_sparsity, prunable
from fipbench.workflow import lth_levels


def iterative_magnitude_pruning(trained, rewind_state: dict, targets: list[float], fraction: float,
                                retrain: Callable, evaluate: Callable, run: range | None = None,
                                carried: dict | None = None) -> dict:
    """Run LTH's levels `run` (numbered from 1; default all of lth_levels(targets, fraction))
    from the trained dense network `trained` (not modified), going on from `carried` (what
    this function returned for the levels before; None from level 1).

    rewind_state: state_dict of the iterate that surviving weights are reset to.
    retrain(model, masks) -> optimiser steps taken (trains in place with the mask kept).
    evaluate(model) -> {name: value}. Returns {"found": {target: evaluate(...) + measured
    sparsity + cumulative "steps" and "wall_seconds" of retraining, "level"} for the targets
    reached so far, "model": state_dict and "masks" after the last level run, "steps",
    "seconds", "level"}."""
    sequence = lth_levels(targets, fraction)
    run = range(1, len(sequence) + 1) if run is None else run
    carried = carried or {"found": {}, "model": None, "masks": None, "steps": 0, "seconds": 0.0, "level": 0}
    if run.start != carried["level"] + 1:
        raise ValueError(f"LTH levels {run.start}..{run.stop - 1} cannot go on from level {carried['level']}")
    model, masks, steps, found = copy.deepcopy(trained), carried["masks"], carried["steps"], dict(carried["found"])
    if carried["model"] is not None:
        model.load_state_dict(carried["model"])
    start = time.time() - carried["seconds"]
    for level in run:
        sparsity = sequence[level - 1]
        masks = magnitude_masks(prunable(model), sparsity, masks)
        model.load_state_dict(rewind_state)
        apply_masks(model, masks)
        steps += retrain(model, masks)
        result = evaluate(model)
        print(f"lth level {level}: {measured_sparsity(model)['sparsity']:.2f} % sparse, {result}", flush=True)
        if sparsity in targets:
            found[sparsity] = {**result, **measured_sparsity(model), "steps": steps,
                               "wall_seconds": round(time.time() - start, 3), "level": level}
    return {"found": found, "model": model.state_dict(), "masks": masks, "steps": steps,
            "seconds": time.time() - start, "level": run.stop - 1}
