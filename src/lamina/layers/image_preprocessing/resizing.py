"""Resizing and cropping: Resizing, CenterCrop, RandomCrop."""
import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing import kernels
from lamina.layers.image_preprocessing.base import (
    ImageLayer,
    RandomImageLayer,
    check_choice,
    check_size,
    fail,
    is_number,
    saturate_cast,
)


class Resizing(ImageLayer):
    """Resizes images to `(height, width)`.

    Args:
        height, width: the output size.
        interpolation: "bilinear" (default), "nearest", "bicubic", "lanczos3" or "lanczos5".
        crop_to_aspect_ratio: first crop the largest centred window of the target's aspect
            ratio, so nothing is stretched.
        pad_to_aspect_ratio: first pad symmetrically with `fill_value` to the target's aspect
            ratio (exclusive with `crop_to_aspect_ratio`).
        fill_mode: "constant" (the only mode, as Keras), fill_value: the padding value.
        antialias: filter when downsampling.
        data_format: "channels_last" (default) or "channels_first".

    Integer images come back in their own dtype, rounded and clipped (as Keras).
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height = check_size(self, "height", height)
        self.width = check_size(self, "width", width)
        self.interpolation = check_choice(self, "interpolation", interpolation,
                                          kernels.RESIZE_INTERPOLATIONS)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise fail(self, "expected at most one of `crop_to_aspect_ratio` and "
                             "`pad_to_aspect_ratio` to be True, received both.")
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, ("constant",))
        if not is_number(fill_value):
            raise fail(self, f"expected `fill_value` to be a number, received {fill_value!r}.")
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def transform_images(self, images, transformation=None, training=True):
        images = jnp.asarray(images)
        self.check_input(images)
        batch = images if images.ndim == 4 else images[None]
        floats = (batch.astype(self.compute_dtype) if jnp.issubdtype(batch.dtype, jnp.integer)
                  or batch.dtype == jnp.bool_ else batch)
        out = kernels.resize(
            floats, (self.height, self.width), self.interpolation, self.antialias,
            self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value,
            self.data_format == "channels_last")
        out = saturate_cast(out, images.dtype) if floats.dtype != batch.dtype else out
        return out if images.ndim == 4 else out[0]

    def call(self, inputs):
        return self.transform_images(inputs)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


def _crop(images, top, left, height, width, channels_last):
    """The window of `images` (rank 4) at (top, left); the offsets may be traced."""
    if channels_last:
        start, size = (0, top, left, 0), (images.shape[0], height, width, images.shape[3])
    else:
        start, size = (0, 0, top, left), (images.shape[0], images.shape[1], height, width)
    return jax.lax.dynamic_slice(images, start, size)


class CenterCrop(ImageLayer):
    """Crops the central `(height, width)` window of each image. An image smaller than the
    target in either side is instead cropped to the target's aspect ratio and resized
    (bilinear), as Keras does.

    Args: height, width; data_format.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height = check_size(self, "height", height)
        self.width = check_size(self, "width", width)

    def transform_batch(self, images, transformation):
        height, width = self.image_size(images)
        last = self.data_format == "channels_last"
        if height >= self.height and width >= self.width:
            return _crop(images, (height - self.height) // 2, (width - self.width) // 2,
                         self.height, self.width, last)
        return kernels.resize(images, (self.height, self.width), crop_to_aspect_ratio=True,
                              channels_last=last)

    def call(self, inputs):
        return self.transform_images(inputs, transformation={})

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomCrop(RandomImageLayer):
    """When training, crops a random `(height, width)` window (one offset for the batch, as
    Keras). At inference, and for images not larger than the target in both sides, it crops
    the largest centred window of the target's aspect ratio and resizes it (bilinear), so
    the output size never depends on `training`.

    Args: height, width; seed; data_format.

    Transformation: `(top, left)`, the offsets of the window.
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = check_size(self, "height", height)
        self.width = check_size(self, "width", width)

    def draw(self, key, batch, images):
        height, width = self.image_size(images)
        if height > self.height and width > self.width:
            top_key, left_key = jax.random.split(key)
            return (jax.random.randint(top_key, (), 0, height - self.height + 1),
                    jax.random.randint(left_key, (), 0, width - self.width + 1))
        top, left, _, _ = kernels.aspect_crop_box(height, width, self.height, self.width)
        return (top, left)

    def transform_batch(self, images, transformation):
        last = self.data_format == "channels_last"
        height, width = self.image_size(images)
        top, left = transformation
        crop_height, crop_width = min(self.height, height), min(self.width, width)
        out = _crop(images, top, left, crop_height, crop_width, last)
        if (crop_height, crop_width) != (self.height, self.width):
            out = kernels.resize(out, (self.height, self.width), channels_last=last)
        return out

    def call(self, inputs, training=False):
        if training:
            return super().call(inputs, training=True)
        inputs = jnp.asarray(inputs)
        self.check_input(inputs)
        batch = (inputs if inputs.ndim == 4 else inputs[None]).astype(self.compute_dtype)
        out = kernels.resize(batch, (self.height, self.width), crop_to_aspect_ratio=True,
                             channels_last=self.data_format == "channels_last")
        return out if inputs.ndim == 4 else out[0]

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


LAYERS = (Resizing, CenterCrop, RandomCrop)
