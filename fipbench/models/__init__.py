"""Model registry: config name -> constructor."""

from fipbench.models.cnn5 import CNN5
from fipbench.models.lenet import LeNet300100
from fipbench.models.resnet18 import ResNet18
from fipbench.models.resnet20 import ResNet20
from fipbench.models.vgg import VGG16

MODELS = {"cnn5": CNN5, "lenet300_100": LeNet300100, "resnet18": ResNet18, "resnet20": ResNet20, "vgg16": VGG16}


def build(name: str, **kwargs):
    """Instantiate the registered model `name`."""
    return MODELS[name](**kwargs)
