"""Keras numpy ops: creation."""
import jax.numpy as jnp

from lamina.ops.tensors import FLOATX, tensor, tensors


def arange(start, stop=None, step=None, dtype=None):
    """Return evenly spaced values within a given interval."""
    return jnp.arange(start, stop=stop, step=step, dtype=dtype)


def array(x, dtype=None):
    """Create a tensor."""
    return jnp.array(tensor(x), dtype=dtype)


def empty(shape, dtype=None):
    """Return a tensor of given shape and type filled with uninitialized data."""
    return jnp.empty(shape, dtype=dtype)


def empty_like(x, dtype=None):
    """Return a new uninitialized tensor with the same shape and dtype as `x`."""
    return jnp.empty_like(tensor(x), dtype=dtype)


def eye(N, M=None, k=0, dtype=None):
    """Return a 2-D tensor with ones on the diagonal and zeros elsewhere."""
    return jnp.eye(N, M=M, k=k, dtype=dtype)


def full(shape, fill_value, dtype=None):
    """Return a new tensor of given shape and type, filled with `fill_value` (float32 default)."""
    return jnp.full(shape, tensor(fill_value), dtype=dtype or FLOATX)


def full_like(x, fill_value, dtype=None):
    """Return a full tensor with the same shape and type as the given tensor."""
    return jnp.full_like(tensor(x), fill_value, dtype=dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Returns numbers spaced evenly on a log scale (a geometric progression)."""
    return jnp.geomspace(start, stop, num=num, endpoint=endpoint, dtype=dtype, axis=axis)


def identity(n, dtype=None):
    """Return the identity tensor."""
    return jnp.identity(n, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """Return evenly spaced numbers over a specified interval."""
    return jnp.linspace(start, stop, num=num, endpoint=endpoint, retstep=retstep, dtype=dtype,
                        axis=axis)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """Returns numbers spaced evenly on a log scale."""
    return jnp.logspace(start, stop, num=num, endpoint=endpoint, base=base, dtype=dtype, axis=axis)


def meshgrid(*x, indexing='xy'):
    """Creates grids of coordinates from coordinate vectors."""
    x = tensors(x)
    return jnp.meshgrid(*x, indexing=indexing)


def ones(shape, dtype=None):
    """Return a new tensor of given shape and type, filled with ones."""
    return jnp.ones(shape, dtype=dtype)


def ones_like(x, dtype=None):
    """Return a tensor of ones with the same shape and type of `x`."""
    return jnp.ones_like(tensor(x), dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Return a tensor with ones at and below a diagonal and zeros elsewhere."""
    return jnp.tri(N, M=M, k=k, dtype=dtype)


def zeros(shape, dtype=None):
    """Return a new tensor of given shape and type, filled with zeros."""
    return jnp.zeros(shape, dtype=dtype)


def zeros_like(x, dtype=None):
    """Return a tensor of zeros with the same shape and type as `x`."""
    return jnp.zeros_like(tensor(x), dtype=dtype)


def bartlett(x):
    """Bartlett window function."""
    return jnp.bartlett(tensor(x))


def blackman(x):
    """Blackman window function."""
    return jnp.blackman(tensor(x))


def hamming(x):
    """Hamming window function."""
    return jnp.hamming(tensor(x))


def hanning(x):
    """Hanning window function."""
    return jnp.hanning(tensor(x))


def kaiser(x, beta):
    """Kaiser window function."""
    return jnp.kaiser(tensor(x), beta)


def vander(x, N=None, increasing=False):
    """Generate a Vandermonde matrix."""
    return jnp.vander(tensor(x), N=N, increasing=increasing)
