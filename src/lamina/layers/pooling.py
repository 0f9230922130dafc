"""Pooling layers over channels-last inputs, with Keras 3 names, arguments and defaults.

MaxPooling1D/2D/3D and AveragePooling1D/2D/3D slide a window over the spatial axes through
`lamina.core.lowering.pooling.max_pool` / `avg_pool` (where the lowering is chosen); the global
poolings reduce every spatial axis. None of them has weights.

Only `data_format="channels_last"` is supported: inputs are `(batch, *spatial, channels)`.
"""
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.core.lowering import pooling
from lamina.errors import InputSpecError
from lamina.layers.sliding_window import (
    check_data_format,
    check_output_size,
    check_padding,
    check_rank,
    normalize_tuple,
    output_length,
)


class _Pooling(Layer):
    """A window of `pool_size` moved by `strides` over the spatial axes."""

    rank = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        """Arguments (Keras 3 defaults).

        Args:
            pool_size: window size, an int or one int per spatial axis (default 2).
            strides: step of the window; None (default) means `pool_size`.
            padding: "valid" (windows inside the input: output length
                floor((n - pool_size) / strides) + 1) or "same" (output length
                ceil(n / strides), padded at the end as XLA/TensorFlow; average pooling then
                averages only the real cells).
            data_format: None or "channels_last" (the only layout supported).
            **kwargs: Layer arguments (name, trainable, dtype).
        """
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(self, pool_size, self.rank, "pool_size")
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(self, strides, self.rank, "strides"))
        self.padding = check_padding(self, padding, ("valid", "same"))
        self.data_format = check_data_format(self, data_format)

    def _check_shape(self, shape):
        check_rank(self, shape, self.rank)
        spatial_out = [output_length(n, p, s, 1, self.padding)
                       for n, p, s in zip(shape[1:-1], self.pool_size, self.strides, strict=True)]
        check_output_size(self, shape, spatial_out,
                          f"pool_size {self.pool_size} and strides {self.strides}")

    def build(self, input_shape):
        self._check_shape(input_shape)

    def check_input(self, inputs):
        self._check_shape(inputs.shape)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class _MaxPooling(_Pooling):
    def call(self, inputs):
        return pooling.max_pool(inputs.astype(self.compute_dtype), self.pool_size, self.strides,
                                self.padding)


class _AveragePooling(_Pooling):
    def call(self, inputs):
        return pooling.avg_pool(inputs.astype(self.compute_dtype), self.pool_size, self.strides,
                                self.padding)


class MaxPooling1D(_MaxPooling):
    """Max over windows of (batch, steps, channels). Arguments: see `__init__`."""

    rank = 1


class MaxPooling2D(_MaxPooling):
    """Max over windows of (batch, height, width, channels); pool_size defaults to (2, 2)."""

    rank = 2


class MaxPooling3D(_MaxPooling):
    """Max over windows of (batch, depth, height, width, channels)."""

    rank = 3


class AveragePooling1D(_AveragePooling):
    """Mean over windows of (batch, steps, channels)."""

    rank = 1


class AveragePooling2D(_AveragePooling):
    """Mean over windows of (batch, height, width, channels); pool_size defaults to (2, 2)."""

    rank = 2


class AveragePooling3D(_AveragePooling):
    """Mean over windows of (batch, depth, height, width, channels)."""

    rank = 3


class _GlobalPooling(Layer):
    """Reduces every spatial axis: (batch, *spatial, channels) -> (batch, channels)."""

    rank = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        """Arguments (Keras 3 defaults).

        Args:
            data_format: None or "channels_last" (the only layout supported).
            keepdims: keep the spatial axes with length 1: (batch, 1, ..., 1, channels).
            **kwargs: Layer arguments (name, trainable, dtype).
        """
        super().__init__(**kwargs)
        self.data_format = check_data_format(self, data_format)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank)

    def check_input(self, inputs):
        check_rank(self, inputs.shape, self.rank)

    def _axes(self):
        return tuple(range(1, self.rank + 1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class _GlobalMaxPooling(_GlobalPooling):
    def call(self, inputs):
        return jnp.max(inputs.astype(self.compute_dtype), axis=self._axes(), keepdims=self.keepdims)


class _GlobalAveragePooling(_GlobalPooling):
    def call(self, inputs):
        return jnp.mean(inputs.astype(self.compute_dtype), axis=self._axes(),
                        keepdims=self.keepdims)


class GlobalMaxPooling1D(_GlobalMaxPooling):
    """Max over the steps of (batch, steps, channels)."""

    rank = 1


class GlobalMaxPooling2D(_GlobalMaxPooling):
    """Max over height and width of (batch, height, width, channels)."""

    rank = 2


class GlobalMaxPooling3D(_GlobalMaxPooling):
    """Max over depth, height and width of (batch, depth, height, width, channels)."""

    rank = 3


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps of (batch, steps, channels); with a mask, over unmasked steps only.

    `mask` (batch, steps), True where a step is valid (e.g. from `Embedding(mask_zero=True)`),
    is consumed: the output carries no mask, as in Keras. A sample whose steps are all masked
    pools to zeros (Keras divides 0 by 0 and returns NaN there).
    """

    rank = 1
    supports_masking = True

    def call(self, inputs, mask=None):
        x = inputs.astype(self.compute_dtype)
        if mask is None:
            return jnp.mean(x, axis=1, keepdims=self.keepdims)
        if tuple(mask.shape) != tuple(inputs.shape[:2]):
            raise InputSpecError(
                f"GlobalAveragePooling1D '{self.name}': expected a mask of shape (batch, steps) "
                f"= {tuple(inputs.shape[:2])}, received shape {tuple(mask.shape)}.")
        valid = mask.astype(bool)[:, :, None]
        total = jnp.sum(jnp.where(valid, x, 0), axis=1, keepdims=self.keepdims)
        count = jnp.sum(valid.astype(x.dtype), axis=1, keepdims=self.keepdims)
        return total / jnp.maximum(count, 1)

    def compute_mask(self, inputs, previous_mask):
        return None


class GlobalAveragePooling2D(_GlobalAveragePooling):
    """Mean over height and width of (batch, height, width, channels)."""

    rank = 2


class GlobalAveragePooling3D(_GlobalAveragePooling):
    """Mean over depth, height and width of (batch, depth, height, width, channels)."""

    rank = 3


LAYERS = (MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D,
          AveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
          GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
