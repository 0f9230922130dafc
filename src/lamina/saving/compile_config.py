"""compile() arguments <-> JSON: strings stay strings, objects and functions go by registry."""
from lamina import losses, metrics, optimizers
from lamina.core import registry
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


def compile_from_config(model, config):
    model.compile(optimizer=registry.deserialize(config["optimizer"]),
                  loss=from_json(config["loss"]), metrics=from_json(config["metrics"]),
                  loss_weights=from_json(config["loss_weights"]), seed=config.get("seed"))
