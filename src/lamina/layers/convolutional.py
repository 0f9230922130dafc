"""Convolution layers, Conv1D/2D/3D, with Keras 3 names, arguments and weights; and the
family's `LAYERS`, registered for saving by `lamina.layers`.

Every forward convolution goes through `lamina.core.lowering.convolution.conv`, where the
lowering is chosen in one place. Only `data_format="channels_last"` is supported: inputs are
`(batch, *spatial, channels)`.

The rest of the family lives beside it: the options all convolutions share in `base_conv`,
the transposed convolutions in `conv_transpose`, the depthwise ones in `depthwise_conv`, the
depthwise-separable ones in `separable_conv`, and the window checks shared with the pooling
layers in `sliding_window`. Their layers are importable from here as well.
"""
from lamina.core.lowering import convolution
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.base_conv import _BaseConv
from lamina.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from lamina.layers.depthwise_conv import DepthwiseConv1D, DepthwiseConv2D
from lamina.layers.lora import LoRA
from lamina.layers.separable_conv import SeparableConv1D, SeparableConv2D
from lamina.layers.sliding_window import _label, positive_int


class _Conv(LoRA, _BaseConv):
    """`activation(conv(inputs, kernel) + bias)`; kernel shape (*kernel_size, in // groups,
    filters), bias shape (filters,)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        """Arguments (the weights are created on the first call, from the input shape).

        Args:
            filters: number of output channels.
            kernel_size: window size, an int or one int per spatial axis.
            strides: step of the window (default 1); > 1 cannot combine with
                `dilation_rate` > 1.
            padding: "valid" (no padding) or "same" (output length ceil(input / strides),
                padded as XLA/TensorFlow: an odd extra cell goes at the end); Conv1D also
                accepts "causal".
            data_format: None or "channels_last" (the only layout supported).
            dilation_rate: spacing between kernel taps (default 1).
            groups: split the input channels into `groups` groups convolved separately; the
                input channels and `filters` must both be divisible by it.
            activation: name or callable (default linear).
            use_bias: add a bias vector of size `filters`.
            kernel_initializer, bias_initializer: names, instances or callables.
            kernel_regularizer, bias_regularizer: penalties added to the loss while they
                train.
            kernel_constraint, bias_constraint: applied after each optimizer update.
            **kwargs: Layer arguments (name, trainable, dtype, activity_regularizer).
        """
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation,
                          use_bias)
        self.filters = positive_int(self, filters, "filters")
        self.groups = positive_int(self, groups, "groups")
        if self.filters % self.groups:
            raise ConfigurationError(
                f"{_label(self)}: `filters` must be divisible by `groups`, "
                f"received filters={self.filters} and groups={self.groups}.")
        self._init_weight_options("kernel", kernel_initializer, kernel_regularizer,
                                  kernel_constraint)
        self._init_weight_options("bias", bias_initializer, bias_regularizer, bias_constraint)

    def _build_weights(self, channels):
        if channels % self.groups:
            raise InputSpecError(
                f"{_label(self)}: the number of input channels must be divisible by "
                f"groups={self.groups}, received {channels} channels.")
        self.kernel = self._add(
            "kernel", self.kernel_size + (channels // self.groups, self.filters), "kernel")
        self.bias = self._add_bias(self.filters)
        self._enable_configured_lora()

    def _padding_argument(self):
        if self.padding != "causal":
            return self.padding
        # causal: pad only the start, so output step t sees input steps <= t
        return tuple(((k - 1) * d, 0)
                     for k, d in zip(self.kernel_size, self.dilation_rate, strict=True))

    def call(self, inputs):
        x = convolution.conv(inputs.astype(self.compute_dtype), self.lora_weight(), self.strides,
                             self._padding_argument(), self.dilation_rate, self.groups)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups,
                **self.lora_config()}


class Conv1D(_Conv):
    """1D convolution: (batch, steps, channels) -> (batch, new_steps, filters).

    Besides "valid" and "same", padding="causal" pads only the start, so output step t
    depends on input steps <= t (output length ceil(steps / strides)). Arguments: see
    `__init__`.
    """

    rank = 1
    _PADDINGS = ("valid", "same", "causal")


class Conv2D(_Conv):
    """2D convolution: (batch, height, width, channels) -> (batch, new_height, new_width,
    filters). Arguments: see `__init__`."""

    rank = 2


class Conv3D(_Conv):
    """3D convolution over (batch, depth, height, width, channels). Arguments: see
    `__init__`."""

    rank = 3


LAYERS = (Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
          DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
