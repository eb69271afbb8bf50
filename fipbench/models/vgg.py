"""VGG16 with batch norm for CIFAR-10 (Simonyan & Zisserman 2015, configuration D), the
robustness study's network (Fig. 4)."""

import torch
from torch import nn

from fipbench.models.resnet20 import ResNet20

LAYOUT = [64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool", 512, 512, 512, "pool", 512, 512, 512, "pool"]


class VGG16(nn.Module):
    """input [N, 3, 32, 32] in [0, 1] -> per-channel normalisation (inside the model) ->
    13 conv3x3 + BN + ReLU in 5 stages, each ending in 2x2 max-pooling (32 -> 1 pixel) ->
    fc 512 -> ReLU -> fc num_classes (logits). `width` scales every channel count: 1.0 is
    VGG16 with a CIFAR-sized classifier (14,986,698 parameters with 10 classes), 0.25 the
    laptop's narrow variant (939,642). Channels-last, which is faster on CPU."""

    def __init__(self, width: float = 1.0, num_classes: int = 10):
        super().__init__()
        self.register_buffer("mean", torch.tensor(ResNet20.MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(ResNet20.STD).view(1, 3, 1, 1))
        layers, channels = [], 3
        for entry in LAYOUT:
            if entry == "pool":
                layers.append(nn.MaxPool2d(2))
                continue
            outputs = max(1, round(entry * width))
            layers += [nn.Conv2d(channels, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs),
                       nn.ReLU(inplace=True)]
            channels = outputs
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(inplace=True),
                                        nn.Linear(channels, num_classes))
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x).flatten(1))
