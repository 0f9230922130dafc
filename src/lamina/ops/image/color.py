"""Keras's colour-space image ops: `rgb_to_grayscale`, `rgb_to_hsv`, `hsv_to_rgb` (3-D image
or 4-D batch; hue, saturation and value in [0, 1])."""
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.ops.nn.convolution import data_format_of
from lamina.ops.tensors import float_result, tensor


def _images(name, images, data_format, float_only=False):
    images = tensor(images)
    if images.ndim not in (3, 4):
        raise InputSpecError(f"lamina.ops.image.{name}: expected a 3-D image or a 4-D batch. "
                             f"Received shape {images.shape}.")
    if float_only and not jnp.issubdtype(images.dtype, jnp.floating):
        raise InputSpecError(f"lamina.ops.image.{name}: expected float images. Received "
                             f"{images.dtype}.")
    return images, -1 if data_format_of(data_format) == "channels_last" else -3


def rgb_to_grayscale(images, data_format=None):
    """Luma `0.2989 R + 0.5870 G + 0.1140 B`, keeping a channel axis of size 1."""
    images, axis = _images("rgb_to_grayscale", images, data_format)
    if images.shape[axis] == 1:
        return images
    weights = jnp.asarray([0.2989, 0.5870, 0.1140], float_result(images))
    gray = jnp.tensordot(images.astype(weights.dtype), weights, axes=(axis, -1))
    return jnp.expand_dims(gray, axis).astype(images.dtype)


def rgb_to_hsv(images, data_format=None):
    """RGB to hue, saturation, value."""
    images, axis = _images("rgb_to_hsv", images, data_format, float_only=True)
    images = jnp.where(jnp.abs(images) < jnp.finfo(images.dtype).eps, 0.0, images)
    red, green, blue = (jnp.take(images, i, axis=axis) for i in range(3))
    value = jnp.maximum(jnp.maximum(red, green), blue)
    spread = value - jnp.minimum(jnp.minimum(red, green), blue)
    saturation = jnp.where(value > 0, spread / jnp.where(value > 0, value, 1.0), 0.0)
    norm = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    hue = jnp.where(value == green, norm * (blue - red) + 2.0 / 6.0,
                    norm * (red - green) + 4.0 / 6.0)
    hue = jnp.where(value == red, norm * (green - blue), hue)
    hue = jnp.where(spread > 0, hue, 0.0) + (hue < 0.0).astype(hue.dtype)
    return jnp.stack([hue, saturation, value], axis=axis)


def hsv_to_rgb(images, data_format=None):
    """Hue, saturation, value to RGB."""
    images, axis = _images("hsv_to_rgb", images, data_format, float_only=True)
    hue, saturation, value = (jnp.take(images, i, axis=axis) for i in range(3))
    sector = jnp.mod(hue, 1.0) * 6.0
    red = jnp.clip(jnp.abs(sector - 3.0) - 1.0, 0.0, 1.0)
    green = jnp.clip(2.0 - jnp.abs(sector - 2.0), 0.0, 1.0)
    blue = jnp.clip(2.0 - jnp.abs(sector - 4.0), 0.0, 1.0)
    planes = [value * (1.0 - saturation + saturation * c) for c in (red, green, blue)]
    return jnp.stack(planes, axis=axis)
