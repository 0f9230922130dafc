"""Losses with Keras names: per-sample functions plus a weighted mean over the batch.

A loss object is called as `loss(y_true, y_pred, sample_weight=None, mask=None)` and returns
the "sum over batch size" reduction Keras uses: `sum(per_sample * weight) / batch_size`. A mask
(the model output's mask, e.g. padded time steps) averages over the valid entries only, as
Keras 3 does.
"""
import jax
import jax.numpy as jnp
import optax

from lamina.errors import ConfigurationError

EPSILON = 1e-7


def match_rank(a, b):
    """`a` squeezed or expanded by one trailing axis of size 1 to the rank of `b` (Keras)."""
    if a.ndim == b.ndim - 1 and b.shape[-1] == 1:
        return a[..., None]
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return a[..., 0]
    if a.ndim < b.ndim:  # weights (batch,) against per-sample values (batch, steps)
        return a.reshape(a.shape + (1,) * (b.ndim - a.ndim))
    return a


def _reduce_last(x):
    return jnp.mean(x, axis=-1) if x.ndim > 1 else x


def mean_squared_error(y_true, y_pred):
    return _reduce_last(jnp.square(y_pred - y_true))


def mean_absolute_error(y_true, y_pred):
    return _reduce_last(jnp.abs(y_pred - y_true))


def binary_crossentropy(y_true, y_pred, from_logits=False):
    if from_logits:
        per = optax.sigmoid_binary_cross_entropy(y_pred, y_true)
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return _reduce_last(per)


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    if from_logits:
        log_p = jax.nn.log_softmax(y_pred, axis=axis)
    else:
        p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
        log_p = jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))
    return -jnp.sum(y_true * log_p, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    labels = y_true.astype(jnp.int32)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    if from_logits:
        log_p = jax.nn.log_softmax(y_pred, axis=-1)
    else:
        p = y_pred / jnp.sum(y_pred, axis=-1, keepdims=True)
        log_p = jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))
    return -jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]


def mask_weights(mask, sample_weight, per_sample):
    """Sample weights that give valid entries `total / valid` and masked ones 0, so the
    sum-over-batch-size mean becomes the mean over valid entries (Keras's `apply_mask`)."""
    mask = match_rank(jnp.asarray(mask, per_sample.dtype), per_sample)
    valid = jnp.sum(mask)
    weights = mask * jnp.where(valid > 0, mask.size / jnp.maximum(valid, 1.0), 0.0)
    if sample_weight is not None:
        weights = weights * match_rank(jnp.asarray(sample_weight, per_sample.dtype), weights)
    return weights


class Loss:
    """Base class: subclasses define `call(y_true, y_pred) -> per-sample loss`."""

    name = "loss"

    def __init__(self, name=None):
        if name is not None:
            self.name = name

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = jnp.asarray(y_pred)
        y_true = jnp.asarray(y_true, dtype=y_pred.dtype if not self._int_labels else None)
        if not self._int_labels:
            y_true = match_rank(y_true, y_pred)
        per_sample = self.call(y_true, y_pred)
        if mask is not None:
            sample_weight = mask_weights(mask, sample_weight, per_sample)
        if sample_weight is not None:
            sample_weight = match_rank(jnp.asarray(sample_weight, per_sample.dtype), per_sample)
            per_sample = per_sample * sample_weight
        return jnp.sum(per_sample) / per_sample.size

    _int_labels = False

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class _FromLogits(Loss):
    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = from_logits

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class BinaryCrossentropy(_FromLogits):
    name = "binary_crossentropy"

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits)


class CategoricalCrossentropy(_FromLogits):
    name = "categorical_crossentropy"

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits)


class SparseCategoricalCrossentropy(_FromLogits):
    name = "sparse_categorical_crossentropy"
    _int_labels = True

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)


class _Function(Loss):
    """Wraps a user function `fn(y_true, y_pred) -> per-sample loss`."""

    def __init__(self, fn):
        super().__init__(getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


_REGISTRY = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier):
    """A `Loss` from a name, an instance or a function `(y_true, y_pred) -> per-sample loss`."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier)
        if cls is None:
            raise ConfigurationError(
                f"Unknown loss {identifier!r}. Valid names: {', '.join(sorted(_REGISTRY))}."
            )
        return cls()
    if callable(identifier):
        return _Function(identifier)
    raise ConfigurationError(
        f"Expected a loss name, Loss instance or function, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )
