"""The convolution lowerings themselves, channels-last with Keras's kernel layout.

`convolution.py` chooses among them; each computes the same function (same padding
arithmetic, same output layout), and tests/core/lowering/ checks values and gradients of
each against `jax.lax.conv_general_dilated`.

- "xla": `jax.lax.conv_general_dilated`, XLA's own convolution, differentiated by JAX.
- "patches": im2col. One gather copies, for every output position, the input rows under
  the window into a (batch, *out, window * in) patches tensor; one matrix product with the
  kernel reshaped to (window * in, out) gives the output. Under differentiation the patches
  are kept for the backward pass: kernel gradient = patches^T @ grad (one matrix product; on
  XLA:CPU the kernel-gradient convolution runs far below matrix-product speed), input
  gradient = XLA's transposed convolution of grad.
- "hybrid": XLA's convolution forward, and the patches built in the backward pass for the
  kernel gradient (nothing kept but the input): the forward speed of "xla" with the kernel
  gradient of "patches".

`conv_planned` runs one lowering for plain evaluation and (through `jax.custom_vjp`) another
under differentiation, so inference and training each get their faster path.
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from lamina.errors import InputSpecError


def dimension_numbers(rank):
    spatial = "DHW"[-rank:] if 1 <= rank <= 3 else None
    if spatial is None:
        raise InputSpecError(
            f"conv: expected 1 to 3 spatial dimensions (inputs of rank 3 to 5), "
            f"received {rank} spatial dimensions.")
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


def explicit_padding(spatial, window, strides, dilation_rate, padding):
    """((low, high), ...) per spatial axis, with XLA's arithmetic for "valid" and "same"."""
    if not isinstance(padding, str):
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    effective = [(k - 1) * d + 1 for k, d in zip(window, dilation_rate, strict=True)]
    return tuple(jax.lax.padtype_to_pads(spatial, effective, strides, padding.upper()))


def output_spatial(spatial, window, strides, dilation_rate, pads):
    return tuple((n + lo + hi - (k - 1) * d - 1) // s + 1 for n, k, s, d, (lo, hi)
                 in zip(spatial, window, strides, dilation_rate, pads, strict=True))


def conv_xla(x, kernel, strides, padding, dilation_rate, groups=1):
    """`conv` through `jax.lax.conv_general_dilated`."""
    pad = padding.upper() if isinstance(padding, str) else tuple(map(tuple, padding))
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=tuple(strides), padding=pad,
        rhs_dilation=tuple(dilation_rate), dimension_numbers=dimension_numbers(x.ndim - 2),
        feature_group_count=groups,
    )


def patches(x, window, strides, padding, dilation_rate):
    """im2col: (batch, *out_spatial, prod(window) * in) windows of channels-last `x`.

    Feature index `(offset * in) + channel`, offsets in row-major window order, which is the
    order of a Keras kernel (*window, in, out) reshaped to (prod(window) * in, out). Built by
    one gather of whole channel rows (XLA:CPU copies contiguous rows; a concatenation of
    window slices costs several passes).
    """
    pads = explicit_padding(x.shape[1:-1], window, strides, dilation_rate, padding)
    out = output_spatial(x.shape[1:-1], window, strides, dilation_rate, pads)
    if math.prod(window) == 1 and set(strides) == {1} and set(sum(pads, ())) == {0}:
        return x  # a 1x1 window reads each position's own channels
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *((lo, hi, 0) for lo, hi in pads),
                                                 (0, 0, 0)])
    padded = xp.shape[1:-1]
    # flat row of xp read by (output position, window offset), both row-major
    rank = len(window)
    rows = np.zeros((1,) * (2 * rank), np.int64)
    for d in range(rank):
        along = np.arange(out[d]) * strides[d]
        tap = np.arange(window[d]) * dilation_rate[d]
        shape_o = [out[d] if i == d else 1 for i in range(rank)] + [1] * rank
        shape_t = [1] * rank + [window[d] if i == d else 1 for i in range(rank)]
        rows = rows * padded[d] + along.reshape(shape_o) + tap.reshape(shape_t)
    flat = xp.reshape(x.shape[0], math.prod(padded), x.shape[-1])
    cols = flat.at[:, rows.reshape(-1).astype(np.int32)].get(mode="promise_in_bounds")
    return cols.reshape(x.shape[0], *out, math.prod(window) * x.shape[-1])


def _patches_times_kernel(cols, kernel):
    flat = kernel.reshape(-1, kernel.shape[-1])
    return jax.lax.dot_general(cols, flat, (((cols.ndim - 1,), (0,)), ((), ())))


def _kernel_gradient(cols, grad, kernel_shape):
    rows = cols.reshape(-1, cols.shape[-1])
    return jax.lax.dot_general(rows, grad.reshape(-1, grad.shape[-1]),
                               (((0,), (0,)), ((), ()))).reshape(kernel_shape)


def _input_gradient(grad, kernel, strides, padding, dilation_rate, x_struct):
    conv_of_x = functools.partial(conv_xla, kernel=kernel, strides=strides, padding=padding,
                                  dilation_rate=dilation_rate)
    grad_x, = jax.linear_transpose(conv_of_x, x_struct)(grad)
    return grad_x


def conv_patches(x, kernel, strides, padding, dilation_rate):
    """The "patches" forward pass (groups=1): im2col patches times the kernel."""
    cols = patches(x, kernel.shape[:-2], strides, padding, dilation_rate)
    return _patches_times_kernel(cols, kernel)


FORWARD = {"xla": conv_xla, "patches": conv_patches, "hybrid": conv_xla}


def conv_planned(x, kernel, strides, padding, dilation_rate, forward, training):
    """`conv` (groups=1) by the lowering `forward` when evaluated and by `training` under
    differentiation (each one of "xla", "patches", "hybrid")."""
    x_struct = jax.ShapeDtypeStruct(x.shape, x.dtype)
    return _planned(x, kernel, tuple(strides), padding, tuple(dilation_rate), x_struct,
                    forward, training)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5, 6, 7))
def _planned(x, kernel, strides, padding, dilation_rate, x_struct, forward, training):
    return FORWARD[forward](x, kernel, strides, padding, dilation_rate)


def _planned_fwd(x, kernel, strides, padding, dilation_rate, x_struct, forward, training):
    if training == "patches":
        cols = patches(x, kernel.shape[:-2], strides, padding, dilation_rate)
        return _patches_times_kernel(cols, kernel), (cols, kernel)
    return conv_xla(x, kernel, strides, padding, dilation_rate), (x, kernel)


def _planned_bwd(strides, padding, dilation_rate, x_struct, forward, training, residuals,
                 grad):
    if training == "xla":
        x, kernel = residuals
        _, pullback = jax.vjp(functools.partial(conv_xla, strides=strides, padding=padding,
                                                dilation_rate=dilation_rate), x, kernel)
        return pullback(grad)
    first, kernel = residuals
    cols = first if training == "patches" else patches(
        first, kernel.shape[:-2], strides, padding, dilation_rate)
    grad_kernel = _kernel_gradient(cols, grad, kernel.shape)
    return (_input_gradient(grad, kernel, strides, padding, dilation_rate, x_struct),
            grad_kernel)


_planned.defvjp(_planned_fwd, _planned_bwd)


def conv_shifts(x, kernel, strides, padding, dilation_rate, groups=None):
    """A depthwise `conv` (groups = in, kernel (*window, 1, in * multiplier)) as a sum over
    the window of strided input slices times that tap's weights: elementwise work that XLA:CPU
    fuses into a few passes, where its grouped convolution runs one small product per
    channel. Output channel c * multiplier + m reads input channel c."""
    window = kernel.shape[:-2]
    pads = explicit_padding(x.shape[1:-1], window, strides, dilation_rate, padding)
    out = output_spatial(x.shape[1:-1], window, strides, dilation_rate, pads)
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *((lo, hi, 0) for lo, hi in pads),
                                                 (0, 0, 0)])
    multiplier = kernel.shape[-1] // x.shape[-1]
    if multiplier > 1:
        xp = jnp.repeat(xp, multiplier, axis=-1)
    y = None
    for offset in np.ndindex(*window):
        start = (0, *(o * d for o, d in zip(offset, dilation_rate, strict=True)), 0)
        limit = (xp.shape[0], *(b + (n - 1) * s + 1 for b, n, s in zip(
            start[1:-1], out, strides, strict=True)), xp.shape[-1])
        term = jax.lax.slice(xp, start, limit, (1, *strides, 1)) * kernel[offset][0]
        y = term if y is None else y + term
    return y


GROUPED = {"xla": conv_xla, "shifts": conv_shifts}


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5, 6, 7))
def grouped_planned(x, kernel, strides, padding, dilation_rate, groups, forward, training):
    """A depthwise `conv` by `GROUPED[forward]` when evaluated and differentiated as
    `GROUPED[training]`."""
    return GROUPED[forward](x, kernel, strides, padding, dilation_rate, groups)


def _grouped_fwd(x, kernel, strides, padding, dilation_rate, groups, forward, training):
    return GROUPED[training](x, kernel, strides, padding, dilation_rate, groups), (x, kernel)


def _grouped_bwd(strides, padding, dilation_rate, groups, forward, training, residuals, grad):
    run = functools.partial(GROUPED[training], strides=strides, padding=padding,
                            dilation_rate=dilation_rate, groups=groups)
    return jax.vjp(run, *residuals)[1](grad)


grouped_planned.defvjp(_grouped_fwd, _grouped_bwd)
