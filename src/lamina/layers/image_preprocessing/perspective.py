"""RandomPerspective: each image's corners move by random fractions of the image size, and
the image is warped by the homography that takes the moved corners back to the originals
(`kernels.projective_transform`, constant fill)."""
import jax
import jax.numpy as jnp

from lamina.layers.image_preprocessing import kernels
from lamina.layers.image_preprocessing.base import (
    AFFINE_INTERPOLATIONS,
    RandomImageLayer,
    check_choice,
    factor_range,
    fail,
    is_number,
)


def homography(start_points, end_points):
    """(batch, 8) projective transforms mapping each output point of `end_points` (batch, 4,
    2) to the input point of `start_points`: the 8x8 linear system of the four pairs."""
    sx, sy = start_points[..., 0], start_points[..., 1]
    ex, ey = end_points[..., 0], end_points[..., 1]
    zeros, ones = jnp.zeros_like(ex), jnp.ones_like(ex)
    x_rows = jnp.stack([ex, ey, ones, zeros, zeros, zeros, -sx * ex, -sx * ey], axis=-1)
    y_rows = jnp.stack([zeros, zeros, zeros, ex, ey, ones, -sy * ex, -sy * ey], axis=-1)
    system = jnp.concatenate([x_rows, y_rows], axis=1)
    target = jnp.concatenate([sx, sy], axis=-1)[..., None]
    return jnp.linalg.solve(system, target)[..., 0]


class RandomPerspective(RandomImageLayer):
    """When training, applies a random perspective warp to some images.

    Args:
        factor: the probability of warping an image: from [0, f] for a number `f`, from
            [low, high] for a pair; in [0, 1]. Default 1.0.
        scale: how far corners move, each coordinate by up to `scale / 2` times itself
            (Keras's arithmetic); in [0, 1]. Default 1.0.
        interpolation: "bilinear" (default) or "nearest"; fill_value: the value outside the
            image (default 0); seed; data_format.

    Transformation: `{"apply_perspective": bool (batch,), "start_points": (batch, 4, 2),
    "end_points": (batch, 4, 2)}` (x, y corner coordinates).
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, bounds=(0.0, 1.0), single=lambda f: (0.0, f))
        if not is_number(scale) or not 0 <= scale <= 1:
            raise fail(self, f"expected `scale` to be a number in [0, 1], received {scale!r}.")
        self.scale = scale
        self.interpolation = check_choice(self, "interpolation", interpolation,
                                          AFFINE_INTERPOLATIONS)
        if not is_number(fill_value):
            raise fail(self, f"expected `fill_value` to be a number, received {fill_value!r}.")
        self.fill_value = fill_value

    def draw(self, key, batch, images):
        height, width = self.image_size(images)
        p_key, t_key, move_key = jax.random.split(key, 3)
        probability = jax.random.uniform(p_key, (batch,), minval=self.factor[0],
                                         maxval=self.factor[1])
        moves = jax.random.uniform(move_key, (batch, 4, 2), minval=-0.5 * self.scale,
                                   maxval=0.5 * self.scale)
        corners = jnp.asarray([[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1],
                               [width - 1, height - 1]], jnp.float32)
        start = jnp.broadcast_to(corners, (batch, 4, 2))
        return {"apply_perspective": jax.random.uniform(t_key, (batch,)) < probability,
                "start_points": start, "end_points": start + start * moves}

    def transform_batch(self, images, transformation):
        transforms = homography(jnp.asarray(transformation["start_points"], jnp.float32),
                                jnp.asarray(transformation["end_points"], jnp.float32))
        warped = kernels.projective_transform(
            images, transforms, self.interpolation, "constant", self.fill_value,
            self.data_format == "channels_last")
        apply = jnp.asarray(transformation["apply_perspective"]).reshape(-1, 1, 1, 1)
        return jnp.where(apply, warped, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


LAYERS = (RandomPerspective,)
