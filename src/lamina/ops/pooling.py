"""Max and average pooling over the spatial dimensions of channels-last inputs.

Two lowerings, chosen at trace time by `select_pool_lowering`:

- "xla": `jax.lax.reduce_window`. Used on GPU and TPU. Its max-pool gradient is XLA's
  `select_and_scatter`, which XLA:CPU runs as a slow scalar loop (about 80% of a W4 training
  step on CPU, see benchmarks/README.md).
- "slices" (CPU): every window offset is one strided slice of the (padded) input; the pool is
  the elementwise max (or sum) of those slices, which XLA fuses into one loop. The max-pool
  gradient is written out (`jax.custom_vjp`) with `select_and_scatter`'s rule: each window's
  gradient goes to the FIRST maximal element in row-major window order, never to padding;
  it is the slices' transpose, a sum of pads that XLA fuses too.

tests/ops/test_pooling.py checks values and gradients of each lowering against
`jax.lax.reduce_window`.
"""
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

LOWERINGS = ("xla", "slices")


def select_pool_lowering(backend):
    """"slices" on CPU, "xla" (`jax.lax.reduce_window`) on every other backend."""
    return "slices" if backend == "cpu" else "xla"


def _geometry(spatial, pool_size, strides, padding):
    """(pads, out_spatial) with XLA's arithmetic for "valid" / "same"."""
    pads = tuple(jax.lax.padtype_to_pads(spatial, pool_size, strides, padding.upper()))
    out = tuple((n + lo + hi - k) // s + 1
                for n, k, s, (lo, hi) in zip(spatial, pool_size, strides, pads))
    return pads, out


def _lowest(dtype):
    return -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min


def _pad(x, value, pads, interior=None):
    interior = interior or (0,) * len(pads)
    config = [(0, 0, 0), *((lo, hi, i) for (lo, hi), i in zip(pads, interior)), (0, 0, 0)]
    return jax.lax.pad(x, jnp.asarray(value, x.dtype), config)


def _offsets(pool_size):
    return list(itertools.product(*(range(k) for k in pool_size)))


def _window_slice(xp, offset, out, strides):
    limit = [o + (m - 1) * s + 1 for o, m, s in zip(offset, out, strides)]
    return jax.lax.slice(xp, (0, *offset, 0), (xp.shape[0], *limit, xp.shape[-1]),
                         (1, *strides, 1))


def _unslice(piece, offset, out, strides, padded_spatial):
    """Transpose of `_window_slice`: `piece` placed back into a zero array of padded shape."""
    pads = [(o, n - o - (m - 1) * s - 1) for o, m, s, n in zip(offset, out, strides,
                                                                 padded_spatial)]
    return _pad(piece, 0, pads, [s - 1 for s in strides])


def _valid_mask(spatial, pads, offset, out, strides):
    """Static (1, *out, 1) mask: True where the window element at `offset` is real input."""
    valid = np.zeros([n + lo + hi for n, (lo, hi) in zip(spatial, pads)], bool)
    valid[tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, pads))] = True
    index = tuple(slice(o, o + (m - 1) * s + 1, s) for o, m, s in zip(offset, out, strides))
    return valid[index][None, ..., None]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _max_pool_slices(x, pool_size, strides, padding):
    pads, out = _geometry(x.shape[1:-1], pool_size, strides, padding)
    xp = _pad(x, _lowest(x.dtype), pads)
    pieces = [_window_slice(xp, offset, out, strides) for offset in _offsets(pool_size)]
    return functools.reduce(jnp.maximum, pieces)


def _max_pool_slices_fwd(x, pool_size, strides, padding):
    result = _max_pool_slices(x, pool_size, strides, padding)
    return result, (x, result)


def _max_pool_slices_bwd(pool_size, strides, padding, residuals, grad):
    x, result = residuals
    spatial = x.shape[1:-1]
    pads, out = _geometry(spatial, pool_size, strides, padding)
    xp = _pad(x, _lowest(x.dtype), pads)
    padded = xp.shape[1:-1]
    zero = jnp.zeros((), grad.dtype)
    taken = grad_xp = None  # taken: windows whose gradient went to an earlier element
    for offset in _offsets(pool_size):
        chosen = _window_slice(xp, offset, out, strides) == result
        if any(lo or hi for lo, hi in pads):
            chosen = chosen & _valid_mask(spatial, pads, offset, out, strides)
        if taken is not None:
            chosen = chosen & ~taken
        taken = chosen if taken is None else taken | chosen
        part = _unslice(jnp.where(chosen, grad, zero), offset, out, strides, padded)
        grad_xp = part if grad_xp is None else grad_xp + part
    index = tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, pads))
    return (grad_xp[(slice(None), *index, slice(None))],)


_max_pool_slices.defvjp(_max_pool_slices_fwd, _max_pool_slices_bwd)


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
    counts = 0
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
        raise ValueError(f"pooling: expected lowering None or one of {LOWERINGS}, received "
                         f"{lowering!r}.")
    return lowering


def _args(pool_size, strides, padding):
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"pooling: expected padding 'valid' or 'same', received {padding!r}.")
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
