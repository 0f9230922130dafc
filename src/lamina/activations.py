"""Activation functions, resolved once from Keras names through a registry."""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError


def linear(x):
    return x


def leaky_relu(x, negative_slope=0.2):
    return jax.nn.leaky_relu(x, negative_slope)


def gelu(x, approximate=False):
    """Gaussian error linear unit; exact (erf) by default, like Keras."""
    return jax.nn.gelu(x, approximate=approximate)


def softmax(x, axis=-1):
    return jax.nn.softmax(x, axis=axis)


_REGISTRY = {
    "linear": linear,
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softmax": softmax,
    "gelu": gelu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "softplus": jax.nn.softplus,
    "softsign": jax.nn.soft_sign,
    "leaky_relu": leaky_relu,
    "log_softmax": jax.nn.log_softmax,
    "hard_sigmoid": jax.nn.hard_sigmoid,
    "exponential": jnp.exp,
}


def get(identifier):
    """A callable from a name, None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _REGISTRY.get(identifier)
        if fn is None:
            raise ConfigurationError(
                f"Unknown activation {identifier!r}. Valid names: {', '.join(sorted(_REGISTRY))}."
            )
        return fn
    if callable(identifier):
        return identifier
    raise ConfigurationError(
        f"Expected an activation name or callable, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )


def serialize(fn):
    """The registry name of `fn` (or its __name__ for user callables)."""
    for name, candidate in _REGISTRY.items():
        if candidate is fn:
            return name
    return getattr(fn, "__name__", repr(fn))
