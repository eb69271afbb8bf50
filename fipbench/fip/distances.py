"""Output distances on probe inputs against a frozen, cached reference (Eq. 2)."""

import torch
from torch.nn import functional as F


class _Bhattacharyya(torch.autograd.Function):
    """-log sum_c sqrt(p_c q_c) with p = softmax(logits), forward and backward fused: the
    gradient with respect to the logits is 0.5 (p - r), r_c = sqrt(p_c q_c) / sum_c' sqrt(p_c' q_c')
    (r sums to 1). On a vocabulary-sized last dimension this is much cheaper than autograd
    through log_softmax and logsumexp (benchmarks/bert_step_cost.py: co_fip against
    co_fip_autograd)."""

    @staticmethod
    def forward(ctx, logits, log_q):
        log_p = torch.log_softmax(logits, dim=-1)
        half = log_p.add(log_q).mul_(0.5)
        total = torch.logsumexp(half, dim=-1, keepdim=True)
        ctx.save_for_backward(logits, log_q, log_p, half, total)
        return -total.squeeze(-1)

    @staticmethod
    def backward(ctx, grad):
        logits, log_q, log_p, half, total = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the gradient is asked for (Hessians): recompute it differentiably
            log_p = torch.log_softmax(logits, dim=-1)
            total = torch.logsumexp(0.5 * (log_p + log_q), dim=-1, keepdim=True)
            return 0.5 * (torch.exp(log_p) - torch.exp(0.5 * (log_p + log_q) - total)) * grad.unsqueeze(-1), None
        # in place on the saved tensors (used once): no new vocabulary-sized buffers
        return half.sub_(total).exp_().neg_().add_(log_p.exp_()).mul_(0.5 * grad.unsqueeze(-1)), None


def bhattacharyya(logits: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Bhattacharyya distance -log sum_c sqrt(p_c q_c), p = softmax(logits), per row [..., C] -> [...].
    Log-probabilities are valid logits (their softmax is themselves)."""
    return _Bhattacharyya.apply(logits, log_q)


def squared_euclidean(logits: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance between softmax(logits) and exp(log_q), per row [..., C] -> [...]."""
    return (torch.softmax(logits, dim=-1) - log_q.exp()).pow(2).sum(dim=-1)


DISTANCES = {"bhattacharyya": bhattacharyya, "euclidean": squared_euclidean}


def coarse_grained(log_p: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Log-probabilities [..., k + 1] of the k classes `words` [..., k] (indices into the last
    dimension of log_p [..., C]) and, last, of all other classes together."""
    top = log_p.gather(-1, words)
    rest = torch.log((1 - top.exp().sum(-1, keepdim=True)).clamp(min=1e-12))
    return torch.cat([top, rest], dim=-1)


class OutputDistance:
    """d(w, w_ref) = mean over probe inputs x of D(softmax f(x; w), softmax f(x; w_ref)).

    The model's outputs are logits [M, C], or [M, k, C] for k distributions per probe input
    (a masked-language model's masked positions); the mean runs over all of them. The
    reference log-probabilities are computed once, here, from the reference
    network in eval mode and without gradient; they never move with the network being
    walked (passing the moving network as its own reference makes the gradient vanish).
    Reference and distance are float32 whatever the forward pass's precision.

    top_k (for outputs over many classes, such as a vocabulary): keep only the reference's
    top_k classes of each distribution and merge the others into one bin, for the reference
    and for the walked model alike (coarse_grained). Coarse-graining can only lower D (the
    data-processing inequality), D stays 0 at the reference, and the cache holds k + 1
    log-probabilities and k indices per distribution instead of C."""

    def __init__(self, reference_model, probes: torch.Tensor, kind: str = "bhattacharyya",
                 batch_size: int = 500, top_k: int | None = None):
        self.probes = probes
        self.kind = kind
        self.distance = DISTANCES[kind]
        was_training = reference_model.training
        reference_model.eval()
        references, words = [], []
        with torch.no_grad():
            for i in range(0, len(probes), batch_size):
                log_q = F.log_softmax(reference_model(probes[i:i + batch_size]).float(), dim=-1)
                if top_k:
                    words.append(log_q.topk(top_k, dim=-1).indices)
                    log_q = coarse_grained(log_q, words[-1])
                references.append(log_q)
        reference_model.train(was_training)
        self.reference = torch.cat(references)
        self.words = torch.cat(words) if top_k else None

    @property
    def nbytes(self) -> int:
        """Bytes of the cached reference (log-probabilities, and the kept classes' indices)."""
        return self.reference.nbytes + (self.words.nbytes if self.words is not None else 0)

    def __call__(self, model, index: torch.Tensor | None = None) -> torch.Tensor:
        """Mean distance of model (in whatever mode the caller set) on probes[index] (all when None)."""
        probes = self.probes if index is None else self.probes[index]
        reference = self.reference if index is None else self.reference[index]
        logits = model(probes).float()  # float32 under bf16 autocast
        if self.words is not None:
            logits = coarse_grained(F.log_softmax(logits, dim=-1), self.words if index is None else self.words[index])
        return self.distance(logits, reference).mean()
