"""Activation functions with Keras 3 names, formulas and defaults, resolved once by name.

`get("relu")` returns the function; `serialize(fn)` returns the name `get` takes back, so a
layer config stores `"activation": "relu"`. Every name of `keras.activations` (Keras 3.15) is
here, aliases included (`swish` is `silu`, `hard_swish` is `hard_silu`). Functions registered
with `lamina.saving.register_function` are found by their registered name too, so a custom
activation saves and loads by name. Unknown names fail with the list of valid ones.

Keras defaults worth knowing: `leaky_relu` has `negative_slope=0.2` (the `LeakyReLU` layer
uses 0.3), `gelu` is the exact erf form (`approximate=False`), `hard_sigmoid(x)` is
`relu6(x + 3) / 6`, `squareplus` has `b=4`, and `threshold` has no defaults.
"""
import jax
import jax.numpy as jnp

from lamina.core import registry
from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses import softmax_logits


def linear(x):
    """The identity."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """`min(x, max_value)` for `x > threshold`, `negative_slope * (x - threshold)` below.

    With the defaults this is `max(x, 0)`. As Keras, the positive part is clipped to
    `[0, max_value]` when `max_value` is given.
    """
    if negative_slope == 0 and max_value is None and threshold == 0:
        return jax.nn.relu(x)
    out = jnp.where(x > threshold, x, 0) if threshold != 0 else jax.nn.relu(x)
    if max_value is not None:
        out = jnp.clip(out, 0, max_value)
    if negative_slope != 0:
        out = out - negative_slope * jax.nn.relu(threshold - x)
    return out


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return jax.nn.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    """`x` for `x >= 0`, `negative_slope * x` below (Keras's default slope is 0.2)."""
    return jax.nn.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    """`x` for `x > 0`, `alpha * (exp(x) - 1)` below."""
    return jax.nn.elu(x, alpha)


def selu(x):
    """`scale * elu(x, alpha)` with Klambauer et al.'s constants."""
    return jax.nn.selu(x)


def celu(x, alpha=1.0):
    """`x` for `x >= 0`, `alpha * (exp(x / alpha) - 1)` below."""
    return jax.nn.celu(x, alpha)


def gelu(x, approximate=False):
    """Gaussian error linear unit; the exact erf form by default, as Keras."""
    return jax.nn.gelu(x, approximate=approximate)


def silu(x):
    """`x * sigmoid(x)`."""
    return jax.nn.silu(x)


def swish(x):
    """Alias of `silu`: `x * sigmoid(x)`."""
    return jax.nn.silu(x)


def hard_silu(x):
    """`x * hard_sigmoid(x)`: 0 below -3, `x` above 3, `x * (x + 3) / 6` between."""
    return jax.nn.hard_silu(x)


def hard_swish(x):
    """Alias of `hard_silu`."""
    return jax.nn.hard_silu(x)


def mish(x):
    """`x * tanh(softplus(x))`."""
    return x * jnp.tanh(jax.nn.softplus(x))


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return jax.nn.sigmoid(x)


def hard_sigmoid(x):
    """`relu6(x + 3) / 6`: 0 below -3, 1 above 3, `x / 6 + 0.5` between (Keras 3)."""
    return jax.nn.hard_sigmoid(x)


def sparse_sigmoid(x):
    """0 below -1, 1 above 1, `(x + 1) / 2` between."""
    return jax.nn.sparse_sigmoid(x)


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed stably."""
    return jax.nn.log_sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return jnp.tanh(x)


def hard_tanh(x):
    """`clip(x, -1, 1)`."""
    return jax.nn.hard_tanh(x)


def tanh_shrink(x):
    """`x - tanh(x)`."""
    return x - jnp.tanh(x)


def softplus(x):
    """`log(exp(x) + 1)`, computed stably."""
    return jax.nn.softplus(x)


def softsign(x):
    """`x / (abs(x) + 1)`."""
    return jax.nn.soft_sign(x)


def sparse_plus(x):
    """0 below -1, `x` above 1, `(x + 1)**2 / 4` between."""
    return jax.nn.sparse_plus(x)


def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2`."""
    return jax.nn.squareplus(x, b)


def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`, 0 between."""
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, 0))


def hard_shrink(x, threshold=0.5):
    """`x` where `abs(x) > threshold`, 0 elsewhere."""
    return jnp.where(jnp.abs(x) > threshold, x, 0)


def threshold(x, threshold=None, default_value=None):
    """`x` where `x > threshold`, `default_value` elsewhere. Both arguments are required
    (as in Keras); bind them with `functools.partial` to use this as a layer activation."""
    if threshold is None or default_value is None:
        raise ConfigurationError(
            "activation 'threshold': expected `threshold=` and `default_value=` (it has no "
            f"defaults), received threshold={threshold!r}, default_value={default_value!r}. "
            "To use it as a layer activation, pass e.g. "
            "functools.partial(lamina.activations.threshold, threshold=0.5, default_value=0.0)."
        )
    return jnp.where(x > threshold, x, default_value)


def exponential(x):
    """`exp(x)`."""
    return jnp.exp(x)


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x))` along `axis` (inside a train step, a cross-entropy of the result
    reads `x`: `lamina.losses.softmax_logits`)."""
    return softmax_logits.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """`x - logsumexp(x)` along `axis`."""
    return jax.nn.log_softmax(x, axis=axis)


def sparsemax(x, axis=-1):
    """Euclidean projection of `x` onto the probability simplex along `axis` (Martins et
    al., 2016): `max(x - tau, 0)` with `tau` chosen so that the outputs sum to 1."""
    x = jnp.asarray(x)
    z = jnp.moveaxis(x, axis, -1)
    z_sorted = -jnp.sort(-z, axis=-1)
    ranks = jnp.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    cumsum = jnp.cumsum(z_sorted, axis=-1)
    support = z_sorted * ranks > cumsum - 1
    k = jnp.sum(support, axis=-1, keepdims=True)
    tau = (jnp.sum(jnp.where(support, z_sorted, 0), axis=-1, keepdims=True) - 1) / k
    return jnp.moveaxis(jnp.maximum(z - tau, 0), -1, axis)


def glu(x, axis=-1):
    """Gated linear unit: `a * sigmoid(b)` where `x` splits into halves `a, b` along `axis`."""
    x = jnp.asarray(x)
    if x.shape[axis] % 2:
        raise InputSpecError(
            f"activation 'glu': expected an even size on axis {axis} (it is split in two "
            f"halves), received shape {tuple(x.shape)}.")
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


_REGISTRY = {fn.__name__: fn for fn in (
    linear, relu, relu6, leaky_relu, elu, selu, celu, gelu, silu, swish, hard_silu, hard_swish,
    mish, sigmoid, hard_sigmoid, sparse_sigmoid, log_sigmoid, tanh, hard_tanh, tanh_shrink,
    softplus, softsign, sparse_plus, squareplus, soft_shrink, hard_shrink, threshold,
    exponential, softmax, log_softmax, sparsemax, glu,
)}


def _registered_function(name):
    try:
        return registry.get_function(name)
    except ConfigurationError:
        return None


def names():
    """Every built-in activation name, sorted."""
    return tuple(sorted(_REGISTRY))


def get(identifier):
    """A callable from a name, None (linear) or a callable.

    A name is a built-in one (`names()`) or one registered with
    `lamina.saving.register_function`.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _REGISTRY.get(identifier) or _registered_function(identifier)
        if fn is None:
            raise ConfigurationError(
                f"Unknown activation {identifier!r}. Valid names: {', '.join(names())}. "
                "A custom activation can be a callable, or a name registered with "
                "lamina.saving.register_function(fn)."
            )
        return fn
    if callable(identifier):
        return identifier
    raise ConfigurationError(
        f"Expected an activation name or callable, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )


def serialize(fn):
    """The name `get` resolves back to `fn`: its built-in name, its registered name (see
    `lamina.saving.register_function`), or else its `__name__`."""
    for name, candidate in _REGISTRY.items():
        if candidate is fn:
            return name
    registered = registry.function_name(fn)
    if registered is not None:
        return registered
    return getattr(fn, "__name__", repr(fn))
