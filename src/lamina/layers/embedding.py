"""Embedding (integer indices -> dense vectors) and Masking (a mask from a padding value)."""
import jax.numpy as jnp
import numpy as np

from lamina import constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.lora import LoRA


def _positive_int(layer, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(
            f"{type(layer).__name__} '{layer.name}': expected a positive integer "
            f"`{name}`, received {value!r} (of type {type(value).__name__}).")
    return int(value)


class Embedding(LoRA, Layer):
    """Turns integer indices into dense vectors: `embeddings[inputs]`.

    Input `(batch, ...)` of integers, output `(batch, ..., output_dim)`; the weight is
    `embeddings` of shape `(input_dim, output_dim)`, as in Keras 3.

    Args:
        input_dim: vocabulary size (largest index + 1).
        output_dim: size of each vector.
        embeddings_initializer: default `"random_uniform"` (uniform in [-0.05, 0.05], Keras's
            default `"uniform"`).
        embeddings_regularizer, embeddings_constraint: as for `Dense`'s kernel.
        mask_zero: index 0 is padding: the output mask is `inputs != 0` and the layer supports
            masking (`supports_masking == mask_zero`, as in Keras). Index 0 then cannot be a
            word, so `input_dim` is the vocabulary size + 1.

    Indices must have an integer dtype: a float input raises `InputSpecError` (Keras casts
    floats to int32 silently; declare `lamina.Input(shape, dtype="int32")`). Out-of-range
    indices behave as in Keras 3 on JAX (`jnp.take`): `-input_dim <= i < 0` wraps around to
    `i + input_dim`, and any other out-of-range index gives a row of NaN (and no gradient), so
    a bad index shows up in the loss instead of silently reading a clamped row.
    """

    _lora_base = "embeddings"
    _lora_names = ("lora_embeddings_a", "lora_embeddings_b")

    def __init__(self, input_dim, output_dim, embeddings_initializer="random_uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(self, "input_dim", input_dim)
        self.output_dim = _positive_int(self, "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim), self.embeddings_initializer, name="embeddings",
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint)
        self._enable_configured_lora()

    def check_input(self, inputs):
        if not jnp.issubdtype(inputs.dtype, jnp.integer):
            raise InputSpecError(
                f"Embedding '{self.name}': expected integer indices, received dtype "
                f"{jnp.dtype(inputs.dtype).name} (shape {tuple(inputs.shape)}). Feed integer "
                "arrays and declare the input as `lamina.Input(shape, dtype=\"int32\")`.")

    def call(self, inputs):
        x = jnp.take(self.embeddings.value, inputs, axis=0)
        if self.lora_enabled:
            x = x + self.lora_path(lambda a: jnp.take(a, inputs, axis=0)).astype(x.dtype)
        return x

    def compute_mask(self, inputs, previous_mask):
        return jnp.not_equal(inputs, 0) if self.mask_zero else None

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            **self.lora_config(),
        }


class Masking(Layer):
    """Masks the timesteps whose features all equal `mask_value`.

    For inputs `(batch, timesteps, features)` the output mask is
    `any(inputs != mask_value, axis=-1)` (shape `(batch, timesteps)`), and the masked
    timesteps are set to 0 in the output, as in Keras. An incoming mask is replaced, not
    combined.
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise ConfigurationError(
                f"Masking '{self.name}': expected a number `mask_value`, received "
                f"{mask_value!r} (of type {type(mask_value).__name__}).")
        self.mask_value = float(mask_value)
        self.built = True

    def check_input(self, inputs):
        if inputs.ndim < 2:
            raise InputSpecError(
                f"Masking '{self.name}': expected inputs of rank >= 2 (batch, ..., features), "
                f"received shape {tuple(inputs.shape)}.")

    def _keep(self, inputs):
        return jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        return jnp.where(self._keep(inputs)[..., None], inputs, jnp.zeros_like(inputs))

    def compute_mask(self, inputs, previous_mask):
        return self._keep(inputs)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


LAYERS = (Embedding, Masking)
