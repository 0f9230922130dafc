"""Depthwise-separable convolution layers, SeparableConv1D/2D, with Keras 3 names,
arguments and weights: a depthwise convolution followed by a 1x1 convolution.

Both go through `lamina.core.lowering.convolution.conv`. Inputs are channels-last.
"""
from lamina.core.lowering import convolution
from lamina.layers.base_conv import _BaseConv
from lamina.layers.depthwise_conv import _depthwise
from lamina.layers.sliding_window import positive_int


class _SeparableConv(_BaseConv):
    """A depthwise convolution followed by a 1x1 ("pointwise") convolution to `filters`.

    Weights, in Keras's order: "depthwise_kernel" (*kernel_size, in, depth_multiplier),
    "pointwise_kernel" (1, ..., 1, in * depth_multiplier, filters) and "bias" (filters,).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        """Arguments as Conv2D (no `groups`; padding "valid" or "same"), plus:

        Args:
            depth_multiplier: depthwise filters per input channel (default 1).
            depthwise_* / pointwise_*: initializer, regularizer and constraint of each
                kernel.
        """
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation,
                          use_bias)
        self.filters = positive_int(self, filters, "filters")
        self.depth_multiplier = positive_int(self, depth_multiplier, "depth_multiplier")
        self._init_weight_options("depthwise", depthwise_initializer, depthwise_regularizer,
                                  depthwise_constraint)
        self._init_weight_options("pointwise", pointwise_initializer, pointwise_regularizer,
                                  pointwise_constraint)
        self._init_weight_options("bias", bias_initializer, bias_regularizer, bias_constraint)

    def _build_weights(self, channels):
        self.depthwise_kernel = self._add(
            "depthwise", self.kernel_size + (channels, self.depth_multiplier),
            "depthwise_kernel")
        self.pointwise_kernel = self._add(
            "pointwise", (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            "pointwise_kernel")
        self.bias = self._add_bias(self.filters)

    def call(self, inputs):
        x = _depthwise(inputs.astype(self.compute_dtype), self.depthwise_kernel.value, self.strides,
                       self.padding, self.dilation_rate)
        ones = (1,) * self.rank
        x = convolution.conv(x, self.pointwise_kernel.value, ones, "valid", ones)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "depth_multiplier": self.depth_multiplier}


class SeparableConv1D(_SeparableConv):
    """Depthwise-separable 1D convolution over (batch, steps, channels)."""

    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise-separable 2D convolution over (batch, height, width, channels). Arguments
    and weights: see `__init__`."""

    rank = 2

