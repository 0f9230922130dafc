"""Losses against hand-written numpy, with Keras's "sum over batch size" reduction.

Keras reduction: `sum(per_sample_loss * sample_weight) / batch_size`, where the per-sample
loss is averaged over the last axis for mse / mae / binary cross-entropy.
"""
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
