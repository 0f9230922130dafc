"""Attention layers: Attention (dot-product / concat) and AdditiveAttention; and the family's
`LAYERS`, registered for saving by `lamina.layers`.

MultiHeadAttention lives in `multi_head_attention` and is importable from here as well. The
masks of all three follow Keras 3 (see `attention_masks`).
"""
import jax
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.attention_masks import (
    _LARGE_NEGATIVE,
    _causal_mask,
    _check_mask,
    _combine,
    _dropout,
)
from lamina.layers.multi_head_attention import MultiHeadAttention
from lamina.random import SeedGenerator


class Attention(Layer):
    """Dot-product attention (Luong-style), as Keras 3's `Attention` layer.

    Call on `[query, value]` or `[query, value, key]` (key defaults to value) of shapes
    `(batch, Tq, dim)`, `(batch, Tv, dim_v)`, `(batch, Tv, dim)`; output `(batch, Tq, dim_v)`
    (and the attention probabilities `(batch, Tq, Tv)` with `return_attention_scores=True`).

    Args:
        use_scale: learn a scalar `scale` multiplying the scores ("dot") or the tanh argument
            ("concat").
        score_mode: "dot" (`query @ key^T`) or "concat" (`concat_score_weight *
            sum(tanh(query + key))`, with a learned scalar `concat_score_weight`).
        dropout: dropout rate on the attention probabilities (training only).
        seed: makes the dropout masks reproducible.

    Masks: `mask=[query_mask, value_mask]` (the graph of a model passes them); masked values
    are left out of the softmax and masked query positions output 0. `use_causal_mask=True`
    lets position i attend to positions j <= i only. The output mask is the query mask.
    """

    supports_masking = True
    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in self._score_modes:
            raise ConfigurationError(
                f"{type(self).__name__} '{self.name}': expected `score_mode` in "
                f"{self._score_modes}, received {score_mode!r}.")
        if not 0 <= dropout < 1:
            raise ConfigurationError(
                f"{type(self).__name__} '{self.name}': expected 0 <= dropout < 1, "
                f"received {dropout!r}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed, owner=self) if self.dropout > 0 else None

    def _check_inputs(self, shapes):
        label = f"{type(self).__name__} '{self.name}'"
        is_list = isinstance(shapes, (list, tuple)) and all(
            isinstance(s, (list, tuple)) for s in shapes)
        if not is_list or len(shapes) not in (2, 3):
            raise InputSpecError(
                f"{label}: expected a list [query, value] or [query, value, key], received "
                f"{f'{len(shapes)} tensors' if is_list else f'a tensor of shape {tuple(shapes)}'}.")
        shapes = [tuple(s) for s in shapes]
        query, value = shapes[:2]
        key = shapes[2] if len(shapes) == 3 else value
        if any(len(s) != 3 for s in shapes):
            raise InputSpecError(f"{label}: expected inputs of rank 3 (batch, time, features), "
                                 f"received shapes {shapes}.")
        batches = {s[0] for s in shapes} - {None}
        if len(batches) > 1 or key[1] != value[1] or query[-1] != key[-1]:
            raise InputSpecError(
                f"{label}: expected one batch size, key and value of one length, and query and "
                f"key of one feature size, received shapes {shapes}.")

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = self._build_scale(input_shape) if self.use_scale else None
        self.concat_score_weight = (self.add_weight((), "ones", name="concat_score_weight")
                                    if self.score_mode == "concat" else None)

    def _build_scale(self, input_shape):
        return self.add_weight((), "ones", name="scale")

    def check_input(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            self._check_inputs(tuple(inputs.shape))
        self._check_inputs([tuple(x.shape) for x in inputs])

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = jnp.matmul(query, jnp.swapaxes(key, -2, -1))
            return scores * self.scale.value if self.scale is not None else scores
        total = query[..., :, None, :] + key[..., None, :, :]
        if self.scale is not None:
            total = self.scale.value * total
        return self.concat_score_weight.value * jnp.sum(jnp.tanh(total), axis=-1)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = self._masks(inputs, mask)
        scores = self._scores(query, key)  # (B, Tq, Tv)
        scores_mask = _combine(None if value_mask is None else value_mask[:, None, :],
                               _causal_mask(*scores.shape[-2:]) if use_causal_mask else None)
        if scores_mask is not None:  # Keras subtracts 1e9 from masked scores
            scores = jnp.where(scores_mask, scores, scores + _LARGE_NEGATIVE)
        probabilities = jax.nn.softmax(scores, axis=-1)
        dropped = probabilities
        if training and self.seed_generator is not None:
            dropped = _dropout(self.seed_generator, self.dropout, probabilities)
        output = jnp.matmul(dropped, value)
        if query_mask is not None:
            output = jnp.where(query_mask[..., None], output, 0.0)
        return (output, probabilities) if return_attention_scores else output

    def _masks(self, inputs, mask):
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
            raise InputSpecError(
                f"{type(self).__name__} '{self.name}': expected `mask` to be a list "
                f"[query_mask, value_mask] (None for no mask), received {mask!r}.")
        query, value = inputs[0], inputs[1]
        return (_check_mask(self, "query_mask", mask[0], query.shape[:2]),
                _check_mask(self, "value_mask", mask[1], value.shape[:2]))

    def compute_mask(self, inputs, previous_mask):
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)):
            return None
        return self._masks(inputs, previous_mask)[0]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention, as Keras 3's layer.

    Scores are `sum(scale * tanh(query[:, :, None] + key[:, None]), axis=-1)` with a learned
    `scale` of shape `(dim,)` (glorot-uniform) when `use_scale=True` (the default). Call,
    masks and outputs as for `Attention`.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def _build_scale(self, input_shape):
        return self.add_weight((input_shape[0][-1],), "glorot_uniform", name="scale")

    def _scores(self, query, key):
        total = jnp.tanh(query[..., :, None, :] + key[..., None, :, :])
        if self.scale is not None:
            total = self.scale.value * total
        return jnp.sum(total, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config


LAYERS = (MultiHeadAttention, Attention, AdditiveAttention)
