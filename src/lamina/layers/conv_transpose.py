"""Transposed convolution layers, Conv1DTranspose/2DTranspose/3DTranspose, with Keras 3
names, arguments and weights.

They go through `lamina.core.lowering.conv_transpose.conv_transpose` (the lowering chosen
per shape there) with Keras's padding arithmetic, so output shapes and values match Keras for
the same weights. Inputs are channels-last.
"""
from lamina.core.lowering.conv_transpose import conv_transpose
from lamina.errors import ConfigurationError
from lamina.layers.base_conv import _BaseConv
from lamina.layers.sliding_window import _label, normalize_tuple, positive_int


def _transpose_length(length, kernel, stride, dilation, padding, output_padding):
    """Keras's output length of a transposed convolution along one axis (None stays None)."""
    if length is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (length - 1) * stride + kernel + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + kernel % 2 + output_padding


def _transpose_padding(kernel, stride, dilation, padding, output_padding):
    """(low, high) padding of the stride-dilated input that gives Keras's output length."""
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return kernel - 1, kernel - 1 + extra
    total = (stride + kernel - 2 if output_padding is None
             else kernel + kernel % 2 - 2 + output_padding)
    low = min(total // 2 + total % 2, kernel - 1)
    return low, total - low


class _ConvTranspose(_BaseConv):
    """Transposed convolution: the gradient of a convolution with respect to its input.

    Output length per axis, with k = (kernel_size - 1) * dilation_rate + 1: "valid":
    (n - 1) * strides + k + output_padding (output_padding defaults to max(k, strides) - k);
    "same": n * strides, or (n - 1) * strides + k % 2 + output_padding when output_padding
    is given.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        """Arguments as Conv2D (no `groups`; padding "valid" or "same"), plus:

        Args:
            output_padding: extra cells at the end of each spatial axis, each smaller than
                the matching stride; None (default) lets the output-length formula choose.

        The kernel has shape (*kernel_size, filters, in), as in Keras.
        """
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation,
                          use_bias)
        self.filters = positive_int(self, filters, "filters")
        self.output_padding = None if output_padding is None else normalize_tuple(
            self, output_padding, self.rank, "output_padding", minimum=0)
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides, strict=True)):
            raise ConfigurationError(
                f"{_label(self)}: each `output_padding` must be smaller than the matching "
                f"`strides`, received output_padding={self.output_padding} and "
                f"strides={self.strides}.")
        self._init_weight_options("kernel", kernel_initializer, kernel_regularizer,
                                  kernel_constraint)
        self._init_weight_options("bias", bias_initializer, bias_regularizer, bias_constraint)

    def _output_paddings(self):
        return self.output_padding or (None,) * self.rank

    def _spatial_output(self, spatial):
        return [_transpose_length(n, k, s, d, self.padding, p) for n, k, s, d, p in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, self._output_paddings(),
            strict=True)]

    def _build_weights(self, channels):
        self.kernel = self._add("kernel", self.kernel_size + (self.filters, channels), "kernel")
        self.bias = self._add_bias(self.filters)

    def call(self, inputs):
        padding = [_transpose_padding(k, s, d, self.padding, p) for k, s, d, p in zip(
            self.kernel_size, self.strides, self.dilation_rate, self._output_paddings(),
            strict=True)]
        x = conv_transpose(inputs.astype(self.compute_dtype), self.kernel.value, self.strides,
                           padding, self.dilation_rate)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "output_padding": self.output_padding}


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1D convolution over (batch, steps, channels); kernel (k, filters, in)."""

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2D convolution over (batch, height, width, channels); kernel
    (kh, kw, filters, in) as Keras. Arguments and output lengths: see `__init__`."""

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3D convolution over (batch, depth, height, width, channels); kernel
    (kd, kh, kw, filters, in)."""

    rank = 3

