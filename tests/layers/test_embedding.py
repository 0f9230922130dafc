"""Embedding and Masking: harness rows, numpy references (forward and gradient), masks through
a functional model, agreement with Keras 3, and bad-input errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.core import scope as scope_lib
from lamina.layers.embedding import LAYERS, Embedding, Masking
from lamina.saving import register_serializable

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

RTOL, ATOL = 1e-6, 1e-6


def _tokens(*shape, high=7, zeros=True):
    def make(rng):
        x = rng.integers(1, high, size=shape).astype(np.int32)
        if zeros:  # right padding of varying length
            for i in range(shape[0]):
                x[i, shape[1] - (i % shape[1]):] = 0
        return x
    return make


def _sequences(rng):
    x = rng.normal(size=(6, 4, 3)).astype(np.float32)
    x[0, 1] = 0.0
    x[2, 3] = 0.0
    x[5, :2] = 0.0
    return x


HARNESS_CASES = [
    LayerCase("embedding", lambda: Embedding(7, 3), _tokens(6, 4, zeros=False), (6, 4, 3),
              trainable_params=21, supports_masking=False,
              mask=lambda x: None, expected_mask=lambda x, m: None),
    LayerCase("embedding-mask-zero", lambda: Embedding(7, 3, mask_zero=True), _tokens(6, 4),
              (6, 4, 3), trainable_params=21, supports_masking=True,
              mask=lambda x: None, expected_mask=lambda x, m: x != 0),
    LayerCase("embedding-regularized-1d",
              lambda: Embedding(5, 2, embeddings_regularizer="l2",
                                embeddings_constraint="non_neg",
                                embeddings_initializer="random_normal"),
              _tokens(6, 1, high=5, zeros=False), (6, 1, 2), trainable_params=10),
    LayerCase("masking", lambda: Masking(), _sequences, (6, 4, 3), trainable_params=0,
              supports_masking=True, mask=lambda x: None,
              expected_mask=lambda x, m: np.any(x != 0.0, axis=-1)),
    LayerCase("masking-value", lambda: Masking(mask_value=0.5),
              lambda rng: np.where(_sequences(rng) == 0, 0.5, _sequences(rng)).astype(np.float32),
              (6, 4, 3), trainable_params=0, supports_masking=True,
              mask=lambda x: np.ones(x.shape[:2], bool),
              expected_mask=lambda x, m: np.any(x != 0.5, axis=-1)),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references ---------------------------------------------------------------------
def test_embedding_forward_and_gradient_match_numpy():
    rng = np.random.default_rng(3)
    layer = Embedding(6, 4)
    ids = np.array([[0, 5, 2, 2], [1, 3, 5, 0]], np.int32)
    table = rng.normal(size=(6, 4)).astype(np.float32)
    layer(ids)
    layer.set_weights([table])
    expected = np.zeros((2, 4, 4))
    for b in range(2):
        for t in range(4):
            expected[b, t] = table[ids[b, t]]
    np.testing.assert_allclose(np.asarray(layer(ids)), expected, rtol=RTOL, atol=ATOL)

    # d/dtable sum(out * w): each row collects the w of every position that reads it
    w = rng.normal(size=(2, 4, 4)).astype(np.float32)
    layer_grad = jax.grad(lambda e: jnp.sum(_call_with(layer, [e], ids) * w))(
        jnp.asarray(table))
    expected_grad = np.zeros((6, 4))
    for b in range(2):
        for t in range(4):
            expected_grad[ids[b, t]] += w[b, t]
    np.testing.assert_allclose(np.asarray(layer_grad), expected_grad, rtol=1e-5, atol=1e-6)


def _call_with(layer, weights, inputs):
    """The layer's output with its weights replaced by `weights` (traceable: for jax.grad)."""
    scope = scope_lib.CallScope({v.uid: w for v, w in zip(layer.weights, weights, strict=True)})
    with scope_lib.activate(scope):
        return layer(inputs)


def test_embedding_out_of_range_indices_follow_keras_on_jax():
    layer = Embedding(3, 2)
    ids = np.array([[0, 2, -1, -3, 3, -4, 100]], np.int32)
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    layer(ids)
    layer.set_weights([table])
    out = np.asarray(layer(ids))[0]
    # -3 <= i < 0 wraps to i + 3; anything else out of range is a NaN row
    np.testing.assert_array_equal(out[:4], table[[0, 2, 2, 0]])
    assert np.isnan(out[4:]).all()


def test_masking_forward_and_gradient_match_numpy():
    x = _sequences(np.random.default_rng(0))
    x[1, 2] = [-1.0, -1.0, -1.0]
    layer = Masking(mask_value=-1.0)
    expected = x.astype(np.float64).copy()
    expected_mask = np.ones((6, 4), bool)
    for b in range(6):
        for t in range(4):
            if all(v == -1.0 for v in x[b, t]):
                expected[b, t] = 0.0
                expected_mask[b, t] = False
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x, None)), expected_mask)
    w = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    grad = jax.grad(lambda v: jnp.sum(layer(v) * w))(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(grad), w * expected_mask[..., None])


# -- masks through a functional model -----------------------------------------------------
class _MaskProbe(lm.layers.Layer):
    """Outputs the mask it receives (1.0 valid, 0.0 masked) so a test can read it."""

    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return jnp.full(inputs.shape[:2], -1.0)
        return mask.astype(jnp.float32)


def test_embedding_mask_reaches_later_layers_in_a_model():
    ids = np.array([[4, 2, 0, 0], [1, 0, 0, 0], [3, 3, 3, 3]], np.int32)
    inp = lm.Input((4,), dtype="int32")
    hidden = lm.layers.Dense(5)(Embedding(6, 3, mask_zero=True)(inp))  # Dense passes masks on
    model = lm.Model(inp, _MaskProbe()(hidden))
    np.testing.assert_array_equal(np.asarray(model(ids)), (ids != 0).astype(np.float32))
    np.testing.assert_array_equal(model.predict(ids, verbose=0), (ids != 0).astype(np.float32))


def test_masking_mask_reaches_later_layers_in_a_sequential_model():
    x = _sequences(np.random.default_rng(2))
    model = lm.Sequential([lm.Input((4, 3)), Masking(), _MaskProbe()])
    np.testing.assert_array_equal(np.asarray(model(x)), np.any(x != 0, axis=-1))


def test_embedding_without_mask_zero_passes_no_mask():
    ids = np.array([[4, 0]], np.int32)
    inp = lm.Input((2,), dtype="int32")
    model = lm.Model(inp, _MaskProbe()(Embedding(6, 3)(inp)))
    np.testing.assert_array_equal(np.asarray(model(ids)), [[-1.0, -1.0]])


# -- Keras 3 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _keras_weights(layer):
    # (Keras's own get_weights warns under numpy 2: read the jax values instead)
    return [np.asarray(v.value) for v in layer.weights]


def test_embedding_matches_keras(keras):
    ids = np.array([[0, 5, 2, 9], [1, 3, 5, 0]], np.int32)
    theirs = keras.layers.Embedding(10, 4, mask_zero=True)
    expected = np.asarray(theirs(ids))
    ours = Embedding(10, 4, mask_zero=True)
    ours(ids)
    ours.set_weights(_keras_weights(theirs))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in _keras_weights(theirs)]
    np.testing.assert_array_equal(np.asarray(ours(ids)), expected)
    np.testing.assert_array_equal(np.asarray(ours.compute_mask(ids, None)),
                                  np.asarray(theirs.compute_mask(ids)))
    assert ours.supports_masking == theirs.supports_masking
    assert Embedding(3, 2).supports_masking == keras.layers.Embedding(3, 2).supports_masking
    bad = np.array([[-1, 10, -11]], np.int32)  # Keras on JAX: wrap, NaN, NaN
    np.testing.assert_array_equal(np.asarray(ours(bad)), np.asarray(theirs(bad)))


def test_masking_matches_keras(keras):
    x = _sequences(np.random.default_rng(4))
    theirs = keras.layers.Masking(mask_value=0.0)
    ours = Masking(mask_value=0.0)
    np.testing.assert_array_equal(np.asarray(ours(x)), np.asarray(theirs(x)))
    np.testing.assert_array_equal(np.asarray(ours.compute_mask(x, None)),
                                  np.asarray(theirs.compute_mask(x)))


# -- errors -------------------------------------------------------------------------------
def test_float_indices_are_refused_eagerly_and_in_a_model():
    layer = Embedding(5, 2, name="words")
    with pytest.raises(lm.InputSpecError, match=r"Embedding 'words': expected integer indices, "
                                                r"received dtype float32 \(shape \(2, 3\)\)"):
        layer(np.zeros((2, 3), np.float32))
    with pytest.raises(lm.InputSpecError, match=r"'words2'.*dtype=\"int32\""):
        Embedding(5, 2, name="words2")(lm.Input((3,)))


@pytest.mark.parametrize("arg, value", [("input_dim", 0), ("input_dim", 2.5),
                                        ("output_dim", True), ("output_dim", -3)])
def test_embedding_dimensions_must_be_positive_integers(arg, value):
    kwargs = {"input_dim": 5, "output_dim": 2, arg: value, "name": "emb"}
    with pytest.raises(ValueError, match=rf"Embedding 'emb': expected a positive integer "
                                         rf"`{arg}`, received {value!r}"):
        Embedding(**kwargs)


def test_masking_errors():
    with pytest.raises(ValueError, match=r"Masking 'pad': expected a number `mask_value`, "
                                         r"received 'x'"):
        Masking(mask_value="x", name="pad")
    with pytest.raises(lm.InputSpecError, match=r"Masking 'pad2': expected inputs of rank >= 2 "
                                                r".* received shape \(4,\)"):
        Masking(name="pad2")(np.ones(4, np.float32))
