"""Dense and Activation."""
import jax.numpy as jnp

from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.lora import LoRA


class Dense(LoRA, Layer):
    """`activation(inputs @ kernel + bias)` over the last axis.

    Args:
        units: output size.
        activation: name or callable (default linear).
        use_bias: add a bias vector.
        kernel_initializer, bias_initializer: names, instances or callables.
        kernel_regularizer, bias_regularizer: penalties added to the loss while they train.
        kernel_constraint, bias_constraint: applied after each optimizer update.
        lora_rank, lora_alpha: enable LoRA when built (see `enable_lora`, `layers/lora.py`).
    """

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ConfigurationError(
                f"Dense '{self.name}': expected a positive integer `units`, "
                f"received {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        self.input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            (self.input_dim, self.units), self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = (self.add_weight((self.units,), self.bias_initializer, name="bias",
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self._enable_configured_lora()

    def check_input(self, inputs):
        if not hasattr(inputs, "shape") or inputs.ndim < 1 or inputs.shape[-1] != self.input_dim:
            shape = getattr(inputs, "shape", None)
            raise InputSpecError(
                f"Dense '{self.name}': expected input with last dimension {self.input_dim}, "
                f"received shape {tuple(shape) if shape is not None else shape}."
            )

    def call(self, inputs):
        inputs = inputs.astype(self.compute_dtype)
        x = jnp.matmul(inputs, self.kernel.value)
        if self.lora_enabled:
            x = x + self.lora_path(lambda a: jnp.matmul(inputs, a)).astype(x.dtype)
        if self.bias is not None:
            x = x + self.bias.value
        return self.activation(x)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            **self.lora_config(),
        }


class Activation(Layer):
    """Applies an activation function (a name from `lamina.activations` or a callable)."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
