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

from fipbench.precision import float32


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
    parameters; probes: float inputs [M, ...]; g as in the module docstring, mean over M.
    Always float32 (autocast off), whatever the job's precision."""
    with float32(probes.device):
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


def flat_metric(model, probes: torch.Tensor, kind: str = "bhattacharyya", batch_size: int = 500):
    """g as a function on flat float64 vectors [P] -> [P] over model's trainable
    parameters (in their named order); its `calls` attribute counts the products."""
    params = trainable(model)
    shapes = {name: p.shape for name, p in params.items()}
    sizes = [p.numel() for p in params.values()]
    reference = next(iter(params.values()))

    def product(flat: torch.Tensor) -> torch.Tensor:
        product.calls += 1
        pieces = flat.split(sizes)
        vector = {name: piece.reshape(shapes[name]).to(reference) for name, piece in zip(shapes, pieces)}
        return torch.cat([v.reshape(-1) for v in metric_vector_product(model, probes, vector, kind, batch_size).values()]
                         ).to(device="cpu", dtype=torch.float64)
    product.calls, product.size = 0, sum(sizes)
    return product


def top_eigenvalues(model, probes: torch.Tensor, k: int, kind: str = "bhattacharyya", tol: float = 1e-6,
                    batch_size: int = 500) -> tuple[np.ndarray, int]:
    """(the k largest eigenvalues of g, descending; the number of metric-vector products
    used), by Lanczos (scipy's eigsh) over all trainable parameters flattened (float64),
    started from a fixed random vector (eigsh's own start is random per process, which made
    the eigenvalues differ from run to run within tol)."""
    g = flat_metric(model, probes, kind, batch_size)
    operator = LinearOperator((g.size, g.size), dtype=np.float64,
                              matvec=lambda v: g(torch.from_numpy(np.asarray(v, dtype=np.float64).ravel())).numpy())
    start = torch.randn(g.size, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    values = eigsh(operator, k=k, which="LA", tol=tol, v0=start, return_eigenvectors=False)
    return np.sort(values)[::-1], g.calls


def lanczos(g, start: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(orthonormal basis Q [m, P] of the Krylov space of g from start, tridiagonal
    T = Q g Q^T [m, m]) after at most `steps` Lanczos steps with full reorthogonalisation;
    m < steps when the space is invariant. g: a flat_metric, start: float64 [P]."""
    basis = torch.empty(min(steps, g.size) + 1, g.size, dtype=torch.float64)
    basis[0] = start / start.norm()
    alphas, betas = [], []
    for j in range(min(steps, g.size)):
        w = g(basis[j])
        alphas.append(torch.dot(w, basis[j]))
        done = basis[:j + 1]
        for _ in range(2):
            w = w - done.T @ (done @ w)
        beta = w.norm()
        if beta <= 1e-10 * max(abs(a) for a in alphas) or j + 1 == g.size:
            break
        betas.append(beta)
        basis[j + 1] = w / beta
    m = len(alphas)
    tridiagonal = torch.diag(torch.stack(alphas))
    if m > 1:
        off = torch.stack(betas[:m - 1])
        tridiagonal += torch.diag(off, 1) + torch.diag(off, -1)
    return basis[:m], tridiagonal


def lanczos_quadrature(g, steps: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One probe of stochastic Lanczos quadrature: (Ritz values [m], weights [m], summing
    to 1) of Lanczos from a random +-1 vector, so that sum_i w_i f(theta_i) estimates
    tr f(g) / P. g: a flat_metric."""
    _, tridiagonal = lanczos(g, (torch.randint(0, 2, (g.size,), generator=generator) * 2 - 1).double(), steps)
    values, vectors = torch.linalg.eigh(tridiagonal)
    return values, vectors[0] ** 2


def exact_step(g, gradient: torch.Tensor, step_length: float, beta: float, steps: int,
               generator: torch.Generator) -> torch.Tensor:
    """The FIP step of Eq. 4 solved exactly on a Krylov space: theta [P] minimising
    theta^T g theta + beta <theta, gradient> subject to |theta| = step_length (a trust-region
    subproblem on its boundary). Lanczos from the gradient (from a random vector when
    beta * gradient is zero, L = 0) reduces it to the tridiagonal T; in T's eigenbasis
    (d, U) the solution is z_i = -c_i / (2 (d_i + lam)) with lam > -min(d) set by |z| =
    step_length (bisection), or, in the hard case, lam = -min(d) plus a multiple of the
    bottom eigenvector. gradient: float64 [P]; returns float64 [P]."""
    linear = beta * gradient
    start = linear if linear.norm() > 0 else torch.randn(g.size, generator=generator, dtype=torch.float64)
    basis, tridiagonal = lanczos(g, start, steps)
    d, u = torch.linalg.eigh(tridiagonal)
    c = u.T @ (basis @ linear)
    flat = d - d[0] <= 1e-12 * d.abs().max()  # T's bottom eigenspace

    def step(lam):
        return -c / (2 * (d + lam))
    if c[flat].norm() <= 1e-12 * c.norm():  # hard case: nothing pulls along the bottom
        z = torch.zeros_like(d)
        z[~flat] = -c[~flat] / (2 * (d[~flat] - d[0]))
        if z.norm() <= step_length:
            z[0] = torch.sqrt(step_length ** 2 - z.norm() ** 2)
            return basis.T @ (u @ z)
    low, high = -d[0], -d[0] + c.norm() / (2 * step_length) + 1.0
    for _ in range(200):
        middle = (low + high) / 2
        if step(middle).norm() > step_length:
            low = middle
        else:
            high = middle
    z = step(high)
    return basis.T @ (u @ (z * (step_length / z.norm())))


def quadrature_nodes(g, steps: int, vectors: int, generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(Ritz values, weights)] of `vectors` independent lanczos_quadrature runs of g."""
    return [lanczos_quadrature(g, steps, generator) for _ in range(vectors)]


def quadrature_mean(nodes, f) -> tuple[float, float]:
    """(estimate of tr f(g) / P, its standard error over the runs): the mean over the runs
    of sum_i w_i f(theta_i). f maps a tensor of eigenvalues elementwise."""
    estimates = [float((weights * f(values)).sum()) for values, weights in nodes]
    return float(np.mean(estimates)), float(np.std(estimates, ddof=1) / np.sqrt(len(estimates)))


def fraction_below(nodes, thresholds: list[float]) -> dict:
    """{threshold: (estimated fraction of g's eigenvalues below it, standard error)}."""
    return {t: quadrature_mean(nodes, lambda values: (values < t).double()) for t in thresholds}


def effective_rank(nodes, size: int) -> float:
    """exp of the entropy of g's normalised spectrum, exp(log tr g - tr(g log g) / tr g),
    from the quadrature nodes of g [size x size] (round-off negatives counted as 0)."""
    trace = quadrature_mean(nodes, lambda values: values.clamp(min=0))[0]
    g_log_g = quadrature_mean(nodes, lambda values: torch.special.xlogy(values.clamp(min=0), values.clamp(min=0)))[0]
    return float(np.exp(np.log(size * trace) - g_log_g / trace))


def rank_bound(probes: int, classes: int, parameters: int) -> int:
    """The most nonzero eigenvalues g can have: each probe's output Jacobian has rank at
    most classes - 1 (probabilities sum to 1), so rank(g) <= min(P, probes * (classes - 1))."""
    return min(parameters, probes * (classes - 1))
