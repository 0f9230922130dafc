"""Cross-entropy of a softmax output, computed from the softmax's own logits.

Keras's cross-entropy on probabilities renormalises them, clips them to
`[epsilon, 1 - epsilon]` and takes their log. Behind a softmax, that program differentiates the
softmax, the renormalisation and the clip: it is a third larger than the fused log-softmax
and takes XLA about 30% longer to compile (W1's train step: 666 optimised HLO instructions
against 522; `benchmarks/first_step.py --diagnose`).

Keras's TensorFlow backend avoids it: its softmax keeps its input (`_keras_logits`) and its
cross-entropies use it. lamina does the same in the steps it traces, without Keras-TF's change
of values: while `recording()` is active (the trainer's forward-and-loss trace), `softmax`
remembers each output it returns with its logits, and `log_probabilities` computes the log of
a remembered output as `clip(log_softmax(logits), log(epsilon), log(1 - epsilon))`. That is
Keras-JAX's `log(clip(p / sum(p), epsilon, 1 - epsilon))` rewritten (the log is monotonic and
a softmax sums to 1), bounds rounded in the prediction's dtype as Keras's are: the same values
to float rounding, the same zero gradient where a probability is clipped.

An output is remembered by identity: anything applied between the softmax and the loss (a
mask, a cast to another dtype, a slice) gives a new array, which takes the probability
formula. Outside `recording()` nothing is remembered (a user's own `jax.grad` of a loss, the
metrics, `predict`).
"""
import contextlib
import contextvars
import functools

import jax
import jax.numpy as jnp
import numpy as np

from lamina.losses.base import EPSILON, clip

_OUTPUTS = contextvars.ContextVar("lamina_softmax_outputs", default=None)


@contextlib.contextmanager
def recording():
    """Remember the logits of every `softmax` output computed inside (for the losses inside)."""
    token = _OUTPUTS.set({})
    try:
        yield
    finally:
        _OUTPUTS.reset(token)


def softmax(x, axis=-1):
    """`jax.nn.softmax(x, axis)`, its logits remembered while `recording()` (int `axis`)."""
    output = jax.nn.softmax(x, axis=axis)
    outputs = _OUTPUTS.get()
    if outputs is not None and isinstance(axis, int):
        # the entry holds the output itself: its id cannot be reused while it is remembered
        outputs[id(output)] = (output, x, axis % output.ndim)
    return output


def logits_of(y_pred, axis):
    """The logits `y_pred` is the softmax of along `axis`, or None if it is not a remembered
    softmax output."""
    outputs = _OUTPUTS.get()
    entry = outputs.get(id(y_pred)) if outputs else None
    if entry is None or entry[0] is not y_pred or entry[2] != axis % y_pred.ndim:
        return None
    return entry[1]


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _clip_log(x, low, high):
    """`jnp.clip(x, low, high)` whose derivative is 1 strictly inside the bounds and 0
    elsewhere: Keras's clip of the probabilities, moved to their logs. At a bound exactly it
    is 0 where `jnp.clip`'s is 1/2; a log-probability equal to `log(epsilon)` in float is
    not the probability equal to `epsilon` that Keras's tie is about, so neither matches it
    there. Half the operations of `losses.base.clip`, which reach every train step."""
    return jax.lax.min(jax.lax.max(x, jax.lax.full_like(x, low)), jax.lax.full_like(x, high))


@_clip_log.defjvp
def _clip_log_jvp(low, high, primals, tangents):
    # jax.lax, not jnp: every jnp call is a nested jit that costs tracing time at each fit
    (x,), (tangent,) = primals, tangents
    low, high = jax.lax.full_like(x, low), jax.lax.full_like(x, high)
    inside = jax.lax.bitwise_and(jax.lax.gt(x, low), jax.lax.lt(x, high))
    return (jax.lax.min(jax.lax.max(x, low), high),
            jax.lax.select(inside, tangent, jax.lax.full_like(tangent, 0.0)))


def _log_bounds(dtype):
    """`log(epsilon)` and `log(1 - epsilon)` with both bounds first rounded to `dtype`, as
    Keras's clip rounds them."""
    low, high = (float(np.asarray(bound, dtype)) for bound in (EPSILON, 1.0 - EPSILON))
    return float(np.log(low)), float(np.log(high))


def log_probabilities(y_pred, from_logits, axis):
    """The clipped log-probabilities of Keras's categorical cross-entropies along `axis`, from
    logits (`from_logits`) or probabilities (a remembered softmax output: from its logits)."""
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    logits = logits_of(y_pred, axis)
    if logits is not None:
        low, high = _log_bounds(y_pred.dtype)
        return _clip_log(jax.nn.log_softmax(logits.astype(y_pred.dtype), axis=axis), low, high)
    p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(clip(p, EPSILON, 1.0 - EPSILON))
