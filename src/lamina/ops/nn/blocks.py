"""Keras's block rearrangements: `unfold` / `fold` (im2col and its adjoint, on NCHW images,
as PyTorch's) and `depth_to_space` / `space_to_depth` (pixel shuffle)."""
import jax
import jax.numpy as jnp

from lamina.ops.nn.convolution import data_format_of
from lamina.ops.tensors import tensor


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an (N, C, H, W) image as (N, C * kH * kW, L), L blocks."""
    x = tensor(x)
    pad_h, pad_w = _pair(padding)
    x = jnp.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    blocks = jax.lax.conv_general_dilated_patches(
        x, filter_shape=_pair(kernel_size), window_strides=_pair(stride), padding="VALID",
        rhs_dilation=_pair(dilation), dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return blocks.reshape(*blocks.shape[:2], -1)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum (N, C * kH * kW, L) blocks back into an (N, C, *output_size) image: the adjoint
    of `unfold`, so overlapping blocks add up."""
    x = tensor(x)
    kernel = _pair(kernel_size)
    image = jax.ShapeDtypeStruct((x.shape[0], x.shape[1] // (kernel[0] * kernel[1]),
                                  *_pair(output_size)), x.dtype)
    adjoint = jax.linear_transpose(
        lambda y: unfold(y, kernel, dilation, padding, stride), image)
    return adjoint(x)[0]


def depth_to_space(x, block_size, data_format="channels_last"):
    """Move channel blocks into `block_size` x `block_size` spatial blocks (pixel shuffle)."""
    x, b = tensor(x), block_size
    if data_format_of(data_format) == "channels_last":
        n, h, w, c = x.shape
        x = x.reshape(n, h, w, b, b, c // b**2).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h * b, w * b, c // b**2)
    n, c, h, w = x.shape
    x = x.reshape(n, c // b**2, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // b**2, h * b, w * b)


def space_to_depth(x, block_size, data_format="channels_last"):
    """Move `block_size` x `block_size` spatial blocks into channels (the inverse of
    `depth_to_space`)."""
    x, b = tensor(x), block_size
    if data_format_of(data_format) == "channels_last":
        n, h, w, c = x.shape
        x = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h // b, w // b, c * b**2)
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * b**2, h // b, w // b)
