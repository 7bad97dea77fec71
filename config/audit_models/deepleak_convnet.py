"""Worked example 1 (config/audit_fashion_mnist.yaml): the default profile's Fashion-MNIST CNN,
built as a user's model file builds its network. The architecture comes from the meta.json that
DeepLeak writes beside every model it trains, so this file builds whichever profile's CNN trained
the weights."""
import json

from deepleak import models


def build(meta):
    """The CNN described by ``meta`` (a meta.json of DeepLeak's), untrained."""
    with open(meta) as f:
        m = json.load(f)
    return models.build_model(m["model_cfg"], m["in_features"], m["n_classes"])
