"""Output distances on probe inputs against a frozen, cached reference (Eq. 2)."""

import torch
from torch.nn import functional as F


def bhattacharyya(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Bhattacharyya distance -log sum_c sqrt(p_c q_c) per row of log-probabilities [..., C] -> [...]."""
    return -torch.logsumexp(0.5 * (log_p + log_q), dim=-1)


def squared_euclidean(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance between the probability vectors, per row [..., C] -> [...]."""
    return (log_p.exp() - log_q.exp()).pow(2).sum(dim=-1)


DISTANCES = {"bhattacharyya": bhattacharyya, "euclidean": squared_euclidean}


class OutputDistance:
    """d(w, w_ref) = mean over probe inputs x of D(softmax f(x; w), softmax f(x; w_ref)).

    The model's outputs are logits [M, C], or [M, k, C] for k distributions per probe input
    (a masked-language model's masked positions); the mean runs over all of them. The
    reference log-probabilities are computed once, here, from the reference
    network in eval mode and without gradient; they never move with the network being
    walked (passing the moving network as its own reference makes the gradient vanish)."""

    def __init__(self, reference_model, probes: torch.Tensor, kind: str = "bhattacharyya",
                 batch_size: int = 500):
        self.probes = probes
        self.kind = kind
        self.distance = DISTANCES[kind]
        was_training = reference_model.training
        reference_model.eval()
        with torch.no_grad():
            self.reference = torch.cat([F.log_softmax(reference_model(probes[i:i + batch_size]), dim=-1)
                                        for i in range(0, len(probes), batch_size)])
        reference_model.train(was_training)

    def __call__(self, model, index: torch.Tensor | None = None) -> torch.Tensor:
        """Mean distance of model (in whatever mode the caller set) on probes[index] (all when None)."""
        probes = self.probes if index is None else self.probes[index]
        reference = self.reference if index is None else self.reference[index]
        return self.distance(F.log_softmax(model(probes), dim=-1), reference).mean()
