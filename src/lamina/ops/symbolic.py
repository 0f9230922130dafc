"""Ops and Python operators on symbolic tensors: `x + y`, `x[:, 0]`, `ops.expand_dims(x, -1)`
inside a functional model, as Keras 3 allows on `KerasTensor`s.

Each such call becomes a node of a `TensorOperation` layer that runs the op on its inputs.
Its config names the op (an operator or a public `lamina.ops` name, looked up by name when
a file is loaded, never imported from a path) and the call's other arguments, so a model
with these nodes saves and loads like any other, with no code in the file.
"""
import functools
import inspect
import operator

import jax
import numpy as np

from lamina.core import naming, node, registry
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, SavingError

# Python operators a symbolic tensor supports (Keras's KerasTensor operators)
OPERATORS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": operator.pow, "matmul": operator.matmul, "neg": operator.neg,
    "pos": operator.pos, "abs": operator.abs, "invert": operator.invert,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge, "getitem": operator.getitem,
}
# ops that take functions, or answer from the tensor's description: not graph nodes
_NOT_NODES = frozenset({
    "shape", "dtype", "is_tensor", "convert_to_numpy", "custom_gradient", "cond",
    "while_loop", "fori_loop", "scan", "associative_scan", "map", "vectorized_map", "switch",
    "vectorize", "jvp"})
_OPS = {}  # public op name -> the op


def _encode(value, tensors):
    """The JSON form of one argument; symbolic tensors go to `tensors` by position."""
    if node.is_symbolic(value):
        tensors.append(value)
        return {"__tensor__": len(tensors) - 1}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, slice):
        return {"__slice__": [_encode(v, tensors) for v in (value.start, value.stop,
                                                              value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, tensors) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, tensors) for k, v in value.items()}}
    if isinstance(value, (np.ndarray, np.generic, jax.Array)) and np.size(value) <= 4096:
        array = np.asarray(value)
        return {"__array__": array.tolist(), "dtype": array.dtype.name}
    raise ConfigurationError(
        f"An op on symbolic tensors got an argument lamina cannot record in a model: "
        f"{type(value).__name__}; expected tensors, numbers, strings, slices, lists, tuples "
        "or small arrays. Wrap the computation in a layer instead.")


def _decode(value, tensors):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__slice__" in value:
        return slice(*(_decode(v, tensors) for v in value["__slice__"]))
    if "__ellipsis__" in value:
        return Ellipsis
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"].items()}
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=value["dtype"])
    raise SavingError(f"TensorOperation: unknown argument encoding {sorted(value)}.")


def _function(op):
    if op.startswith("operator."):
        function = OPERATORS.get(op[len("operator."):])
    else:
        function = _OPS.get(op)
    if function is None:
        raise ConfigurationError(
            f"TensorOperation: expected an operator ('operator.add', ...) or a public "
            f"lamina.ops name, received {op!r}.")
    return function


class TensorOperation(Layer):
    """One op applied to symbolic tensors in a functional model (made by `x + y`,
    `x[..., 0]` or a `lamina.ops` call on symbolic tensors; not built by hand).

    Args:
        op: `"operator.<name>"` or a public `lamina.ops` name (`"expand_dims"`,
            `"image.resize"`).
        arguments: `{"args": [...], "kwargs": {...}}` in JSON form, tensors marked by
            position.
    """

    def __init__(self, op, arguments, **kwargs):
        if kwargs.get("name") is None:
            kwargs["name"] = naming.unique_name(op.split(".")[-1])
        super().__init__(**kwargs)
        self.op, self.arguments = op, arguments
        self._function = _function(op)

    def build(self, input_shape):
        """No weights."""

    def call(self, inputs):
        tensors = list(inputs)
        args = _decode(self.arguments["args"], tensors)
        kwargs = {k: _decode(v, tensors) for k, v in self.arguments["kwargs"].items()}
        return self._function(*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "op": self.op, "arguments": self.arguments}


registry.register_serializable()(TensorOperation)


def apply(op, args, kwargs):
    """The symbolic output of `op(*args, **kwargs)` (its node recorded)."""
    tensors = []
    arguments = {"args": _encode(list(args), tensors),
                 "kwargs": {k: _encode(v, tensors) for k, v in kwargs.items()}}
    return TensorOperation(op, arguments)(tensors)


def _operator(name, reflected=False):
    def method(self, *others):
        args = (others[0], self) if reflected else (self, *others)
        return apply(f"operator.{name}", args, {})
    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def install_operators():
    """Give symbolic tensors Keras's operators (their node is a TensorOperation)."""
    binary = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
              "or", "xor")
    for name in binary:
        setattr(node.SymbolicTensor, f"__{name}__", _operator(name))
        setattr(node.SymbolicTensor, f"__r{name}__", _operator(name, reflected=True))
    for name in ("neg", "pos", "abs", "invert", "lt", "le", "gt", "ge", "getitem"):
        setattr(node.SymbolicTensor, f"__{name}__", _operator(name))


def symbolic_aware(name, function):
    """`function` that records a node when given symbolic tensors, registered under
    `name` for loading."""
    if name in _NOT_NODES or not callable(function):
        return function
    _OPS[name] = function

    @functools.wraps(function)
    def op(*args, **kwargs):
        if node.any_symbolic((args, kwargs)):
            return apply(name, args, kwargs)
        return function(*args, **kwargs)
    return op


def _shape(function):
    @functools.wraps(function)
    def shape(x):
        return tuple(x.shape) if node.is_symbolic(x) else function(x)
    return shape


def wrap_package(package, namespaces):
    """Make every public op of `package` (lamina.ops) and of its `namespaces` record a node on
    symbolic tensors: one wrapped object per op, named by its top-level name when it has one
    (`"expand_dims"`), else by its namespace (`"image.resize"`)."""
    wrapped = {}
    spaces = [("", package)] + [(f"{name}.", getattr(package, name)) for name in namespaces]
    for prefix, space in spaces:
        for name, value in list(vars(space).items()):
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            if id(value) not in wrapped:
                wrapped[id(value)] = (_shape(value) if name == "shape"
                                      else symbolic_aware(prefix + name, value))
            setattr(space, name, wrapped[id(value)])
