"""Orthogonal gradient descent (Farajtabar et al. 2020, OGD-GTL): the gradients of the
ground-truth logit on a memory of the old task span the directions that move those outputs;
every new-task gradient is projected off that span before the optimiser step."""

import torch

from fipbench.precision import float32
from fipbench.stepwise import StepMethod, TaskStart
from fipbench.train import supervised_loss


def output_gradient_basis(model, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis [P, M] (QR) of the gradients of logit[label] (model in eval mode)
    over the trainable parameters, for memory inputs [M, ...] and labels [M], M << P."""
    was_training = model.training
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    columns = []
    for x, y in zip(inputs, labels):
        logit = model(x.unsqueeze(0))[0, y]
        columns.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(logit, params)]))
    model.train(was_training)
    basis, _ = torch.linalg.qr(torch.stack(columns, dim=1))
    return basis


def extend_basis(basis: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis [P, M + K] of the span of basis [P, M] (None: empty) and new [P, K]."""
    if basis is None:
        return new
    extended, _ = torch.linalg.qr(torch.cat([basis, new], dim=1))
    return extended


def projected_update(optimizer: torch.optim.Optimizer, model, basis: torch.Tensor):
    """Update function for fipbench.train.run_steps: backward, remove the gradient's
    component in the span of basis [P, M], then one optimiser step."""
    params = [p for p in model.parameters() if p.requires_grad]

    def update(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        with float32(flat.device):  # a bf16 product would leave a component in the span
            flat = flat - basis @ (basis.T @ flat)
        for p, piece in zip(params, flat.split([p.numel() for p in params])):
            p.grad.copy_(piece.reshape(p.shape))
        optimizer.step()
    return update


class OGD(StepMethod):
    """At the start of each task the basis is extended by the gradients of the memory
    just drawn of the task left; the new task's cross-entropy steps are projected off it."""

    def start_task(self, task: TaskStart):
        task.state["basis"] = extend_basis(task.state.get("basis"),
                                           output_gradient_basis(task.model, task.memory[-1], task.labels[-1]))
        return supervised_loss(task.stream), projected_update(task.optimizer, task.model, task.state["basis"])


METHOD = OGD()
