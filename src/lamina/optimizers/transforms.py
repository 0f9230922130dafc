"""Small optax transforms Keras optimizers need and optax lacks in this exact form."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def clip_each_by_norm(max_norm):
    """Rescale each gradient tensor separately to an L2 norm of at most `max_norm` (Keras's
    `clipnorm`; `optax.clip_by_global_norm` is `global_clipnorm`)."""

    def update(updates, state, params=None):
        def clip(g):
            norm = jnp.sqrt(jnp.sum(jnp.square(g)))
            return jnp.where(norm > max_norm, g * (max_norm / jnp.maximum(norm, 1e-12)), g)

        return jax.tree_util.tree_map(clip, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


class EmaState(NamedTuple):
    count: jax.Array
    average: optax.Params


def ema_weights(momentum, overwrite_frequency=None):
    """Track an exponential moving average of the weights after each update (Keras's
    `use_ema`): the first average is the weights themselves; with `overwrite_frequency` N the
    weights are replaced by their average every N updates."""

    def init(params):
        # copies: the average must not share (donated) buffers with the weights
        return EmaState(jnp.zeros((), jnp.int32),
                        jax.tree_util.tree_map(lambda p: jnp.array(p, copy=True), params))

    def update(updates, state, params):
        new = optax.apply_updates(params, updates)
        m = jnp.where(state.count == 0, 0.0, momentum)
        average = jax.tree_util.tree_map(lambda a, w: m * a + (1.0 - m) * w, state.average, new)
        if overwrite_frequency:
            overwrite = (state.count + 1) % overwrite_frequency == 0
            updates = jax.tree_util.tree_map(
                lambda u, a, p: jnp.where(overwrite, a - p, u), updates, average, params)
        return updates, EmaState(state.count + 1, average)

    return optax.GradientTransformation(init, update)


def find_ema_state(state):
    """The `EmaState` inside an optimizer state (None when the optimizer has no EMA)."""
    if isinstance(state, EmaState):
        return state
    if isinstance(state, (tuple, list)):
        for child in state:
            found = find_ema_state(child)
            if found is not None:
                return found
    if isinstance(state, dict):
        for child in state.values():
            found = find_ema_state(child)
            if found is not None:
                return found
    return None
