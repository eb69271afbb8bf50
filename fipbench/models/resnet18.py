"""ResNet-18 for 32x32 inputs, the task-sequence study's network (Fig. 2D-F(ii))."""

import torch
from torch import nn
from torch.nn import functional as F

from fipbench.models.resnet20 import BasicBlock


class ResNet18(nn.Module):
    """input [N, 3, 32, 32] in [0, 1] -> per-channel normalisation (inside the model) ->
    conv3x3 nf + BN + ReLU (no max-pool, the CIFAR stem) -> 4 stages of 2 basic blocks (nf,
    2 nf, 4 nf, 8 nf channels; stride 2 at the start of stages 2-4) -> global average pool ->
    fc 8 nf -> num_classes (logits, one head over all classes). nf = 64 is He et al.'s
    ResNet-18 (11.2 M parameters with 100 classes); nf = 20 the reduced width common in
    continual-learning papers (GEM, Lopez-Paz & Ranzato 2017; 1.1 M). Every convolution and
    linear weight Xavier-uniform initialised (the paper), biases zero."""

    MEAN = (0.5071, 0.4865, 0.4409)  # CIFAR-100 training-set channel means and stds
    STD = (0.2673, 0.2564, 0.2762)

    def __init__(self, num_classes: int = 100, nf: int = 64):
        super().__init__()
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, nf, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(nf)
        widths, blocks, inputs = [nf, 2 * nf, 4 * nf, 8 * nf], [], nf
        for stage, width in enumerate(widths):
            for block in range(2):
                blocks.append(BasicBlock(inputs, width, 2 if stage > 0 and block == 0 else 1))
                inputs = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(8 * nf, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x):
        out = F.relu(self.bn(self.conv((x - self.mean) / self.std)))
        out = F.adaptive_avg_pool2d(self.blocks(out), 1).flatten(1)
        return self.fc(out)
