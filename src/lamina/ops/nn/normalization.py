"""Keras's normalization ops: `moments`, `batch_normalization`, `layer_normalization`,
`rms_normalization`, `normalize`. Half-precision inputs are computed in float32 and cast back,
as Keras does."""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError, NotSupportedError
from lamina.ops.tensors import optional, tensor

EPSILON = 1e-7  # Keras's backend.epsilon()


def _compute_dtype(x):
    return jnp.promote_types(x.dtype, jnp.float32)


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance of `x` over `axes`."""
    if synchronized:
        raise NotSupportedError("lamina.ops.moments: synchronized=True (cross-replica statistics)"
                                " is not supported on jax. Received: synchronized=True.")
    x = tensor(x)
    dtype = x.dtype
    half = dtype in (jnp.float16, jnp.bfloat16)
    if half:
        x = x.astype(jnp.float32)
    mean = jnp.mean(x, axis=axes, keepdims=keepdims)
    variance = jnp.var(x, axis=axes, keepdims=keepdims)
    if half:
        limit = jnp.finfo(jnp.float16).max
        mean, variance = (jnp.clip(v, -limit, limit).astype(dtype) for v in (mean, variance))
    return mean, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, the statistics given along
    `axis`."""
    x, mean, variance = tensor(x), tensor(mean), tensor(variance)
    shape = [1] * x.ndim
    shape[axis] = mean.shape[0]
    inv = jax.lax.rsqrt(variance.reshape(shape) + epsilon)
    if scale is not None:
        inv = inv * tensor(scale).reshape(shape)
    shift = -mean.reshape(shape) * inv
    if offset is not None:
        shift = shift + tensor(offset).reshape(shape)
    return x * inv + shift


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Normalize `x` over `axis` to zero mean and unit variance, then scale by `gamma` and
    shift by `beta` (`rms_scaling=True`: divide by the root mean square deviation only)."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise ConfigurationError(f"lamina.ops.layer_normalization: unknown arguments "
                                 f"{sorted(kwargs)}. Expected gamma, beta, axis, epsilon.")
    epsilon = EPSILON if epsilon is None else epsilon
    x = tensor(x)
    dtype = x.dtype
    x = x.astype(_compute_dtype(x))
    axes = sorted([axis] if isinstance(axis, int) else axis)
    shape = [x.shape[d] if d in [a % x.ndim for a in axes] else 1 for d in range(x.ndim)]

    def broadcast(v):
        v = optional(v)
        if v is None or v.ndim == x.ndim or axes == [x.ndim - 1]:
            return v if v is None else v.astype(x.dtype)
        return v.reshape(shape).astype(x.dtype)

    gamma, beta = broadcast(gamma), broadcast(beta)
    if rms_scaling:
        out = x * jax.lax.rsqrt(jnp.var(x, axis=axes, keepdims=True) + epsilon)
        return (out if gamma is None else out * gamma).astype(dtype)
    mean, variance = moments(x, axes, keepdims=True)
    inv = jax.lax.rsqrt(variance + epsilon)
    inv = inv if gamma is None else inv * gamma
    shift = -mean * inv if beta is None else -mean * inv + beta
    return (x * inv + shift).astype(dtype)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """`x / sqrt(mean(x**2, axis) + epsilon) * scale`."""
    epsilon = EPSILON if epsilon is None else epsilon
    x = tensor(x)
    dtype = x.dtype
    x = x.astype(_compute_dtype(x))
    if x.ndim == 0:
        x = x[None]
    axis = sorted(axis) if isinstance(axis, (tuple, list)) else axis
    out = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + epsilon)
    if scale is not None:
        out = out * tensor(scale).astype(x.dtype)
    return out.astype(dtype)


def normalize(x, axis=-1, order=2, epsilon=None):
    """`x` divided by its `order`-norm along `axis` (at least `epsilon`)."""
    if not isinstance(order, int) or order < 1:
        raise ConfigurationError("lamina.ops.normalize: order must be an int >= 1. Received: "
                                 f"order={order!r}.")
    epsilon = EPSILON if epsilon is None else epsilon
    x = tensor(x)
    if x.ndim == 0:
        x = x[None]
    if order == 2:
        inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv, 1.0 / epsilon)
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, epsilon)
