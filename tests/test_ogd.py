"""Orthogonal gradient descent (baselines/ogd.py) on a small network trained here."""

import torch
from torch import nn
from torch.nn import functional as F

from baselines.ogd import output_gradient_basis, projected_update
from fipbench.precision import autocast


def test_projected_step_leaves_memory_logits_unchanged_to_first_order():
    """One SGD step with the projected gradient changes the memory's ground-truth logits
    by O(lr^2) (halving lr divides the change by about 4), the plain step by O(lr)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4)).double()
    g = torch.Generator().manual_seed(0)
    memory, labels = torch.randn(8, 10, generator=g, dtype=torch.float64), torch.randint(0, 4, (8,), generator=g)
    new_x, new_y = torch.randn(16, 10, generator=g, dtype=torch.float64), torch.randint(0, 4, (16,), generator=g)
    basis = output_gradient_basis(model, memory, labels)
    assert basis.shape == (sum(p.numel() for p in model.parameters()), 8)
    assert torch.allclose(basis.T @ basis, torch.eye(8, dtype=torch.float64), atol=1e-10)
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def logit_change(lr, project):
        model.load_state_dict(start)
        before = model(memory).gather(1, labels[:, None]).detach()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        loss = F.cross_entropy(model(new_x), new_y)
        if project:
            projected_update(optimizer, model, basis)(loss)
        else:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return (model(memory).gather(1, labels[:, None]) - before).abs().max().item()

    projected = [logit_change(lr, True) for lr in (0.1, 0.05)]
    plain = [logit_change(lr, False) for lr in (0.1, 0.05)]
    assert projected[1] < projected[0] / 3  # second order in lr
    assert projected[0] < plain[0] / 20


def test_projection_is_float32_inside_a_bf16_job():
    """Under bf16 autocast (a bf16 job) the projected gradient is still orthogonal to the
    basis to float32 precision: the projection does not run as a bfloat16 product."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 64), nn.Tanh(), nn.Linear(64, 4))
    g = torch.Generator().manual_seed(0)
    memory, labels = torch.randn(8, 10, generator=g), torch.randint(0, 4, (8,), generator=g)
    new_x, new_y = torch.randn(16, 10, generator=g), torch.randint(0, 4, (16,), generator=g)
    basis = output_gradient_basis(model, memory, labels)
    with autocast("bf16", torch.device("cpu")):
        projected_update(torch.optim.SGD(model.parameters(), lr=0.0), model, basis)(F.cross_entropy(model(new_x), new_y))
    gradient = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert (basis.T @ gradient).abs().max() < 1e-5 * gradient.norm()
