"""ResNet-20 for CIFAR-10 (He et al. 2016, Sec. 4.2), the sparsity study's convolutional network (Fig. 3C, 3E, 3G)."""

import torch
from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then ReLU. Where the
    width or resolution changes the shortcut is a 1x1 convolution with BN (open_lth's
    choice; the paper's option A pads with zeros instead)."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """input [N, 3, 32, 32] in [0, 1] -> per-channel normalisation (inside the model) ->
    conv3x3 16 + BN + ReLU -> 3 stages of 3 basic blocks (16, 32, 64 channels; stride 2 at
    the start of stages 2 and 3) -> global average pool -> fc 64 -> num_classes (logits).
    272,474 parameters with 10 classes (270,896 in the 19 convolutions, the two 1x1
    shortcuts and the fc layer; the rest batch norm and the fc bias). Weights and inputs
    are kept channels-last, which is faster on CPU."""

    MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR-10 training-set channel means and stds
    STD = (0.2470, 0.2435, 0.2616)

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, width = [], 16
        for stage, outputs in enumerate((16, 32, 64)):
            for block in range(3):
                blocks.append(BasicBlock(width, outputs, 2 if stage > 0 and block == 0 else 1))
                width = outputs
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(x.mean(dim=(2, 3)))
