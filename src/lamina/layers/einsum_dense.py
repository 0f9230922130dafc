"""EinsumDense: a dense projection written as an einsum equation, with Keras 3's arguments,
weight shapes and weight names (`kernel`, `bias`)."""
import math
import re

import jax.numpy as jnp

from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.lora import LoRA, einsum_adapter_equations

_FORMS = (
    # (pattern over the equation with "..." replaced by "0", where the ellipsis is)
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$"), "left"),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$"), "right"),
)


class EinsumShapes:
    """The shapes an equation gives for one input shape: `kernel`, `bias` (or None), `output`
    (batch first), and the kernel axes that count as fan-in (`input_axes`) and fan-out
    (`output_axes`) for variance-scaling initialisers."""

    def __init__(self, kernel, bias, output, input_axes, output_axes):
        self.kernel, self.bias, self.output = kernel, bias, output
        self.input_axes, self.output_axes = input_axes, output_axes


def analyze_equation(name, equation, bias_axes, input_shape, output_shape):
    """Weight and output shapes of `EinsumDense(equation, output_shape, bias_axes)` on inputs
    of `input_shape` (batch first), as Keras 3 computes them."""
    replaced = equation.replace("...", "0")
    for pattern, elided_side in _FORMS:
        match = pattern.match(replaced)
        if match:
            return _shapes(name, match.groups(), elided_side, bias_axes, list(input_shape),
                           output_shape)
    raise ConfigurationError(
        f"EinsumDense '{name}': expected an equation of the form 'ab,bc->ac', '...ab,bc->...ac' "
        f"or 'ab...,bc->ac...', received {equation!r}.")


def _full_output_shape(input_shape, output_shape, spec_len, elided_side):
    out = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    out.insert(0, input_shape[0])
    elided = len(input_shape) - spec_len
    if elided > 0 and elided_side == "left":
        for i in range(1, elided):
            out.insert(1, input_shape[i])
    elif elided > 0:
        out.extend(input_shape[len(input_shape) - elided:])
    return out, elided


def _shapes(name, specs, elided_side, bias_axes, input_shape, output_shape):
    input_spec, weight_spec, output_spec = specs
    output, elided = _full_output_shape(input_shape, output_shape, len(input_spec), elided_side)
    left = elided_side == "left"
    in_pos = {d: (i + elided - len(input_shape) if left else i) for i, d in enumerate(input_spec)}
    out_pos = {d: (i + elided if left else i) for i, d in enumerate(output_spec)}
    for d in input_spec:
        size = input_shape[in_pos[d]]
        if d in out_pos and output[out_pos[d]] is not None and output[out_pos[d]] != size:
            raise InputSpecError(
                f"EinsumDense '{name}': dimension '{d}' is shared by the input and the output, "
                f"expected the same size in both, received input size {size} and output size "
                f"{output[out_pos[d]]}.")
    for d in output_spec:
        if d not in input_spec and d not in weight_spec:
            raise ConfigurationError(
                f"EinsumDense '{name}': output dimension '{d}' appears in neither the input "
                f"spec '{input_spec}' nor the weight spec '{weight_spec}'.")
    kernel, input_axes, output_axes = [], [], []
    for i, d in enumerate(weight_spec):
        if d in input_spec:
            kernel.append(input_shape[in_pos[d]])
            input_axes.append(i)
        elif d in out_pos:
            kernel.append(output[out_pos[d]])
            output_axes.append(i)
        else:
            raise ConfigurationError(
                f"EinsumDense '{name}': weight dimension '{d}' appears in neither the input "
                f"spec '{input_spec}' nor the output spec '{output_spec}'; every kernel "
                "dimension must be fully specified.")
    bias = _bias_shape(name, bias_axes, output_spec, output, elided if left else 0,
                       0 if left else elided)
    return EinsumShapes(kernel, bias, output, input_axes, output_axes)


def _bias_shape(name, bias_axes, output_spec, output, left_elided, right_elided):
    if bias_axes is None:
        return None
    sizes = {d: output[i + left_elided] for i, d in enumerate(output_spec)}
    for d in bias_axes:
        if d not in output_spec:
            raise ConfigurationError(
                f"EinsumDense '{name}': bias axis '{d}' is not in the output spec "
                f"'{output_spec}'; expected `bias_axes` to use output dimensions only.")
    first = min(output_spec.find(d) for d in bias_axes)
    return [sizes[d] if d in bias_axes else 1 for d in output_spec[first:]] + [1] * right_elided


def _kernel_initializer(initializer, shapes):
    """Variance-scaling initialisers count fans over the kernel's input and output axes (as
    Keras does for EinsumDense); others draw as usual."""
    if not isinstance(initializer, initializers._VarianceScaling):
        return initializer
    fan_in = math.prod(shapes.kernel[i] for i in shapes.input_axes)
    fan_out = math.prod(shapes.kernel[i] for i in shapes.output_axes)

    def init(shape, dtype="float32"):
        return initializer.with_fans(shape, dtype, fan_in, fan_out)
    return init


class EinsumDense(LoRA, Layer):
    """`activation(einsum(equation, inputs, kernel) + bias)`.

    Args:
        equation: `"ab,bc->ac"`-style equation: input spec, kernel spec, output spec; an
            ellipsis may stand for leading (`"...b,bc->...c"`) or trailing dimensions.
        output_shape: the output shape without the batch (and elided) dimensions; an int for
            one dimension, `None` entries where the size comes from the input.
        activation: name or callable (default linear).
        bias_axes: the output dimensions (letters) that get a bias, or None for no bias.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            kernel_constraint, bias_constraint: as `Dense`.
        lora_rank, lora_alpha: enable LoRA when built (see `enable_lora`, `layers/lora.py`).

    Weights: `kernel` (shape from the equation), then `bias` when `bias_axes` is given.
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise ConfigurationError(
                f"EinsumDense '{self.name}': expected `equation` to be a string such as "
                f"'ab,bc->ac', received {equation!r} ({type(equation).__name__}).")
        self.equation = equation
        self.partial_output_shape = ((output_shape,) if isinstance(output_shape, int)
                                     else tuple(output_shape))
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        shapes = analyze_equation(self.name, self.equation, self.bias_axes, input_shape,
                                  self.partial_output_shape)
        self.full_output_shape = tuple(shapes.output)
        self.input_rank = len(input_shape)
        self.kernel = self.add_weight(
            tuple(shapes.kernel), _kernel_initializer(self.kernel_initializer, shapes),
            name="kernel", regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = (None if shapes.bias is None else self.add_weight(
            tuple(shapes.bias), self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer, constraint=self.bias_constraint))
        self._enable_configured_lora()

    def check_input(self, inputs):
        shape = getattr(inputs, "shape", None)
        if shape is None or len(shape) != self.input_rank:
            raise InputSpecError(
                f"EinsumDense '{self.name}': expected inputs of rank {self.input_rank} (the rank "
                f"it was built for), received shape {None if shape is None else tuple(shape)}.")

    def call(self, inputs):
        inputs = inputs.astype(self.compute_dtype)
        x = jnp.einsum(self.equation, inputs, self.kernel.value)
        if self.lora_enabled:
            x = x + self._lora_output(inputs).astype(x.dtype)
        if self.bias is not None:
            x = x + self.bias.value
        return self.activation(x)

    def _lora_output(self, inputs):
        equations = einsum_adapter_equations(self.equation)
        if equations is None:
            return jnp.einsum(self.equation, inputs, self.lora_delta())
        first, second = equations
        return self.lora_path(lambda a: jnp.einsum(first, inputs, a),
                              lambda t, b: jnp.einsum(second, t, b))

    def get_config(self):
        return {
            **super().get_config(),
            "equation": self.equation,
            "output_shape": list(self.partial_output_shape),
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            **self.lora_config(),
        }


LAYERS = (EinsumDense,)
