"""Keras's image helpers on Pillow: `array_to_img`, `img_to_array`, `load_img`, `save_img`.

Pillow is an optional dependency (`pip install lamina[image]`); these functions import it
when called.
"""
import importlib
import io
import pathlib
import warnings

import numpy as np

from lamina import config
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def pil_image():
    """Pillow's `PIL.Image` module, or a ConfigurationError that says how to install it."""
    try:
        return importlib.import_module("PIL.Image")
    except ImportError as err:
        raise ConfigurationError(
            "lamina's image utilities need Pillow: pip install 'lamina[image]' (or pillow)."
        ) from err


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A rank-3 array (height, width, channels; 1, 3 or 4 channels) as a PIL image. With
    `scale`, values are shifted and stretched to 0-255 first."""
    data_format = config.standardize_data_format(data_format)
    image = pil_image()
    x = np.asarray(x, dtype=dtype or config.floatx())
    if x.ndim != 3:
        raise InputSpecError(
            f"array_to_img: expected a rank-3 image array, received shape {x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x /= peak
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:  # 32-bit grayscale
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise InputSpecError(
        f"array_to_img: expected 1, 3 or 4 channels, received {channels} (shape {x.shape}).")


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or array) as a float array of rank 3, channels last by default."""
    data_format = config.standardize_data_format(data_format)
    x = np.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    if x.ndim == 2:
        return x[None] if data_format == "channels_first" else x[:, :, None]
    raise InputSpecError(f"img_to_array: unsupported image shape {x.shape}.")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an image array to `path`; the format comes from the suffix unless given. An
    RGBA image saved as JPEG is converted to RGB with a warning."""
    data_format = config.standardize_data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def _open(path):
    image = pil_image()
    if isinstance(path, io.BytesIO):
        return image.open(path)
    if isinstance(path, (pathlib.Path, bytes, str)):
        with open(path, "rb") as f:
            return image.open(io.BytesIO(f.read()))
    raise ArgumentTypeError(
        f"load_img: expected a path or io.BytesIO, received {type(path).__name__}.")


def _convert(img, color_mode):
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    if color_mode in ("rgb", "rgba"):
        mode = color_mode.upper()
        return img if img.mode == mode else img.convert(mode)
    raise ConfigurationError(
        f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', received {color_mode!r}.")


def _crop_box(size, target):
    """The centred box of `size` (width, height) with `target`'s aspect ratio."""
    (width, height), (target_width, target_height) = size, target
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return [left, top, left + crop_width, top + crop_height]


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Read an image file as a PIL image, converted to `color_mode` and, with `target_size`
    `(height, width)`, resized (first cropped to the target's aspect ratio with
    `keep_aspect_ratio`)."""
    img = _convert(_open(path), color_mode)
    if target_size is None:
        return img
    size = (target_size[1], target_size[0])
    if img.size == size:
        return img
    if interpolation not in INTERPOLATIONS:
        raise ConfigurationError(
            f"load_img: unknown interpolation {interpolation!r}; expected one of "
            f"{', '.join(INTERPOLATIONS)}.")
    resample = getattr(pil_image().Resampling, interpolation.upper())
    box = _crop_box(img.size, size) if keep_aspect_ratio else None
    return img.resize(size, resample, box=box)
