"""Jitted inference: `predict_on_batch` and the batch loop behind `predict`."""
import jax
import numpy as np

from lamina import trainability
from lamina.core import trainability_version
from lamina.training import step as step_lib
from lamina.training.data import to_arrays


def _predict_fn(model):
    if model._predict_step is None:
        model._predict_step = step_lib.make_predict_step(model)
    return model._predict_step


def _variables(model):
    """The model's variables, looked up again only after a structure or flag change."""
    version = trainability_version.current()
    cached = model._predict_variables
    if cached is None or cached[0] != version:
        cached = model._predict_variables = (version, trainability.resolve(model).variables)
    return cached[1]


def predict_on_batch(model, x):
    """Model outputs for one batch, as numpy arrays (same structure as the outputs)."""
    x = to_arrays(x)
    if not model.built:
        model(x, training=False)
    values = {v.uid: v._value for v in _variables(model)}
    return jax.tree_util.tree_map(np.asarray, _predict_fn(model)(values, x))
