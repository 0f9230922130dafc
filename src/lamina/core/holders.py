"""Which models hold a layer: a weak registry of every live model, asked only by reports.

Nothing here affects training: `explain` uses it to mark shared layers with the other models
that contain them, and `explain_layer` to answer "which of my models would train this?".
"""
import weakref

from lamina.core import tree

_MODELS = weakref.WeakSet()


def register(model):
    _MODELS.add(model)


def holders(layer, exclude=None):
    """Live models (other than `layer` itself and `exclude`) that contain `layer`, by name."""
    found = [m for m in list(_MODELS)
             if m is not layer and m is not exclude
             and any(inner is layer for inner in tree.all_layers(m))]
    return sorted(found, key=lambda m: m.name)
