"""Mixing augmentation across a batch: MixUp and CutMix. Each takes a batch of images, or a
dict `{"images": ..., "labels": ...}` whose (one-hot) labels are mixed with the same weights."""
import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.layers.image_preprocessing.base import (
    RandomImageLayer,
    factor_range,
    fail,
    is_number,
    where,
)


class _MixingLayer(RandomImageLayer):
    """Mixes each image with another image of the batch chosen by a random permutation."""

    def check_input(self, inputs):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        super().check_input(images)
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"images", "labels"}
            if unknown:
                raise InputSpecError(f"{where(self)}: expected a dict with keys 'images' and "
                                     f"'labels', received keys {sorted(inputs)}.")

    def get_random_transformation(self, data, training=True, seed=None):
        images = data["images"] if isinstance(data, dict) else data
        return super().get_random_transformation(images, training, seed)

    def transform_labels(self, labels, transformation, training=True):
        """`labels` (batch, classes) mixed with the transformation's weights."""
        labels = jnp.asarray(labels)
        if not training or transformation is None:
            return labels
        weight = jnp.asarray(transformation["mix_weight"]).reshape(-1, 1).astype(
            labels.dtype if jnp.issubdtype(labels.dtype, jnp.floating) else jnp.float32)
        other = jnp.take(labels, jnp.asarray(transformation["permutation_order"]), axis=0)
        return weight * labels + (1.0 - weight) * other

    def call(self, inputs, training=False):
        transformation = self.get_random_transformation(inputs, training=training)
        if not isinstance(inputs, dict):
            return self.transform_images(inputs, transformation, training=training)
        out = dict(inputs)
        out["images"] = self.transform_images(inputs["images"], transformation, training)
        if "labels" in inputs:
            out["labels"] = self.transform_labels(inputs["labels"], transformation, training)
        return out


class MixUp(_MixingLayer):
    """When training, replaces each image by `w x + (1 - w) x'` with `x'` another image of the
    batch and `w ~ Beta(alpha, alpha)` (Zhang et al., 2018); labels given in a dict input are
    mixed with the same `w`.

    Args: alpha (default 0.2, > 0); data_format; seed.

    Transformation: `{"mix_weight": (batch,), "permutation_order": int (batch,)}`.
    """

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not is_number(alpha) or alpha <= 0:
            raise fail(self, f"expected `alpha` to be a positive number, received {alpha!r}.")
        self.alpha = alpha

    def draw(self, key, batch, images):
        order_key, weight_key = jax.random.split(key)
        return {"mix_weight": jax.random.beta(weight_key, self.alpha, self.alpha, (batch,)),
                "permutation_order": jax.random.permutation(order_key, batch)}

    def transform_batch(self, images, transformation):
        weight = jnp.asarray(transformation["mix_weight"], images.dtype).reshape(-1, 1, 1, 1)
        other = jnp.take(images, jnp.asarray(transformation["permutation_order"]), axis=0)
        return weight * images + (1.0 - weight) * other

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(_MixingLayer):
    """When training, pastes a random box of another image of the batch into each image
    (Yun et al., 2019); labels given in a dict input are mixed by the area kept.

    Args:
        factor: the Beta distribution's parameter is drawn from [0, f] for a number `f`, or
            from [low, high] for a pair; in [0, 1]. Default 1.0.
        seed; data_format.

    Transformation: `{"permutation_order": int (batch,), "batch_masks": bool, the images'
    shape, True inside the pasted box, "mix_weight": (batch, 1, 1, 1), the area kept}`.
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(self, factor, bounds=(0.0, 1.0), single=lambda f: (0.0, f))

    def draw(self, key, batch, images):
        height, width = self.image_size(images)
        alpha_key, weight_key, x_key, y_key, order_key = jax.random.split(key, 5)
        alpha = jax.random.uniform(alpha_key, (), minval=self.factor[0],
                                   maxval=self.factor[1]) + 1e-6
        ratio = jnp.sqrt(1.0 - jax.random.beta(weight_key, alpha, alpha, (batch,)))
        boxes = []
        for axis_key, length in ((x_key, width), (y_key, height)):
            size = ratio * length
            start = jax.random.uniform(axis_key, (batch,)) * (length - size)
            boxes += [start, start + size]
        x0, x1, y0, y1 = (b[:, None, None, None] for b in boxes)
        rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                                  jnp.arange(width, dtype=jnp.float32), indexing="ij")
        grid = ((None, None, slice(None), slice(None)) if self.data_format == "channels_first"
                else (None, slice(None), slice(None), None))
        rows, cols = rows[grid], cols[grid]
        inside = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
        masks = jnp.broadcast_to(inside, images.shape if images.ndim == 4 else (1,) + images.shape)
        return {"permutation_order": jax.random.permutation(order_key, batch),
                "batch_masks": masks,
                "mix_weight": 1.0 - (x1 - x0) * (y1 - y0) / (width * height)}

    def transform_batch(self, images, transformation):
        other = jnp.take(images, jnp.asarray(transformation["permutation_order"]), axis=0)
        return jnp.where(jnp.asarray(transformation["batch_masks"]), other, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


LAYERS = (MixUp, CutMix)
