"""Layer: the base contract. Structure and variable values live here; computation is `call`.

`__call__` reads like a table of contents: symbolic inputs go to `core/node.py`; concrete
inputs are converted, the layer is built once from their shapes, the call runs in a frame of
the current `CallScope` (training flag and use-path state), and the frame is popped.
"""
import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np

from lamina import initializers
from lamina import trainability
from lamina.core import allocation
from lamina.core import naming
from lamina.core import scope as scope_lib
from lamina.core import trainability_version
from lamina.core import tree
from lamina.core.variables import Variable
from lamina.errors import ConfigurationError, InputSpecError


def _to_array(layer, x):
    if isinstance(x, jax.core.Tracer):
        return x
    if not isinstance(x, jax.Array):
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise InputSpecError(
                f"Layer '{layer.name}': expected a numeric array (dtype {layer.dtype}), received dtype "
                f"{x.dtype.name} (shape {x.shape})."
            )
    return jnp.asarray(x)


def _shapes(inputs):
    return jax.tree_util.tree_map(lambda x: tuple(x.shape), inputs)


class Layer:
    """Base class of every layer and model.

    Args:
        name: unique name; derived from the class name when omitted ("dense", "dense_1").
        trainable: this layer's own flag. It gates every use path through this layer and is
            never written into sublayers (DESIGN rule 1).
        dtype: dtype of the variables (default "float32").
    """

    # attributes that hold layers but are not sublayers of this one
    _NOT_SUBLAYERS = frozenset({"_scoped_freezes", "_inbound_nodes"})

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None):
        self.name = name if name is not None else naming.unique_name(
            naming.to_snake_case(type(self).__name__)
        )
        self._trainable = bool(trainable)
        self.dtype = jnp.dtype(dtype or "float32").name
        self._variables = []
        self._scoped_freezes = []
        self._inbound_nodes = []
        self._build_input_spec = None
        self.built = False
        if input_dim is not None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self._call_takes_training = "training" in inspect.signature(self.call).parameters

    # -- flags ---------------------------------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, flag):
        self._trainable = bool(flag)
        trainability_version.bump()

    # -- building --------------------------------------------------------------------
    def build(self, input_shape):
        """Create variables for inputs of `input_shape` (with the batch dimension)."""
        self.built = True

    def _build_once(self, input_shape):
        # initialisers run eagerly even when the first call happens inside a jax trace
        with jax.ensure_compile_time_eval():
            self.build(input_shape)
        self.built = True

    def add_weight(self, shape=(), initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, kind="weight"):
        """Create a variable owned by this layer."""
        init = initializers.get(initializer)
        dtype = dtype or self.dtype
        shape = tuple(shape)
        if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in shape):
            raise ConfigurationError(
                f"Layer '{self.name}': weight '{name}' needs a shape of non-negative integers, "
                f"received {shape}."
            )
        # Python integers: no overflow for hostile shapes read from a file
        allocation.charge(math.prod(int(d) for d in shape) * jnp.dtype(dtype).itemsize,
                          f"weight '{name}' of layer '{self.name}' with shape {shape}")
        with jax.ensure_compile_time_eval():
            value = init(tuple(shape), dtype)
        variable = Variable(value, name or f"variable_{len(self._variables)}", trainable, kind, self)
        self._variables.append(variable)
        trainability_version.bump()
        return variable

    add_variable = add_weight

    # -- calling ---------------------------------------------------------------------
    def call(self, inputs):
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) does not define `call(self, inputs)`."
        )

    def __call__(self, *args, **kwargs):
        from lamina.core import node

        if node.any_symbolic((args, kwargs)):
            return node.symbolic_call(self, args, kwargs)
        training = kwargs.pop("training", None)
        scope = scope_lib.current()
        if scope is None:
            with scope_lib.activate(scope_lib.CallScope()) as scope:
                return self._call_in_scope(scope, args, kwargs, training)
        return self._call_in_scope(scope, args, kwargs, training)

    def _call_in_scope(self, scope, args, kwargs, training):
        parent = scope.frame
        explicit = training is not None
        if not explicit:
            training = parent.training if parent is not None else False
        path = (trainability.enter(parent.path, self) if parent is not None
                else trainability.root_path(self))
        inputs = jax.tree_util.tree_map(lambda x: _to_array(self, x), args[0])
        if not self.built:
            self._build_once(_shapes(inputs))
            # what the layer was first called on, so a loaded copy can be built the same way
            self._build_input_spec = jax.tree_util.tree_map(
                lambda x: [list(x.shape), np.dtype(x.dtype).name], inputs)
        self.check_input(inputs)
        if self._call_takes_training:
            kwargs["training"] = training
        scope.frames.append(scope_lib.Frame(self, training, explicit, path))
        try:
            return self.call(inputs, *args[1:], **kwargs)
        finally:
            scope.frames.pop()

    def check_input(self, inputs):
        """Raise `InputSpecError` when `inputs` cannot be this built layer's input."""

    def compute_output_spec(self, input_spec, **kwargs):
        """Output ShapeDtypeStructs for input ShapeDtypeStructs (traced, nothing computed)."""
        return jax.eval_shape(lambda x: self(x, **kwargs), input_spec)

    # -- weights ---------------------------------------------------------------------
    @property
    def variables(self):
        """Every variable of this layer and its sublayers (seeds included), each once."""
        return list(trainability.resolve(self).variables)

    @property
    def weights(self):
        return [v for v in self.variables if v.kind == "weight"]

    @property
    def trainable_weights(self):
        """Weights a training step of this layer (as root) updates: DESIGN rule 3."""
        return [v for v in trainability.resolve(self).trained if v.kind == "weight"]

    @property
    def non_trainable_weights(self):
        resolution = trainability.resolve(self)
        return [v for v in resolution.not_trained if v.kind == "weight"]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [np.array(v.value) for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise InputSpecError(
                f"Layer '{self.name}'.set_weights: expected a list of {len(own)} arrays "
                f"({[v.path for v in own]}), received {len(weights)}."
            )
        for variable, value in zip(own, weights):
            value = np.asarray(value)
            if tuple(value.shape) != variable.shape:
                raise InputSpecError(
                    f"Layer '{self.name}'.set_weights: weight '{variable.path}' expected shape "
                    f"{variable.shape}, received {tuple(value.shape)}."
                )
            variable.assign(value)

    def count_params(self):
        if not self.built:
            raise ConfigurationError(
                f"Layer '{self.name}' is not built yet, so it has no weights to count. "
                "Call it on data (or on `lamina.Input`) first."
            )
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in self.weights))

    # -- structure -------------------------------------------------------------------
    def _explicit_sublayers(self):
        return None

    @property
    def _layers(self):
        return tree.sublayers(self)

    @property
    def output(self):
        return self._only_node("output").outputs

    @property
    def input(self):
        return self._only_node("input").call_args[0]

    def _only_node(self, what):
        if not self._inbound_nodes:
            raise ConfigurationError(
                f"Layer '{self.name}' has never been called on a symbolic tensor, so it has no "
                f"{what}. Call it on `lamina.Input(...)` first."
            )
        return self._inbound_nodes[0]

    # -- config ----------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
