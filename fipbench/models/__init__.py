"""Model registry: config name -> constructor."""

from fipbench.models.cnn5 import CNN5

MODELS = {"cnn5": CNN5}


def build(name: str, **kwargs):
    """Instantiate the registered model `name`."""
    return MODELS[name](**kwargs)
