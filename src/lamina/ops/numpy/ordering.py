"""Keras numpy ops: ordering."""
import jax.numpy as jnp

from lamina.errors import NotSupportedError
from lamina.ops.tensors import optional, tensor


def argpartition(x, kth, axis=-1):
    """Performs an indirect partition along the given axis."""
    return jnp.argpartition(tensor(x), kth, axis=axis)


def argsort(x, axis=-1):
    """Returns the indices that would sort a tensor."""
    return jnp.argsort(tensor(x), axis=axis)


def sort(x, axis=-1):
    """Sorts the elements of `x` along a given axis in ascending order."""
    return jnp.sort(tensor(x), axis=axis)


def cumprod(x, axis=None, dtype=None):
    """Return the cumulative product of elements along a given axis."""
    return jnp.cumprod(tensor(x), axis=axis, dtype=dtype)


def cumsum(x, axis=None, dtype=None):
    """Returns the cumulative sum of elements along a given axis."""
    return jnp.cumsum(tensor(x), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    """Returns the cumulative product of elements along a given axis,"""
    return jnp.nancumprod(tensor(x), axis=axis, dtype=dtype)


def nancumsum(x, axis=None, dtype=None):
    """Returns the cumulative sum of elements along a given axis,"""
    return jnp.nancumsum(tensor(x), axis=axis, dtype=dtype)


def diff(a, n=1, axis=-1):
    """Calculate the n-th discrete difference along the given axis."""
    return jnp.diff(tensor(a), n=n, axis=axis)


def searchsorted(sorted_sequence, values, side='left'):
    """Perform a binary search, returning indices for insertion of `values`"""
    return jnp.searchsorted(tensor(sorted_sequence), tensor(values), side=side)


def digitize(x, bins):
    """Returns the indices of the bins to which each value in `x` belongs."""
    return jnp.digitize(tensor(x), tensor(bins))


def histogram(x, bins=10, range=None):
    """Computes a histogram of the data tensor `x`."""
    return jnp.histogram(tensor(x), bins=bins, range=range)


def bincount(x, weights=None, minlength=0, sparse=False):
    """Count the occurrences of each value of a non-negative int tensor (per row when 2-D).

    The output length depends on the values, so this op cannot be traced by `jax.jit`."""
    if sparse:
        raise NotSupportedError("lamina.ops.bincount: sparse=True is not supported (lamina has "
                                "no sparse tensors). Received: sparse=True; use sparse=False.")
    x, weights = tensor(x), optional(weights)
    if x.ndim != 2:
        return jnp.bincount(x, weights=weights, minlength=minlength)
    length = max(int(jnp.max(x)) + 1, minlength)
    rows = [jnp.bincount(row, weights=None if weights is None else weights[i], length=length)
            for i, row in enumerate(x)]
    return jnp.stack(rows)


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,
           axis=None, size=None, fill_value=None):
    """Finds the unique elements of a tensor."""
    return jnp.unique(tensor(x), return_index=return_index, return_inverse=return_inverse,
                      return_counts=return_counts, axis=axis, size=size, fill_value=fill_value,
                      sorted=sorted)


def nonzero(x):
    """Return the indices of the elements that are non-zero."""
    return jnp.nonzero(tensor(x))


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integrate along the given axis using the composite trapezoidal rule."""
    x = optional(x)
    return jnp.trapezoid(tensor(y), x=x, dx=dx, axis=axis)
