"""GroupQueryAttention (Ainslie et al., 2023), as Keras 3's layer: `num_query_heads` query
heads share `num_key_value_heads` key/value heads (each key/value head serves
`num_query_heads // num_key_value_heads` query heads). With as many key/value heads as query
heads it is multi-head attention; with one, multi-query attention."""
import math

import jax.numpy as jnp

from lamina.errors import ConfigurationError
from lamina.layers.multi_head_attention import MultiHeadAttention, _Projection


def _positive(label, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(
            f"{label}: expected a positive integer `{name}`, received {value!r}.")
    return value


class GroupQueryAttention(MultiHeadAttention):
    """Grouped-query attention with Keras 3's arguments, weights and call.

    Call: `layer(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False)` on `(batch, time, features)` inputs; output `(batch, Tq, dq)`,
    plus the attention probabilities `(batch, num_query_heads, Tq, Tv)` when asked.

    Weights, in Keras's order: `query` kernel `(dq, num_query_heads, head_dim)` and bias,
    `key` and `value` kernels `(d, num_key_value_heads, head_dim)` and biases, then the
    `attention_output` kernel `(num_query_heads, head_dim, dq)` and bias `(dq,)`.

    Args:
        head_dim: size of each head.
        num_query_heads, num_key_value_heads: head counts; the first must be a multiple of
            the second.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: biases in the four projections.
        sliding_window: None, or a positive int W: each query attends only to keys fewer
            than W positions away (combined with `use_causal_mask`, the last W positions).
        flash_attention: accepted for Keras compatibility; lamina computes attention with
            einsums (XLA fuses them), so only None or False are accepted.
        kernel_*/bias_*, activity_regularizer, seed: as `MultiHeadAttention`.

    Masks follow `MultiHeadAttention`.
    """

    # the Keras importer reads only this class's arguments (not MultiHeadAttention's)
    _own_arguments_only = True

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0,
                 use_bias=True, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        label = f"GroupQueryAttention '{kwargs.get('name', 'group_query_attention')}'"
        for arg, value in (("head_dim", head_dim), ("num_query_heads", num_query_heads),
                           ("num_key_value_heads", num_key_value_heads)):
            _positive(label, arg, value)
        if num_query_heads % num_key_value_heads:
            raise ConfigurationError(
                f"{label}: expected `num_query_heads` to be a multiple of "
                f"`num_key_value_heads`, received {num_query_heads} and {num_key_value_heads}.")
        if sliding_window is not None:
            _positive(label, "sliding_window", sliding_window)
        if flash_attention:
            raise ConfigurationError(
                f"{label}: expected flash_attention None or False, received "
                f"{flash_attention!r}; lamina's attention is XLA-fused einsums.")
        super().__init__(num_query_heads, head_dim, dropout=dropout, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         seed=seed, **kwargs)
        self.head_dim, self.num_query_heads = head_dim, num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.sliding_window = sliding_window
        self.num_repeats = num_query_heads // num_key_value_heads

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_shapes(query_shape, value_shape, key_shape)
        self._feature_dims = (query_shape[-1], value_shape[-1], key_shape[-1])
        hq, hkv, dim = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self.query_dense = _Projection(self, "query", (query_shape[-1], hq, dim), 1)
        self.key_dense = _Projection(self, "key", (key_shape[-1], hkv, dim), 1)
        self.value_dense = _Projection(self, "value", (value_shape[-1], hkv, dim), 1)
        self.output_dense = _Projection(self, "attention_output", (hq, dim, query_shape[-1]), 2)

    def _extra_masks(self, tq, tv):
        if self.sliding_window is None:
            return ()
        distance = jnp.abs(jnp.arange(tq)[:, None] - jnp.arange(tv)[None, :])
        return ((distance < self.sliding_window)[None],)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=False,
             use_causal_mask=False, mask=None):
        value, key, attention_mask = self._inputs_and_mask(
            query, value, key, query_mask, value_mask, key_mask, attention_mask,
            use_causal_mask, mask)
        q = self.query_dense(query) * (1.0 / math.sqrt(self.head_dim))
        k = jnp.repeat(self.key_dense(key), self.num_repeats, axis=2)
        v = jnp.repeat(self.value_dense(value), self.num_repeats, axis=2)
        combined, probabilities = self._attend(q, k, v, attention_mask, training)
        output = self.output_dense(combined)
        return (output, probabilities) if return_attention_scores else output

    def get_config(self):
        config = super().get_config()
        for key in ("num_heads", "key_dim", "value_dim", "output_shape", "attention_axes"):
            config.pop(key)
        return {**config, "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads,
                "sliding_window": self.sliding_window}


LAYERS = (GroupQueryAttention,)
