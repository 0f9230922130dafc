"""numpy values to jax arrays without compiling anything.

`jnp.asarray(numpy_array)` runs an identity program (`jit(stage)`), compiled once per new
shape and dtype: about 20 ms each on CPU with jax 0.10 (`jax_log_compiles` shows them), so
a model with many weight shapes paid it when it was built, loaded or given `set_weights`.
`jax.device_put` transfers the same buffer with the same dtype canonicalization and
placement (the default device, uncommitted) and compiles nothing.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike
from numpy.typing import ArrayLike


def to_array(value: ArrayLike, dtype: DTypeLike | None = None) -> jax.Array:
    """`value` as a jax array of `dtype` (default: its own, canonicalized as `jnp.asarray`
    does). numpy arrays and scalars are transferred by `jax.device_put`; anything else
    (jax arrays and tracers, Python numbers with their weak type, lists) goes through
    `jnp.asarray` unchanged."""
    if isinstance(value, (np.ndarray, np.generic)):
        return jax.device_put(np.asarray(value, dtype))
    return jnp.asarray(value, dtype)
