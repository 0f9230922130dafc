"""The base of the image preprocessing layers: data formats, rank checks, argument checks,
and the protocol of the random layers.

Every random layer splits its work in two, as Keras's do:
`get_random_transformation(images, training=True, seed=None)` draws the parameters of one
batch (a dict of arrays, one row per image) and `transform_images(images, transformation,
training=True)` applies given parameters. `call` chains the two when `training` is true and is
the identity (cast to the compute dtype) otherwise. Tests and data pipelines can therefore feed
chosen parameters, including the dicts Keras's layers return.
"""
import numbers

import jax
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import AbstractMethodError, ConfigurationError, InputSpecError
from lamina.random import SeedGenerator

DATA_FORMATS = ("channels_last", "channels_first")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")


def where(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def fail(layer, message):
    """The ConfigurationError for a bad argument of `layer`."""
    return ConfigurationError(f"{where(layer)}: {message}")


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_choice(layer, argument, value, choices):
    if value not in choices:
        raise fail(layer, f"expected `{argument}` to be one of {', '.join(map(repr, choices))}, "
                          f"received {value!r}.")
    return value


def check_size(layer, argument, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise fail(layer, f"expected `{argument}` to be a positive integer, received {value!r}.")
    return int(value)


def check_value_range(layer, values):
    """`value_range` as a sorted (low, high) tuple of numbers."""
    if (not isinstance(values, (list, tuple)) or len(values) != 2
            or not all(is_number(v) for v in values) or values[0] == values[1]):
        raise fail(layer, "expected `value_range` to be two different numbers (low, high), "
                          f"received {values!r}.")
    low, high = sorted(values)
    return (low, high)


def factor_range(layer, factor, argument="factor", bounds=(-1.0, 1.0), single=None,
                 open_low=False):
    """A factor as (lower, upper) inside `bounds`: a pair is sorted, a number `f` becomes
    `single(abs(f))` (by default (-|f|, |f|) clipped to the bounds)."""
    low, high = bounds
    inside = ((lambda v: low < v <= high) if open_low else (lambda v: low <= v <= high))
    interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
    message = (f"expected `{argument}` to be a number or a pair of numbers in {interval}, "
               f"received {factor!r}.")
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2 or not all(is_number(v) and inside(v) for v in factor):
            raise fail(layer, message)
        lower, upper = sorted(factor)
        return (lower, upper)
    if not is_number(factor) or not inside(factor):
        raise fail(layer, message)
    if single is not None:
        return single(abs(factor))
    return (max(-abs(factor), low), abs(factor))


def saturate_cast(values, dtype):
    """Round and clip float results into an integer dtype (Keras's `_saturate_cast`)."""
    if not jnp.issubdtype(dtype, jnp.integer):
        return values.astype(dtype)
    info = jnp.iinfo(dtype)
    return jnp.clip(jnp.round(values), info.min, info.max).astype(dtype)


class ImageLayer(Layer):
    """A weightless layer on images of rank 4 `(batch, h, w, c)` (or rank 3, one image)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_choice(
            self, "data_format", "channels_last" if data_format is None else data_format,
            DATA_FORMATS)
        self.built = True

    def check_input(self, inputs):
        if inputs.ndim not in (3, 4):
            layout = ("(batch, height, width, channels)" if self.data_format == "channels_last"
                      else "(batch, channels, height, width)")
            raise InputSpecError(f"{where(self)}: expected images of rank 4 {layout} or rank 3 "
                                 f"(one image), received shape {tuple(inputs.shape)}.")

    def image_size(self, images):
        """(height, width) of `images` (rank 3 or 4)."""
        if self.data_format == "channels_last":
            return images.shape[-3], images.shape[-2]
        return images.shape[-2], images.shape[-1]

    def spatial_axes(self, ndim=4):
        return (ndim - 3, ndim - 2) if self.data_format == "channels_last" else (ndim - 2, ndim - 1)

    def transform_batch(self, images, transformation):
        """The transform of a rank-4 batch; subclasses define it."""
        raise AbstractMethodError(f"{where(self)} defines no `transform_batch`.")

    def transform_images(self, images, transformation=None, training=True):
        """`images` (rank 3 or 4) transformed with `transformation`, in the compute dtype."""
        images = jnp.asarray(images).astype(self.compute_dtype)
        self.check_input(images)
        if not training or transformation is None:
            return images
        if images.ndim == 3:
            return self.transform_batch(images[None], transformation)[0]
        return self.transform_batch(images, transformation)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class RandomImageLayer(ImageLayer):
    """An image layer whose transform is drawn per call from its seed variable, only when
    training; the identity (cast to the compute dtype) at inference."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed, owner=self)

    def draw(self, key, batch, images):
        """The transformation dict of a batch of `batch` images, from PRNG key `key`."""
        raise AbstractMethodError(f"{where(self)} defines no `draw`.")

    def get_random_transformation(self, images, training=True, seed=None):
        """Random parameters for `images` (None when not training). `seed` (an int or a JAX
        key) replaces the layer's own seed state for this one draw."""
        if not training:
            return None
        images = jnp.asarray(images)
        self.check_input(images)
        if seed is None:
            key = self.seed_generator.next()
        elif is_number(seed):
            key = jax.random.PRNGKey(int(seed))
        else:
            key = jnp.asarray(seed)
        batch = images.shape[0] if images.ndim == 4 else 1
        return self.draw(key, batch, images)

    def call(self, inputs, training=False):
        transformation = self.get_random_transformation(inputs, training=training)
        return self.transform_images(inputs, transformation, training=training)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
