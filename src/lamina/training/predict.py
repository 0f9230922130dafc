"""Jitted inference: `predict_on_batch` and the batch loop behind `predict`."""
import jax
import numpy as np

from lamina import trainability
from lamina.core import trainability_version
from lamina.distribution import context as distribution_scope
from lamina.distribution.placement import Placement, mixed_devices_error
from lamina.training import step as step_lib
from lamina.training.data.arrays import input_arrays
from lamina.training.data.checks import check_inputs


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


def active_distribution(model):
    """The distribution inference runs with: the one given to compile, else the scope's."""
    trainer = model._trainer
    return distribution_scope.active(trainer.distribution if trainer is not None else None)


def _distributed_fn(model, resolution, distribution):
    """(placement, inference with the distribution's layouts returning numpy outputs)."""
    key = ("distributed", resolution.structure_key, distribution.key)
    found = model._predict_steps.get(key)
    if found is None:
        placement = Placement(distribution, model)
        found = model._predict_steps[key] = (placement, placement.predict_step(
            _predict_fn(model, resolution), [v.uid for v in resolution.variables]))
    return found


def predict_on_batch(model, x):
    """Model outputs for one batch, as numpy arrays (same structure as the outputs)."""
    x = input_arrays(x, model)
    check_inputs(model, x, "predict_on_batch")
    if not model.built:
        model(x, training=False)
    resolution = _resolution(model)
    distribution = active_distribution(model)
    if distribution is None:
        values = {v.uid: v._value for v in resolution.variables}
        try:
            outputs = _predict_fn(model, resolution)(values, x)
        except ValueError as err:  # variables left on different meshes: say so
            error = mixed_devices_error(model.name, resolution.variables)
            if error is None:
                raise
            raise error from err
        return jax.tree_util.tree_map(np.asarray, outputs)
    placement, fn = _distributed_fn(model, resolution, distribution)
    placement.place_variables(resolution.variables)
    return fn({v.uid: v._value for v in resolution.variables}, x)
