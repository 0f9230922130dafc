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
import contextlib

import jax

from lamina import errors
from lamina.core import step_losses
from lamina.optimizers.base import stateless_binding
from lamina.training import keras_step, step_optimizers
from lamina.training import opt_state as opt_state_lib
from lamina.training import step as step_lib
from lamina.training.state import TrainState, assign


def overrides_train_step(model):
    """True when the model's class defines `train_step(self, state, data)` (either form)."""
    return callable(getattr(type(model), "train_step", None))


def lamina_form(train_step):
    """Mark `train_step(self, state, data)` as lamina's form: `state` a `TrainState` of dicts
    uid -> value, `data` always `(x, y_list, sample_weight)`. Without this mark a
    `train_step` is Keras 3's JAX form (four lists, Keras's packed data)."""
    train_step.__lamina_form__ = True
    return train_step


def is_lamina_form(model):
    return getattr(type(model).train_step, "__lamina_form__", False)


class KerasState(tuple):
    """Keras 3's train state `(trainable_variables, non_trainable_variables,
    optimizer_variables, metrics_variables)`; reading lamina's attribute names from it
    means the step is lamina's form, which must be marked."""

    def __getattr__(self, name):
        if name in ("trainable", "non_trainable", "optimizer", "metrics", "trained",
                    "other", "opt_state"):
            raise errors.ConfigurationError(
                f"train_step read `state.{name}`, lamina's form of the step, but received "
                "Keras 3's JAX form (a tuple of four lists). Decorate the method with "
                "`@lamina.training.custom_step.lamina_form` to receive lamina's TrainState.")
        raise errors.UnknownAttributeError(
            f"Keras 3's train state (a tuple of four lists) has no attribute {name!r}.")


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
    (state, logs)`) running the model's own `train_step`, in lamina's form or Keras's. With
    extra optimizers (`step_optimizers`) it takes their states last and returns
    `(state, (logs, states))`."""
    model = trainer.model

    def step(state, x, y, sample_weight, extras=None):
        threaded = extras is not None
        if state.metrics is None:
            state = state._replace(metrics=trainer.init_metric_state())
        with step_losses.recording(model):
            if is_lamina_form(model):
                new, logs = _lamina_step(trainer, plan, state, x, y, sample_weight)
            else:
                new, logs, extras = _keras_step(trainer, plan, state, x, y, sample_weight,
                                                extras or {})
        logs = keras_step.flatten_logs(logs, f"Model '{model.name}'.train_step")
        return new, ((logs, extras) if threaded else logs)

    return step


def _lamina_step(trainer, plan, state, x, y, sample_weight):
    model, covered = trainer.model, trainer._opt_keys
    trainable = dict(zip(plan.trained, state.trained, strict=True))
    metrics = state.metrics
    view = TrainState(trainable, dict(zip(plan.other, state.other, strict=True)),
                      opt_state_lib.restrict(state.opt_state, covered, trainable.keys()),
                      metrics["compiled"] if trainer.keras_metrics else metrics)
    logs, new = model.train_step(view, (x, y, sample_weight))
    new = TrainState(*new)
    if (jax.tree_util.tree_structure(new.trainable)
            != jax.tree_util.tree_structure(trainable)):
        raise errors.ConfigurationError(
            f"Model '{model.name}'.train_step: expected the returned state.trainable to "
            f"hold the same variables as the one received ({len(trainable)}), received "
            f"{len(new.trainable) if isinstance(new.trainable, dict) else new.trainable!r}.")
    new_metrics = ({**metrics, "compiled": new.metrics} if trainer.keras_metrics
                   else new.metrics)
    return TrainState([new.trainable[u] for u in plan.trained],
                      assign(plan.other, state.other, new.non_trainable, plan.kept),
                      opt_state_lib.merge(state.opt_state, new.optimizer, covered),
                      new_metrics), logs


def _keras_step(trainer, plan, state, x, y, sample_weight, extras):
    """Keras 3's JAX form: the state as four lists; `optimizer.stateless_apply` (and that of
    every extra optimizer) bound to the optimizer state of the trained variables."""
    model, covered = trainer.model, trainer._opt_keys
    opt_leaves, opt_def = jax.tree_util.tree_flatten(
        opt_state_lib.restrict(state.opt_state, covered, plan.trained))
    trained = list(state.trained)
    updates = {name: step_optimizers.SubsetApply(
        model, trainer.extra_tx[name], opt_state_lib.restrict(value, covered, plan.trained),
        plan, trained, name) for name, value in extras.items()}
    metrics = list(state.metrics["keras"])
    view = KerasState((trained, list(state.other), opt_leaves, metrics))
    data = keras_step.pack_x_y_sample_weight(x, keras_step.keras_targets(y), sample_weight)
    with contextlib.ExitStack() as stack:
        stack.enter_context(stateless_binding(trainer.optimizer, step_optimizers.compiled_apply(
            trainer, plan, opt_def, trained)))
        for name, update in updates.items():
            stack.enter_context(stateless_binding(getattr(model, name),
                                                  step_optimizers.extra_apply(update)))
        logs, new = model.train_step(view, data)
    new = keras_step.returned_state(model, "train_step", new, 4)
    for name, got, want in zip(("trainable_variables", "non_trainable_variables",
                                "optimizer_variables", "metrics_variables"), new, view,
                               strict=True):
        keras_step.check_returned(model, "train_step", name, got, want)
    extras = {name: opt_state_lib.merge(extras[name], update.state, covered)
              for name, update in updates.items()}
    return TrainState(
        keras_step.same_dtypes(new[0], state.trained),
        assign(plan.other, state.other, dict(zip(plan.other, new[1], strict=True)), plan.kept),
        opt_state_lib.merge(state.opt_state, jax.tree_util.tree_unflatten(opt_def, new[2]),
                            covered),
        {**state.metrics, "keras": keras_step.same_dtypes(new[3], metrics)}), logs, extras
