"""TrainState: the one explicit state every compiled train step takes and returns.

A step is a pure function `step(state, *batch) -> (state, logs)`; nothing it needs lives in
a closure that tracing fills, and nothing it produces is stored while it runs. The fields:

- `trained`: values of the variables this trainability configuration trains (docs/design.md
  section 2), the only ones gradients are taken for;
- `other`: values of every other variable: weights frozen in this configuration, and the
  variables that are not trainable by their own flag (moving statistics, and the seed
  states that make dropout and latent draws reproducible: the RNG lives here);
- `opt_state`: the optimizer state;
- `metrics`: the compiled metrics' running state (None: restart at this batch).

The compiled steps hold `trained` and `other` as lists in the configuration's variable
order (lists flatten faster than dicts on every call); a custom `train_step` sees them as
dicts uid -> value, under the Keras 3 names `trainable`, `non_trainable` and `optimizer`.

A `Plan` is one trainability configuration as the steps see it: which variables fill
`trained` and `other`, in which order. `CompiledStep` is the jit boundary shared by every
step kind: it donates the buffers the step replaces and keeps the frozen weights the model
still holds.
"""
from typing import Any, NamedTuple

import jax

from lamina.core.lowering import step_guard


class TrainState(NamedTuple):
    """Trained values, other values, optimizer state and metric state (see the module doc).

    Positional construction `TrainState(trainable, non_trainable, optimizer, metrics)` is the
    custom `train_step` contract (docs/custom_train_step.md); the Keras names read the same
    fields."""

    trained: Any
    other: Any
    opt_state: Any
    metrics: Any

    @property
    def trainable(self):
        """`trained`, under the name of the custom `train_step` contract (Keras 3's)."""
        return self.trained

    @property
    def non_trainable(self):
        """`other`, under the name of the custom `train_step` contract (Keras 3's)."""
        return self.other

    @property
    def optimizer(self):
        """`opt_state`, under the name of the custom `train_step` contract (Keras 3's)."""
        return self.opt_state


class Plan(NamedTuple):
    """One trainability configuration as the steps see it (rebuilt only when it changes)."""

    key: tuple  # (resolution key, uids the optimizer state covers): part of a step's cache key
    trained_vars: tuple  # the variables this configuration trains, in the state's order
    other_vars: tuple  # every other variable, in the state's order
    trained: list  # their uids
    other: list
    kept: frozenset  # uids of the other variables a step may assign (not trainable by flag)
    kept_at: list  # their positions in `other`

    @classmethod
    def of(cls, key, trained_vars, other_vars):
        other = [v.uid for v in other_vars]
        kept_at = [i for i, v in enumerate(other_vars) if not v.trainable]
        return cls(key, tuple(trained_vars), tuple(other_vars), [v.uid for v in trained_vars],
                   other, frozenset(other[i] for i in kept_at), kept_at)

    def state(self, opt_state, metrics):
        """The `TrainState` of the variables' current values."""
        return TrainState([v._value for v in self.trained_vars],
                          [v._value for v in self.other_vars], opt_state, metrics)

    def write_back(self, state):
        """Store a step's results in the variables (an unchanged value is the same array)."""
        for v, value in zip(self.trained_vars, state.trained, strict=True):
            v._value = value
        for v, value in zip(self.other_vars, state.other, strict=True):
            v._value = value


def assign(other_uids, other, updates, kept):
    """The `other` values (a list in `other_uids` order) after a call that assigned `updates`
    (uid -> value): only the `kept` uids (variables that are not trainable by their own flag:
    statistics, seed states) take a new value, so a frozen weight is never overwritten. The
    cast keeps a `lax.scan` carry's dtypes fixed."""
    return [updates[uid].astype(value.dtype) if uid in kept and uid in updates else value
            for uid, value in zip(other_uids, other, strict=True)]


class CompiledStep:
    """`step(state, *data) -> (state, logs)` jitted as the trainer calls it.

    The trained values, the optimizer and the metric state are donated (the step replaces
    them). `other` is not: frozen weights stay the arrays the model holds, and only the
    entries the step changed come back from the device, so a frozen weight costs no copy per
    call. `jit_options` (shardings under a distribution) describe the arguments
    `(state without other, other, *data)` and the results `(state without other, logs)`.
    Calling it returns `(state, logs)` with a complete `other`; `jitted` is the compiled
    function (its cache size tells how often it compiled). On CPU in the default lowering
    mode, the first call lets `core.lowering.step_guard` choose among the step as traced
    (autotuned convolution lowerings) and the same step in the "heuristic" mode, with XLA's
    lowering everywhere, and with it on XLA's own convolution kernels (`step_guard`); `jitted`
    is then the one chosen.
    """

    def __init__(self, step, **jit_options):
        def call(donated, other, *data):
            new, logs = step(donated._replace(other=other), *data)
            # an entry the step left alone is its input: leaving it out spares its copy
            changed = {i: value for i, value in enumerate(new.other) if value is not other[i]}
            return new._replace(other=changed), logs

        self.jitted = jax.jit(call, donate_argnums=(0,), **jit_options)
        self._guarded = step_guard.applies(jit_options)
        self._call = call

    def __call__(self, state, *data):
        args = (state._replace(other=None), state.other, *data)
        if self._guarded:
            self._guarded = False
            self.jitted = step_guard.faster(step_guard.candidates(self.jitted, self._call),
                                            args)
        new, logs = self.jitted(*args)
        other = list(state.other)
        for i, value in new.other.items():
            other[i] = value
        return new._replace(other=other), logs
