"""Random sparse networks on the p-sparse submanifold (the paper's 'random sparse' cloud,
Fig. 3D, 3E): the trained dense network with a uniformly random p % of its prunable
weights set to zero, the same count that magnitude pruning removes."""

import copy

import torch

from fipbench.pruning import apply_masks, prunable, random_masks


def sample(trained, sparsity: float, generator: torch.Generator):
    """(random sparse copy of trained, its masks) at `sparsity` %."""
    model = copy.deepcopy(trained)
    masks = random_masks(prunable(model), sparsity, generator)
    apply_masks(model, masks)
    return model, masks
