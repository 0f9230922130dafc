"""Keras's connectionist temporal classification ops: `ctc_loss` (through optax) and
`ctc_decode` (greedy)."""
import jax.numpy as jnp
import optax

from lamina.errors import ConfigurationError, NotSupportedError
from lamina.ops.tensors import tensor


def _paddings(lengths, length, dtype):
    """1.0 past each sequence's length, 0.0 inside it: optax's padding masks."""
    return (jnp.arange(length)[None, :] >= lengths[:, None]).astype(dtype)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """CTC loss per sequence: `target` (batch, max_label) int labels, `output` (batch, time,
    classes) logits, `mask_index` the blank class."""
    target = tensor(target, "int32")
    output = tensor(output)
    output = output.astype(jnp.promote_types(output.dtype, jnp.float32))
    target_length, output_length = tensor(target_length, "int32"), tensor(output_length, "int32")
    return optax.ctc_loss(output, _paddings(output_length, output.shape[1], output.dtype), target,
                          _paddings(target_length, target.shape[1], output.dtype),
                          blank_id=mask_index)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decode (batch, time, classes) scores into label sequences.

    Returns Keras's `(decoded, scores)`: `decoded` (1, batch, time) with the labels first and
    -1 after them, `scores` (batch, 1) the negated sum of the per-step maxima. Only
    strategy="greedy" is implemented."""
    if strategy != "greedy":
        raise NotSupportedError(f"lamina.ops.ctc_decode: strategy={strategy!r} is not supported; "
                                "lamina implements strategy='greedy' only.")
    if beam_width < 1 or top_paths < 1:
        raise ConfigurationError("lamina.ops.ctc_decode: beam_width and top_paths must be >= 1.")
    inputs = tensor(inputs)
    inputs = inputs.astype(jnp.promote_types(inputs.dtype, jnp.float32))
    lengths = tensor(sequence_lengths, "int32")
    batch, steps, classes = inputs.shape
    blank = classes - 1 if mask_index is None else mask_index
    labels, scores = jnp.argmax(inputs, axis=-1), jnp.max(inputs, axis=-1)
    past_end = jnp.arange(steps)[None, :] >= lengths[:, None]
    labels = jnp.where(past_end, blank, labels)
    scores = jnp.where(past_end, 0.0, scores)
    if merge_repeated:
        repeated = jnp.pad(labels[:, 1:] == labels[:, :-1], ((0, 0), (1, 0)))
        labels = jnp.where(repeated, blank, labels)
    dropped = labels == blank
    labels = jnp.where(dropped, -1, labels)
    order = jnp.argsort(jnp.where(dropped, steps, jnp.arange(steps)[None, :]), axis=-1)
    decoded = jnp.take_along_axis(labels, order, axis=-1)
    return decoded[None], -jnp.sum(scores, axis=1)[:, None]
