"""Metrics through compile(metrics=[...]) and evaluate / test_on_batch, against numpy.

The models are identity maps (a Dense with an identity kernel, no bias), so the predictions
are the inputs and every number can be computed by hand.
"""
import json
import os

import jax
import numpy as np
import pytest

import lamina as lm

RTOL = 1e-5


def _identity_model(dim):
    inp = lm.Input((dim,))
    dense = lm.layers.Dense(dim, use_bias=False)
    model = lm.Model(inp, dense(inp))
    dense.set_weights([np.eye(dim, dtype=np.float32)])
    return model


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


N, K = 10, 3
_r = np.random.default_rng(0)
LOGITS = (_r.normal(size=(N, K)) * 2).astype(np.float32)
LABELS = _r.integers(0, K, size=(N,)).astype(np.int32)
# make the accuracy neither 0 nor 1, and different between the first and last samples
LABELS[:4] = LOGITS[:4].argmax(-1)
LABELS[4:6] = (LOGITS[4:6].argmax(-1) + 1) % K
ONEHOT = np.eye(K, dtype=np.float32)[LABELS]
PROB1 = _r.uniform(0.05, 0.95, size=(N, 1)).astype(np.float32)
BIN_Y = _r.integers(0, 2, size=(N,)).astype(np.float32)
REG_X = _r.normal(size=(N, 2)).astype(np.float32)
REG_Y = _r.normal(size=(N, 2)).astype(np.float32)


def scce_logits(labels, z):
    return -np_log_softmax(z.astype(np.float64))[np.arange(len(labels)), labels]


def bce(y, p):
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


# -- "accuracy" resolves from the loss ---------------------------------------------------
def test_accuracy_with_sparse_categorical_crossentropy():
    model = _identity_model(K)
    model.compile("sgd", lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    logs = model.evaluate(LOGITS, LABELS, batch_size=N, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "accuracy"]
    np.testing.assert_allclose(logs["accuracy"], np.mean(LOGITS.argmax(-1) == LABELS), rtol=RTOL)
    np.testing.assert_allclose(logs["loss"], scce_logits(LABELS, LOGITS).mean(), rtol=RTOL)
    assert 0 < logs["accuracy"] < 1


def test_accuracy_with_sparse_labels_of_shape_n_by_1():
    model = _identity_model(K)
    model.compile("sgd", lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    loss, acc = model.test_on_batch(LOGITS, LABELS[:, None])
    np.testing.assert_allclose(acc, np.mean(LOGITS.argmax(-1) == LABELS), rtol=RTOL)


def test_accuracy_with_categorical_crossentropy():
    model = _identity_model(K)
    model.compile("sgd", lm.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    loss, acc = model.test_on_batch(LOGITS, ONEHOT)
    np.testing.assert_allclose(acc, np.mean(LOGITS.argmax(-1) == LABELS), rtol=RTOL)
    np.testing.assert_allclose(loss, scce_logits(LABELS, LOGITS).mean(), rtol=RTOL)


@pytest.mark.parametrize("y", [BIN_Y, BIN_Y[:, None]], ids=["y-n", "y-n-by-1"])
def test_accuracy_with_binary_crossentropy(y):
    model = _identity_model(1)
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    loss, acc = model.test_on_batch(PROB1, y)
    np.testing.assert_allclose(acc, np.mean((PROB1[:, 0] > 0.5) == (BIN_Y > 0.5)), rtol=RTOL)
    np.testing.assert_allclose(loss, bce(BIN_Y, PROB1[:, 0]).mean(), rtol=RTOL)


def test_explicit_accuracy_names():
    model = _identity_model(K)
    model.compile("sgd", lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])
    logs = model.test_on_batch(LOGITS, LABELS, return_dict=True)
    assert list(logs) == ["loss", "sparse_categorical_accuracy"]
    np.testing.assert_allclose(logs["sparse_categorical_accuracy"],
                               np.mean(LOGITS.argmax(-1) == LABELS), rtol=RTOL)

    model2 = _identity_model(K)
    model2.compile("sgd", lm.losses.CategoricalCrossentropy(from_logits=True),
                   metrics=["categorical_accuracy"])
    logs = model2.test_on_batch(LOGITS, ONEHOT, return_dict=True)
    np.testing.assert_allclose(logs["categorical_accuracy"],
                               np.mean(LOGITS.argmax(-1) == LABELS), rtol=RTOL)


def test_binary_accuracy_metric_object_threshold():
    model = _identity_model(1)
    model.compile("sgd", "binary_crossentropy",
                  metrics=[lm.metrics.BinaryAccuracy(threshold=0.7)])
    logs = model.test_on_batch(PROB1, BIN_Y, return_dict=True)
    np.testing.assert_allclose(logs["binary_accuracy"],
                               np.mean((PROB1[:, 0] > 0.7) == (BIN_Y > 0.5)), rtol=RTOL)


# -- regression metrics ---------------------------------------------------------------
def test_mse_and_mae_metrics():
    model = _identity_model(2)
    model.compile("sgd", "mse", metrics=["mse", "mae"])
    logs = model.test_on_batch(REG_X, REG_Y, return_dict=True)
    assert list(logs) == ["loss", "mse", "mae"]
    np.testing.assert_allclose(logs["mse"], np.mean((REG_X - REG_Y) ** 2), rtol=RTOL)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(REG_X - REG_Y)), rtol=RTOL)
    np.testing.assert_allclose(logs["loss"], logs["mse"], rtol=RTOL)


def test_long_metric_names():
    model = _identity_model(2)
    model.compile("sgd", "mae", metrics=["mean_squared_error", "mean_absolute_error"])
    logs = model.test_on_batch(REG_X, REG_Y, return_dict=True)
    assert list(logs) == ["loss", "mean_squared_error", "mean_absolute_error"]
    np.testing.assert_allclose(logs["mean_squared_error"], np.mean((REG_X - REG_Y) ** 2),
                               rtol=RTOL)
    np.testing.assert_allclose(logs["mean_absolute_error"], logs["loss"], rtol=RTOL)


def test_mse_metric_with_targets_of_shape_n_against_predictions_n_by_1():
    """Keras brings y_true (N,) and y_pred (N, 1) to the same rank: no (N, N) broadcast."""
    model = _identity_model(1)
    model.compile("sgd", "mse", metrics=["mse", "mae"])
    x = REG_X[:, :1]
    y = REG_Y[:, 0]
    logs = model.test_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.mean((x[:, 0] - y) ** 2), rtol=RTOL)
    np.testing.assert_allclose(logs["mse"], np.mean((x[:, 0] - y) ** 2), rtol=RTOL)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(x[:, 0] - y)), rtol=RTOL)


def test_metrics_with_sample_weight_are_weighted_means():
    """Metrics: sum(v * w) / sum(w). The loss: sum(l * w) / batch_size (Keras)."""
    model = _identity_model(K)
    model.compile("sgd", lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    w = np.linspace(0.0, 2.0, N).astype(np.float32)
    logs = model.test_on_batch(LOGITS, LABELS, sample_weight=w, return_dict=True)
    correct = (LOGITS.argmax(-1) == LABELS).astype(np.float64)
    np.testing.assert_allclose(logs["accuracy"], (correct * w).sum() / w.sum(), rtol=RTOL)
    np.testing.assert_allclose(logs["loss"], (scce_logits(LABELS, LOGITS) * w).sum() / N,
                               rtol=RTOL)


# -- "accuracy" that cannot be resolved --------------------------------------------------
@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_accuracy_with_regression_loss_raises_configuration_error(loss):
    model = _identity_model(2)
    with pytest.raises(lm.ConfigurationError) as info:
        model.compile("sgd", loss, metrics=["accuracy"])
        model.evaluate(REG_X, REG_Y, verbose=0)
    message = str(info.value)
    assert "accuracy" in message
    for alternative in ["sparse_categorical_accuracy", "categorical_accuracy",
                        "binary_accuracy"]:
        assert alternative in message


# -- several batches -------------------------------------------------------------------
def test_evaluate_with_partial_last_batch_is_the_exact_dataset_mean():
    model = _identity_model(K)
    model.compile("sgd", lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    # batches of 4, 4 and 2: the unweighted mean of the batch means would differ
    loss, acc = model.evaluate(LOGITS, LABELS, batch_size=4, verbose=0)
    correct = LOGITS.argmax(-1) == LABELS
    np.testing.assert_allclose(acc, correct.mean(), rtol=RTOL)
    np.testing.assert_allclose(loss, scce_logits(LABELS, LOGITS).mean(), rtol=RTOL)
    batch_means = np.mean([correct[:4].mean(), correct[4:8].mean(), correct[8:].mean()])
    assert not np.isclose(batch_means, correct.mean())


def test_evaluate_regression_with_partial_last_batch():
    model = _identity_model(2)
    model.compile("sgd", "mae", metrics=["mse"])
    loss, mse = model.evaluate(REG_X, REG_Y, batch_size=3, verbose=0)
    np.testing.assert_allclose(loss, np.mean(np.abs(REG_X - REG_Y)), rtol=RTOL)
    np.testing.assert_allclose(mse, np.mean((REG_X - REG_Y) ** 2), rtol=RTOL)


def test_evaluate_with_sample_weight_over_several_batches():
    model = _identity_model(2)
    model.compile("sgd", "mse", metrics=["mae"])
    w = np.linspace(0.5, 2.0, N).astype(np.float32)
    loss, mae = model.evaluate(REG_X, REG_Y, sample_weight=w, batch_size=4, verbose=0)
    per_mse = np.mean((REG_X - REG_Y) ** 2, axis=-1)
    per_mae = np.mean(np.abs(REG_X - REG_Y), axis=-1)
    # each batch loss is sum(l*w)/batch_size; batches are averaged weighted by their size
    np.testing.assert_allclose(loss, (per_mse * w).sum() / N, rtol=RTOL)
    np.testing.assert_allclose(mae, (per_mae * w).sum() / w.sum(), rtol=RTOL)


def test_evaluate_does_not_accumulate_across_calls():
    model = _identity_model(2)
    model.compile("sgd", "mse", metrics=["mae"])
    model.evaluate(REG_X[:4], REG_Y[:4] + 10.0, verbose=0)
    loss, mae = model.evaluate(REG_X, REG_Y, batch_size=4, verbose=0)
    np.testing.assert_allclose(mae, np.mean(np.abs(REG_X - REG_Y)), rtol=RTOL)


def test_test_on_batch_reports_that_batch_only():
    model = _identity_model(2)
    model.compile("sgd", "mse", metrics=["mae"])
    model.test_on_batch(REG_X[:5], REG_Y[:5] + 10.0)
    loss, mae = model.test_on_batch(REG_X[5:], REG_Y[5:])
    np.testing.assert_allclose(mae, np.mean(np.abs(REG_X[5:] - REG_Y[5:])), rtol=RTOL)
    np.testing.assert_allclose(loss, np.mean((REG_X[5:] - REG_Y[5:]) ** 2), rtol=RTOL)


def test_fit_history_metric_is_epoch_mean_over_partial_batches():
    """With learning rate 0 nothing changes, so the epoch's logs are the dataset means."""
    model = _identity_model(2)
    model.compile(lm.optimizers.SGD(learning_rate=0.0), "mse", metrics=["mae"])
    history = model.fit(REG_X, REG_Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], np.mean((REG_X - REG_Y) ** 2),
                               rtol=RTOL)
    np.testing.assert_allclose(history.history["mae"][0], np.mean(np.abs(REG_X - REG_Y)),
                               rtol=RTOL)


# == the full Keras catalogue, standalone (init / update / result) ============================
try:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
except ImportError:  # keras is an optional test dependency
    keras = None
needs_keras = pytest.mark.skipif(keras is None, reason="keras cannot be imported")

M = lm.metrics
EPS = 1e-7
B = 12  # samples per batch; three batches, each with random sample weights
_s = np.random.default_rng(3)


def _batches(make_true, make_pred):
    return [(make_true(), make_pred(), _s.uniform(0.0, 2.0, B).astype(np.float32))
            for _ in range(3)]


def _f32(shape, low=None, high=None):
    def make():
        if low is None:
            return _s.normal(size=shape).astype(np.float32)
        return _s.uniform(low, high, size=shape).astype(np.float32)
    return make


def _dist(shape):
    def make():
        e = np.exp(_s.normal(size=shape))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)
    return make


def _onehot():
    return np.eye(4, dtype=np.float32)[_s.integers(0, 4, B)]


def _labels():
    return _s.integers(0, 4, B).astype(np.int32)


def _bits():
    return _s.integers(0, 2, (B, 3)).astype(np.float32)


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_log_softmax64(z):
    return np_log_softmax(z.astype(np.float64))


def np_cosine_metric(y, p, axis=-1):
    return np.sum(y / np.linalg.norm(y, axis=axis, keepdims=True)
                  * p / np.linalg.norm(p, axis=axis, keepdims=True), axis=axis)


def np_bce_metric(y, p, s=0.0):
    y = y * (1 - s) + 0.5 * s
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), -1)


def _signed(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


# (Keras class name, kwargs, batches, numpy per-sample reference (float64))
MEAN_CASES = [
    ("MeanSquaredError", {}, _batches(_f32((B, 3)), _f32((B, 3))),
     lambda y, p: np.mean((p - y) ** 2, -1)),
    ("MeanAbsoluteError", {}, _batches(_f32((B, 3)), _f32((B, 3))),
     lambda y, p: np.mean(np.abs(p - y), -1)),
    ("MeanAbsolutePercentageError", {}, _batches(_f32((B, 3)), _f32((B, 3))),
     lambda y, p: 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), -1)),
    ("MeanSquaredLogarithmicError", {}, _batches(_f32((B, 3), 0, 3), _f32((B, 3), 0, 3)),
     lambda y, p: np.mean((np.log1p(p) - np.log1p(y)) ** 2, -1)),
    ("CosineSimilarity", {}, _batches(_f32((B, 3)), _f32((B, 3))), np_cosine_metric),
    ("CosineSimilarity", {"axis": 1}, _batches(_f32((B, 4, 3)), _f32((B, 4, 3))),
     lambda y, p: np_cosine_metric(y, p, axis=1)),
    ("LogCoshError", {}, _batches(_f32((B, 3)), _f32((B, 3))),
     lambda y, p: np.mean(np.log(np.cosh(p - y)), -1)),
    ("KLDivergence", {}, _batches(_dist((B, 4)), _dist((B, 4))),
     lambda y, p: np.sum(y * np.log(y / p), -1)),
    ("Poisson", {}, _batches(lambda: _s.poisson(1.5, (B, 3)).astype(np.float32),
                             _f32((B, 3), 0.1, 3)),
     lambda y, p: np.mean(p - y * np.log(p + EPS), -1)),
    ("Hinge", {}, _batches(_bits, _f32((B, 3))),
     lambda y, p: np.mean(np.maximum(1 - _signed(y) * p, 0), -1)),
    ("SquaredHinge", {}, _batches(_bits, _f32((B, 3))),
     lambda y, p: np.mean(np.maximum(1 - _signed(y) * p, 0) ** 2, -1)),
    ("CategoricalHinge", {}, _batches(_onehot, _f32((B, 4))),
     lambda y, p: np.maximum(np.max((1 - y) * p, -1) - np.sum(y * p, -1) + 1, 0)),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, _batches(_bits, _f32((B, 3), 0.05, 0.95)),
     lambda y, p: np_bce_metric(y, p, 0.1)),
    ("BinaryCrossentropy", {"from_logits": True}, _batches(_bits, _f32((B, 3))),
     lambda y, z: np_bce_metric(y, np_sigmoid(z))),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2},
     _batches(_onehot, _f32((B, 4))),
     lambda y, z: -np.sum((y * 0.8 + 0.05) * np_log_softmax64(z), -1)),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, _batches(_labels, _f32((B, 4))),
     lambda y, z: -np_log_softmax64(z)[np.arange(len(y)), y]),
    ("TopKCategoricalAccuracy", {"k": 2}, _batches(_onehot, _f32((B, 4))),
     lambda y, p: (np.argsort(-p, 1)[:, :2] == y.argmax(1)[:, None]).any(1).astype(float)),
]
MEAN_IDS = [f"{name}-{'-'.join(map(str, kwargs.values()))}" for name, kwargs, _, _ in MEAN_CASES]


def _run(metric, batches, mask=None):
    state = metric.init()
    update = jax.jit(metric.update)
    for y_true, y_pred, w in batches:
        state = update(state, y_true, y_pred, w) if mask is None else update(
            state, y_true, y_pred, w, mask)
    return np.asarray(metric.result(state))


def _weighted_mean(batches, ref):
    values = np.concatenate([ref(y.astype(np.float64) if y.dtype.kind == "f" else y,
                                 p.astype(np.float64)) for y, p, _ in batches])
    w = np.concatenate([w for _, _, w in batches]).astype(np.float64)
    w = w.reshape(w.shape + (1,) * (values.ndim - 1))
    return (values * w).sum() / np.broadcast_to(w, values.shape).sum()


@pytest.mark.parametrize("name, kwargs, batches, ref", MEAN_CASES, ids=MEAN_IDS)
def test_mean_metrics_match_numpy_over_weighted_batches(name, kwargs, batches, ref):
    np.testing.assert_allclose(_run(getattr(M, name)(**kwargs), batches),
                               _weighted_mean(batches, ref), rtol=1e-5, atol=1e-6)


@needs_keras
@pytest.mark.parametrize("name, kwargs, batches, ref", MEAN_CASES, ids=MEAN_IDS)
def test_mean_metrics_equal_keras(name, kwargs, batches, ref):
    theirs = getattr(keras.metrics, name)(**kwargs)
    for y_true, y_pred, w in batches:
        theirs.update_state(y_true, y_pred, sample_weight=w)
    np.testing.assert_allclose(_run(getattr(M, name)(**kwargs), batches),
                               np.asarray(theirs.result()), rtol=1e-5, atol=1e-6)


RMSE_BATCHES = _batches(_f32((B, 3)), _f32((B, 3)))


def test_root_mean_squared_error_is_over_every_element():
    y, p = (np.concatenate([b[i] for b in RMSE_BATCHES]).astype(np.float64) for i in (0, 1))
    w = np.concatenate([b[2] for b in RMSE_BATCHES])[:, None]
    expected = np.sqrt((((p - y) ** 2) * w).sum() / (w.sum() * 3))
    np.testing.assert_allclose(_run(M.RootMeanSquaredError(), RMSE_BATCHES), expected, rtol=1e-5)
    if keras is not None:
        theirs = keras.metrics.RootMeanSquaredError()
        for yt, yp, wt in RMSE_BATCHES:
            theirs.update_state(yt, yp, sample_weight=wt)
        np.testing.assert_allclose(_run(M.RootMeanSquaredError(), RMSE_BATCHES),
                                   np.asarray(theirs.result()), rtol=1e-5)


def test_sparse_crossentropy_metric_ignore_class_leaves_entries_out():
    batches = [(np.array([0, 2, -1, 1], np.int32), _f32((4, 3))(), np.ones(4, np.float32))]
    y, z, _ = batches[0]
    per = -np_log_softmax64(z)[np.arange(4), np.maximum(y, 0)]
    value = _run(M.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1), batches)
    np.testing.assert_allclose(value, per[y != -1].mean(), rtol=1e-5)


@pytest.mark.parametrize("weights", [None, "rank1", "rank2"])
def test_mean_and_sum_of_values(weights):
    values = [_f32((B, 3))() for _ in range(3)]
    w = {None: [None] * 3, "rank1": [_f32((B,), 0, 2)() for _ in range(3)],
         "rank2": [_f32((B, 3), 0, 2)() for _ in range(3)]}[weights]
    mean, total = M.Mean(), M.Sum()
    ms, ts = mean.init(), total.init()
    for v, wt in zip(values, w, strict=True):
        ms, ts = mean.update(ms, v, wt), total.update(ts, v, wt)
    v = np.concatenate(values).astype(np.float64)
    wt = np.ones_like(v) if weights is None else np.broadcast_to(
        np.concatenate(w).reshape(len(v), -1), v.shape)
    np.testing.assert_allclose(float(mean.result(ms)), (v * wt).sum() / wt.sum(), rtol=1e-5)
    np.testing.assert_allclose(float(total.result(ts)), (v * wt).sum(), rtol=1e-5)
    if keras is not None:
        km, ks = keras.metrics.Mean(), keras.metrics.Sum()
        for vi, wi in zip(values, w, strict=True):
            km.update_state(vi, sample_weight=wi)
            ks.update_state(vi, sample_weight=wi)
        np.testing.assert_allclose(float(mean.result(ms)), float(km.result()), rtol=1e-5)
        np.testing.assert_allclose(float(total.result(ts)), float(ks.result()), rtol=1e-5)


# -- masks: padded entries count as weight 0 in every metric ---------------------------------
SEQ_TRUE = _s.integers(0, 2, (4, 6, 1)).astype(np.float32)
SEQ_PRED = _s.uniform(0, 1, (4, 6, 1)).astype(np.float32)
SEQ_MASK = np.arange(6)[None, :] < np.array([6, 4, 3, 1])[:, None]  # (batch, steps)
SEQ_W = np.array([1.0, 2.0, 0.5, 1.0], np.float32)


@pytest.mark.parametrize("make", [lambda: M.Precision(), lambda: M.Recall(thresholds=[0.3, 0.6]),
                                  lambda: M.AUC(num_thresholds=20), lambda: M.TruePositives(),
                                  lambda: M.RootMeanSquaredError(), lambda: M.BinaryIoU(),
                                  lambda: M.R2Score()],
                         ids=["precision", "recall", "auc", "tp", "rmse", "binary-iou", "r2"])
def test_mask_equals_zero_weights_on_the_padded_entries(make):
    """A mask (batch, steps) must equal dropping the padded entries (Keras applies masks only
    to mean metrics; lamina applies them to every metric)."""
    masked = _run(make(), [(SEQ_TRUE, SEQ_PRED, SEQ_W)], mask=SEQ_MASK)
    keep = SEQ_MASK.reshape(-1)
    flat_w = np.repeat(SEQ_W, 6)[keep]
    y, p = SEQ_TRUE.reshape(-1, 1)[keep], SEQ_PRED.reshape(-1, 1)[keep]
    np.testing.assert_allclose(masked, _run(make(), [(y, p, flat_w)]), rtol=1e-5)


# -- state sizes from the output shape -------------------------------------------------------
def test_build_fixes_the_state_size_and_lazy_states_size_themselves():
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    p = _f32((4, 3), 0, 1)()
    built = M.F1Score()
    built.build((None, 3))
    assert built.init()["true_positives"].shape == (3,)
    lazy = M.F1Score()
    assert lazy.init()["true_positives"].shape == (0,)
    state = jax.jit(lazy.update)(lazy.init(), y, p)
    assert state["true_positives"].shape == (3,)
    np.testing.assert_array_equal(lazy.result(state),
                                  built.result(built.update(built.init(), y, p)))
    with pytest.raises(ValueError, match="F1Score: its state was built for 3 classes, "
                                         "received y_pred with 4"):
        lazy.update(state, np.eye(4)[[0, 1]], np.ones((2, 4)))


def test_multi_label_auc_and_r2_size_themselves():
    y, p = _bits(), _f32((B, 3), 0, 1)()
    auc = M.AUC(multi_label=True)
    assert auc.init()["true_positives"].shape == (200, 0)
    assert auc.update(auc.init(), y, p)["true_positives"].shape == (200, 3)
    r2 = M.R2Score()
    r2.build((None, 3))
    assert r2.init()["sum"].shape == (3,)


# -- inside one jitted function --------------------------------------------------------------
def test_every_metric_updates_and_results_inside_jit_as_eagerly():
    probs, bits = _f32((B, 3), 0, 1)(), _bits()
    onehot, scores = _onehot(), _f32((B, 4), 0, 1)()
    metrics = [
        (M.Precision(top_k=2), bits, probs), (M.AUC(curve="PR"), bits, probs),
        (M.SpecificityAtSensitivity(0.5), bits, probs), (M.F1Score(average="weighted"),
                                                          onehot, scores),
        (M.R2Score(), probs, bits), (M.MeanIoU(4, sparse_y_pred=False), onehot.argmax(1),
                                     scores),
        (M.SparseTopKCategoricalAccuracy(k=2), onehot.argmax(1), scores),
        (M.RootMeanSquaredError(), probs, bits), (M.LogCoshError(), probs, bits),
    ]
    for m, _, p in metrics:
        m.build((None,) + p.shape[1:])

    def all_results(w):
        out = []
        for m, y, p in metrics:
            state = m.update(m.update(m.init(), y, p, w), y, p * 0.5, w)
            out.append(m.result(state))
        return out

    w = _f32((B,), 0, 2)()
    for jitted, eager in zip(jax.jit(all_results)(w), all_results(w), strict=True):
        np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6)


# -- through compile and fit -----------------------------------------------------------------
FIT_N = 64
_f = np.random.default_rng(11)
FIT_Y = _f.integers(0, 2, FIT_N).astype(np.float32)
FIT_P = np.clip(0.3 * FIT_Y + _f.uniform(0, 0.7, FIT_N), 0.01, 0.99).astype(np.float32)[:, None]


def test_fit_reports_new_metrics_by_name_and_by_instance_under_keras_log_names():
    """With learning rate 0 the identity model's epoch logs are the metrics over the data."""
    from sklearn import metrics as skm

    model = _identity_model(1)
    model.compile(lm.optimizers.SGD(learning_rate=0.0), "binary_crossentropy",
                  metrics=["auc", "precision", lm.metrics.Recall(name="rec"),
                           lm.metrics.F1Score(average="micro", threshold=0.5), "AUC",
                           lm.metrics.AUC(curve="PR", name="pr_auc"), "true_positives"])
    history = model.fit(FIT_P, FIT_Y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                        validation_data=(FIT_P, FIT_Y))
    logs = history.history
    names = ["auc", "precision", "rec", "f1_score", "AUC", "pr_auc", "true_positives"]
    assert list(logs) == ["loss"] + names + ["val_loss"] + [f"val_{n}" for n in names]
    predicted = FIT_P[:, 0] > 0.5
    expected = {"precision": skm.precision_score(FIT_Y, predicted),
                "rec": skm.recall_score(FIT_Y, predicted),
                "f1_score": skm.f1_score(FIT_Y, predicted),
                "true_positives": np.sum(predicted & (FIT_Y == 1))}
    for name, value in expected.items():
        for key in (name, f"val_{name}"):
            np.testing.assert_allclose(logs[key], [value, value], rtol=1e-4)
    roc = skm.roc_auc_score(FIT_Y, FIT_P[:, 0])
    np.testing.assert_allclose(logs["auc"], [roc, roc], atol=0.01)
    assert logs["AUC"] == logs["auc"]
    np.testing.assert_allclose(logs["pr_auc"][0], skm.average_precision_score(FIT_Y, FIT_P[:, 0]),
                               atol=0.03)


def test_regression_metrics_through_evaluate():
    from sklearn import metrics as skm

    model = _identity_model(2)
    model.compile("sgd", "mse", metrics=["r2_score", "root_mean_squared_error",
                                         lm.metrics.R2Score(class_aggregation=
                                                            "variance_weighted_average",
                                                            name="r2_vw"), "log_cosh_error"])
    logs = model.evaluate(REG_X, REG_Y, batch_size=4, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "r2_score", "root_mean_squared_error", "r2_vw",
                          "log_cosh_error"]
    np.testing.assert_allclose(logs["r2_score"], skm.r2_score(REG_Y, REG_X), rtol=1e-4)
    np.testing.assert_allclose(logs["r2_vw"],
                               skm.r2_score(REG_Y, REG_X, multioutput="variance_weighted"),
                               rtol=1e-4)
    np.testing.assert_allclose(logs["root_mean_squared_error"],
                               np.sqrt(np.mean((REG_X - REG_Y) ** 2)), rtol=1e-5)
    np.testing.assert_allclose(logs["log_cosh_error"],
                               np.mean(np.log(np.cosh(REG_X.astype(np.float64) - REG_Y))),
                               rtol=1e-5)


# -- names, configs and errors ---------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [
    ("auc", M.AUC), ("AUC", M.AUC), ("precision", M.Precision), ("recall", M.Recall),
    ("f1_score", M.F1Score), ("fbeta_score", M.FBetaScore), ("r2_score", M.R2Score),
    ("top_k_categorical_accuracy", M.TopKCategoricalAccuracy), ("binary_io_u", M.BinaryIoU),
    ("root_mean_squared_error", M.RootMeanSquaredError), ("msle", M.MeanSquaredLogarithmicError),
    ("mape", M.MeanAbsolutePercentageError), ("kl_divergence", M.KLDivergence),
    ("squared_hinge", M.SquaredHinge), ("log_cosh_error", M.LogCoshError),
    ("false_negatives", M.FalseNegatives),
])
def test_new_metric_names_log_under_the_name_given(name, cls):
    metric = M.get(name)
    assert type(metric) is cls and metric.name == name


def _instances():
    return [M.Accuracy(), M.BinaryAccuracy(threshold=0.3), M.CategoricalAccuracy(),
            M.SparseCategoricalAccuracy(), M.TopKCategoricalAccuracy(k=3),
            M.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True),
            M.MeanSquaredError(), M.MeanAbsoluteError(), M.MeanAbsolutePercentageError(),
            M.MeanSquaredLogarithmicError(), M.RootMeanSquaredError(),
            M.CosineSimilarity(axis=1), M.LogCoshError(), M.R2Score(None, 2),
            M.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
            M.CategoricalCrossentropy(axis=1), M.SparseCategoricalCrossentropy(ignore_class=0),
            M.KLDivergence(), M.Poisson(), M.Hinge(), M.SquaredHinge(), M.CategoricalHinge(),
            M.TruePositives([0.2, 0.4]), M.FalsePositives(), M.TrueNegatives(0.3),
            M.FalseNegatives(), M.Precision(top_k=2, class_id=1), M.Recall(thresholds=[0.5]),
            M.AUC(curve="PR", summation_method="majoring", thresholds=[0.3, 0.6],
                  multi_label=True, num_labels=2, label_weights=[1, 2], from_logits=True),
            M.PrecisionAtRecall(0.4, num_thresholds=10, class_id=1),
            M.RecallAtPrecision(0.3), M.SensitivityAtSpecificity(0.2),
            M.SpecificityAtSensitivity(0.9), M.F1Score("macro", 0.4),
            M.FBetaScore("weighted", 2.0, None), M.IoU(3, [0, 2], ignore_class=1),
            M.MeanIoU(4, sparse_y_true=False), M.BinaryIoU([1], 0.2), M.OneHotIoU(3, [1]),
            M.OneHotMeanIoU(5, sparse_y_pred=True)]


def test_every_metric_class_round_trips_through_the_saving_registry():
    from lamina.core import registry
    from lamina.saving import compile_config

    instances = _instances()
    assert {type(m) for m in instances} == set(M.CLASSES)
    for metric in instances:
        config = compile_config.to_json(metric)
        assert config["class_name"] == f"metrics.{type(metric).__name__}"
        rebuilt = registry.deserialize(json.loads(json.dumps(config)))
        assert type(rebuilt) is type(metric)
        assert rebuilt.get_config() == metric.get_config(), type(metric).__name__


def test_unknown_metric_name_lists_the_new_names():
    with pytest.raises(lm.ConfigurationError, match="Unknown metric 'aucc'") as info:
        M.get("aucc")
    for name in ["auc", "precision", "recall", "f1_score", "r2_score", "mean_io_u",
                 "top_k_categorical_accuracy", "root_mean_squared_error"]:
        assert name in str(info.value)


@pytest.mark.parametrize("name, needs", [
    ("mean_io_u", "MeanIoU needs num_classes"), ("MeanIoU", "MeanIoU needs num_classes"),
    ("precision_at_recall", "PrecisionAtRecall needs recall"),
    ("io_u", "IoU needs num_classes, target_class_ids"),
])
def test_names_of_metrics_that_need_arguments(name, needs):
    with pytest.raises(lm.ConfigurationError, match=needs + ", which a name cannot give"):
        M.get(name)


@pytest.mark.parametrize("metric", [M.Mean(), M.Sum()])
def test_mean_and_sum_are_not_compile_metrics(metric):
    model = _identity_model(2)
    with pytest.raises(lm.ConfigurationError, match="Mean and Sum track values you pass"):
        model.compile("sgd", "mse", metrics=[metric])
        model.test_on_batch(REG_X, REG_Y)


@pytest.mark.parametrize("make, match", [
    (lambda: M.Precision(thresholds=[0.5, 1.5]),
     r"Precision: thresholds must be floats in \[0, 1\]"),
    (lambda: M.Recall(top_k=0), "Recall: top_k must be an int >= 1 or None, received 0"),
    (lambda: M.Precision(class_id=-1), "class_id must be an int >= 0 or None"),
    (lambda: M.AUC(curve="DET"), "AUC: curve must be 'ROC', 'PR' or 'PRGAIN', received 'DET'"),
    (lambda: M.AUC(num_thresholds=1), "AUC: num_thresholds must be an int > 1, received 1"),
    (lambda: M.AUC(summation_method="simpson"), "AUC: summation_method must be one of"),
    (lambda: M.AUC(thresholds=[0.5, 2.0]), r"AUC: thresholds must be in \[0, 1\]"),
    (lambda: M.AUC(num_labels=3), "num_labels is only used with multi_label=True"),
    (lambda: M.F1Score(average="samples"), "F1Score: average must be one of"),
    (lambda: M.FBetaScore(beta=0.0), "FBetaScore: beta must be a float > 0, received 0.0"),
    (lambda: M.F1Score(threshold=1.5), r"threshold must be None or a float in \(0, 1\]"),
    (lambda: M.R2Score(class_aggregation="median"), "R2Score: class_aggregation must be"),
    (lambda: M.R2Score(num_regressors=-1), "num_regressors must be an int >= 0"),
    (lambda: M.MeanIoU(num_classes=0), "MeanIoU: num_classes must be an int >= 1"),
    (lambda: M.IoU(3, [0, 3]), r"IoU: target_class_ids must be class ids in \[0, 3\)"),
    (lambda: M.TopKCategoricalAccuracy(k=0), "TopKCategoricalAccuracy: k must be an int >= 1"),
    (lambda: M.SensitivityAtSpecificity(1.5), r"specificity must be in \[0, 1\], received 1.5"),
    (lambda: M.PrecisionAtRecall(0.5, num_thresholds=0), "num_thresholds must be an int > 0"),
])
def test_bad_metric_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("update, match", [
    (lambda: M.F1Score().update(M.F1Score().init(), np.ones(4), np.ones(4)),
     (r"F1Score: expected y_true and y_pred of the same shape \(batch, classes\), received "
      r"\(4,\) and \(4,\)")),
    (lambda: M.R2Score().update(M.R2Score().init(), np.ones((2, 3)), np.ones((2, 4))),
     (r"R2Score: expected y_true and y_pred of the same shape \(batch, outputs\), received "
      r"\(2, 3\) and \(2, 4\)")),
    (lambda: M.Recall(class_id=7).update(M.Recall().init(), np.ones((2, 5)), np.ones((2, 5))),
     r"Recall: class_id=7 needs y_pred of shape \(batch, classes\) with more than 7 classes"),
    (lambda: M.AUC(multi_label=True).update(M.AUC(multi_label=True).init(), np.ones(4),
                                            np.ones(4)),
     r"AUC\(multi_label=True\): expected y_pred of shape \(batch, labels\)"),
])
def test_bad_inputs_to_update(update, match):
    with pytest.raises(ValueError, match=match):
        update()
