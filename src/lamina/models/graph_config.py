"""Functional graph <-> JSON-able config: layers, then the nodes in topological order.

A tensor is referred to as `[layer_name, node_index, tensor_index]`, where `node_index`
counts the calls of that layer *within this graph* (a shared layer's calls in other models
are not counted) and `tensor_index` is the leaf position in that call's outputs.
"""
import jax

from lamina.core import registry
from lamina.core import structure as structure_lib
from lamina.core.node import is_symbolic
from lamina.errors import GraphError

_TENSOR = "__tensor__"


def graph_config(graph):
    refs, calls = {}, {}
    for t in graph.flat_inputs:
        refs[id(t)] = [t.node.layer.name, 0, 0]
    nodes = []
    for node in graph.nodes:
        index = calls.get(id(node.layer), 0)
        calls[id(node.layer)] = index + 1
        args, kwargs = jax.tree_util.tree_map(
            lambda t: {_TENSOR: refs[id(t)]} if is_symbolic(t) else t,
            (list(node.call_args), node.call_kwargs), is_leaf=is_symbolic)
        nodes.append({"layer": node.layer.name, "args": args, "kwargs": kwargs})
        for i, t in enumerate(jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)):
            refs[id(t)] = [node.layer.name, index, i]

    def ref_tree(structure):
        return structure_lib.map_structure(lambda t: refs[id(t)], structure, is_symbolic)

    return {
        "layers": [{**registry.serialize(layer), "name": layer.name} for layer in graph.layers],
        "nodes": nodes,
        "input_layers": ref_tree(graph.inputs),
        "output_layers": ref_tree(graph.outputs),
    }


def _is_ref(x):
    return isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)


def graph_from_config(config):
    """(inputs, outputs, layers by name) rebuilt from `graph_config` output."""
    layers = {}
    for entry in config["layers"]:
        layer = registry.deserialize(entry)
        layers[layer.name] = layer
    tensors = {}
    for name, layer in layers.items():
        if type(layer).__name__ == "InputLayer":
            tensors[(name, 0, 0)] = layer.output
    calls = {}

    def lookup(ref):
        key = tuple(ref)
        if key not in tensors:
            raise GraphError(f"Model config refers to an unknown tensor {ref}.")
        return tensors[key]

    for node in config["nodes"]:
        layer = layers[node["layer"]]
        args, kwargs = jax.tree_util.tree_map(
            lambda x: lookup(x[_TENSOR]) if isinstance(x, dict) and _TENSOR in x else x,
            (node["args"], node["kwargs"]),
            is_leaf=lambda x: isinstance(x, dict) and _TENSOR in x)
        outputs = layer(*args, **kwargs)
        index = calls.get(layer.name, 0)
        calls[layer.name] = index + 1
        for i, t in enumerate(jax.tree_util.tree_leaves(outputs, is_leaf=is_symbolic)):
            tensors[(layer.name, index, i)] = t

    def rebuild(structure):
        return structure_lib.map_structure(lookup, structure, _is_ref)

    return rebuild(config["input_layers"]), rebuild(config["output_layers"]), layers
