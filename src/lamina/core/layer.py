"""Layer: the base contract. Structure and variable values live here; computation is `call`.

`__call__` reads like a table of contents: symbolic inputs go to `core/node.py`; concrete
inputs are converted, the layer is built once from their shapes, the call runs in a frame of
the current `CallScope` (training flag and use-path state), and the frame is popped.
"""
from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Self

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from numpy.typing import ArrayLike, DTypeLike

from lamina import constraints, initializers, regularizers, trainability
from lamina.core import allocation, dtype_policy, naming, node, trainability_version
from lamina.core import scope as scope_lib
from lamina.core.lowering import convolution
from lamina.core.variables import Variable
from lamina.errors import AbstractMethodError, ConfigurationError, InputSpecError

# an initializer, regularizer or constraint: a name, a `{"class_name", "config"}` dict, an
# instance or a plain callable
Identifier = str | dict[str, Any] | Callable[..., Any]


def _to_array(layer: Layer, x: Any) -> jax.Array:
    if isinstance(x, Tracer):
        return x
    if not isinstance(x, jax.Array):
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise InputSpecError(
                f"Layer '{layer.name}': expected a numeric array (dtype {layer.dtype}), "
                f"received dtype {x.dtype.name} (shape {x.shape})."
            )
    return jnp.asarray(x)


def _shapes(inputs):
    return jax.tree_util.tree_map(lambda x: tuple(x.shape), inputs)


class Layer:
    """Base class of every layer and model.

    Args:
        name: unique name; derived from the class name when omitted ("dense", "dense_1").
        trainable: this layer's own flag. It gates every use path through this layer and is
            never written into sublayers (docs/design.md rule 1).
        dtype: dtype of the variables (default "float32"), or a dtype policy name such as
            "mixed_bfloat16" (float32 variables, bfloat16 computation; see
            `lamina.core.dtype_policy`).
        activity_regularizer: a regularizer whose penalty on this layer's outputs, divided by
            the batch size (as Keras 3), is added to the training loss (see `add_loss`).

    Masks: a layer whose `call` takes `mask=` receives the mask of its first input when it
    runs inside a functional or Sequential model (or the mask passed explicitly). A layer with
    `supports_masking = True` passes masks on through `compute_mask`; one without drops them
    with a warning, as Keras does. A layer that consumes a mask and emits none (an RNN without
    `return_sequences`, a masked pooling) sets `supports_masking = True` and returns None from
    `compute_mask`, as Keras 3 does.
    """

    supports_masking = False
    # a layer under a mixed policy casts floating inputs to its compute dtype (models do not:
    # their inputs keep the dtype of their Input, and each layer inside casts for itself)
    autocast_inputs = True

    # attributes that hold layers but are not sublayers of this one
    _NOT_SUBLAYERS = frozenset({"_scoped_freezes", "_inbound_nodes"})

    def __init_subclass__(cls, **kwargs):
        """A subclass's own `build` marks the layer built, so calling `layer.build(shape)`
        directly (a Keras habit) is not repeated, and weights set after it are kept."""
        super().__init_subclass__(**kwargs)
        own_build = cls.__dict__.get("build")
        if own_build is None or getattr(own_build, "_marks_built", False):
            return

        @functools.wraps(own_build)
        def build(self, input_shape, *args, **kwargs):
            with jax.ensure_compile_time_eval():
                result = own_build(self, input_shape, *args, **kwargs)
            self.built = True
            return result

        build._marks_built = True  # pyright: ignore[reportAttributeAccessIssue] (a marker)
        cls.build = build

    def __init__(self, name: str | None = None, trainable: bool = True,
                 dtype: DTypeLike | dtype_policy.DTypePolicy | None = None,
                 input_shape: Sequence[int | None] | None = None, input_dim: int | None = None,
                 activity_regularizer: Identifier | None = None) -> None:
        self.name = name if name is not None else naming.unique_name(
            naming.to_snake_case(type(self).__name__)
        )
        self._trainable = bool(trainable)
        self.dtype_policy = dtype_policy.get(dtype)
        self.dtype = self.dtype_policy.variable_dtype
        self.compute_dtype = self.dtype_policy.compute_dtype
        self._variables: list[Variable] = []
        self._scoped_freezes: list[Layer] = []
        self._inbound_nodes: list[node.Node] = []
        self._build_input_spec: Any = None
        self.built: bool = False
        if input_dim is not None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        parameters = inspect.signature(self.call).parameters
        self._call_takes_training = "training" in parameters
        self._call_takes_mask = "mask" in parameters
        self._call_params = list(parameters)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._eager_losses: list[jax.Array] = []

    # -- flags ---------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        self._trainable = bool(flag)
        trainability_version.bump()

    # -- building --------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create variables for inputs of `input_shape` (with the batch dimension)."""
        self.built = True

    def _build_once(self, input_shape):
        # initialisers run eagerly even when the first call happens inside a jax trace
        with jax.ensure_compile_time_eval():
            self.build(input_shape)
        self.built = True

    def add_weight(self, shape: Sequence[int] = (), initializer: Identifier = "glorot_uniform",
                   dtype: DTypeLike | None = None, trainable: bool = True, name: str | None = None,
                   kind: str = "weight", regularizer: Identifier | None = None,
                   constraint: Identifier | None = None) -> Variable:
        """Create a variable owned by this layer.

        `regularizer` (x -> scalar penalty) is added to the loss while the variable trains;
        `constraint` (w -> w) is applied to it after each optimizer update.
        """
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
        variable = Variable(value, name or f"variable_{len(self._variables)}", trainable, kind,
                            self)
        # trainable float weights are read in the compute dtype under a mixed policy (Keras's
        # autocast); statistics such as BatchNormalization's keep their own dtype
        variable.autocast = trainable and jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraints.get(constraint)
        self._variables.append(variable)
        trainability_version.bump()
        return variable

    add_variable = add_weight

    # -- calling ---------------------------------------------------------------------
    def call(self, inputs: Any) -> Any:
        raise AbstractMethodError(
            f"Layer '{self.name}' ({type(self).__name__}) does not define `call(self, inputs)`."
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if node.any_symbolic((args, kwargs)):
            return node.symbolic_call(self, args, kwargs)
        training = kwargs.pop("training", None)
        scope = scope_lib.current()
        if scope is None:
            with scope_lib.activate(scope_lib.CallScope()) as scope:
                outputs = self._call_in_scope(scope, args, kwargs, training)
            self._eager_losses = list(scope.losses)
            return outputs
        return self._call_in_scope(scope, args, kwargs, training)

    def _call_in_scope(self, scope, args, kwargs, training):
        parent = scope.frame
        explicit = training is not None
        if not explicit:
            training = parent.training if parent is not None else False
        path = (trainability.enter(parent.path, self) if parent is not None
                else trainability.root_path(self))
        inputs = jax.tree_util.tree_map(lambda x: _to_array(self, x), args[0])
        if self.dtype_policy.is_mixed and self.autocast_inputs:
            inputs = jax.tree_util.tree_map(self._autocast, inputs)
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
            outputs = self.call(inputs, *args[1:], **kwargs)
        finally:
            scope.frames.pop()
        if self.activity_regularizer is not None:
            for output in jax.tree_util.tree_leaves(outputs):
                # divided by the batch size, as Keras 3 does, so the strength does not
                # depend on the batch size
                penalty = self.activity_regularizer(output)
                scope.losses.append(penalty / output.shape[0] if output.ndim else penalty)
        return outputs

    def add_loss(self, value: ArrayLike) -> None:
        """Add a scalar to the training loss of the current call (e.g. an activity penalty).

        Inside fit / evaluate the value joins the step's loss; after an eager call it is in
        `layer.losses`.
        """
        scope = scope_lib.current()
        if scope is None:
            raise ConfigurationError(
                f"Layer '{self.name}'.add_loss: expected to be called inside the layer's `call`, "
                "received a call outside any layer call."
            )
        scope.losses.append(jnp.asarray(value))

    @property
    def losses(self) -> list[jax.Array]:
        """Penalties of this layer's last eager call and of its regularized trained weights."""
        penalties = list(self._eager_losses)
        for variable in self.trainable_weights:
            if variable.regularizer is not None:
                penalties.append(variable.regularizer(variable.value))
        return penalties

    # -- masks -----------------------------------------------------------------------
    def compute_mask(self, inputs: Any, previous_mask: Any) -> Any:
        """The mask of this layer's outputs given its first input and that input's mask."""
        return previous_mask if self.supports_masking else None

    def _output_mask(self, inputs, previous_mask):
        """`compute_mask`, warning once when a layer without mask support drops a mask."""
        if self.supports_masking:
            return self.compute_mask(inputs, previous_mask)
        if any(m is not None for m in jax.tree_util.tree_leaves(previous_mask)):
            if not getattr(self, "_warned_mask_dropped", False):
                self._warned_mask_dropped = True
                warnings.warn(
                    f"Layer '{self.name}' ({type(self).__name__}) received an input with a mask "
                    "but does not support masking, so the layers after it see no mask.",
                    stacklevel=3)
            return None
        return self.compute_mask(inputs, previous_mask)

    def _autocast(self, x):
        if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != self.compute_dtype:
            return x.astype(self.compute_dtype)
        return x

    def check_input(self, inputs: Any) -> None:
        """Raise `InputSpecError` when `inputs` cannot be this built layer's input."""

    def compute_output_spec(self, input_spec: Any, **kwargs: Any) -> Any:
        """Output ShapeDtypeStructs for input ShapeDtypeStructs (traced, nothing computed)."""
        return convolution.eval_shape(lambda x: self(x, **kwargs), input_spec)

    # -- weights ---------------------------------------------------------------------
    @property
    def variables(self) -> list[Variable]:
        """Every variable of this layer and its sublayers (seeds included), each once."""
        return list(trainability.resolve(self).variables)

    @property
    def weights(self) -> list[Variable]:
        return [v for v in self.variables if v.kind == "weight"]

    @property
    def trainable_weights(self) -> list[Variable]:
        """Weights a training step of this layer (as root) updates: docs/design.md rule 3."""
        return [v for v in trainability.resolve(self).trained if v.kind == "weight"]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        resolution = trainability.resolve(self)
        return [v for v in resolution.not_trained if v.kind == "weight"]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(v.value) for v in self.weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        own = self.weights
        if len(weights) != len(own):
            raise InputSpecError(
                f"Layer '{self.name}'.set_weights: expected a list of {len(own)} arrays "
                f"({[v.path for v in own]}), received {len(weights)}."
            )
        for variable, value in zip(own, weights, strict=True):
            value = np.asarray(value)
            if tuple(value.shape) != variable.shape:
                raise InputSpecError(
                    f"Layer '{self.name}'.set_weights: weight '{variable.path}' expected shape "
                    f"{variable.shape}, received {tuple(value.shape)}."
                )
            variable.assign(value)

    def count_params(self) -> int:
        if not self.built:
            raise ConfigurationError(
                f"Layer '{self.name}' is not built yet, so it has no weights to count. "
                "Call it on data (or on `lamina.Input`) first."
            )
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in self.weights))

    # -- structure -------------------------------------------------------------------
    def _explicit_sublayers(self) -> list[Layer] | None:
        return None

    def _named_sublayers(self) -> list[tuple[str, Layer]]:
        """(label, sublayer) for the direct sublayers, without duplicates, in order.

        Containers that know their sublayers (functional and Sequential models) say so
        through `_explicit_sublayers()` and label them by layer name; otherwise attributes
        are walked (Layer instances, and lists, tuples and dicts of them) and labelled by
        attribute path ("encoder", "blocks/0"), which stays stable when automatic names
        differ. `lamina.core.tree` walks whole models with it.
        """
        explicit = self._explicit_sublayers()
        if explicit is not None:
            return [(child.name, child) for child in explicit]
        found, seen = [], set()
        for name, value in vars(self).items():
            if name in self._NOT_SUBLAYERS:
                continue
            for label, child in _layers_in(value, name):
                if id(child) not in seen and child is not self:
                    seen.add(id(child))
                    found.append((label, child))
        return found

    @property
    def output(self) -> Any:
        return self._only_node("output").outputs

    @property
    def input(self) -> Any:
        return self._only_node("input").call_args[0]

    def _only_node(self, what):
        if not self._inbound_nodes:
            raise ConfigurationError(
                f"Layer '{self.name}' has never been called on a symbolic tensor, so it has no "
                f"{what}. Call it on `lamina.Input(...)` first."
            )
        return self._inbound_nodes[0]

    # -- config ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": self.dtype_policy.name}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _layers_in(value, label):
    """(label, layer) pairs in an attribute value: a layer, or lists/tuples/dicts of them."""
    if isinstance(value, Layer):
        yield label, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _layers_in(item, f"{label}/{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _layers_in(item, f"{label}/{key}")
