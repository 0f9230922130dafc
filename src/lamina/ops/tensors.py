"""Turning op inputs into jax arrays, and Keras's dtype conventions, for every `lamina.ops` module.

jax (0.10) no longer reads `__jax_array__` inside its functions, so each op converts its
array arguments here first: a lamina `Variable` gives its in-scope value (`variable.value`,
so a frozen path's `stop_gradient` and a pure scope's values apply), anything else goes
through `jnp.asarray` (Python scalars stay weakly typed, as in Keras).
"""
import jax
import jax.numpy as jnp
import numpy as np

from lamina.core.variables import Variable

FLOATX = "float32"


def tensor(x, dtype=None):
    """`x` as a jax array (a lamina Variable gives its in-scope value), cast to `dtype`."""
    if isinstance(x, Variable):
        x = x.value
    if isinstance(x, jax.Array) and (dtype is None or x.dtype == jnp.dtype(dtype)):
        return x
    if dtype is not None and jnp.dtype(dtype) == jnp.bfloat16 and not isinstance(x, jax.Array):
        return jnp.asarray(x).astype(dtype)
    return jnp.asarray(x, dtype=dtype)


def tensors(xs):
    """Each element of a sequence as a jax array."""
    return [tensor(x) for x in xs]


def optional(x):
    """`tensor(x)`, or None for None."""
    return None if x is None else tensor(x)


def dtype_name(x):
    """The dtype of an array as Keras writes it (`"float32"`, `"int32"`, `"bool"`)."""
    return np.dtype(x.dtype).name if x.dtype != jnp.bfloat16 else "bfloat16"


def is_float(x):
    return jnp.issubdtype(x.dtype, jnp.inexact)


def floating(x):
    """`x` itself when floating (or complex); otherwise cast to Keras's float type, float32."""
    return x if is_float(x) else x.astype(FLOATX)


def float_result(*xs):
    """Keras's result type of `xs` and a Python float: their floating type, else float32."""
    dtype = jnp.result_type(*xs)
    return dtype if jnp.issubdtype(dtype, jnp.inexact) else jnp.dtype(FLOATX)
