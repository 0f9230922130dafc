"""`_BaseConv`: the options every convolution layer shares (window, padding, weight options,
bias and activation), its shape checks, build and config.

The layers themselves are in `convolutional` (Conv1D/2D/3D), `conv_transpose`,
`depthwise_conv` and `separable_conv`.
"""
from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.sliding_window import (
    _label,
    check_data_format,
    check_output_size,
    check_padding,
    check_rank,
    normalize_tuple,
    output_length,
)


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
            raise ConfigurationError(
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
            spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True)]

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

