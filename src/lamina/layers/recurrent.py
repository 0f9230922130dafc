"""Recurrent layers: RNN(cell), SimpleRNN, LSTM and GRU, run over time with `jax.lax.scan`.

Inputs are `(batch, timesteps, features)`. The cell's weights are read once, before the
scan, and its input projection is one matmul over the whole sequence; the scan body does
only the recurrent part (see `lamina.layers.rnn_cells`).

Semantics follow Keras 3 (JAX backend):
- `return_sequences`: the output at every step `(batch, timesteps, units)`, else the last
  output `(batch, units)`. `return_state`: a list `[output, *final_states]` (LSTM: h and c).
- `go_backwards`: the sequence is processed from its last step, and the returned sequence
  is in processing order (reversed), as Keras.
- `mask` `(batch, timesteps)` (True = valid): a masked step leaves the states unchanged and
  outputs the previous output (the first state; the initial state before any valid step),
  or zeros with `zero_output_for_mask=True` (returned sequences only). The output mask is
  the input mask when `return_sequences`, else None.
- `initial_state=`: a list with one `(batch, size)` array (or symbolic tensor) per state.
- `unroll=True` unrolls the scan fully (same results, longer compile, faster short loops).
- `stateful=True` is not supported: pass the final states back as `initial_state=`.

Differences from Keras, by design: a list of cells (StackedRNNCells) is refused (stack
layers with `return_sequences=True`); `zero_output_for_mask` changes only returned
sequences, never the last output; `unroll=True` keeps the scan's masking rule (Keras's
unrolled loop repeats zeros, not the initial state, for masked leading steps); dropout uses
one mask for all gates (Keras draws one per gate when `recurrent_dropout` is set).
"""

import jax
import jax.numpy as jnp

from lamina.core import registry
from lamina.core import scope as scope_lib
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, _Cell

MSG_STATEFUL = """\
{kind} '{name}': stateful=True is not supported by lamina: a layer's call is a pure function
of its inputs and weights. Carry the state yourself instead: call the layer with
return_state=True and pass the returned states as `initial_state=` to the next call."""


def _where(valid, new, old):
    """`new` where `valid` (batch,) is True, else `old`, for arrays of any rank."""
    return jnp.where(valid.reshape(valid.shape + (1,) * (new.ndim - 1)), new, old)


def scan_sequence(step, inputs, states, mask=None, go_backwards=False, unroll=False):
    """Run `step(x_t, states) -> (output_t, new_states)` over axis 1 of `inputs`.

    Returns `(outputs, final_states)`: outputs `(batch, timesteps, ...)` in processing order
    (reversed when `go_backwards`). Masked steps keep the states and repeat the previous
    output (the first state).
    """
    xs = jnp.swapaxes(inputs, 0, 1)
    if mask is None:
        def body(carry, x_t):
            output, new = step(x_t, carry)
            return list(new), output

        scan_xs = xs
    else:
        def body(carry, x_and_mask):
            x_t, valid = x_and_mask
            output, new = step(x_t, carry)
            new = [_where(valid, n, c) for n, c in zip(new, carry, strict=True)]
            return new, _where(valid, output, carry[0])

        scan_xs = (xs, jnp.swapaxes(mask, 0, 1))
    final, outputs = jax.lax.scan(body, list(states), scan_xs, reverse=go_backwards,
                                  unroll=bool(unroll))
    if go_backwards:
        outputs = jnp.flip(outputs, axis=0)
    return jnp.swapaxes(outputs, 0, 1), final


class RNN(Layer):
    """Runs a cell over the time axis (Keras's `keras.layers.RNN`).

    Args:
        cell: a cell layer: `SimpleRNNCell`, `LSTMCell`, `GRUCell`, or your own `Layer` with a
            `state_size` (int or list of ints) and `call(inputs, states[, training])`
            returning `(output, new_states)`; a cell of your own must not update variables
            (no dropout), because its call runs inside the scan.
        return_sequences, return_state, go_backwards, unroll, zero_output_for_mask: see the
            module docstring.
        stateful: only False (see the module docstring).

    Call arguments: `sequences` (batch, timesteps, features), `initial_state=` (a list of
    arrays), `mask=` (batch, timesteps) booleans, `training=`.
    """

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ConfigurationError(
                f"{kind} '{self.name}': expected a cell layer with a `state_size` attribute "
                f"and `call(inputs, states)`, received {cell!r} (of type "
                f"{type(cell).__name__}). Stacks of cells (a list) are not supported: stack "
                "RNN layers with return_sequences=True instead.")
        if stateful:
            raise ConfigurationError(MSG_STATEFUL.format(kind=kind, name=self.name))
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        size = cell.state_size
        self.state_size = list(size) if isinstance(size, (list, tuple)) else [size]

    def _label(self):
        return f"{type(self).__name__} '{self.name}'"

    # -- building and checks -----------------------------------------------------------
    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 3:
            raise InputSpecError(
                f"{self._label()}: expected a 3-D input (batch, timesteps, features), received "
                f"shape {input_shape}. A sequence of vectors needs a time axis: reshape "
                "(batch, features) to (batch, 1, features), or use Dense for single vectors.")
        self.input_dim = input_shape[-1]
        if not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1]))
            self.cell.built = True

    def check_input(self, inputs):
        if inputs.ndim != 3 or inputs.shape[-1] != self.input_dim:
            raise InputSpecError(
                f"{self._label()}: expected input of shape (batch, timesteps, {self.input_dim}), "
                f"received shape {tuple(inputs.shape)}.")

    def _initial_states(self, initial_state, batch):
        expected = [(batch, size) for size in self.state_size]
        if initial_state is None:
            if hasattr(self.cell, "get_initial_state"):
                return list(self.cell.get_initial_state(batch))
            return [jnp.zeros(shape, self.compute_dtype) for shape in expected]
        states = (list(initial_state) if isinstance(initial_state, (list, tuple))
                  else [initial_state])
        if len(states) != len(expected):
            raise InputSpecError(
                f"{self._label()}: expected `initial_state` to be a list of {len(expected)} "
                f"array(s) of shapes {expected}, received {len(states)} array(s).")
        for i, (state, shape) in enumerate(zip(states, expected, strict=True)):
            if tuple(jnp.shape(state)) != shape:
                raise InputSpecError(
                    f"{self._label()}: expected initial_state[{i}] of shape {shape} "
                    f"(batch, state size), received shape {tuple(jnp.shape(state))}.")
        return [jnp.asarray(s, self.compute_dtype) for s in states]

    def _check_mask(self, mask, inputs):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is None:
            return None
        if tuple(jnp.shape(mask)) != tuple(inputs.shape[:2]):
            raise InputSpecError(
                f"{self._label()}: expected a mask of shape (batch, timesteps) = "
                f"{tuple(inputs.shape[:2])}, received shape {tuple(jnp.shape(mask))}.")
        return jnp.asarray(mask).astype(bool)

    # -- running -----------------------------------------------------------------------
    def _cell_functions(self, batch, training):
        """(project, step) of the cell: built-in cells read their weights once here."""
        if isinstance(self.cell, _Cell):
            with scope_lib.as_part_of(self.cell, training):
                return self.cell.step_functions(batch, training)

        def step(x_t, states):
            output, new = self.cell(x_t, list(states), training=training)
            return output, list(new) if isinstance(new, (list, tuple)) else [new]

        return (lambda x: x), step

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences.astype(self.compute_dtype)
        batch = x.shape[0]
        states = self._initial_states(initial_state, batch)
        mask = self._check_mask(mask, x)
        project, step = self._cell_functions(batch, training)
        outputs, final = scan_sequence(step, project(x), states, mask, self.go_backwards,
                                       self.unroll)
        if self.return_sequences:
            output = outputs
            if mask is not None and self.zero_output_for_mask:
                in_order = jnp.flip(mask, axis=1) if self.go_backwards else mask
                output = jnp.where(in_order[..., None], outputs, 0.0).astype(outputs.dtype)
        else:
            output = outputs[:, -1]
        return [output, *final] if self.return_state else output

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def get_initial_state(self, batch_size):
        return self._initial_states(None, batch_size)

    # -- config ------------------------------------------------------------------------
    def _rnn_config(self):
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}

    def get_config(self):
        return {**super().get_config(), **self._rnn_config(),
                "cell": registry.serialize(self.cell)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(registry.deserialize(config.pop("cell")), **config)


# the cell arguments that SimpleRNN, LSTM and GRU pass on by keyword
_CELL_ARGUMENTS = (
    "activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint", "dropout", "recurrent_dropout", "seed",
)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


class _CellLayer(RNN):
    """An RNN that builds its own cell from Keras's flat arguments (SimpleRNN, LSTM, GRU)."""

    cell_class = None
    cell_name = None
    extra_cell_arguments = ()  # cell-specific arguments kept in the flat config

    def __init__(self, units, use_cudnn="auto", **kwargs):
        if use_cudnn not in ("auto", False):
            raise ConfigurationError(
                f"{type(self).__name__}: use_cudnn={use_cudnn!r} is not available in lamina "
                "(the layer runs as an XLA scan everywhere); pass use_cudnn='auto' or False.")
        cell_kwargs = {k: kwargs.pop(k) for k in _CELL_ARGUMENTS + self.extra_cell_arguments
                       if k in kwargs}
        cell = self.cell_class(units, name=self.cell_name, dtype=kwargs.get("dtype"),
                               **cell_kwargs)
        super().__init__(cell, **kwargs)

    units = _cell_property("units")
    activation = _cell_property("activation")
    use_bias = _cell_property("use_bias")
    dropout = _cell_property("dropout")
    recurrent_dropout = _cell_property("recurrent_dropout")

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key)
        return {**Layer.get_config(self), **self._rnn_config(), **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SimpleRNN(_CellLayer):
    """A fully connected RNN whose output is fed back as its input (see `SimpleRNNCell`).

    Args: `units`, `activation` ("tanh"), `use_bias`, then the cell's initializers,
    regularizers, constraints, `dropout`, `recurrent_dropout`, `seed`, and the `RNN`
    arguments (`return_sequences`, `return_state`, `go_backwards`, `unroll`, ...).
    """

    cell_class, cell_name = SimpleRNNCell, "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)


class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter 1997); see `LSTMCell` for the equations and
    weights. `return_state=True` returns `[output, h, c]`.

    Args: `units`, `activation` ("tanh"), `recurrent_activation` ("sigmoid"), `use_bias`,
    `unit_forget_bias` (True), the cell's initializers, regularizers, constraints,
    `dropout`, `recurrent_dropout`, `seed`, the `RNN` arguments, and `use_cudnn` ("auto" or
    False only: there is no separate cuDNN path).
    """

    cell_class, cell_name = LSTMCell, "lstm_cell"
    extra_cell_arguments = ("recurrent_activation", "unit_forget_bias")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)

    recurrent_activation = _cell_property("recurrent_activation")
    unit_forget_bias = _cell_property("unit_forget_bias")


class GRU(_CellLayer):
    """Gated Recurrent Unit layer (Cho et al. 2014); see `GRUCell` for the equations, the
    weights and `reset_after` (default True, with a (2, 3 * units) bias).

    Args: `units`, `activation` ("tanh"), `recurrent_activation` ("sigmoid"), `use_bias`,
    `reset_after` (True), the cell's initializers, regularizers, constraints, `dropout`,
    `recurrent_dropout`, `seed`, the `RNN` arguments, and `use_cudnn` ("auto" or False).
    """

    cell_class, cell_name = GRUCell, "gru_cell"
    extra_cell_arguments = ("recurrent_activation", "reset_after")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)

    recurrent_activation = _cell_property("recurrent_activation")
    reset_after = _cell_property("reset_after")


LAYERS = (RNN, SimpleRNN, LSTM, GRU)
