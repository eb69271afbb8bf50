"""Secondary objectives L(w) of Eq. 4: each is a callable model -> scalar loss tensor."""

import torch
from torch.nn import functional as F

from fipbench.pruning import magnitude_masks, prunable
from fipbench.train import BatchStream


class CrossEntropyObjective:
    """New-task cross-entropy on the next mini-batch of a BatchStream (continual learning)."""

    def __init__(self, stream: BatchStream):
        self.stream = stream

    def __call__(self, model) -> torch.Tensor:
        inputs, labels = next(self.stream)
        return F.cross_entropy(model(inputs), labels)


class ZeroObjective:
    """L = 0: the path only keeps the outputs (ensembles, robustness)."""

    def __call__(self, model) -> torch.Tensor:
        return torch.zeros((), device=next(model.parameters()).device)


class SparseProjectionObjective:
    """L(w) = |w - P_p(w)|^2 over the prunable weights (fipbench.pruning): P_p sets the
    globally smallest p % to zero. P_p is recomputed at every call and held constant for
    the gradient, which is therefore 2 w on the weights P_p would zero and 0 elsewhere."""

    def __init__(self, sparsity: float):
        self.sparsity = sparsity

    def __call__(self, model) -> torch.Tensor:
        weights = prunable(model)
        masks = magnitude_masks(weights, self.sparsity)
        return sum((w * ~masks[name]).pow(2).sum() for name, w in weights.items())
