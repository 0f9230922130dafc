"""Keras's loss ops: `binary_crossentropy`, `categorical_crossentropy`,
`sparse_categorical_crossentropy` (unreduced, last-axis classes) and `psnr`.

Probabilities (`from_logits=False`) are renormalised over the class axis and clipped to
`[epsilon, 1 - epsilon]` before the log, as in Keras (a softmax output, inside a train step:
from its logits, `lamina.losses.softmax_logits`).
"""
import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.losses.softmax_logits import log_probabilities
from lamina.ops.nn.normalization import EPSILON
from lamina.ops.tensors import tensor


def _same_shape(name, target, output):
    if target.shape != output.shape:
        raise InputSpecError(f"lamina.ops.{name}: target and output must have the same shape. "
                             f"Received: target.shape={target.shape}, "
                             f"output.shape={output.shape}.")


def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary crossentropy between targets and probabilities (or logits)."""
    target, output = tensor(target), tensor(output)
    _same_shape("binary_crossentropy", target, output)
    if from_logits:
        return -target * jax.nn.log_sigmoid(output) - (1.0 - target) * jax.nn.log_sigmoid(-output)
    output = jnp.clip(output, EPSILON, 1.0 - EPSILON)
    return -(target * jnp.log(output) + (1.0 - target) * jnp.log(1.0 - output))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy between one-hot (or soft) targets and class probabilities along `axis`."""
    target, output = tensor(target), tensor(output)
    _same_shape("categorical_crossentropy", target, output)
    if target.ndim < 1:
        raise InputSpecError("lamina.ops.categorical_crossentropy: target and output must have "
                             f"rank >= 1. Received shape {target.shape}.")
    return -jnp.sum(target * log_probabilities(output, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy between integer class targets and class probabilities along `axis`."""
    target, output = tensor(target, "int32"), tensor(output)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, axis=-1)
    if output.ndim < 1 or target.shape != output.shape[:-1]:
        raise InputSpecError("lamina.ops.sparse_categorical_crossentropy: target must have the "
                             "shape of output without its class axis. Received: "
                             f"target.shape={target.shape}, output.shape={output.shape}.")
    log_prob = log_probabilities(output, from_logits, axis)
    return -jnp.sum(jax.nn.one_hot(target, output.shape[axis], axis=axis) * log_prob, axis=axis)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio: `20 log10(max_val) - 10 log10(mean((x1 - x2)**2))`."""
    x1, x2 = tensor(x1), tensor(x2)
    _same_shape("psnr", x1, x2)
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20 * jnp.log10(tensor(max_val, x2.dtype)) - 10 * jnp.log10(mse)
