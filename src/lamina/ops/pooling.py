"""Max and average pooling over the spatial dimensions of channels-last inputs."""
import jax
import jax.numpy as jnp


def _window(x, pool_size, strides):
    return (1, *pool_size, 1), (1, *strides, 1)


def max_pool(x, pool_size, strides, padding):
    """Max over windows of `pool_size` moved by `strides`; `padding` "valid" or "same"."""
    window, stride = _window(x, pool_size, strides)
    init = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
    return jax.lax.reduce_window(x, jnp.asarray(init, x.dtype), jax.lax.max, window, stride,
                                 padding.upper())


def avg_pool(x, pool_size, strides, padding):
    """Mean over windows; with "same" padding the mean counts only the real (unpadded) values."""
    window, stride = _window(x, pool_size, strides)
    pad = padding.upper()
    total = jax.lax.reduce_window(x, jnp.asarray(0, x.dtype), jax.lax.add, window, stride, pad)
    if pad == "VALID":
        return total / jnp.asarray(jnp.prod(jnp.array(pool_size)), x.dtype)
    ones = jnp.ones((1, *x.shape[1:-1], 1), x.dtype)
    count = jax.lax.reduce_window(ones, jnp.asarray(0, x.dtype), jax.lax.add, window, stride,
                                  pad)
    return total / count
