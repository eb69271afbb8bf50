"""Adaptive diversity promoting ensembles (Pang et al. 2019, ICML): the members are
trained jointly on sum_k CE(f_k(x), y) - alpha * H(mean_k f_k(x)) - beta * log ED, where
ED is the squared volume spanned by the members' normalised non-maximal predictions (their
softmax outputs with the true class removed). alpha = 2, beta = 0.5 as in the paper;
log_offset and det_offset are the constants of its public code."""

import torch
from torch import nn
from torch.nn import functional as F

from fipbench.precision import float32

LOG_OFFSET = 1e-20
DET_OFFSET = 1e-6


def adp_loss(logits: torch.Tensor, labels: torch.Tensor, alpha: float, beta: float) -> tuple[torch.Tensor, dict]:
    """logits [M members, B, C], labels [B] -> (loss, its parts as detached tensors), in
    float32 whatever the forward pass's precision."""
    with float32(logits.device):
        logits = logits.float()
        members, batch, classes = logits.shape
        probs = F.softmax(logits, dim=-1)
        cross_entropy = sum(F.cross_entropy(member_logits, labels) for member_logits in logits)
        mean = probs.mean(0)
        entropy = -(mean * torch.log(mean + LOG_OFFSET)).sum(-1).mean()
        others = ~F.one_hot(labels, classes).bool()
        non_maximal = probs[:, others].view(members, batch, classes - 1)
        non_maximal = non_maximal / non_maximal.norm(dim=-1, keepdim=True).clamp_min(LOG_OFFSET)
        matrix = non_maximal.transpose(0, 1)  # [B, M, C - 1]
        gram = matrix @ matrix.transpose(1, 2) + DET_OFFSET * torch.eye(members, device=logits.device)
        log_det = torch.logdet(gram).mean()
        loss = cross_entropy - alpha * entropy - beta * log_det
        return loss, {"cross_entropy": cross_entropy.detach(), "entropy": entropy.detach(), "log_det": log_det.detach()}


class Jointly(nn.Module):
    """The members as one module for joint training: forward(x) -> logits [M, N, C]."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        return torch.stack([member(x) for member in self.members])


def adp_objective(stream, alpha: float, beta: float):
    """Loss function for fipbench.train.run_steps on a Jointly module: ADP on the next batch."""
    def loss_fn(joint):
        inputs, labels = next(stream)
        return adp_loss(joint(inputs), labels, alpha, beta)
    return loss_fn
