"""Max and average pooling over the spatial dimensions of channels-last inputs.

Two lowerings, chosen at trace time by `select_pool_lowering`:

- "xla": `jax.lax.reduce_window`. Used on GPU and TPU. Its max-pool gradient is XLA's
  `select_and_scatter`, which XLA:CPU runs as a slow scalar loop (about 80% of a W4 training
  step on CPU, see benchmarks/README.md).
- "slices" (CPU): every window offset is one strided slice of the (padded) input; the pool is
  the elementwise max (or sum) of those slices, which XLA fuses into one loop. The max-pool
  gradient is written out (`jax.custom_vjp`) with `select_and_scatter`'s rule: each window's
  gradient goes to the FIRST maximal element in row-major window order, never to padding.
  The forward pass records that element's offset per window (one byte per output cell);
  the backward pass is then one elementwise pass over the input when the windows tile it
  (strides == pool_size, the Keras default), else the slices' transpose, a sum of pads.

tests/core/lowering/test_pooling.py checks values and gradients of each lowering against
`jax.lax.reduce_window`.
"""
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from lamina.errors import ConfigurationError

LOWERINGS = ("xla", "slices")


def select_pool_lowering(backend):
    """"slices" on CPU, "xla" (`jax.lax.reduce_window`) on every other backend."""
    return "slices" if backend == "cpu" else "xla"


def _geometry(spatial, pool_size, strides, padding):
    """(pads, out_spatial) with XLA's arithmetic for "valid" / "same"."""
    pads = tuple(jax.lax.padtype_to_pads(spatial, pool_size, strides, padding.upper()))
    out = tuple((n + lo + hi - k) // s + 1
                for n, k, s, (lo, hi) in zip(spatial, pool_size, strides, pads, strict=True))
    return pads, out


def _lowest(dtype):
    return -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min


def _pad(x, value, pads, interior=None):
    interior = interior or (0,) * len(pads)
    config = [(0, 0, 0), *((lo, hi, i) for (lo, hi), i in zip(pads, interior, strict=True)),
              (0, 0, 0)]
    return jax.lax.pad(x, jnp.asarray(value, x.dtype), config)


def _offsets(pool_size):
    return list(itertools.product(*(range(k) for k in pool_size)))


def _window_slice(xp, offset, out, strides):
    limit = [o + (m - 1) * s + 1 for o, m, s in zip(offset, out, strides, strict=True)]
    return jax.lax.slice(xp, (0, *offset, 0), (xp.shape[0], *limit, xp.shape[-1]),
                         (1, *strides, 1))


def _unslice(piece, offset, out, strides, spatial, pads):
    """Transpose of `_window_slice`, padding removed: `piece` (one value per window) placed at
    its real input cells in a zero array of the unpadded shape; None if it has none there."""
    index, config = [], []
    for o, m, s, n, (lo, _) in zip(offset, out, strides, spatial, pads, strict=True):
        first = max(0, -(-(lo - o) // s))  # windows whose element at `o` is a real cell
        last = min(m - 1, (lo + n - 1 - o) // s)
        if last < first:
            return None
        start = o + first * s - lo
        index.append(slice(first, last + 1))
        config.append((start, n - start - (last - first) * s - 1))
    return _pad(piece[(slice(None), *index, slice(None))], 0, config,
                [s - 1 for s in strides])


def _valid_mask(spatial, pads, offset, out, strides):
    """Static (1, *out, 1) mask: True where the window element at `offset` is real input."""
    valid = np.zeros([n + lo + hi for n, (lo, hi) in zip(spatial, pads, strict=True)], bool)
    valid[tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, pads, strict=True))] = True
    index = tuple(slice(o, o + (m - 1) * s + 1, s)
                  for o, m, s in zip(offset, out, strides, strict=True))
    return valid[index][None, ..., None]


def _max_pool_slices(x, pool_size, strides, padding):
    return _max_pool_argmax(x, pool_size, strides, padding, x.shape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _max_pool_argmax(x, pool_size, strides, padding, shape):
    # reduce_window's forward is fast on CPU and XLA does not fuse it into its consumers (a
    # following convolution's gather would otherwise recompute the pool for every tap)
    return _max_pool_xla(x, pool_size, strides, padding)


def _first_max_index(x, pool_size, strides, padding):
    """Per window, the row-major offset index of its first maximal element that is real
    input (not padding): the element `select_and_scatter` gives the window's gradient."""
    pads, out = _geometry(x.shape[1:-1], pool_size, strides, padding)
    # float padding is NaN here, so that a real element beats it even at equal (-inf) value
    # (integers have no gradient to place)
    padded = any(lo or hi for lo, hi in pads) and jnp.issubdtype(x.dtype, jnp.floating)
    xp = _pad(x, np.nan if padded else _lowest(x.dtype), pads)
    offsets = _offsets(pool_size)
    index_dtype = np.uint8 if len(offsets) <= 256 else np.int32
    best = _window_slice(xp, offsets[0], out, strides)
    index = jnp.zeros(best.shape, index_dtype)
    for k, offset in enumerate(offsets[1:], start=1):
        piece = _window_slice(xp, offset, out, strides)
        better = piece > best  # strict: an equal later element never replaces the first
        if padded:
            better = better | (jnp.isnan(best) & ~jnp.isnan(piece))
        best = jnp.where(better, piece, best)
        index = jnp.where(better, jnp.asarray(k, index_dtype), index)
    return index


def _max_pool_argmax_fwd(x, pool_size, strides, padding, shape):
    return _max_pool_xla(x, pool_size, strides, padding), x


def _max_pool_argmax_bwd(pool_size, strides, padding, shape, x, grad):
    index = _first_max_index(x, pool_size, strides, padding)
    spatial = shape[1:-1]
    pads, out = _geometry(spatial, pool_size, strides, padding)
    zero = jnp.zeros((), grad.dtype)
    if tuple(strides) == tuple(pool_size):
        # windows tile the input: every cell gets the gradient of its own window if it is
        # that window's chosen element (one fused elementwise pass, no scatter)
        covered = [m * k for m, k in zip(out, pool_size, strict=True)]
        code = np.zeros(covered, np.int64)
        for axis, k in enumerate(pool_size):
            position = np.arange(covered[axis]) % k
            code = code * k + position.reshape([-1 if a == axis else 1
                                                for a in range(len(covered))])
        code = code.astype(index.dtype)[None, ..., None]
        grad_tiles = jnp.where(_upsample(index, pool_size) == code,
                               _upsample(grad, pool_size), zero)
        return (_pad(grad_tiles, 0, [(-lo, n + lo - c) for n, c, (lo, _) in zip(
            spatial, covered, pads, strict=True)]),)
    grad_x = None
    for k, offset in enumerate(_offsets(pool_size)):
        part = _unslice(jnp.where(index == k, grad, zero), offset, out, strides, spatial, pads)
        if part is not None:
            grad_x = part if grad_x is None else grad_x + part
    return (grad_x,)


_max_pool_argmax.defvjp(_max_pool_argmax_fwd, _max_pool_argmax_bwd)


def _upsample(a, factors):
    """(batch, *spatial, channels) -> each spatial cell repeated `factors` times per axis."""
    rank = len(factors)
    tiled = [a.shape[0]] + [d for n, k in zip(a.shape[1:-1], factors, strict=True) for d in (n, k)]
    tiled.append(a.shape[-1])
    dims = (0, *(1 + 2 * i for i in range(rank)), 2 * rank + 1)
    shape = (a.shape[0], *(n * k for n, k in zip(a.shape[1:-1], factors, strict=True)), a.shape[-1])
    return jax.lax.broadcast_in_dim(a, tiled, dims).reshape(shape)


def _avg_pool_slices(x, pool_size, strides, padding):
    pads, out = _geometry(x.shape[1:-1], pool_size, strides, padding)
    xp = _pad(x, 0, pads)
    total = functools.reduce(jnp.add, [_window_slice(xp, offset, out, strides)
                                       for offset in _offsets(pool_size)])
    return total / jnp.asarray(_window_counts(x.shape[1:-1], pool_size, strides, pads, out),
                               x.dtype)


def _window_counts(spatial, pool_size, strides, pads, out):
    """Static count of real (unpadded) elements in each window: (1, *out, 1), or a scalar."""
    if not any(lo or hi for lo, hi in pads):
        return np.float32(np.prod(pool_size))
    counts = np.zeros((), np.int64)
    for offset in _offsets(pool_size):
        counts = counts + _valid_mask(spatial, pads, offset, out, strides)
    return counts.astype(np.float32)


def _max_pool_xla(x, pool_size, strides, padding):
    # the init value must be a concrete scalar (numpy), or reduce_window's max has no gradient
    return jax.lax.reduce_window(x, np.array(_lowest(x.dtype), x.dtype), jax.lax.max,
                                 (1, *pool_size, 1), (1, *strides, 1), padding.upper())


def _avg_pool_xla(x, pool_size, strides, padding):
    window, stride, pad = (1, *pool_size, 1), (1, *strides, 1), padding.upper()
    zero = np.array(0, x.dtype)
    total = jax.lax.reduce_window(x, zero, jax.lax.add, window, stride, pad)
    if pad == "VALID":
        return total / jnp.asarray(np.prod(pool_size), x.dtype)
    ones = jnp.ones((1, *x.shape[1:-1], 1), x.dtype)
    count = jax.lax.reduce_window(ones, zero, jax.lax.add, window, stride, pad)
    return total / count


_MAX = {"xla": _max_pool_xla, "slices": _max_pool_slices}
_AVG = {"xla": _avg_pool_xla, "slices": _avg_pool_slices}


def _lowering(lowering):
    lowering = lowering or select_pool_lowering(jax.default_backend())
    if lowering not in LOWERINGS:
        raise ConfigurationError(
            f"pooling: expected lowering None or one of {LOWERINGS}, received "
            f"{lowering!r}.")
    return lowering


def _args(pool_size, strides, padding):
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ConfigurationError(
            f"pooling: expected padding 'valid' or 'same', received {padding!r}.")
    return tuple(int(k) for k in pool_size), tuple(int(s) for s in strides), padding


def max_pool(x, pool_size, strides, padding, lowering=None):
    """Max over windows of `pool_size` moved by `strides`.

    Args:
        x: channels-last input (batch, *spatial, channels), 1 to 3 spatial dimensions.
        pool_size, strides: tuples, one entry per spatial dimension.
        padding: "valid" (windows inside the input) or "same" (output ceil(n / stride);
            padded cells never win the max).
        lowering: "xla" or "slices"; default: `select_pool_lowering(jax.default_backend())`.
    """
    args = _args(pool_size, strides, padding)
    return _MAX[_lowering(lowering)](x, *args)


def avg_pool(x, pool_size, strides, padding, lowering=None):
    """Mean over windows; with "same" padding the mean counts only the real (unpadded) values.

    Arguments as `max_pool`.
    """
    args = _args(pool_size, strides, padding)
    return _AVG[_lowering(lowering)](x, *args)
