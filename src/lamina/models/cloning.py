"""`clone_model`: a model of the same architecture with new weights (Keras's
`keras.models.clone_model`).

Layers are cloned with `clone_function` (default: `type(layer).from_config(
layer.get_config())`, so new, freshly initialised weights), once each: a layer shared by
two calls stays shared in the clone. Sequential and functional models are rebuilt around the
clones; any other (subclassed) model is rebuilt from its config, as Keras does.

Trainability carries over (docs/utils.md, "clone_model"): each layer's own flag (in its
config), the model's own flag, every scoped freeze (`model.freeze`, matched by the layer's
path in the model), and each variable's own flag where the cloned layer has a variable of
the same name. The clone is not compiled (Keras recompiles a compiled model's clone):
call `clone.compile(...)`; an uncompiled `fit` says so.
"""

from typing import Any, cast

from lamina.core import node as node_lib
from lamina.core import structure as structure_lib
from lamina.core import tree
from lamina.core.input_layer import Input
from lamina.errors import ArgumentTypeError, ConfigurationError
from lamina.models.model import Model
from lamina.models.sequential import Sequential


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def _wrap(clone_function, call_function, recursive, cache):
    clone_function = clone_function or _default_clone
    if not callable(clone_function):
        raise ArgumentTypeError(
            f"clone_model: clone_function must be callable, received {clone_function!r}.")

    def wrapped(layer):
        if id(layer) not in cache:
            nested = isinstance(layer, Model) and layer._graph is not None
            if recursive and nested:
                cache[id(layer)] = clone_model(layer, clone_function=clone_function,
                                               call_function=call_function, recursive=True,
                                               cache=cache)
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]

    return wrapped


def _new_input(tensor):
    layer = tensor.node.layer
    return Input(shape=tensor.shape[1:], batch_size=tensor.shape[0], dtype=layer.dtype,
                 name=layer.name)


def _clone_sequential(model, clone, input_tensors):
    layers = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ConfigurationError(
                    f"clone_model: Sequential '{model.name}' takes one input tensor, received "
                    f"{len(input_tensors)}.")
            input_tensors = input_tensors[0]
        if not node_lib.is_symbolic(input_tensors):
            raise ArgumentTypeError(
                "clone_model: input_tensors must be symbolic tensors (lamina.Input), "
                f"received {type(input_tensors).__name__}.")
        layers.insert(0, input_tensors)
    elif model._input is not None:
        layers.insert(0, _new_input(model._input))
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _inputs(model, input_tensors):
    if input_tensors is None:
        return structure_lib.map_structure(_new_input, model._graph.inputs,
                                           node_lib.is_symbolic)
    flat = structure_lib.flatten(input_tensors, node_lib.is_symbolic)
    if not all(node_lib.is_symbolic(t) for t in flat) or len(flat) != len(
            model._graph.flat_inputs):
        raise ConfigurationError(
            f"clone_model: input_tensors must be {len(model._graph.flat_inputs)} symbolic "
            f"tensor(s) shaped like model '{model.name}'.input, received {input_tensors!r}.")
    return input_tensors


def _clone_functional(model, clone, call_function, input_tensors):
    graph = model._graph
    inputs = _inputs(model, input_tensors)
    new_flat = structure_lib.flatten(inputs, node_lib.is_symbolic)
    env = {id(old): new for old, new in zip(graph.flat_inputs, new_flat, strict=True)}

    def swap(structure):
        return structure_lib.map_structure(
            lambda t: env[id(t)] if node_lib.is_symbolic(t) else t, structure,
            node_lib.is_symbolic)

    for node in graph.nodes:
        layer = clone(node.layer)
        args = swap(list(node.call_args))
        kwargs = cast(dict[str, Any], swap(dict(node.call_kwargs)))
        result = (call_function(layer, *args, **kwargs) if call_function is not None
                  else layer(*args, **kwargs))
        old = structure_lib.flatten(node.outputs, node_lib.is_symbolic)
        new = structure_lib.flatten(result, node_lib.is_symbolic)
        env.update({id(o): n for o, n in zip(old, new, strict=True)})
    outputs = structure_lib.map_structure(lambda t: env[id(t)], graph.outputs,
                                          node_lib.is_symbolic)
    return Model(inputs, outputs, name=model.name, trainable=model.trainable)


def _carry_trainability(model, clone):
    """Scoped freezes by path, and variable flags by layer path and variable name."""
    old_paths = dict(tree.labelled_layers(model))
    new_paths = dict(tree.labelled_layers(clone))
    path_of = {id(layer): path for path, layer in old_paths.items()}
    frozen = [new_paths[path_of[id(f)]] for f in model.frozen_layers
              if path_of.get(id(f)) in new_paths]
    if frozen:
        clone.freeze(*frozen)
    for path, new_layer in new_paths.items():
        old_layer = old_paths.get(path)
        if old_layer is None or old_layer is new_layer:
            continue
        flags = {v.name: v.trainable for v in old_layer._variables}
        for variable in new_layer._variables:
            if variable.name in flags and variable.trainable != flags[variable.name]:
                variable.trainable = flags[variable.name]


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model with `model`'s architecture and new weights (see the module docstring).

    Args:
        model: a Sequential, functional or subclassed model.
        input_tensors: symbolic tensors to build the clone on (Sequential and functional).
        clone_function: `layer -> new layer`, applied once per layer (return the layer
            itself to share it, with its weights, between the model and the clone).
        call_function: `(layer, *args, **kwargs) -> outputs`, how a functional clone calls
            each cloned layer (to insert layers around it).
        recursive: clone the layers inside nested Sequential and functional models one by
            one with `clone_function`, instead of passing the nested model to it.
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ConfigurationError(f"clone_model: unexpected keyword arguments {tuple(kwargs)}.")
    cache = {} if cache is None else cache
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ConfigurationError(
                f"clone_model: call_function is not supported for Sequential '{model.name}': "
                "its layers are listed, not called. Use it with functional models.")
        clone = _clone_sequential(model, _wrap(clone_function, None, recursive, cache),
                                  input_tensors)
    elif isinstance(model, Model) and model._graph is not None:
        clone = _clone_functional(model, _wrap(clone_function, call_function, recursive,
                                               cache), call_function, input_tensors)
    else:
        if clone_function is not None or input_tensors is not None or call_function:
            raise ConfigurationError(
                f"clone_model: clone_function, input_tensors and call_function apply to "
                f"Sequential and functional models; '{model.name}' is a subclassed "
                f"{type(model).__name__}, which is cloned from its config.")
        clone = type(model).from_config(model.get_config())
    _carry_trainability(model, clone)
    return clone
