"""RandomColorDegeneration: each image blended towards its own grey version (one of
RandAugment's operations, and a Keras 3 layer of its own)."""
import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.layers.image_preprocessing.base import (
    RandomImageLayer,
    check_value_range,
    factor_range,
    where,
)
from lamina.layers.image_preprocessing.tone import GRAY_WEIGHTS


class RandomColorDegeneration(RandomImageLayer):
    """When training, moves each image towards its greyscale version by a random factor
    `f`: `x + f (gray(x) - x)`, clipped to `value_range`. 0 leaves the image, 1 makes it grey.

    Args:
        factor: a number `f` in [0, 1] draws from [0, f] (Keras's docstring); a pair
            (low, high) in [-1, 1] from [low, high] (Keras 3.15 stores (-f, f) in its
            configs, and such files load).
        value_range: (low, high) of the pixel values, default (0, 255); data_format; seed.

    Images have 3 (RGB) channels, or 1, which is its own grey and is left unchanged.
    Transformation: `{"factor": (batch, 1, 1, 1)}`.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, single=lambda f: (0.0, f))
        self.value_range = check_value_range(self, value_range)

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else -3

    def check_input(self, inputs):
        super().check_input(inputs)
        if inputs.shape[self.channel_axis] not in (1, 3):
            raise InputSpecError(f"{where(self)}: expected RGB images (3 channels) or one "
                                 f"channel, received shape {tuple(inputs.shape)}.")

    def draw(self, key, batch, images):
        return {"factor": jax.random.uniform(key, (batch, 1, 1, 1), minval=self.factor[0],
                                             maxval=self.factor[1])}

    def transform_batch(self, images, transformation):
        axis = 3 if self.data_format == "channels_last" else 1
        if images.shape[axis] == 1:
            return images
        factor = jnp.asarray(transformation["factor"], images.dtype).reshape(-1, 1, 1, 1)
        weights = jnp.asarray(GRAY_WEIGHTS, images.dtype)
        gray = jnp.expand_dims(jnp.tensordot(images, weights, axes=([axis], [0])), axis)
        return jnp.clip(images + factor * (gray - images), *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


LAYERS = (RandomColorDegeneration,)
