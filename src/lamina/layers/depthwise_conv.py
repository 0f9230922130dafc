"""Depthwise convolution layers, DepthwiseConv1D/2D, with Keras 3 names, arguments and
weights, and `_depthwise`, the per-channel convolution the separable layers share.

The convolution goes through `lamina.core.lowering.convolution.conv` with one group per input
channel. Inputs are channels-last.
"""
from lamina.core.lowering import convolution
from lamina.layers.base_conv import _BaseConv
from lamina.layers.sliding_window import positive_int


def _depthwise(x, kernel, strides, padding, dilation_rate):
    """Per-channel convolution with a kernel of shape (*window, in, multiplier)."""
    channels, multiplier = kernel.shape[-2:]
    # output channel c * multiplier + m is input channel c convolved with kernel[..., c, m]
    kernel = kernel.reshape(kernel.shape[:-2] + (1, channels * multiplier))
    return convolution.conv(x, kernel, strides, padding, dilation_rate, groups=channels)


class _DepthwiseConv(_BaseConv):
    """Convolves each input channel with its own `depth_multiplier` filters: in *
    depth_multiplier output channels, channel c * depth_multiplier + m from input channel c.

    The kernel is the weight "kernel" of shape (*kernel_size, in, depth_multiplier), as in
    Keras 3 (Keras 2 called it `depthwise_kernel`); the bias has shape (in * multiplier,).
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs):
        """Arguments as Conv2D (no `filters` or `groups`; padding "valid" or "same"), plus:

        Args:
            depth_multiplier: filters per input channel (default 1).
            depthwise_initializer, depthwise_regularizer, depthwise_constraint: options of
                the kernel.
        """
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation,
                          use_bias)
        self.depth_multiplier = positive_int(self, depth_multiplier, "depth_multiplier")
        self._init_weight_options("depthwise", depthwise_initializer, depthwise_regularizer,
                                  depthwise_constraint)
        self._init_weight_options("bias", bias_initializer, bias_regularizer, bias_constraint)

    def _build_weights(self, channels):
        self.kernel = self._add(
            "depthwise", self.kernel_size + (channels, self.depth_multiplier), "kernel")
        self.bias = self._add_bias(channels * self.depth_multiplier)

    def call(self, inputs):
        x = _depthwise(inputs.astype(self.compute_dtype), self.kernel.value, self.strides,
                       self.padding, self.dilation_rate)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1D convolution over (batch, steps, channels); kernel (k, in, multiplier)."""

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2D convolution over (batch, height, width, channels); kernel
    (kh, kw, in, depth_multiplier). Arguments: see `__init__`."""

    rank = 2

