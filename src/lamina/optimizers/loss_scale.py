"""Dynamic loss scaling for float16 training (Keras 3's `LossScaleOptimizer`).

float16 has 5 exponent bits: small gradients underflow to zero. The train step multiplies
the loss by a scale before differentiating, so the float16 intermediate gradients are
scaled too; the gradients (of the float32 master weights) are then divided by the scale
before the inner optimizer sees them. The scale adapts, as in Keras:

- a step whose gradients hold a NaN or an infinity is skipped: weights and the inner
  optimizer's state stay bit-for-bit unchanged, the scale is halved and the growth count
  restarts;
- after `dynamic_growth_steps` finite steps in a row the scale is doubled.

The pure core is `dynamic_loss_scale(inner)`, an optax transform whose state carries the
scale; the train step differentiates the scaled loss (`value_and_grad`) and keeps the old
weights where `LossScaleState.finite` is false (`select_finite`).
"""
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from lamina.core import registry
from lamina.errors import ConfigurationError
from lamina.optimizers.base import Optimizer
from lamina.optimizers.catalogue import get


class LossScaleState(NamedTuple):
    inner_state: optax.OptState
    scale: jax.Array  # float32
    growth_count: jax.Array  # int32: finite steps since the scale last changed
    finite: jax.Array  # bool: whether the last update's gradients were finite


def dynamic_loss_scale(inner, initial_scale, growth_steps):
    """`inner` (an optax transform) run on unscaled gradients, skipped when they are not
    finite; the state's scale halves on a skip and doubles after `growth_steps` finite
    steps in a row."""

    def init(params):
        return LossScaleState(inner.init(params), jnp.asarray(initial_scale, jnp.float32),
                              jnp.zeros((), jnp.int32), jnp.ones((), jnp.bool_))

    def update(grads, state, params=None):
        grads = jax.tree_util.tree_map(lambda g: g / state.scale.astype(g.dtype), grads)
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g))
                                      for g in jax.tree_util.tree_leaves(grads)]))
        deltas, inner_state = inner.update(grads, state.inner_state, params)
        inner_state = jax.tree_util.tree_map(lambda new, old: jnp.where(finite, new, old),
                                             inner_state, state.inner_state)
        deltas = jax.tree_util.tree_map(lambda d: jnp.where(finite, d, jnp.zeros_like(d)),
                                        deltas)
        grow = finite & (state.growth_count == growth_steps - 1)
        scale = jnp.where(finite, jnp.where(grow, state.scale * 2.0, state.scale),
                          state.scale * 0.5)
        count = jnp.where(finite & ~grow, state.growth_count + 1, 0)
        return deltas, LossScaleState(inner_state, scale, count.astype(jnp.int32), finite)

    return optax.GradientTransformation(init, update)


def inner_state(opt_state):
    """The state of the optimizer inside a loss-scaled one (else `opt_state` itself)."""
    return opt_state.inner_state if isinstance(opt_state, LossScaleState) else opt_state


def current_scale(opt_state):
    """The loss scale in an optimizer state (None without loss scaling)."""
    return opt_state.scale if isinstance(opt_state, LossScaleState) else None


def value_and_grad(loss_fn, opt_state):
    """`jax.value_and_grad(loss_fn, has_aux=True)`, differentiating the loss times the scale
    of `opt_state` when it has one; the loss returned is the unscaled one."""
    scale = current_scale(opt_state)
    if scale is None:
        return jax.value_and_grad(loss_fn, has_aux=True)

    def scaled(params):
        loss, aux = loss_fn(params)
        return loss * scale, (loss, aux)

    def run(params):
        (_, (loss, aux)), grads = jax.value_and_grad(scaled, has_aux=True)(params)
        return (loss, aux), grads

    return run


def select_finite(opt_state, new, old):
    """`new` values where the last update's gradients were finite, else `old` (bitwise)."""
    if not isinstance(opt_state, LossScaleState):
        return new
    return jax.tree_util.tree_map(lambda n, o: jnp.where(opt_state.finite, n, o), new, old)


class LossScaleOptimizer(Optimizer):
    """Wraps a lamina optimizer with dynamic loss scaling (Keras 3's name and arguments).

    `compile()` wraps the optimizer in one automatically when a layer of the model computes
    in float16 (the "mixed_float16" policy), unless `auto_scale_loss=False`.

    Args:
        inner_optimizer: the lamina optimizer (or its name) that applies the unscaled
            gradients.
        initial_scale: the first loss scale (Keras's default 2**15: a scale that is too
            high is lowered within a few skipped steps).
        dynamic_growth_steps: double the scale after this many finite steps in a row.

    `learning_rate`, `iterations` and EMA are the inner optimizer's; `dynamic_scale` reads
    the current scale of the model most recently compiled with this optimizer.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None):
        inner = get(inner_optimizer)
        if isinstance(inner, LossScaleOptimizer):
            raise ConfigurationError(
                "LossScaleOptimizer: the inner optimizer is already a LossScaleOptimizer; "
                "wrap the plain optimizer once.")
        if (isinstance(initial_scale, bool) or not isinstance(initial_scale, (int, float))
                or not math.isfinite(initial_scale) or initial_scale <= 0):
            raise ConfigurationError(
                f"LossScaleOptimizer: expected a positive finite initial_scale, received "
                f"{initial_scale!r}.")
        if (isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, int)
                or dynamic_growth_steps < 1):
            raise ConfigurationError(
                f"LossScaleOptimizer: expected a positive integer dynamic_growth_steps, "
                f"received {dynamic_growth_steps!r}.")
        self.inner_optimizer = inner
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.name = name or "loss_scale_optimizer"
        # the trainers listen to the inner optimizer's rate changes
        self._listeners = inner._listeners

    # -- the inner optimizer's settings ---------------------------------------------------
    @property
    def _learning_rate(self):
        return self.inner_optimizer._learning_rate

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def use_ema(self):
        return self.inner_optimizer.use_ema

    def averaged_weights(self, opt_state):
        return self.inner_optimizer.averaged_weights(opt_state)

    @property
    def dynamic_scale(self):
        """The current loss scale (a float), or `initial_scale` before the first step."""
        trainers = [getattr(fn, "__self__", None) for fn in self._listeners]
        states = [t.opt_state for t in trainers if t is not None and t.opt_state is not None
                  and t.optimizer is self]
        return float(states[-1].scale) if states else self.initial_scale

    def build(self, model=None):
        return dynamic_loss_scale(self.inner_optimizer.build(model), self.initial_scale,
                                  self.dynamic_growth_steps)

    def get_config(self):
        return {"inner_optimizer": registry.serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("inner_optimizer"), dict):
            config["inner_optimizer"] = registry.deserialize(config["inner_optimizer"])
        return cls(**config)
