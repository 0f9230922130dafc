"""Keras's math reductions: segment reductions, `top_k`, `in_top_k`, `logsumexp`, `logdet`,
`cdist`."""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.ops.tensors import tensor


def _segment(reduce, data, segment_ids, num_segments, sorted):
    data, segment_ids = tensor(data), tensor(segment_ids)
    if segment_ids.ndim != 1:
        raise InputSpecError("lamina.ops: segment_ids must be 1-D. Received shape "
                             f"{segment_ids.shape}.")
    if num_segments is None:
        raise ConfigurationError("lamina.ops: num_segments must be given on jax (the output "
                                 "shape cannot depend on the values under jit). Received: "
                                 "num_segments=None; pass num_segments=max(segment_ids) + 1.")
    return reduce(data, segment_ids, num_segments, indices_are_sorted=sorted)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sum of the rows of `data` that share a segment id."""
    return _segment(jax.ops.segment_sum, data, segment_ids, num_segments, sorted)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maximum of the rows of `data` that share a segment id."""
    return _segment(jax.ops.segment_max, data, segment_ids, num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """Minimum of the rows of `data` that share a segment id."""
    return _segment(jax.ops.segment_min, data, segment_ids, num_segments, sorted)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """Product of the rows of `data` that share a segment id."""
    return _segment(jax.ops.segment_prod, data, segment_ids, num_segments, sorted)


def top_k(x, k, sorted=True):
    """The `k` largest values along the last axis and their indices (always sorted, largest
    first, as on Keras's jax backend)."""
    return jax.lax.top_k(tensor(x), k)


def in_top_k(targets, predictions, k):
    """Whether each target class is among the `k` highest predictions (ties count in its
    favour; a NaN prediction never is)."""
    targets, predictions = tensor(targets), tensor(predictions)
    at_label = jnp.take_along_axis(predictions, targets[..., None], axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    return 1 + jnp.sum(predictions > at_label, axis=-1) <= k


def logsumexp(x, axis=None, keepdims=False):
    """`log(sum(exp(x)))`, computed stably."""
    return jax.scipy.special.logsumexp(tensor(x), axis=axis, keepdims=keepdims)


def logdet(x):
    """Natural log of the determinant of a (batch of) Hermitian positive definite matrices."""
    return jnp.linalg.slogdet(tensor(x))[1]


def cdist(x, y):
    """Euclidean distances between each pair of rows of `x` (..., P, M) and `y` (..., R, M)."""
    x, y = tensor(x), tensor(y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise InputSpecError("lamina.ops.cdist: inputs must have rank >= 2 and the same last "
                             f"dimension. Received shapes {x.shape} and {y.shape}.")
    difference = x[..., :, None, :] - y[..., None, :, :]
    return jnp.sqrt(jnp.sum(difference * difference, axis=-1))
