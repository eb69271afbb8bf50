"""The paper's 5-layer CNN for the two-task study, as in the authors' released code."""

import torch
from torch import nn


class CNN5(nn.Module):
    """2 conv + 3 fully connected layers with one shared head; 1,476,548 weights.

    input [N, 1, 28, 28] in [0, 1]
    conv 3x3, 1->32, padding 1 + BatchNorm + ReLU + max-pool 2   -> [N, 32, 14, 14]
    conv 3x3, 32->64, no padding + BatchNorm + ReLU + max-pool 2 -> [N, 64, 6, 6]
    flatten -> fc 2304->600 -> dropout 0.25 -> fc 600->120 -> fc 120->num_classes (logits)

    There is no nonlinearity between the fully connected layers: the authors' `FashionCNN`
    has none, and we keep it so that the weight count (the paper's "1.4 M") matches.

    Weights and inputs are kept channels-last: the same function (outputs agree to 1e-6),
    but a training step costs about half as much on CPU, where max-pooling and batch norm
    are slow in the default layout (benchmarks/fip_step_cost.py).
    """

    def __init__(self, num_classes: int = 20):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 6 * 6, 600), nn.Dropout(0.25),
            nn.Linear(600, 120), nn.Linear(120, num_classes),
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        return self.classifier(self.features(x.contiguous(memory_format=torch.channels_last)))
