"""N-D convolution over channels-last inputs with Keras's kernel layout.

`conv` is the one entry point every convolutional layer calls; it chooses the lowering at
trace time with `select_conv_lowering`:

- "xla": `jax.lax.conv_general_dilated`, XLA's own convolution. Used on GPU and TPU (cuDNN,
  the TPU's convolution units) and on CPU where "patches" does not apply.
- "patches" (CPU): im2col. One gather copies, for every output position, the input rows
  under the window into a (batch, *out, window * in) patches tensor; one matrix product with
  the kernel reshaped to (window * in, out) gives the output. The gradients are written out
  (`jax.custom_vjp`): kernel = patches^T @ grad (the patches are kept from the forward
  pass), input = XLA's transposed convolution of grad. On XLA:CPU (jax 0.10) this replaces
  the kernel-gradient convolution, which XLA runs far below matrix-product speed, and makes
  W4's training step about 1.5x faster (benchmarks/README.md has the profile). The patches
  tensor is window-size times the input, so convolutions whose patches would exceed
  `PATCHES_MAX_BYTES` keep "xla", as do 1x1 windows (XLA's convolution is already a matrix
  product there) and grouped convolutions.

Both lowerings compute the same function (same padding arithmetic, same output layout);
tests/core/lowering/test_convolution.py checks values and gradients of each against
`jax.lax.conv_general_dilated`.
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from lamina.errors import ConfigurationError, InputSpecError

LOWERINGS = ("xla", "patches")
# Largest patches tensor (bytes) the CPU lowering builds: it lives until the backward pass,
# so it bounds the extra memory a convolution may take.
PATCHES_MAX_BYTES = 256 * 2**20


def _dimension_numbers(rank):
    spatial = "DHW"[-rank:] if 1 <= rank <= 3 else None
    if spatial is None:
        raise InputSpecError(
            f"conv: expected 1 to 3 spatial dimensions (inputs of rank 3 to 5), "
            f"received {rank} spatial dimensions.")
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


def _explicit_padding(spatial, window, strides, dilation_rate, padding):
    """((low, high), ...) per spatial axis, with XLA's arithmetic for "valid" and "same"."""
    if not isinstance(padding, str):
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    effective = [(k - 1) * d + 1 for k, d in zip(window, dilation_rate, strict=True)]
    return tuple(jax.lax.padtype_to_pads(spatial, effective, strides, padding.upper()))


def _output_spatial(spatial, window, strides, dilation_rate, pads):
    return tuple((n + lo + hi - (k - 1) * d - 1) // s + 1 for n, k, s, d, (lo, hi)
                 in zip(spatial, window, strides, dilation_rate, pads, strict=True))


def select_conv_lowering(backend, x_shape, kernel_shape, strides, padding, dilation_rate,
                         groups=1, itemsize=4):
    """The lowering `conv` uses for these shapes on `backend` ("cpu", "gpu", "tpu", ...).

    "patches" only on CPU, for ungrouped convolutions with a window larger than one element
    whose patches tensor fits in `PATCHES_MAX_BYTES`; "xla" everywhere else.
    """
    window, channels = tuple(kernel_shape[:-2]), kernel_shape[-2]
    if backend != "cpu" or groups != 1 or math.prod(window) == 1:
        return "xla"
    pads = _explicit_padding(x_shape[1:-1], window, strides, dilation_rate, padding)
    out = _output_spatial(x_shape[1:-1], window, strides, dilation_rate, pads)
    if min(out) <= 0:
        return "xla"
    nbytes = x_shape[0] * math.prod(out) * math.prod(window) * channels * itemsize
    return "patches" if nbytes <= PATCHES_MAX_BYTES else "xla"


def conv_xla(x, kernel, strides, padding, dilation_rate, groups=1):
    """`conv` through `jax.lax.conv_general_dilated`."""
    pad = padding.upper() if isinstance(padding, str) else tuple(map(tuple, padding))
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=tuple(strides), padding=pad,
        rhs_dilation=tuple(dilation_rate), dimension_numbers=_dimension_numbers(x.ndim - 2),
        feature_group_count=groups,
    )


def patches(x, window, strides, padding, dilation_rate):
    """im2col: (batch, *out_spatial, prod(window) * in) windows of channels-last `x`.

    Feature index `(offset * in) + channel`, offsets in row-major window order, which is the
    order of a Keras kernel (*window, in, out) reshaped to (prod(window) * in, out). Built by
    one gather of whole channel rows (XLA:CPU copies contiguous rows; a concatenation of
    window slices costs several passes).
    """
    pads = _explicit_padding(x.shape[1:-1], window, strides, dilation_rate, padding)
    out = _output_spatial(x.shape[1:-1], window, strides, dilation_rate, pads)
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


def conv_patches(x, kernel, strides, padding, dilation_rate):
    """`conv` (groups=1) as im2col patches times the kernel in one matrix product.

    Gradients (`jax.custom_vjp`): kernel = patches^T @ grad, one matrix product over the
    patches kept from the forward pass; input = the transposed convolution of grad, by
    `jax.lax.conv_general_dilated`'s own transpose rule.
    """
    x_struct = jax.ShapeDtypeStruct(x.shape, x.dtype)
    return _conv_patches(x, kernel, tuple(strides), padding, tuple(dilation_rate), x_struct)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv_patches(x, kernel, strides, padding, dilation_rate, x_struct):
    return _conv_patches_fwd(x, kernel, strides, padding, dilation_rate, x_struct)[0]


def _conv_patches_fwd(x, kernel, strides, padding, dilation_rate, x_struct):
    cols = patches(x, kernel.shape[:-2], strides, padding, dilation_rate)
    flat = kernel.reshape(-1, kernel.shape[-1])
    y = jax.lax.dot_general(cols, flat, (((cols.ndim - 1,), (0,)), ((), ())))
    return y, (cols, kernel)


def _conv_patches_bwd(strides, padding, dilation_rate, x_struct, residuals, grad):
    cols, kernel = residuals
    rows = cols.reshape(-1, cols.shape[-1])
    grad_kernel = jax.lax.dot_general(rows, grad.reshape(-1, grad.shape[-1]),
                                      (((0,), (0,)), ((), ()))).reshape(kernel.shape)
    conv_of_x = functools.partial(conv_xla, kernel=kernel, strides=strides, padding=padding,
                                  dilation_rate=dilation_rate)
    grad_x, = jax.linear_transpose(conv_of_x, x_struct)(grad)
    return grad_x, grad_kernel


_conv_patches.defvjp(_conv_patches_fwd, _conv_patches_bwd)


def conv(x, kernel, strides, padding, dilation_rate, groups=1, lowering=None):
    """Convolve `x` (batch, *spatial, in) with `kernel` (*window, in // groups, out).

    Args:
        x: channels-last input, 1 to 3 spatial dimensions.
        kernel: Keras layout, `(*window, in // groups, out)`.
        strides, dilation_rate: tuples, one entry per spatial dimension.
        padding: "valid", "same" (XLA's arithmetic: output ceil(n / stride), the extra cell
            at the end) or explicit `((low, high), ...)` pairs.
        groups: `in` and `out` are split into `groups` groups convolved separately
            (output channels of group g are `g * out // groups ...`).
        lowering: "xla" or "patches" to force one; default: `select_conv_lowering` for
            `jax.default_backend()`.

    Returns:
        `(batch, *out_spatial, out)`, in the dtype of `x`.
    """
    _dimension_numbers(x.ndim - 2)  # checks the rank
    strides, dilation_rate = tuple(strides), tuple(dilation_rate)
    if not isinstance(padding, str):
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    if lowering is None:
        lowering = select_conv_lowering(jax.default_backend(), x.shape, kernel.shape, strides,
                                        padding, dilation_rate, groups, x.dtype.itemsize)
    if lowering not in LOWERINGS:
        raise ConfigurationError(
            f"conv: expected lowering None or one of {LOWERINGS}, received "
            f"{lowering!r}.")
    if lowering == "xla":
        return conv_xla(x, kernel, strides, padding, dilation_rate, groups)
    if groups != 1:
        raise ConfigurationError(
            f"conv: the 'patches' lowering needs groups=1, received "
            f"groups={groups}; use lowering='xla'.")
    return conv_patches(x, kernel, strides, padding, dilation_rate)
