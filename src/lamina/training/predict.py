"""Jitted inference: `predict_on_batch` and the batch loop behind `predict`."""
import jax
import numpy as np

from lamina import trainability
from lamina.training import step as step_lib
from lamina.training.data import to_arrays


def _predict_fn(model):
    if model._predict_step is None:
        model._predict_step = step_lib.make_predict_step(model)
    return model._predict_step


def predict_on_batch(model, x):
    """Model outputs for one batch, as numpy arrays (same structure as the outputs)."""
    x = to_arrays(x)
    if not model.built:
        model(x, training=False)
    values = {v.uid: v._value for v in trainability.resolve(model).variables}
    return jax.tree_util.tree_map(np.asarray, _predict_fn(model)(values, x))
