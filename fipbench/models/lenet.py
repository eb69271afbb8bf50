"""LeNet-300-100, the fully connected MNIST network of the sparsity study (Fig. 3B, 3D, 3F)."""

from torch import nn


class LeNet300100(nn.Module):
    """784 -> 300 -> ReLU -> 100 -> ReLU -> num_classes (logits).

    input [N, 1, 28, 28] (flattened here) -> logits [N, num_classes]. With 10 classes it has
    266,200 weights in its three matrices (235,200 + 30,000 + 1,000) and 410 biases, 266,610
    parameters in all; the paper's "484,000 non-zero weights" is not this architecture's count.
    PyTorch's default initialisation (open_lth uses Kaiming-normal; docs/deviations.md)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
            nn.Linear(100, num_classes),
        )

    def forward(self, x):
        return self.layers(x)
