"""Custom training logic: a subclassed model that overrides `train_step(self, state, data)`.

The contract (pure: lamina jits it, and may run it inside `lax.scan` for
`steps_per_execution`; see docs/custom_train_step.md):

    def train_step(self, state, data):      # -> (logs, state)
        x, y, sample_weight = data
        ...
        return logs, state

- `state` is a `TrainState(trainable, non_trainable, optimizer, metrics)`
  (`lamina.training.state.TrainState`, whose fields are also named `trained`, `other`,
  `opt_state`):
  `trainable` maps variable uid -> value for exactly the variables that train in this
  configuration (docs/design.md section 2: frozen ones are never here, so no gradient can reach
  them); `non_trainable` holds every other variable (frozen weights, moving statistics,
  seed states); `optimizer` is the optimizer state of the trained variables only;
  `metrics` is the compiled metrics' state.
- `logs` is a dict name -> scalar (the names become the fit logs, in that order).
- Return a state of the same structure. Only variables that are not trainable by their
  own flag (moving statistics, seed states) take their value from the returned
  `non_trainable`: frozen weights stay bit-for-bit unchanged whatever the step returns.

Helpers, pure functions of the state (`model` is `self`):
`stateless_call`, `compute_loss_and_updates`, `optimizer_apply`, `update_metrics`.
"""
import collections

import jax

from lamina import errors
from lamina.training import opt_state as opt_state_lib
from lamina.training import step as step_lib
from lamina.training.state import TrainState, assign


def overrides_train_step(model):
    """True when the model's class defines `train_step(self, state, data)`."""
    return callable(getattr(type(model), "train_step", None))


def stateless_call(model, trainable, non_trainable, x, training=False):
    """(outputs, non_trainable with the call's updates) of `model(x)` on these values."""
    outputs, updates = step_lib.apply(model, {**non_trainable, **trainable}, x, training)
    return outputs, {**non_trainable, **{u: v for u, v in updates.items()
                                         if u in non_trainable}}


def compute_loss_and_updates(model, trainable, non_trainable, x, y, sample_weight=None,
                             training=True):
    """(loss, (y_pred, non_trainable)): the compiled loss (+ `add_loss` values and the
    regularizers of the trained weights) of `model(x)` against `y`. Differentiate it with
    `jax.value_and_grad(..., has_aux=True)` w.r.t. `trainable`."""
    trainer = model._trainer
    regularized = [v for v in trainer.resolution().trained
                   if v.regularizer is not None and v.uid in trainable]
    loss, forward = step_lib.forward_loss(
        model, trainer.specs, trainer.output_names, {**non_trainable, **trainable}, x,
        y if isinstance(y, list) else [y], sample_weight, training, regularized)
    kept = {u: v for u, v in forward.updates.items() if u in non_trainable}
    return loss, (forward.outputs, {**non_trainable, **kept})


def optimizer_apply(model, optimizer_state, grads, trainable):
    """(trainable, optimizer_state) after one optimizer update with `grads`: the trainer's
    `opt_state.apply_gradients`, constraints of the trained weights included."""
    constrained = [v for v in model._trainer.resolution().trained
                   if v.constraint is not None and v.uid in trainable]
    return opt_state_lib.apply_gradients(model._trainer.tx, optimizer_state, trainable, grads,
                                         constrained)


def update_metrics(model, metrics, loss, y, y_pred, sample_weight=None):
    """(metrics, logs): the compiled metrics (and the running loss) updated with this
    batch; `logs` maps the compiled log names to their running values."""
    trainer = model._trainer
    ys = y if isinstance(y, list) else [y]
    _, flat, per_output, masks = step_lib.output_loss(trainer.specs, trainer.output_names, ys,
                                                      y_pred, sample_weight)
    metrics = step_lib.update_metrics(trainer.specs, metrics, loss, per_output, ys, flat,
                                      sample_weight, masks)
    return metrics, dict(zip(trainer.compiled_log_names,
                             step_lib.results(trainer.specs, metrics), strict=True))


def custom_step_fn(trainer, plan):
    """The trainer's pure step (as `step.train_step_fn`: `step(state, x, y, sample_weight) ->
    (state, logs)`) running the model's own `train_step` on the dict view of the state.
    Of the returned `non_trainable`, only the `plan.kept` variables take their new values."""
    model, specs, covered = trainer.model, trainer.specs, trainer._opt_keys

    def step(state, x, y, sample_weight):
        trainable = dict(zip(plan.trained, state.trained, strict=True))
        metrics = step_lib.init_metric_state(specs) if state.metrics is None else state.metrics
        view = TrainState(trainable, dict(zip(plan.other, state.other, strict=True)),
                          opt_state_lib.restrict(state.opt_state, covered, trainable.keys()),
                          metrics)
        logs, new = model.train_step(view, (x, y, sample_weight))
        new = TrainState(*new)
        if (jax.tree_util.tree_structure(new.trainable)
                != jax.tree_util.tree_structure(trainable)):
            raise errors.ConfigurationError(
                f"Model '{model.name}'.train_step: expected the returned state.trainable to "
                f"hold the same variables as the one received ({len(trainable)}), received "
                f"{len(new.trainable) if isinstance(new.trainable, dict) else new.trainable!r}.")
        return (TrainState([new.trainable[u] for u in plan.trained],
                           assign(plan.other, state.other, new.non_trainable, plan.kept),
                           opt_state_lib.merge(state.opt_state, new.optimizer, covered),
                           new.metrics),
                collections.OrderedDict(logs))

    return step
