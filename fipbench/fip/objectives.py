"""Secondary objectives L(w) of Eq. 4: each is a callable model -> scalar loss tensor."""

import torch
from torch.nn import functional as F

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
