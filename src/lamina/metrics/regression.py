"""Regression metrics (Keras 3 names): error means, RMSE, cosine similarity, log-cosh, and R2.

The error metrics are weighted means over samples of the matching loss functions; R2Score
accumulates sums (of targets, squared targets and squared residuals) per output column.
"""
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses import regression as reg
from lamina.losses.base import match_rank
from lamina.metrics.base import (
    Mean,
    MeanMetricWrapper,
    Metric,
    as_float,
    broadcast_weights,
    check_size,
    divide_no_nan,
)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of squared errors. Names: "mean_squared_error", "mse"."""

    def __init__(self, name="mean_squared_error"):
        super().__init__(reg.mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of absolute errors. Names: "mean_absolute_error", "mae"."""

    def __init__(self, name="mean_absolute_error"):
        super().__init__(reg.mean_absolute_error, name)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error. Names: "mean_absolute_percentage_error", "mape"."""

    def __init__(self, name="mean_absolute_percentage_error"):
        super().__init__(reg.mean_absolute_percentage_error, name)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean squared logarithmic error. Names: "mean_squared_logarithmic_error", "msle"."""

    def __init__(self, name="mean_squared_logarithmic_error"):
        super().__init__(reg.mean_squared_logarithmic_error, name)


def cosine_similarity(y_true, y_pred, axis=-1):
    """`sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)` (the loss is its negative)."""
    return -reg.cosine_similarity(y_true, y_pred, axis)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between targets and predictions along `axis`.
    Name: "cosine_similarity"."""

    def __init__(self, name="cosine_similarity", axis=-1):
        super().__init__(cosine_similarity, name, axis=axis)


class LogCoshError(MeanMetricWrapper):
    """Mean log-cosh of the error. Name: "log_cosh_error" (logged as "logcosh" by default)."""

    def __init__(self, name="logcosh"):
        super().__init__(reg.log_cosh, name)


class RootMeanSquaredError(Mean):
    """Square root of the weighted mean of squared errors (over every element).
    Name: "root_mean_squared_error"."""

    def __init__(self, name="root_mean_squared_error"):
        super().__init__(name)

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = as_float(y_pred)
        y_true = match_rank(as_float(y_true), y_pred)
        if mask is not None:
            sample_weight = broadcast_weights(sample_weight, mask, mask.shape)
        return super().update(state, jnp.square(y_pred - y_true), sample_weight)

    def result(self, state):
        return jnp.sqrt(super().result(state))


_R2_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")
_R2_STATE = ("sum", "squared_sum", "residual", "count")


class R2Score(Metric):
    """The coefficient of determination, 1 - residual / total sum of squares, per output
    column then aggregated. Inputs are (batch, outputs); (batch,) targets are one column, and
    in (batch, steps, outputs) every step counts as a sample.

    Args:
        class_aggregation: "uniform_average" (default: the mean over columns),
            "variance_weighted_average" (weighted by each column's variance) or None (one
            score per column: the result is an array).
        num_regressors: > 0 gives the adjusted R2 for that many independent variables
            (with n the number of values seen, batch x outputs, as Keras counts it).
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score"):
        super().__init__(name)
        if class_aggregation not in _R2_AGGREGATIONS:
            raise ConfigurationError(
                f"R2Score: class_aggregation must be one of {_R2_AGGREGATIONS}, "
                f"received {class_aggregation!r}.")
        if not isinstance(num_regressors, int) or num_regressors < 0:
            raise ConfigurationError(
                f"R2Score: num_regressors must be an int >= 0, received "
                f"{num_regressors!r}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self._columns = None

    def build(self, y_pred_shape):
        self._columns = int(y_pred_shape[-1]) if len(y_pred_shape) > 1 else 1

    def init(self):
        state = {name: jnp.zeros((self._columns or 0,), jnp.float32) for name in _R2_STATE}
        return {**state, "num_samples": jnp.zeros((), jnp.float32)}

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = as_float(y_pred)
        y_true = match_rank(as_float(y_true), y_pred)
        if y_pred.ndim == 0 or y_true.shape != y_pred.shape:
            raise InputSpecError(
                f"R2Score: expected y_true and y_pred of the same shape (batch, "
                f"outputs), received {y_true.shape} and {y_pred.shape}.")
        weights = broadcast_weights(sample_weight, mask, y_pred.shape)
        weights = jnp.ones_like(y_pred) if weights is None else weights
        if y_pred.ndim == 1:
            y_true, y_pred, weights = y_true[:, None], y_pred[:, None], weights[:, None]
        columns = y_pred.shape[-1]  # (batch, steps, outputs): every step is a sample
        y_true, y_pred, weights = (a.reshape(-1, columns) for a in (y_true, y_pred, weights))
        if check_size({k: state[k] for k in _R2_STATE}, "R2Score", columns, "columns"):
            state = {**state, **{k: jnp.zeros((columns,)) for k in _R2_STATE}}
        weighted = y_true * weights
        return {"sum": state["sum"] + jnp.sum(weighted, 0),
                "squared_sum": state["squared_sum"] + jnp.sum(y_true * weighted, 0),
                "residual": state["residual"] + jnp.sum(jnp.square(y_true - y_pred) * weights, 0),
                "count": state["count"] + jnp.sum(weights, 0),
                "num_samples": state["num_samples"] + y_true.size}

    def result(self, state):
        mean = divide_no_nan(state["sum"], state["count"])
        total = state["squared_sum"] - state["sum"] * mean
        # a constant column scores 1 if it is predicted exactly, else 0 (as scikit-learn)
        raw = jnp.where(total == 0, jnp.where(state["residual"] == 0, 1.0, 0.0),
                        1.0 - divide_no_nan(state["residual"], total))
        if self.class_aggregation == "uniform_average":
            score = jnp.mean(raw) if raw.size else jnp.zeros(())
        elif self.class_aggregation == "variance_weighted_average":
            score = divide_no_nan(jnp.sum(total * raw), jnp.sum(total))
        else:
            score = raw
        if self.num_regressors:
            # adjusted R2; with too few samples it stays the plain R2 (Keras warns there)
            n, p = state["num_samples"], float(self.num_regressors)
            adjusted = 1.0 - (1.0 - score) * (n - 1.0) / jnp.maximum(n - p - 1.0, 1.0)
            score = jnp.where(n - p - 1.0 > 0, adjusted, score)
        return score

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
