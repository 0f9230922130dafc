"""Geometric augmentation: RandomFlip, and the affine layers RandomRotation, RandomZoom,
RandomTranslation and RandomShear, which build one matrix per image and share
`kernels.projective_transform`."""
import jax
import jax.numpy as jnp

from lamina.errors import AbstractMethodError
from lamina.layers.image_preprocessing import kernels
from lamina.layers.image_preprocessing.base import (
    AFFINE_INTERPOLATIONS,
    FILL_MODES,
    RandomImageLayer,
    check_choice,
    factor_range,
    fail,
    is_number,
    where,
)

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


class RandomFlip(RandomImageLayer):
    """When training, flips each image with probability 1/2.

    Args:
        mode: "horizontal" (left-right), "vertical" (up-down) or "horizontal_and_vertical"
            (default: one draw per image flips it both ways, as Keras).
        seed; data_format.

    Transformation: `{"flips": bool array (batch, 1, 1, 1)}`.
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = check_choice(self, "mode", mode, _FLIP_MODES)

    def draw(self, key, batch, images):
        return {"flips": jax.random.bernoulli(key, 0.5, (batch, 1, 1, 1))}

    def transform_batch(self, images, transformation):
        flips = jnp.asarray(transformation["flips"]).reshape(-1, 1, 1, 1)
        vertical_axis, horizontal_axis = self.spatial_axes()
        out = images
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            out = jnp.where(flips, jnp.flip(out, horizontal_axis), out)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            out = jnp.where(flips, jnp.flip(out, vertical_axis), out)
        return out

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(RandomImageLayer):
    """A random layer that maps each image through one affine matrix."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, FILL_MODES)
        self.interpolation = check_choice(self, "interpolation", interpolation,
                                          AFFINE_INTERPOLATIONS)
        if not is_number(fill_value):
            raise fail(self, f"expected `fill_value` to be a number, received {fill_value!r}.")
        self.fill_value = fill_value

    def matrices(self, transformation, height, width):
        """(batch, 8) transforms of `kernels.projective_transform` for a transformation."""
        raise AbstractMethodError(f"{where(self)} defines no `matrices`.")

    def transform_batch(self, images, transformation):
        height, width = self.image_size(images)
        return kernels.projective_transform(
            images, self.matrices(transformation, height, width), self.interpolation,
            self.fill_mode, self.fill_value, self.data_format == "channels_last")

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


def _as_given(factor):
    """A factor for the config: a number as is, a pair as a tuple (as a file's list loads)."""
    return tuple(factor) if isinstance(factor, list) else factor


def _symmetric(magnitude):
    return (-magnitude, magnitude)


def _uniform(key, shape, bounds):
    return jax.random.uniform(key, shape, minval=bounds[0], maxval=bounds[1])


class RandomRotation(_AffineLayer):
    """When training, rotates each image about its centre by a random angle.

    Args:
        factor: a fraction of a full turn: a number `f` draws from [-f, f] turns, a pair
            (low, high) from [low, high]; within [-1, 1].
        fill_mode: how points outside the image are filled: "reflect" (default), "wrap",
            "constant" or "nearest"; fill_value: the "constant" value.
        interpolation: "bilinear" (default) or "nearest"; seed; data_format.

    Transformation: `{"angle": (batch,) degrees}` (Keras's dict is accepted as is).
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor_range(self, factor)

    def draw(self, key, batch, images):
        return {"angle": _uniform(key, (batch,), (self.factor[0] * 360.0,
                                                  self.factor[1] * 360.0))}

    def matrices(self, transformation, height, width):
        angle = jnp.asarray(transformation["angle"], jnp.float32).reshape(-1)
        zeros = jnp.zeros_like(angle)
        return kernels.affine_matrix(angle, zeros, zeros, jnp.ones_like(angle), zeros, zeros,
                                     height, width)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_AffineLayer):
    """When training, zooms each image about its centre by a random factor.

    Args:
        height_factor: a number `f` draws vertical zooms from [-f, f], a pair (low, high)
            from [low, high], each in (-1, 1]; the image is scaled by `1 / (1 + zoom)`, so a
            positive zoom zooms out (as Keras).
        width_factor: the same horizontally; None (default) keeps the aspect ratio.
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation.

    Transformation: `{"height_zoom": (batch, 1), "width_zoom": (batch, 1)}`, each `1 + zoom`.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = _as_given(height_factor), _as_given(width_factor)
        self._height_range = factor_range(self, height_factor, "height_factor", open_low=True)
        self._width_range = (None if width_factor is None else factor_range(
            self, width_factor, "width_factor", open_low=True))

    def draw(self, key, batch, images):
        height_key, width_key = jax.random.split(key)
        height_zoom = 1.0 + _uniform(height_key, (batch, 1), self._height_range)
        width_zoom = (height_zoom if self._width_range is None
                      else 1.0 + _uniform(width_key, (batch, 1), self._width_range))
        return {"height_zoom": height_zoom, "width_zoom": width_zoom}

    def matrices(self, transformation, height, width):
        zy = jnp.asarray(transformation["height_zoom"], jnp.float32).reshape(-1)
        zx = jnp.asarray(transformation["width_zoom"], jnp.float32).reshape(-1)
        zeros = jnp.zeros_like(zx)
        return jnp.stack([zx, zeros, (width - 1.0) / 2.0 * (1.0 - zx), zeros, zy,
                          (height - 1.0) / 2.0 * (1.0 - zy), zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineLayer):
    """When training, shifts each image by a random fraction of its size.

    Args:
        height_factor, width_factor: a number `f` draws shifts from [-f, f] of the height
            (width), a pair (low, high) from [low, high]; each in [-1, 1]. A positive shift
            moves the content down (right).
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation.

    Transformation: `{"translations": (batch, 2)}`, (dx, dy) in pixels.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = _as_given(height_factor), _as_given(width_factor)
        self._height_range = factor_range(self, height_factor, "height_factor")
        self._width_range = factor_range(self, width_factor, "width_factor")

    def draw(self, key, batch, images):
        height, width = self.image_size(images)
        height_key, width_key = jax.random.split(key)
        dy = _uniform(height_key, (batch, 1), self._height_range) * height
        dx = _uniform(width_key, (batch, 1), self._width_range) * width
        return {"translations": jnp.concatenate([dx, dy], axis=1)}

    def matrices(self, transformation, height, width):
        shifts = jnp.asarray(transformation["translations"], jnp.float32).reshape(-1, 2)
        ones, zeros = jnp.ones_like(shifts[:, 0]), jnp.zeros_like(shifts[:, 0])
        return jnp.stack([ones, zeros, -shifts[:, 0], zeros, ones, -shifts[:, 1], zeros,
                          zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomShear(_AffineLayer):
    """When training, shears each image by random factors along x and y.

    Args:
        x_factor, y_factor: a number `f` draws shear factors from [-f, f], a pair (low, high)
            from [low, high], then a random sign (as Keras); values in [-1, 1] (Keras's
            configs store the drawn range, negative lower end included). Default 0.
        interpolation, fill_mode, fill_value, data_format, seed: as RandomRotation.

    Transformation: `{"shear_factor": (batch, 2)}`, (shear_x, shear_y).
    """

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.x_factor = factor_range(self, x_factor, "x_factor", single=_symmetric)
        self.y_factor = factor_range(self, y_factor, "y_factor", single=_symmetric)

    def draw(self, key, batch, images):
        sign_key, y_key, x_key = jax.random.split(key, 3)
        sign = jnp.where(jax.random.uniform(sign_key, (batch, 1)) > 0.5, -1.0, 1.0)
        shear_x = _uniform(x_key, (batch, 1), self.x_factor)
        shear_y = _uniform(y_key, (batch, 1), self.y_factor)
        return {"shear_factor": jnp.concatenate([shear_x, shear_y], axis=1) * sign}

    def matrices(self, transformation, height, width):
        shear = jnp.asarray(transformation["shear_factor"], jnp.float32).reshape(-1, 2)
        ones, zeros = jnp.ones_like(shear[:, 0]), jnp.zeros_like(shear[:, 0])
        return jnp.stack([ones, shear[:, 0], zeros, shear[:, 1], ones, zeros, zeros, zeros],
                         axis=1)

    def get_config(self):
        return {**super().get_config(), "x_factor": self.x_factor, "y_factor": self.y_factor}


LAYERS = (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomShear)
