"""Keras's encodings: `one_hot`, `multi_hot`, and `polar` (complex numbers from magnitude and
angle)."""
import jax
import jax.numpy as jnp

from lamina.errors import NotSupportedError
from lamina.ops.tensors import FLOATX, tensor


def _dense_only(name, sparse):
    if sparse:
        raise NotSupportedError(f"lamina.ops.{name}: sparse=True is not supported (lamina has "
                                "no sparse tensors). Use sparse=False.")


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encode integer `x` into a new `axis` of length `num_classes` (float32 default;
    out-of-range values give all zeros)."""
    _dense_only("one_hot", sparse)
    return jax.nn.one_hot(tensor(x), num_classes, axis=axis, dtype=dtype or FLOATX)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encode integer `inputs` (one row of class ids per sample when 2-D)."""
    _dense_only("multi_hot", sparse)
    num_classes = kwargs.pop("num_tokens", num_classes)
    x = tensor(inputs).astype("int32")
    encoded = jax.nn.one_hot(x, num_classes, axis=axis, dtype=dtype or FLOATX)
    return jnp.max(encoded, axis=1 if x.ndim > 1 else 0)


def polar(abs_, angle):
    """`abs_ * (cos(angle) + 1j * sin(angle))`."""
    abs_, angle = tensor(abs_), tensor(angle)
    return jax.lax.complex(abs_ * jnp.cos(angle), abs_ * jnp.sin(angle))
