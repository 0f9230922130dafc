"""GroupQueryAttention: Keras 3 parity with copied weights (masks, causal, sliding window,
scores), multi-head attention as its special case, training and freezing, the config round
trip, the `.keras` importer, and errors."""
import os

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparisons run on Keras's JAX backend")
    return keras


def _weights(layer):
    return [np.asarray(v.value) for v in layer.weights]


@pytest.mark.parametrize("kwargs", [
    {}, {"use_bias": False}, {"sliding_window": 2}, {"num_key_value_heads": 1}])
def test_group_query_attention_matches_keras(keras, kwargs):
    kwargs = {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2, **kwargs}
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 5, 6)).astype(np.float32)
    v = rng.normal(size=(2, 4, 6)).astype(np.float32)
    theirs = keras.layers.GroupQueryAttention(name="gqa", **kwargs)
    theirs(q, v)
    ours = lm.layers.GroupQueryAttention(name="gqa", **kwargs)
    ours(q, v)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights([rng.normal(size=tuple(w.shape)).astype(np.float32) * 0.5
                      for w in theirs.weights])
    for variable, value in zip(theirs.weights, _weights(ours), strict=True):
        variable.assign(value)
    value_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 0]], bool)
    for call in ({}, {"use_causal_mask": True}, {"value_mask": value_mask}):
        expected, expected_scores = theirs(q, v, return_attention_scores=True, **call)
        out, scores = ours(q, v, return_attention_scores=True, **call)
        np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(np.asarray(scores), np.asarray(expected_scores),
                                   rtol=RTOL, atol=ATOL)


def test_as_many_key_value_heads_as_query_heads_is_multi_head_attention():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 6)).astype(np.float32)
    gqa = lm.layers.GroupQueryAttention(3, 2, 2)
    mha = lm.layers.MultiHeadAttention(2, 3)
    gqa(x, x), mha(x, x)
    mha.set_weights(gqa.get_weights())
    np.testing.assert_allclose(np.asarray(gqa(x, x, use_causal_mask=True)),
                               np.asarray(mha(x, x, use_causal_mask=True)), rtol=1e-6, atol=1e-6)


def test_sliding_window_limits_attention_to_near_keys():
    x = np.random.default_rng(2).normal(size=(1, 6, 4)).astype(np.float32)
    layer = lm.layers.GroupQueryAttention(2, 2, 1, sliding_window=2)
    _, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    scores = np.asarray(scores)[0, 0]
    allowed = np.tril(np.ones((6, 6), bool)) & ~np.tril(np.ones((6, 6), bool), -2)
    assert np.all(scores[~allowed] == 0) and np.all(scores[allowed] > 0)


def _model():
    inputs = lm.Input((5, 6))
    attention = lm.layers.GroupQueryAttention(3, 4, 2, name="gqa")
    pooled = lm.layers.GlobalAveragePooling1D()(attention(inputs, inputs))
    return lm.Model(inputs, lm.layers.Dense(1, name="head")(pooled)), attention


def test_trains_and_freezes_by_flag_and_by_scope_and_round_trips(tmp_path):
    model, attention = _model()
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 5, 6)).astype(np.float32), rng.normal(size=(16, 1))
    model.compile(lm.optimizers.SGD(0.1), "mse")
    before = _weights(attention)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, _weights(attention),
                                                        strict=True))
    for freeze, thaw in ((lambda: setattr(attention, "trainable", False),
                          lambda: setattr(attention, "trainable", True)),
                         (lambda: model.freeze(attention), lambda: model.unfreeze(attention))):
        freeze()
        frozen = _weights(attention)
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        for a, b in zip(frozen, _weights(attention), strict=True):
            np.testing.assert_array_equal(a, b)
        thaw()
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    assert loaded.get_layer("gqa").get_config() == attention.get_config()
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))


def test_keras_file_with_group_query_attention_imports(keras, tmp_path):
    inputs = keras.Input((5, 6))
    attended = keras.layers.GroupQueryAttention(3, 4, 2, sliding_window=3, name="gqa")(
        inputs, inputs, use_causal_mask=True)
    kmodel = keras.Model(inputs, keras.layers.Dense(2)(attended))
    rng = np.random.default_rng(4)
    for variable in kmodel.weights:
        variable.assign(rng.uniform(-0.6, 0.6, tuple(variable.shape)).astype("float32"))
    kmodel.save(tmp_path / "m.keras")
    model = lm.models.load_model(tmp_path / "m.keras")
    x = rng.normal(size=(3, 5, 6)).astype(np.float32)
    assert model.count_params() == kmodel.count_params()
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)),
                               kmodel.predict(x, verbose=0), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kwargs,match", [
    ({"head_dim": 0}, "positive integer `head_dim`"),
    ({"num_query_heads": 3}, "multiple of `num_key_value_heads`, received 3 and 2"),
    ({"sliding_window": -1}, "positive integer `sliding_window`"),
    ({"flash_attention": True}, "flash_attention None or False"),
])
def test_bad_arguments_name_the_layer(kwargs, match):
    kwargs = {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2, **kwargs}
    with pytest.raises(lm.ConfigurationError, match=match) as info:
        lm.layers.GroupQueryAttention(name="g", **kwargs)
    assert "GroupQueryAttention 'g'" in str(info.value)
