"""Metrics over several random batches, with random sample weights, against scikit-learn and
against keras.metrics (JAX backend; those tests skip only if keras cannot be imported).

Every lamina update and result runs under `jax.jit`. Tolerances:
- exact quantities (precision, recall, counts, F-scores, R2, top-k, IoU): rtol 1e-4 against
  scikit-learn (float32 accumulation against float64; Keras's 1e-7 epsilon terms);
- AUC is Keras's approximation from counts at 200 evenly spaced thresholds: ROC AUC within
  0.01 (absolute) of `roc_auc_score`, PR AUC (Davis & Goadrich interpolation) within 0.03 of
  `average_precision_score` (a step-wise sum); both equal a float64 numpy implementation of
  the thresholded formulas to 1e-5;
- against Keras: rtol 1e-5 (the same float32 formulas).
"""
import functools
import os
import warnings

import jax
import numpy as np
import pytest
from sklearn import metrics as skm

import lamina as lm

try:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
except ImportError:  # keras is an optional test dependency
    keras = None
needs_keras = pytest.mark.skipif(keras is None, reason="keras cannot be imported")

M = lm.metrics
BATCHES, SIZE, C = 3, 48, 5
_r = np.random.default_rng(7)


def _weights():
    w = _r.uniform(0.0, 2.0, size=SIZE).astype(np.float32)
    w[_r.uniform(size=SIZE) < 0.1] = 0.0
    return w


def multiclass(targets):
    return list(zip(targets, PROBS, CLASS_W, strict=True))


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


# binary: labels (SIZE,), scores in [0, 1] correlated with the labels
BINARY = []
for _ in range(BATCHES):
    y = _r.integers(0, 2, size=SIZE).astype(np.float32)
    BINARY.append((y, np.clip(0.3 * y + _r.uniform(0, 0.7, SIZE), 0, 1).astype(np.float32),
                   _weights()))
# multi-label: 0/1 targets (SIZE, C) and scores
MULTI = []
for _ in range(BATCHES):
    y = _r.integers(0, 2, size=(SIZE, C)).astype(np.float32)
    MULTI.append((y, np.clip(0.25 * y + _r.uniform(0, 0.75, (SIZE, C)), 0, 1).astype(np.float32),
                  _weights()))
# multi-class: integer labels, one-hot targets and softmax scores
LABELS, ONEHOT, PROBS, CLASS_W = [], [], [], []
for _ in range(BATCHES):
    labels = _r.integers(0, C, size=SIZE)
    LABELS.append(labels.astype(np.int32))
    ONEHOT.append(np.eye(C, dtype=np.float32)[labels])
    PROBS.append(_softmax(_r.normal(size=(SIZE, C)) + 1.5 * np.eye(C)[labels]))
    CLASS_W.append(_weights())
# regression: (SIZE, 3) targets and predictions
REGRESSION = []
for _ in range(BATCHES):
    y = _r.normal(size=(SIZE, 3)).astype(np.float32) * [1.0, 2.0, 0.5]
    REGRESSION.append((y.astype(np.float32),
                       (y + _r.normal(size=(SIZE, 3)) * 0.7).astype(np.float32), _weights()))


DATA = {"binary": BINARY, "multi": MULTI, "labels": multiclass(LABELS),
        "onehot": multiclass(ONEHOT), "regression": REGRESSION}


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


@functools.cache
def _ours(name, data, items):
    metric = getattr(M, name)(**dict(items))
    state = metric.init()
    update = jax.jit(metric.update)
    for y_true, y_pred, w in DATA[data]:
        state = update(state, y_true, y_pred, w)
    return np.asarray(metric.result(state))


def ours(name, data, **kwargs):
    """lamina's result after one jitted update per batch (computed once per configuration,
    shared by the scikit-learn and the Keras comparisons)."""
    return _ours(name, data, tuple(sorted((k, _hashable(v)) for k, v in kwargs.items())))


def theirs(name, data, **kwargs):
    """keras.metrics' result after `update_state` per batch."""
    metric = getattr(keras.metrics, name)(**kwargs)
    with warnings.catch_warnings():
        # Keras's IoU asks JAX for int64 confusion-matrix indices (a UserWarning without x64)
        warnings.filterwarnings("ignore", message="Explicitly requested dtype int64")
        for y_true, y_pred, w in DATA[data]:
            metric.update_state(y_true, y_pred, sample_weight=w)
        return np.asarray(metric.result())


def cat(data):
    return [np.concatenate(parts) for parts in zip(*DATA[data], strict=True)]


# -- precision, recall and the confusion counts ---------------------------------------------
@pytest.mark.parametrize("name, score", [("Precision", skm.precision_score),
                                         ("Recall", skm.recall_score)])
def test_precision_recall_binary(name, score):
    y, p, w = cat("binary")
    np.testing.assert_allclose(ours(name, "binary"), score(y, p > 0.5, sample_weight=w),
                               rtol=1e-4)
    thresholds = [0.2, 0.5, 0.75]
    np.testing.assert_allclose(ours(name, "binary", thresholds=thresholds),
                               [score(y, p > t, sample_weight=w) for t in thresholds], rtol=1e-4)


@pytest.mark.parametrize("name, score", [("Precision", skm.precision_score),
                                         ("Recall", skm.recall_score)])
def test_precision_recall_class_id_and_top_k(name, score):
    y, p, w = cat("multi")
    np.testing.assert_allclose(ours(name, "multi", class_id=2),
                               score(y[:, 2], p[:, 2] > 0.5, sample_weight=w), rtol=1e-4)
    top2 = np.zeros_like(p)
    np.put_along_axis(top2, np.argsort(-p, axis=1)[:, :2], 1.0, axis=1)
    np.testing.assert_allclose(ours(name, "multi", top_k=2),
                               score(y.ravel(), top2.ravel(), sample_weight=np.repeat(w, C)),
                               rtol=1e-4)


COUNTS = ("TrueNegatives", "FalsePositives", "FalseNegatives", "TruePositives")
EVEN = [0.0, 0.25, 0.5, 0.75, 1.0]  # evenly spaced: counted with buckets, as Keras does


def test_confusion_counts_against_sklearn_confusion_matrix():
    y, p, w = cat("binary")
    for i, t in enumerate(EVEN):
        expected = skm.confusion_matrix(y, p > t, labels=[0, 1], sample_weight=w).ravel()
        np.testing.assert_allclose([ours(name, "binary", thresholds=EVEN)[i] for name in COUNTS],
                                   expected, rtol=1e-4, atol=1e-4)
    tp_at_half = ours("TruePositives", "binary")  # one threshold: a scalar
    assert tp_at_half.shape == ()
    np.testing.assert_allclose(tp_at_half, ours("TruePositives", "binary", thresholds=EVEN)[2],
                               rtol=1e-5)


@needs_keras
@pytest.mark.parametrize("name, kwargs, data", [
    ("Precision", {}, "binary"), ("Recall", {"thresholds": [0.2, 0.5, 0.75]}, "binary"),
    ("Precision", {"top_k": 2}, "multi"), ("Recall", {"class_id": 2}, "multi"),
    ("Recall", {"top_k": 3, "class_id": 1}, "multi"),
] + [(name, {"thresholds": EVEN}, "binary") for name in COUNTS] + [
    ("TruePositives", {}, "binary"), ("FalseNegatives", {"thresholds": [0.2, 0.8]}, "multi"),
])
def test_confusion_metrics_equal_keras(name, kwargs, data):
    np.testing.assert_allclose(ours(name, data, **kwargs), theirs(name, data, **kwargs),
                               rtol=1e-5)


# -- AUC -------------------------------------------------------------------------------------
def np_counts(y, p, w, thresholds):
    """Weighted (tp, fp, tn, fn) at each threshold, one loop per threshold (float64)."""
    rows = []
    for t in thresholds:
        pos = p.astype(np.float64) > t
        rows.append([np.sum(w * (y == 1) * pos), np.sum(w * (y == 0) * pos),
                     np.sum(w * (y == 0) * ~pos), np.sum(w * (y == 1) * ~pos)])
    return np.array(rows).T


def np_rate(a, b):
    return np.divide(a, a + b, out=np.zeros_like(a), where=(a + b) > 0)


def np_auc(y, p, w, curve="ROC", summation="interpolation", n=200):
    eps = 1e-7
    thresholds = [-eps] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + eps]
    tp, fp, tn, fn = np_counts(y, p, w, thresholds)
    if curve == "PR" and summation == "interpolation":
        total = 0.0
        for i in range(n - 1):  # precision interpolated linearly in tp along the positives
            p0, p1 = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            dtp, dp = tp[i] - tp[i + 1], p0 - p1
            if dp <= 0 or tp[i + 1] + fn[i + 1] <= 0:
                continue
            slope = dtp / dp
            intercept = tp[i + 1] - slope * p1
            log_ratio = np.log(p0 / p1) if p0 > 0 and p1 > 0 else 0.0
            total += slope * (dtp + intercept * log_ratio) / (tp[i + 1] + fn[i + 1])
        return total
    if curve == "ROC":
        x, h = np_rate(fp, tn), np_rate(tp, fn)
    else:
        x, h = np_rate(tp, fn), np_rate(tp, fp)
    pair = {"interpolation": (h[:-1] + h[1:]) / 2, "minoring": np.minimum(h[:-1], h[1:]),
            "majoring": np.maximum(h[:-1], h[1:])}[summation]
    return np.sum((x[:-1] - x[1:]) * pair)


def test_roc_auc_against_sklearn_and_the_thresholded_formula():
    y, p, w = cat("binary")
    np.testing.assert_allclose(ours("AUC", "binary"), np_auc(y, p, w), rtol=1e-5)
    np.testing.assert_allclose(ours("AUC", "binary"), skm.roc_auc_score(y, p, sample_weight=w),
                               atol=0.01)


def test_pr_auc_against_average_precision_and_the_interpolated_formula():
    y, p, w = cat("binary")
    value = ours("AUC", "binary", curve="PR")
    np.testing.assert_allclose(value, np_auc(y, p, w, "PR"), rtol=1e-5)
    np.testing.assert_allclose(value, skm.average_precision_score(y, p, sample_weight=w),
                               atol=0.03)


@pytest.mark.parametrize("curve, summation", [("ROC", "minoring"), ("PR", "majoring")])
def test_auc_riemann_sums(curve, summation):
    y, p, w = cat("binary")
    value = ours("AUC", "binary", curve=curve, summation_method=summation, num_thresholds=50)
    np.testing.assert_allclose(value, np_auc(y, p, w, curve, summation, 50), rtol=1e-5)


def test_auc_multi_label_and_from_logits_against_sklearn():
    y, p, w = cat("multi")
    np.testing.assert_allclose(ours("AUC", "multi", multi_label=True),
                               skm.roc_auc_score(y, p, average="macro", sample_weight=w),
                               atol=0.01)
    # the sigmoid is monotonic, so the exact ROC AUC of logits is that of probabilities
    np.testing.assert_allclose(ours("AUC", "logits", from_logits=True),
                               skm.roc_auc_score(y.ravel(), p.ravel(),
                                                 sample_weight=np.repeat(w, C)), atol=0.01)


DATA["logits"] = [(y, np.log(p + 1e-3) - np.log(1.001 - p), w) for y, p, w in MULTI]


@needs_keras
@pytest.mark.parametrize("kwargs, data", [
    ({}, "binary"), ({"curve": "PR"}, "binary"), ({"curve": "PRGAIN"}, "binary"),
    ({"curve": "ROC", "summation_method": "minoring", "num_thresholds": 50}, "binary"),
    ({"curve": "PR", "summation_method": "majoring", "num_thresholds": 50}, "binary"),
    ({"thresholds": [0.1, 0.3, 0.5, 0.9]}, "binary"), ({"from_logits": True}, "logits"),
    ({"label_weights": [1.0, 0.5, 2.0, 0.0, 1.0]}, "multi"),
    ({"multi_label": True}, "multi"),
    ({"multi_label": True, "num_labels": C, "curve": "PR",
      "label_weights": [1.0, 0.5, 2.0, 0.0, 1.0]}, "multi"),
])
def test_auc_equals_keras(kwargs, data):
    np.testing.assert_allclose(ours("AUC", data, **kwargs), theirs("AUC", data, **kwargs),
                               rtol=1e-5)


# -- the "X at fixed Y" family ---------------------------------------------------------------
# (metric, its argument, the rate maximised, the rate constrained)
AT = [("SensitivityAtSpecificity", {"specificity": 0.6}, "sensitivity", "specificity"),
      ("SpecificityAtSensitivity", {"sensitivity": 0.8}, "specificity", "sensitivity"),
      ("PrecisionAtRecall", {"recall": 0.7}, "precision", "sensitivity"),
      ("RecallAtPrecision", {"precision": 0.6}, "sensitivity", "precision")]


@pytest.mark.parametrize("name, kwargs, dependent, constrained", AT)
def test_at_constraint_metrics_against_the_thresholded_rates(name, kwargs, dependent,
                                                             constrained):
    y, p, w = cat("binary")
    n = 200
    tp, fp, tn, fn = np_counts(y, p, w, [0.0] + [(i + 1) / (n - 1) for i in range(n - 2)]
                               + [1.0])
    rates = {"sensitivity": np_rate(tp, fn), "specificity": np_rate(tn, fp),
             "precision": np_rate(tp, fp)}
    value = next(iter(kwargs.values()))
    expected = max(d for d, c in zip(rates[dependent], rates[constrained], strict=True)
                   if c >= value)
    np.testing.assert_allclose(ours(name, "binary", **kwargs), expected, rtol=1e-5)


@needs_keras
@pytest.mark.parametrize("name, kwargs, dependent, constrained", AT)
def test_at_constraint_metrics_equal_keras(name, kwargs, dependent, constrained):
    np.testing.assert_allclose(ours(name, "binary", **kwargs), theirs(name, "binary", **kwargs),
                               rtol=1e-5)
    per_class = {**kwargs, "class_id": 3, "num_thresholds": 20}
    np.testing.assert_allclose(ours(name, "multi", **per_class),
                               theirs(name, "multi", **per_class), rtol=1e-5)


# -- F-scores --------------------------------------------------------------------------------
AVERAGES = [None, "micro", "macro", "weighted"]


@pytest.mark.parametrize("average", AVERAGES)
def test_f1_and_fbeta_against_sklearn(average):
    y, p, w = cat("multi")
    argmax = np.eye(C)[p.argmax(1)]
    np.testing.assert_allclose(
        ours("F1Score", "multi", average=average),
        skm.f1_score(y, argmax, average=average, sample_weight=w, zero_division=0), rtol=1e-4)
    np.testing.assert_allclose(
        ours("FBetaScore", "multi", average=average, beta=2.0, threshold=0.55),
        skm.fbeta_score(y, p > 0.55, beta=2.0, average=average, sample_weight=w,
                        zero_division=0), rtol=1e-4)


@needs_keras
@pytest.mark.parametrize("average", AVERAGES)
def test_f_scores_equal_keras(average):
    np.testing.assert_allclose(ours("F1Score", "multi", average=average),
                               theirs("F1Score", "multi", average=average), rtol=1e-5)
    fbeta = {"average": average, "beta": 2.0, "threshold": 0.55}
    np.testing.assert_allclose(ours("FBetaScore", "multi", **fbeta),
                               theirs("FBetaScore", "multi", **fbeta), rtol=1e-5)


# -- R2 --------------------------------------------------------------------------------------
R2 = [("uniform_average", "uniform_average"), ("variance_weighted_average", "variance_weighted"),
      (None, "raw_values")]


@pytest.mark.parametrize("aggregation, multioutput", R2)
def test_r2_against_sklearn(aggregation, multioutput):
    y, p, w = cat("regression")
    np.testing.assert_allclose(ours("R2Score", "regression", class_aggregation=aggregation),
                               skm.r2_score(y, p, sample_weight=w, multioutput=multioutput),
                               rtol=1e-4)


DATA["column"] = [(y[:, 0], p[:, :1], w) for y, p, w in REGRESSION]


def test_adjusted_r2_and_one_column_targets():
    y, p, w = cat("regression")
    r2 = skm.r2_score(y, p, sample_weight=w)
    n = y.size  # Keras counts values (batch x outputs) in the adjustment
    np.testing.assert_allclose(ours("R2Score", "regression", num_regressors=4),
                               1 - (1 - r2) * (n - 1) / (n - 4 - 1), rtol=1e-4)
    np.testing.assert_allclose(ours("R2Score", "column"),
                               skm.r2_score(y[:, 0], p[:, 0], sample_weight=w), rtol=1e-4)


@needs_keras
@pytest.mark.parametrize("kwargs", [{"class_aggregation": a} for a, _ in R2]
                         + [{"num_regressors": 4}])
def test_r2_equals_keras(kwargs):
    np.testing.assert_allclose(ours("R2Score", "regression", **kwargs),
                               theirs("R2Score", "regression", **kwargs), rtol=1e-5)


# -- top-k and plain accuracies --------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3])
def test_top_k_accuracies_against_sklearn(k):
    labels, probs, w = cat("labels")
    expected = skm.top_k_accuracy_score(labels, probs, k=k, labels=range(C), sample_weight=w)
    np.testing.assert_allclose(ours("SparseTopKCategoricalAccuracy", "labels", k=k), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(ours("TopKCategoricalAccuracy", "onehot", k=k), expected,
                               rtol=1e-5)


DATA["sorted_ids"] = [(lab, np.argsort(-pr, axis=1).astype(np.float32), wt)
                      for lab, pr, wt in DATA["labels"]]


def test_sparse_top_k_from_sorted_ids():
    labels, probs, w = cat("labels")
    expected = skm.top_k_accuracy_score(labels, probs, k=3, labels=range(C), sample_weight=w)
    np.testing.assert_allclose(
        ours("SparseTopKCategoricalAccuracy", "sorted_ids", k=3, from_sorted_ids=True), expected,
        rtol=1e-5)


def test_categorical_accuracies_against_sklearn():
    labels, probs, w = cat("labels")
    expected = skm.accuracy_score(labels, probs.argmax(1), sample_weight=w)
    np.testing.assert_allclose(ours("SparseCategoricalAccuracy", "labels"), expected, rtol=1e-5)
    np.testing.assert_allclose(ours("CategoricalAccuracy", "onehot"), expected, rtol=1e-5)


@needs_keras
@pytest.mark.parametrize("name, kwargs, data", [
    ("TopKCategoricalAccuracy", {"k": 3}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "labels"),
    ("SparseTopKCategoricalAccuracy", {"k": 3, "from_sorted_ids": True}, "sorted_ids"),
])
def test_top_k_accuracies_equal_keras(name, kwargs, data):
    np.testing.assert_allclose(ours(name, data, **kwargs), theirs(name, data, **kwargs),
                               rtol=1e-5)


# -- IoU -------------------------------------------------------------------------------------
def _np_iou(labels, predicted, w, keep=None):
    keep = np.ones(len(labels), bool) if keep is None else keep
    cm = skm.confusion_matrix(labels[keep], predicted[keep], labels=range(C),
                              sample_weight=w[keep])
    return np.diag(cm) / (cm.sum(0) + cm.sum(1) - np.diag(cm))


def test_mean_iou_against_jaccard_and_the_confusion_matrix():
    labels, probs, w = cat("labels")
    predicted = probs.argmax(1)
    jaccard = skm.jaccard_score(labels, predicted, average=None, labels=range(C),
                                sample_weight=w)
    np.testing.assert_allclose(ours("MeanIoU", "labels", num_classes=C, sparse_y_pred=False),
                               np.mean(jaccard), rtol=1e-4)
    iou = _np_iou(labels, predicted, w)
    np.testing.assert_allclose(ours("OneHotMeanIoU", "onehot", num_classes=C), np.mean(iou),
                               rtol=1e-4)
    np.testing.assert_allclose(ours("IoU", "labels", num_classes=C, target_class_ids=[1, 3],
                                    sparse_y_pred=False), np.mean(iou[[1, 3]]), rtol=1e-4)


def test_iou_ignore_class_and_binary_iou():
    labels, probs, w = cat("labels")
    iou = _np_iou(labels, probs.argmax(1), w, keep=labels != 0)
    # class 0 is still predicted, so its IoU (0) stays in the mean
    np.testing.assert_allclose(
        ours("MeanIoU", "labels", num_classes=C, ignore_class=0, sparse_y_pred=False),
        np.mean(iou), rtol=1e-4)
    y, p, w = cat("binary")
    expected = [skm.jaccard_score(y, p >= 0.5, pos_label=c, sample_weight=w) for c in (0, 1)]
    np.testing.assert_allclose(ours("BinaryIoU", "binary"), np.mean(expected), rtol=1e-4)
    np.testing.assert_allclose(ours("BinaryIoU", "binary", target_class_ids=[1], threshold=0.7),
                               skm.jaccard_score(y, p >= 0.7, sample_weight=w), rtol=1e-4)


@needs_keras
@pytest.mark.parametrize("name, kwargs, data", [
    ("MeanIoU", {"num_classes": C, "sparse_y_pred": False}, "labels"),
    ("IoU", {"num_classes": C, "target_class_ids": [1, 3], "sparse_y_pred": False}, "labels"),
    ("MeanIoU", {"num_classes": C, "ignore_class": 0, "sparse_y_pred": False}, "labels"),
    ("OneHotMeanIoU", {"num_classes": C}, "onehot"),
    ("BinaryIoU", {}, "binary"),
])
def test_iou_family_equals_keras_with_float_weights(name, kwargs, data):
    """Keras defaults to an integer confusion matrix; dtype='float32' keeps the weights."""
    np.testing.assert_allclose(ours(name, data, **kwargs),
                               theirs(name, data, dtype="float32", **kwargs), rtol=1e-5)
