"""Symbolic tensors and nodes: how calling layers on `lamina.Input` records a graph.

A `Node` is one call event: a layer, the arguments it was called with (which hold symbolic
tensors) and the symbolic outputs. Nodes are not layers: calling one layer twice makes two
nodes and no cycle. Output shapes come from `jax.eval_shape` of the real `call`, so a layer
never needs a separate shape function. A layer that runs on the host (`runs_on_host`, the
text preprocessing layers) gives its own output spec instead (`host_output_spec`): strings
cannot be traced. Text tensors have the dtype `STRING`; only host layers may read them.
"""
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from lamina.core import scope as scope_lib
from lamina.core.lowering import convolution
from lamina.errors import GraphError

# the dtype of symbolic text tensors (`lamina.Input(..., dtype="string")`)
STRING = np.dtype(np.str_)

MSG_STRING_INPUT = """\
Layer '{name}' ({cls}) received a string tensor ('{tensor}'), but it computes with JAX,
which has no strings. Only the host preprocessing layers (TextVectorization, StringLookup,
...) read text: put one between the string input and '{name}'."""


def as_dtype(dtype):
    """A numpy dtype; "string" (and numpy text dtypes) become `STRING`."""
    if dtype in ("string", str, bytes, object) or np.dtype(dtype).kind in "USO":
        return STRING
    return jnp.dtype(dtype)


def is_string(dtype):
    return np.dtype(dtype).kind in "USO"

# stand in for unknown (None) dimensions while shapes are traced: the batch axis, and (traced
# twice, with two sizes) any other axis; output sizes that follow the stand-in become None.
# The two sizes are far apart so that strided layers keep them apart: 13 and 14 both give 7
# after a stride-2 convolution, 13 and 77 stay distinct through six halvings (a ResNet's or
# MobileNet's five, with their paddings), so the image size stays None as in Keras.
_PLACEHOLDER = 1
_OTHER_PLACEHOLDERS = (13, 77)


class SymbolicTensor:
    """A placeholder for a tensor in a functional model (Keras's `KerasTensor`)."""

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = as_dtype(dtype)
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        dtype = "string" if is_string(self.dtype) else self.dtype.name
        return f"<SymbolicTensor shape={self.shape} dtype={dtype} name={self.name}>"


class Node:
    def __init__(self, layer, call_args, call_kwargs, outputs, is_input=False):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.is_input = is_input  # the node of an InputLayer: where a graph starts

    @property
    def input_tensors(self):
        return [t for t in jax.tree_util.tree_leaves((self.call_args, self.call_kwargs),
                                                     is_leaf=is_symbolic) if is_symbolic(t)]


def is_symbolic(x):
    return isinstance(x, SymbolicTensor)


def any_symbolic(tree):
    return any(is_symbolic(t) for t in jax.tree_util.tree_leaves(tree, is_leaf=is_symbolic))


def _spec(t, other=_OTHER_PLACEHOLDERS[0]):
    shape = tuple((_PLACEHOLDER if i == 0 else other) if d is None else d
                  for i, d in enumerate(t.shape))
    return jax.ShapeDtypeStruct(shape, t.dtype)


def symbolic_call(layer, args, kwargs):
    """Call `layer` on symbolic tensors: build it, trace its output shapes, record a Node."""
    leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
    if getattr(layer, "runs_on_host", False):
        return _host_symbolic_call(layer, args, kwargs)
    for t in leaves:
        if is_symbolic(t) and is_string(t.dtype):
            raise GraphError(MSG_STRING_INPUT.format(name=layer.name, cls=type(layer).__name__,
                                                     tensor=t.name))
    batch_unknown = any(is_symbolic(t) and t.shape and t.shape[0] is None for t in leaves)
    if not layer.built:
        shapes = jax.tree_util.tree_map(lambda t: t.shape, args[0], is_leaf=is_symbolic)
        layer._build_once(shapes)
    flat, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=is_symbolic)
    positions = [i for i, t in enumerate(flat) if is_symbolic(t)]

    def run(*arrays):
        filled = list(flat)
        for i, array in zip(positions, arrays, strict=True):
            filled[i] = array
        call_args, call_kwargs = jax.tree_util.tree_unflatten(treedef, filled)
        call_kwargs.setdefault("training", False)
        # a pure scope: state updates made while tracing shapes are discarded
        with scope_lib.activate(scope_lib.CallScope(values={})):
            return layer(*call_args, **call_kwargs)

    out_specs = convolution.eval_shape(run, *[_spec(flat[i]) for i in positions])
    other_unknown = any(is_symbolic(t) and None in t.shape[1:] for t in leaves)
    alt_specs = (convolution.eval_shape(run, *[_spec(flat[i], _OTHER_PLACEHOLDERS[1])
                                               for i in positions]) if other_unknown else out_specs)
    node = Node(layer, args, kwargs, None)

    counter = itertools.count()

    def to_symbolic(spec, alt):
        shape = [None if d != a else d for d, a in zip(spec.shape, alt.shape, strict=True)]
        if batch_unknown and shape and shape[0] == _PLACEHOLDER:
            shape[0] = None
        return SymbolicTensor(shape, spec.dtype, node, next(counter), layer.name)

    node.outputs = jax.tree_util.tree_map(to_symbolic, out_specs, alt_specs)
    layer._inbound_nodes.append(node)
    return node.outputs


def _host_symbolic_call(layer, args, kwargs):
    """A host layer's node: its outputs from `layer.host_output_spec(shape, dtype)`, nothing
    traced. A layer called on a list of tensors (HashedCrossing) gets lists of both."""
    inputs = args[0]
    tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not tensors or not all(is_symbolic(t) for t in tensors):
        raise GraphError(
            f"Layer '{layer.name}' ({type(layer).__name__}) runs on the host and takes "
            f"symbolic tensors (one, or a list), received {inputs!r}.")
    shapes = [t.shape for t in tensors]
    dtypes = ["string" if is_string(t.dtype) else t.dtype.name for t in tensors]
    if is_symbolic(inputs):
        shape, dtype = layer.host_output_spec(shapes[0], dtypes[0])
    else:
        shape, dtype = layer.host_output_spec(shapes, dtypes)
    output = SymbolicTensor(shape, dtype, None, 0, layer.name)
    output.node = Node(layer, args, kwargs, output)
    layer._inbound_nodes.append(output.node)
    return output
