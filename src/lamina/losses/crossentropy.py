"""Probabilistic losses (Keras 3 names and formulas): binary, categorical and sparse
cross-entropy, their focal variants, and the Kullback-Leibler divergence.

Probabilities are clipped to `[epsilon, 1 - epsilon]` (categorical ones are first rescaled to
sum to 1); `from_logits=True` uses the stable log-sigmoid / log-softmax forms instead.
`label_smoothing` moves targets towards uniform: `y * (1 - s) + s / 2` for binary targets,
`y * (1 - s) + s / num_classes` for categorical ones.
"""
import jax
import jax.numpy as jnp

from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses.base import (
    EPSILON,
    LossFunctionWrapper,
    as_array,
    check_axis,
    check_probability,
    clip,
    prepare,
)
from lamina.losses.softmax_logits import log_probabilities

_DEFAULT = "sum_over_batch_size"


def _mean_over(x, axis):
    return jnp.mean(x, axis=axis) if x.ndim > 1 else x


def _bce_elements(y_true, y_pred, from_logits):
    if from_logits:
        return -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    p = clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-element binary cross-entropy, averaged over `axis` (one value per sample)."""
    y_true, y_pred = prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return _mean_over(_bce_elements(y_true, y_pred, from_logits), axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by `(1 - p_t) ** gamma` (and by `alpha` for class 1,
    `1 - alpha` for class 0 with `apply_class_balancing`), averaged over `axis`."""
    y_true, y_pred = prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = jax.nn.sigmoid(y_pred)
    bce = _bce_elements(y_true, y_pred, False)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = jnp.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return _mean_over(focal, axis)


def _smooth_categorical(y_true, label_smoothing, axis):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]


def _check_one_hot(given, y_true, y_pred, name):
    """Categorical losses need targets of the prediction's shape (one-hot or soft rows);
    integer labels are refused, as Keras refuses them (checked at trace time). `given`:
    the targets as passed, `y_true` after `prepare`."""
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise InputSpecError(
            f"{name}: expected one-hot (or soft) targets of the prediction's shape "
            f"{tuple(y_pred.shape)}, received targets of shape {tuple(jnp.shape(given))}. For "
            "integer class labels use SparseCategoricalCrossentropy "
            "(loss='sparse_categorical_crossentropy'), or one-hot encode them "
            "(lamina.utils.to_categorical).")


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """`-sum(y_true * log(p), axis)` for one-hot (or soft) targets."""
    given = y_true
    y_true, y_pred = prepare(y_true, y_pred)
    _check_one_hot(given, y_true, y_pred, "categorical_crossentropy")
    y_true = _smooth_categorical(y_true, label_smoothing, axis)
    return -jnp.sum(y_true * log_probabilities(y_pred, from_logits, axis), axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """`-sum(alpha * (1 - p) ** gamma * y_true * log(p), axis)`; `alpha` may be one weight
    per class."""
    given = y_true
    y_true, y_pred = prepare(y_true, y_pred)
    _check_one_hot(given, y_true, y_pred, "categorical_focal_crossentropy")
    y_true = _smooth_categorical(y_true, label_smoothing, axis)
    if from_logits:
        y_pred = jax.nn.softmax(y_pred, axis=axis)
    p = clip(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    weight = jnp.power(1.0 - p, gamma) * jnp.asarray(alpha, p.dtype)
    return jnp.sum(weight * -y_true * jnp.log(p), axis=axis)


def sparse_labels(y_true, y_pred, axis):
    """Integer class labels, one per prediction row; one-hot rows are refused (checked at
    trace time, from static shapes)."""
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = jnp.squeeze(labels, axis)
    expected = tuple(d for i, d in enumerate(y_pred.shape) if i != axis % y_pred.ndim)
    if tuple(labels.shape) != expected:
        one_hot = tuple(labels.shape) == tuple(y_pred.shape)
        raise InputSpecError(
            f"sparse categorical cross-entropy: expected integer class labels of shape "
            f"{expected} (or {expected + (1,)}) for predictions of shape "
            f"{tuple(y_pred.shape)}, received labels of shape {tuple(y_true.shape)}"
            + (": these look like one-hot rows. Use CategoricalCrossentropy "
               "(loss='categorical_crossentropy') for them, or pass np.argmax(y, axis=-1)."
               if one_hot else "."))
    return labels.astype(jnp.int32)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Categorical cross-entropy with integer class labels. Out-of-range labels give 0 (as
    Keras on JAX); entries labelled `ignore_class` give 0 here and are left out of a `Loss`'s
    mean."""
    y_pred = as_array(y_pred)
    labels = sparse_labels(y_true, y_pred, axis)
    if ignore_class is not None:
        labels = jnp.where(labels == ignore_class, 0, labels)
    one_hot = jax.nn.one_hot(labels, y_pred.shape[axis], dtype=y_pred.dtype, axis=axis)
    per = -jnp.sum(one_hot * log_probabilities(y_pred, from_logits, axis), axis=axis)
    if ignore_class is not None:
        per = jnp.where(sparse_labels(y_true, y_pred, axis) == ignore_class, 0.0, per)
    return per


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)` with both clipped to `[epsilon, 1]`."""
    y_true, y_pred = prepare(y_true, y_pred)
    y_true = clip(y_true, EPSILON, 1.0)
    y_pred = clip(y_pred, EPSILON, 1.0)
    per = y_true * jnp.log(y_true / y_pred)
    return jnp.sum(per, axis=-1) if per.ndim > 1 else per


def _check_focal(alpha, gamma, owner):
    if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or gamma < 0:
        raise ConfigurationError(
            f"{owner}: gamma must be a number >= 0, received {gamma!r} "
            f"(of type {type(gamma).__name__}).")
    values = alpha if isinstance(alpha, (list, tuple)) else [alpha]
    if not values or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and a >= 0
                             for a in values):
        raise ConfigurationError(
            f"{owner}: alpha must be a number >= 0 (or one per class), "
            f"received {alpha!r}.")


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for 0/1 targets. Name: "binary_crossentropy" ("bce").

    Args:
        from_logits: `y_pred` are logits rather than probabilities.
        label_smoothing: in [0, 1]; targets become `y * (1 - s) + s / 2`.
        axis: the axis averaged over (default -1).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_DEFAULT,
                 name="binary_crossentropy", dtype=None):
        check_probability(label_smoothing, "label_smoothing", "BinaryCrossentropy")
        super().__init__(binary_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing,
                         axis=check_axis(axis, "BinaryCrossentropy"))


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal binary cross-entropy (Lin et al. 2017): down-weights easy examples.
    Name: "binary_focal_crossentropy".

    Args:
        apply_class_balancing: weight class 1 by `alpha` and class 0 by `1 - alpha`.
        alpha: the class-1 weight, in [0, 1] (default 0.25).
        gamma: the focusing exponent, >= 0 (default 2.0; 0 is plain cross-entropy).
        from_logits, label_smoothing, axis: as BinaryCrossentropy.
    """

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction=_DEFAULT,
                 name="binary_focal_crossentropy", dtype=None):
        owner = "BinaryFocalCrossentropy"
        check_probability(alpha, "alpha", owner)
        check_probability(label_smoothing, "label_smoothing", owner)
        _check_focal(alpha, gamma, owner)
        super().__init__(binary_focal_crossentropy, reduction, name, dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=check_axis(axis, owner))


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot targets. Name: "categorical_crossentropy".

    Args:
        from_logits: `y_pred` are logits rather than probabilities.
        label_smoothing: in [0, 1]; targets become `y * (1 - s) + s / num_classes`.
        axis: the class axis (default -1).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_DEFAULT,
                 name="categorical_crossentropy", dtype=None):
        check_probability(label_smoothing, "label_smoothing", "CategoricalCrossentropy")
        super().__init__(categorical_crossentropy, reduction, name, dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=check_axis(axis, "CategoricalCrossentropy"))


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Focal categorical cross-entropy. Name: "categorical_focal_crossentropy".

    Args:
        alpha: a weight for all classes, or a list with one weight per class (default 0.25).
        gamma: the focusing exponent, >= 0 (default 2.0).
        from_logits, label_smoothing, axis: as CategoricalCrossentropy.
    """

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction=_DEFAULT, name="categorical_focal_crossentropy", dtype=None):
        owner = "CategoricalFocalCrossentropy"
        _check_focal(alpha, gamma, owner)
        check_probability(label_smoothing, "label_smoothing", owner)
        super().__init__(categorical_focal_crossentropy, reduction, name, dtype,
                         alpha=list(alpha) if isinstance(alpha, tuple) else alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=check_axis(axis, owner))


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels. Name: "sparse_categorical_crossentropy".

    Args:
        from_logits: `y_pred` are logits rather than probabilities.
        ignore_class: a label (e.g. -1 or 255 for "void") whose entries are left out: they
            count neither in the sum nor in the number of values averaged.
        axis: the class axis (default -1).
    """

    _int_labels = True
    # options, set as attributes by LossFunctionWrapper
    axis: int
    ignore_class: int | None

    def __init__(self, from_logits=False, ignore_class=None, reduction=_DEFAULT, axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None and (not isinstance(ignore_class, int)
                                         or isinstance(ignore_class, bool)):
            raise ConfigurationError(
                "SparseCategoricalCrossentropy: ignore_class must be an int or "
                f"None, received {ignore_class!r} "
                f"(of type {type(ignore_class).__name__}).")
        super().__init__(sparse_categorical_crossentropy, reduction, name, dtype,
                         from_logits=from_logits, ignore_class=ignore_class,
                         axis=check_axis(axis, "SparseCategoricalCrossentropy"))

    def call_with_mask(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        if self.ignore_class is None:
            return values, None
        return values, sparse_labels(y_true, y_pred, self.axis) != self.ignore_class


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence of `y_pred` from `y_true` (probability distributions).
    Names: "kl_divergence", "kld"."""

    def __init__(self, reduction=_DEFAULT, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction, name, dtype)
