"""Custom training logic: a subclassed model that overrides `train_step(self, state, data)`.

The contract (pure: lamina jits it, and may run it inside `lax.scan` for
`steps_per_execution`; see docs/custom_train_step.md):

    def train_step(self, state, data):      # -> (logs, state)
        x, y, sample_weight = data
        ...
        return logs, state

- `state` is a `TrainState(trainable, non_trainable, optimizer, metrics)`:
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
import optax

from lamina.training import opt_state as opt_state_lib
from lamina.training import step as step_lib

TrainState = collections.namedtuple("TrainState",
                                    ["trainable", "non_trainable", "optimizer", "metrics"])


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
    """(trainable, optimizer_state) after one optimizer update with `grads`."""
    deltas, optimizer_state = model._trainer.tx.update(grads, optimizer_state, trainable)
    return optax.apply_updates(trainable, deltas), optimizer_state


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
                             step_lib.results(trainer.specs, metrics)))


def custom_step_fn(trainer, trained_uids, other_uids, stat_uids):
    """The trainer's step (same signature as `step.train_step_fn`) running the model's own
    `train_step`. `stat_uids`: the non-trained variables whose new values are kept."""
    model, specs, all_keys = trainer.model, trainer.specs, trainer._opt_keys

    def step(trained_values, other_values, opt_state, metric_state, x, y, sample_weight):
        trainable = dict(zip(trained_uids, trained_values))
        non_trainable = dict(zip(other_uids, other_values))
        if metric_state is None:
            metric_state = step_lib.init_metric_state(specs)
        state = TrainState(trainable, non_trainable,
                           opt_state_lib.restrict(opt_state, all_keys, trainable.keys()),
                           metric_state)
        logs, new = model.train_step(state, (x, y, sample_weight))
        new = TrainState(*new)
        if (jax.tree_util.tree_structure(new.trainable)
                != jax.tree_util.tree_structure(trainable)):
            raise ValueError(
                f"Model '{model.name}'.train_step: expected the returned state.trainable to "
                f"hold the same variables as the one received ({len(trainable)}), received "
                f"{len(new.trainable) if isinstance(new.trainable, dict) else new.trainable!r}.")
        trainer.custom_log_names = list(logs)
        return ([new.trainable[u] for u in trained_uids],
                {u: new.non_trainable[u] for u in stat_uids},
                opt_state_lib.merge(opt_state, new.optimizer, all_keys), new.metrics,
                list(logs.values()))

    return step
