"""Hue and saturation: RandomHue, RandomSaturation, and RandomColorJitter (brightness,
contrast, saturation, hue in Keras's order). RGB <-> HSV follows dm_pix's formulas, as
Keras's JAX backend; images need 3 channels."""
import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing.base import (
    RandomImageLayer,
    check_value_range,
    factor_range,
    fail,
)
from lamina.layers.image_preprocessing.color import RandomBrightness, RandomContrast
from lamina.layers.image_preprocessing.tone import rescale

_UNIT = (0.0, 1.0)


def rgb_to_hsv(images, axis):
    """Hue, saturation and value in [0, 1] (value in the images' units) along `axis`."""
    eps = jnp.finfo(images.dtype).eps
    images = jnp.where(jnp.abs(images) < eps, 0.0, images)
    r, g, b = (jnp.take(images, i, axis=axis) for i in range(3))
    value = jnp.maximum(jnp.maximum(r, g), b)
    spread = value - jnp.minimum(jnp.minimum(r, g), b)
    saturation = jnp.where(value > 0, spread / jnp.where(value > 0, value, 1.0), 0.0)
    norm = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    hue = jnp.where(value == g, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0)
    hue = jnp.where(value == r, norm * (g - b), hue)
    hue = jnp.where(spread > 0, hue, 0.0) + (hue < 0.0).astype(hue.dtype)
    return jnp.stack([hue, saturation, value], axis=axis)


def hsv_to_rgb(images, axis):
    hue, saturation, value = (jnp.take(images, i, axis=axis) for i in range(3))
    dh = jnp.mod(hue, 1.0) * 6.0
    weights = (jnp.clip(jnp.abs(dh - 3.0) - 1.0, 0.0, 1.0),
               jnp.clip(2.0 - jnp.abs(dh - 2.0), 0.0, 1.0),
               jnp.clip(2.0 - jnp.abs(dh - 4.0), 0.0, 1.0))
    return jnp.stack([value * (1.0 - saturation + saturation * w) for w in weights], axis=axis)


class _HSVLayer(RandomImageLayer):
    _BOUNDS = _UNIT

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, bounds=self._BOUNDS, single=lambda f: (0.0, f))
        self.value_range = check_value_range(self, value_range)

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def check_input(self, inputs):
        super().check_input(inputs)
        if inputs.shape[-1 if self.data_format == "channels_last" else -3] != 3:
            raise fail(self, f"expected RGB images (3 channels), received shape "
                             f"{tuple(inputs.shape)}.")

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomHue(_HSVLayer):
    """When training, rotates each image's hue by a random amount.

    Args:
        factor: the shift is up to half a turn times a draw from [0, f] for a number `f`
            (from [low, high] for a pair), with a random sign; in [0, 1].
        value_range (default (0, 255)); data_format; seed.

    Transformation: `{"factor": (batch,)}`, the hue shift in turns.
    """

    def draw(self, key, batch, images):
        sign_key, factor_key = jax.random.split(key)
        sign = jnp.where(jax.random.uniform(sign_key, (batch,)) > 0.5, -1.0, 1.0)
        factor = jax.random.uniform(factor_key, (batch,), minval=self.factor[0],
                                    maxval=self.factor[1])
        return {"factor": sign * factor * 0.5}

    def transform_batch(self, images, transformation):
        axis = self.channel_axis
        hsv = rgb_to_hsv(rescale(images, self.value_range, _UNIT), axis)
        shift = jnp.asarray(transformation["factor"], images.dtype).reshape(-1, 1, 1)
        hue = jnp.take(hsv, 0, axis=axis) + shift
        hue = jnp.where(hue > 1.0, hue - 1.0, hue)
        hue = jnp.where(hue < 0.0, hue + 1.0, hue)
        hsv = jnp.stack([hue, jnp.take(hsv, 1, axis=axis), jnp.take(hsv, 2, axis=axis)], axis)
        return rescale(jnp.clip(hsv_to_rgb(hsv, axis), 0.0, 1.0), _UNIT, self.value_range)


class RandomSaturation(_HSVLayer):
    """When training, scales each image's saturation by `f / (1 - f)` for a random `f`:
    0 makes it grey, 0.5 leaves it, 1 saturates it fully.

    Args:
        factor: `f` is drawn from [0, x] for a number `x` in [0, 1], from [low, high] for a
            pair in [-1, 1] (a negative `f` greys the image, as at 0). Keras 3.15 draws from
            [-x, x] for a number (so its files store such pairs) and clips saturation to
            `value_range`; lamina follows Keras's documentation: [0, x], clipped to [0, 1].
        value_range (default (0, 255)); data_format; seed.

    Transformation: `{"factor": (batch,)}`, the saturation multiplier.
    """

    _BOUNDS = (-1.0, 1.0)

    def draw(self, key, batch, images):
        f = jax.random.uniform(key, (batch,), minval=self.factor[0], maxval=self.factor[1])
        return {"factor": f / (1.0 - f + 1e-7)}

    def transform_batch(self, images, transformation):
        axis = self.channel_axis
        hsv = rgb_to_hsv(images, axis)
        scale = jnp.asarray(transformation["factor"], images.dtype).reshape(-1, 1, 1)
        saturation = jnp.clip(jnp.take(hsv, 1, axis=axis) * scale, 0.0, 1.0)
        hsv = jnp.stack([jnp.take(hsv, 0, axis=axis), saturation, jnp.take(hsv, 2, axis=axis)],
                        axis)
        return hsv_to_rgb(hsv, axis)


class RandomColorJitter(RandomImageLayer):
    """When training, applies RandomBrightness, RandomContrast, RandomSaturation and
    RandomHue in this order, each only when its factor is given (None: skipped).

    Args: value_range (default (0, 255)); brightness_factor, contrast_factor,
        saturation_factor, hue_factor: each as its layer's `factor`; seed; data_format.

    Transformation: `{"brightness": ..., "contrast": ..., "saturation": ..., "hue": ...}`,
    each the transformation of that step (only the steps that run).
    """

    _STEPS = (("brightness", RandomBrightness), ("contrast", RandomContrast),
              ("saturation", RandomSaturation), ("hue", RandomHue))

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = check_value_range(self, value_range)
        factors = {"brightness": brightness_factor, "contrast": contrast_factor,
                   "saturation": saturation_factor, "hue": hue_factor}
        self.factors = {k: (tuple(v) if isinstance(v, list) else v) for k, v in factors.items()}
        self.steps = [cls(factors[step], value_range=self.value_range, seed=0,
                          data_format=self.data_format, name=f"{self.name}_{step}")
                      for step, cls in self._STEPS if factors[step] is not None]

    def draw(self, key, batch, images):
        keys = jax.random.split(key, len(self.steps))
        return {step: layer.draw(k, batch, images)
                for step, layer, k in zip(self._active(), self.steps, keys, strict=True)}

    def transform_batch(self, images, transformation):
        for step, layer in zip(self._active(), self.steps, strict=True):
            images = layer.transform_batch(images, transformation[step])
        return images

    def _active(self):
        return [step for step, _ in self._STEPS if self.factors[step] is not None]

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                **{f"{step}_factor": factor for step, factor in self.factors.items()}}


LAYERS = (RandomHue, RandomSaturation, RandomColorJitter)
