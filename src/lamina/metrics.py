"""Metrics as pure `init / update / result` functions that run inside the jitted step.

A metric object holds only configuration. Its state is a small pytree (here a running
(total, count) pair) returned by `init()` and threaded through `update(state, y_true,
y_pred, sample_weight)`; `result(state)` gives the value.
"""
import jax.numpy as jnp

from lamina import losses as losses_lib
from lamina.errors import ConfigurationError


class Metric:
    name = "metric"

    def __init__(self, name=None):
        if name is not None:
            self.name = name

    def init(self):
        return (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))

    def result(self, state):
        total, count = state
        return total / jnp.maximum(count, 1.0)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanMetricWrapper(Metric):
    """The weighted mean over samples of `fn(y_true, y_pred) -> per-sample value`."""

    def __init__(self, fn, name):
        super().__init__(name)
        self.fn = fn

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        values = self.fn(losses_lib.match_rank(y_true, y_pred), y_pred).astype(jnp.float32)
        if mask is not None:  # count only the valid entries (padded steps have weight 0)
            mask = losses_lib.match_rank(jnp.asarray(mask, jnp.float32), values)
            if sample_weight is not None:
                mask = mask * losses_lib.match_rank(jnp.asarray(sample_weight, jnp.float32), mask)
            total, count = state
            return (total + jnp.sum(values * mask), count + jnp.sum(mask * jnp.ones_like(values)))
        values = values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values
        weight = (jnp.ones_like(values) if sample_weight is None
                  else losses_lib.match_rank(jnp.asarray(sample_weight, jnp.float32), values))
        total, count = state
        return (total + jnp.sum(values * weight), count + jnp.sum(weight))


class Mean(Metric):
    """The weighted mean of the values it is updated with (used to track the loss)."""

    name = "mean"

    def update(self, state, values, weight=1.0):
        total, count = state
        return (total + jnp.sum(values * weight), count + jnp.sum(weight * jnp.ones_like(values)))


def _accuracy(y_true, y_pred):
    return (y_true.reshape(y_pred.shape) == y_pred).astype(jnp.float32)


def _binary_accuracy(y_true, y_pred, threshold=0.5):
    return (y_true.reshape(y_pred.shape) == (y_pred > threshold)).astype(jnp.float32)


def _categorical_accuracy(y_true, y_pred):
    return (jnp.argmax(y_true, -1) == jnp.argmax(y_pred, -1)).astype(jnp.float32)


def _sparse_categorical_accuracy(y_true, y_pred):
    labels = y_true.astype(jnp.int32)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    return (labels == jnp.argmax(y_pred, -1)).astype(jnp.float32)


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy"):
        super().__init__(_accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(lambda t, p: _binary_accuracy(t, p, threshold), name)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(_categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(_sparse_categorical_accuracy, name)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error"):
        super().__init__(losses_lib.mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(losses_lib.mean_absolute_error, name)


_REGISTRY = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}

# "accuracy" means the accuracy that matches the compiled loss, decided once at compile time
_ACCURACY_FOR_LOSS = {
    losses_lib.SparseCategoricalCrossentropy: SparseCategoricalAccuracy,
    losses_lib.CategoricalCrossentropy: CategoricalAccuracy,
    losses_lib.BinaryCrossentropy: BinaryAccuracy,
}


def get(identifier, loss=None):
    """A `Metric` from a name or an instance. "accuracy"/"acc" follow the output's loss."""
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        cls = _ACCURACY_FOR_LOSS.get(type(loss))
        if cls is None:
            raise ConfigurationError(
                f"metrics=['{identifier}'] is ambiguous for loss "
                f"{type(loss).__name__ if loss is not None else None}: name the accuracy you "
                "mean, e.g. 'sparse_categorical_accuracy', 'categorical_accuracy', "
                "'binary_accuracy', or lamina.metrics.Accuracy() for exact equality."
            )
        return cls(name=identifier if identifier == "accuracy" else "acc")
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier)
        if cls is None:
            valid = sorted(list(_REGISTRY) + ["accuracy", "acc"])
            raise ConfigurationError(
                f"Unknown metric {identifier!r}. Valid names: {', '.join(valid)}."
            )
        return cls(name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier, getattr(identifier, "__name__", "metric"))
    raise ConfigurationError(
        f"Expected a metric name, Metric instance or function, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )
