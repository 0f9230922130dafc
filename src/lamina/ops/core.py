"""Keras's core ops: tensor conversion and dtypes, control flow (`cond`, `switch`,
`while_loop`, `fori_loop`, `scan`, `map`, `associative_scan`, `vectorized_map`), scatter and
slice updates, `stop_gradient` and `custom_gradient`, over `jax.lax`.

Control-flow ops take functions of jax arrays, as on Keras's jax backend; they trace under
`jax.jit` like the rest of a layer's `call`.
"""
import builtins

import jax
import jax.numpy as jnp
import numpy as np

from lamina.core.variables import Variable
from lamina.errors import ConfigurationError, NotSupportedError
from lamina.ops.tensors import dtype_name, tensor

REDUCTIONS = {None: "set", "add": "add", "max": "max", "min": "min", "mul": "multiply"}


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` as a jax array (a lamina Variable gives its current value), cast to `dtype`."""
    if ragged:
        raise NotSupportedError("lamina.ops.convert_to_tensor: ragged=True is not supported "
                                "(jax has no ragged tensors).")
    return tensor(x, dtype)


def convert_to_numpy(x):
    """`x` as a numpy array."""
    return np.array(tensor(x))


def is_tensor(x):
    """Whether `x` is a jax array (a lamina Variable is not; read its `.value`)."""
    return isinstance(x, jax.Array)


def shape(x):
    """The shape of `x` as a tuple of ints."""
    return tuple(tensor(x).shape) if not hasattr(x, "shape") else tuple(x.shape)


def dtype(x):
    """The dtype of `x` as Keras's string ("float32", "int32", "bool", ...)."""
    return dtype_name(tensor(x))


def cast(x, dtype):
    """`x` converted to `dtype`."""
    return tensor(x).astype(dtype)


def _limits(name):
    if name == "bool":
        return 0, 1
    info = jnp.iinfo(name) if "int" in name else jnp.finfo(name)
    return info.min, info.max


def saturate_cast(x, dtype):
    """Cast with values clipped to the range of `dtype` (no wrap-around on overflow)."""
    x = tensor(x)
    source, target = dtype_name(x), np.dtype(jnp.dtype(dtype)).name
    (in_min, in_max), (out_min, out_max) = _limits(source), _limits(target)
    low = np.asarray(np.maximum(in_min, out_min)).astype(source)
    if low < out_min:
        low = np.nextafter(low, 0, dtype=source)
    high = np.asarray(np.minimum(in_max, out_max)).astype(source)
    if high > out_max:
        high = np.nextafter(high, 0, dtype=source)
    return jnp.clip(x, low, high).astype(target)


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()`, traceable under jit."""
    return jax.lax.cond(pred, true_fn, false_fn)


def switch(index, branches, *operands):
    """`branches[index](*operands)`, the index clamped to the branches."""
    return jax.lax.switch(index, branches, *operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (at most
    `maximum_iterations` times); a single (non-tuple) loop variable is passed as itself."""
    packed = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if packed else (loop_vars,)
    limit = jnp.inf if maximum_iterations is None else maximum_iterations

    def keep_going(carry):
        return jnp.logical_and(cond(*carry[0]), carry[1] < limit)

    def step(carry):
        out = body(*carry[0])
        return (tuple(out) if packed else (out,)), carry[1] + 1

    final, _ = jax.lax.while_loop(keep_going, step, (state, 0))
    return final if packed else final[0]


def fori_loop(lower, upper, body_fun, init_val):
    """`init_val = body_fun(i, init_val)` for `i` in `range(lower, upper)`."""
    return jax.lax.fori_loop(lower, upper, body_fun, init_val)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`jax.lax.scan`: `carry, y = f(carry, x)` over the leading axis of `xs`; returns
    `(carry, stacked ys)`."""
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ConfigurationError("lamina.ops.scan: unroll must be a positive int or a bool. "
                                 f"Received: unroll={unroll!r}.")
    return jax.lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)


def map(f, xs):
    """`f` applied to each slice of `xs` along its leading axis, results stacked."""
    return jax.lax.map(f, xs)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive scan of an associative `f` along `axis` (parallel prefix)."""
    return jax.lax.associative_scan(f, elems, reverse=reverse, axis=axis)


def vectorized_map(function, elements):
    """`function` vectorised over the leading axis of `elements` (`jax.vmap`)."""
    return jax.vmap(function)(elements)


def scatter(indices, values, shape):
    """A zero tensor of `shape` with `values` added at `indices` (..., rank of shape)."""
    values = tensor(values)
    key = tuple(jnp.moveaxis(tensor(indices), -1, 0))
    return jnp.zeros(shape, values.dtype).at[key].add(values)


def scatter_update(inputs, indices, updates, reduction=None):
    """`inputs` with `updates` written at `indices` (set, or reduced with "add", "max",
    "min", "mul")."""
    if reduction not in REDUCTIONS:
        raise ConfigurationError(f"lamina.ops.scatter_update: reduction must be one of "
                                 f"{sorted(REDUCTIONS, key=str)}. Received: {reduction!r}.")
    key = tuple(jnp.transpose(tensor(indices)))
    return getattr(tensor(inputs).at[key], REDUCTIONS[reduction])(tensor(updates))


def slice(inputs, start_indices, shape):
    """The block of `shape` starting at `start_indices` (-1 in `shape`: to the end)."""
    inputs = tensor(inputs)
    sizes = tuple(inputs.shape[i] - start_indices[i] if s == -1 else s
                  for i, s in enumerate(shape))
    return jax.lax.dynamic_slice(inputs, start_indices, sizes)


def slice_update(inputs, start_indices, updates):
    """`inputs` with the block starting at `start_indices` replaced by `updates`."""
    return jax.lax.dynamic_update_slice(tensor(inputs), tensor(updates), start_indices)


def unstack(x, num=None, axis=0):
    """The slices of `x` along `axis`, as a list."""
    x = tensor(x)
    return [jax.lax.index_in_dim(x, i, axis, keepdims=False) for i in builtins.range(x.shape[axis])]


def stop_gradient(variable):
    """`variable` as a constant for differentiation."""
    return jax.lax.stop_gradient(tensor(variable))


def custom_gradient(f):
    """Decorate `f(*args)` returning `(output, grad_fn)` so that `grad_fn(upstream)` gives its
    gradient (`jax.custom_gradient`); lamina Variables among the arguments pass their values."""
    with_gradient = jax.custom_gradient(f)

    def wrapper(*args, **kwargs):
        args, kwargs = jax.tree.map(lambda a: a.value if isinstance(a, Variable) else a,
                                    (args, kwargs),
                                    is_leaf=lambda a: isinstance(a, Variable))
        return with_gradient(*args, **kwargs)

    return wrapper
