"""Regularization layers: the generic harness, statistical tests of the noise in training
(identity at inference, reproducible seeds), whole-channel spatial dropout, AlphaDropout's
self-normalising property, ActivityRegularization's penalty in a verified SGD step, errors.

Statistical tolerances are about 5 standard errors of the estimate at the stated sample size,
so a correct layer fails with negligible probability (and the seeds are fixed anyway).
"""
import os
import re

import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import InputSpecError
from lamina.layers.regularization import (
    LAYERS,
    ActivityRegularization,
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from lamina.saving import register_serializable

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _sequence_mask(x):
    return np.arange(x.shape[1])[None, :] < (1 + np.arange(x.shape[0]) % 4)[:, None]


HARNESS_CASES = [
    LayerCase("spatial-dropout-1d", lambda: SpatialDropout1D(0.3, seed=1), _normal(6, 5, 4),
              (6, 5, 4), trainable_params=0, supports_masking=True),
    LayerCase("spatial-dropout-2d", lambda: SpatialDropout2D(0.3, seed=1), _normal(6, 3, 3, 4),
              (6, 3, 3, 4), trainable_params=0),
    LayerCase("spatial-dropout-2d-channels-first",
              lambda: SpatialDropout2D(0.5, data_format="channels_first", seed=2),
              _normal(6, 4, 3, 3), (6, 4, 3, 3), trainable_params=0),
    LayerCase("spatial-dropout-3d", lambda: SpatialDropout3D(0.2, seed=3),
              _normal(6, 2, 2, 2, 3), (6, 2, 2, 2, 3), trainable_params=0),
    LayerCase("gaussian-noise", lambda: GaussianNoise(0.5, seed=4), _normal(6, 5), (6, 5),
              trainable_params=0, supports_masking=True),
    LayerCase("gaussian-noise-masked", lambda: GaussianNoise(0.1), _normal(6, 5, 2), (6, 5, 2),
              trainable_params=0, mask=_sequence_mask, expected_mask=lambda x, m: m),
    LayerCase("gaussian-dropout", lambda: GaussianDropout(0.4, seed=5), _normal(6, 5), (6, 5),
              trainable_params=0, supports_masking=True),
    LayerCase("alpha-dropout", lambda: AlphaDropout(0.2, seed=6), _normal(6, 5), (6, 5),
              trainable_params=0, supports_masking=True),
    LayerCase("alpha-dropout-noise-shape",
              lambda: AlphaDropout(0.3, noise_shape=(None, 1, 2), seed=7), _normal(6, 5, 2),
              (6, 5, 2), trainable_params=0, mask=_sequence_mask, expected_mask=lambda x, m: m),
    LayerCase("activity-regularization", lambda: ActivityRegularization(l1=0.01, l2=0.02),
              _normal(6, 5), (6, 5), trainable_params=0, supports_masking=True),
    LayerCase("activity-regularization-masked", lambda: ActivityRegularization(l2=0.1),
              _normal(6, 5, 2), (6, 5, 2), trainable_params=0, mask=_sequence_mask,
              expected_mask=lambda x, m: m),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


NOISE_LAYERS = [
    lambda seed: GaussianNoise(0.5, seed=seed),
    lambda seed: GaussianDropout(0.3, seed=seed),
    lambda seed: AlphaDropout(0.3, seed=seed),
    lambda seed: SpatialDropout1D(0.3, seed=seed),
    lambda seed: SpatialDropout2D(0.3, seed=seed),
    lambda seed: SpatialDropout3D(0.3, seed=seed),
]
NOISE_IDS = ["gaussian-noise", "gaussian-dropout", "alpha-dropout", "spatial-1d", "spatial-2d",
             "spatial-3d"]
SHAPES = {SpatialDropout2D: (4, 3, 3, 5), SpatialDropout3D: (4, 2, 2, 3, 5)}


def _input(layer, seed=0):
    shape = SHAPES.get(type(layer), (4, 6, 5))
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("make", NOISE_LAYERS, ids=NOISE_IDS)
def test_inference_is_identity(make):
    layer = make(1)
    x = _input(layer)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    model = lm.Sequential([lm.Input(x.shape[1:]), make(1)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


@pytest.mark.parametrize("make", NOISE_LAYERS, ids=NOISE_IDS)
def test_same_seed_gives_same_noise_and_calls_draw_fresh_noise(make):
    x = _input(make(0))
    a, b = make(42), make(42)
    lm.random.set_seed(7)  # the global stream must not matter for a seeded layer
    draws_a = [np.asarray(a(x, training=True)) for _ in range(2)]
    draws_b = [np.asarray(b(x, training=True)) for _ in range(2)]
    for da, db in zip(draws_a, draws_b, strict=True):
        np.testing.assert_array_equal(da, db)
    assert not np.array_equal(draws_a[0], draws_a[1])
    assert not np.array_equal(draws_a[0], np.asarray(make(43)(x, training=True)))


def test_gaussian_noise_statistics():
    stddev, x = 0.5, np.full((400, 500), 3.0, np.float32)  # 200,000 draws
    noise = np.asarray(GaussianNoise(stddev, seed=1)(x, training=True), np.float64) - 3.0
    assert abs(noise.mean()) < 5 * stddev / np.sqrt(noise.size)
    assert abs(noise.std() / stddev - 1) < 0.01
    # independent entries: neighbouring values are uncorrelated
    assert abs(np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1]) < 0.015


def test_gaussian_dropout_statistics():
    rate, x = 0.3, np.full((400, 500), 2.0, np.float32)
    factor = np.asarray(GaussianDropout(rate, seed=1)(x, training=True), np.float64) / 2.0
    expected_std = np.sqrt(rate / (1 - rate))
    assert abs(factor.mean() - 1) < 5 * expected_std / np.sqrt(factor.size)
    assert abs(factor.std() / expected_std - 1) < 0.01


def _selu(z):
    return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z))


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_mean_and_variance_of_selu_normalised_inputs(rate):
    # SELU of standard normal inputs sits at SELU's fixed point: mean 0, variance 1
    x = _selu(np.random.default_rng(0).normal(size=(400, 500))).astype(np.float32)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1) < 0.02
    out = np.asarray(AlphaDropout(rate, seed=3)(x, training=True), np.float64)
    assert abs(out.mean() - x.mean()) < 0.015
    assert abs(out.var() - x.var()) < 0.02
    # dropped entries all take one value: a * (-alpha * scale) + b (Klambauer et al., 2017)
    saturation = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * saturation ** 2)) ** -0.5
    b = -a * saturation * rate
    dropped = np.isclose(out, a * saturation + b, rtol=0, atol=1e-5)
    assert abs(dropped.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / out.size)
    np.testing.assert_allclose(out[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-5)


def test_alpha_dropout_noise_shape_shares_the_mask_over_broadcast_axes():
    x = _selu(np.random.default_rng(0).normal(size=(50, 6, 8))).astype(np.float32)
    out = np.asarray(AlphaDropout(0.4, noise_shape=(None, 1, 8), seed=2)(x, training=True))
    saturation = -SELU_ALPHA * SELU_SCALE
    a = ((1 - 0.4) * (1 + 0.4 * saturation ** 2)) ** -0.5
    dropped = np.isclose(out, a * saturation - a * saturation * 0.4, atol=1e-5)
    assert np.all(dropped == dropped[:, :1, :])  # the same decision at every timestep
    assert 0.3 < dropped[:, 0, :].mean() < 0.5


@pytest.mark.parametrize("cls", [Dropout, AlphaDropout])
def test_a_noise_shape_of_another_rank_than_the_input_is_refused(cls):
    x = np.ones((4, 6, 8), np.float32)
    with pytest.raises(InputSpecError, match=r"expected `noise_shape` of rank 3"):
        cls(0.4, noise_shape=(None, 8), seed=2)(x, training=True)


@pytest.mark.parametrize("layer, shape, channel_axis", [
    (SpatialDropout1D(0.3, seed=1), (200, 4, 50), -1),
    (SpatialDropout2D(0.3, seed=2), (100, 3, 3, 50), -1),
    (SpatialDropout2D(0.3, data_format="channels_first", seed=3), (100, 50, 3, 3), 1),
    (SpatialDropout3D(0.3, seed=4), (100, 2, 2, 2, 50), -1),
    (SpatialDropout3D(0.3, data_format="channels_first", seed=5), (100, 50, 2, 2, 2), 1),
], ids=["1d", "2d", "2d-channels-first", "3d", "3d-channels-first"])
def test_spatial_dropout_drops_whole_channels(layer, shape, channel_axis):
    x = np.random.default_rng(0).uniform(1.0, 2.0, size=shape).astype(np.float32)
    out = np.moveaxis(np.asarray(layer(x, training=True)), channel_axis, 1)
    x = np.moveaxis(x, channel_axis, 1)
    per_channel = out.reshape(shape[0], 50, -1)
    dropped = np.all(per_channel == 0, axis=-1)
    kept = np.all(per_channel != 0, axis=-1)
    assert np.all(dropped | kept), "a channel is either dropped everywhere or kept everywhere"
    n = dropped.size
    assert abs(dropped.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n)
    kept_values = np.broadcast_to(kept.reshape(kept.shape + (1,) * (x.ndim - 2)), x.shape)
    np.testing.assert_allclose(out[kept_values], x[kept_values] / 0.7, rtol=1e-6)


def test_noise_advances_between_training_steps_and_is_reproducible_under_fit():
    def losses(seed):
        model = lm.Sequential([lm.Input((5,)), GaussianNoise(1.0, seed=seed),
                               lm.layers.Dense(1, kernel_initializer="ones")])
        model.compile(optimizer=lm.optimizers.SGD(0.0), loss="mse")
        x, y = np.ones((16, 5), np.float32), np.zeros((16, 1), np.float32)
        return [float(model.train_on_batch(x, y)) for _ in range(3)]

    first, second = losses(11), losses(11)
    assert first == second
    assert len(set(first)) == 3  # a fresh draw at each step (lr 0: only the noise changes)


# -- ActivityRegularization ---------------------------------------------------------------
def test_activity_regularization_penalty_joins_the_loss_and_the_sgd_step():
    l1, l2, lr = 0.05, 0.1, 0.1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    y = rng.normal(size=(4, 2)).astype(np.float32)
    kernel = rng.normal(size=(3, 2)).astype(np.float32)
    bias = np.array([0.1, -0.2], np.float32)
    dense = lm.layers.Dense(2)
    model = lm.Sequential([lm.Input((3,)), dense, ActivityRegularization(l1=l1, l2=l2)])
    dense.set_weights([kernel, bias])
    model.compile(optimizer=lm.optimizers.SGD(lr), loss="mse")
    loss = model.train_on_batch(x, y)

    # numpy: the penalty is divided by the batch size, as Keras 3 does
    batch = x.shape[0]
    a = x.astype(np.float64) @ kernel + bias
    expected = np.mean((a - y) ** 2) + (l1 * np.abs(a).sum() + l2 * (a ** 2).sum()) / batch
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    d_a = 2 * (a - y) / a.size + (l1 * np.sign(a) + 2 * l2 * a) / batch
    new_kernel, new_bias = dense.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - lr * x.T @ d_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - lr * d_a.sum(axis=0), rtol=1e-5, atol=1e-6)


def test_activity_regularization_eager_call_records_its_penalty():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    layer = ActivityRegularization(l1=0.1, l2=0.01)
    np.testing.assert_array_equal(layer(x), x)
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2
    np.testing.assert_allclose([float(p) for p in layer.losses], [expected], rtol=1e-6)
    assert layer.get_config()["l1"] == 0.1 and "activity_regularizer" not in layer.get_config()


# -- configs against Keras 3 --------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name, args", [
    ("SpatialDropout1D", (0.3,)), ("SpatialDropout2D", (0.3,)), ("SpatialDropout3D", (0.3,)),
    ("GaussianNoise", (0.3,)), ("GaussianDropout", (0.3,)), ("AlphaDropout", (0.3,)),
    ("ActivityRegularization", (0.1, 0.2)), ("Dropout", (0.3,))])
def test_config_has_keras_keys_and_values(keras, name, args):
    theirs = getattr(keras.layers, name)(*args).get_config()
    ours = {cls.__name__: cls for cls in LAYERS}[name](*args).get_config()
    for key in set(theirs) - {"name", "dtype", "trainable"}:
        assert key in ours, f"{name} config lacks Keras's {key!r}"
        assert ours[key] == theirs[key], f"{name}.{key}: {ours[key]!r} != {theirs[key]!r}"


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Dropout, SpatialDropout1D, SpatialDropout2D, GaussianDropout,
                                 AlphaDropout])
@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.5"])
def test_rate_must_be_in_unit_interval(cls, rate):
    with pytest.raises(ValueError, match=rf"{cls.__name__} 'layer': expected 0 <= rate < 1, "
                                         rf"received {rate!r}"):
        cls(rate, name="layer")


def test_gaussian_noise_stddev_must_be_non_negative():
    with pytest.raises(ValueError, match=r"GaussianNoise 'g': expected a number stddev >= 0, "
                                         r"received -1"):
        GaussianNoise(-1, name="g")


@pytest.mark.parametrize("cls, shape, rank", [(SpatialDropout1D, (2, 3), 3),
                                              (SpatialDropout2D, (2, 3, 4), 4),
                                              (SpatialDropout3D, (2, 3, 4, 5), 5)])
def test_spatial_dropout_input_rank(cls, shape, rank):
    with pytest.raises(InputSpecError, match=rf"{cls.__name__} 's': expected inputs of rank "
                                             rf"{rank} .*received shape {re.escape(str(shape))}"):
        cls(0.5, name="s")(np.zeros(shape, np.float32), training=True)


def test_spatial_dropout_data_format():
    with pytest.raises(ValueError, match="expected data_format 'channels_last' or "
                                         "'channels_first', received 'NHWC'"):
        SpatialDropout2D(0.5, data_format="NHWC")


@pytest.mark.parametrize("kwargs", [{"l1": -0.1}, {"l2": "x"}])
def test_activity_regularization_factors(kwargs):
    key = next(iter(kwargs))
    with pytest.raises(ValueError, match=rf"ActivityRegularization 'r': expected a non-negative "
                                         rf"number for `{key}`"):
        ActivityRegularization(name="r", **kwargs)
