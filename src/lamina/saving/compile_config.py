"""compile() arguments <-> JSON: strings stay strings, objects and functions go by registry.

Loading is bounded (`core/allocation.py`): the arguments that size what a metric allocates
(`_SIZING`) are checked against the state budget before any object is built, and every
metric's state, sized with `jax.eval_shape` (nothing allocated), before `compile`.
"""
import math

import jax

from lamina import losses, metrics, optimizers
from lamina.core import allocation, registry
from lamina.errors import SavingError

# registered under "<module>.<Class>" (a loss and a metric share the name MeanSquaredError);
# the built-in loss functions are savable by "losses.<name>"
for _module, _classes in (
    ("losses", losses.CLASSES),
    ("metrics", metrics.CLASSES),
    ("optimizers", (*optimizers.OPTIMIZERS, optimizers.Partitioned,
                    optimizers.LossScaleOptimizer)),
):
    for _cls in _classes:
        registry.register_serializable(f"{_module}.{_cls.__name__}")(_cls)
for _name, (_fn, _) in losses.FUNCTIONS.items():
    registry.register_function(_fn, f"losses.{_name}")


def to_json(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, losses._Function):
        return to_json(value.fn)
    if isinstance(value, type) or not callable(value) or hasattr(value, "get_config"):
        return registry.serialize(value)
    name = registry.function_name(value)
    if name is None:
        raise SavingError(
            f"Cannot save the compile() argument {value!r}: it is a function that is not "
            "registered. Register it with lamina.saving.register_function(fn) (and register "
            "it again before loading)."
        )
    return {"registered_function": name}


def from_json(value):
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"registered_function"}:
            return registry.get_function(value["registered_function"])
        if set(value) == {"class_name", "config"}:
            return registry.deserialize(value)
        return {k: from_json(v) for k, v in value.items()}
    return value


def compile_config(trainer):
    loss, metric_list, loss_weights = trainer._compile_args
    if isinstance(trainer.optimizer, optimizers.OptaxOptimizer):
        raise SavingError(
            "Cannot save the optimizer: it is a raw optax GradientTransformation, which has "
            "no config. Compile with a lamina optimizer (lamina.optimizers.Adam(...)) to "
            "save a compiled model."
        )
    return {"optimizer": registry.serialize(trainer.optimizer), "loss": to_json(loss),
            "metrics": to_json(metric_list), "loss_weights": to_json(loss_weights),
            "seed": trainer.seed}


# config arguments that size what an object allocates when it is built: bytes per unit
# (an upper estimate: AUC keeps its thresholds as a Python list and four counts each) and
# the power the count is raised to (a confusion matrix is classes x classes)
_SIZING = {"num_thresholds": (64, 1), "num_classes": (8, 2)}


def _check_sizes(value, where):
    """Refuse sizing arguments whose objects would exceed the state budget, before any
    object is built."""
    if isinstance(value, list):
        for item in value:
            _check_sizes(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in _SIZING and isinstance(item, (int, float)) and not isinstance(item, bool):
                per_unit, power = _SIZING[key]
                count = max(float(item), 0.0)
                nbytes = per_unit * count ** power if math.isfinite(count) else math.inf
                allocation.check(int(min(nbytes, 2**62)),
                                 f"the compile config's {key}={item!r}", where,
                                 allocation.STATE_BYTES)
            _check_sizes(item, where)


def _check_metric_states(compiled_metrics, where):
    """Refuse metrics whose state (sized by `jax.eval_shape`, nothing allocated) exceeds
    the state budget."""
    found = [m for m in jax.tree_util.tree_leaves(compiled_metrics,
                                                  is_leaf=lambda m: isinstance(m, metrics.Metric))
             if isinstance(m, metrics.Metric)]
    for metric in found:
        shapes = jax.eval_shape(metric.init)
        nbytes = sum(math.prod(s.shape) * s.dtype.itemsize
                     for s in jax.tree_util.tree_leaves(shapes))
        allocation.check(nbytes, f"the state of metric {metric.name!r}", where,
                         allocation.STATE_BYTES)


def compile_from_config(model, config, where="the compile config"):
    """Compile `model` as `config` (from `compile_config`) says; `where` names the file."""
    _check_sizes(config, where)
    compiled_metrics = from_json(config["metrics"])
    _check_metric_states(compiled_metrics, where)
    model.compile(optimizer=registry.deserialize(config["optimizer"]),
                  loss=from_json(config["loss"]), metrics=compiled_metrics,
                  loss_weights=from_json(config["loss_weights"]), seed=config.get("seed"))
