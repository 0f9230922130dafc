"""Keras numpy ops: products."""
import jax.numpy as jnp

from lamina.ops.tensors import tensor, tensors


def correlate(x1, x2, mode='valid'):
    """Compute the cross-correlation of two 1-dimensional tensors."""
    return jnp.correlate(tensor(x1), tensor(x2), mode=mode)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Returns the cross product of two (arrays of) vectors."""
    return jnp.cross(tensor(x1), tensor(x2), axisa=axisa, axisb=axisb, axisc=axisc, axis=axis)


def dot(x1, x2):
    """Dot product of two tensors."""
    return jnp.dot(tensor(x1), tensor(x2))


def einsum(subscripts, *operands, **kwargs):
    """Evaluates the Einstein summation convention on the operands."""
    operands = tensors(operands)
    return jnp.einsum(subscripts, *operands, **kwargs)


def inner(x1, x2):
    """Return the inner product of two tensors."""
    return jnp.inner(tensor(x1), tensor(x2))


def kron(x1, x2):
    """Kronecker product of `x1` and `x2`."""
    return jnp.kron(tensor(x1), tensor(x2))


def matmul(x1, x2):
    """Matrix product of two tensors."""
    return jnp.matmul(tensor(x1), tensor(x2))


def outer(x1, x2):
    """Compute the outer product of two vectors."""
    return jnp.outer(tensor(x1), tensor(x2))


def tensordot(x1, x2, axes=2):
    """Compute the tensor dot product along specified axes."""
    return jnp.tensordot(tensor(x1), tensor(x2), axes=axes)


def vdot(x1, x2):
    """Return the dot product of two vectors."""
    return jnp.vdot(tensor(x1), tensor(x2))


def corrcoef(x):
    """Compute the Pearson correlation coefficient matrix."""
    return jnp.corrcoef(tensor(x))


def slogdet(x):
    """The sign and natural log of the absolute value of the determinant, as a tuple."""
    return tuple(jnp.linalg.slogdet(tensor(x)))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """Turn a function into a vectorized function."""
    return jnp.vectorize(pyfunc, excluded=frozenset(excluded or ()), signature=signature)
