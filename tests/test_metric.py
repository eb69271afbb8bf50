"""The metric of Eq. 2 (fipbench.fip.metric) against dense references on small float64
models: the dense mean J^T J of a linear softmax model, the Hessian of the engine's own
output distances at the reference point, and numpy's eigenvalues."""

import numpy as np
import pytest
import torch
from torch import nn

from fipbench.fip import OutputDistance
from fipbench.fip.metric import (effective_rank, exact_step, flat_metric, fraction_below, metric_vector_product,
                                 quadrature_nodes, rank_bound, top_eigenvalues, trainable)


def linear_softmax_model(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(6, 4).double().eval()


def small_network_with_batch_norm(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 4)).double()
    model.train()
    with torch.no_grad():  # running statistics that differ from the batch's own
        model(torch.randn(64, 6, dtype=torch.float64) * 2 + 1)
    return model.eval()


def probes(n=40, seed=1):
    return torch.randn(n, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def flat(tensors: dict) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors.values()])


def unflat(vector: torch.Tensor, like: dict) -> dict:
    pieces = vector.split([t.numel() for t in like.values()])
    return {name: piece.reshape(t.shape) for (name, t), piece in zip(like.items(), pieces)}


def dense_softmax_metric(model, x):
    """mean over x of J_p(x)^T J_p(x), J_p the Jacobian of softmax outputs [P, P]."""
    params = trainable(model)

    def outputs(vector):
        return torch.func.functional_call(model, unflat(vector, params), (x,)).softmax(dim=1)
    jacobian = torch.autograd.functional.jacobian(outputs, flat(params))  # [M, C, P]
    return torch.einsum("mcp,mcq->pq", jacobian, jacobian) / len(x)


def test_metric_vector_product_matches_the_dense_metric():
    model, x = linear_softmax_model(), probes()
    dense = dense_softmax_metric(model, x)
    v = torch.randn(dense.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    product = flat(metric_vector_product(model, x, unflat(v, trainable(model)), kind="euclidean", batch_size=16))
    assert torch.linalg.norm(product - dense @ v) <= 1e-6 * torch.linalg.norm(dense @ v)


@pytest.mark.parametrize("kind", ["euclidean", "bhattacharyya"])
def test_metric_is_half_the_hessian_of_the_engine_distance(kind):
    """d(w + theta) = theta^T g theta + O(theta^3): g v equals half the Hessian-vector
    product of the engine's OutputDistance at the reference, batch norm in eval mode."""
    model, x = small_network_with_batch_norm(), probes()
    distance = OutputDistance(model, x, kind)
    params = [p for p in model.parameters()]
    v = [torch.randn(p.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) for p in params]
    gradient = torch.autograd.grad(distance(model), params, create_graph=True)
    hessian_v = torch.autograd.grad(sum((g * u).sum() for g, u in zip(gradient, v)), params)
    names = list(trainable(model))
    product = metric_vector_product(model, x, dict(zip(names, v)), kind=kind, batch_size=16)
    expected = torch.cat([h.reshape(-1) for h in hessian_v]) / 2
    assert torch.linalg.norm(flat(product) - expected) <= 1e-6 * torch.linalg.norm(expected)
    assert not model.training


def test_lanczos_top_eigenvalues_match_numpy():
    model, x = linear_softmax_model(), probes()
    dense = dense_softmax_metric(model, x).numpy()
    expected = np.sort(np.linalg.eigvalsh(dense))[::-1][:5]
    found, products = top_eigenvalues(model, x, k=5, kind="euclidean", tol=1e-10)
    assert products >= 5
    np.testing.assert_allclose(found, expected, rtol=1e-5)


def test_top_eigenvalues_are_the_same_numbers_every_time():
    """Lanczos starts from a fixed vector: a rerun gives the very same eigenvalues (with
    eigsh's random start they moved within its tolerance from call to call)."""
    model, x = linear_softmax_model(), probes()
    runs = [top_eigenvalues(model, x, k=3, kind="euclidean", tol=1e-3)[0] for _ in range(3)]
    assert all(np.array_equal(runs[0], run) for run in runs[1:])


def test_lanczos_quadrature_estimates_the_degenerate_fraction():
    """3 probes x 4 classes: rank(g) <= 9 of 28 parameters; stochastic Lanczos quadrature
    finds the fraction of (near-)zero eigenvalues within 4 standard errors of numpy's."""
    model, x = linear_softmax_model(), probes(n=3)
    dense = dense_softmax_metric(model, x).numpy()
    exact = np.linalg.eigvalsh(dense)
    assert np.linalg.matrix_rank(dense, tol=1e-10 * exact.max()) <= rank_bound(3, 4, dense.shape[0]) == 9
    nodes = quadrature_nodes(flat_metric(model, x, "euclidean"), steps=28, vectors=100,
                             generator=torch.Generator().manual_seed(4))
    for threshold in (1e-6 * exact.max(), 0.5 * exact.max()):
        estimate, error = fraction_below(nodes, [threshold])[threshold]
        truth = float(np.mean(exact < threshold))
        assert 0 < error and abs(estimate - truth) <= 4 * error
    assert np.mean(exact < 1e-6 * exact.max()) >= 1 - 9 / 28


def test_effective_rank_from_quadrature_matches_the_spectrum():
    """A 30 x 30 metric with 20 nonzero eigenvalues 1..20: the quadrature's effective rank
    exp(H(lambda / sum lambda)) is within 5 % of numpy's."""
    generator = torch.Generator().manual_seed(8)
    q, _ = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64, generator=generator))
    eigenvalues = torch.cat([torch.arange(1, 21, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)])
    dense = q @ torch.diag(eigenvalues) @ q.T

    def g(v):
        return dense @ v
    g.size = 30
    p = eigenvalues[:20] / eigenvalues.sum()
    truth = torch.exp(-(p * p.log()).sum()).item()
    found = effective_rank(quadrature_nodes(g, steps=30, vectors=300, generator=generator), 30)
    assert abs(found - truth) <= 0.05 * truth


def test_exact_step_is_the_global_trust_region_minimiser():
    """theta^T g theta + <theta, b> on |theta| = epsilon: the step has length epsilon and
    meets the global optimality conditions checked densely with numpy:
    (g + lam I) theta = -b / 2 for a lam with g + lam I positive semidefinite."""
    model, x = linear_softmax_model(), probes()
    dense = dense_softmax_metric(model, x).numpy()
    b = torch.randn(dense.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 1e-3
    theta = exact_step(flat_metric(model, x, "euclidean"), b, step_length=0.05, beta=1.0, steps=28,
                       generator=torch.Generator().manual_seed(6)).numpy()
    b = b.numpy()
    assert abs(np.linalg.norm(theta) - 0.05) <= 1e-10
    lam = -theta @ (2 * dense @ theta + b) / (2 * 0.05 ** 2)
    residual = 2 * dense @ theta + b + 2 * lam * theta
    assert np.linalg.norm(residual) <= 1e-6 * np.linalg.norm(b)
    assert lam >= -np.linalg.eigvalsh(dense)[0] - 1e-9


def test_exact_step_without_a_task_follows_the_flattest_direction():
    """L = 0: the step's quadratic value is the smallest eigenvalue times epsilon squared
    (a positive definite g, so that the smallest eigenvalue is not zero)."""
    generator = torch.Generator().manual_seed(7)
    q, _ = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64, generator=generator))
    eigenvalues = torch.linspace(0.1, 10, 30, dtype=torch.float64)
    dense = q @ torch.diag(eigenvalues) @ q.T

    def g(v):
        return dense @ v
    g.size = 30
    theta = exact_step(g, torch.zeros(30, dtype=torch.float64), step_length=0.05, beta=0.0, steps=30, generator=generator)
    assert abs(theta.norm().item() - 0.05) <= 1e-10
    assert abs((theta @ dense @ theta).item() - 0.1 * 0.05 ** 2) <= 1e-5 * 0.1 * 0.05 ** 2
