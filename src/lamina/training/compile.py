"""Resolve `compile()` arguments once: typed per-output entries, steps_per_execution, and
the optimizer wrapped for loss scaling where float16 layers need it."""
import copy
import dataclasses
from typing import Any

import numpy as np

from lamina import losses as losses_lib
from lamina import metrics as metrics_lib
from lamina.core.tree import all_layers
from lamina.errors import ConfigurationError
from lamina.optimizers import loss_scale
from lamina.training import custom_step


@dataclasses.dataclass
class OutputSpec:
    """What the step computes for one model output."""

    name: str
    loss: object  # a lamina.losses.Loss, or None when the output has no loss
    weight: float
    metrics: list


def _per_output(value, names, what) -> list[Any]:
    """Spread a compile argument over the outputs: one value for all, a list, or a dict."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ConfigurationError(
                f"compile({what}=...): keys {unknown} are not model outputs; outputs are {names}."
            )
        return [value.get(name) for name in names]
    # a list of one entry for a single output is accepted (as Keras), except for metrics,
    # where a list names several metrics of that output
    if isinstance(value, (list, tuple)) and (len(names) > 1 or what != "metrics"):
        if len(value) != len(names):
            raise ConfigurationError(
                f"compile({what}=...): expected one entry per output ({len(names)}: {names}), "
                f"received {len(value)}."
            )
        return list(value)
    return [value] * len(names)


def resolve_outputs(output_names, loss, metrics, loss_weights):
    """The list of `OutputSpec`, one per output, in output order. `loss=None` gives no
    compiled loss: the model supplies its own (`add_loss`, `compute_loss`, `train_step`;
    a step with none of them is refused when it is traced, `step.MSG_NO_LOSS`)."""
    losses = [losses_lib.get(item) if item is not None else None
              for item in _per_output(loss, output_names, "loss")]
    for name, out_loss in zip(output_names, losses, strict=True):
        reduction = getattr(out_loss, "reduction", "sum_over_batch_size")
        if reduction in (None, "none"):
            raise ConfigurationError(
                f"compile(loss=...): the loss of output '{name}' has reduction="
                f"{reduction!r}, which gives one value per sample; training needs a "
                "scalar. Use reduction='sum_over_batch_size' (the default), 'sum' or 'mean'.")
    weights = _per_output(1.0 if loss_weights is None else loss_weights, output_names,
                          "loss_weights")
    if metrics is None:
        metrics = []
    if isinstance(metrics, dict) or (
        len(output_names) > 1 and metrics and all(isinstance(m, (list, tuple)) for m in metrics)
    ):
        per_output_metrics = _per_output(metrics, output_names, "metrics")
    else:
        per_output_metrics = [metrics] * len(output_names)
    specs = []
    for name, out_loss, weight, out_metrics in zip(output_names, losses, weights,
                                                   per_output_metrics, strict=True):
        if isinstance(out_metrics, (str, metrics_lib.Metric)) or callable(out_metrics):
            out_metrics = [out_metrics]
        # one metric instance per output: its state is sized by that output's shape
        resolved = [metrics_lib.get(copy.copy(m) if len(output_names) > 1 else m, out_loss)
                    for m in (out_metrics or [])]
        specs.append(OutputSpec(name, out_loss, 1.0 if weight is None else float(weight),
                                resolved))
    return specs


def log_names(specs):
    """Log keys in order: "loss", then per-output losses and metrics (Keras naming)."""
    names = ["loss"]
    multi = len(specs) > 1
    if multi:
        names += [f"{s.name}_loss" for s in specs if s.loss is not None]
    for s in specs:
        names += [f"{s.name}_{m.name}" if multi else m.name for m in s.metrics]
    return names


def steps_per_execution(model, value):
    """`compile(steps_per_execution=...)` checked: a positive integer."""
    if (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
        raise ConfigurationError(
            f"Model '{model.name}'.compile(steps_per_execution=...): expected a positive "
            f"integer (the number of batches run in one compiled call), received {value!r}.")
    return int(value)


def jit_compile(model, value):
    """`compile(jit_compile=...)` checked: True or "auto" compile the steps with `jax.jit`
    (lamina always can), False runs them op by op, for debugging."""
    if value not in (True, False, "auto") or not isinstance(value, (bool, str)):
        raise ConfigurationError(
            f"Model '{model.name}'.compile(jit_compile=...): expected True, False or "
            f"'auto', received {value!r}.")
    return value is not False


def auto_wrap(model, optimizer, enabled=True):
    """`optimizer`, wrapped in a `LossScaleOptimizer` when `enabled` and a layer of `model`
    computes in float16 (Keras's rule for "mixed_float16")."""
    if not enabled or isinstance(optimizer, loss_scale.LossScaleOptimizer):
        return optimizer
    if any(layer.compute_dtype == "float16" for layer in all_layers(model)):
        return loss_scale.LossScaleOptimizer(optimizer)
    return optimizer


def loss_scaled_optimizer(model, optimizer, auto_scale_loss):
    """`optimizer`, wrapped in a `LossScaleOptimizer` for float16 layers (`auto_wrap`);
    refused with a custom train_step."""
    optimizer = auto_wrap(model, optimizer, auto_scale_loss)
    if (isinstance(optimizer, loss_scale.LossScaleOptimizer)
            and custom_step.overrides_train_step(model)):
        raise ConfigurationError(
            f"Model '{model.name}'.compile: loss scaling (a LossScaleOptimizer, added for "
            "float16 layers unless auto_scale_loss=False) is not available to a custom "
            "train_step, whose gradients lamina does not compute. Use the "
            "'mixed_bfloat16' policy (no loss scaling needed), or compile with "
            "auto_scale_loss=False and a plain optimizer.")
    return optimizer
