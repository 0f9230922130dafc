"""`model.summary()`: layers, output shapes, params, own flags and effective status.

Totals come from the trainability resolution, so "Trainable params" is exactly what the
next training step updates (docs/design.md rule 8).
"""
import numpy as np

from lamina import trainability
from lamina.core import tree


def _size(variables):
    return int(sum(np.prod(v.shape, dtype=np.int64) for v in variables if v.kind == "weight"))


def _output_shape(layer):
    if not layer._inbound_nodes:
        return "?"
    import jax

    shapes = jax.tree_util.tree_map(lambda t: t.shape, layer._inbound_nodes[0].outputs,
                                    is_leaf=lambda t: hasattr(t, "node"))
    return str(shapes)


def _status(resolution, layer):
    own = [v for v in trainability.resolve(layer).variables if v.kind == "weight"]
    if not own:
        return "-"
    trained = [v for v in own if v.trainable and resolution.is_trained(v)]
    if not trained:
        return "frozen"
    return "trained" if len(trained) == len([v for v in own if v.trainable]) else "partly"


def summary(model, print_fn=None, line_length=None):
    """Print (through `print_fn`, default `print`) a table of the model's layers."""
    print_fn = print_fn or print
    resolution = trainability.resolve(model)
    width = line_length or 98
    cols = [("Layer (type)", 30), ("Output Shape", 24), ("Param #", 12), ("Trainable", 10),
            ("In this model", 14)]
    header = "".join(name.ljust(w) for name, w in cols)
    lines = [f'Model: "{model.name}"', "=" * width, header, "=" * width]
    layers = model.layers if hasattr(model, "layers") else tree.sublayers(model)
    for layer in layers:
        cells = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer),
                 f"{_size(trainability.resolve(layer).variables):,}", str(layer.trainable),
                 _status(resolution, layer)]
        lines.append("".join(str(c)[: w - 1].ljust(w)
                             for c, (_, w) in zip(cells, cols, strict=True)))
    total = _size(resolution.variables)
    trained = _size(resolution.trained)
    lines += ["=" * width,
              f"Total params: {total:,}",
              f"Trainable params: {trained:,}",
              f"Non-trainable params: {total - trained:,}",
              "_" * width]
    if model._scoped_freezes:
        lines.insert(-1, "Frozen in this model's scope: "
                     + ", ".join(layer.name for layer in model._scoped_freezes))
    for line in lines:
        print_fn(line)
