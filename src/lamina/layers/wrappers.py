"""Wrappers: Bidirectional (an RNN run both ways) and TimeDistributed (a layer per time step)."""
import jax
import jax.numpy as jnp

from lamina.core import registry
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _clone(layer, **changes):
    return type(layer).from_config({**layer.get_config(), **changes})


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    As in Keras, the wrapped `layer` is only a template: `forward_layer` and `backward_layer`
    are fresh layers made from its config (named "forward_<name>" and "backward_<name>", the
    backward one with `go_backwards=True`), so their weights are new. The backward outputs
    are flipped back to input order before merging, and `get_weights()` lists the forward
    layer's weights, then the backward layer's.

    Args:
        layer: an RNN layer (LSTM, GRU, SimpleRNN, RNN) or any sequence layer with
            `go_backwards`, `return_sequences` and `return_state` attributes.
        merge_mode: "concat" (default), "sum", "mul", "ave", or None for a list
            `[forward, backward]`.
        backward_layer: use this layer (as is) for the backward direction; it must have
            `go_backwards` opposite to `layer` and the same `return_sequences` and
            `return_state`.

    Call arguments: `sequences`, `initial_state=` (the forward states, then the backward
    ones), `mask=`, `training=`. With `return_state`, returns
    `[output(s)..., *forward_states, *backward_states]`. Masked steps of returned sequences
    are zeros (both directions get `zero_output_for_mask = return_sequences`, as Keras).
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        for what, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is not None and not isinstance(value, Layer):
                raise ConfigurationError(
                    f"Bidirectional '{self.name}': expected `{what}` to be a "
                    f"Layer, received {value!r} (of type {type(value).__name__}).")
        if merge_mode not in _MERGE_MODES:
            raise ConfigurationError(
                f"Bidirectional '{self.name}': expected merge_mode in "
                f"{list(_MERGE_MODES)}, received {merge_mode!r}.")
        self.merge_mode = merge_mode
        self.forward_layer = _clone(layer, name="forward_" + layer.name.removeprefix("forward_"))
        self.backward_layer = backward_layer if backward_layer is not None else _clone(
            layer, name="backward_" + layer.name.removeprefix("backward_"), go_backwards=True)
        self._check_directions()
        for direction in (self.forward_layer, self.backward_layer):
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state

    def _check_directions(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ConfigurationError(
                f"Bidirectional '{self.name}': expected the forward and backward layers to have "
                f"different `go_backwards`, received {forward.go_backwards} for both.")
        for attribute in ("return_sequences", "return_state"):
            f, b = getattr(forward, attribute), getattr(backward, attribute)
            if f != b:
                raise ConfigurationError(
                    f"Bidirectional '{self.name}': expected the forward and backward layers to "
                    f"have the same `{attribute}`, received {f} (forward) and {b} (backward).")

    def build(self, input_shape):
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(input_shape)
                direction.built = True

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return jnp.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "mul":
            return y * y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        return [y, y_rev]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        kwargs = {"training": training}
        if mask is not None and self.forward_layer._call_takes_mask:
            kwargs["mask"] = mask
        forward_kwargs, backward_kwargs = dict(kwargs), dict(kwargs)
        if initial_state is not None:
            states = list(initial_state)
            if len(states) % 2:
                raise InputSpecError(
                    f"Bidirectional '{self.name}': expected `initial_state` to list the forward "
                    f"states then the backward states (an even number), received "
                    f"{len(states)} array(s).")
            half = len(states) // 2
            forward_kwargs["initial_state"] = states[:half]
            backward_kwargs["initial_state"] = states[half:]
        y = self.forward_layer(sequences, **forward_kwargs)
        y_rev = self.backward_layer(sequences, **backward_kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)
        output = self._merge(y, y_rev)
        if not self.return_state:
            return output
        return (output if self.merge_mode is None else [output]) + states

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            state_count = 2 * len(getattr(self.forward_layer, "state_size", ()))
            return masks + [None] * state_count
        return masks if self.merge_mode is None else output_mask

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": registry.serialize(self.forward_layer),
                "backward_layer": registry.serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = registry.deserialize(config["layer"])
        config["backward_layer"] = registry.deserialize(config["backward_layer"])
        return cls(**config)


class TimeDistributed(Layer):
    """Applies `layer` to every time step: inputs `(batch, timesteps, ...)` are folded to
    `(batch * timesteps, ...)`, passed through `layer` once, and unfolded.

    The same weights serve every time step (`layer` itself is the sublayer). A mask
    `(batch, timesteps, ...)` is folded the same way and passed to `layer` when its call
    takes `mask=`; the output mask is the input mask, as Keras.

    Args:
        layer: any layer that accepts `(batch, ...)` inputs.
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ConfigurationError(
                f"TimeDistributed '{self.name}': expected a Layer to wrap, "
                f"received {layer!r} (of type {type(layer).__name__}).")
        self.layer = layer

    def _check_rank(self, shape):
        if len(shape) < 3:
            raise InputSpecError(
                f"TimeDistributed '{self.name}': expected an input of at least 3 dimensions "
                f"(batch, timesteps, ...), received shape {tuple(shape)}.")

    def build(self, input_shape):
        self._check_rank(input_shape)
        if not self.layer.built:
            self.layer.build((input_shape[0],) + tuple(input_shape[2:]))
            self.layer.built = True

    def check_input(self, inputs):
        self._check_rank(inputs.shape)

    def call(self, inputs, training=False, mask=None):
        batch, steps = inputs.shape[:2]
        kwargs = {"training": training}
        if mask is not None and self.layer._call_takes_mask:
            if tuple(mask.shape[:2]) != (batch, steps):
                raise InputSpecError(
                    f"TimeDistributed '{self.name}': expected a mask of shape (batch, timesteps"
                    f", ...) = ({batch}, {steps}, ...), received shape {tuple(mask.shape)}.")
            kwargs["mask"] = mask.reshape((batch * steps,) + tuple(mask.shape[2:]))
        outputs = self.layer(inputs.reshape((batch * steps,) + tuple(inputs.shape[2:])), **kwargs)
        return jax.tree_util.tree_map(
            lambda y: y.reshape((batch, steps) + tuple(y.shape[1:])), outputs)

    def get_config(self):
        return {**super().get_config(), "layer": registry.serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(registry.deserialize(config.pop("layer")), **config)


LAYERS = (Bidirectional, TimeDistributed)
