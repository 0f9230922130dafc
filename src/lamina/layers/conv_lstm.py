"""ConvLSTM1D/2D/3D (Shi et al., 2015), as Keras 3's layers: an LSTM whose input and
recurrent transformations are convolutions.

Inputs `(batch, time, *spatial, channels)` (channels_last). The input convolution of every
time step runs as one convolution over `batch * time` images before the scan; the scan body
does only the recurrent convolution (stride 1, "same") and the gates. Gates i, f, c, o as in
Keras: `c = f * c + i * act(x_c + h_c)`, `h = o * act(c)`.

Weights (Keras's names, shapes and order): `kernel (*window, channels, 4 * filters)`,
`recurrent_kernel (*window, filters, 4 * filters)`, `bias (4 * filters,)`. Masks
`(batch, time)` follow lamina's RNNs (a masked step keeps the states; `zero_output_for_mask`
zeroes its returned output). Differences from
Keras, by design (as lamina's RNNs): `stateful=True` is refused; dropout draws one input mask
and one recurrent mask per sequence, shared by the four gates (Keras draws one per gate).
"""
import jax.numpy as jnp

from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.core.lowering import convolution
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.recurrent import MSG_STATEFUL, scan_sequence
from lamina.layers.rnn_cells import _check_rate, dropout_mask
from lamina.layers.sliding_window import (
    check_data_format,
    check_padding,
    normalize_tuple,
    output_length,
)
from lamina.random import SeedGenerator


class _ConvLSTM(Layer):
    rank = None
    supports_masking = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False,
                 **kwargs):
        super().__init__(**kwargs)
        label = f"{type(self).__name__} '{self.name}'"
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ConfigurationError(f"{label}: expected a positive integer `filters`, "
                                     f"received {filters!r}.")
        if stateful:
            raise ConfigurationError(MSG_STATEFUL.format(kind=type(self).__name__,
                                                         name=self.name))
        self.filters = filters
        self.kernel_size = normalize_tuple(self, kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(self, strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(self, dilation_rate, self.rank, "dilation_rate")
        self.padding = check_padding(self, padding, ("valid", "same"))
        self.data_format = check_data_format(self, data_format)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        for kind, init, reg, con in (
                ("kernel", kernel_initializer, kernel_regularizer, kernel_constraint),
                ("recurrent", recurrent_initializer, recurrent_regularizer,
                 recurrent_constraint),
                ("bias", bias_initializer, bias_regularizer, bias_constraint)):
            setattr(self, f"{kind}_initializer", initializers.get(init))
            setattr(self, f"{kind}_regularizer", regularizers.get(reg))
            setattr(self, f"{kind}_constraint", constraints.get(con))
        self.dropout = _check_rate(self, "dropout", dropout)
        self.recurrent_dropout = _check_rate(self, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = (SeedGenerator(seed, owner=self)
                               if self.dropout or self.recurrent_dropout else None)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)

    # -- weights -----------------------------------------------------------------------
    def _check_shape(self, shape):
        if len(shape) != self.rank + 3:
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected inputs of rank {self.rank + 3} "
                f"(batch, time, {', '.join(['spatial'] * self.rank)}, channels), received "
                f"shape {tuple(shape)}.")

    def _spatial_output(self, spatial):
        return tuple(output_length(n, k, s, d, self.padding) for n, k, s, d in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True))

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.input_channels = int(input_shape[-1])
        width = 4 * self.filters
        self.kernel = self.add_weight(
            self.kernel_size + (self.input_channels, width), self.kernel_initializer,
            name="kernel", regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            self.kernel_size + (self.filters, width), self.recurrent_initializer,
            name="recurrent_kernel", regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = (self.add_weight((width,), self._bias_init(), name="bias",
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, filters = self.bias_initializer, self.filters

        def forget_gate_ones(shape, dtype="float32"):
            values = jnp.asarray(base((4 * filters,), dtype))
            return values.at[filters:2 * filters].set(1)
        return forget_gate_ones

    def check_input(self, inputs):
        self._check_shape(inputs.shape)
        if inputs.shape[-1] != self.input_channels:
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected {self.input_channels} input "
                f"channels (the last axis), received shape {tuple(inputs.shape)}.")

    # -- running -----------------------------------------------------------------------
    def _project(self, x, training):
        """The input convolution of every time step: (B, T, *S, C) -> (B, T, *S', 4F)."""
        batch, steps = x.shape[:2]
        if training and self.dropout:
            x = x * dropout_mask(self, self.dropout, (batch, 1) + x.shape[2:])
        flat = x.reshape((batch * steps,) + x.shape[2:])
        y = convolution.conv(flat, self.kernel.value, self.strides, self.padding,
                             self.dilation_rate)
        if self.bias is not None:
            y = y + self.bias.value
        return y.reshape((batch, steps) + y.shape[1:])

    def _step_function(self, state_shape, training):
        recurrent = self.recurrent_kernel.value
        recurrent_mask = (dropout_mask(self, self.recurrent_dropout, state_shape)
                          if training and self.recurrent_dropout else None)
        ones = (1,) * self.rank

        def step(x_t, states):
            h, c = states
            if recurrent_mask is not None:
                h = h * recurrent_mask
            z = x_t + convolution.conv(h, recurrent, ones, "same", ones)
            i, f, g, o = jnp.split(z, 4, axis=-1)
            i, f, o = (self.recurrent_activation(v) for v in (i, f, o))
            c = f * c + i * self.activation(g)
            h = o * self.activation(c)
            return h, [h, c]
        return step

    def call(self, inputs, initial_state=None, mask=None, training=False):
        x = inputs.astype(self.compute_dtype)
        batch = x.shape[0]
        state_shape = (batch,) + self._spatial_output(x.shape[2:-1]) + (self.filters,)
        if initial_state is None:
            states = [jnp.zeros(state_shape, self.compute_dtype)] * 2
        else:
            states = [jnp.asarray(s, self.compute_dtype) for s in initial_state]
            if len(states) != 2 or any(s.shape != state_shape for s in states):
                raise InputSpecError(
                    f"{type(self).__name__} '{self.name}': expected `initial_state` to be two "
                    f"arrays (h, c) of shape {state_shape}, received shapes "
                    f"{[tuple(s.shape) for s in states]}.")
        if mask is not None:
            mask = jnp.asarray(mask).astype(bool)
        outputs, final = scan_sequence(self._step_function(state_shape, training),
                                       self._project(x, training), states, mask,
                                       self.go_backwards, self.unroll)
        output = outputs if self.return_sequences else outputs[:, -1]
        if self.return_sequences and mask is not None and self.zero_output_for_mask:
            in_order = jnp.flip(mask, axis=1) if self.go_backwards else mask
            valid = in_order.reshape(in_order.shape + (1,) * (outputs.ndim - 2))
            output = jnp.where(valid, outputs, 0.0).astype(outputs.dtype)
        return [output, *final] if self.return_state else output

    def compute_mask(self, inputs, previous_mask):
        """The input's (batch, time) mask for returned sequences, as Keras's RNNs."""
        mask = self.return_sequences and previous_mask is not None and previous_mask or None
        return [mask, None, None] if self.return_state else mask

    def get_config(self):
        config = {"filters": self.filters, "kernel_size": self.kernel_size,
                  "strides": self.strides, "padding": self.padding,
                  "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                  "activation": activations.serialize(self.activation),
                  "recurrent_activation": activations.serialize(self.recurrent_activation),
                  "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
                  "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                  "seed": self.seed, "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards,
                  "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}
        for kind in ("kernel", "recurrent", "bias"):
            config[f"{kind}_initializer"] = initializers.serialize(
                getattr(self, f"{kind}_initializer"))
            config[f"{kind}_regularizer"] = regularizers.serialize(
                getattr(self, f"{kind}_regularizer"))
            config[f"{kind}_constraint"] = constraints.serialize(
                getattr(self, f"{kind}_constraint"))
        return {**super().get_config(), **config}


class ConvLSTM1D(_ConvLSTM):
    """ConvLSTM over `(batch, time, steps, channels)` sequences of 1D signals."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """ConvLSTM over `(batch, time, rows, cols, channels)` sequences of images."""

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """ConvLSTM over `(batch, time, depth, rows, cols, channels)` sequences of volumes."""

    rank = 3


LAYERS = (ConvLSTM1D, ConvLSTM2D, ConvLSTM3D)
