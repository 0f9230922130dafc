"""A lamina model's Keras 3 `config.json` entry and the HDF5 groups of its weights: the
inverse of `importer` and `functional`.

Sequential models become `keras.Sequential` entries (their `Input` as a first `InputLayer`
entry), functional models `Functional` entries whose layers carry `inbound_nodes`: one per
call of the layer in that model, each with its `args` / `kwargs` and every tensor written as
`__keras_tensor__` with its shape, dtype and `keras_history` `[layer, node index, tensor
index]` (the node index counts the layer's calls within that model, as Keras's do). Nested
models are entries of their parent's `layers` list.

Weights go where Keras 3's `saving_lib` puts them: `<model path>/layers/<n>/vars/<i>`, where
`<n>` is the snake-cased class name made unique in `model.layers` order (`importer._unique`)
and the variables of held layers go in the groups `layers.weight_groups` names.

`trainable` flags. Each layer and model is written with the flag that makes Keras train what
lamina trains when the saved model is the root: True when some use path from the root to it
is open (`trainability.Resolution.layer_is_trained`), False otherwise. So a layer inside a
frozen nested model is written False, as Keras itself writes it (Keras's setter writes a
model's flag into its sublayers, and Keras's `Sequential.from_config` does not apply a
model's own flag), and the weights Keras's `trainable_weights` lists after loading are the
ones lamina trains (rule 3). What is lost is lamina's distinction between a layer's own flag
and the gate of a model above it: setting the nested model's flag back to True in Keras
unfreezes its layers, as in any Keras model. A scoped freeze (`model.freeze`) has no Keras
form and is refused; `.lamina` files keep both.
"""
import jax
import numpy as np

from lamina import trainability
from lamina.core import naming
from lamina.core.input_layer import InputLayer
from lamina.core.node import is_symbolic
from lamina.core.structure import map_structure
from lamina.layers import (
    GRU,
    LSTM,
    Bidirectional,
    ConvLSTM1D,
    ConvLSTM2D,
    ConvLSTM3D,
    GroupQueryAttention,
    MultiHeadAttention,
    SimpleRNN,
    TimeDistributed,
)
from lamina.layers.residual_branch import LayerScale, StochasticDepth
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.ops.symbolic import TensorOperation
from lamina.saving.keras.export_objects import (
    dtype_policy,
    keras_object,
    layer_class_name,
    layer_entry,
    refuse,
)
from lamina.saving.keras.importer import _KERAS_PYTHON_NAMES, _unique

_FUNCTIONAL = ("keras.src.models.functional", "Functional")
_SEQUENTIAL = ("keras", "Sequential")
MAX_NESTING = 32


def model_kind(model, what=None):
    """"Sequential" or "Functional" for the model classes Keras has; refused otherwise."""
    what = what or f"model '{model.name}' ({type(model).__name__})"
    if type(model) is Sequential:
        if model._graph is None:
            refuse(what, "it is not built (no input shape)",
                   "Build it first (an Input, or a call on data).")
        return "Sequential"
    if type(model) is Model and model._graph is not None:
        return "Functional"
    refuse(what, "it is a subclassed model whose structure is Python code")


def _is_model(layer):
    return isinstance(layer, Model)


def _check_freezes(model):
    if model._scoped_freezes:
        names = ", ".join(f"'{layer.name}'" for layer in model._scoped_freezes)
        refuse(f"model '{model.name}'", f"it freezes {names} in its own scope only "
               "(model.freeze)", "To freeze everywhere in Keras, unfreeze the scope and set "
               "the layer's own flag (layer.trainable = False).")


def _spec_shape(spec):
    """`_build_input_spec` (leaves `[shape, dtype]`) -> Keras's build input_shape."""
    def is_leaf(s):
        return isinstance(s, list) and len(s) == 2 and isinstance(s[1], str)
    return jax.tree_util.tree_map(lambda s: [None, *s[0][1:]], spec, is_leaf=is_leaf)


def _tensor(t, refs):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": np.dtype(t.dtype).name,
                       "keras_history": refs[id(t)]}}


def model_entry(model, resolution=None, depth=0):
    """The Keras config entry of a model (without compile_config); flags are written as the
    root's `resolution` trains them (see the module docstring)."""
    if depth > MAX_NESTING:
        refuse(f"model '{model.name}'", f"models nested more than {MAX_NESTING} deep")
    kind = model_kind(model)
    _check_freezes(model)
    resolution = resolution or trainability.resolve(model)
    if kind == "Sequential":
        entry = _sequential(model, resolution, depth)
    else:
        entry = _functional(model, resolution, depth)
    entry["config"]["trainable"] = resolution.layer_is_trained(model)
    return entry


def _sequential(model, resolution, depth):
    first = model._graph.flat_inputs[0]
    input_layer = first.node.layer
    layers = [layer_entry(input_layer)]
    for layer in model.layers:
        layers.append(_child_entry(layer, resolution, depth, _build_config(layer)))
    config = {"name": model.name, "trainable": model.trainable,
              "dtype": dtype_policy("float32"), "layers": layers}
    entry = keras_object(*_SEQUENTIAL, config)
    entry["build_config"] = {"input_shape": [None, *first.shape[1:]]}
    return entry


def _build_config(layer):
    spec = layer._build_input_spec
    if spec is None or isinstance(layer, MultiHeadAttention):
        return None
    return {"input_shape": _spec_shape(spec)}


def _child_entry(layer, resolution, depth, build_config=None):
    if _is_model(layer):
        return model_entry(layer, resolution, depth + 1)
    entry = layer_entry(layer, build_config)
    if "trainable" in entry["config"]:
        entry["config"]["trainable"] = resolution.layer_is_trained(layer)
    return entry


def _functional(model, resolution, depth):
    graph = model._graph
    refs, calls, inbound = {}, {}, {id(layer): [] for layer in graph.layers}
    for t in graph.flat_inputs:
        refs[id(t)] = [t.node.layer.name, 0, 0]
    for node in graph.nodes:
        index = calls.get(id(node.layer), 0)
        calls[id(node.layer)] = index + 1
        call_args = list(node.call_args)
        while call_args and call_args[-1] is None:  # an optional input left out (`key`)
            call_args.pop()
        args, kwargs = jax.tree_util.tree_map(
            lambda t: _tensor(t, refs) if is_symbolic(t) else t,
            (call_args, dict(node.call_kwargs)), is_leaf=is_symbolic)
        inbound[id(node.layer)].append({"args": args, "kwargs": kwargs})
        for i, t in enumerate(jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)):
            refs[id(t)] = [node.layer.name, index, i]
    layers = []
    for layer in graph.layers:
        entry = _child_entry(layer, resolution, depth)
        entry.update({"name": layer.name, "inbound_nodes": inbound[id(layer)]})
        layers.append(entry)

    def ref_tree(structure):
        return map_structure(lambda t: refs[id(t)], structure, is_symbolic)

    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": ref_tree(graph.inputs),
              "output_layers": ref_tree(graph.outputs)}
    entry = keras_object(*_FUNCTIONAL, config)
    entry["registered_name"] = "Functional"
    entry["build_config"] = {"input_shape": None}
    return entry


# -- weights -----------------------------------------------------------------------------
def _layer_groups(layer):
    """[(group relative to the layer's own group, [variables])] in Keras's layout."""
    if isinstance(layer, (SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D)):
        return [("cell/vars", list(layer.weights))]
    if isinstance(layer, Bidirectional):
        return ([(f"forward_layer/{g}", v) for g, v in _layer_groups(layer.forward_layer)]
                + [(f"backward_layer/{g}", v) for g, v in _layer_groups(layer.backward_layer)])
    if isinstance(layer, TimeDistributed):
        return [(f"layer/{g}", v) for g, v in _layer_groups(layer.layer)]
    if isinstance(layer, GroupQueryAttention):  # Keras keeps these in `_*_dense`
        per_part = len(layer.weights) // 4
        return [(f"_{part}_dense/vars", layer.weights[i * per_part:(i + 1) * per_part])
                for i, part in enumerate(("query", "key", "value", "output"))]
    if isinstance(layer, MultiHeadAttention):
        per_part = len(layer.weights) // 4
        return [(f"{part}_dense/vars", layer.weights[i * per_part:(i + 1) * per_part])
                for i, part in enumerate(("query", "key", "value", "output"))]
    return [("vars", list(layer.weights))]


# classes Keras defines in `keras.applications` rather than `keras.layers`: their weights take
# Keras's groups, but a `.keras` config cannot name them (`layer_entry` refuses them)
_APPLICATION_LAYERS = (LayerScale, StochasticDepth)


def layer_paths(model, prefix="", depth=0):
    """[(HDF5 group path, layer)] of every layer of `model` and of the models it holds (the
    models themselves included, with their path ending in "/"), in Keras 3's layout. Ops on
    symbolic tensors (`x + 1.0`) have no place in it: Keras's `model.layers` lists no
    operations, and they hold no weights."""
    if depth > MAX_NESTING:
        refuse(f"model '{model.name}'", f"models nested more than {MAX_NESTING} deep")
    model_kind(model)
    found, used = [(prefix, model)], {}
    for layer in model.layers:  # Keras's order (models/functional.py::_ordered_layers)
        if isinstance(layer, TensorOperation):
            continue
        if _is_model(layer):
            name = "sequential" if type(layer) is Sequential else "functional"
            found += layer_paths(layer, f"{prefix}layers/{_unique(name, used)}/", depth + 1)
            continue
        if isinstance(layer, InputLayer):
            class_name = "InputLayer"
        elif type(layer) in _APPLICATION_LAYERS:
            class_name = type(layer).__name__
        else:
            class_name = layer_class_name(layer)
        h5_name = naming.to_snake_case(_KERAS_PYTHON_NAMES.get(class_name, class_name))
        found.append((f"{prefix}layers/{_unique(h5_name, used)}", layer))
    return found


def weight_groups(model):
    """{HDF5 group path: [variables]} of every layer of `model`, as Keras 3 lays them out;
    each model's own group and each weightless layer's hold an empty `vars`."""
    groups = {}
    for path, layer in layer_paths(model):
        if _is_model(layer):
            groups[f"{path}vars"] = []
            continue
        for group, variables in _layer_groups(layer):
            groups[f"{path}/{group}"] = variables
    return groups
