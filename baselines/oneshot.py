"""One-shot global magnitude pruning of the trained dense network (Han et al. 2015 without
the iterations): zero the smallest p % of the prunable weights at once; any fine-tuning
afterwards is the study's shared masked fine-tuning budget."""

import copy

from fipbench.pruning import project


def prune_once(trained, sparsity: float):
    """(pruned copy of trained, its masks) at `sparsity` %."""
    model = copy.deepcopy(trained)
    return model, project(model, sparsity)
