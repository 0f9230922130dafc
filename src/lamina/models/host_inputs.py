"""The host prefix of a functional graph: the host layers (text preprocessing) that read the
model's inputs, applied to each batch in numpy before the compiled step.

`prepare(graph, inputs)` turns raw inputs (strings included) into the *prepared inputs*: a
dict of numeric arrays, the outputs of the host layers and the raw numeric inputs that
other layers read, under keys starting with `HOST_KEY`. The compiled step receives that
dict (a plain pytree), and `Graph.run` seeds its values from it instead of running the host
layers. `check(graph)` enforces, at construction, where host layers may stand.
"""
import jax
import numpy as np

from lamina.core.node import is_symbolic
from lamina.errors import GraphError, InputSpecError

HOST_KEY = "host:"

MSG_HOST_NOT_FIRST = """\
Model '{model}': layer '{layer}' ({cls}) runs on the host, in numpy, before the compiled
step, so it must read the model's inputs; it reads the output of layer '{parent}'. Put the
host preprocessing layers first (reading `lamina.Input`s), or apply the layer in the data
pipeline (x = layer(raw_batch)) and give the model its output."""


def host_nodes(nodes):
    return [n for n in nodes if getattr(n.layer, "runs_on_host", False)]


def check(graph):
    """A host layer must read only the graph's inputs (a `GraphError` says why if not)."""
    inputs = {id(t) for t in graph.flat_inputs}
    for node in graph.host_nodes:
        for t in node.input_tensors:
            if id(t) not in inputs:
                raise GraphError(MSG_HOST_NOT_FIRST.format(
                    model=graph.model_name, layer=node.layer.name,
                    cls=type(node.layer).__name__, parent=t.node.layer.name))


def _node_key(position, node, i):
    return f"{HOST_KEY}{position}:{node.layer.name}:{i}"


def _input_key(tensor):
    return f"{HOST_KEY}input:{tensor.node.layer.name}"


def is_prepared(inputs):
    return isinstance(inputs, dict) and bool(inputs) and all(
        isinstance(k, str) and k.startswith(HOST_KEY) for k in inputs)


def _read_by_compiled_nodes(graph):
    """The ids of the input tensors that layers of the compiled part read."""
    ids = set()
    for node in graph.nodes:
        if not getattr(node.layer, "runs_on_host", False):
            ids.update(id(t) for t in node.input_tensors)
    ids.update(id(t) for t in graph.flat_outputs)
    return ids


def _single_text_list(graph, inputs):
    """A plain list of strings given to a one-input model is one array, not a list of
    inputs."""
    return (len(graph.flat_inputs) == 1 and isinstance(inputs, (list, tuple))
            and all(isinstance(x, (str, bytes, list, tuple)) for x in inputs))


def prepare(graph, inputs):
    """The prepared inputs (see the module) of raw concrete `inputs`, on the host."""
    if is_prepared(inputs):
        return inputs
    if _single_text_list(graph, inputs):
        inputs = np.asarray(inputs, dtype=object)
    flat = graph.flatten_inputs(inputs)
    env = {id(t): x for t, x in zip(graph.flat_inputs, flat, strict=True)}
    prepared = {}
    for position, node in enumerate(graph.host_nodes):
        args, kwargs = jax.tree_util.tree_map(
            lambda t: env[id(t)] if is_symbolic(t) else t,
            (node.call_args, node.call_kwargs), is_leaf=is_symbolic)
        kwargs.pop("training", None)
        values = jax.tree_util.tree_leaves(node.layer(*args, **kwargs))
        for i, value in enumerate(values):
            prepared[_node_key(position, node, i)] = np.asarray(value)
    read = _read_by_compiled_nodes(graph)
    for t, x in zip(graph.flat_inputs, flat, strict=True):
        if id(t) in read:
            prepared[_input_key(t)] = x
    return prepared


def seed(graph, prepared):
    """(values, masks) environments of `Graph.run` from prepared inputs."""
    env = {}
    for position, node in enumerate(graph.host_nodes):
        leaves = jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)
        for i, t in enumerate(leaves):
            env[id(t)] = prepared[_node_key(position, node, i)]
    read = _read_by_compiled_nodes(graph)
    for t in graph.flat_inputs:
        if id(t) in read:
            env[id(t)] = prepared[_input_key(t)]
    return env, {key: None for key in env}


def check_text(spec, x, model_name):
    """A raw text input for a string `spec`: a numpy array of text, with a missing last
    axis of size 1 added (a list of sentences for `Input(shape=(1,), dtype="string")`)."""
    array = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=object)
    if array.dtype.kind not in "USO":
        raise InputSpecError(
            f"Model '{model_name}', input '{spec.node.layer.name}': expected strings (the "
            f"input has dtype 'string'), received an array of dtype {array.dtype.name}.")
    if array.ndim + 1 == len(spec.shape) and spec.shape[-1] == 1:
        array = array[..., None]
    return array
