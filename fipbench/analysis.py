"""Analyses of sets of networks: weight-space PCA (Fig. 3D/3E, 4C), linear CKA between
layer representations (the diversity score of Fig. 4F) and input-gradient coherence with
a surrogate network (Fig. 4E)."""

import itertools

import torch
from torch import nn
from torch.nn import functional as F

from fipbench.data.vision import to_input


def weight_pca(labelled: list[tuple[str, torch.Tensor]]) -> dict:
    """2-D PCA of weight vectors [(label, vector [P])], centred together.
    Returns {"explained_variance": [2], "points": [{kind: label, x, y}]}."""
    matrix = torch.stack([vector for _, vector in labelled]).double()
    centred = matrix - matrix.mean(0)
    _, singular, v = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ v[:2].T
    variance = singular.pow(2)
    return {"explained_variance": (variance[:2] / variance.sum()).tolist(),
            "points": [{"kind": label, "x": x, "y": y} for (label, _), (x, y) in zip(labelled, coords.tolist())]}


def centred_gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrix [N, N] of representations x [N, D] after centring each feature."""
    x = x.double() - x.double().mean(0)
    return x @ x.T


def cka(k: torch.Tensor, m: torch.Tensor) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) from two centred Gram
    matrices of the same N inputs: <K, M> / (|K| |M|); 1 for representations equal up to
    rotation and scale."""
    return ((k * m).sum() / (k.norm() * m.norm())).item()


@torch.no_grad()
def layer_grams(model, images: torch.Tensor, layer_type=nn.ReLU, batch_size: int = 500,
                first: int | None = None) -> list[torch.Tensor]:
    """Centred Gram matrices [N, N] of the flattened outputs of every `layer_type` module of
    model (eval mode, module order; the first `first` of them if given) on uint8 images
    [N, ...], one layer held at a time."""
    modules = [m for m in model.modules() if isinstance(m, layer_type)][:first]
    model.eval()
    grams = []
    for module in modules:
        parts = []
        hook = module.register_forward_hook(lambda _, __, out: parts.append(out.flatten(1).clone()))
        try:
            for start in range(0, len(images), batch_size):
                model(to_input(images[start:start + batch_size]))
        finally:
            hook.remove()
        grams.append(centred_gram(torch.cat(parts)))
    return grams


def representation_diversity(members: list, images: torch.Tensor) -> list[float]:
    """Per layer (every ReLU, input to output): 1 - mean pairwise linear CKA of the
    members' representations of the same images. 0 when all members represent alike."""
    grams = [layer_grams(member, images) for member in members]
    pairs = list(itertools.combinations(range(len(members)), 2))
    return [1 - sum(cka(grams[a][layer], grams[b][layer]) for a, b in pairs) / len(pairs)
            for layer in range(len(grams[0]))]


def input_gradients(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """Gradient of the cross-entropy of model (eval mode) with respect to each input image,
    flattened: [N, C*H*W]; the per-image loss is summed, so rows do not mix."""
    model.eval()
    gradients = []
    for start in range(0, len(images), batch_size):
        inputs = to_input(images[start:start + batch_size]).requires_grad_(True)
        loss = F.cross_entropy(model(inputs), labels[start:start + batch_size], reduction="sum")
        gradients.append(torch.autograd.grad(loss, inputs)[0].flatten(1))
    return torch.cat(gradients)


def coherence(model, surrogate, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Per image: cosine similarity between the input gradients of model and surrogate.
    High coherence: an attack crafted on the surrogate points where it also hurts model."""
    return F.cosine_similarity(input_gradients(model, images, labels),
                               input_gradients(surrogate, images, labels), dim=1).tolist()
