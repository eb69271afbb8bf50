"""Sparsity: which weights are prunable, global magnitude masks, masked training and
sparsity measured by counting zeros. Shared by the FIP sparse objective and the pruning
baselines (LTH, one-shot, random).

Prunable: the weight matrices and kernels of every Linear and Conv2d layer, the output
layer included (the paper reports the output layer's sparsity); biases and batch-norm
parameters are never pruned. A model that says otherwise has a prunable_weights() method
(the BERT study's: the encoder's weight matrices only). A sparsity p is the percentage of prunable weights that are
zero, over all of them together (global, not per layer)."""

from typing import Callable

import torch
from torch import nn


def prunable(model) -> dict[str, torch.Tensor]:
    """{parameter name: weight tensor} of every Linear and Conv2d layer of model, in order,
    or model.prunable_weights() where the model defines it."""
    if hasattr(model, "prunable_weights"):
        return model.prunable_weights()
    return {f"{name}.weight": module.weight for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, nn.Conv2d))}


def n_pruned(total: int, sparsity: float) -> int:
    """How many of `total` weights a sparsity of `sparsity` % sets to zero."""
    return round(total * sparsity / 100)


def magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float,
                    masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Global magnitude masks (bool, True = kept) with exactly n_pruned(total, sparsity) zeros.

    The smallest |w| over all tensors together are pruned; with `masks`, weights already
    pruned stay pruned and count towards the target (iterative pruning). Ties are broken
    by position, so the result is deterministic."""
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights.values()])
    if masks is not None:
        flat = torch.where(torch.cat([m.reshape(-1) for m in masks.values()]), flat, -1.0)
    keep = len(flat) - n_pruned(len(flat), sparsity)
    kept = torch.zeros(len(flat), dtype=torch.bool, device=flat.device)
    kept[torch.topk(flat, keep, sorted=False).indices] = True
    return _unflatten(kept, weights)


def random_masks(weights: dict[str, torch.Tensor], sparsity: float, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Masks keeping a uniformly random set of the prunable weights, same count as magnitude_masks."""
    total = sum(w.numel() for w in weights.values())
    kept = torch.zeros(total, dtype=torch.bool)
    kept[torch.randperm(total, generator=generator)[:total - n_pruned(total, sparsity)]] = True
    return _unflatten(kept.to(next(iter(weights.values())).device), weights)


def _unflatten(flat: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    masks, start = {}, 0
    for name, w in like.items():
        masks[name] = flat[start:start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks


@torch.no_grad()
def apply_masks(model, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned weights of model in place."""
    weights = prunable(model)
    for name, mask in masks.items():
        weights[name].mul_(mask)


def project(model, sparsity: float) -> dict[str, torch.Tensor]:
    """P_p: set the globally smallest p % of model's prunable weights to zero; returns the masks."""
    masks = magnitude_masks(prunable(model), sparsity)
    apply_masks(model, masks)
    return masks


def masked_update(optimizer: torch.optim.Optimizer, model, masks: dict[str, torch.Tensor]) -> Callable:
    """Update function for fipbench.train.run_steps: backward, optimiser step, then the
    masks re-applied, so pruned weights stay exactly zero (momentum would regrow them)."""
    def update(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        apply_masks(model, masks)
    return update


def distance_to_sparse(model, sparsity: float) -> float:
    """|w - P_p(w)| / |w| over the prunable weights: 0 exactly on the p-sparse set."""
    weights = torch.cat([w.detach().reshape(-1) for w in prunable(model).values()])
    pruned = weights.abs().topk(n_pruned(len(weights), sparsity), largest=False).values
    return (pruned.norm() / weights.norm()).item()


def measured_sparsity(model) -> dict:
    """{"sparsity": % zeros over all prunable weights, "per_layer": {"layer1": % zeros, ...}
    (numbered in the order of prunable(model)), "nonzero": count, "ends_margin": points by
    which the first and the last layer are less sparse than the least sparse layer between
    them (positive: both ends are the least sparse layers; absent below 3 layers),
    "inner_mean" and "inner_max": the mean and the largest % zeros of those layers between
    (absent below 3 layers), "connectivity": see connectivity()}, counted on the weights."""
    weights = list(prunable(model).values())
    zeros = [int((w == 0).sum()) for w in weights]
    total = sum(w.numel() for w in weights)
    per_layer = [100.0 * z / w.numel() for z, w in zip(zeros, weights)]
    result = {"sparsity": 100.0 * sum(zeros) / total,
              "per_layer": {f"layer{i}": value for i, value in enumerate(per_layer, start=1)},
              "nonzero": total - sum(zeros), "connectivity": connectivity(weights)}
    if len(per_layer) >= 3:
        inner = per_layer[1:-1]
        result.update(ends_margin=min(inner) - max(per_layer[0], per_layer[-1]),
                      inner_mean=sum(inner) / len(inner), inner_max=max(inner))
    return result


def connectivity(weights: list[torch.Tensor]) -> dict:
    """Which connections survive (Fig. 3F top). "input_fan_out": [in_features] count of
    nonzero weights leaving each input of the first layer (each input channel for a
    convolution, kernel positions summed). For a chain of fully connected layers also
    "live_units": {"hidden1": n, ...}, hidden units with a nonzero weight both in and out."""
    first = weights[0].detach()
    result = {"input_fan_out": (first != 0).sum(dim=[d for d in range(first.dim()) if d != 1]).tolist()}
    if all(w.dim() == 2 for w in weights):
        result["live_units"] = {f"hidden{i}": int(((w_in != 0).any(dim=1) & (w_out != 0).any(dim=0)).sum())
                                for i, (w_in, w_out) in enumerate(zip(weights, weights[1:]), start=1)}
    return result
