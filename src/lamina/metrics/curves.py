"""Metrics over many thresholds (Keras 3 names): AUC (ROC, PR, PR-gain) and the
"X at fixed Y" family (SensitivityAtSpecificity, SpecificityAtSensitivity,
PrecisionAtRecall, RecallAtPrecision).

Scores are counted at `num_thresholds` evenly spaced thresholds, so AUC approximates the exact
area (e.g. scikit-learn's `roc_auc_score`) to about 1 / num_thresholds; with the default 200
the ROC AUC of random data is within about 0.01.
"""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses.base import EPSILON
from lamina.metrics.base import Metric, check_size, divide_no_nan
from lamina.metrics.confusion import KEYS, confusion_counts, prepare

_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


def _rate(a, b):
    return divide_no_nan(a, a + b)


class _AtConstraint(Metric):
    """Counts at `num_thresholds` thresholds in [0, 1]; the result is the best `dependent`
    rate among thresholds where the `constrained` rate reaches `value`."""

    def __init__(self, value, what, num_thresholds=200, class_id=None, name=None):
        super().__init__(name)
        owner = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigurationError(f"{owner}: {what} must be in [0, 1], received {value!r}.")
        if not isinstance(num_thresholds, int) or num_thresholds < 1:
            raise ConfigurationError(
                f"{owner}: num_thresholds must be an int > 0, received "
                f"{num_thresholds!r}.")
        setattr(self, what, value)
        self.value, self._what = value, what
        self.num_thresholds, self.class_id = num_thresholds, class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
        else:
            self.thresholds = ([0.0] + [(i + 1) / (num_thresholds - 1)
                                        for i in range(num_thresholds - 2)] + [1.0])

    def init(self):
        return {key: jnp.zeros((len(self.thresholds),), jnp.float32) for key in KEYS.values()}

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        labels, scores, weights = prepare(y_true, y_pred, sample_weight, mask,
                                          class_id=self.class_id, owner=type(self).__name__)
        counts = confusion_counts(labels, scores, weights, self.thresholds)
        return {KEYS[c]: state[KEYS[c]] + counts[c] for c in KEYS}

    def _best(self, constrained, dependent):
        return jnp.max(jnp.where(constrained >= self.value, dependent, 0.0), initial=0.0)

    def _rates(self, state):
        tp, fp = state["true_positives"], state["false_positives"]
        tn, fn = state["true_negatives"], state["false_negatives"]
        return {"sensitivity": _rate(tp, fn), "specificity": _rate(tn, fp),
                "precision": _rate(tp, fp), "recall": _rate(tp, fn)}

    def get_config(self):
        return {**super().get_config(), self._what: self.value,
                "num_thresholds": self.num_thresholds, "class_id": self.class_id}


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) at a specificity >= `specificity`.
    Name: "sensitivity_at_specificity"."""

    name = "sensitivity_at_specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None):
        super().__init__(specificity, "specificity", num_thresholds, class_id, name)

    def result(self, state):
        r = self._rates(state)
        return self._best(r["specificity"], r["sensitivity"])


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity at a sensitivity >= `sensitivity`.
    Name: "specificity_at_sensitivity"."""

    name = "specificity_at_sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None):
        super().__init__(sensitivity, "sensitivity", num_thresholds, class_id, name)

    def result(self, state):
        r = self._rates(state)
        return self._best(r["sensitivity"], r["specificity"])


class PrecisionAtRecall(_AtConstraint):
    """The best precision at a recall >= `recall`. Name: "precision_at_recall"."""

    name = "precision_at_recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None):
        super().__init__(recall, "recall", num_thresholds, class_id, name)

    def result(self, state):
        r = self._rates(state)
        return self._best(r["recall"], r["precision"])


class RecallAtPrecision(_AtConstraint):
    """The best recall at a precision >= `precision`. Name: "recall_at_precision"."""

    name = "recall_at_precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None):
        super().__init__(precision, "precision", num_thresholds, class_id, name)

    def result(self, state):
        r = self._rates(state)
        return self._best(r["precision"], r["recall"])


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at `num_thresholds`
    thresholds (Keras's approximation). Name: "auc".

    Args:
        num_thresholds: number of thresholds, > 1 (default 200), evenly spaced in [0, 1].
        curve: "ROC" (default), "PR" or "PRGAIN".
        summation_method: "interpolation" (default; trapezoids for ROC, Davis & Goadrich's
            interpolation for PR), "minoring" or "majoring" (lower / upper Riemann sums).
        thresholds: explicit thresholds in [0, 1] instead of `num_thresholds`.
        multi_label: one curve per label column (inputs (batch, labels)) averaged, instead of
            one curve over all values flattened.
        num_labels: the number of label columns with `multi_label` (else taken from y_pred).
        label_weights: per-label weights: of the counts, or of the per-label AUCs when
            `multi_label`.
        from_logits: apply a sigmoid to `y_pred` first.
    """

    name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name)
        self.curve = _CURVES.get(str(curve).lower())
        if self.curve is None:
            raise ConfigurationError(
                f"AUC: curve must be 'ROC', 'PR' or 'PRGAIN', received {curve!r}.")
        self.summation_method = str(summation_method).lower()
        if self.summation_method not in _SUMMATIONS:
            raise ConfigurationError(
                f"AUC: summation_method must be one of {_SUMMATIONS}, received "
                f"{summation_method!r}.")
        self._init_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            if any(not 0 <= t <= 1 for t in inner):
                raise ConfigurationError(
                    f"AUC: thresholds must be in [0, 1], received {thresholds!r}.")
        elif not isinstance(num_thresholds, int) or num_thresholds <= 1:
            raise ConfigurationError(
                f"AUC: num_thresholds must be an int > 1, received "
                f"{num_thresholds!r}.")
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = len(inner) + 2
        self.thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        if num_labels is not None and not multi_label:
            raise ConfigurationError("AUC: num_labels is only used with multi_label=True.")
        self.multi_label, self.num_labels = multi_label, num_labels
        self._labels = num_labels
        self.label_weights = None if label_weights is None else [float(w) for w in label_weights]
        self.from_logits = from_logits

    def build(self, y_pred_shape):
        if self.multi_label and self.num_labels is None:
            self._labels = int(y_pred_shape[-1])

    def init(self):
        shape = (self.num_thresholds,)
        if self.multi_label:
            shape += (self._labels or 0,)
        return {key: jnp.zeros(shape, jnp.float32) for key in KEYS.values()}

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        labels, scores, weights = prepare(y_true, y_pred, sample_weight, mask, owner="AUC")
        if self.from_logits:
            scores = jax.nn.sigmoid(scores)
        if self.multi_label:
            if scores.ndim != 2:
                raise InputSpecError(
                    f"AUC(multi_label=True): expected y_pred of shape (batch, "
                    f"labels), received shape {scores.shape}.")
            if check_size(state, "AUC", scores.shape[1], "labels"):
                state = {k: jnp.zeros((self.num_thresholds, scores.shape[1])) for k in state}
        elif self.label_weights is not None:
            lw = jnp.broadcast_to(jnp.asarray(self.label_weights, jnp.float32), scores.shape)
            weights = lw if weights is None else weights * lw
        counts = confusion_counts(labels, scores, weights, self.thresholds, self.multi_label)
        return {KEYS[c]: state[KEYS[c]] + counts[c] for c in KEYS}

    def _aggregate(self, per_threshold):
        by_label = jnp.sum(per_threshold, axis=0)
        if not self.multi_label:
            return by_label
        if self.label_weights is None:
            return jnp.mean(by_label) if by_label.size else jnp.zeros(())
        weights = jnp.asarray(self.label_weights, jnp.float32)
        return divide_no_nan(jnp.sum(by_label * weights), jnp.sum(weights))

    def _interpolated_pr(self, state):
        """Davis & Goadrich (2006): precision interpolated along recall between thresholds."""
        tp, fp, fn = state["true_positives"], state["false_positives"], state["false_negatives"]
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, jnp.maximum(dp, 0.0))
        intercept = tp[1:] - slope * p[1:]
        ratio = jnp.where((p[:-1] > 0) & (p[1:] > 0),
                          divide_no_nan(p[:-1], jnp.maximum(p[1:], 0.0)), 1.0)
        increments = divide_no_nan(slope * (dtp + intercept * jnp.log(ratio)),
                                   jnp.maximum(tp[1:] + fn[1:], 0.0))
        return self._aggregate(increments)

    def _curve(self, state):
        tp, fp = state["true_positives"], state["false_positives"]
        tn, fn = state["true_negatives"], state["false_negatives"]
        recall = _rate(tp, fn)
        if self.curve == "ROC":
            return _rate(fp, tn), recall
        if self.curve == "PR":
            return recall, _rate(tp, fp)
        scale = divide_no_nan(tp + fn, tn + fp)
        recall_gain = jnp.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
        precision_gain = jnp.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
        return jnp.maximum(recall_gain, 0.0), precision_gain

    def result(self, state):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr(state)
        x, y = self._curve(state)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:-1], y[1:])
        else:
            heights = jnp.maximum(y[:-1], y[1:])
        return self._aggregate((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": self.label_weights, "from_logits": self.from_logits}
        if self._init_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
