"""Tone and pixel-value layers: AutoContrast, Equalization, RandomInvert, RandomGrayscale,
Solarization, RandomPosterization, RandomSharpness. Pixel values are read in `value_range`
(0-255 by default) and, where Keras does so, worked on in 0-255."""
import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing.base import (
    ImageLayer,
    RandomImageLayer,
    check_value_range,
    factor_range,
    fail,
    is_number,
    saturate_cast,
)

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # tf.image.rgb_to_grayscale's, as Keras
_BYTE = (0.0, 255.0)


def rescale(images, source, target):
    """Values mapped linearly from range `source` to range `target`."""
    if tuple(source) == tuple(target):
        return images
    unit = (images - source[0]) / (source[1] - source[0])
    return unit * (target[1] - target[0]) + target[0]


def _rows(values, batch_axes=3):
    return jnp.asarray(values).reshape((-1,) + (1,) * batch_axes)


def _unit_factor(layer, factor, argument="factor"):
    """Keras's [0, 1] factor: a number `f` is the range (0, f)."""
    return factor_range(layer, factor, argument, (0.0, 1.0), single=lambda f: (0.0, f))


class AutoContrast(ImageLayer):
    """Stretches each channel of each image to the full `value_range` (its minimum to the low
    end, its maximum to the high end); a constant channel is left as it is. Always applied
    (it is not an augmentation).

    Args: value_range (default (0, 255)); data_format.
    """

    def __init__(self, value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = check_value_range(self, value_range)

    def transform_images(self, images, transformation=None, training=True):
        images = jnp.asarray(images)
        self.check_input(images)
        out = self.transform_batch(images if images.ndim == 4 else images[None], None)
        out = out if images.ndim == 4 else out[0]
        return saturate_cast(out, images.dtype) if jnp.issubdtype(
            images.dtype, jnp.integer) else out

    def transform_batch(self, images, transformation):
        x = rescale(images.astype(self.compute_dtype), self.value_range, _BYTE)
        low = jnp.min(x, axis=self.spatial_axes(), keepdims=True)
        high = jnp.max(x, axis=self.spatial_axes(), keepdims=True)
        scale = 255.0 / (high - low)
        out = rescale(jnp.clip(x * scale - low * scale, *_BYTE), _BYTE, self.value_range)
        return jnp.where(jnp.isnan(out), images.astype(self.compute_dtype), out)

    def call(self, inputs):
        return self.transform_images(inputs)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range}


class RandomInvert(RandomImageLayer):
    """When training, inverts each image (`high - x`) with a random probability.

    Args:
        factor: the probability of inverting: a number `p` draws it from [0, p], a pair
            from [low, high]; in [0, 1]. Default 1.0 (an expected half of the images).
        value_range (default (0, 255)); seed; data_format.

    Transformation: `{"apply_inversion": bool (batch,)}`.
    """

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_factor(self, factor)
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        p_key, t_key = jax.random.split(key)
        probability = jax.random.uniform(p_key, (batch,), minval=self.factor[0],
                                         maxval=self.factor[1])
        return {"apply_inversion": jax.random.uniform(t_key, (batch,)) < probability}

    def transform_batch(self, images, transformation):
        apply = _rows(transformation["apply_inversion"])
        return jnp.where(apply, self.value_range[1] - images, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomGrayscale(RandomImageLayer):
    """When training, turns each image grey with probability `factor` (the channels keep
    their number, each set to the luma of RGB images; one-channel images are unchanged).

    Args: factor (default 0.5, in [0, 1]); data_format; seed.

    Transformation: `{"should_apply": bool (batch, 1, 1, 1)}` (Keras's bare array too).
    """

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not is_number(factor) or not 0 <= factor <= 1:
            raise fail(self, f"expected `factor` to be a number in [0, 1], received {factor!r}.")
        self.factor = factor

    def check_input(self, inputs):
        super().check_input(inputs)
        channels = inputs.shape[-1 if self.data_format == "channels_last" else -3]
        if channels not in (1, 3):
            raise fail(self, f"expected 1 or 3 channels, received shape {tuple(inputs.shape)}.")

    def draw(self, key, batch, images):
        return {"should_apply": _rows(jax.random.uniform(key, (batch,)) < self.factor)}

    def transform_batch(self, images, transformation):
        apply = transformation["should_apply"] if isinstance(transformation, dict) else (
            transformation)
        axis = -1 if self.data_format == "channels_last" else 1
        if images.shape[axis] == 1:
            return images
        gray = jnp.tensordot(images, jnp.asarray(GRAY_WEIGHTS, images.dtype), axes=([axis], [0]))
        return jnp.where(_rows(apply), jnp.expand_dims(gray, axis), images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Solarization(RandomImageLayer):
    """When training, adds a random amount to each image (in 0-255 units, clipped) and
    inverts the pixels at or above a random threshold.

    Args:
        addition_factor, threshold_factor: a number `f` draws from [0, 255 f], a pair
            (low, high) from [low, 255 high] (Keras's arithmetic); in [0, 1]. Default 0: no
            addition and a threshold of 0, which inverts every pixel.
        value_range (default (0, 255)); seed; data_format.

    Transformation: `{"additions": (batch, 1, 1, 1), "thresholds": (batch, 1, 1, 1)}`.
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.addition_factor = _unit_factor(self, addition_factor, "addition_factor")
        self.threshold_factor = _unit_factor(self, threshold_factor, "threshold_factor")
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        a_key, t_key = jax.random.split(key)
        shape = (batch, 1, 1, 1)
        return {"additions": jax.random.uniform(a_key, shape, minval=self.addition_factor[0],
                                                maxval=self.addition_factor[1] * 255),
                "thresholds": jax.random.uniform(t_key, shape, minval=self.threshold_factor[0],
                                                 maxval=self.threshold_factor[1] * 255)}

    def transform_batch(self, images, transformation):
        x = rescale(images, self.value_range, _BYTE)
        x = jnp.clip(x + _rows(transformation["additions"]).astype(x.dtype), *_BYTE)
        x = jnp.where(x < _rows(transformation["thresholds"]), x, 255 - x)
        return rescale(x, _BYTE, self.value_range)

    def get_config(self):
        return {**super().get_config(), "addition_factor": self.addition_factor,
                "threshold_factor": self.threshold_factor, "value_range": self.value_range}


class RandomPosterization(RandomImageLayer):
    """When training, keeps only the top `bits` bits of each 8-bit channel value.

    Args:
        factor: the bits kept, in [1, 8]: a number `n` draws an integer from [1, n), a pair
            (low, high) from [low, high) (Keras's exclusive upper end; equal ends keep
            exactly that many bits).
        value_range (default (0, 255)); data_format; seed.

    Transformation: `{"shift_factor": uint8 (batch,)}`, the low bits dropped (8 - bits).
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, bounds=(1, 8), single=lambda f: (1, f))
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        low, high = int(self.factor[0]), int(self.factor[1])
        bits = (jnp.full((batch,), low) if low == high
                else jax.random.randint(key, (batch,), low, high))
        return {"shift_factor": (8 - bits).astype(jnp.uint8)}

    def transform_batch(self, images, transformation):
        shift = _rows(transformation["shift_factor"]).astype(jnp.uint8)
        x = rescale(images, self.value_range, _BYTE).astype(jnp.uint8)
        x = jnp.left_shift(jnp.right_shift(x, shift), shift)
        return rescale(x.astype(images.dtype), _BYTE, self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomSharpness(RandomImageLayer):
    """When training, blends each image with a 3x3 smoothed copy of itself: sharpness
    `2 f` of a random `f`, 1 meaning unchanged, below 1 blurred, above 1 sharpened.

    Args:
        factor: a number `f` draws from [0, f], a pair from [low, high]; in [0, 1].
        value_range (default (0, 255)); data_format; seed.

    Transformation: `{"factor": (batch,)}`.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_factor(self, factor)
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        return {"factor": jax.random.uniform(key, (batch,), minval=self.factor[0],
                                             maxval=self.factor[1])}

    def transform_batch(self, images, transformation):
        top, left = self.spatial_axes()
        height, width = self.image_size(images)
        pads = [(0, 0)] * 4
        pads[top], pads[left] = (1, 1), (1, 1)
        padded = jnp.pad(images, pads)
        smoothed = jnp.zeros_like(images)
        for dy in range(3):
            for dx in range(3):
                window = jax.lax.slice_in_dim(jax.lax.slice_in_dim(padded, dy, dy + height, 1,
                                                                   top), dx, dx + width, 1, left)
                smoothed = smoothed + window * ((5.0 if (dy, dx) == (1, 1) else 1.0) / 13.0)
        sharpness = _rows(transformation["factor"]).astype(images.dtype) * 2
        return jnp.clip(images + (1.0 - sharpness) * (smoothed - images), *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class Equalization(ImageLayer):
    """Histogram equalisation of each channel, with one histogram per channel over the whole
    batch (as Keras 3.15), in `bins` bins over 0-255. Like Keras, it acts only when training:
    `predict` and a plain call return the images unchanged.

    Args: value_range (default (0, 255)); bins (default 256); data_format.
    """

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = check_value_range(self, value_range)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise fail(self, f"expected `bins` to be an integer >= 2, received {bins!r}.")
        self.bins = bins

    def _equalize(self, channel):
        scale = (self.bins - 1) / 255.0
        bins = jnp.clip((channel * scale).astype(jnp.int32), 0, self.bins - 1)
        hist = jnp.bincount(bins.reshape(-1), length=self.bins)
        cdf = jnp.cumsum(hist)
        cdf_min = cdf[jnp.argmax(cdf > 0)]
        denominator = jnp.where(cdf[-1] - cdf_min == 0, 1, cdf[-1] - cdf_min)
        table = jnp.clip(jnp.round((cdf - cdf_min) * 255 / denominator), *_BYTE)
        equalized = jnp.take(table, jnp.clip(channel / 255.0 * (self.bins - 1), 0,
                                             self.bins - 1).astype(jnp.int32))
        return jnp.where(jnp.count_nonzero(hist) <= 1, channel, equalized)

    def transform_batch(self, images, transformation):
        axis = -1 if self.data_format == "channels_last" else 1
        x = rescale(images, self.value_range, _BYTE)
        out = jnp.stack([self._equalize(jnp.take(x, i, axis=axis))
                         for i in range(x.shape[axis])], axis=axis)
        return rescale(out.astype(images.dtype), _BYTE, self.value_range)

    def call(self, inputs, training=False):
        return self.transform_images(inputs, {}, training=training)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range, "bins": self.bins}


LAYERS = (AutoContrast, Equalization, RandomInvert, RandomGrayscale, Solarization,
          RandomPosterization, RandomSharpness)
