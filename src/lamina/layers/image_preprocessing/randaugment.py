"""RandAugment: `num_ops` operations drawn from Keras's list of eleven augmentation layers,
applied one after the other to the whole batch. The operations are lamina's own layers, held
as sublayers under Keras's attribute names; the chosen one runs through `lax.switch`, so the
layer compiles inside a jitted step with no Python branch on a drawn value."""
import functools
import numbers

import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.layers.image_preprocessing.base import (
    AFFINE_INTERPOLATIONS,
    RandomImageLayer,
    check_choice,
    check_value_range,
    factor_range,
    fail,
    where,
)
from lamina.layers.image_preprocessing.color import RandomBrightness, RandomContrast
from lamina.layers.image_preprocessing.degeneration import RandomColorDegeneration
from lamina.layers.image_preprocessing.geometric import (
    RandomRotation,
    RandomShear,
    RandomTranslation,
)
from lamina.layers.image_preprocessing.tone import (
    AutoContrast,
    Equalization,
    RandomPosterization,
    RandomSharpness,
    Solarization,
)

AUGMENT_LAYERS = (
    "random_shear", "random_translation", "random_rotation", "random_brightness",
    "random_color_degeneration", "random_contrast", "random_sharpness",
    "random_posterization", "solarization", "auto_contrast", "equalization",
)
"""Keras's `RandAugment._AUGMENT_LAYERS`, in its order: an index of `layer_idxes` names one."""


def _operations(layer, dtype):
    """The eleven operation layers of `layer` (a RandAugment), as Keras builds them."""
    factor, value_range = layer.factor, layer.value_range
    shared = {"seed": layer.seed, "data_format": layer.data_format, "dtype": dtype}
    tone = {"value_range": value_range, **shared}
    return {
        "random_shear": RandomShear(factor, factor, interpolation=layer.interpolation, **shared),
        "random_translation": RandomTranslation(factor, factor,
                                                interpolation=layer.interpolation, **shared),
        "random_rotation": RandomRotation(factor, interpolation=layer.interpolation, **shared),
        "random_brightness": RandomBrightness(factor, **tone),
        "random_color_degeneration": RandomColorDegeneration(factor, **tone),
        "random_contrast": RandomContrast(factor, **tone),
        "random_sharpness": RandomSharpness(factor, **tone),
        "random_posterization": RandomPosterization(max(1, int(8 * factor[1])), **tone),
        "solarization": Solarization(factor, factor, **tone),
        "auto_contrast": AutoContrast(value_range, layer.data_format, dtype=dtype),
        "equalization": Equalization(value_range, data_format=layer.data_format, dtype=dtype),
    }


class RandAugment(RandomImageLayer):
    """When training, applies `num_ops` augmentations chosen uniformly at random (with
    repetition) from Keras's eleven: shear, translation, rotation, brightness, colour
    degeneration, contrast, sharpness, posterization, solarization, auto-contrast and
    equalization. Images have 3 (RGB) channels or one. As Keras, one draw chooses the
    operations of the whole batch; each operation draws its own parameters per image.

    Args:
        value_range: (low, high) of the pixel values, default (0, 255).
        num_ops: how many operations to apply in sequence (default 2; 0 is the identity).
        factor: the strength, a number `f` in [0, 1] meaning (0, f) or a pair (low, high),
            default 0.5: each operation's own factor (posterization keeps
            `max(1, int(8 high))` bits at most).
        interpolation: "bilinear" (default) or "nearest", for shear, translation, rotation.
        seed; data_format.

    Transformation: `{"layer_idxes": int (num_ops,), "transforms": {name: the operation's
    transformation}}` with the names of `AUGMENT_LAYERS` (Keras's dict, accepted as is).
    """

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = check_value_range(self, value_range)
        if not isinstance(num_ops, numbers.Integral) or isinstance(num_ops, bool) or num_ops < 0:
            raise fail(self, f"expected `num_ops` to be a non-negative integer, received "
                             f"{num_ops!r}.")
        self.num_ops = int(num_ops)
        self.factor = factor_range(self, factor, bounds=(0.0, 1.0), single=lambda f: (0.0, f))
        self.interpolation = check_choice(self, "interpolation", interpolation,
                                          AFFINE_INTERPOLATIONS)
        for name, operation in _operations(self, kwargs.get("dtype")).items():
            setattr(self, name, operation)

    def check_input(self, inputs):
        super().check_input(inputs)
        if inputs.shape[-1 if self.data_format == "channels_last" else -3] not in (1, 3):
            raise InputSpecError(f"{where(self)}: expected RGB images (3 channels) or one "
                                 f"channel, received shape {tuple(inputs.shape)}.")

    def draw(self, key, batch, images):
        index_key, *keys = jax.random.split(key, len(AUGMENT_LAYERS) + 1)
        transforms = {}
        for name, operation_key in zip(AUGMENT_LAYERS, keys, strict=True):
            operation = getattr(self, name)
            transforms[name] = (operation.get_random_transformation(images, seed=operation_key)
                                if isinstance(operation, RandomImageLayer) else None)
        return {"layer_idxes": jax.random.randint(index_key, (self.num_ops,), 0,
                                                  len(AUGMENT_LAYERS)),
                "transforms": transforms}

    def _branch(self, name, transformation):
        operation = getattr(self, name)

        def apply(images):
            return operation.transform_batch(images, transformation).astype(images.dtype)

        return apply

    def transform_batch(self, images, transformation):
        return self._chain(images, transformation)

    @functools.cached_property
    def _chain(self):
        """The chosen operations as one jitted function: `lax.switch` traces all eleven
        branches at each call, which the jit cache does once per input shape (inside a
        compiled step it is simply inlined)."""
        return jax.jit(self._apply_operations)

    def _apply_operations(self, images, transformation):
        transforms = transformation["transforms"]
        branches = [self._branch(name, transforms.get(name)) for name in AUGMENT_LAYERS]
        indices = jnp.asarray(transformation["layer_idxes"], jnp.int32).reshape(-1)
        for i in range(self.num_ops):
            images = jax.lax.switch(indices[i], branches, images)
        return images

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "num_ops": self.num_ops, "factor": self.factor,
                "interpolation": self.interpolation}


LAYERS = (RandAugment,)
