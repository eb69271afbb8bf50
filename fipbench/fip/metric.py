"""The metric of Eq. 2 without forming it: metric-vector products g v, and its top
eigenvalues by Lanczos on those products.

For an output distance d of the engine (fipbench.fip.distances) and a move theta of the
trainable parameters from w, d(w + theta, w) = theta^T g theta + O(|theta|^3), g = mean over
probe inputs x of J_z(x)^T C(x) J_z(x), where J_z is the Jacobian of the logits z = f(x; w)
with respect to the parameters, p = softmax(z) and A = diag(p) - p p^T (the Jacobian of
softmax) makes C:
- euclidean (sum_c (p_c - q_c)^2): C = A A, so g = mean J_p^T J_p, Eq. 2 exactly;
- bhattacharyya (-log sum_c sqrt(p_c q_c)): C = A / 8. With q = p + dp and sum_c dp_c = 0,
  sum_c sqrt(p_c q_c) = 1 - sum_c dp_c^2 / (8 p_c) + O(dp^3), so d = dp^T diag(1/p) dp / 8,
  and dp = A J_z theta gives J_z^T A diag(1/p) A J_z / 8 = J_z^T A J_z / 8 (A diag(1/p) A = A):
  an eighth of the Fisher information F = mean J_z^T A J_z, i.e. d's Hessian is F / 4.
Products run in eval mode (batch norm on its running statistics), batched over probes:
one forward-mode product J_z v and one reverse-mode product J_z^T u per batch."""

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.func import functional_call, jvp, vjp


def _softmax_jacobian_product(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """(diag(p) - p p^T) u per row, for probabilities p and vectors u [N, C]."""
    return p * (u - (p * u).sum(dim=1, keepdim=True))


def _output_metric(kind: str, p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """C u per row for the distance `kind` (module docstring), u [N, C] a logit tangent."""
    if kind == "euclidean":
        return _softmax_jacobian_product(p, _softmax_jacobian_product(p, u))
    if kind == "bhattacharyya":
        return _softmax_jacobian_product(p, u) / 8
    raise ValueError(f"no metric for output distance {kind!r}; known: euclidean, bhattacharyya")


def trainable(model) -> dict[str, torch.Tensor]:
    """{name: detached parameter} of the parameters with requires_grad."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def metric_vector_product(model, probes: torch.Tensor, vector: dict[str, torch.Tensor], kind: str = "bhattacharyya",
                          batch_size: int = 500) -> dict[str, torch.Tensor]:
    """g v as {name: tensor} for a direction v = {name: tensor} over model's trainable
    parameters; probes: float inputs [M, ...]; g as in the module docstring, mean over M."""
    was_training = model.training
    model.eval()
    params, buffers = trainable(model), dict(model.named_buffers())
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    for start in range(0, len(probes), batch_size):
        batch = probes[start:start + batch_size]

        def logits(weights):
            return functional_call(model, (weights, buffers), (batch,))
        z, z_tangent = jvp(logits, (params,), (vector,))
        _, pullback = vjp(logits, params)
        (product,) = pullback(_output_metric(kind, torch.softmax(z, dim=1), z_tangent))
        for name in total:
            total[name] += product[name]
    model.train(was_training)
    return {name: value / len(probes) for name, value in total.items()}


def top_eigenvalues(model, probes: torch.Tensor, k: int, kind: str = "bhattacharyya", tol: float = 1e-6,
                    batch_size: int = 500) -> tuple[np.ndarray, int]:
    """(the k largest eigenvalues of g, descending; the number of metric-vector products
    used), by Lanczos (scipy's eigsh) over all trainable parameters flattened (float64)."""
    params = trainable(model)
    shapes = {name: p.shape for name, p in params.items()}
    sizes = [p.numel() for p in params.values()]
    reference = next(iter(params.values()))
    products = 0

    def matvec(flat: np.ndarray) -> np.ndarray:
        nonlocal products
        products += 1
        pieces = torch.from_numpy(np.asarray(flat, dtype=np.float64).ravel()).split(sizes)
        vector = {name: piece.reshape(shapes[name]).to(reference) for name, piece in zip(shapes, pieces)}
        product = metric_vector_product(model, probes, vector, kind, batch_size)
        return torch.cat([v.reshape(-1) for v in product.values()]).double().cpu().numpy()

    n = sum(sizes)
    values = eigsh(LinearOperator((n, n), matvec=matvec, dtype=np.float64), k=k, which="LA", tol=tol,
                   return_eigenvectors=False)
    return np.sort(values)[::-1], products
