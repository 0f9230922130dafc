"""Losses against hand-written numpy, with Keras's "sum over batch size" reduction, and
against keras.losses (JAX backend; those tests skip only if keras cannot be imported).

Keras reduction: `sum(per_sample_loss * sample_weight) / batch_size`, where the per-sample
loss is averaged over the last axis for mse / mae / binary cross-entropy.
Tolerances: values rtol 1e-5 (float32 against float64 numpy); gradients against Keras
rtol 1e-4, against central finite differences of the numpy reference rtol 2e-3, atol 2e-4.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm

EPS = 1e-7  # keras.backend.epsilon()
RTOL = 1e-5


# -- numpy references (float64) ----------------------------------------------------------
def np_mse(y, p):
    return np.mean((p - y) ** 2, axis=-1)


def np_mae(y, p):
    return np.mean(np.abs(p - y), axis=-1)


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1)


def np_bce_logits(y, z):
    # the numerically stable form of -(y log s(z) + (1-y) log(1-s(z)))
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), axis=-1)


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_cce(y, p):
    p = p / p.sum(axis=-1, keepdims=True)
    return -np.sum(y * np.log(np.clip(p, EPS, 1 - EPS)), axis=-1)


def np_cce_logits(y, z):
    return -np.sum(y * np_log_softmax(z), axis=-1)


def np_scce(labels, p):
    return np_cce(np.eye(p.shape[-1])[labels], p)


def np_scce_logits(labels, z):
    return np_cce_logits(np.eye(z.shape[-1])[labels], z)


def reduce(per_sample, sample_weight=None):
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
    return per_sample.sum() / per_sample.shape[0]


# -- data ------------------------------------------------------------------------------
N, K = 6, 4
_r = np.random.default_rng(0)
REG_TRUE = _r.normal(size=(N, 3)).astype(np.float32)
REG_PRED = _r.normal(size=(N, 3)).astype(np.float32)
BIN_TRUE = _r.integers(0, 2, size=(N, 2)).astype(np.float32)
BIN_PROB = _r.uniform(0.02, 0.98, size=(N, 2)).astype(np.float32)
BIN_LOGIT = (_r.normal(size=(N, 2)) * 3).astype(np.float32)
LABELS = _r.integers(0, K, size=(N,)).astype(np.int32)
ONEHOT = np.eye(K, dtype=np.float32)[LABELS]
LOGITS = (_r.normal(size=(N, K)) * 2).astype(np.float32)
PROBS = np.exp(np_log_softmax(LOGITS.astype(np.float64))).astype(np.float32)
UNNORMALISED = _r.uniform(0.1, 2.0, size=(N, K)).astype(np.float32)  # rescaled by the loss
WEIGHTS = np.array([1.0, 0.0, 2.0, 0.5, 3.0, 1.0], np.float32)

# (id, string names, class factory, y_true, y_pred, numpy per-sample reference)
CASES = [
    ("mse", ["mse", "mean_squared_error"], lambda: lm.losses.MeanSquaredError(),
     REG_TRUE, REG_PRED, np_mse),
    ("mae", ["mae", "mean_absolute_error"], lambda: lm.losses.MeanAbsoluteError(),
     REG_TRUE, REG_PRED, np_mae),
    ("bce", ["binary_crossentropy"], lambda: lm.losses.BinaryCrossentropy(),
     BIN_TRUE, BIN_PROB, np_bce),
    ("bce-logits", [], lambda: lm.losses.BinaryCrossentropy(from_logits=True),
     BIN_TRUE, BIN_LOGIT, np_bce_logits),
    ("cce", ["categorical_crossentropy"], lambda: lm.losses.CategoricalCrossentropy(),
     ONEHOT, PROBS, np_cce),
    ("cce-unnormalised", [], lambda: lm.losses.CategoricalCrossentropy(),
     ONEHOT, UNNORMALISED, np_cce),
    ("cce-logits", [], lambda: lm.losses.CategoricalCrossentropy(from_logits=True),
     ONEHOT, LOGITS, np_cce_logits),
    ("scce", ["sparse_categorical_crossentropy"],
     lambda: lm.losses.SparseCategoricalCrossentropy(), LABELS, PROBS, np_scce),
    ("scce-logits", [], lambda: lm.losses.SparseCategoricalCrossentropy(from_logits=True),
     LABELS, LOGITS, np_scce_logits),
]


def _variants():
    for case_id, names, factory, yt, yp, ref in CASES:
        yield pytest.param(factory, yt, yp, ref, id=f"{case_id}-class")
        for name in names:
            yield pytest.param((lambda name=name: lm.losses.get(name)), yt, yp, ref,
                               id=f"{case_id}-str-{name}")


VARIANTS = list(_variants())


@pytest.mark.parametrize("make, y_true, y_pred, ref", VARIANTS)
def test_loss_matches_numpy(make, y_true, y_pred, ref):
    loss = make()
    value = loss(y_true, y_pred)
    assert np.shape(value) == ()
    expected = reduce(ref(y_true.astype(np.float64) if y_true.dtype.kind == "f" else y_true,
                          y_pred.astype(np.float64)))
    np.testing.assert_allclose(float(value), expected, rtol=RTOL)


@pytest.mark.parametrize("make, y_true, y_pred, ref", VARIANTS)
def test_loss_with_sample_weight_is_sum_over_batch_size(make, y_true, y_pred, ref):
    loss = make()
    value = loss(y_true, y_pred, sample_weight=WEIGHTS)
    per_sample = ref(y_true.astype(np.float64) if y_true.dtype.kind == "f" else y_true,
                     y_pred.astype(np.float64))
    # divided by the batch size (6), not by the sum of the weights (7.5)
    np.testing.assert_allclose(float(value), reduce(per_sample, WEIGHTS), rtol=RTOL)
    assert not np.isclose(float(value), (per_sample * WEIGHTS).sum() / WEIGHTS.sum())


def test_unit_sample_weight_equals_no_weight():
    loss = lm.losses.MeanSquaredError()
    np.testing.assert_allclose(float(loss(REG_TRUE, REG_PRED, sample_weight=np.ones(N))),
                               float(loss(REG_TRUE, REG_PRED)), rtol=1e-6)


@pytest.mark.parametrize("make, y_true, y_pred, ref", [
    pytest.param(lambda: lm.losses.MeanSquaredError(), REG_TRUE, REG_PRED, np_mse, id="mse"),
    pytest.param(lambda: lm.losses.BinaryCrossentropy(), BIN_TRUE, BIN_PROB, np_bce, id="bce"),
    pytest.param(lambda: lm.losses.SparseCategoricalCrossentropy(from_logits=True), LABELS,
                 LOGITS, np_scce_logits, id="scce-logits"),
])
def test_sample_weight_of_shape_n_by_1_equals_shape_n(make, y_true, y_pred, ref):
    """Keras brings sample_weight to the rank of the per-sample losses (no (N, N) broadcast)."""
    loss = make()
    per_sample = ref(y_true.astype(np.float64) if y_true.dtype.kind == "f" else y_true,
                     y_pred.astype(np.float64))
    np.testing.assert_allclose(float(loss(y_true, y_pred, sample_weight=WEIGHTS[:, None])),
                               reduce(per_sample, WEIGHTS), rtol=RTOL)


def test_sparse_labels_of_shape_n_by_1():
    loss = lm.losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(float(loss(LABELS[:, None], LOGITS)),
                               reduce(np_scce_logits(LABELS, LOGITS.astype(np.float64))),
                               rtol=RTOL)


def test_sparse_labels_as_floats():
    loss = lm.losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(float(loss(LABELS.astype(np.float32), LOGITS)),
                               reduce(np_scce_logits(LABELS, LOGITS.astype(np.float64))),
                               rtol=RTOL)


@pytest.mark.parametrize("name, ref", [("mse", np_mse), ("mae", np_mae)])
def test_targets_of_shape_n_against_predictions_n_by_1(name, ref):
    y = np.arange(N, dtype=np.float32)
    p = (np.arange(N, dtype=np.float32) * 0.5 + 1.0)[:, None]
    expected = reduce(ref(y[:, None].astype(np.float64), p.astype(np.float64)))
    np.testing.assert_allclose(float(lm.losses.get(name)(y, p)), expected, rtol=RTOL)
    # and not the (N, N) broadcast
    wrong = np.mean(ref(y[None, :].astype(np.float64), p.astype(np.float64)))
    assert not np.isclose(float(lm.losses.get(name)(y, p)), wrong)


def test_binary_targets_of_shape_n_against_predictions_n_by_1():
    y = BIN_TRUE[:, 0]
    p = BIN_PROB[:, :1]
    np.testing.assert_allclose(
        float(lm.losses.BinaryCrossentropy()(y, p)),
        reduce(np_bce(y[:, None].astype(np.float64), p.astype(np.float64))), rtol=RTOL)


def test_bce_clips_probabilities_of_exactly_zero_and_one():
    y = np.array([[1.0], [0.0]], np.float32)
    p = np.array([[0.0], [1.0]], np.float32)
    value = float(lm.losses.BinaryCrossentropy()(y, p))
    assert np.isfinite(value)
    # -log(epsilon), up to float32 rounding of 1 - epsilon
    np.testing.assert_allclose(value, -np.log(EPS), rtol=1e-2)


def test_bce_from_logits_is_stable_for_large_logits():
    y = np.array([[0.0], [1.0]], np.float32)
    z = np.array([[100.0], [-100.0]], np.float32)
    np.testing.assert_allclose(float(lm.losses.BinaryCrossentropy(from_logits=True)(y, z)), 100.0,
                               rtol=1e-5)


def test_loss_get_config_has_from_logits():
    assert lm.losses.BinaryCrossentropy(from_logits=True).get_config()["from_logits"] is True
    assert (lm.losses.SparseCategoricalCrossentropy().get_config()["from_logits"]
            is False)


def test_string_names_give_fresh_instances_of_the_right_class():
    assert isinstance(lm.losses.get("mse"), lm.losses.MeanSquaredError)
    assert isinstance(lm.losses.get("mae"), lm.losses.MeanAbsoluteError)
    assert isinstance(lm.losses.get("binary_crossentropy"), lm.losses.BinaryCrossentropy)
    assert isinstance(lm.losses.get("categorical_crossentropy"),
                      lm.losses.CategoricalCrossentropy)
    assert isinstance(lm.losses.get("sparse_categorical_crossentropy"),
                      lm.losses.SparseCategoricalCrossentropy)


# -- through a compiled model ------------------------------------------------------------
def _identity_model(dim):
    """A model whose output is its input (a Dense with an identity kernel)."""
    inp = lm.Input((dim,))
    dense = lm.layers.Dense(dim, use_bias=False)
    model = lm.Model(inp, dense(inp))
    dense.set_weights([np.eye(dim, dtype=np.float32)])
    return model


@pytest.mark.parametrize("loss, y_true, y_pred, ref", [
    pytest.param("mse", REG_TRUE, REG_PRED, np_mse, id="mse"),
    pytest.param("mae", REG_TRUE, REG_PRED, np_mae, id="mae"),
    pytest.param(lm.losses.CategoricalCrossentropy(from_logits=True), ONEHOT, LOGITS,
                 np_cce_logits, id="cce-logits"),
    pytest.param(lm.losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS,
                 np_scce_logits, id="scce-logits"),
])
def test_compiled_loss_with_sample_weight_in_test_on_batch(loss, y_true, y_pred, ref):
    model = _identity_model(y_pred.shape[1])
    model.compile(optimizer="sgd", loss=loss)
    yt = y_true.astype(np.float64) if y_true.dtype.kind == "f" else y_true
    per_sample = ref(yt, y_pred.astype(np.float64))
    np.testing.assert_allclose(model.test_on_batch(y_pred, y_true), reduce(per_sample),
                               rtol=RTOL)
    np.testing.assert_allclose(model.test_on_batch(y_pred, y_true, sample_weight=WEIGHTS),
                               reduce(per_sample, WEIGHTS), rtol=RTOL)


def test_compiled_mse_with_targets_of_shape_n():
    model = _identity_model(1)
    model.compile(optimizer="sgd", loss="mse")
    x = np.linspace(-1, 1, N).astype(np.float32)[:, None]
    y = np.linspace(0, 2, N).astype(np.float32) ** 2
    np.testing.assert_allclose(model.test_on_batch(x, y), np.mean((x[:, 0] - y) ** 2),
                               rtol=RTOL)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4, verbose=0),
                               np.mean((x[:, 0] - y) ** 2), rtol=RTOL)


# == the full Keras catalogue ==============================================================
# numpy references (float64), one value per sample, written from the Keras formulas
def np_huber(y, p, delta=1.0):
    e = np.abs(p - y)
    return np.mean(np.where(e <= delta, 0.5 * e ** 2, delta * e - 0.5 * delta ** 2), axis=-1)


def np_log_cosh(y, p):
    return np.mean(np.log(np.cosh(p - y)), axis=-1)


def np_mape(y, p):
    return 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), axis=-1)


def np_msle(y, p):
    return np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2, -1)


def np_cosine(y, p, axis=-1):
    yn = y / np.linalg.norm(y, axis=axis, keepdims=True)
    pn = p / np.linalg.norm(p, axis=axis, keepdims=True)
    return -np.sum(yn * pn, axis=axis)


def np_poisson(y, p):
    return np.mean(p - y * np.log(p + EPS), axis=-1)


def np_kld(y, p):
    y, p = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    return np.sum(y * np.log(y / p), axis=-1)


def _signed(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def np_hinge(y, p):
    return np.mean(np.maximum(1 - _signed(y) * p, 0), axis=-1)


def np_squared_hinge(y, p):
    return np.mean(np.maximum(1 - _signed(y) * p, 0) ** 2, axis=-1)


def np_categorical_hinge(y, p):
    return np.maximum(np.max((1 - y) * p, axis=-1) - np.sum(y * p, axis=-1) + 1, 0)


def np_bce_smoothed(y, p, s):
    return np_bce(y * (1 - s) + 0.5 * s, p)


def np_cce_smoothed_logits(y, z, s):
    return np_cce_logits(y * (1 - s) + s / y.shape[-1], z)


def np_binary_focal(y, p, gamma=2.0, alpha=0.25, balance=False, s=0.0):
    y = y * (1 - s) + 0.5 * s
    pc = np.clip(p, EPS, 1 - EPS)
    bce = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    p_t = y * p + (1 - y) * (1 - p)
    focal = (1 - p_t) ** gamma * bce
    if balance:
        focal = (y * alpha + (1 - y) * (1 - alpha)) * focal
    return np.mean(focal, axis=-1)


def np_categorical_focal(y, p, alpha=0.25, gamma=2.0):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return np.sum(alpha * (1 - p) ** gamma * -y * np.log(p), axis=-1)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


M = 8
_q = np.random.default_rng(1)
R8_TRUE = _q.normal(size=(M, 3)).astype(np.float32)
R8_PRED = _q.normal(size=(M, 3)).astype(np.float32)
POS_TRUE = _q.uniform(0.0, 3.0, size=(M, 3)).astype(np.float32)
POS_PRED = _q.uniform(0.1, 3.0, size=(M, 3)).astype(np.float32)
COUNTS = _q.poisson(1.5, size=(M, 3)).astype(np.float32)
DIST_TRUE = np.exp(np_log_softmax(_q.normal(size=(M, 4)))).astype(np.float32)
DIST_PRED = np.exp(np_log_softmax(_q.normal(size=(M, 4)))).astype(np.float32)
SIGNS = np.where(_q.uniform(size=(M, 3)) > 0.5, 1.0, -1.0).astype(np.float32)
BITS = (SIGNS > 0).astype(np.float32)
SCORES = (_q.normal(size=(M, 3)) * 1.5).astype(np.float32)
HOT = np.eye(4, dtype=np.float32)[_q.integers(0, 4, size=M)]
HOT_SCORES = (_q.normal(size=(M, 4)) * 1.5).astype(np.float32)
HOT_LOGITS = (_q.normal(size=(M, 4)) * 2).astype(np.float32)
HOT_PROBS = np.exp(np_log_softmax(HOT_LOGITS.astype(np.float64))).astype(np.float32)
SEQ_TRUE = _q.normal(size=(M, 5, 3)).astype(np.float32)  # (batch, steps, features)
SEQ_PRED = _q.normal(size=(M, 5, 3)).astype(np.float32)
BIN8_TRUE = _q.integers(0, 2, size=(M, 2)).astype(np.float32)
BIN8_PROB = _q.uniform(0.02, 0.98, size=(M, 2)).astype(np.float32)
BIN8_LOGIT = (_q.normal(size=(M, 2)) * 3).astype(np.float32)
W8 = _q.uniform(0.0, 2.0, size=M).astype(np.float32)

# (id, lamina factory, keras factory (by name), y_true, y_pred, numpy per-sample reference)
L = lm.losses
NEW_CASES = [
    ("huber", lambda: L.Huber(), lambda k: k.Huber(), R8_TRUE, R8_PRED, np_huber),
    ("huber-delta", lambda: L.Huber(delta=0.3), lambda k: k.Huber(delta=0.3), R8_TRUE,
     R8_PRED, lambda y, p: np_huber(y, p, 0.3)),
    ("log-cosh", lambda: L.LogCosh(), lambda k: k.LogCosh(), R8_TRUE, R8_PRED, np_log_cosh),
    ("mape", lambda: L.MeanAbsolutePercentageError(),
     lambda k: k.MeanAbsolutePercentageError(), R8_TRUE, R8_PRED, np_mape),
    ("msle", lambda: L.MeanSquaredLogarithmicError(),
     lambda k: k.MeanSquaredLogarithmicError(), R8_TRUE, R8_PRED, np_msle),
    ("msle-positive", lambda: L.MeanSquaredLogarithmicError(),
     lambda k: k.MeanSquaredLogarithmicError(), POS_TRUE, POS_PRED, np_msle),
    ("cosine", lambda: L.CosineSimilarity(), lambda k: k.CosineSimilarity(), R8_TRUE,
     R8_PRED, np_cosine),
    ("cosine-axis-1", lambda: L.CosineSimilarity(axis=1), lambda k: k.CosineSimilarity(axis=1),
     SEQ_TRUE, SEQ_PRED, lambda y, p: np_cosine(y, p, axis=1)),
    ("poisson", lambda: L.Poisson(), lambda k: k.Poisson(), COUNTS, POS_PRED, np_poisson),
    ("kld", lambda: L.KLDivergence(), lambda k: k.KLDivergence(), DIST_TRUE, DIST_PRED,
     np_kld),
    ("hinge-signs", lambda: L.Hinge(), lambda k: k.Hinge(), SIGNS, SCORES, np_hinge),
    ("hinge-bits", lambda: L.Hinge(), lambda k: k.Hinge(), BITS, SCORES, np_hinge),
    ("squared-hinge", lambda: L.SquaredHinge(), lambda k: k.SquaredHinge(), BITS, SCORES,
     np_squared_hinge),
    ("categorical-hinge", lambda: L.CategoricalHinge(), lambda k: k.CategoricalHinge(), HOT,
     HOT_SCORES, np_categorical_hinge),
    ("bce-smoothing", lambda: L.BinaryCrossentropy(label_smoothing=0.2),
     lambda k: k.BinaryCrossentropy(label_smoothing=0.2), BIN8_TRUE, BIN8_PROB,
     lambda y, p: np_bce_smoothed(y, p, 0.2)),
    ("bce-logits-smoothing", lambda: L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
     lambda k: k.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), BIN8_TRUE,
     BIN8_LOGIT, lambda y, z: np_bce_smoothed(y, sigmoid(z), 0.1)),
    ("cce-logits-smoothing",
     lambda: L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
     lambda k: k.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), HOT,
     HOT_LOGITS, lambda y, z: np_cce_smoothed_logits(y, z, 0.1)),
    ("binary-focal", lambda: L.BinaryFocalCrossentropy(),
     lambda k: k.BinaryFocalCrossentropy(), BIN8_TRUE, BIN8_PROB, np_binary_focal),
    ("binary-focal-balanced-logits",
     lambda: L.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5,
                                       from_logits=True, label_smoothing=0.1),
     lambda k: k.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5,
                                         from_logits=True, label_smoothing=0.1),
     BIN8_TRUE, BIN8_LOGIT,
     lambda y, z: np_binary_focal(y, sigmoid(z), 1.5, 0.4, True, 0.1)),
    ("categorical-focal", lambda: L.CategoricalFocalCrossentropy(),
     lambda k: k.CategoricalFocalCrossentropy(), HOT, HOT_PROBS, np_categorical_focal),
    ("categorical-focal-alpha-list-logits",
     lambda: L.CategoricalFocalCrossentropy(alpha=[0.1, 0.2, 0.3, 0.4], gamma=1.0,
                                            from_logits=True),
     lambda k: k.CategoricalFocalCrossentropy(alpha=[0.1, 0.2, 0.3, 0.4], gamma=1.0,
                                              from_logits=True),
     HOT, HOT_LOGITS,
     lambda y, z: np_categorical_focal(y, np.exp(np_log_softmax(z)), np.array([.1, .2, .3, .4]),
                                       1.0)),
    ("mse-sequence", lambda: L.MeanSquaredError(), lambda k: k.MeanSquaredError(), SEQ_TRUE,
     SEQ_PRED, np_mse),
    ("huber-sequence", lambda: L.Huber(), lambda k: k.Huber(), SEQ_TRUE, SEQ_PRED, np_huber),
]
NEW_IDS = [c[0] for c in NEW_CASES]

try:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
except ImportError:  # keras is an optional test dependency
    keras = None
needs_keras = pytest.mark.skipif(keras is None, reason="keras cannot be imported")


def _per_sample(ref, y, p):
    return ref(y.astype(np.float64), p.astype(np.float64))


@pytest.mark.parametrize("case", NEW_CASES, ids=NEW_IDS)
def test_new_loss_matches_numpy_with_and_without_weights(case):
    _, make, _, y, p, ref = case
    per = _per_sample(ref, y, p)
    weights = W8.reshape((M,) + (1,) * (per.ndim - 1))
    np.testing.assert_allclose(float(make()(y, p)), per.sum() / per.size, rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(float(make()(y, p, sample_weight=W8)),
                               (per * weights).sum() / per.size, rtol=RTOL, atol=1e-6)


@needs_keras
@pytest.mark.parametrize("case", NEW_CASES, ids=NEW_IDS)
def test_new_loss_matches_keras_value_and_gradient(case):
    """Forward and jax.grad w.r.t. y_pred against keras.losses on its JAX backend."""
    _, make, make_keras, y, p, _ = case
    ours, theirs = make(), make_keras(keras.losses)
    w = W8[:, None] if p.ndim > 2 else W8  # Keras needs the weights' rank for (N, T) losses
    np.testing.assert_allclose(float(ours(y, p, sample_weight=w)),
                               float(theirs(y, p, sample_weight=w)), rtol=RTOL, atol=1e-6)
    g_ours = jax.grad(lambda q: ours(y, q, sample_weight=w))(jnp.asarray(p))
    g_theirs = jax.grad(lambda q: theirs(y, q, sample_weight=w))(jnp.asarray(p))
    np.testing.assert_allclose(np.asarray(g_ours), np.asarray(g_theirs), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("case", NEW_CASES, ids=NEW_IDS)
def test_new_loss_gradient_matches_finite_differences(case):
    """jax.grad w.r.t. y_pred against central differences of the float64 numpy reference."""
    _, make, _, y, p, ref = case
    grad = np.asarray(jax.grad(lambda q: make()(y, q, sample_weight=W8))(jnp.asarray(p)))
    p64, h = p.astype(np.float64), 1e-5
    weights = W8.reshape((M,) + (1,) * (p.ndim - 2)) if p.ndim > 2 else W8

    def total(q):
        per = ref(y.astype(np.float64), q)
        return (per * weights).sum() / per.size

    numeric = np.zeros_like(p64)
    for index in np.ndindex(p.shape):
        step = np.zeros_like(p64)
        step[index] = h
        numeric[index] = (total(p64 + step) - total(p64 - step)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=2e-3, atol=2e-4)


FUNCTION_FORMS = [
    (L.huber, np_huber, R8_TRUE, R8_PRED), (L.log_cosh, np_log_cosh, R8_TRUE, R8_PRED),
    (L.mean_absolute_percentage_error, np_mape, R8_TRUE, R8_PRED),
    (L.mean_squared_logarithmic_error, np_msle, POS_TRUE, POS_PRED),
    (L.cosine_similarity, np_cosine, R8_TRUE, R8_PRED),
    (L.poisson, np_poisson, COUNTS, POS_PRED), (L.kl_divergence, np_kld, DIST_TRUE, DIST_PRED),
    (L.hinge, np_hinge, SIGNS, SCORES), (L.squared_hinge, np_squared_hinge, BITS, SCORES),
    (L.categorical_hinge, np_categorical_hinge, HOT, HOT_SCORES),
    (L.binary_focal_crossentropy, np_binary_focal, BIN8_TRUE, BIN8_PROB),
    (L.categorical_focal_crossentropy, np_categorical_focal, HOT, HOT_PROBS),
]


@pytest.mark.parametrize("fn, ref, y, p", FUNCTION_FORMS,
                         ids=[f[0].__name__ for f in FUNCTION_FORMS])
def test_function_forms_return_per_sample_values(fn, ref, y, p):
    values = np.asarray(fn(y, p))
    assert values.shape == (M,)
    np.testing.assert_allclose(values, _per_sample(ref, y, p), rtol=RTOL, atol=1e-6)


def test_hinge_keeps_non_binary_targets():
    """Targets other than 0/1 are used as they are (only a 0/1 batch is mapped to -1/1)."""
    y = np.array([[0.5, -1.0], [1.0, 0.0]], np.float32)
    p = np.array([[0.2, 0.3], [-0.4, 0.9]], np.float32)
    expected = np.mean(np.maximum(1 - y * p, 0), axis=-1)
    np.testing.assert_allclose(np.asarray(L.hinge(y, p)), expected, rtol=RTOL)


# -- sparse cross-entropy with ignore_class ------------------------------------------------
SEG_LABELS = _q.integers(0, 4, size=(M, 6)).astype(np.int32)
SEG_LABELS[_q.uniform(size=(M, 6)) < 0.3] = -1  # "void" pixels
SEG_LOGITS = (_q.normal(size=(M, 6, 4)) * 2).astype(np.float32)


def _np_scce_ignore(labels, logits, ignore, weights=None):
    valid = labels != ignore
    per = -np_log_softmax(logits.astype(np.float64))
    per = np.take_along_axis(per, np.where(valid, labels, 0)[..., None], -1)[..., 0]
    w = valid * (1.0 if weights is None else weights[:, None])
    return (per * w).sum() / valid.sum()


def test_sparse_categorical_crossentropy_ignore_class_is_the_mean_over_valid_entries():
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(float(loss(SEG_LABELS, SEG_LOGITS)),
                               _np_scce_ignore(SEG_LABELS, SEG_LOGITS, -1), rtol=RTOL)
    np.testing.assert_allclose(float(loss(SEG_LABELS, SEG_LOGITS, sample_weight=W8)),
                               _np_scce_ignore(SEG_LABELS, SEG_LOGITS, -1, W8), rtol=RTOL)
    grads = jax.grad(lambda z: loss(SEG_LABELS, z))(jnp.asarray(SEG_LOGITS))
    assert np.all(np.isfinite(np.asarray(grads)))
    assert np.all(np.asarray(grads)[SEG_LABELS == -1] == 0)


def test_ignore_class_combines_with_an_output_mask():
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    mask = np.ones((M, 6), bool)
    mask[:, 4:] = False  # padded steps
    restricted = np.where(mask, SEG_LABELS, -1)
    np.testing.assert_allclose(float(loss(SEG_LABELS, SEG_LOGITS, mask=mask)),
                               _np_scce_ignore(restricted, SEG_LOGITS, -1), rtol=RTOL)


@needs_keras
def test_ignore_class_matches_keras():
    ours = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    w = W8[:, None]  # Keras needs the weights' rank for (N, T) losses
    np.testing.assert_allclose(float(ours(SEG_LABELS, SEG_LOGITS, sample_weight=w)),
                               float(theirs(SEG_LABELS, SEG_LOGITS, sample_weight=w)), rtol=RTOL)


# -- reductions ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "sum",
                                       "mean_with_sample_weight", "none", None])
def test_reductions_match_numpy(reduction):
    per = np_huber(REG_TRUE.astype(np.float64), REG_PRED.astype(np.float64))
    weighted = per * WEIGHTS
    expected = {"sum_over_batch_size": weighted.sum() / N, "mean": weighted.sum() / N,
                "sum": weighted.sum(), "mean_with_sample_weight": weighted.sum() / WEIGHTS.sum(),
                "none": weighted, None: weighted}[reduction]
    value = L.Huber(reduction=reduction)(REG_TRUE, REG_PRED, sample_weight=WEIGHTS)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=RTOL)


@needs_keras
@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight", "none"])
def test_reductions_match_keras(reduction):
    ours = L.LogCosh(reduction=reduction)(REG_TRUE, REG_PRED, sample_weight=WEIGHTS)
    theirs = keras.losses.LogCosh(reduction=reduction)(REG_TRUE, REG_PRED, sample_weight=WEIGHTS)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=RTOL)


def test_sum_reduction_with_a_mask_sums_the_valid_entries():
    mask = np.array([True, False, True, True, False, True])
    per = np_mse(REG_TRUE.astype(np.float64), REG_PRED.astype(np.float64))
    value = L.MeanSquaredError(reduction="sum")(REG_TRUE, REG_PRED, mask=mask)
    np.testing.assert_allclose(float(value), per[mask].sum(), rtol=RTOL)


def test_bfloat16_predictions_are_computed_in_float32():
    value = L.Huber()(REG_TRUE, jnp.asarray(REG_PRED, jnp.bfloat16))
    assert value.dtype == jnp.float32


# -- names, configs and errors -------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [
    ("huber", L.Huber), ("Huber", L.Huber), ("log_cosh", L.LogCosh), ("kld", L.KLDivergence),
    ("kl_divergence", L.KLDivergence), ("poisson", L.Poisson), ("hinge", L.Hinge),
    ("squared_hinge", L.SquaredHinge), ("categorical_hinge", L.CategoricalHinge),
    ("cosine_similarity", L.CosineSimilarity), ("mape", L.MeanAbsolutePercentageError),
    ("msle", L.MeanSquaredLogarithmicError), ("MSE", L.MeanSquaredError),
    ("bce", L.BinaryCrossentropy), ("binary_focal_crossentropy", L.BinaryFocalCrossentropy),
    ("categorical_focal_crossentropy", L.CategoricalFocalCrossentropy),
])
def test_new_string_names(name, cls):
    assert type(L.get(name)) is cls


@pytest.mark.parametrize("case", NEW_CASES, ids=NEW_IDS)
def test_config_round_trip_through_the_saving_registry(case):
    from lamina.core import registry
    from lamina.saving import compile_config

    loss = case[1]()
    config = compile_config.to_json(loss)
    assert config["class_name"] == f"losses.{type(loss).__name__}"
    rebuilt = registry.deserialize(config)
    assert type(rebuilt) is type(loss) and rebuilt.get_config() == loss.get_config()
    np.testing.assert_allclose(float(rebuilt(case[3], case[4])), float(loss(case[3], case[4])),
                               rtol=1e-6)


def test_loss_functions_are_savable_by_name():
    from lamina.saving import compile_config

    assert compile_config.to_json(L.get(L.huber)) == {"registered_function": "losses.huber"}
    assert compile_config.from_json({"registered_function": "losses.huber"}) is L.huber


def test_unknown_loss_name_lists_the_new_names():
    with pytest.raises(lm.ConfigurationError, match="Unknown loss 'hubber'") as info:
        L.get("hubber")
    for name in ["huber", "log_cosh", "kl_divergence", "categorical_focal_crossentropy",
                 "squared_hinge", "mape"]:
        assert name in str(info.value)


@pytest.mark.parametrize("make, match", [
    (lambda: L.Huber(delta=0), "Huber: delta must be a number > 0, received 0"),
    (lambda: L.Huber(delta="1"), "Huber: delta must be a number > 0"),
    (lambda: L.BinaryCrossentropy(label_smoothing=1.5),
     r"BinaryCrossentropy: label_smoothing must be a number in \[0, 1\], received 1.5"),
    (lambda: L.CategoricalCrossentropy(label_smoothing=-0.1), "label_smoothing must be"),
    (lambda: L.BinaryFocalCrossentropy(gamma=-1), "gamma must be a number >= 0, received -1"),
    (lambda: L.BinaryFocalCrossentropy(alpha=2.0), r"alpha must be a number in \[0, 1\]"),
    (lambda: L.CategoricalFocalCrossentropy(alpha=[0.5, "x"]), "alpha must be a number >= 0"),
    (lambda: L.CosineSimilarity(axis=1.0), "CosineSimilarity: axis must be an int"),
    (lambda: L.SparseCategoricalCrossentropy(ignore_class="void"),
     "ignore_class must be an int or None, received 'void'"),
    (lambda: L.MeanSquaredError(reduction="avg"),
     "MeanSquaredError: invalid reduction='avg'. Expected one of"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
