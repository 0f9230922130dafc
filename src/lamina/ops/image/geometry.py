"""Keras's geometric image ops: `resize`, `affine_transform`, `perspective_transform`,
`map_coordinates`, `scale_and_translate`, `elastic_transform` (over `jax.image` and
`jax.scipy.ndimage.map_coordinates`)."""
import jax
import jax.numpy as jnp

from lamina.core import rng as random
from lamina.errors import ConfigurationError, InputSpecError
from lamina.ops.image.filters import gaussian_blur
from lamina.ops.nn.convolution import data_format_of
from lamina.ops.tensors import tensor

RESIZE_METHODS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")
ORDERS = {"nearest": 0, "bilinear": 1}
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _check(name, value, allowed, what):
    if value not in allowed:
        raise ConfigurationError(f"lamina.ops.image.{name}: {what} must be one of "
                                 f"{tuple(allowed)}. Received: {value!r}.")


def _batch_last(name, images, data_format):
    """(a channels-last 4-D batch, undo) for a 3-D image or 4-D batch in `data_format`."""
    images = tensor(images)
    if images.ndim not in (3, 4):
        raise InputSpecError(f"lamina.ops.image.{name}: expected a 3-D image or a 4-D batch. "
                             f"Received shape {images.shape}.")
    single, first = images.ndim == 3, data_format_of(data_format) == "channels_first"
    x = images[None] if single else images
    x = x.transpose(0, 2, 3, 1) if first else x

    def undo(y):
        y = y.transpose(0, 3, 1, 2) if first else y
        return y[0] if single else y

    return x, undo


def _aspect_box(height, width, target_h, target_w, grow):
    """(box height, box width) of the target aspect ratio inside (crop) or around (pad) the
    image, as Keras computes it."""
    box_h, box_w = int(width * target_h / target_w), int(height * target_w / target_h)
    if grow:
        return max(height, box_h), max(width, box_w)
    return max(min(height, box_h), 1), max(min(width, box_w), 1)


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resize images to `size` (height, width), optionally first cropping or padding them to
    the target aspect ratio (centred)."""
    _check("resize", interpolation, RESIZE_METHODS, "interpolation")
    _check("resize", fill_mode, ("constant",), "fill_mode")
    if crop_to_aspect_ratio and pad_to_aspect_ratio or len(size) != 2:
        raise ConfigurationError("lamina.ops.image.resize: size must be (height, width) and at "
                                 "most one of crop_to_aspect_ratio / pad_to_aspect_ratio set.")
    x, undo = _batch_last("resize", images, data_format)
    height, width = x.shape[1:3]
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        box_h, box_w = _aspect_box(height, width, *size, grow=pad_to_aspect_ratio)
        top, left = abs(box_h - height) // 2, abs(box_w - width) // 2
        if crop_to_aspect_ratio:
            x = x[:, top:top + box_h, left:left + box_w]
        elif top > 0:
            x = jnp.pad(x, ((0, 0), (top, top), (0, 0), (0, 0)), constant_values=fill_value)
        elif left > 0:
            x = jnp.pad(x, ((0, 0), (0, 0), (left, left), (0, 0)), constant_values=fill_value)
    out = jax.image.resize(x, (x.shape[0], *size, x.shape[3]), method=interpolation,
                           antialias=antialias)
    return undo(out)


def _sample(image, coordinates, order, fill_mode, fill_value):
    """One channels-last image sampled at (2, ...) row/column coordinates, per channel."""
    def channel(plane):
        return jax.scipy.ndimage.map_coordinates(plane, list(coordinates), order=order,
                                                 mode=fill_mode, cval=fill_value)
    return jax.vmap(channel, in_axes=-1, out_axes=-1)(image)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """Apply transforms `[a0, a1, a2, b0, b1, b2, c0, c1]` (one, or one per image): output
    pixel (x, y) samples the input at `(a0 x + a1 y + a2, b0 x + b1 y + b2)`, as Keras does
    with `c0 = c1 = 0` (an affine map; lamina does not apply c0, c1, see docs/ops.md)."""
    _check("affine_transform", interpolation, ORDERS, "interpolation")
    _check("affine_transform", fill_mode, FILL_MODES, "fill_mode")
    x, undo = _batch_last("affine_transform", images, data_format)
    transform = tensor(transform)
    transform = jnp.broadcast_to(transform, (x.shape[0], 8)) if transform.ndim == 1 else transform
    rows, cols = jnp.meshgrid(jnp.arange(x.shape[1]), jnp.arange(x.shape[2]), indexing="ij")

    def coordinates(t):
        return jnp.stack([t[4] * rows + t[3] * cols + t[5], t[1] * rows + t[0] * cols + t[2]])

    sample = jax.vmap(lambda image, t: _sample(image, coordinates(t), ORDERS[interpolation],
                                               fill_mode, fill_value))
    return undo(sample(x, transform))


def _homography(start, end):
    """The 8 projective coefficients mapping `end` corner points onto `start` ones."""
    sx, sy, ex, ey = start[..., 0], start[..., 1], end[..., 0], end[..., 1]
    zeros, ones = jnp.zeros_like(ex), jnp.ones_like(ex)
    x_rows = jnp.stack([ex, ey, ones, zeros, zeros, zeros, -sx * ex, -sx * ey], axis=-1)
    y_rows = jnp.stack([zeros, zeros, zeros, ex, ey, ones, -sy * ex, -sy * ey], axis=-1)
    system = jnp.concatenate([x_rows, y_rows], axis=1)
    return jnp.linalg.solve(system, jnp.concatenate([sx, sy], axis=-1)[..., None])[..., 0]


def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """Warp images so the four `start_points` (x, y) land on `end_points`."""
    _check("perspective_transform", interpolation, ORDERS, "interpolation")
    x, undo = _batch_last("perspective_transform", images, data_format)
    start, end = tensor(start_points, "float32"), tensor(end_points, "float32")
    if start.shape[-2:] != (4, 2) or start.shape != end.shape:
        raise InputSpecError("lamina.ops.image.perspective_transform: start_points and "
                             "end_points must both have shape (4, 2) or (batch, 4, 2). Received "
                             f"{start.shape} and {end.shape}.")
    start, end = (p[None] if p.ndim == 2 else p for p in (start, end))
    cols, rows = jnp.meshgrid(jnp.arange(x.shape[2]), jnp.arange(x.shape[1]), indexing="xy")

    def coordinates(t):
        k = t[6] * cols + t[7] * rows + 1.0
        return jnp.stack([(t[3] * cols + t[4] * rows + t[5]) / k,
                          (t[0] * cols + t[1] * rows + t[2]) / k])

    sample = jax.vmap(lambda image, t: _sample(image, coordinates(t), ORDERS[interpolation],
                                               "constant", fill_value))
    return undo(sample(x, _homography(start, end)))


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Sample `inputs` at `coordinates` (one row per input axis) with spline `order` 0 or 1."""
    inputs, coordinates = tensor(inputs), tensor(coordinates)
    if coordinates.ndim < 2 or coordinates.shape[0] != inputs.ndim:
        raise InputSpecError("lamina.ops.image.map_coordinates: coordinates must have one row "
                             f"per input axis ({inputs.ndim}). Received {coordinates.shape}.")
    _check("map_coordinates", fill_mode, FILL_MODES, "fill_mode")
    _check("map_coordinates", order, (0, 1), "order")
    return jax.scipy.ndimage.map_coordinates(inputs, list(coordinates), order, fill_mode,
                                             fill_value)


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method,
                        antialias=True):
    """`jax.image.scale_and_translate`: resample `spatial_dims` by `scale` and `translation`."""
    _check("scale_and_translate", method, ("linear", "bilinear", "trilinear", "cubic", "bicubic",
                                           "tricubic", "lanczos3", "lanczos5"), "method")
    return jax.image.scale_and_translate(tensor(images), output_shape, spatial_dims,
                                         tensor(scale), tensor(translation), method, antialias)


def _key(seed):
    """A raw jax key from an int seed (Keras's `[seed, 0]`), a generator's `next()`, or the
    lamina stream for None."""
    if seed is None:
        seed = random.next_seed()
    if isinstance(seed, int):
        return jnp.asarray([seed & 0xFFFFFFFF, 0], jnp.uint32)
    return seed.next()


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear",
                      fill_mode="reflect", fill_value=0.0, seed=None, data_format=None):
    """Displace pixels by a Gaussian-smoothed random field scaled by `alpha` (Keras's
    algorithm: one field, drawn from `seed`, moves both axes)."""
    _check("elastic_transform", interpolation, ORDERS, "interpolation")
    _check("elastic_transform", fill_mode, FILL_MODES, "fill_mode")
    x, undo = _batch_last("elastic_transform", images, data_format)
    batch, height, width, _ = x.shape
    size = int(6 * sigma) | 1
    field = jax.random.normal(_key(seed), (batch, height, width), x.dtype) * sigma
    field = gaussian_blur(field[..., None], (size, size), (sigma, sigma))[..., 0]
    cols, rows = jnp.meshgrid(jnp.arange(width), jnp.arange(height))
    moved = jnp.stack([rows + alpha * field, cols + alpha * field], axis=1)
    sample = jax.vmap(lambda image, c: _sample(image, c, ORDERS[interpolation], fill_mode,
                                               fill_value))
    return undo(sample(x, moved).astype(x.dtype))
