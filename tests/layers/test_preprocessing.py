"""Preprocessing layers: the generic harness (Normalization adapted first), `adapt` against
numpy statistics, saving of the adapted statistics, agreement with Keras 3, and errors.

Tolerances: statistics against float64 numpy, rtol 1e-6 / atol 1e-6 (float32 storage);
outputs, rtol 1e-5 / atol 1e-5.
"""
import os

import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.preprocessing import LAYERS, Identity, Normalization, Rescaling
from lamina.saving import register_serializable

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

STATS = {"rtol": 1e-6, "atol": 1e-6}
OUT = {"rtol": 1e-5, "atol": 1e-5}


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(2.0, 3.0, size=shape).astype(np.float32)


def _normal(*shape):
    return lambda rng: rng.normal(2.0, 3.0, size=shape).astype(np.float32)


def _adapted(layer, data):
    layer.adapt(data)
    return layer


def _sequence_mask(x):
    return np.arange(x.shape[1])[None, :] < (1 + np.arange(x.shape[0]) % 3)[:, None]


HARNESS_CASES = [
    LayerCase("rescaling", lambda: Rescaling(1 / 255), _normal(6, 4), (6, 4),
              trainable_params=0, supports_masking=True),
    LayerCase("rescaling-per-channel", lambda: Rescaling([1.0, 2.0, 3.0], offset=-1.0),
              _normal(6, 2, 3), (6, 2, 3), trainable_params=0, mask=_sequence_mask,
              expected_mask=lambda x, m: m),
    LayerCase("rescaling-uint8", lambda: Rescaling(1 / 255, offset=-0.5),
              lambda rng: rng.integers(0, 256, size=(6, 4)).astype(np.uint8), (6, 4),
              trainable_params=0),
    LayerCase("identity", lambda: Identity(), _normal(6, 4), (6, 4), trainable_params=0,
              supports_masking=True),
    LayerCase("identity-masked", lambda: Identity(), _normal(6, 4, 2), (6, 4, 2),
              trainable_params=0, mask=_sequence_mask, expected_mask=lambda x, m: m),
    LayerCase("normalization", lambda: _adapted(Normalization(), _data(20, 4)), _normal(6, 4),
              (6, 4), trainable_params=0, non_trainable_params=9, supports_masking=True),
    LayerCase("normalization-axis-none", lambda: _adapted(Normalization(axis=None),
                                                          _data(20, 4)),
              _normal(6, 4), (6, 4), trainable_params=0, non_trainable_params=3),
    LayerCase("normalization-axes-1-2", lambda: _adapted(Normalization(axis=(1, 2)),
                                                         _data(20, 3, 4)),
              _normal(6, 3, 4), (6, 3, 4), trainable_params=0, non_trainable_params=25,
              mask=_sequence_mask, expected_mask=lambda x, m: m),
    LayerCase("normalization-fixed", lambda: Normalization(mean=[1.0, 2.0], variance=[4.0, 0.5]),
              _normal(6, 3, 2), (6, 3, 2), trainable_params=0),
    LayerCase("normalization-invert", lambda: _adapted(Normalization(invert=True),
                                                       _data(20, 4)),
              _normal(6, 4), (6, 4), trainable_params=0, non_trainable_params=9),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- Normalization.adapt ------------------------------------------------------------------
@pytest.mark.parametrize("axis, shape, kept", [
    (-1, (30, 4), (1,)), (None, (30, 4), ()), ((1, 2), (30, 3, 4), (1, 2)),
    (1, (30, 3, 4), (1,)), ((-1, 1), (10, 3, 2, 4), (1, 3))])
def test_adapt_matches_numpy_statistics_and_output(axis, shape, kept):
    x = _data(*shape)
    layer = Normalization(axis=axis)
    layer.adapt(x)
    reduce = tuple(a for a in range(len(shape)) if a not in kept)
    mean = x.astype(np.float64).mean(axis=reduce)
    var = x.astype(np.float64).var(axis=reduce)
    got_mean, got_var, count = layer.get_weights()
    np.testing.assert_allclose(got_mean, mean, **STATS)
    np.testing.assert_allclose(got_var, var, **STATS)
    assert count == np.prod([shape[a] for a in reduce]) and count.dtype == np.int32
    broadcast = [shape[a] if a in kept else 1 for a in range(len(shape))]
    expected = (x - mean.reshape(broadcast)) / np.sqrt(var.reshape(broadcast))
    np.testing.assert_allclose(layer(x), expected, **OUT)


def _batches_of(x, sizes):
    start = 0
    for size in sizes:
        yield x[start:start + size]
        start += size


@pytest.mark.parametrize("kind", ["list", "generator", "xy-tuples", "jax-array"])
def test_adapt_over_batches_equals_adapt_over_all_data(kind):
    x = _data(37, 3, 4)
    sizes = [10, 1, 16, 10]
    data = {"list": lambda: list(_batches_of(x, sizes)),
            "generator": lambda: _batches_of(x, sizes),
            "xy-tuples": lambda: [(b, np.zeros(len(b))) for b in _batches_of(x, sizes)],
            "jax-array": lambda: jnp.asarray(x)}[kind]()
    layer = Normalization(axis=-1)
    layer.adapt(data)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(layer.get_weights()[0], x64.mean(axis=(0, 1)), **STATS)
    np.testing.assert_allclose(layer.get_weights()[1], x64.var(axis=(0, 1)), **STATS)
    assert int(layer.get_weights()[2]) == 37 * 3


def test_adapted_statistics_are_non_trainable_weights_named_as_keras():
    layer = _adapted(Normalization(), _data(10, 3))
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    assert layer.trainable_weights == []
    assert [w.name for w in layer.non_trainable_weights] == ["mean", "variance", "count"]


def test_readapting_replaces_the_statistics():
    layer = _adapted(Normalization(), _data(10, 3))
    other = _data(12, 3, seed=5)
    layer.adapt(other)
    np.testing.assert_allclose(layer.get_weights()[0], other.astype(np.float64).mean(0), **STATS)
    assert int(layer.get_weights()[2]) == 12


def test_given_statistics_broadcast_over_the_kept_axes():
    x = _data(5, 3, 4)
    # a scalar, and a vector laid on the last kept axis (Keras's rule)
    scalar = Normalization(axis=None, mean=2.0, variance=9.0)
    np.testing.assert_allclose(scalar(x), (x - 2.0) / 3.0, **OUT)
    mean, var = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 4.0, 9.0, 16.0])
    vector = Normalization(axis=(1, 2), mean=mean, variance=var)
    np.testing.assert_allclose(vector(x), (x - mean) / np.sqrt(var), **OUT)
    assert vector.weights == []


def test_invert_undoes_the_normalization():
    x = _data(8, 3)
    forward = _adapted(Normalization(), x)
    inverse = Normalization(invert=True, mean=forward.get_weights()[0].tolist(),
                            variance=forward.get_weights()[1].tolist())
    np.testing.assert_allclose(inverse(forward(x)), x, rtol=1e-5, atol=1e-5)
    mean, var = forward.get_weights()[:2]
    np.testing.assert_allclose(inverse(x), mean + x * np.sqrt(var), **OUT)


def test_zero_variance_is_floored_as_keras():
    layer = Normalization(mean=1.0, variance=0.0, axis=None)
    np.testing.assert_allclose(layer(np.array([[1.0, 1.5]], np.float32)), [[0.0, 0.5 / 1e-7]],
                               rtol=1e-6)


def test_adapted_layer_is_not_changed_by_fit():
    norm = _adapted(Normalization(), _data(30, 3))
    model = lm.Sequential([lm.Input((3,)), norm, lm.layers.Dense(1)])
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    before = norm.get_weights()
    model.fit(_data(16, 3), np.zeros((16, 1), np.float32), epochs=2, verbose=0)
    for a, b in zip(before, norm.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_adapted_statistics_survive_save_and_load(tmp_path):
    x = _data(30, 3)
    model = lm.Sequential([lm.Input((3,)), _adapted(Normalization(name="norm"), x)])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = lm.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # weights alone, into a model built in code from an unadapted layer
    weights_path = tmp_path / "model.weights.h5"
    model.save_weights(weights_path)
    fresh = lm.Sequential([lm.Input((3,)), Normalization(name="norm")])
    fresh.load_weights(weights_path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


# -- Rescaling and Identity ---------------------------------------------------------------
def test_rescaling_matches_numpy():
    x = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    out = Rescaling([0.5, 1.0, 2.0], offset=[0.0, -1.0, 1.0])(x)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, x * np.array([0.5, 1.0, 2.0]) + np.array([0.0, -1.0, 1.0]),
                               **OUT)


def test_identity_returns_its_input():
    x = _data(3, 2)
    np.testing.assert_array_equal(Identity()(x), x)


# -- agreement with Keras 3 ---------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


def _keras_weights(klayer):
    # Keras's own get_weights warns under numpy 2: read the jax values instead
    return [np.asarray(v.value) for v in klayer.weights]


@pytest.mark.parametrize("axis, shape", [(-1, (30, 4)), (None, (30, 4)), ((1, 2), (30, 3, 4))])
def test_normalization_adapt_agrees_with_keras(keras, axis, shape):
    x = _data(*shape)
    theirs, ours = keras.layers.Normalization(axis=axis), Normalization(axis=axis)
    theirs.adapt(x)
    ours.adapt(x)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    keras_weights = _keras_weights(theirs)
    for mine, their in zip(ours.get_weights()[:2], keras_weights[:2], strict=True):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)
    assert [(w.shape, w.dtype) for w in ours.get_weights()] == [
        (w.shape, w.dtype) for w in keras_weights]
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), **OUT)
    # Keras's weights (its count stays 0) copied into an unadapted layer make it usable
    copy = Normalization(axis=axis)
    copy(lm.Input(shape[1:]))  # built, not adapted
    copy.set_weights(keras_weights)
    np.testing.assert_allclose(copy(x), np.asarray(theirs(x)), **OUT)


def test_normalization_with_given_statistics_and_invert_agrees_with_keras(keras):
    x = _data(5, 3, 4)
    for kwargs in ({"mean": 2.0, "variance": 9.0, "axis": None},
                   {"mean": [1.0, 2.0, 3.0, 4.0], "variance": [1.0, 4.0, 9.0, 16.0]},
                   {"mean": [1.0, 2.0, 3.0, 4.0], "variance": [1.0, 4.0, 9.0, 16.0],
                    "invert": True}):
        np.testing.assert_allclose(Normalization(**kwargs)(x),
                                   np.asarray(keras.layers.Normalization(**kwargs)(x)), **OUT)


def test_rescaling_agrees_with_keras(keras):
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    for scale, offset in ((1 / 255, 0.0), (2.0, -1.0), ([0.5, 1.0, 2.0], [0.0, 1.0, 2.0])):
        np.testing.assert_allclose(
            Rescaling(scale, offset)(x),
            np.asarray(keras.layers.Rescaling(np.asarray(scale), np.asarray(offset))(x)), **OUT)


# -- errors -------------------------------------------------------------------------------
def test_calling_before_adapt_is_an_error():
    layer = Normalization(name="norm")
    with pytest.raises(ConfigurationError, match=r"(?s)Normalization 'norm': expected "
                                                 r"statistics to normalise with.*"
                                                 r"layer\.adapt\(data\)"):
        layer(_data(4, 3))


@pytest.mark.parametrize("how", ["predict", "fit"])
def test_predict_or_fit_before_adapt_is_an_error(how):
    model = lm.Sequential([lm.Input((3,)), Normalization(name="norm"), lm.layers.Dense(1)])
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    x, y = _data(8, 3), np.zeros((8, 1), np.float32)
    with pytest.raises(ConfigurationError, match="Normalization 'norm': expected statistics"):
        model.predict(x, verbose=0) if how == "predict" else model.fit(x, y, verbose=0)


def test_mean_without_variance():
    with pytest.raises(ValueError, match=r"expected both `mean` and `variance` or neither, "
                                         r"received mean=1.0 and variance=None"):
        Normalization(mean=1.0)


def test_statistics_of_too_many_dimensions():
    with pytest.raises(ValueError, match=r"at most 1 dimensions .*received shapes \(2, 2\)"):
        Normalization(mean=np.ones((2, 2)), variance=np.ones((2, 2)))


def test_given_statistics_that_do_not_fit_the_input():
    with pytest.raises(InputSpecError, match=r"mean/variance of shape \(3,\) do not fit"):
        Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 1.0, 1.0])(_data(2, 4))


def test_adapt_of_a_layer_with_given_statistics():
    with pytest.raises(ConfigurationError, match="received adapt\\(\\) on one built with `mean`"):
        Normalization(mean=0.0, variance=1.0).adapt(_data(4, 3))


@pytest.mark.parametrize("data, error, message", [
    ([], ValueError, "expected at least one batch, received an empty iterable"),
    ("abc", TypeError, "expected a numpy array or an iterable of array batches, received str"),
    ([[1.0, 2.0]], TypeError, "expected batches that are numeric arrays, received list"),
])
def test_adapt_of_unusable_data(data, error, message):
    with pytest.raises(error, match=message):
        Normalization().adapt(data)


def test_adapt_batch_with_other_feature_count():
    layer = _adapted(Normalization(name="norm"), _data(4, 3))
    with pytest.raises(InputSpecError, match=r"Normalization 'norm': expected inputs of rank 2 "
                                             r"with sizes \[3\] on axes \[1\].*\(4, 5\)"):
        layer.adapt(_data(4, 5))


def test_normalization_axis_errors():
    with pytest.raises(ValueError, match="expected `axis` to be an int, a list of ints or None, "
                                         "received 'x'"):
        Normalization(axis="x")
    with pytest.raises(InputSpecError, match=r"axis \(2,\) is out of range"):
        Normalization(axis=2).adapt(_data(4, 3))


def test_rescaling_with_non_numeric_scale():
    with pytest.raises(ValueError, match="Rescaling 'r': `scale` and `offset`: expected a "
                                         "number or an array of numbers, received 'half'"):
        Rescaling("half", name="r")
