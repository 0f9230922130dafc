"""Regularizers, constraints and initializers against numpy formulas and Keras 3's own values."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina import constraints, initializers, regularizers
from lamina.errors import ConfigurationError

os.environ.setdefault("KERAS_BACKEND", "jax")


def _w(seed=0, shape=(5, 4)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# -- regularizers ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, make, formula", [
    ("l1", lambda: regularizers.L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
    ("l2", lambda: regularizers.L2(0.2), lambda w: 0.2 * np.square(w).sum()),
    ("l1_l2", lambda: regularizers.L1L2(0.1, 0.4),
     lambda w: 0.1 * np.abs(w).sum() + 0.4 * np.square(w).sum()),
    ("l2-default", lambda: regularizers.get("l2"), lambda w: 0.01 * np.square(w).sum()),
])
def test_regularizer_values_match_numpy(name, make, formula):
    w = _w()
    np.testing.assert_allclose(float(make()(w)), formula(w.astype(np.float64)), rtol=1e-5)


def _np_orthogonal(w, factor, mode):
    w = w.astype(np.float64)
    if mode == "rows":
        u = w / np.linalg.norm(w, axis=1, keepdims=True)
        p = u @ u.T
    else:
        u = w / np.linalg.norm(w, axis=0, keepdims=True)
        p = u.T @ u
    n = p.shape[0]
    off = np.abs(p - np.diag(np.diag(p))).sum()
    return factor * 0.5 * off / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_matches_numpy_and_keras(mode):
    w = _w(1, (6, 3))
    reg = regularizers.OrthogonalRegularizer(0.05, mode)
    np.testing.assert_allclose(float(reg(w)), _np_orthogonal(w, 0.05, mode), rtol=1e-5)
    keras = pytest.importorskip("keras")
    # a backend tensor: Keras's numpy path of `normalize` fails for mode="columns"
    theirs = keras.regularizers.OrthogonalRegularizer(0.05, mode)(keras.ops.convert_to_tensor(w))
    np.testing.assert_allclose(float(reg(w)), float(theirs), rtol=1e-5)


def test_regularizers_agree_with_keras():
    keras = pytest.importorskip("keras")
    w = _w(2)
    for ours, theirs in [(regularizers.L1(0.3), keras.regularizers.L1(0.3)),
                         (regularizers.L2(0.2), keras.regularizers.L2(0.2)),
                         (regularizers.L1L2(0.1, 0.4), keras.regularizers.L1L2(0.1, 0.4))]:
        np.testing.assert_allclose(float(ours(w)), float(theirs(w)), rtol=1e-5)


def test_regularizer_serialization_round_trips_and_names_are_checked():
    for reg in [regularizers.L1(0.5), regularizers.L2(0.25), regularizers.L1L2(0.1, 0.2),
                regularizers.OrthogonalRegularizer(0.3, "columns")]:
        config = regularizers.serialize(reg)
        back = regularizers.get(config)
        assert type(back) is type(reg) and back.get_config() == reg.get_config()
    assert regularizers.get(None) is None
    with pytest.raises(ConfigurationError, match="Unknown regularizer 'l3'. Valid names: l1, "):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="non-negative number for `l2`, received -1"):
        regularizers.L2(-1)


# -- constraints ---------------------------------------------------------------------------------
def _np_norms(w, axis):
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("make, formula", [
    (lambda: constraints.MaxNorm(1.5, axis=0),
     lambda w: w * np.clip(_np_norms(w, 0), 0, 1.5) / (1e-7 + _np_norms(w, 0))),
    (lambda: constraints.NonNeg(), lambda w: np.where(w >= 0, w, 0.0)),
    (lambda: constraints.UnitNorm(axis=1), lambda w: w / (1e-7 + _np_norms(w, 1))),
    (lambda: constraints.MinMaxNorm(0.5, 1.2, rate=0.7, axis=0),
     lambda w: w * (0.7 * np.clip(_np_norms(w, 0), 0.5, 1.2) + 0.3 * _np_norms(w, 0))
     / (1e-7 + _np_norms(w, 0))),
])
def test_constraint_values_match_numpy(make, formula):
    w = _w(3) * 2.0
    np.testing.assert_allclose(np.asarray(make()(w)), formula(w), rtol=1e-5, atol=1e-6)


def test_constraints_agree_with_keras():
    keras = pytest.importorskip("keras")
    w = _w(4) * 2.0
    pairs = [(constraints.MaxNorm(1.5), keras.constraints.MaxNorm(1.5)),
             (constraints.NonNeg(), keras.constraints.NonNeg()),
             (constraints.UnitNorm(axis=1), keras.constraints.UnitNorm(axis=1)),
             (constraints.MinMaxNorm(0.5, 1.2, 0.7), keras.constraints.MinMaxNorm(0.5, 1.2, 0.7))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(np.asarray(ours(w)), np.asarray(theirs(w)), rtol=1e-5,
                                   atol=1e-6)


def test_constraint_serialization_round_trips():
    for c in [constraints.MaxNorm(3.0, 1), constraints.NonNeg(), constraints.UnitNorm(1),
              constraints.MinMaxNorm(0.1, 2.0, 0.5, 1)]:
        back = constraints.get(constraints.serialize(c))
        assert type(back) is type(c) and back.get_config() == c.get_config()
    with pytest.raises(ConfigurationError, match="Unknown constraint 'positive'"):
        constraints.get("positive")


# -- initializers ------------------------------------------------------------------------------
def test_orthogonal_initializer_is_orthogonal_in_both_orientations():
    for shape in [(6, 4), (4, 6), (3, 3, 2, 5)]:
        w = np.asarray(initializers.Orthogonal(gain=2.0, seed=1)(shape)).astype(np.float64)
        flat = w.reshape(-1, shape[-1])
        small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-5)


def test_identity_truncated_normal_and_variance_scaling():
    np.testing.assert_array_equal(np.asarray(initializers.get("identity")((3, 4))),
                                  np.eye(3, 4, dtype=np.float32))
    t = np.asarray(initializers.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)((20000,)))
    assert t.min() >= 0.0 and t.max() <= 2.0  # within two standard deviations
    assert abs(t.mean() - 1.0) < 0.01
    # variance_scaling, uniform over fan_avg: limit sqrt(3 * scale / fan_avg)
    v = np.asarray(initializers.VarianceScaling(2.0, "fan_avg", "uniform", seed=0)((100, 300)))
    limit = np.sqrt(3 * 2.0 / 200)
    assert v.max() <= limit and v.max() > 0.95 * limit
    u = np.asarray(initializers.VarianceScaling(1.0, "fan_in", "untruncated_normal",
                                                seed=0)((400, 300)))
    assert abs(u.std() - np.sqrt(1 / 400)) < 0.002
    with pytest.raises(ValueError, match="expected a 2-D shape, received \\(3, 3, 3\\)"):
        initializers.Identity()((3, 3, 3))
    with pytest.raises(ValueError, match="expected mode fan_in, fan_out or fan_avg"):
        initializers.VarianceScaling(mode="fan")


def test_initializer_names_serialize_and_unknown_names_list_valid_ones():
    for name in ["orthogonal", "identity", "truncated_normal", "variance_scaling",
                 "glorot_uniform", "he_normal", "lecun_uniform", "zeros", "ones"]:
        init = initializers.get(name)
        assert initializers.get(initializers.serialize(init)).get_config() == init.get_config()
    with pytest.raises(ConfigurationError, match="Unknown initializer 'glorot'. Valid names: "
                                                 "constant, glorot_normal"):
        initializers.get("glorot")


# -- penalties and constraints inside training ----------------------------------------------------
def _regression_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)


def _np_step(x, y, kernel, bias, lr, l2=0.0, l1_act=0.0):
    """One SGD step of mse + l2 * |kernel|^2 + l1_act * sum|outputs| / batch (float64 numpy;
    Keras 3 divides activity penalties by the batch size)."""
    x, y, kernel, bias = (a.astype(np.float64) for a in (x, y, kernel, bias))
    out = x @ kernel + bias
    n = x.shape[0]
    loss = np.mean((out - y) ** 2) + l2 * (kernel ** 2).sum() + l1_act * np.abs(out).sum() / n
    g_out = 2 * (out - y) / out.size + l1_act * np.sign(out) / n
    g_kernel = x.T @ g_out + 2 * l2 * kernel
    g_bias = g_out.sum(axis=0)
    return loss, kernel - lr * g_kernel, bias - lr * g_bias


def test_kernel_regularizer_joins_the_loss_and_the_gradient():
    x, y = _regression_data()
    layer = lm.layers.Dense(2, kernel_regularizer=regularizers.L2(0.1))
    model = lm.Sequential([lm.Input((3,)), layer])
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    kernel, bias = layer.get_weights()
    loss, new_kernel, new_bias = _np_step(x, y, kernel, bias, 0.1, l2=0.1)
    reported = model.train_on_batch(x, y)
    np.testing.assert_allclose(reported, loss, rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[0], new_kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[1], new_bias, rtol=1e-5, atol=1e-6)
    # evaluate reports the same kind of loss (data loss + penalty), as Keras does
    kernel, bias = layer.get_weights()
    expected = np.mean((x @ kernel + bias - y) ** 2) + 0.1 * (kernel.astype(np.float64) ** 2).sum()
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)


def test_activity_regularizer_penalises_outputs():
    x, y = _regression_data()
    layer = lm.layers.Dense(2, activity_regularizer=regularizers.L1(0.05))
    model = lm.Sequential([lm.Input((3,)), layer])
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    kernel, bias = layer.get_weights()
    loss, new_kernel, _ = _np_step(x, y, kernel, bias, 0.1, l1_act=0.05)
    np.testing.assert_allclose(model.train_on_batch(x, y), loss, rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[0], new_kernel, rtol=1e-5, atol=1e-6)
    # an eager call leaves the penalty in layer.losses
    layer(x)
    out = x @ layer.get_weights()[0] + layer.get_weights()[1]
    np.testing.assert_allclose(float(sum(layer.losses)), 0.05 * np.abs(out).sum() / len(x),
                               rtol=1e-5)


def test_a_frozen_regularized_weight_adds_no_penalty():
    x, y = _regression_data()
    frozen = lm.layers.Dense(3, kernel_regularizer=regularizers.L2(10.0))
    head = lm.layers.Dense(2)
    model = lm.Sequential([lm.Input((3,)), frozen, head])
    model.compile(optimizer=lm.optimizers.SGD(0.0), loss="mse")
    with_penalty = model.train_on_batch(x, y)
    frozen.trainable = False
    without = model.train_on_batch(x, y)
    k = frozen.get_weights()[0].astype(np.float64)
    np.testing.assert_allclose(with_penalty - without, 10.0 * (k ** 2).sum(), rtol=1e-4)
    assert frozen.losses == []


def test_constraint_is_applied_after_each_update():
    x, y = _regression_data()
    layer = lm.layers.Dense(2, kernel_constraint=constraints.MaxNorm(0.1),
                            bias_constraint=constraints.NonNeg())
    model = lm.Sequential([lm.Input((3,)), layer])
    model.compile(optimizer=lm.optimizers.SGD(0.5), loss="mse")
    kernel, bias = layer.get_weights()
    _, new_kernel, new_bias = _np_step(x, y, kernel, bias, 0.5)
    model.train_on_batch(x, y)
    norms = np.sqrt((new_kernel ** 2).sum(axis=0, keepdims=True))
    expected_kernel = new_kernel * np.clip(norms, 0, 0.1) / (1e-7 + norms)
    np.testing.assert_allclose(layer.get_weights()[0], expected_kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[1], np.maximum(new_bias, 0), atol=1e-6)
    assert np.sqrt((layer.get_weights()[0].astype(np.float64) ** 2).sum(0)).max() <= 0.1 + 1e-6


def test_regularized_dense_config_round_trips_through_save(tmp_path):
    layer = lm.layers.Dense(2, kernel_regularizer="l2", bias_constraint="non_neg",
                            activity_regularizer=regularizers.L1(0.2))
    model = lm.Sequential([lm.Input((3,)), layer])
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    assert loaded.layers[0].get_config() == layer.get_config()
    assert isinstance(loaded.layers[0].kernel.regularizer, regularizers.L2)
    assert isinstance(loaded.layers[0].bias.constraint, constraints.NonNeg)
