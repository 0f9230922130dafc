"""Keras's encoding of category indices: `int`, `one_hot`, `multi_hot`, `count` (and tf-idf).

One function shared by `CategoryEncoding`, the lookup layers and `TextVectorization`. It runs
on numpy (`xp=np`, on the host) or jax.numpy (`xp=jnp`, inside a compiled step) with the same
results as Keras 3's `numerical_utils.encode_categorical_inputs`.
"""
from typing import Any

import jax.numpy as jnp

from lamina.errors import InputSpecError

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _one_hot(xp, indices, depth, dtype):
    return (indices[..., None] == xp.arange(depth)).astype(dtype)


def encode_categorical(inputs: Any, output_mode: str, depth: int, dtype: Any = "float32",
                       count_weights: Any = None, idf_weights: Any = None,
                       xp: Any = jnp, name: str = "encoding") -> Any:
    """Encode integer category indices in `[0, depth)` as Keras does for `output_mode`.

    Indices outside `[0, depth)` give all-zero rows (as Keras's one-hot on jax). `tf_idf` is
    `count` multiplied by `idf_weights` (length `depth`).
    """
    if output_mode == "int":
        return inputs.astype(dtype)
    if inputs.ndim == 0:
        inputs = inputs[None]
    if output_mode == "one_hot":
        if inputs.ndim > 1 and inputs.shape[-1] == 1:
            inputs = inputs.reshape(inputs.shape[:-1])
        return _one_hot(xp, inputs, depth, dtype)
    if output_mode == "multi_hot":
        return _one_hot(xp, inputs, depth, dtype).max(axis=1 if inputs.ndim > 1 else 0)
    if output_mode not in ("count", "tf_idf"):
        raise InputSpecError(
            f"{name}: expected `output_mode` in {OUTPUT_MODES}, received {output_mode!r}.")
    axis = 1 if inputs.ndim > 1 else 0
    encoded = _one_hot(xp, inputs, depth, dtype if count_weights is None
                       else count_weights.dtype)
    if count_weights is not None:
        encoded = encoded * count_weights[..., None]
    counts = encoded.sum(axis=axis)
    if output_mode == "count":
        return counts
    if idf_weights is None:
        raise InputSpecError(
            f"{name}: `output_mode='tf_idf'` expected `idf_weights`, received None. Adapt the "
            "layer or pass `idf_weights` with the vocabulary.")
    return counts * xp.asarray(idf_weights, dtype=counts.dtype)

