"""Masks shared by the attention layers, following Keras 3, and dropout on attention
probabilities.

A boolean "attention mask" of shape `(batch, Tq, Tv)` says which query position may attend
to which key position; it is the AND of the explicit `attention_mask`, the query mask
(`(batch, Tq)`, as `[:, :, None]`), the value and key masks (`(batch, Tv)`, as
`[:, None, :]`) and the causal mask (`i >= j`) when `use_causal_mask=True`. Masked scores
are filled with `_LARGE_NEGATIVE` before the softmax.
"""
import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError

_LARGE_NEGATIVE = -1e9  # Keras's masked-softmax fill value for float32


def _dropout(seed_generator, rate, x):
    keep = jax.random.bernoulli(seed_generator.next(), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


def _causal_mask(tq, tv):
    """`(1, Tq, Tv)`: query position i may attend to key positions j <= i."""
    return (jnp.arange(tq)[:, None] >= jnp.arange(tv)[None, :])[None]


def _check_mask(layer, what, mask, expected):
    """`mask` as a bool array of shape `expected`, or an InputSpecError naming the layer."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if tuple(mask.shape) != tuple(expected):
        raise InputSpecError(f"{type(layer).__name__} '{layer.name}': expected `{what}` of shape "
                             f"{tuple(expected)}, received shape {tuple(mask.shape)}.")
    return mask.astype(bool)


def _check_attention_mask(layer, mask, expected):
    """An explicit attention mask that broadcasts to `expected` = (batch, Tq, Tv)."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    shape = tuple(mask.shape)
    # trailing axes only (strict=False): a mask of lower rank broadcasts over the leading ones
    if len(shape) > 3 or any(
            m not in (1, e) for m, e in zip(shape[::-1], expected[::-1], strict=False)):
        raise InputSpecError(
            f"{type(layer).__name__} '{layer.name}': expected `attention_mask` broadcastable to "
            f"(batch, Tq, Tv) = {tuple(expected)}, received shape {shape}.")
    return mask.astype(bool)


def _combine(*masks):
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = jnp.logical_and(out, m)
    return out
