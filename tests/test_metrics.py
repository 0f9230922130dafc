"""Metrics through compile(metrics=[...]) and evaluate / test_on_batch, against numpy.

The models are identity maps (a Dense with an identity kernel, no bias), so the predictions
are the inputs and every number can be computed by hand.
"""
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
