"""Keras's activation ops (`keras.ops.relu`, `softmax`, ...) over `jax.nn`."""
import jax
import jax.numpy as jnp

from lamina.losses import softmax_logits
from lamina.ops.tensors import tensor


def relu(x):
    """Rectified linear unit, `max(x, 0)`."""
    return jax.nn.relu(tensor(x))


def relu6(x):
    """Rectified linear unit capped at 6."""
    return jax.nn.relu6(tensor(x))


def sigmoid(x):
    """Logistic sigmoid, `1 / (1 + exp(-x))`."""
    return jax.nn.sigmoid(tensor(x))


def sparse_sigmoid(x):
    """Piecewise-linear sigmoid: 0 below -1, 1 above 1, `(x + 1) / 2` between."""
    return jax.nn.sparse_sigmoid(tensor(x))


def softplus(x):
    """`log(1 + exp(x))`."""
    return jax.nn.softplus(tensor(x))


def softsign(x):
    """`x / (1 + |x|)`."""
    return jax.nn.soft_sign(tensor(x))


def sparse_plus(x):
    """0 below -1, `x` above 1, `(x + 1)**2 / 4` between."""
    return jax.nn.sparse_plus(tensor(x))


def silu(x):
    """Sigmoid linear unit, `x * sigmoid(x)`."""
    return jax.nn.silu(tensor(x))


swish = silu


def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2`."""
    return jax.nn.squareplus(tensor(x), b=b)


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed stably."""
    return jax.nn.log_sigmoid(tensor(x))


def leaky_relu(x, negative_slope=0.2):
    """`x` for `x >= 0`, `negative_slope * x` otherwise."""
    return jax.nn.leaky_relu(tensor(x), negative_slope=negative_slope)


def hard_sigmoid(x):
    """`relu6(x + 3) / 6`."""
    return jax.nn.hard_sigmoid(tensor(x))


def hard_silu(x):
    """`x * hard_sigmoid(x)`."""
    return jax.nn.hard_silu(tensor(x))


hard_swish = hard_silu


def elu(x, alpha=1.0):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise."""
    return jax.nn.elu(tensor(x), alpha=alpha)


def selu(x):
    """Scaled exponential linear unit."""
    return jax.nn.selu(tensor(x))


def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation by default, as in Keras)."""
    return jax.nn.gelu(tensor(x), approximate)


def celu(x, alpha=1.0):
    """Continuously differentiable exponential linear unit."""
    return jax.nn.celu(tensor(x), alpha=alpha)


def glu(x, axis=-1):
    """Gated linear unit: the first half of `axis` times the sigmoid of the second half."""
    return jax.nn.glu(tensor(x), axis=axis)


def hard_tanh(x):
    """`clip(x, -1, 1)`."""
    return jax.nn.hard_tanh(tensor(x))


def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = tensor(x)
    return x - jnp.tanh(x)


def hard_shrink(x, threshold=0.5):
    """`x` where `|x| > threshold`, else 0."""
    x = tensor(x)
    return jnp.where(jnp.abs(x) > threshold, x, 0.0)


def soft_shrink(x, threshold=0.5):
    """`x` moved `threshold` towards 0, and 0 inside `[-threshold, threshold]`."""
    x = tensor(x)
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, 0.0))


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`."""
    x = tensor(x)
    return jnp.where(x > threshold, x, default_value)


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x))` along `axis` (an int or a tuple of axes)."""
    return softmax_logits.softmax(tensor(x), axis=axis)


def log_softmax(x, axis=-1):
    """`log(softmax(x))`, computed stably."""
    return jax.nn.log_softmax(tensor(x), axis=axis)


def sparsemax(x, axis=-1):
    """Sparsemax: the Euclidean projection of `x` onto the probability simplex along `axis`."""
    x = tensor(x)
    ranked = -jnp.sort(-x, axis=axis)
    cumulative = jnp.cumsum(ranked, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    rank = jnp.arange(1, x.shape[axis] + 1).reshape(shape)
    support = ranked - (cumulative - 1) / rank > 0
    count = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.sum(jnp.where(support, cumulative, 0.0), axis=axis, keepdims=True) - 1) / count
    return jnp.maximum(x - tau, 0.0)
