"""Dtype policies (Keras 3's `keras.mixed_precision`): variables in one dtype, computation in
another.

"mixed_bfloat16" and "mixed_float16" keep float32 variables (the master weights the optimizer
updates) and run layers in bfloat16 / float16: a layer casts its floating inputs and the
weights it reads to the compute dtype; losses and metrics are computed in float32. float16's
narrow range needs loss scaling: `compile()` wraps the optimizer in a
`lamina.optimizers.LossScaleOptimizer` when a layer computes in float16 (as Keras 3).
"""
import contextlib
import contextvars

import jax.numpy as jnp

from lamina.errors import ConfigurationError

_MIXED = {"mixed_bfloat16": ("float32", "bfloat16"), "mixed_float16": ("float32", "float16")}


class DTypePolicy:
    """A variable dtype and a compute dtype under one name ("float32", "mixed_bfloat16")."""

    def __init__(self, name="float32"):
        if isinstance(name, DTypePolicy):
            name = name.name
        if name in _MIXED:
            self.variable_dtype, self.compute_dtype = _MIXED[name]
        else:
            try:
                dtype = jnp.dtype(name).name
            except TypeError as err:
                raise ConfigurationError(
                    f"Unknown dtype policy {name!r}: expected a dtype name (e.g. 'float32') or "
                    f"one of {sorted(_MIXED)}.") from err
            self.variable_dtype = self.compute_dtype = dtype
        self.name = name if name in _MIXED else self.variable_dtype

    @property
    def is_mixed(self):
        return self.variable_dtype != self.compute_dtype

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"<DTypePolicy {self.name!r}>"


_GLOBAL: contextvars.ContextVar[DTypePolicy | None] = contextvars.ContextVar(
    "lamina_dtype_policy", default=None)


def set_global_policy(policy):
    """The policy of layers created without `dtype=` from now on (as Keras)."""
    _GLOBAL.set(DTypePolicy(policy) if policy is not None else None)


def global_policy():
    return _GLOBAL.get() or DTypePolicy("float32")


@contextlib.contextmanager
def policy_scope(policy):
    """Layers created inside the block default to `policy`; the previous policy comes back
    after it (a scoped alternative to `set_global_policy`)."""
    token = _GLOBAL.set(DTypePolicy(policy))
    try:
        yield
    finally:
        _GLOBAL.reset(token)


def get(dtype):
    """The policy for a layer's `dtype=` argument (None: the global policy)."""
    if dtype is None:
        return global_policy()
    return DTypePolicy(dtype)
