"""Convolution layers over channels-last inputs, with Keras 3 names, arguments and weights.

Conv1D/2D/3D, Conv1DTranspose/2DTranspose/3DTranspose, DepthwiseConv1D/2D and
SeparableConv1D/2D. Every forward convolution goes through `lamina.ops.convolution.conv`,
where the lowering is chosen in one place; transposed convolutions use
`jax.lax.conv_transpose` with Keras's padding arithmetic, so output shapes and values match
Keras for the same weights.

Only `data_format="channels_last"` is supported: inputs are `(batch, *spatial, channels)`.
The window helpers at the top (argument checks, output lengths) are shared with the pooling
layers.
"""
import jax
import numpy as np

from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import InputSpecError
from lamina.ops import convolution

_SPATIAL = {1: "steps", 2: "height, width", 3: "depth, height, width"}


def _label(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def normalize_tuple(layer, value, rank, arg, minimum=1):
    """`value` (one int, or `rank` ints) as a tuple of `rank` Python ints >= `minimum`."""
    values = (value,) * rank if _is_int(value) else value
    if not (isinstance(values, (tuple, list)) and len(values) == rank
            and all(_is_int(v) and v >= minimum for v in values)):
        raise ValueError(
            f"{_label(layer)}: expected `{arg}` to be an integer >= {minimum} or a tuple of "
            f"{rank} such integers, received {arg}={value!r}.")
    return tuple(int(v) for v in values)


def positive_int(layer, value, arg):
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{_label(layer)}: expected a positive integer `{arg}`, received "
                         f"{arg}={value!r}.")
    return int(value)


def check_data_format(layer, data_format):
    """Only channels-last is implemented; channels-first is refused, never ignored."""
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{_label(layer)}: only data_format='channels_last' (inputs of shape "
            f"(batch, *spatial, channels)) is supported, received data_format={data_format!r}. "
            "Move the channels axis last first, e.g. with jnp.moveaxis(x, 1, -1).")
    return "channels_last"


def check_padding(layer, padding, allowed):
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(f"{_label(layer)}: expected `padding` to be one of "
                         f"{', '.join(repr(p) for p in allowed)}, received padding={padding!r}.")
    return value


def check_rank(layer, shape, rank):
    """Raise unless `shape` is `(batch, *spatial, channels)` with `rank` spatial axes."""
    if len(shape) != rank + 2:
        raise InputSpecError(
            f"{_label(layer)}: expected an input of rank {rank + 2} (batch, {_SPATIAL[rank]}, "
            f"channels), received shape {tuple(shape)} (rank {len(shape)}).")


def output_length(length, window, stride, dilation, padding):
    """Keras's output length of a convolution or pooling along one axis (None stays None)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - (window - 1) * dilation - 1) // stride + 1
    return -(-length // stride)  # "same", and "causal" (left padding, then "valid")


def check_output_size(layer, shape, spatial_out, window):
    """Raise when an output axis would be empty (`window` describes the window options)."""
    if any(n is not None and n <= 0 for n in spatial_out):
        raise InputSpecError(
            f"{_label(layer)}: the input of shape {tuple(shape)} is too small for {window} with "
            f"padding '{layer.padding}': the output would have spatial shape "
            f"{tuple(spatial_out)}. Use a larger input, a smaller window, or padding='same'.")


def _dimension_numbers(rank):
    spatial = "DHW"[-rank:]
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


def _depthwise(x, kernel, strides, padding, dilation_rate):
    """Per-channel convolution with a kernel of shape (*window, in, multiplier)."""
    channels, multiplier = kernel.shape[-2:]
    # output channel c * multiplier + m is input channel c convolved with kernel[..., c, m]
    kernel = kernel.reshape(kernel.shape[:-2] + (1, channels * multiplier))
    return convolution.conv(x, kernel, strides, padding, dilation_rate, groups=channels)


class _BaseConv(Layer):
    """Options shared by every convolution: window, padding, weight options, bias and
    activation. Subclasses set `rank` and define `_build_weights(channels)` and `call`."""

    rank = None
    _PADDINGS = ("valid", "same")

    def _init_common(self, kernel_size, strides, padding, data_format, dilation_rate,
                     activation, use_bias):
        self.kernel_size = normalize_tuple(self, kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(self, strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(self, dilation_rate, self.rank, "dilation_rate")
        self.padding = check_padding(self, padding, self._PADDINGS)
        self.data_format = check_data_format(self, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{_label(self)}: `strides` > 1 cannot be combined with `dilation_rate` > 1 "
                f"(as in Keras), received strides={self.strides} and "
                f"dilation_rate={self.dilation_rate}. Set one of them to 1.")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self._weight_options = []

    def _init_weight_options(self, prefix, initializer, regularizer, constraint):
        """Resolve `<prefix>_initializer`, `_regularizer` and `_constraint` once."""
        setattr(self, f"{prefix}_initializer", initializers.get(initializer))
        setattr(self, f"{prefix}_regularizer", regularizers.get(regularizer))
        setattr(self, f"{prefix}_constraint", constraints.get(constraint))
        self._weight_options.append(prefix)

    def _add(self, prefix, shape, name):
        return self.add_weight(shape, getattr(self, f"{prefix}_initializer"), name=name,
                               regularizer=getattr(self, f"{prefix}_regularizer"),
                               constraint=getattr(self, f"{prefix}_constraint"))

    # -- shapes ----------------------------------------------------------------------
    def _spatial_output(self, spatial):
        return [output_length(n, k, s, d, self.padding) for n, k, s, d in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate)]

    def _check_shape(self, shape):
        check_rank(self, shape, self.rank)
        if shape[-1] is None:
            raise InputSpecError(f"{_label(self)}: the channels axis (the last) of the input "
                                 f"must be known, received shape {tuple(shape)}.")
        window = (f"kernel_size {self.kernel_size}, strides {self.strides} and dilation_rate "
                  f"{self.dilation_rate}")
        check_output_size(self, shape, self._spatial_output(shape[1:-1]), window)

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.input_channels = int(input_shape[-1])
        self._build_weights(self.input_channels)

    def check_input(self, inputs):
        self._check_shape(inputs.shape)
        if inputs.shape[-1] != self.input_channels:
            raise InputSpecError(
                f"{_label(self)}: expected {self.input_channels} input channels (the last axis), "
                f"received shape {tuple(inputs.shape)}.")

    # -- output and config ---------------------------------------------------------------
    def _add_bias(self, size):
        return self._add("bias", (size,), "bias") if self.use_bias else None

    def _finish(self, x):
        if self.bias is not None:
            x = x + self.bias.value
        return self.activation(x)

    def get_config(self):
        config = {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        for prefix in self._weight_options:
            config[f"{prefix}_initializer"] = initializers.serialize(
                getattr(self, f"{prefix}_initializer"))
            config[f"{prefix}_regularizer"] = regularizers.serialize(
                getattr(self, f"{prefix}_regularizer"))
            config[f"{prefix}_constraint"] = constraints.serialize(
                getattr(self, f"{prefix}_constraint"))
        return config


class _Conv(_BaseConv):
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
            raise ValueError(f"{_label(self)}: `filters` must be divisible by `groups`, "
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

    def _padding_argument(self):
        if self.padding != "causal":
            return self.padding
        # causal: pad only the start, so output step t sees input steps <= t
        return tuple(((k - 1) * d, 0) for k, d in zip(self.kernel_size, self.dilation_rate))

    def call(self, inputs):
        x = convolution.conv(inputs.astype(self.compute_dtype), self.kernel.value, self.strides,
                             self._padding_argument(), self.dilation_rate, self.groups)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


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
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(
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
            spatial, self.kernel_size, self.strides, self.dilation_rate, self._output_paddings())]

    def _build_weights(self, channels):
        self.kernel = self._add("kernel", self.kernel_size + (self.filters, channels), "kernel")
        self.bias = self._add_bias(self.filters)

    def call(self, inputs):
        padding = [_transpose_padding(k, s, d, self.padding, p) for k, s, d, p in zip(
            self.kernel_size, self.strides, self.dilation_rate, self._output_paddings())]
        x = jax.lax.conv_transpose(
            inputs.astype(self.compute_dtype), self.kernel.value, self.strides, padding,
            rhs_dilation=self.dilation_rate, dimension_numbers=_dimension_numbers(self.rank),
            transpose_kernel=True)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "output_padding": self.output_padding}


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
        x = _depthwise(inputs.astype(self.compute_dtype), self.kernel.value, self.strides, self.padding,
                       self.dilation_rate)
        return self._finish(x)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


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


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1D convolution over (batch, steps, channels); kernel (k, in, multiplier)."""

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2D convolution over (batch, height, width, channels); kernel
    (kh, kw, in, depth_multiplier). Arguments: see `__init__`."""

    rank = 2


class SeparableConv1D(_SeparableConv):
    """Depthwise-separable 1D convolution over (batch, steps, channels)."""

    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise-separable 2D convolution over (batch, height, width, channels). Arguments
    and weights: see `__init__`."""

    rank = 2


LAYERS = (Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
          DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
