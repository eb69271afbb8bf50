"""The FIP engine on small networks trained here on constructed data."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fipbench.fip import OutputDistance, ZeroObjective, exact_update, fip_loss, normalised_update, sampled_step
from fipbench.fip.distances import bhattacharyya, squared_euclidean
from fipbench.fip.metric import flat_metric
from fipbench.train import flat_parameters


def blobs(n=512, dim=20, classes=5, seed=0):
    """Gaussian blobs: inputs [n, dim], labels [n] in 0..classes-1."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return centres[y] + torch.randn(n, dim, generator=g), y


@pytest.fixture(scope="module")
def trained_mlp():
    """An MLP 20-100-100-5 trained to fit the blobs, with its probe inputs [64, 20]."""
    torch.manual_seed(0)
    x, y = blobs()
    model = nn.Sequential(nn.Linear(20, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 5))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.8  # fits, without saturating
    return model, x[:64]


def set_flat(model, vector):
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(vector[offset:offset + p.numel()].view_as(p))
            offset += p.numel()


def test_distances_match_their_formulas():
    p = torch.tensor([[0.7, 0.2, 0.1]])
    q = torch.tensor([[0.2, 0.5, 0.3]])
    expected_b = -math.log(sum(math.sqrt(a * b) for a, b in zip(p[0].tolist(), q[0].tolist())))
    assert bhattacharyya(p.log(), q.log()).item() == pytest.approx(expected_b, rel=1e-6)
    assert squared_euclidean(p.log(), q.log()).item() == pytest.approx(0.25 + 0.09 + 0.04, rel=1e-6)
    assert bhattacharyya(p.log(), p.log()).item() == pytest.approx(0.0, abs=1e-7)


def test_reference_is_a_frozen_copy(trained_mlp):
    """The reference outputs are cached at construction and do not follow the network.
    A distance that took the moving network as its own reference would stay 0 with zero
    gradient after the move (the defect of the authors' notebook); this one does not."""
    model, probes = trained_mlp
    start = flat_parameters(model)
    distance = OutputDistance(model, probes, "bhattacharyya")
    reference = distance.reference.clone()
    assert not distance.reference.requires_grad
    assert distance(model).item() == pytest.approx(0.0, abs=1e-6)
    try:
        set_flat(model, start + 0.5 * torch.randn(start.shape, generator=torch.Generator().manual_seed(1)))
        moved = distance(model)
        grads = torch.autograd.grad(moved, list(model.parameters()))
        assert torch.equal(distance.reference, reference)
        assert moved.item() > 1e-4
        assert torch.sqrt(sum(g.pow(2).sum() for g in grads)).item() > 1e-4
    finally:
        set_flat(model, start)


def test_normalised_step_has_length_epsilon(trained_mlp):
    model, probes = trained_mlp
    start = flat_parameters(model)
    distance = OutputDistance(model, probes)
    x, y = blobs(seed=3)
    objective = lambda net: F.cross_entropy(net(x[:32]), (y[:32] + 1) % 5)  # a "new task"
    loss_fn = fip_loss(distance, objective, 1.0, 32, torch.Generator().manual_seed(0))
    try:
        for epsilon in (1e-3, 0.1):
            set_flat(model, start)
            normalised_update(model, epsilon)(loss_fn(model)[0])
            length = (flat_parameters(model) - start).norm().item()
            assert length == pytest.approx(epsilon, rel=1e-5)
    finally:
        set_flat(model, start)


def new_task_loss(distance, beta):
    """fip_loss of the blobs with shifted labels (a "new task") against distance's probes."""
    x, y = blobs(seed=3)
    return fip_loss(distance, lambda net: F.cross_entropy(net(x[:32]), (y[:32] + 1) % 5), beta, 64,
                    torch.Generator().manual_seed(0))


def test_exact_step_has_length_epsilon_and_moves_outputs_less_than_the_normalised(trained_mlp):
    """With a task weight small against the metric (beta |grad L| << epsilon lambda_max),
    the exact step of the same length and the same gradient moves the probe outputs less
    than the normalised step: it avoids g's steep directions."""
    model, probes = trained_mlp
    start = flat_parameters(model)
    distance = OutputDistance(model, probes)
    moves = {}
    try:
        for name in ("normalised", "exact"):
            set_flat(model, start)
            loss = new_task_loss(distance, 1e-4)(model)[0]
            if name == "exact":
                exact_update(model, lambda: probes, 0.5, 20, "bhattacharyya", torch.Generator().manual_seed(0))(loss)
            else:
                normalised_update(model, 0.5)(loss)
            assert (flat_parameters(model) - start).norm().item() == pytest.approx(0.5, rel=1e-5)
            moves[name] = distance(model).item()
        print(f"output move: exact {moves['exact']:.3e}, normalised {moves['normalised']:.3e}")
        assert moves["exact"] < moves["normalised"] / 2
    finally:
        set_flat(model, start)


def test_acceleration_penalty_shrinks_the_change_of_step_in_the_metric(trained_mlp):
    """Two exact steps: with acceleration = 10 the second step differs from the first by a
    smaller g-norm than without the penalty (g on the same probes; both steps length epsilon)."""
    model, probes = trained_mlp
    start = flat_parameters(model)
    distance = OutputDistance(model, probes)
    change = {}
    try:
        for acceleration in (0.0, 10.0):
            set_flat(model, start)
            loss_fn = new_task_loss(distance, 1e-4)
            update = exact_update(model, lambda: probes, 0.5, 20, "bhattacharyya", torch.Generator().manual_seed(0),
                                  acceleration)
            update(loss_fn(model)[0])
            middle = flat_parameters(model)
            update(loss_fn(model)[0])
            first, second = (middle - start).double(), (flat_parameters(model) - middle).double()
            assert second.norm().item() == pytest.approx(0.5, rel=1e-5)
            set_flat(model, middle)
            g = flat_metric(model, probes, "bhattacharyya")
            difference = second - first
            change[acceleration] = (difference @ g(difference)).item()
        print(f"g-norm^2 of the change of step: {change}")
        assert change[10.0] < change[0.0]
    finally:
        set_flat(model, start)


def test_sampled_step_with_zero_objective_keeps_outputs(trained_mlp):
    """L = 0: a step of Euclidean length epsilon moves the outputs on the probe set at least
    10x less than a random step of the same length (measured ratio printed)."""
    model, probes = trained_mlp
    start = flat_parameters(model)
    distance = OutputDistance(model, probes, "euclidean")
    epsilon = 5.0
    g = torch.Generator().manual_seed(0)
    try:
        theta = sampled_step(model, lambda net: distance(net) + ZeroObjective()(net), epsilon,
                             inner_steps=200, lr=2.0, generator=g)
        assert theta.norm().item() == pytest.approx(epsilon, rel=1e-5)
        fip_move = distance(model).item()
        random_moves = []
        for _ in range(5):
            direction = torch.randn(start.shape, generator=g)
            set_flat(model, start + epsilon * direction / direction.norm())
            random_moves.append(distance(model).item())
        ratio = (sum(random_moves) / len(random_moves)) / fip_move
        print(f"output move: FIP step {fip_move:.3e}, random step {sum(random_moves) / 5:.3e}, ratio {ratio:.1f}")
        assert ratio >= 10
    finally:
        set_flat(model, start)


def test_zero_objective_direction_is_in_the_jacobian_null_space():
    """On a linear softmax model f(x) = softmax(W x) with fewer probes than inputs, the L = 0
    step lies in the null space of the Jacobian of the probe outputs: |J theta| is below
    1e-2 of |J|_2 |theta| (a random direction of the same length gives about 0.1-0.5)."""
    torch.manual_seed(0)
    probes = torch.randn(6, 20)
    model = nn.Linear(20, 4, bias=False)
    distance = OutputDistance(model, probes, "euclidean")
    w0 = model.weight.detach().clone()

    def outputs(w):
        return F.softmax(probes @ w.view(4, 20).T, dim=1).reshape(-1)

    jacobian = torch.autograd.functional.jacobian(outputs, w0.reshape(-1))  # [6*4, 80]
    spectral = torch.linalg.matrix_norm(jacobian, 2).item()
    theta = sampled_step(model, distance, 0.1, inner_steps=300, lr=5.0, generator=torch.Generator().manual_seed(0))
    relative = (jacobian @ theta).norm().item() / (spectral * theta.norm().item())
    direction = torch.randn(80, generator=torch.Generator().manual_seed(1))
    random_relative = (jacobian @ direction).norm().item() / (spectral * direction.norm().item())
    print(f"|J theta| / (|J| |theta|): FIP {relative:.2e}, random {random_relative:.2e}")
    assert relative < 1e-2
    assert random_relative > 10 * relative
