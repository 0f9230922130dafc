"""Pure image kernels shared by the preprocessing layers: resizing (with Keras's crop / pad
to aspect ratio), the projective transform that rotation, zoom, translation, shear and
perspective all reduce to, and the affine matrix Keras composes them with.

Images are rank 4 here; `channels_last` says where the channel axis is.
"""
import math

import jax
import jax.numpy as jnp

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def to_last(images, channels_last):
    return images if channels_last else jnp.moveaxis(images, 1, -1)


def from_last(images, channels_last):
    return images if channels_last else jnp.moveaxis(images, -1, 1)


def aspect_crop_box(height, width, target_height, target_width):
    """(top, left, crop_height, crop_width) of the largest centred window of the target's
    aspect ratio (Keras's `crop_to_aspect_ratio` arithmetic)."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return (int(float(height - crop_height) / 2), int(float(width - crop_width) / 2),
            crop_height, crop_width)


def _pad_to_aspect(images, target_height, target_width, fill_value):
    _, height, width, _ = images.shape
    pad_height = max(height, int(float(width * target_height) / target_width))
    pad_width = max(width, int(float(height * target_width) / target_height))
    top = int(float(pad_height - height) / 2)
    left = int(float(pad_width - width) / 2)
    # Keras pads one side only: the height when it needs padding, else the width
    pads = ((0, 0), (top, top), (0, 0), (0, 0)) if top > 0 else (
        (0, 0), (0, 0), (left, left), (0, 0))
    return jnp.pad(images, pads, constant_values=jnp.asarray(fill_value, images.dtype))


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_value=0.0, channels_last=True):
    """`images` resized to `size` = (height, width) with `jax.image.resize`'s `interpolation`,
    after Keras's optional centred crop or symmetric pad to the target's aspect ratio."""
    x = to_last(images, channels_last)
    target_height, target_width = size
    if crop_to_aspect_ratio:
        top, left, crop_height, crop_width = aspect_crop_box(
            x.shape[1], x.shape[2], target_height, target_width)
        x = x[:, top:top + crop_height, left:left + crop_width, :]
    elif pad_to_aspect_ratio:
        x = _pad_to_aspect(x, target_height, target_width, fill_value)
    out = jax.image.resize(x, (x.shape[0], target_height, target_width, x.shape[3]),
                           method=interpolation, antialias=antialias)
    return from_last(out, channels_last)


def projective_transform(images, transforms, interpolation="bilinear", fill_mode="reflect",
                         fill_value=0.0, channels_last=True):
    """Each output pixel (x, y) of image i reads its input at
    ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, where
    `transforms[i]` = [a0, a1, a2, b0, b1, b2, c0, c1] (the TF/Keras convention); samples
    come from `jax.scipy.ndimage.map_coordinates` (order 0 or 1, Keras's fill modes)."""
    x = to_last(images, channels_last)
    height, width = x.shape[1], x.shape[2]
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
    rows, cols = jnp.meshgrid(jnp.arange(height, dtype=dtype), jnp.arange(width, dtype=dtype),
                              indexing="ij")
    t = jnp.asarray(transforms, dtype).reshape(-1, 8)[:, :, None, None]
    k = t[:, 6] * cols + t[:, 7] * rows + 1.0
    src_cols = (t[:, 0] * cols + t[:, 1] * rows + t[:, 2]) / k
    src_rows = (t[:, 3] * cols + t[:, 4] * rows + t[:, 5]) / k
    order = {"nearest": 0, "bilinear": 1}[interpolation]

    def channel(plane, r, c):
        return jax.scipy.ndimage.map_coordinates(plane, [r, c], order=order, mode=fill_mode,
                                                 cval=fill_value)

    per_image = jax.vmap(channel, in_axes=(2, None, None), out_axes=2)
    out = jax.vmap(per_image)(x.astype(dtype), src_rows, src_cols)
    return from_last(out, channels_last)


def affine_matrix(angle, translate_x, translate_y, scale, shear_x, shear_y, height, width,
                  center=(0.5, 0.5)):
    """[a0 .. c1] rows (batch, 8) of Keras's composition scale · shear · rotation about the
    centre, for angles and shears in degrees (Keras's `_compute_affine_matrix`)."""
    radians = math.pi / 180.0
    theta = angle * radians
    shx, shy = jnp.tan(shear_x * radians), jnp.tan(shear_y * radians)
    cx, cy = center[0] * (width - 1), center[1] * (height - 1)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    a0 = scale * (cos + shx * sin)
    a1 = scale * (-sin + shx * cos)
    b0 = scale * (shy * cos + sin)
    b1 = scale * (-shy * sin + cos)
    a2 = translate_x + cx - cx * a0 - cy * a1
    b2 = translate_y + cy - cx * b0 - cy * b1
    zeros = jnp.zeros_like(a0)
    return jnp.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
