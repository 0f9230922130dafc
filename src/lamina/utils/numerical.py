"""Keras's array helpers: `to_categorical` (one-hot labels) and `normalize` (unit norm)."""
import jax
import jax.numpy as jnp
import numpy as np

from lamina import config
from lamina.errors import ConfigurationError, InputSpecError


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels, the class axis last (`keras.utils.to_categorical`).

    A trailing axis of size 1 is dropped first (`(n, 1)` labels give `(n, num_classes)`).
    `num_classes` defaults to `max(x) + 1`. NumPy (or list) input gives a float64 NumPy array,
    a JAX array input a float32 JAX array, as Keras does on its JAX backend.
    """
    if isinstance(x, jax.Array):
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        if num_classes is None:
            num_classes = int(jnp.max(x)) + 1
        return jax.nn.one_hot(x, num_classes, dtype=jnp.float32)
    x = np.array(x, dtype="int64")
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(x)) + 1
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise InputSpecError(
            f"to_categorical: expected labels in [0, {num_classes}), received labels from "
            f"{x.min()} to {x.max()}. Pass num_classes= large enough for every label.")
    out = np.zeros((x.shape[0], num_classes))
    out[np.arange(x.shape[0]), x] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (`keras.utils.normalize`); zero norms
    leave the values unchanged. NumPy in, NumPy out; a JAX array gives a JAX array."""
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis or -1)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ConfigurationError(
            f"normalize: for a JAX array `order` must be an int >= 1 (as in Keras), received "
            f"{order!r}; pass a NumPy array for other norms.")
    x = jnp.asarray(x)
    if x.ndim == 0:
        x = x[None]
    eps = config.epsilon()
    if order == 2:  # Keras's L2 case: x * min(rsqrt(sum(x^2)), 1 / epsilon)
        inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv, 1.0 / eps)
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, eps)
