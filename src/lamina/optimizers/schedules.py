"""Learning-rate schedules with Keras names: `schedule(step) -> rate`, traceable by jax.

A schedule passed as an optimizer's `learning_rate` is evaluated by optax at the optimizer's
own update count inside the jitted step (no recompile as it moves on).
"""
import math

import jax.numpy as jnp

from lamina.errors import AbstractMethodError, ConfigurationError
from lamina.named import NamedRegistry


class LearningRateSchedule:
    def __call__(self, step):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `__call__(self, step)`: "
            "expected every subclass of LearningRateSchedule to define it.")

    def get_config(self):
        return dict(vars(self))


def _positive(owner, name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{owner}: expected a positive number for `{name}`, received "
                                 f"{value!r}.")
    return value


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored exponent when
    `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("ExponentialDecay", "decay_steps", decay_steps)
        self.decay_rate = decay_rate
        self.staircase = staircase

    def __call__(self, step):
        p = jnp.asarray(step, jnp.float32) / self.decay_steps
        if self.staircase:
            p = jnp.floor(p)
        return self.initial_learning_rate * jnp.power(self.decay_rate, p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` up to and including step `boundaries[0]`, `values[1]` up to `boundaries[1]`,
    ..., `values[-1]` after the last boundary."""

    def __init__(self, boundaries, values):
        if len(values) != len(boundaries) + 1:
            raise ConfigurationError(
                f"PiecewiseConstantDecay: expected len(values) == len(boundaries) + 1, "
                f"received {len(values)} values for {len(boundaries)} boundaries.")
        if list(boundaries) != sorted(boundaries):
            raise ConfigurationError(f"PiecewiseConstantDecay: boundaries must increase, "
                                     f"received {list(boundaries)}.")
        self.boundaries, self.values = list(boundaries), list(values)

    def __call__(self, step):
        index = jnp.searchsorted(jnp.asarray(self.boundaries), jnp.asarray(step), side="left")
        return jnp.asarray(self.values, jnp.float32)[index]


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps` along
    `(1 - step / decay_steps) ** power`; with `cycle` the decay restarts with a longer
    period."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("PolynomialDecay", "decay_steps", decay_steps)
        self.end_learning_rate, self.power, self.cycle = end_learning_rate, power, cycle

    def __call__(self, step):
        step = jnp.asarray(step, jnp.float32)
        decay_steps = jnp.float32(self.decay_steps)
        if self.cycle:
            multiplier = jnp.where(step == 0, 1.0, jnp.ceil(step / decay_steps))
            decay_steps = decay_steps * multiplier
        else:
            step = jnp.minimum(step, decay_steps)
        fraction = 1.0 - step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate)
                * jnp.power(fraction, self.power) + self.end_learning_rate)


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored when
    `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("InverseTimeDecay", "decay_steps", decay_steps)
        self.decay_rate, self.staircase = decay_rate, staircase

    def __call__(self, step):
        p = jnp.asarray(step, jnp.float32) / self.decay_steps
        if self.staircase:
            p = jnp.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up from `initial_learning_rate` to `warmup_target` over
    `warmup_steps`, then cosine decay over `decay_steps` down to `alpha` times the peak."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("CosineDecay", "decay_steps", decay_steps)
        self.alpha, self.warmup_target, self.warmup_steps = alpha, warmup_target, warmup_steps

    def __call__(self, step):
        step = jnp.asarray(step, jnp.float32)
        peak = (self.warmup_target if self.warmup_target is not None
                else self.initial_learning_rate)
        decay_step = jnp.minimum(jnp.maximum(step - self.warmup_steps, 0.0), self.decay_steps)
        cosine = 0.5 * (1.0 + jnp.cos(math.pi * decay_step / self.decay_steps))
        decayed = peak * ((1.0 - self.alpha) * cosine + self.alpha)
        if self.warmup_target is None or not self.warmup_steps:
            return decayed
        warm = self.initial_learning_rate + (peak - self.initial_learning_rate) * (
            step / self.warmup_steps)
        return jnp.where(step < self.warmup_steps, warm, decayed)


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of `first_decay_steps * t_mul ** i`
    steps, each starting at `initial_learning_rate * m_mul ** i`."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0):
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = _positive("CosineDecayRestarts", "first_decay_steps",
                                           first_decay_steps)
        self.t_mul, self.m_mul, self.alpha = t_mul, m_mul, alpha

    def __call__(self, step):
        completed = jnp.asarray(step, jnp.float32) / self.first_decay_steps
        if self.t_mul == 1.0:
            i_restart = jnp.floor(completed)
            completed = completed - i_restart
        else:
            i_restart = jnp.floor(jnp.log(1.0 - completed * (1.0 - self.t_mul))
                                  / jnp.log(self.t_mul))
            sum_r = (1.0 - self.t_mul ** i_restart) / (1.0 - self.t_mul)
            completed = (completed - sum_r) / self.t_mul ** i_restart
        m_fac = self.m_mul ** i_restart
        cosine = 0.5 * m_fac * (1.0 + jnp.cos(math.pi * completed))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


_NAMES = NamedRegistry("learning rate schedule", {
    cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                  InverseTimeDecay, CosineDecay, CosineDecayRestarts)})


def serialize(schedule):
    return _NAMES.serialize(schedule)


def deserialize(config):
    return _NAMES.get(config)
