"""Keras's image cropping, padding and patch extraction: `pad_images`, `crop_images`,
`extract_patches`, `extract_patches_3d`."""
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.ops.nn.convolution import conv, data_format_of
from lamina.ops.tensors import tensor


def _spatial(name, images, data_format):
    images = tensor(images)
    if images.ndim not in (3, 4):
        raise InputSpecError(f"lamina.ops.image.{name}: expected a 3-D image or a 4-D batch. "
                             f"Received shape {images.shape}.")
    last = data_format_of(data_format) == "channels_last"
    height_axis = images.ndim - 3 if last else images.ndim - 2
    return images, height_axis


def _resolve(name, size, before, after, target):
    """The two margins of one axis, from any two of (before, after, target)."""
    if sum(v is None for v in (before, after, target)) != 1:
        raise ConfigurationError(f"lamina.ops.image.{name}: give exactly two of the two margins "
                                 f"and the target size per axis. Received {before}, {after}, "
                                 f"{target}.")
    before = target - after - size if before is None else before
    after = target - before - size if after is None else after
    if before < 0 or after < 0:
        raise ConfigurationError(f"lamina.ops.image.{name}: the margins come out negative "
                                 f"({before}, {after}) for size {size} and target {target}.")
    return before, after


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    """Zero-pad images to a size (give two of top / bottom / target_height, and likewise for
    the width)."""
    images, axis = _spatial("pad_images", images, data_format)
    pads = [(0, 0)] * images.ndim
    pads[axis] = _resolve("pad_images", images.shape[axis], top_padding, bottom_padding,
                          target_height)
    pads[axis + 1] = _resolve("pad_images", images.shape[axis + 1], left_padding, right_padding,
                              target_width)
    return jnp.pad(images, pads)


def _crop(size, before, after, target):
    """The kept slice of one axis, from any two of (before, after, target)."""
    if sum(v is None for v in (before, after, target)) != 1:
        raise ConfigurationError("lamina.ops.image.crop_images: give exactly two of the two "
                                 "croppings and the target size per axis. Received "
                                 f"{before}, {after}, {target}.")
    before = size - target - after if before is None else before
    target = size - after - before if target is None else target
    if before < 0 or target < 0 or before + target > size:
        raise ConfigurationError(f"lamina.ops.image.crop_images: cropping {before} and keeping "
                                 f"{target} does not fit an axis of size {size}.")
    return slice(before, before + target)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """Crop images (give two of top / bottom / target_height, and likewise for the width)."""
    images, axis = _spatial("crop_images", images, data_format)
    index = [slice(None)] * images.ndim
    index[axis] = _crop(images.shape[axis], top_cropping, bottom_cropping, target_height)
    index[axis + 1] = _crop(images.shape[axis + 1], left_cropping, right_cropping, target_width)
    return images[tuple(index)]


def _patches(images, size, strides, dilation_rate, padding, data_format, rank):
    size = (size,) * rank if isinstance(size, int) else tuple(size)
    last = data_format_of(data_format) == "channels_last"
    channels = images.shape[-1] if last else images.shape[-rank - 1]
    depth = channels * int(jnp.prod(jnp.asarray(size)))
    kernel = jnp.eye(depth, dtype=images.dtype).reshape(*size, channels, depth)
    single = images.ndim == rank + 1
    out = conv(images[None] if single else images, kernel, strides or size, padding,
               data_format, dilation_rate)
    return out[0] if single else out


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """Patches of `size` as channels: (..., out_h, out_w, size_h * size_w * channels); a
    3-tuple `size` extracts volume patches (`extract_patches_3d`)."""
    images = tensor(images)
    if not isinstance(size, int) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    return _patches(images, size, strides, dilation_rate, padding, data_format, 2)


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                       data_format=None):
    """Volume patches of `size` as channels: (..., out_d, out_h, out_w, d * h * w * channels)."""
    return _patches(tensor(volumes), size, strides, dilation_rate, padding, data_format, 3)
