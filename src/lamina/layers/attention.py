"""Attention layers: MultiHeadAttention, Attention (dot-product / concat) and AdditiveAttention.

Masks follow Keras 3. A boolean "attention mask" of shape `(batch, Tq, Tv)` says which query
position may attend to which key position; it is the AND of the explicit `attention_mask`,
the query mask (`(batch, Tq)`, as `[:, :, None]`), the value and key masks (`(batch, Tv)`, as
`[:, None, :]`) and the causal mask (`i >= j`) when `use_causal_mask=True`.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from lamina import constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import InputSpecError
from lamina.layers.regularization import SeedGenerator

_LARGE_NEGATIVE = -1e9  # Keras's masked-softmax fill value for float32


def _shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


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
    if len(shape) > 3 or any(m not in (1, e) for m, e in zip(shape[::-1], expected[::-1])):
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


class _Projection(Layer):
    """A projection inside MultiHeadAttention (Keras builds it with EinsumDense): contracts the
    last `contract` axes of the input with the first axes of `kernel`, then adds `bias`."""

    def __init__(self, owner, name, kernel_shape, contract):
        super().__init__(name=f"{owner.name}/{name}", dtype=owner.dtype,
                         activity_regularizer=owner.projection_activity_regularizer)
        self.contract = contract
        self.kernel = self.add_weight(
            kernel_shape, owner.kernel_initializer, name="kernel",
            regularizer=owner.kernel_regularizer, constraint=owner.kernel_constraint)
        self.bias = (self.add_weight(kernel_shape[contract:], owner.bias_initializer, name="bias",
                                     regularizer=owner.bias_regularizer,
                                     constraint=owner.bias_constraint)
                     if owner.use_bias else None)
        self.built = True

    def call(self, inputs):
        out = jnp.tensordot(inputs.astype(self.compute_dtype), self.kernel.value, axes=self.contract)
        return out + self.bias.value if self.bias is not None else out


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al., 2017), as Keras 3's layer.

    Call: `layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)` on `query (batch, Tq, dq)`, `value (batch, Tv, dv)`
    and `key (batch, Tv, dk)` (default: `value`). Output `(batch, Tq, dq)` (or
    `(batch, Tq, *output_shape)`), plus the attention probabilities `(batch, heads, Tq, Tv)`
    when `return_attention_scores=True`.

    Weights, in Keras 3's order and shapes: `query`, `key`, `value` kernels `(d, heads,
    key_dim)` (`value_dim` for the value) with biases `(heads, key_dim)`, then the
    `attention_output` kernel `(heads, value_dim, dq)` and bias `(dq,)`.

    Args:
        num_heads, key_dim: number of heads and size of each query/key head.
        value_dim: size of each value head (default `key_dim`).
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: biases in the four projections.
        output_shape: last dimensions of the output (an int or a tuple; default `dq`).
        attention_axes: only None (attention over the time axis of rank-3 inputs) or its
            equivalents `1` / `(1,)` / `-2`; other values raise a ValueError.
        kernel_*/bias_*: initializers, regularizers and constraints of the projections.
        activity_regularizer: as in Keras, applied to the output of each projection.
        seed: makes the dropout masks reproducible.

    Masks: `query_mask (batch, Tq)`, `value_mask`/`key_mask (batch, Tv)` may be passed
    explicitly (`key_mask` is ignored when `key` is None or is `value`, as in Keras). Inside a
    functional or Sequential model lamina passes the query's mask (as `mask=`, used when
    `query_mask` is not given); the value's mask is taken to be the query's when `value` is the
    query tensor itself (`layer(x, x)`, self-attention), which gives Keras's result. The mask
    of a different value tensor does not reach the layer inside a model yet (cross-attention
    on padded values: call the layer eagerly with `value_mask=`, or pass `attention_mask=`).
    The output mask is the query mask.
    Query positions whose every key is masked (padding queries) get zero attention
    probabilities, so their output is the output bias (Keras's scores path; its fused path
    would give uniform probabilities there).
    """

    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim),
                           ("value_dim", key_dim if value_dim is None else value_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"MultiHeadAttention '{self.name}': expected a positive integer "
                                 f"`{arg}`, received {value!r}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"MultiHeadAttention '{self.name}': expected 0 <= dropout < 1, "
                             f"received {dropout!r}.")
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape is not None and not all(
                isinstance(d, int) and d > 0 for d in output_shape):
            raise ValueError(f"MultiHeadAttention '{self.name}': expected `output_shape` to be "
                             f"a positive int or a tuple of them, received {output_shape!r}.")
        axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
        if axes is not None and tuple(axes) not in ((1,), (-2,)):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': expected attention_axes=None (attention "
                f"over the time axis of (batch, time, features) inputs), received "
                f"{attention_axes!r}. Other attention axes are not supported yet: reshape the "
                "inputs to (batch, time, features) first.")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_shape = tuple(output_shape) if output_shape is not None else None
        self.attention_axes = None if axes is None else list(axes)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.projection_activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self.seed_generator = SeedGenerator(self, seed) if self.dropout > 0 else None

    # -- building ----------------------------------------------------------------------
    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise InputSpecError(
                f"MultiHeadAttention '{self.name}': expected `value` (call the layer as "
                "`layer(query, value)`, or `layer(x, x)` for self-attention), received none.")
        if not self.built:
            with jax.ensure_compile_time_eval():
                self.build(_shape_of(query), _shape_of(value),
                           None if key is None else _shape_of(key))
            self.built = True
        return super().__call__(query, value, key, **kwargs)

    def _check_shapes(self, query_shape, value_shape, key_shape):
        shapes = {"query": query_shape, "value": value_shape, "key": key_shape}
        for what, shape in shapes.items():
            if len(shape) != 3:
                raise InputSpecError(
                    f"MultiHeadAttention '{self.name}': expected a `{what}` of rank 3 (batch, "
                    f"time, features), received shape {tuple(shape)}. Only attention over the "
                    "time axis (attention_axes=None) is supported.")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise InputSpecError(
                f"MultiHeadAttention '{self.name}': expected `value` and `key` of equal length, "
                f"received value shape {tuple(value_shape)} and key shape {tuple(key_shape)}.")
        batches = {s[0] for s in shapes.values()} - {None}
        if len(batches) > 1:
            raise InputSpecError(
                f"MultiHeadAttention '{self.name}': expected one batch size, received query "
                f"{tuple(query_shape)}, value {tuple(value_shape)}, key {tuple(key_shape)}.")

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_shapes(query_shape, value_shape, key_shape)
        self._feature_dims = (query_shape[-1], value_shape[-1], key_shape[-1])
        heads = self.num_heads
        out_shape = self.output_shape or (query_shape[-1],)
        # sublayer names make the variable paths Keras's ("<name>/query/kernel", ...)
        self.query_dense = _Projection(self, "query", (query_shape[-1], heads, self.key_dim), 1)
        self.key_dense = _Projection(self, "key", (key_shape[-1], heads, self.key_dim), 1)
        self.value_dense = _Projection(self, "value", (value_shape[-1], heads, self.value_dim),
                                       1)
        self.output_dense = _Projection(self, "attention_output",
                                        (heads, self.value_dim) + tuple(out_shape), 2)

    def _check_call_shapes(self, query, value, key):
        self._check_shapes(query.shape, value.shape, key.shape)
        received = (query.shape[-1], value.shape[-1], key.shape[-1])
        if received != self._feature_dims:
            raise InputSpecError(
                f"MultiHeadAttention '{self.name}': built for (query, value, key) feature "
                f"sizes {self._feature_dims}, received {received} (shapes "
                f"{tuple(query.shape)}, {tuple(value.shape)}, {tuple(key.shape)}).")

    # -- calling -----------------------------------------------------------------------
    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=False,
             use_causal_mask=False, mask=None):
        self_attention = value is query
        key_is_value = key is None or key is value
        value = jnp.asarray(value)
        key = value if key_is_value else jnp.asarray(key)
        self._check_call_shapes(query, value, key)
        if query_mask is None:
            query_mask = mask
        if value_mask is None and self_attention:
            value_mask = query_mask
        batch, tq, tv = query.shape[0], query.shape[1], value.shape[1]
        query_mask = _check_mask(self, "query_mask", query_mask, (batch, tq))
        value_mask = _check_mask(self, "value_mask", value_mask, (batch, tv))
        key_mask = None if key_is_value else _check_mask(self, "key_mask", key_mask, (batch, tv))
        attention_mask = _combine(
            _check_attention_mask(self, attention_mask, (batch, tq, tv)),
            None if query_mask is None else query_mask[:, :, None],
            None if value_mask is None else value_mask[:, None, :],
            None if key_mask is None else key_mask[:, None, :],
            _causal_mask(tq, tv) if use_causal_mask else None)

        q = self.query_dense(query) * (1.0 / math.sqrt(self.key_dim))  # (B, Tq, H, K)
        k = self.key_dense(key)  # (B, Tv, H, K)
        v = self.value_dense(value)  # (B, Tv, H, V)
        scores = jnp.einsum("bshk,bthk->bhts", k, q)  # (B, H, Tq, Tv)
        if attention_mask is not None:
            attention_mask = jnp.expand_dims(attention_mask, -3)  # broadcast over heads
            scores = jnp.where(attention_mask, scores, _LARGE_NEGATIVE)
        probabilities = jax.nn.softmax(scores, axis=-1)
        if attention_mask is not None:
            probabilities = jnp.where(attention_mask, probabilities, 0.0)
        dropped = probabilities
        if training and self.seed_generator is not None:
            dropped = _dropout(self.seed_generator, self.dropout, probabilities)
        combined = jnp.einsum("bhts,bshv->bthv", dropped, v)  # (B, Tq, H, V)
        output = self.output_dense(combined)
        return (output, probabilities) if return_attention_scores else output

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_shape,
            "attention_axes": self.attention_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.projection_activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }


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
            raise ValueError(f"{type(self).__name__} '{self.name}': expected `score_mode` in "
                             f"{self._score_modes}, received {score_mode!r}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected 0 <= dropout < 1, "
                             f"received {dropout!r}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.seed_generator = SeedGenerator(self, seed) if self.dropout > 0 else None

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
