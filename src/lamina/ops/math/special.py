"""Keras's special functions and complex views: `erf`, `erfc`, `erfinv`, `rsqrt`,
`view_as_complex`, `view_as_real`."""
import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.ops.tensors import tensor


def erf(x):
    """The error function."""
    return jax.lax.erf(tensor(x))


def erfc(x):
    """The complementary error function, `1 - erf(x)`."""
    return jax.scipy.special.erfc(tensor(x))


def erfinv(x):
    """The inverse error function."""
    return jax.scipy.special.erfinv(tensor(x))


def rsqrt(x):
    """`1 / sqrt(x)`."""
    return jax.lax.rsqrt(tensor(x))


def view_as_complex(x):
    """A (..., 2) real tensor as a complex64 tensor (last axis: real, imaginary)."""
    x = tensor(x)
    if x.ndim < 1 or x.shape[-1] != 2:
        raise InputSpecError("lamina.ops.view_as_complex: the last dimension must be 2 (real, "
                             f"imaginary). Received shape {x.shape}.")
    return jax.lax.complex(x[..., 0].astype(jnp.float32), x[..., 1].astype(jnp.float32))


def view_as_real(x):
    """A complex tensor as a (..., 2) real tensor (real, imaginary)."""
    x = tensor(x)
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)
