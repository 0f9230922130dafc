"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU, with Keras 3 weights.

A cell's `call(inputs, states, training=False)` computes one step, as in Keras: `inputs` is
`(batch, features)`, `states` a list of `(batch, units)` arrays, and it returns
`(output, new_states)`. To run a whole sequence, the `RNN` layer asks the cell for
`step_functions(batch_size, training)`, which reads the weights once and draws the dropout
masks once, and returns two pure functions:

- `project(x)`: the input part of every gate, `x @ kernel + bias`, for one step
  `(batch, features)` or a whole sequence `(batch, timesteps, features)` in one matmul;
- `step(projected_t, states) -> (output, new_states)`: the recurrent part of one step.

Weights (names, shapes and gate order as Keras 3, so `get_weights()` interchanges with it):

| cell          | kernel          | recurrent_kernel | bias                            | gates   |
|---------------|-----------------|------------------|---------------------------------|---------|
| SimpleRNNCell | (features, u)   | (u, u)           | (u,)                            | -       |
| LSTMCell      | (features, 4u)  | (u, 4u)          | (4u,)                           | i f c o |
| GRUCell       | (features, 3u)  | (u, 3u)          | (2, 3u) reset_after, else (3u,) | z r h   |

Dropout (`dropout` on the inputs, `recurrent_dropout` on the previous output) draws one mask
per call of the layer and uses it at every time step and for every gate, only when training.
"""
import jax
import jax.numpy as jnp
import numpy as np

from lamina import activations, constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import AbstractMethodError, ConfigurationError, InputSpecError
from lamina.random import SeedGenerator


def dropout_mask(layer, rate, shape):
    """A scaled keep-mask of `shape` drawn from `layer.seed_generator` (one per sequence:
    the same mask at every time step, as the recurrent layers use it)."""
    keep = jax.random.bernoulli(layer.seed_generator.next(), 1.0 - rate, shape)
    return keep.astype(layer.compute_dtype) / (1.0 - rate)


def _check_rate(layer, name, rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) or not (
            0.0 <= rate < 1.0):
        raise ConfigurationError(
            f"{type(layer).__name__} '{layer.name}': expected 0 <= {name} < 1, "
            f"received {rate!r}.")
    return float(rate)


class _Cell(Layer):
    """Shared by the three cells: arguments, weights, dropout masks, config."""

    gates = 1  # blocks of `units` columns in the kernels

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ConfigurationError(
                f"{type(self).__name__} '{self.name}': expected a positive integer "
                f"`units`, received {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _check_rate(self, "dropout", dropout)
        self.recurrent_dropout = _check_rate(self, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = (SeedGenerator(seed, owner=self)
                               if self.dropout or self.recurrent_dropout else None)
        self.output_size = units

    # -- weights -----------------------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 2:
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected one time step of shape "
                f"(batch, features), received shape {tuple(input_shape)}. To run a sequence, "
                f"wrap the cell: lamina.layers.RNN(cell).")
        self.input_dim = input_shape[-1]
        width = self.gates * self.units
        self.kernel = self.add_weight(
            (self.input_dim, width), self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            (self.units, width), self.recurrent_initializer, name="recurrent_kernel",
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = (self.add_weight(self._bias_shape(), self._bias_init(), name="bias",
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def _split_bias(self, bias):
        """(input bias, recurrent bias) from the bias value (None without bias)."""
        return bias, None

    def check_input(self, inputs):
        if inputs.ndim != 2 or inputs.shape[-1] != self.input_dim:
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected one time step of shape "
                f"(batch, {self.input_dim}), received shape {tuple(inputs.shape)}.")

    # -- computation -------------------------------------------------------------------
    def step_functions(self, batch_size, training):
        """`(project, step)` for `batch_size` sequences (see the module docstring)."""
        kernel, recurrent = self.kernel.value, self.recurrent_kernel.value
        input_bias, recurrent_bias = self._split_bias(
            self.bias.value if self.bias is not None else None)
        input_mask = recurrent_mask = None
        if training and self.dropout:
            input_mask = dropout_mask(self, self.dropout, (batch_size, self.input_dim))
        if training and self.recurrent_dropout:
            recurrent_mask = dropout_mask(self, self.recurrent_dropout, (batch_size, self.units))

        def project(x):  # (batch, [timesteps,] features) -> (batch, [timesteps,] gates * units)
            x = x.astype(self.compute_dtype)
            if input_mask is not None:  # the same mask at every time step
                x = x * input_mask.reshape((batch_size,) + (1,) * (x.ndim - 2) + (-1,))
            x = jnp.matmul(x, kernel)
            return x if input_bias is None else x + input_bias

        return project, self._make_step(recurrent, recurrent_bias, recurrent_mask)

    def _make_step(self, recurrent, recurrent_bias, recurrent_mask):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `_make_step(self, recurrent, "
            "recurrent_bias, recurrent_mask)`: expected every subclass of _Cell to define it.")

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = [jnp.asarray(s, self.compute_dtype) for s in (states if nested else [states])]
        project, step = self.step_functions(inputs.shape[0], training)
        output, new_states = step(project(inputs), states)
        if not nested and len(new_states) == 1:
            return output, new_states[0]
        return output, new_states

    def get_initial_state(self, batch_size):
        """Zero states: a list of `(batch_size, units)` arrays."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [jnp.zeros((batch_size, size), self.compute_dtype) for size in sizes]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def _masked(h, mask):
    return h if mask is None else h * mask


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: `h = activation(x @ kernel + h_prev @
    recurrent_kernel + bias)`; the output is `h`, the only state.

    Args:
        units: size of the output and of the state.
        activation: default "tanh".
        use_bias, kernel_initializer, recurrent_initializer ("orthogonal"), bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint: as Keras.
        dropout, recurrent_dropout: rates in [0, 1) on the inputs / the previous output.
        seed: makes the dropout masks reproducible.
    """

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.state_size = units

    def _make_step(self, recurrent, recurrent_bias, recurrent_mask):
        def step(x, states):
            h = self.activation(x + jnp.matmul(_masked(states[0], recurrent_mask), recurrent))
            return h, [h]

        return step


class LSTMCell(_Cell):
    """One step of a Long Short-Term Memory (Hochreiter 1997), with Keras's gate order i, f,
    c, o in the columns of `kernel`, `recurrent_kernel` and `bias`:

        i, f, g, o = split(x @ kernel + h @ recurrent_kernel + bias, 4)
        c' = rec_act(f) * c + rec_act(i) * act(g);  h' = rec_act(o) * act(c')

    States `[h, c]`; the output is `h`.

    Args:
        units: size of the output and of each state.
        activation: default "tanh"; recurrent_activation: default "sigmoid".
        unit_forget_bias: add 1 to the forget-gate bias at initialisation (default True).
        The other arguments are those of `SimpleRNNCell`.
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [units, units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def forget_gate_ones(shape, dtype):
            return jnp.concatenate([jnp.asarray(base((units,), dtype)), jnp.ones((units,), dtype),
                                    jnp.asarray(base((2 * units,), dtype))])

        return forget_gate_ones

    def _make_step(self, recurrent, recurrent_bias, recurrent_mask):
        act, rec_act = self.activation, self.recurrent_activation

        def step(x, states):
            h, c = states
            i, f, g, o = jnp.split(x + jnp.matmul(_masked(h, recurrent_mask), recurrent), 4,
                                   axis=-1)
            c = rec_act(f) * c + rec_act(i) * act(g)
            h = rec_act(o) * act(c)
            return h, [h, c]

        return step

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """One step of a Gated Recurrent Unit (Cho et al. 2014), with Keras's gate order z, r, h:

        z = rec_act(x_z + h @ R_z);  r = rec_act(x_r + h @ R_r)
        reset_after=True (default, cuDNN-compatible): hh = act(x_h + r * (h @ R_h + b_rh))
        reset_after=False:                            hh = act(x_h + (r * h) @ R_h)
        h' = z * h + (1 - z) * hh

    With `reset_after=True` the bias has shape (2, 3 * units): row 0 for the inputs, row 1
    for the recurrent part. The state is `h`, also the output.

    Args:
        units: size of the output and of the state.
        activation: default "tanh"; recurrent_activation: default "sigmoid".
        reset_after: where the reset gate applies (see above).
        The other arguments are those of `SimpleRNNCell`.
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        self.state_size = units

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _split_bias(self, bias):
        if bias is None or not self.reset_after:
            return bias, None
        return bias[0], bias[1]

    def _make_step(self, recurrent, recurrent_bias, recurrent_mask):
        act, rec_act, units = self.activation, self.recurrent_activation, self.units

        def step(x, states):
            h = states[0]
            h_dropped = _masked(h, recurrent_mask)
            x_z, x_r, x_h = jnp.split(x, 3, axis=-1)
            if self.reset_after:
                inner = jnp.matmul(h_dropped, recurrent)
                if recurrent_bias is not None:
                    inner = inner + recurrent_bias
                r_z, r_r, r_h = jnp.split(inner, 3, axis=-1)
                z, r = rec_act(x_z + r_z), rec_act(x_r + r_r)
                candidate = act(x_h + r * r_h)
            else:
                r_z, r_r = jnp.split(jnp.matmul(h_dropped, recurrent[:, :2 * units]), 2, axis=-1)
                z, r = rec_act(x_z + r_z), rec_act(x_r + r_r)
                candidate = act(x_h + jnp.matmul(r * h_dropped, recurrent[:, 2 * units:]))
            h = z * h + (1.0 - z) * candidate
            return h, [h]

        return step

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


LAYERS = (SimpleRNNCell, LSTMCell, GRUCell)
