"""CategoryEncoding: integer category indices to one-hot, multi-hot or count vectors.

An ordinary JAX layer: it runs inside the compiled step, on the device. The encoding itself is
`categorical_encoding.encode_categorical`, shared with the lookup and hashing layers.
"""
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.categorical_encoding import encode_categorical

ENCODING_MODES = ("one_hot", "multi_hot", "count")


def encoded_shape(shape: tuple, output_mode: str, depth: int) -> tuple:
    """The shape `encode_categorical` gives for inputs of `shape` (None where unknown)."""
    shape = tuple(shape)
    if output_mode == "int":
        return shape
    if output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
        return (shape or (1,)) + (depth,)
    # multi_hot / count reduce axis 1 (axis 0 for a rank-0 or rank-1 input)
    return (shape[:1] + shape[2:] if len(shape) > 1 else ()) + (depth,)


def check_no_sparse(layer: Layer, sparse: bool) -> None:
    if sparse:
        raise ConfigurationError(
            f"{type(layer).__name__} '{layer.name}': expected `sparse=False`, received "
            "sparse=True. lamina has no sparse tensors: the layer returns a dense array, which "
            "the next layer (Dense, Embedding) reads as Keras's sparse output would be densified.")


class CategoryEncoding(Layer):
    """Encodes integer category indices in `[0, num_tokens)` as Keras 3 does.

    Args:
        num_tokens: the number of categories (the size of the encoded last axis), >= 1.
        output_mode: `"multi_hot"` (default: a 1 for each index present in a sample),
            `"one_hot"` (each index on its own vector; a last axis of size 1 is replaced),
            `"count"` (how often each index occurs in a sample, weighted by `count_weights`).
            `"binary"` is Keras's old name of `"multi_hot"`.
        sparse: must be False (lamina has no sparse tensors).

    Call arguments:
        inputs: integer indices of rank 0, 1 (one sample) or 2 (a batch of samples).
        count_weights: in `"count"` mode, a weight per index (same shape as `inputs`).

    Indices outside `[0, num_tokens)` encode as zeros, as Keras 3 does on JAX (its docstring
    promises an error, which only its TensorFlow backend raises): a compiled step cannot raise
    on a value. Inputs of rank 3 or more are refused (Keras supports rank <= 2). Float
    inputs are truncated to int32 indices in every mode (Keras does so in `"multi_hot"` mode;
    its other modes compare floats, which JAX deprecates).
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ENCODING_MODES:
            raise ConfigurationError(
                f"CategoryEncoding '{self.name}': expected `output_mode` in {ENCODING_MODES}, "
                f"received {output_mode!r}.")
        if num_tokens is None:
            raise ConfigurationError(
                f"CategoryEncoding '{self.name}': expected `num_tokens` (the number of "
                "categories), received None. If the number of categories is not known in "
                "advance, use IntegerLookup instead.")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ConfigurationError(
                f"CategoryEncoding '{self.name}': expected `num_tokens` to be an int >= 1, "
                f"received {num_tokens!r}.")
        check_no_sparse(self, sparse)
        self.num_tokens = num_tokens
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None):
        inputs = jnp.asarray(inputs)
        if inputs.ndim > 2:
            raise InputSpecError(
                f"CategoryEncoding '{self.name}': expected integer indices of rank 0, 1 or 2, "
                f"received shape {tuple(inputs.shape)}. Flatten or reshape the inputs to "
                "(batch, values per sample) first.")
        if count_weights is not None:
            if self.output_mode != "count":
                raise ConfigurationError(
                    f"CategoryEncoding '{self.name}': `count_weights` is used only with "
                    f"output_mode='count', received it with output_mode={self.output_mode!r}.")
            count_weights = jnp.asarray(count_weights, self.compute_dtype)
            if count_weights.shape != inputs.shape:
                raise InputSpecError(
                    f"CategoryEncoding '{self.name}': expected `count_weights` of the inputs' "
                    f"shape {tuple(inputs.shape)}, received {tuple(count_weights.shape)}.")
        if not jnp.issubdtype(inputs.dtype, jnp.integer):
            inputs = inputs.astype(jnp.int32)  # as Keras's multi_hot does
        return encode_categorical(inputs, self.output_mode, self.num_tokens,
                                  dtype=self.compute_dtype, count_weights=count_weights,
                                  xp=jnp, name=f"CategoryEncoding '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}


LAYERS = (CategoryEncoding,)
