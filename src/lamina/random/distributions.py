"""Keras 3's `keras.random` draws, with Keras's signatures, on `jax.random`.

`seed` is an int (the same draw every call), None (lamina's stream; eager code only) or a
`SeedGenerator` (a fresh key per call, whose state a compiled step carries): see
`seed_generator.draw_key`. `dtype=None` means float32, Keras's default floatx.
"""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.random.seed_generator import draw_key

_FLOATX = "float32"


def _float_dtype(where, dtype):
    dtype = jnp.dtype(_FLOATX if dtype is None else dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ConfigurationError(
            f"lamina.random.{where}: expected a floating dtype, received {dtype.name}.")
    return dtype


def _shape(shape):
    return tuple(int(d) for d in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution of `mean` and `stddev`."""
    dtype = _float_dtype("normal", dtype)
    sample = jax.random.normal(draw_key(seed, "lamina.random.normal"), _shape(shape), dtype)
    return (sample * stddev + mean).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws uniformly from `[minval, maxval)` (floating dtypes only, as Keras)."""
    dtype = _float_dtype("uniform", dtype)
    return jax.random.uniform(draw_key(seed, "lamina.random.uniform"), _shape(shape), dtype,
                              minval, maxval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws kept within two standard deviations of the mean (redrawn beyond)."""
    dtype = _float_dtype("truncated_normal", dtype)
    sample = jax.random.truncated_normal(draw_key(seed, "lamina.random.truncated_normal"),
                                         -2.0, 2.0, _shape(shape), dtype)
    return (sample * stddev + mean).astype(dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from `[minval, maxval)`."""
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise ConfigurationError(
            f"lamina.random.randint: expected an integer dtype, received {dtype.name}.")
    return jax.random.randint(draw_key(seed, "lamina.random.randint"), _shape(shape), minval,
                              maxval, dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """`num_samples` class indices per row of the `(batch, classes)` `logits`."""
    logits = jnp.asarray(logits)
    if logits.ndim != 2:
        raise InputSpecError(
            "lamina.random.categorical: expected `logits` of shape (batch_size, "
            f"num_classes), received shape {tuple(logits.shape)}.")
    out = jax.random.categorical(draw_key(seed, "lamina.random.categorical"),
                                 logits[..., None], axis=1,
                                 shape=(logits.shape[0], int(num_samples)))
    return out.astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """`inputs` with a fraction `rate` zeroed and the rest scaled by `1 / (1 - rate)`; the
    mask has `noise_shape` (None entries take the input's size) and broadcasts."""
    inputs = jnp.asarray(inputs)
    if noise_shape is None:
        noise_shape = inputs.shape
    else:
        noise_shape = tuple(s if d is None else d
                            for s, d in zip(inputs.shape, noise_shape, strict=True))
    keep = 1.0 - rate
    mask = jax.random.bernoulli(draw_key(seed, "lamina.random.dropout"), keep, noise_shape)
    mask = jnp.broadcast_to(mask, inputs.shape)
    return jnp.where(mask, inputs / keep, jnp.zeros_like(inputs))


def shuffle(x, axis=0, seed=None):
    """`x` with its entries along `axis` in a random order."""
    return jax.random.permutation(draw_key(seed, "lamina.random.shuffle"), jnp.asarray(x),
                                  axis=axis, independent=False)


def gamma(shape, alpha, dtype=None, seed=None):
    """Draws from Gamma(`alpha`, 1)."""
    dtype = _float_dtype("gamma", dtype)
    return jax.random.gamma(draw_key(seed, "lamina.random.gamma"), alpha, _shape(shape), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Numbers of successes of `counts` trials of success probability `probabilities`."""
    dtype = _float_dtype("binomial", dtype)
    return jax.random.binomial(draw_key(seed, "lamina.random.binomial"), counts,
                               probabilities, _shape(shape), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Draws from Beta(`alpha`, `beta`)."""
    dtype = _float_dtype("beta", dtype)
    return jax.random.beta(draw_key(seed, "lamina.random.beta"), alpha, beta, _shape(shape),
                           dtype)
