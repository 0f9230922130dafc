"""RandomElasticTransform: each chosen image resampled along a smooth random displacement
field (Gaussian-blurred normal noise), as Keras's `ops.image.elastic_transform`.

Keras sizes the blur kernel from the drawn strength, `int(6 sigma) | 1`, which needs a
concrete value and so cannot run under `jit`. Here the kernel has the largest size the
layer's `scale` allows, and its taps beyond Keras's radius, `floor(3 sigma)`, weigh zero:
the same normalised kernel, with a static shape."""
import functools
import math
import numbers

import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing.base import (
    AFFINE_INTERPOLATIONS,
    FILL_MODES,
    RandomImageLayer,
    check_choice,
    check_value_range,
    factor_range,
    fail,
    is_number,
)
from lamina.layers.image_preprocessing.kernels import from_last, to_last

ELASTIC_FILL_MODES = (*FILL_MODES, "mirror")


def _keras_key(seed):
    """A transformation's noise key(s) as an array: an int is Keras's `draw_seed(int)`."""
    if isinstance(seed, numbers.Integral):
        return jnp.asarray([seed & 0xFFFFFFFF, 0], jnp.uint32)
    return jnp.asarray(seed)


def blur_masked(noise, sigma, max_radius):
    """`noise` (batch, h, w) blurred by Keras's normalised Gaussian of radius
    `floor(3 sigma)`, with zero padding, using a kernel of static radius `max_radius`."""
    taps = jnp.arange(-max_radius, max_radius + 1, dtype=noise.dtype)
    safe_sigma = jnp.maximum(sigma, jnp.finfo(noise.dtype).tiny)
    radius = jnp.floor(jnp.floor(6.0 * sigma) / 2.0)  # Keras's kernel: int(6 sigma) | 1 taps
    weights = jnp.where(jnp.abs(taps) <= radius,
                        jnp.exp(-0.5 * (taps / safe_sigma) ** 2), 0.0)
    weights = weights / jnp.sum(weights)
    kernel = jnp.outer(weights, weights)[None, None]
    return jax.lax.conv_general_dilated(noise[:, None], kernel, (1, 1), "SAME")[:, 0]


@functools.partial(jax.jit, static_argnames=("max_radius", "interpolation", "fill_mode",
                                             "fill_value"))
def elastic_transform(images, dx_noise, dy_noise, alpha, sigma, max_radius,
                      interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Channels-last `images` sampled at (y + alpha blur(dy_noise), x + alpha blur(dx_noise))
    with `jax.scipy.ndimage.map_coordinates`; the noises are (batch, h, w) standard normal,
    scaled by `sigma` before the blur as Keras does."""
    height, width = images.shape[1], images.shape[2]
    dx = blur_masked(dx_noise * sigma, sigma, max_radius)
    dy = blur_masked(dy_noise * sigma, sigma, max_radius)
    rows, cols = jnp.meshgrid(jnp.arange(height, dtype=dx.dtype),
                              jnp.arange(width, dtype=dx.dtype), indexing="ij")
    order = {"nearest": 0, "bilinear": 1}[interpolation]

    def channel(plane, r, c):
        return jax.scipy.ndimage.map_coordinates(plane, [r, c], order=order, mode=fill_mode,
                                                 cval=fill_value)

    per_image = jax.vmap(channel, in_axes=(2, None, None), out_axes=2)
    return jax.vmap(per_image)(images, rows + alpha * dy, cols + alpha * dx)


class RandomElasticTransform(RandomImageLayer):
    """When training, distorts each image, with a random probability, by an elastic
    displacement field of random strength, then clips to `value_range`.

    Args:
        factor: the probability of distorting an image: a number `p` draws it from [0, p], a
            pair from [low, high]; in [0, 1]. Default 1.0.
        scale: the strength, drawn once per batch: a number `s` from [0, s], a pair from
            [low, high]; in [0, 1]. Default 1.0. A strength `d` gives Keras's
            `alpha = 0.1 d max(h, w)` and `sigma = 0.05 d min(h, w)` pixels.
        interpolation: "bilinear" (default) or "nearest".
        fill_mode: "reflect" (default), "wrap", "constant", "nearest" or "mirror";
            fill_value: the "constant" value.
        value_range: (low, high) of the pixel values, default (0, 255); seed; data_format.

    Transformation: `{"apply_transform": bool (batch,), "distortion_factor": (), "seed":
    keys (2, 2)}`: row 0 draws the horizontal noise, row 1 the vertical. A single key or an
    int (Keras's dict) draws both from the same key, as Keras 3.15 does, which moves every
    pixel along the diagonal; lamina's own draws use two keys. `factor` or `scale` with an
    upper end of 0 draws nothing (the identity, as Keras).
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, bounds=(0.0, 1.0), single=lambda f: (0.0, f))
        self.scale = factor_range(self, scale, "scale", (0.0, 1.0), single=lambda f: (0.0, f))
        self.interpolation = check_choice(self, "interpolation", interpolation,
                                          AFFINE_INTERPOLATIONS)
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, ELASTIC_FILL_MODES)
        if not is_number(fill_value):
            raise fail(self, f"expected `fill_value` to be a number, received {fill_value!r}.")
        self.fill_value = fill_value
        self.value_range = check_value_range(self, value_range)

    def draw(self, key, batch, images):
        if self.factor[1] == 0 or self.scale[1] == 0:
            return None
        p_key, t_key, s_key, noise_key = jax.random.split(key, 4)
        probability = jax.random.uniform(p_key, (batch,), minval=self.factor[0],
                                         maxval=self.factor[1])
        return {"apply_transform": jax.random.uniform(t_key, (batch,)) < probability,
                "distortion_factor": jax.random.uniform(
                    s_key, (), self.compute_dtype, self.scale[0], self.scale[1]),
                "seed": jax.random.split(noise_key)}

    def transform_batch(self, images, transformation):
        x = to_last(images, self.data_format == "channels_last")
        batch, height, width = x.shape[0], x.shape[1], x.shape[2]
        strength = jnp.asarray(transformation["distortion_factor"], x.dtype)
        alpha = max(height, width) * 0.1 * strength
        sigma = min(height, width) * 0.05 * strength
        # one tap of slack: sigma is rounded in the images' dtype
        max_radius = math.floor(3.0 * min(height, width) * 0.05 * self.scale[1]) + 1
        keys = _keras_key(transformation["seed"])
        keys = keys.reshape(-1, keys.shape[-1])
        dx_noise = jax.random.normal(keys[0], (batch, height, width), x.dtype)
        dy_noise = jax.random.normal(keys[-1], (batch, height, width), x.dtype)
        moved = elastic_transform(x, dx_noise, dy_noise, alpha, sigma, max_radius,
                                  self.interpolation, self.fill_mode, self.fill_value)
        apply = jnp.asarray(transformation["apply_transform"]).reshape(-1, 1, 1, 1)
        out = jnp.clip(jnp.where(apply, moved, x), *self.value_range)
        return from_last(out, self.data_format == "channels_last")

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "interpolation": self.interpolation, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "value_range": self.value_range}


LAYERS = (RandomElasticTransform,)
