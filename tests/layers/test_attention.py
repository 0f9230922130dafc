"""Attention layers: harness rows (Attention, AdditiveAttention), the same checks written out
for MultiHeadAttention (called as `layer(query, value)`, which the harness's one-argument call
does not fit), numpy references with masks and the causal mask (forward, and gradients by
finite differences), agreement with Keras 3, masks through models, and errors."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.core import registry
from lamina.core import scope as scope_lib
from lamina.layers import attention
from lamina.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from lamina.layers.embedding import Embedding
from lamina.saving import register_serializable

for _cls in attention.LAYERS:  # the lead wires the package exports; re-registration is allowed
    register_serializable()(_cls)

RTOL, ATOL = 1e-5, 1e-5  # float32 forward against float64 numpy
GRAD_RTOL, GRAD_ATOL = 2e-3, 2e-4  # float32 jax.grad against float64 central differences


def _normal(*shapes):
    return lambda rng: [rng.normal(size=s).astype(np.float32) for s in shapes]


def _prefix_mask(batch, length, seed):
    lengths = np.random.default_rng(seed).integers(1, length + 1, size=batch)
    return np.arange(length)[None, :] < lengths[:, None]


HARNESS_CASES = [
    LayerCase("attention-dot", lambda: Attention(), _normal((6, 4, 3), (6, 5, 3)), (6, 4, 3),
              trainable_params=0, supports_masking=True),
    LayerCase("attention-scale-concat", lambda: Attention(use_scale=True, score_mode="concat"),
              _normal((6, 4, 3), (6, 5, 3)), (6, 4, 3), trainable_params=2),
    LayerCase("attention-key", lambda: Attention(use_scale=True),
              _normal((6, 4, 3), (6, 5, 2), (6, 5, 3)), (6, 4, 2), trainable_params=1),
    LayerCase("attention-masked", lambda: Attention(use_scale=True),
              _normal((6, 4, 3), (6, 5, 3)), (6, 4, 3), trainable_params=1,
              mask=lambda q: [_prefix_mask(6, 4, 1), _prefix_mask(6, 5, 2)],
              expected_mask=lambda xs, ms: ms[0]),
    LayerCase("attention-causal-dropout", lambda: Attention(dropout=0.2, seed=3),
              _normal((6, 4, 3), (6, 4, 3)), (6, 4, 3), trainable_params=0,
              call_kwargs={"use_causal_mask": True}),
    LayerCase("attention-scores", lambda: Attention(use_scale=True),
              _normal((6, 4, 3), (6, 5, 3)), [(6, 4, 3), (6, 4, 5)], trainable_params=1,
              call_kwargs={"return_attention_scores": True}),
    LayerCase("additive", lambda: AdditiveAttention(), _normal((6, 4, 3), (6, 5, 3)), (6, 4, 3),
              trainable_params=3, supports_masking=True,
              mask=lambda q: [None, _prefix_mask(6, 5, 3)], expected_mask=lambda xs, ms: None),
    LayerCase("additive-no-scale", lambda: AdditiveAttention(use_scale=False),
              _normal((6, 4, 3), (6, 5, 3), (6, 5, 3)), (6, 4, 3), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- MultiHeadAttention: the harness checks, for a layer called as layer(query, value) ------
def _pure(layer, weights, *args, **kwargs):
    """`layer(*args, **kwargs)` reading `weights` (a list like get_weights()): traceable."""
    scope = scope_lib.CallScope({v.uid: w for v, w in zip(layer.weights, weights, strict=True)})
    with scope_lib.activate(scope):
        return layer(*args, **kwargs)


class _Head(lm.layers.Layer):
    """Flattens the attention output to (batch, features) and consumes its mask."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return None

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], -1)


MHA_CASES = [
    # id, make, (query, value[, key]) shapes, self-attention, output shape, trainable params
    ("self-dropout-regularized",
     lambda: MultiHeadAttention(2, 3, dropout=0.3, seed=2, kernel_regularizer="l2",
                                kernel_constraint="max_norm"),
     [(6, 4, 5)], True, (6, 4, 5), 3 * (5 * 2 * 3 + 2 * 3) + 2 * 3 * 5 + 5),
    ("cross-key-value-dim-output-shape-no-bias",
     lambda: MultiHeadAttention(2, 3, value_dim=4, use_bias=False, output_shape=(2, 3)),
     [(6, 4, 5), (6, 3, 2), (6, 3, 7)], False, (6, 4, 2, 3),
     (5 + 7) * 2 * 3 + 2 * 2 * 4 + 2 * 4 * 2 * 3),
]


def _mha_args(shapes, symbolic, self_attention, rng):
    arrays = [rng.normal(size=s).astype(np.float32) for s in shapes]
    tensors = [lm.Input(s[1:]) for s in shapes] if symbolic else arrays
    args = [tensors[0], tensors[0]] + tensors[2:] if self_attention else tensors
    return tensors, args, arrays


@pytest.mark.parametrize("case", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multi_head_attention_harness_points(case):
    _, make, shapes, self_attention, out_shape, params = case
    rng = np.random.default_rng(0)
    _, args, arrays = _mha_args(shapes, False, self_attention, rng)
    layer = make()

    # 1. output shape and dtype, eagerly and symbolically
    out = layer(*args)
    assert out.shape == out_shape and out.dtype == jnp.float32
    sym_inputs, sym_args, _ = _mha_args(shapes, True, self_attention, rng)
    assert make()(*sym_args).shape == (None,) + out_shape[1:]

    # 2. exact parameter counts (Keras 3 layout)
    count = sum(int(np.prod(v.shape)) for v in layer.trainable_weights)
    assert count == params and layer.count_params() == params
    assert layer.non_trainable_weights == []

    # 3. config round trip and copied weights give bitwise-equal outputs
    config = layer.get_config()
    clone = MultiHeadAttention.from_config(config)
    assert clone.get_config() == config
    clone(*args)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(layer(*args)), np.asarray(clone(*args)))
    rebuilt = registry.deserialize(registry.serialize(layer))
    assert type(rebuilt) is MultiHeadAttention and rebuilt.get_config() == config

    # 4. a training step changes every weight of the layer
    tested = make()
    head = lm.layers.Dense(1, name="head")
    model = lm.Model(sym_inputs, head(_Head()(tested(*sym_args))))
    model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
    x = arrays if len(arrays) > 1 else arrays[0]
    y = rng.normal(size=(6, 1)).astype(np.float32)
    before = tested.get_weights()
    model.train_on_batch(x, y)
    for v, b, a in zip(tested.weights, before, tested.get_weights(), strict=True):
        assert not np.array_equal(a, b), f"trainable '{v.path}' did not change"

    # 5. frozen by its own flag, then by a scoped freeze: bitwise unchanged, the head trains
    for freeze, thaw in ((lambda: setattr(tested, "trainable", False),
                          lambda: setattr(tested, "trainable", True)),
                         (lambda: model.freeze(tested), lambda: model.unfreeze(tested))):
        freeze()
        before, head_before = tested.get_weights(), head.get_weights()
        model.train_on_batch(x, y)
        for v, b, a in zip(tested.weights, before, tested.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"frozen '{v.path}' changed")
        assert not np.array_equal(head.get_weights()[0], head_before[0])
        thaw()

    # 6. masks: the output mask is the query's; a masked model call stays finite
    query_mask = _prefix_mask(6, shapes[0][1], 4)
    assert layer.supports_masking
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(arrays[0], query_mask)),
                                  query_mask)
    masks = [query_mask] + [None] * (len(arrays) - 1)
    assert np.all(np.isfinite(np.asarray(model(x, mask=masks if len(arrays) > 1
                                                else query_mask))))


# -- numpy references ---------------------------------------------------------------------
def _np_softmax_rows(scores, allowed):
    """Softmax over the allowed entries of each row; a row with none allowed is all zero."""
    out = np.zeros_like(scores)
    for idx in np.ndindex(*scores.shape[:-1]):
        keep = allowed[idx]
        if keep.any():
            e = np.exp(scores[idx][keep] - scores[idx][keep].max())
            out[idx][keep] = e / e.sum()
    return out


def _np_mha(weights, query, value, key, allowed, num_heads, key_dim, use_bias=True):
    """Multi-head attention, head by head. `allowed`: (B, Tq, Tv) boolean."""
    w = [np.asarray(a, np.float64) for a in weights]
    if use_bias:
        wq, bq, wk, bk, wv, bv, wo, bo = w
    else:
        wq, wk, wv, wo = w
        bq = bk = bv = bo = 0.0
    batch, tq, tv = query.shape[0], query.shape[1], value.shape[1]
    probs = np.zeros((batch, num_heads, tq, tv))
    out = np.zeros((batch, tq) + wo.shape[2:])
    for b in range(batch):
        for h in range(num_heads):
            q = query[b] @ wq[:, h, :] + (bq[h] if use_bias else 0.0)  # (Tq, K)
            k = key[b] @ wk[:, h, :] + (bk[h] if use_bias else 0.0)  # (Tv, K)
            v = value[b] @ wv[:, h, :] + (bv[h] if use_bias else 0.0)  # (Tv, V)
            scores = np.zeros((tq, tv))
            for t in range(tq):
                for s in range(tv):
                    scores[t, s] = np.dot(q[t], k[s]) / np.sqrt(key_dim)
            probs[b, h] = _np_softmax_rows(scores, allowed[b])
            head_out = probs[b, h] @ v  # (Tq, V)
            out[b] += np.tensordot(head_out, wo[h], axes=1)
        out[b] += bo
    return out, probs


def _random_weights(layer, rng, scale=0.7):
    return [(scale * rng.normal(size=w.shape)).astype(np.float32) for w in layer.get_weights()]


def _finite_difference_grads(f, arrays, eps=1e-6):
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros(a.shape)
        for idx in np.ndindex(*a.shape):
            plus = [np.array(x, np.float64) for x in arrays]
            minus = [np.array(x, np.float64) for x in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (f(plus) - f(minus)) / (2 * eps)
        grads.append(g)
    return grads


def _mha_problem(rng, self_attention):
    q = rng.normal(size=(2, 3, 4)).astype(np.float32)
    v = q if self_attention else rng.normal(size=(2, 4, 3)).astype(np.float32)
    tv = v.shape[1]
    query_mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    value_mask = np.array([[1, 0, 1, 1][:tv], [1, 1, 0, 0][:tv]], bool)
    attention_mask = rng.random((2, 3, tv)) < 0.8
    return q, v, query_mask, value_mask, attention_mask


@pytest.mark.parametrize("causal, self_attention", [(False, False), (True, True)])
def test_multi_head_attention_matches_numpy_forward_and_gradient(causal, self_attention):
    rng = np.random.default_rng(5)
    q, v, query_mask, value_mask, attention_mask = _mha_problem(rng, self_attention)
    layer = MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3)
    layer(q, v)
    weights = _random_weights(layer, rng)
    layer.set_weights(weights)
    masks = dict(query_mask=query_mask, value_mask=value_mask, attention_mask=attention_mask,
                 use_causal_mask=causal)
    allowed = attention_mask & query_mask[:, :, None] & value_mask[:, None, :]
    if causal:
        allowed = allowed & (np.arange(3)[:, None] >= np.arange(v.shape[1])[None, :])
    out, probs = layer(q, v, return_attention_scores=True, **masks)
    expected_out, expected_probs = _np_mha(weights, q.astype(np.float64), v.astype(np.float64),
                                           v.astype(np.float64), allowed, 2, 2)
    np.testing.assert_allclose(np.asarray(out), expected_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.asarray(probs), expected_probs, rtol=RTOL, atol=ATOL)

    # gradients w.r.t. the inputs and every weight, against central differences of numpy
    w_out = rng.normal(size=out.shape)
    arrays = [q] + ([] if self_attention else [v]) + weights

    def lamina_loss(args):
        query = args[0]
        value = query if self_attention else args[1]
        result = _pure(layer, args[2 - self_attention:], query, value, **masks)
        return jnp.sum(result * w_out)

    def numpy_loss(args):
        query = args[0]
        value = query if self_attention else args[1]
        result, _ = _np_mha(args[2 - self_attention:], query, value, value, allowed, 2, 2)
        return np.sum(result * w_out)

    grads = jax.jit(jax.grad(lamina_loss))([jnp.asarray(a) for a in arrays])
    for g, e in zip(grads, _finite_difference_grads(numpy_loss, arrays), strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_multi_head_attention_key_mask_output_shape_and_no_bias_match_numpy():
    rng = np.random.default_rng(6)
    q, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 3))
    k = rng.normal(size=(2, 5, 6))
    q, v, k = (a.astype(np.float32) for a in (q, v, k))
    layer = MultiHeadAttention(3, 2, use_bias=False, output_shape=(2, 2))
    layer(q, v, k)
    weights = _random_weights(layer, rng)
    layer.set_weights(weights)
    assert [w.shape for w in weights] == [(4, 3, 2), (6, 3, 2), (3, 3, 2), (3, 2, 2, 2)]
    expected, _ = _np_mha(weights, q, v, k, np.ones((2, 3, 5), bool), 3, 2, use_bias=False)
    np.testing.assert_allclose(np.asarray(layer(q, v, k)), expected, rtol=RTOL, atol=ATOL)
    key_mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    expected, _ = _np_mha(weights, q, v, k, np.broadcast_to(key_mask[:, None, :], (2, 3, 5)),
                          3, 2, use_bias=False)
    np.testing.assert_allclose(np.asarray(layer(q, v, k, key_mask=key_mask)), expected,
                               rtol=RTOL, atol=ATOL)


def _np_attention(q, v, k, query_mask, value_mask, causal, score):
    q, v, k = (a.astype(np.float64) for a in (q, v, k))
    batch, tq, tv = q.shape[0], q.shape[1], v.shape[1]
    out = np.zeros((batch, tq, v.shape[2]))
    probs = np.zeros((batch, tq, tv))
    for b in range(batch):
        for t in range(tq):
            scores = np.array([score(q[b, t], k[b, s]) for s in range(tv)])
            for s in range(tv):
                masked = (value_mask is not None and not value_mask[b, s]) or (causal and s > t)
                if masked:  # Keras subtracts 1e9 from masked scores
                    scores[s] -= 1e9
            e = np.exp(scores - scores.max())
            probs[b, t] = e / e.sum()
            out[b, t] = probs[b, t] @ v[b]
            if query_mask is not None and not query_mask[b, t]:
                out[b, t] = 0.0
    return out, probs


def _attention_case(kind):
    if kind == "dot":
        return Attention(use_scale=True), lambda w: (lambda a, b: w[0] * np.dot(a, b))
    if kind == "concat":
        return (Attention(use_scale=True, score_mode="concat"),
                lambda w: (lambda a, b: w[1] * np.sum(np.tanh(w[0] * (a + b)))))
    return AdditiveAttention(), lambda w: (lambda a, b: np.sum(w[0] * np.tanh(a + b)))


@pytest.mark.parametrize("kind", ["dot", "concat", "additive"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_layers_match_numpy_forward_and_gradient(kind, causal):
    rng = np.random.default_rng(8)
    q = rng.normal(size=(2, 3, 2)).astype(np.float32)
    v = rng.normal(size=(2, 3, 3)).astype(np.float32)
    k = rng.normal(size=(2, 3, 2)).astype(np.float32)
    query_mask = np.array([[1, 0, 1], [1, 1, 1]], bool)
    # every row keeps a key (Keras requires it: in float32, scores - 1e9 lose their value)
    value_mask = np.array([[1, 1, 0], [1, 0, 1]], bool)
    layer, score = _attention_case(kind)
    layer([q, v, k])
    weights = [(1.0 + 0.5 * rng.normal(size=w.shape)).astype(np.float32)
               for w in layer.get_weights()]
    layer.set_weights(weights)
    mask = [query_mask, value_mask]
    out, probs = layer([q, v, k], mask=mask, use_causal_mask=causal,
                       return_attention_scores=True)
    expected_out, expected_probs = _np_attention(q, v, k, query_mask, value_mask, causal,
                                                 score(weights))
    np.testing.assert_allclose(np.asarray(out), expected_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.asarray(probs), expected_probs, rtol=RTOL, atol=ATOL)

    w_out = rng.normal(size=out.shape)

    def lamina_loss(args):
        result = _pure(layer, args[3:], args[:3], mask=mask, use_causal_mask=causal)
        return jnp.sum(result * w_out)

    def numpy_loss(args):
        result, _ = _np_attention(*args[:3], query_mask, value_mask, causal, score(args[3:]))
        return np.sum(result * w_out)

    arrays = [q, v, k] + weights
    grads = jax.jit(jax.grad(lamina_loss))([jnp.asarray(a) for a in arrays])
    for g, e in zip(grads, _finite_difference_grads(numpy_loss, arrays), strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# -- dropout ------------------------------------------------------------------------------
def test_dropout_acts_only_when_training_and_scores_are_returned_before_it():
    # (Attention's dropout trains in the harness row "attention-causal-dropout")
    x = np.random.default_rng(9).normal(size=(2, 5, 4)).astype(np.float32)
    layer = MultiHeadAttention(2, 2, dropout=0.5, seed=1)
    eval_out, eval_probs = layer(x, x, return_attention_scores=True)
    train_out, train_probs = layer(x, x, training=True, return_attention_scores=True)
    np.testing.assert_array_equal(np.asarray(train_probs), np.asarray(eval_probs))
    assert not np.allclose(np.asarray(train_out), np.asarray(eval_out))
    second, _ = layer(x, x, training=True, return_attention_scores=True)
    assert not np.array_equal(np.asarray(second), np.asarray(train_out))  # a fresh draw
    np.testing.assert_array_equal(np.asarray(layer(x, x, return_attention_scores=True)[0]),
                                  np.asarray(eval_out))


# -- masks through models -----------------------------------------------------------------
class _MaskProbe(lm.layers.Layer):
    """Outputs the mask it receives (1.0 valid, 0.0 masked; -1 for no mask)."""

    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return jnp.full(inputs.shape[:2], -1.0)
        return mask.astype(jnp.float32)


def test_masks_travel_through_attention_layers_in_a_model():
    tokens = lm.Input((5,), dtype="int32")
    other = lm.Input((3,), dtype="int32")
    x = Embedding(9, 4, mask_zero=True)(tokens)
    y = Embedding(9, 4, mask_zero=True)(other)
    mha = MultiHeadAttention(2, 2)(x, x)
    cross = Attention()([x, y])
    model = lm.Model([tokens, other], [_MaskProbe()(mha), _MaskProbe()(cross)])
    a = np.array([[1, 2, 0, 0, 0], [3, 3, 3, 0, 0]], np.int32)
    b = np.array([[1, 0, 0], [0, 0, 0]], np.int32)
    for out in model([a, b]):
        np.testing.assert_array_equal(np.asarray(out), a != 0)


def test_self_attention_in_a_model_ignores_padding_keys():
    # the value's mask is the query's for layer(x, x): padding changes no valid output
    tokens = lm.Input((None,), dtype="int32")
    x = Embedding(9, 4, mask_zero=True)(tokens)
    model = lm.Model(tokens, MultiHeadAttention(2, 3)(x, x))
    short = np.array([[3, 1, 4], [5, 9, 2]], np.int32)
    padded = np.concatenate([short, np.zeros((2, 3), np.int32)], axis=1)
    np.testing.assert_allclose(np.asarray(model(padded))[:, :3], np.asarray(model(short)),
                               rtol=1e-6, atol=1e-6)


# -- Keras 3 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _keras_weights(layer):
    # (Keras's own get_weights warns under numpy 2: read the jax values instead)
    return [np.asarray(v.value) for v in layer.weights]


@pytest.mark.parametrize("kwargs, with_key", [
    ({}, False),
    ({"value_dim": 3, "output_shape": (2, 3), "use_bias": False}, True),
])
def test_multi_head_attention_matches_keras(keras, kwargs, with_key):
    rng = np.random.default_rng(10)
    q = rng.normal(size=(2, 4, 5)).astype(np.float32)
    v = rng.normal(size=(2, 3, 2)).astype(np.float32)
    args = (q, v, rng.normal(size=(2, 3, 6)).astype(np.float32)) if with_key else (q, v)
    theirs = keras.layers.MultiHeadAttention(2, 3, name="mha", **kwargs)
    theirs(*args)
    ours = MultiHeadAttention(2, 3, name="mha", **kwargs)
    ours(*args)
    assert [v.path for v in ours.weights] == [v.path for v in theirs.weights]
    ours.set_weights(_keras_weights(theirs))
    value_mask = np.array([[1, 0, 1], [1, 1, 0]], bool)
    attention_mask = rng.random((2, 4, 3)) < 0.7
    for call in (dict(), dict(value_mask=value_mask, use_causal_mask=True,
                              attention_mask=attention_mask)):
        expected, expected_scores = theirs(*args, return_attention_scores=True, **call)
        out, scores = ours(*args, return_attention_scores=True, **call)
        np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(np.asarray(scores), np.asarray(expected_scores),
                                   rtol=RTOL, atol=ATOL)


def test_masked_self_attention_model_matches_keras(keras):
    ids = np.array([[3, 1, 4, 0, 0], [2, 0, 0, 0, 0], [5, 6, 7, 8, 1]], np.int32)

    def build(lib, embedding, mha):
        tokens = lib.Input((5,), dtype="int32")
        x = embedding(10, 4, mask_zero=True)(tokens)
        out, scores = mha(2, 3)(x, x, use_causal_mask=True, return_attention_scores=True)
        return lib.Model(tokens, [out, scores])

    theirs = build(keras, keras.layers.Embedding, keras.layers.MultiHeadAttention)
    ours = build(lm, Embedding, MultiHeadAttention)
    ours.set_weights(_keras_weights(theirs))
    for a, b in zip(ours(ids), theirs(ids), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("make", [
    lambda L: L.Attention(), lambda L: L.Attention(use_scale=True, score_mode="concat"),
    lambda L: L.AdditiveAttention()])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_layers_match_keras(keras, make, causal):
    rng = np.random.default_rng(11)
    inputs = [rng.normal(size=s).astype(np.float32) for s in ((2, 4, 3), (2, 4, 2), (2, 4, 3))]
    mask = [np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool),
            np.array([[0, 1, 1, 0], [1, 1, 1, 0]], bool)]
    theirs = make(keras.layers)
    theirs(inputs)
    ours = make(attention)
    ours(inputs)
    weights = [(1.0 + 0.3 * rng.normal(size=w.shape)).astype(np.float32)
               for w in _keras_weights(theirs)]
    for layer in (theirs, ours):
        layer.set_weights(weights)
    expected = theirs(inputs, mask=mask, use_causal_mask=causal, return_attention_scores=True)
    got = ours(inputs, mask=mask, use_causal_mask=causal, return_attention_scores=True)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(np.asarray(ours.compute_mask(inputs, mask)),
                                  np.asarray(theirs.compute_mask(inputs, mask)))


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=0, key_dim=2), r"expected a positive integer `num_heads`, received 0"),
    (dict(num_heads=2, key_dim=2.0), r"expected a positive integer `key_dim`, received 2.0"),
    (dict(num_heads=2, key_dim=2, value_dim=-1),
     r"expected a positive integer `value_dim`, received -1"),
    (dict(num_heads=2, key_dim=2, dropout=1.0), r"expected 0 <= dropout < 1, received 1.0"),
    (dict(num_heads=2, key_dim=2, output_shape=(2, 0)), r"expected `output_shape` to be"),
    (dict(num_heads=2, key_dim=2, attention_axes=(1, 2)),
     r"expected attention_axes=None .* received \(1, 2\)"),
])
def test_multi_head_attention_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=rf"MultiHeadAttention 'mha': {message}"):
        MultiHeadAttention(name="mha", **kwargs)


def test_multi_head_attention_input_errors():
    x = np.ones((2, 4, 3), np.float32)
    with pytest.raises(lm.InputSpecError, match=r"'mha': expected `value` .* `layer\(x, x\)`"):
        MultiHeadAttention(2, 2, name="mha")(x)
    with pytest.raises(lm.InputSpecError, match=r"'mha': expected a `query` of rank 3 .*"
                                                r"received shape \(None, 4\)"):
        MultiHeadAttention(2, 2, name="mha")(lm.Input((4,)), lm.Input((3, 4)))
    with pytest.raises(lm.InputSpecError, match=r"'mha': expected `value` and `key` of equal "
                                                r"length, received value shape \(2, 4, 3\) and "
                                                r"key shape \(2, 5, 3\)"):
        MultiHeadAttention(2, 2, name="mha")(x, x, np.ones((2, 5, 3), np.float32))
    layer = MultiHeadAttention(2, 2, name="mha")
    layer(x, x)
    with pytest.raises(lm.InputSpecError, match=re.escape(
            "'mha': built for (query, value, key) feature sizes (3, 3, 3), received (5, 3, 3)")):
        layer(np.ones((2, 4, 5), np.float32), x)


@pytest.mark.parametrize("kwargs, message", [
    (dict(query_mask=np.ones((2, 5), bool)),
     r"`query_mask` of shape \(2, 4\), received shape \(2, 5\)"),
    (dict(value_mask=np.ones((4, 2), bool)),
     r"`value_mask` of shape \(2, 3\), received shape \(4, 2\)"),
    (dict(attention_mask=np.ones((2, 3, 4), bool)),
     (r"`attention_mask` broadcastable to \(batch, Tq, Tv\) = \(2, 4, 3\), received shape "
      r"\(2, 3, 4\)")),
])
def test_masks_of_the_wrong_shape_are_refused_by_multi_head_attention(kwargs, message):
    q, v = np.ones((2, 4, 3), np.float32), np.ones((2, 3, 3), np.float32)
    with pytest.raises(lm.InputSpecError, match=rf"MultiHeadAttention 'mha': expected {message}"):
        MultiHeadAttention(2, 2, name="mha")(q, v, **kwargs)


def test_attention_errors():
    q, v = np.ones((2, 4, 3), np.float32), np.ones((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"Attention 'att': expected `score_mode` in \('dot', "
                                         r"'concat'\), received 'sum'"):
        Attention(score_mode="sum", name="att")
    with pytest.raises(lm.InputSpecError, match=r"Attention 'att': expected a list \[query, "
                                                r"value\] or \[query, value, key\], received a "
                                                r"tensor of shape \(2, 4, 3\)"):
        Attention(name="att")(q)
    with pytest.raises(lm.InputSpecError, match=r"AdditiveAttention 'add': expected a list .* "
                                                r"received 4 tensors"):
        AdditiveAttention(name="add")([q, v, v, v])
    with pytest.raises(lm.InputSpecError, match=r"'att': expected one batch size, key and value "
                                                r"of one length, and query and key of one "
                                                r"feature size"):
        Attention(name="att")([lm.Input((4, 3)), lm.Input((5, 2))])
    with pytest.raises(lm.InputSpecError, match=r"'att': expected `mask` to be a list "
                                                r"\[query_mask, value_mask\]"):
        Attention(name="att")([q, v], mask=np.ones((2, 4), bool))
    with pytest.raises(lm.InputSpecError, match=r"'att': expected `value_mask` of shape "
                                                r"\(2, 5\), received shape \(2, 4\)"):
        Attention(name="att")([q, v], mask=[None, np.ones((2, 4), bool)])
