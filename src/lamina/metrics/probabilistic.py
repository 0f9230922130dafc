"""Probabilistic and hinge metrics (Keras 3 names): the weighted means over samples of the
cross-entropy, KL-divergence, Poisson and hinge losses."""
import jax.numpy as jnp

from lamina.losses import crossentropy as ce
from lamina.losses import hinge_losses
from lamina.losses import regression as reg
from lamina.losses.base import match_rank
from lamina.metrics.base import MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy. Name: "binary_crossentropy"."""

    def __init__(self, name="binary_crossentropy", from_logits=False, label_smoothing=0):
        super().__init__(ce.binary_crossentropy, name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy (one-hot targets). Name: "categorical_crossentropy"."""

    def __init__(self, name="categorical_crossentropy", from_logits=False, label_smoothing=0,
                 axis=-1):
        super().__init__(ce.categorical_crossentropy, name, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical cross-entropy (integer labels); entries labelled
    `ignore_class` are left out of the mean. Name: "sparse_categorical_crossentropy"."""

    def __init__(self, name="sparse_categorical_crossentropy", from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(ce.sparse_categorical_crossentropy, name, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        if self.ignore_class is not None:
            labels = ce.sparse_labels(match_rank(jnp.asarray(y_true), y_pred), y_pred, self.axis)
            valid = labels != self.ignore_class
            mask = valid if mask is None else jnp.logical_and(
                match_rank(jnp.asarray(mask, bool), valid), valid)
        return super().update(state, y_true, y_pred, sample_weight, mask)


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence. Name: "kl_divergence"."""

    def __init__(self, name="kl_divergence"):
        super().__init__(ce.kl_divergence, name)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss. Name: "poisson"."""

    def __init__(self, name="poisson"):
        super().__init__(reg.poisson, name)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss. Name: "hinge"."""

    def __init__(self, name="hinge"):
        super().__init__(hinge_losses.hinge, name)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss. Name: "squared_hinge"."""

    def __init__(self, name="squared_hinge"):
        super().__init__(hinge_losses.squared_hinge, name)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss. Name: "categorical_hinge"."""

    def __init__(self, name="categorical_hinge"):
        super().__init__(hinge_losses.categorical_hinge, name)
