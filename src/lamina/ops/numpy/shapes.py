"""Keras numpy ops: shapes."""
import jax.numpy as jnp

from lamina.errors import ConfigurationError
from lamina.ops.tensors import tensor, tensors


def append(x1, x2, axis=None):
    """Append tensor `x2` to the end of tensor `x1`."""
    return jnp.append(tensor(x1), tensor(x2), axis=axis)


def array_split(x, indices_or_sections, axis=0):
    """Splits an array into multiple sub-arrays (unevenly)."""
    return jnp.array_split(tensor(x), indices_or_sections, axis=axis)


def broadcast_to(x, shape):
    """Broadcast a tensor to a new shape."""
    return jnp.broadcast_to(tensor(x), shape)


def concatenate(xs, axis=0):
    """Join a sequence of tensors along an existing axis."""
    return jnp.concatenate(tensors(xs), axis=axis)


def dsplit(x, indices_or_sections):
    """Split an array into multiple sub-arrays depth-wise."""
    return jnp.dsplit(tensor(x), indices_or_sections)


def dstack(xs):
    """Stack tensors in sequence depth wise (along third axis)."""
    return jnp.dstack(tensors(xs))


def expand_dims(x, axis):
    """Expand the shape of a tensor."""
    return jnp.expand_dims(tensor(x), axis)


def flip(x, axis=None):
    """Reverse the order of elements in the tensor along the given axis."""
    return jnp.flip(tensor(x), axis=axis)


def fliplr(x):
    """Reverse the order of elements along axis 1 (left/right)."""
    return jnp.fliplr(tensor(x))


def flipud(x):
    """Reverse the order of elements along axis 0 (up/down)."""
    return jnp.flipud(tensor(x))


def hsplit(x, indices_or_sections):
    """Split an array into multiple sub-arrays horizontally (column-wise)."""
    return jnp.hsplit(tensor(x), indices_or_sections)


def hstack(xs):
    """Stack tensors in sequence horizontally (column wise)."""
    return jnp.hstack(tensors(xs))


def moveaxis(x, source, destination):
    """Move axes of a tensor to new positions."""
    return jnp.moveaxis(tensor(x), source, destination)


def ravel(x):
    """Return a contiguous flattened tensor."""
    return jnp.ravel(tensor(x))


def repeat(x, repeats, axis=None):
    """Repeat each element of a tensor after themselves."""
    return jnp.repeat(tensor(x), repeats, axis=axis)


def reshape(x, newshape):
    """Gives a new shape to a tensor without changing its data."""
    return jnp.reshape(tensor(x), newshape)


def roll(x, shift, axis=None):
    """Roll tensor elements along a given axis."""
    return jnp.roll(tensor(x), shift, axis=axis)


def rot90(array, k=1, axes=(0, 1)):
    """Rotate an array by 90 degrees in the plane specified by axes."""
    return jnp.rot90(tensor(array), k=k, axes=axes)


def split(x, indices_or_sections, axis=0):
    """Split a tensor into chunks."""
    return jnp.split(tensor(x), indices_or_sections, axis=axis)


def squeeze(x, axis=None):
    """Remove axes of length one from `x`."""
    return jnp.squeeze(tensor(x), axis=axis)


def stack(x, axis=0):
    """Join a sequence of tensors along a new axis."""
    return jnp.stack(tensors(x), axis=axis)


def swapaxes(x, axis1, axis2):
    """Interchange two axes of a tensor."""
    return jnp.swapaxes(tensor(x), axis1, axis2)


def tile(x, repeats):
    """Repeat `x` the number of times given by `repeats`."""
    return jnp.tile(tensor(x), repeats)


def transpose(x, axes=None):
    """Returns a tensor with `axes` transposed."""
    return jnp.transpose(tensor(x), axes=axes)


def vsplit(x, indices_or_sections):
    """Split an array into multiple sub-arrays vertically (row-wise)."""
    return jnp.vsplit(tensor(x), indices_or_sections)


def vstack(xs):
    """Stack tensors in sequence vertically (row wise)."""
    return jnp.vstack(tensors(xs))


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad a tensor (`mode`: "constant", "edge", "linear_ramp", "maximum", "mean", "median",
    "minimum", "reflect", "symmetric", "wrap", "empty")."""
    if constant_values is None:
        return jnp.pad(tensor(x), pad_width, mode=mode)
    if mode != "constant":
        raise ConfigurationError("lamina.ops.pad: constant_values applies to mode='constant' "
                                 f"only. Received: mode={mode!r}. Drop constant_values or use "
                                 "mode='constant'.")
    return jnp.pad(tensor(x), pad_width, mode=mode, constant_values=constant_values)
