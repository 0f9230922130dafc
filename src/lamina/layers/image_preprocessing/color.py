"""Colour augmentation: RandomContrast and RandomBrightness. Pixel values are read in
`value_range` (default 0-255)."""
import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing.base import RandomImageLayer, check_value_range, factor_range


def _per_image(batch):
    return (batch, 1, 1, 1)


class RandomContrast(RandomImageLayer):
    """When training, scales each image's deviation from its per-channel mean by a random
    factor, then clips to `value_range`.

    Args:
        factor: a number `f` draws contrast factors from [1 - f, 1 + f], a pair (low, high)
            from [1 - low, 1 + high]; values in [0, 1]. (Keras 3.15 draws from [1, 1 + f]
            for a number, against its own documentation; lamina follows the documentation.)
        value_range: (low, high) of the pixel values, default (0, 255); seed; data_format.

    Transformation: `{"contrast_factor": (batch, 1, 1, 1)}`.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, bounds=(0.0, 1.0), single=lambda f: (f, f))
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        return {"contrast_factor": jax.random.uniform(
            key, _per_image(batch), minval=1.0 - self.factor[0], maxval=1.0 + self.factor[1])}

    def transform_batch(self, images, transformation):
        factor = jnp.asarray(transformation["contrast_factor"], images.dtype).reshape(
            -1, 1, 1, 1)
        mean = jnp.mean(images, axis=self.spatial_axes(), keepdims=True)
        return jnp.clip((images - mean) * factor + mean, *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomBrightness(RandomImageLayer):
    """When training, adds a random offset to each image, then clips to `value_range`.

    Args:
        factor: a fraction of the value range: a number `f` draws from [-f, f], a pair
            (low, high) from [low, high]; values in [-1, 1].
        value_range: (low, high) of the pixel values, default (0, 255); seed; data_format.

    Transformation: `{"rgb_delta": (batch, 1, 1, 1)}`, the offset in pixel units.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor)
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        delta = jax.random.uniform(key, _per_image(batch), minval=self.factor[0],
                                   maxval=self.factor[1])
        return {"rgb_delta": delta * (self.value_range[1] - self.value_range[0])}

    def transform_batch(self, images, transformation):
        delta = jnp.asarray(transformation["rgb_delta"], images.dtype).reshape(-1, 1, 1, 1)
        return jnp.clip(images + delta, *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


LAYERS = (RandomContrast, RandomBrightness)
