"""Occlusion and blur: RandomErasing and RandomGaussianBlur."""
import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing.base import (
    RandomImageLayer,
    check_value_range,
    factor_range,
    fail,
    is_number,
)


def _unit_range(layer, factor, argument="factor"):
    return factor_range(layer, factor, argument, (0.0, 1.0), single=lambda f: (0.0, f))


def _apply_probability(key, batch, bounds):
    """Per image: is the transform applied, with a probability drawn from `bounds`?"""
    p_key, t_key = jax.random.split(key)
    probability = jax.random.uniform(p_key, (batch,), minval=bounds[0], maxval=bounds[1])
    return jax.random.uniform(t_key, (batch,)) < probability


class RandomErasing(RandomImageLayer):
    """When training, fills a random box of some images with a value or with noise
    (Zhong et al., 2017).

    Args:
        factor: the probability of erasing an image: drawn from [0, f] for a number `f`, from
            [low, high] for a pair; in [0, 1]. Default 1.0.
        scale: (low, high) range of the box's side fractions squared (default (0.02, 0.33)).
        fill_value: None (default: Gaussian noise times the range's high end, clipped), a
            number, or one number per channel (three).
        value_range (default (0, 255)); seed; data_format.

    Transformation: `{"apply_erasing": bool (batch,), "batch_masks": bool (images' shape),
    "fill_value": (images' shape)}`.
    """

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_range(self, factor)
        self.scale = _unit_range(self, scale, "scale")
        if not (fill_value is None or is_number(fill_value) or (
                isinstance(fill_value, (list, tuple)) and len(fill_value) == 3
                and all(is_number(v) for v in fill_value))):
            raise fail(self, "expected `fill_value` to be None, a number or three numbers, "
                             f"received {fill_value!r}.")
        self.fill_value = tuple(fill_value) if isinstance(fill_value, list) else fill_value
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        height, width = self.image_size(images)
        size_key, x_key, y_key, apply_key, fill_key = jax.random.split(key, 5)
        sides = jnp.sqrt(jax.random.uniform(size_key, (batch, 2), minval=self.scale[0],
                                            maxval=self.scale[1]))
        corners = []
        for axis_key, length, side in ((x_key, width, sides[:, 0]), (y_key, height, sides[:, 1])):
            start = jax.random.uniform(axis_key, (batch,)) * (length - side * length)
            corners += [start[:, None, None, None], (start + side * length)[:, None, None, None]]
        x0, x1, y0, y1 = corners
        axes = self.spatial_axes()
        shape = [1, 1, 1, 1]
        shape[axes[0]], shape[axes[1]] = height, width
        rows = jnp.arange(height, dtype=jnp.float32).reshape(shape[:axes[0] + 1] + [1] * (
            3 - axes[0]))
        cols = jnp.arange(width, dtype=jnp.float32).reshape([1] * axes[1] + [width] + [1] * (
            3 - axes[1]))
        full = images.shape if images.ndim == 4 else (1,) + images.shape
        masks = jnp.broadcast_to((cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1), full)
        if self.fill_value is None:
            fill = jax.random.normal(fill_key, full) * self.value_range[1]
        elif not isinstance(self.fill_value, tuple):
            fill = jnp.full(full, float(self.fill_value), jnp.float32)
        else:
            channel = [1, 1, 1, 1]
            channel[-1 if self.data_format == "channels_last" else 1] = 3
            fill = jnp.broadcast_to(jnp.asarray(self.fill_value, jnp.float32).reshape(channel),
                                    full)
        return {"apply_erasing": _apply_probability(apply_key, batch, self.factor),
                "batch_masks": masks, "fill_value": jnp.clip(fill, *self.value_range)}

    def transform_batch(self, images, transformation):
        apply = jnp.asarray(transformation["apply_erasing"]).reshape(-1, 1, 1, 1)
        erase = apply & jnp.asarray(transformation["batch_masks"])
        return jnp.where(erase, jnp.asarray(transformation["fill_value"], images.dtype), images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "fill_value": self.fill_value, "value_range": self.value_range}


def gaussian_kernel(kernel_size, sigma, dtype=jnp.float32):
    """The normalised 2-D Gaussian, (kernel_size[1] rows, kernel_size[0] columns) with
    (sigma[1], sigma[0]): Keras's orientation of its (x, y) arguments."""
    def one_d(size, s):
        x = jnp.arange(size, dtype=dtype) - (size - 1) / 2
        k = jnp.exp(-0.5 * (x / s) ** 2)
        return k / jnp.sum(k)
    return jnp.outer(one_d(kernel_size[1], sigma[1]), one_d(kernel_size[0], sigma[0]))


class RandomGaussianBlur(RandomImageLayer):
    """When training, blurs some images with a Gaussian kernel (zero padding at the edges).

    Args:
        factor: the probability of blurring an image: from [0, f] for a number `f`, from
            [low, high] for a pair; in [0, 1]. Default 1.0.
        kernel_size: an odd number, or an odd (x, y) pair. Default 3.
        sigma: the standard deviations are drawn from [0, s] for a number `s`, from
            [low, high] for a pair (one draw per batch, as Keras); in [0, 1]. Default 1.0.
        value_range (default (0, 255)); data_format; seed.

    Transformation: `{"should_apply_blur": bool (batch,), "blur_factor": (2,)}`.
    """

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_range(self, factor)
        sizes = tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else (
            kernel_size, kernel_size)
        if len(sizes) != 2 or not all(isinstance(s, int) and s > 0 and s % 2 for s in sizes):
            raise fail(self, "expected `kernel_size` to be an odd positive integer or a pair "
                             f"of them, received {kernel_size!r}.")
        self.kernel_size = sizes
        self.sigma = _unit_range(self, sigma, "sigma")
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        apply_key, sigma_key = jax.random.split(key)
        sigma = jax.random.uniform(sigma_key, (2,), minval=self.sigma[0],
                                   maxval=self.sigma[1]) + 1e-6
        return {"should_apply_blur": _apply_probability(apply_key, batch, self.factor),
                "blur_factor": sigma}

    def transform_batch(self, images, transformation):
        x = images if self.data_format == "channels_first" else jnp.moveaxis(images, -1, 1)
        channels = x.shape[1]
        kernel = gaussian_kernel(self.kernel_size, jnp.asarray(
            transformation["blur_factor"], x.dtype), x.dtype)
        blurred = jax.lax.conv_general_dilated(
            x, jnp.tile(kernel[None, None], (channels, 1, 1, 1)), (1, 1), "SAME",
            dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=channels)
        if self.data_format == "channels_last":
            blurred = jnp.moveaxis(blurred, 1, -1)
        apply = jnp.asarray(transformation["should_apply_blur"]).reshape(-1, 1, 1, 1)
        return jnp.clip(jnp.where(apply, blurred, images), *self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "kernel_size": self.kernel_size,
                "sigma": self.sigma, "value_range": self.value_range}


LAYERS = (RandomErasing, RandomGaussianBlur)
