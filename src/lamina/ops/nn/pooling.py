"""Keras's pooling ops: `max_pool`, `average_pool`, `adaptive_max_pool`,
`adaptive_average_pool`.

Fixed windows go through the layers' lowering (`lamina.core.lowering.pooling`, chosen per
backend). Adaptive pooling follows Keras (and PyTorch): output cell `i` of an axis of length
`n` pooled to `m` covers input cells `floor(i * n / m)` to `ceil((i + 1) * n / m)`.
"""
import jax.numpy as jnp
import numpy as np

from lamina.core.lowering import pooling as lowering
from lamina.errors import ConfigurationError
from lamina.ops.nn.convolution import (
    data_format_of,
    from_channels_last,
    spatial_tuple,
    to_channels_last,
)
from lamina.ops.tensors import tensor


def _pool(pool, inputs, pool_size, strides, padding, data_format):
    data_format = data_format_of(data_format)
    x = to_channels_last(tensor(inputs), data_format)
    rank = x.ndim - 2
    if padding not in ("valid", "same"):
        raise ConfigurationError("lamina.ops: pooling padding must be 'valid' or 'same'. "
                                 f"Received: padding={padding!r}.")
    window = spatial_tuple(pool_size, rank)
    steps = window if strides is None else spatial_tuple(strides, rank)
    return from_channels_last(pool(x, window, steps, padding), data_format)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max over windows of `pool_size` moved by `strides` (default: `pool_size`)."""
    return _pool(lowering.max_pool, inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Mean over windows; with "same" padding only the real (unpadded) cells count."""
    return _pool(lowering.avg_pool, inputs, pool_size, strides, padding, data_format)


def _window_masks(length, out):
    """(out, length) booleans: which input cells each adaptive window covers."""
    index = np.arange(out)
    starts, ends = (index * length) // out, -((-(index + 1) * length) // out)
    cells = np.arange(length)
    return (cells >= starts[:, None]) & (cells < ends[:, None])


def _adaptive(inputs, output_size, data_format, average):
    data_format = data_format_of(data_format)
    x = to_channels_last(tensor(inputs), data_format)
    sizes = spatial_tuple(output_size, x.ndim - 2)
    for axis, out in enumerate(sizes, start=1):
        mask = _window_masks(x.shape[axis], out)
        cells = jnp.moveaxis(x, axis, -1)[..., None, :]
        if average:
            pooled = jnp.sum(jnp.where(mask, cells, 0), axis=-1) / mask.sum(axis=1)
        else:
            pooled = jnp.max(jnp.where(mask, cells, -jnp.inf), axis=-1)
        x = jnp.moveaxis(pooled.astype(x.dtype), -1, axis)
    return from_channels_last(x, data_format)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed output size (`output_size`: int or one per spatial axis)."""
    return _adaptive(inputs, output_size, data_format, average=True)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed output size (`output_size`: int or one per spatial axis)."""
    return _adaptive(inputs, output_size, data_format, average=False)
