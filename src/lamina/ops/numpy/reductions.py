"""Keras numpy ops: reductions."""
import jax.numpy as jnp

from lamina.ops.tensors import optional, tensor


def all(x, axis=None, keepdims=False):
    """Test whether all array elements along a given axis evaluate to `True`."""
    return jnp.all(tensor(x), axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):
    """Test whether any array element along a given axis evaluates to `True`."""
    return jnp.any(tensor(x), axis=axis, keepdims=keepdims)


def amax(x, axis=None, keepdims=False):
    """Returns the maximum of an array or maximum value along an axis."""
    return jnp.amax(tensor(x), axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    """Returns the minimum of an array or minimum value along an axis."""
    return jnp.amin(tensor(x), axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    """Returns the indices of the maximum values along an axis."""
    return jnp.argmax(tensor(x), axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    """Returns the indices of the minimum values along an axis."""
    return jnp.argmin(tensor(x), axis=axis, keepdims=keepdims)


def average(x, axis=None, weights=None):
    """Compute the weighted average along the specified axis."""
    weights = optional(weights)
    return jnp.average(tensor(x), axis=axis, weights=weights)


def count_nonzero(x, axis=None):
    """Counts the number of non-zero values in `x` along the given `axis`."""
    return jnp.count_nonzero(tensor(x), axis=axis)


def max(x, axis=None, keepdims=False, initial=None):
    """Return the maximum of a tensor or maximum along an axis."""
    return jnp.max(tensor(x), axis=axis, keepdims=keepdims, initial=initial)


def mean(x, axis=None, keepdims=False):
    """Compute the arithmetic mean along the specified axes."""
    return jnp.mean(tensor(x), axis=axis, keepdims=keepdims)


def median(x, axis=None, keepdims=False):
    """Compute the median along the specified axis."""
    return jnp.median(tensor(x), axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False, initial=None):
    """Return the minimum of a tensor or minimum along an axis."""
    return jnp.min(tensor(x), axis=axis, keepdims=keepdims, initial=initial)


def prod(x, axis=None, keepdims=False, dtype=None):
    """Return the product of tensor elements over a given axis."""
    return jnp.prod(tensor(x), axis=axis, keepdims=keepdims, dtype=dtype)


def ptp(x, axis=None, keepdims=False):
    """Return the peak-to-peak (max - min) value of tensor elements"""
    return jnp.ptp(tensor(x), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Compute the standard deviation along the specified axis."""
    return jnp.std(tensor(x), axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):
    """Sum of a tensor over the given axes."""
    return jnp.sum(tensor(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    """Compute the variance along the specified axes."""
    return jnp.var(tensor(x), axis=axis, keepdims=keepdims)


def nanargmax(x, axis=None, keepdims=False):
    """Returns the indices of the maximum values along an axis, ignoring NaNs."""
    return jnp.nanargmax(tensor(x), axis=axis, keepdims=keepdims)


def nanargmin(x, axis=None, keepdims=False):
    """Returns the indices of the minimum values along an axis, ignoring NaNs."""
    return jnp.nanargmin(tensor(x), axis=axis, keepdims=keepdims)


def nanmax(x, axis=None, keepdims=False):
    """Maximum of a tensor over the given axes, ignoring NaNs."""
    return jnp.nanmax(tensor(x), axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    """Mean of a tensor over the given axes, ignoring NaNs."""
    return jnp.nanmean(tensor(x), axis=axis, keepdims=keepdims)


def nanmedian(x, axis=None, keepdims=False):
    """Median of a tensor over the given axes, ignoring NaNs."""
    return jnp.nanmedian(tensor(x), axis=axis, keepdims=keepdims)


def nanmin(x, axis=None, keepdims=False):
    """Minimum of a tensor over the given axes, ignoring NaNs."""
    return jnp.nanmin(tensor(x), axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    """Product of a tensor over the given axes, ignoring NaNs."""
    return jnp.nanprod(tensor(x), axis=axis, keepdims=keepdims)


def nanstd(x, axis=None, keepdims=False):
    """Compute the standard deviation along the specified axes, ignoring NaNs."""
    return jnp.nanstd(tensor(x), axis=axis, keepdims=keepdims)


def nansum(x, axis=None, keepdims=False):
    """Sum of a tensor over the given axes, ignoring NaNs."""
    return jnp.nansum(tensor(x), axis=axis, keepdims=keepdims)


def nanvar(x, axis=None, keepdims=False):
    """Compute the variance along the specified axes, ignoring NaNs."""
    return jnp.nanvar(tensor(x), axis=axis, keepdims=keepdims)


def percentile(x, q, axis=None, method='linear', keepdims=False):
    """Compute the q-th percentile(s) of the data along the specified axis."""
    return jnp.percentile(tensor(x), q, axis=axis, method=method, keepdims=keepdims)


def quantile(x, q, axis=None, method='linear', keepdims=False):
    """Compute the q-th quantile(s) of the data along the specified axis."""
    return jnp.quantile(tensor(x), q, axis=axis, method=method, keepdims=keepdims)


def nanpercentile(x, q, axis=None, method='linear', keepdims=False):
    """Compute the q-th percentile(s) of the data along the specified axis,"""
    return jnp.nanpercentile(tensor(x), q, axis=axis, method=method, keepdims=keepdims)


def nanquantile(x, q, axis=None, method='linear', keepdims=False):
    """Compute the q-th quantile(s) of the data along the specified axis,"""
    return jnp.nanquantile(tensor(x), q, axis=axis, method=method, keepdims=keepdims)
