"""FIP steps: given the objective d(w, w_ref) + beta * L(w), move the weights.

- optimiser step: any torch optimiser on the objective (what the authors' code does);
- normalised step: theta = -s * grad / |grad|, so every step has Euclidean length s
  (s = step_length, in weight units);
- exact step: the trust-region subproblem min theta^T g theta + <theta, grad> subject to
  |theta| = s, with g the metric of Eq. 2 at the current weights on a batch of probes and
  grad the gradient of the objective, solved on a Krylov space (fipbench.fip.metric);
- sampled step (the paper's "sample an epsilon-ball, then descend", epsilon = s): start
  from a random theta with |theta| = s and descend the objective at w + theta, projecting
  theta back onto the sphere of radius s after every inner iteration; then w <- w + theta.
"""

from typing import Callable

import torch

from fipbench.fip.metric import exact_step, flat_metric


def _params(model) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def normalised_update(model, step_length: float) -> Callable:
    """Update function for run_steps: move the weights by step_length against the loss gradient."""
    def update(loss):
        params = _params(model)
        grads = torch.autograd.grad(loss, params)
        norm = torch.sqrt(sum(g.double().pow(2).sum() for g in grads))
        scale = step_length / norm.clamp_min(torch.finfo(torch.float64).tiny)  # a zero gradient moves nothing
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(scale * g.double())
    return update


def exact_update(model, probes: Callable[[], torch.Tensor], step_length: float, lanczos_steps: int, kind: str,
                 generator: torch.Generator, acceleration: float = 0.0) -> Callable:
    """Update function for run_steps: move the weights by the exact step (module docstring)
    for the loss's gradient, with g measured on probes() (a fresh probe batch per call).

    acceleration = gamma > 0 adds gamma (theta - theta_prev)^T g (theta - theta_prev), the
    change of direction measured in the metric (the supplement's acceleration-aware path):
    the same subproblem with (1 + gamma) g and the linear term grad - 2 gamma g theta_prev."""
    previous = None

    def update(loss):
        nonlocal previous
        params = _params(model)
        gradient = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]).to("cpu", torch.float64)
        metric = flat_metric(model, probes(), kind)
        if acceleration and previous is not None:
            gradient = gradient - 2 * acceleration * metric(previous)

            def quadratic(vector):
                return (1 + acceleration) * metric(vector)
            quadratic.size = metric.size
        else:
            quadratic = metric
        theta = exact_step(quadratic, gradient, step_length, 1.0, lanczos_steps, generator)
        previous = theta
        with torch.no_grad():
            for p, piece in zip(params, theta.split([p.numel() for p in params])):
                p.add_(piece.reshape(p.shape).to(p))
    return update


def sampled_step(model, objective: Callable, step_length: float, inner_steps: int, lr: float,
                 generator: torch.Generator) -> torch.Tensor:
    """One sampled FIP step of Euclidean length step_length; returns theta as a vector [P].

    objective(model) -> scalar tensor at the model's current weights (for example an
    OutputDistance plus beta times a secondary loss); it should be deterministic. Descent
    on the sphere with backtracking: a candidate theta that does not lower the objective is
    refused and the learning rate halved, an accepted one grows it by 1.5."""
    params = _params(model)
    start = [p.detach().clone() for p in params]

    def project(vectors):
        norm = torch.sqrt(sum(v.double().pow(2).sum() for v in vectors))
        return [v * (step_length / norm).to(v.dtype) for v in vectors]

    def evaluate(vectors):
        with torch.no_grad():
            for p, s, t in zip(params, start, vectors):
                p.copy_(s + t)
        value = objective(model)
        return value.detach(), torch.autograd.grad(value, params)

    theta = project([torch.randn(p.shape, generator=generator).to(p) for p in params])
    value, grads = evaluate(theta)
    for _ in range(inner_steps):
        candidate = project([t - lr * g for t, g in zip(theta, grads)])
        candidate_value, candidate_grads = evaluate(candidate)
        if candidate_value < value:
            theta, value, grads, lr = candidate, candidate_value, candidate_grads, lr * 1.5
        else:
            lr = lr / 2
    with torch.no_grad():
        for p, s, t in zip(params, start, theta):
            p.copy_(s + t)
    return torch.cat([t.reshape(-1) for t in theta])
