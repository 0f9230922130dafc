"""Keras numpy ops: indexing."""
import jax.numpy as jnp

from lamina.errors import ConfigurationError
from lamina.ops.tensors import tensor, tensors


def get_item(x, key):
    """Return `x[key]`."""
    return tensor(x)[key]


def take(x, indices, axis=None):
    """Take elements from a tensor along an axis."""
    return jnp.take(tensor(x), tensor(indices), axis=axis)


def take_along_axis(x, indices, axis=None):
    """Select values from `x` at the 1-D `indices` along the given axis."""
    return jnp.take_along_axis(tensor(x), tensor(indices), axis=axis)


def where(condition, x1=None, x2=None):
    """Return elements chosen from `x1` or `x2` depending on `condition`; with only
    `condition`, the indices where it is true (`nonzero`)."""
    condition = tensor(condition)
    if x1 is None and x2 is None:
        return jnp.nonzero(condition)
    if x1 is None or x2 is None:
        raise ConfigurationError("lamina.ops.where: x1 and x2 must be given together (or "
                                 "neither, for the indices where condition is true). "
                                 f"Received: x1={x1!r}, x2={x2!r}.")
    return jnp.where(condition, tensor(x1), tensor(x2))


def select(condlist, choicelist, default=0):
    """Return elements from `choicelist`, based on conditions in `condlist`."""
    return jnp.select(tensors(condlist), tensors(choicelist), default=default)


def unravel_index(indices, shape):
    """Convert flat indices to coordinate arrays in a given array shape."""
    return jnp.unravel_index(tensor(indices), shape)


def ndim(x):
    """Return the number of dimensions of a tensor."""
    return jnp.ndim(tensor(x))


def size(x):
    """Return the number of elements in a tensor."""
    return jnp.size(tensor(x))


def diagonal(x, offset=0, axis1=0, axis2=1):
    """Return specified diagonals."""
    return jnp.diagonal(tensor(x), offset=offset, axis1=axis1, axis2=axis2)


def diag(x, k=0):
    """Extract a diagonal or construct a diagonal array."""
    return jnp.diag(tensor(x), k=k)


def diagflat(x, k=0):
    """Create a two-dimensional array with the flattened input on"""
    return jnp.diagflat(tensor(x), k=k)


def tril(x, k=0):
    """Return lower triangle of a tensor."""
    return jnp.tril(tensor(x), k=k)


def triu(x, k=0):
    """Return upper triangle of a tensor."""
    return jnp.triu(tensor(x), k=k)


def trace(x, offset=0, axis1=0, axis2=1):
    """Return the sum along diagonals of the tensor."""
    return jnp.trace(tensor(x), offset=offset, axis1=axis1, axis2=axis2)


def view(x, dtype=None):
    """The same data reinterpreted as another dtype (`x.view(dtype)`)."""
    return tensor(x).view(dtype)
