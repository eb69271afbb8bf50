"""Ensembles that predict by averaging their members' softmax outputs (the paper sums
them; the argmax is the same), and PGD attacks on networks and ensembles (torchattacks)."""

import math

import torch
import torchattacks
from torch import nn
from torch.nn import functional as F

ATTACKS = {"linf": torchattacks.PGD, "l2": torchattacks.PGDL2}


class Ensemble(nn.Module):
    """forward(x [N, 3, H, W] in [0, 1]) -> log of the mean of the members' softmax [N, C].

    Cross-entropy on this output is the negative log of the ensemble's mean probability
    of the label, so a white-box attack through it attacks the whole ensemble."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        log_probs = torch.stack([F.log_softmax(member(x).float(), dim=1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


def pgd(model, inputs: torch.Tensor, labels: torch.Tensor, attack: dict, epsilon: float, seed: int,
        batch_size: int = 250) -> torch.Tensor:
    """Adversarial versions [N, C, H, W] of inputs (float in [0, 1]) against model (eval mode)
    by torchattacks' PGD with a random start; attack: norm (linf | l2), step_fraction
    (step size = step_fraction * epsilon), steps, restarts. With restarts > 1 each image
    keeps the first restart that fools the model (else the last)."""
    model.eval()
    make = ATTACKS[attack["norm"]]
    torch.manual_seed(seed)  # torchattacks draws its random start from the global generator
    adversarial = []
    for start in range(0, len(inputs), batch_size):
        x, y = inputs[start:start + batch_size].contiguous(), labels[start:start + batch_size]
        best, fooled = x.clone(), torch.zeros(len(y), dtype=torch.bool, device=y.device)
        for _ in range(attack["restarts"]):
            attacker = make(model, eps=epsilon, alpha=attack["step_fraction"] * epsilon, steps=attack["steps"],
                            random_start=True)
            candidate = attacker(x, y)
            with torch.no_grad():
                now = model(candidate).argmax(1) != y
            take = ~fooled
            best[take] = candidate[take]
            fooled |= now
        adversarial.append(best)
    return torch.cat(adversarial)


def perturbation_size(adversarial: torch.Tensor, inputs: torch.Tensor, norm: str) -> torch.Tensor:
    """Per image: the Linf or L2 norm of adversarial - inputs [N]."""
    delta = (adversarial - inputs).flatten(1)
    return delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
