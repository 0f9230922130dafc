"""Keras's linear algebra ops (`keras.ops.linalg`) over `jnp.linalg` and `jax.scipy.linalg`.

Each works on a matrix or a batch of matrices in the last two axes.
"""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.ops.tensors import float_result, tensor


def _matrix(name, x):
    x = tensor(x)
    if x.ndim < 2:
        raise InputSpecError(f"lamina.ops.{name}: expected a matrix or a batch of matrices "
                             f"(rank >= 2). Received shape {x.shape}.")
    return x


def cholesky(x, upper=False):
    """The Cholesky factor of a symmetric positive definite matrix (lower, or upper)."""
    factor = jnp.linalg.cholesky(_matrix("cholesky", x), upper=upper)
    if not isinstance(factor, jax.core.Tracer) and bool(jnp.any(jnp.isnan(factor))):
        raise InputSpecError("lamina.ops.cholesky: the decomposition failed; the input is not "
                             "symmetric positive definite.")
    return factor


def cholesky_inverse(x, upper=False):
    """The inverse of `A` given its Cholesky factor `x` (`A = x @ x.T`, or `x.T @ x` when
    upper)."""
    x = _matrix("cholesky_inverse", x)
    identity = jnp.eye(x.shape[-1], dtype=x.dtype)
    inverse = jax.scipy.linalg.solve_triangular(x, identity, lower=not upper)
    return inverse @ inverse.T if upper else inverse.T @ inverse


def det(x):
    """The determinant."""
    return jnp.linalg.det(_matrix("det", x))


def eig(x):
    """Eigenvalues and right eigenvectors of a square matrix (complex; CPU only in jax)."""
    return jnp.linalg.eig(_matrix("eig", x))


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors of a symmetric (Hermitian) matrix."""
    return jnp.linalg.eigh(_matrix("eigh", x))


def inv(x):
    """The inverse of a square matrix."""
    return jnp.linalg.inv(_matrix("inv", x))


def lu_factor(x):
    """LU factorisation with partial pivoting: `(lu, pivots)`, as `scipy.linalg.lu_factor`."""
    x = _matrix("lu_factor", x)
    factor = jax.scipy.linalg.lu_factor
    for _ in range(x.ndim - 2):
        factor = jax.vmap(factor)
    return factor(x)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (ints computed in float32)."""
    x = tensor(x)
    return jnp.linalg.norm(x.astype(float_result(x)), ord=ord, axis=axis, keepdims=keepdims)


def qr(x, mode="reduced"):
    """QR decomposition `(q, r)`; mode "reduced" or "complete"."""
    if mode not in ("reduced", "complete"):
        raise ConfigurationError("lamina.ops.qr: mode must be 'reduced' or 'complete'. "
                                 f"Received: mode={mode!r}.")
    return jnp.linalg.qr(_matrix("qr", x), mode=mode)


def solve(a, b):
    """The solution `x` of `a @ x = b`."""
    return jnp.linalg.solve(tensor(a), tensor(b))


def solve_triangular(a, b, lower=False):
    """The solution `x` of `a @ x = b` for triangular `a` (upper unless `lower`)."""
    return jax.scipy.linalg.solve_triangular(tensor(a), tensor(b), lower=lower)


def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition `(u, s, vh)`, or `s` alone when not `compute_uv`."""
    return jnp.linalg.svd(_matrix("svd", x), full_matrices=full_matrices, compute_uv=compute_uv)


def lstsq(a, b, rcond=None):
    """The least-squares solution `x` of `a @ x = b`."""
    return jnp.linalg.lstsq(tensor(a), tensor(b), rcond=rcond)[0]


def matrix_rank(x, tol=None):
    """The rank (int32) from the singular values above `tol`."""
    return jnp.linalg.matrix_rank(_matrix("matrix_rank", x), tol=tol).astype("int32")


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse."""
    return jnp.linalg.pinv(_matrix("pinv", x), rtol=rcond)


def jvp(fun, primals, tangents, has_aux=False):
    """Jacobian-vector product of `fun` at `primals` along `tangents`: `(outputs, jvp)` (and
    the auxiliary data when `has_aux`)."""
    primals = tuple(jax.tree.map(tensor, primals))
    tangents = tuple(jax.tree.map(tensor, tangents))
    return jax.jvp(fun, primals, tangents, has_aux=has_aux)
