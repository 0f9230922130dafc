"""Jitted inference: `predict_on_batch` and the batch loop behind `predict`."""
import jax
import numpy as np

from lamina import trainability
from lamina.core import trainability_version
from lamina.training import step as step_lib
from lamina.training.data import to_arrays


def _resolution(model):
    """The model's resolution, computed again only after a structure or flag change."""
    version = trainability_version.current()
    cached = model._predict_resolution
    if cached is None or cached[0] != version:
        cached = model._predict_resolution = (version, trainability.resolve(model))
    return cached[1]


def _predict_fn(model, resolution):
    """The jitted inference function for the model's current structure."""
    key = resolution.structure_key
    fn = model._predict_steps.get(key)
    if fn is None:
        fn = model._predict_steps[key] = step_lib.make_predict_step(model)
    return fn


def predict_on_batch(model, x):
    """Model outputs for one batch, as numpy arrays (same structure as the outputs)."""
    x = to_arrays(x, model)
    if not model.built:
        model(x, training=False)
    resolution = _resolution(model)
    values = {v.uid: v._value for v in resolution.variables}
    return jax.tree_util.tree_map(np.asarray, _predict_fn(model, resolution)(values, x))
