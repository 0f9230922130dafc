"""MultiHeadAttention, as Keras 3's layer, and `_Projection`, the EinsumDense-like
projection it builds for the query, key, value and output.

Masks follow Keras 3 (see `attention_masks`).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from lamina import constraints, initializers, regularizers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.attention_masks import (
    _LARGE_NEGATIVE,
    _causal_mask,
    _check_attention_mask,
    _check_mask,
    _combine,
    _dropout,
)
from lamina.layers.lora import LoRA
from lamina.random import SeedGenerator


def _shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


class _Projection(LoRA, Layer):
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
        inputs = inputs.astype(self.compute_dtype)
        out = project(inputs, self.kernel.value, self.contract)
        if self.lora_enabled:
            out = out + self.lora_path(
                lambda a: project(inputs, a, self.contract)).astype(out.dtype)
        return out + self.bias.value if self.bias is not None else out


def project(inputs, weight, contract):
    """`tensordot(inputs, weight, contract)` as one matmul of 2-D views: the last `contract`
    axes of `inputs` and the first of `weight` flattened into one (free reshapes of
    row-major arrays).

    Same products, but the gradient with respect to `inputs` is then a matmul with the
    weight as stored. With the multi-axis contraction of `tensordot`, XLA's CPU backend
    copies each projection kernel transposed for that gradient, at the start of the train
    step, and keeps the copies to the backward pass: 1 MB per projection at width 512,
    which a LoRA step (base kernels frozen) pays on top of the weights (issue 18).
    """
    lead = inputs.shape[:inputs.ndim - contract]
    size = math.prod(weight.shape[:contract])
    flat = jnp.matmul(inputs.reshape(*lead, size), weight.reshape(size, -1))
    return flat.reshape(*lead, *weight.shape[contract:])


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
                raise ConfigurationError(
                    f"MultiHeadAttention '{self.name}': expected a positive integer "
                    f"`{arg}`, received {value!r}.")
        if not 0 <= dropout < 1:
            raise ConfigurationError(
                f"MultiHeadAttention '{self.name}': expected 0 <= dropout < 1, "
                f"received {dropout!r}.")
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape is not None and not all(
                isinstance(d, int) and d > 0 for d in output_shape):
            raise ConfigurationError(
                f"MultiHeadAttention '{self.name}': expected `output_shape` to be "
                f"a positive int or a tuple of them, received {output_shape!r}.")
        axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
        if axes is not None and tuple(axes) not in ((1,), (-2,)):
            raise ConfigurationError(
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
        self.seed_generator = SeedGenerator(seed, owner=self) if self.dropout > 0 else None

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
        value, key, attention_mask = self._inputs_and_mask(
            query, value, key, query_mask, value_mask, key_mask, attention_mask,
            use_causal_mask, mask)
        q = self.query_dense(query) * (1.0 / math.sqrt(self.key_dim))  # (B, Tq, H, K)
        k = self.key_dense(key)  # (B, Tv, H, K)
        v = self.value_dense(value)  # (B, Tv, H, V)
        combined, probabilities = self._attend(q, k, v, attention_mask, training)
        output = self.output_dense(combined)
        return (output, probabilities) if return_attention_scores else output

    def _extra_masks(self, tq, tv):
        """Masks a subclass adds to the attention mask (GroupQueryAttention's window)."""
        return ()

    def _inputs_and_mask(self, query, value, key, query_mask, value_mask, key_mask,
                         attention_mask, use_causal_mask, mask):
        """(value, key, the combined boolean attention mask (B, Tq, Tv) or None), after
        checking shapes and masks (Keras 3's rules, see the class docstring)."""
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
            _causal_mask(tq, tv) if use_causal_mask else None,
            *self._extra_masks(tq, tv))
        return value, key, attention_mask

    def _attend(self, q, k, v, attention_mask, training):
        """Scaled queries (B, Tq, H, K), keys (B, Tv, H, K), values (B, Tv, H, V) ->
        (combined values (B, Tq, H, V), probabilities (B, H, Tq, Tv))."""
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
        return jnp.einsum("bhts,bshv->bthv", dropped, v), probabilities

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
