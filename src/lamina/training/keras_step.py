"""Keras 3's JAX custom-step surface: `train_step(self, state, data)` with `state` as four
lists, `test_step(self, state, data)` with three, `predict_step(self, state, data)` with two,
and the stateless helpers they call (`Model.stateless_call`, `Model.compute_loss`,
`Optimizer.stateless_apply`, `Model.metrics` with the stateless metric methods).

The lists follow lamina's resolution (docs/design.md rule 3): `trainable_variables` are the
values of the variables this configuration trains (`model.trainable_variables`), and
`non_trainable_variables` every other one (`model.non_trainable_variables`: frozen weights,
statistics, seed states). The step wrappers turn the returned lists back into lamina's
`TrainState`, so frozen weights stay bitwise unchanged (only variables that are not
trainable by their own flag take a returned non-trainable value) and the optimizer update
goes through `opt_state.apply_gradients` (rule 6). See docs/custom_train_step.md.
"""
import collections
import inspect

import jax.numpy as jnp

from lamina import errors, trainability
from lamina.core import step_losses
from lamina.metrics import base as metrics_base
from lamina.metrics.base import Mean
from lamina.training import step as step_lib

# Keras methods a subclass may override that lamina's loops never call: refused at compile
NOT_HONOURED = ("make_train_function", "make_test_function", "make_predict_function",
                "compute_metrics", "reset_metrics")


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` of a batch as Keras packs it (`x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)`), missing parts None (Keras 3's `keras.utils` function)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) in (1, 2, 3):
        return tuple(data) + (None,) * (3 - len(data))
    raise errors.InputSpecError(
        "unpack_x_y_sample_weight: expected data of the form `x`, `(x,)`, `(x, y)` or "
        f"`(x, y, sample_weight)`, received a tuple of {len(data)} entries.")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch as a Keras step receives it: `x` alone (as `(x,)` when `x` is itself a
    tuple or list), `(x, y)`, or `(x, y, sample_weight)`."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def keras_targets(ys):
    """lamina's targets (a list in output order) as Keras gives them to a step."""
    if isinstance(ys, list) and len(ys) == 1:
        return ys[0]
    return ys


def overrides(model, name):
    """Whether the model's class defines the step method `name`."""
    return callable(getattr(type(model), name, None))


def check_overrides(model):
    """Raise a `ConfigurationError` for an override lamina cannot honour (called by
    `compile`): a step method not in Keras 3's JAX form `(self, state, data)`, a
    `compute_loss` without Keras's arguments, or a Keras hook lamina's loops never call."""
    for name in ("train_step", "test_step", "predict_step"):
        if overrides(model, name) and _positional(getattr(type(model), name)) < 2:
            raise errors.ConfigurationError(
                f"Model '{model.name}' overrides `{name}(self, data)`, the TensorFlow / torch "
                f"form, which lamina cannot run (it has no GradientTape). Expected Keras 3's "
                f"JAX form `{name}(self, state, data)` (see docs/custom_train_step.md).")
    if model.compute_loss_is_overridden():
        params = inspect.signature(type(model).compute_loss).parameters
        missing = [p for p in ("x", "y", "y_pred", "sample_weight") if p not in params]
        if missing and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise errors.ConfigurationError(
                f"Model '{model.name}'.compute_loss: expected Keras 3's signature "
                "`compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, "
                f"training=True)`, received parameters {list(params)} (missing {missing}).")
    for name in NOT_HONOURED:
        if overrides(model, name):
            raise errors.ConfigurationError(
                f"Model '{model.name}' defines `{name}`, a Keras hook that lamina's fit / "
                "evaluate / predict never call, so it would be silently ignored. Override "
                "`train_step`, `test_step`, `predict_step` or `compute_loss` instead.")


def _positional(fn):
    """How many positional arguments `fn` takes after `self` (a large number for *args)."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def takes_training(fn):
    params = inspect.signature(fn).parameters
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


# -- the model's variables as lists -----------------------------------------------------
def _resolution(model):
    trainer = model._trainer
    return trainer.resolution() if trainer is not None else trainability.resolve(model)


def _check_length(model, what, values, variables):
    if len(values) != len(variables):
        raise errors.InputSpecError(
            f"Model '{model.name}'.stateless_call: expected {what} to hold one value per "
            f"variable of `model.{what}` ({len(variables)}), received {len(values)}.")


def stateless_call(model, trainable_variables, non_trainable_variables, x, training=False):
    """`(outputs, non_trainable_variables)`: `model(x)` on these values (lists in the order
    of `model.trainable_variables` / `model.non_trainable_variables`), the second list
    holding the values the call assigned (statistics, seed states). Its `add_loss` values
    are what `model.losses` and `model.compute_loss` read next in the step."""
    resolution = _resolution(model)
    trained, other = resolution.trained, resolution.not_trained
    _check_length(model, "trainable_variables", trainable_variables, trained)
    _check_length(model, "non_trainable_variables", non_trainable_variables, other)
    values = {**{v.uid: a for v, a in zip(other, non_trainable_variables, strict=True)},
              **{v.uid: a for v, a in zip(trained, trainable_variables, strict=True)}}
    outputs, updates, added, masks = step_lib.run(model, values, x, training)
    record = step_losses.current(model)
    if record is not None:
        record.record(added, [v for v in trained if v.regularizer is not None], values, masks)
    new = [jnp.asarray(updates[v.uid]).astype(jnp.asarray(a).dtype) if v.uid in updates else a
           for v, a in zip(other, non_trainable_variables, strict=True)]
    return outputs, new


def compute_loss(trainer, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    """Keras 3's base `Model.compute_loss`: the compiled loss of `y_pred` against `y`, plus
    the losses of the model's latest call in this step (`add_loss` values and the penalties
    of the regularized trained weights), or of its last eager call outside a step."""
    del x, training
    model = trainer.model
    record = step_losses.current(model)
    if trainer.specs is None:  # a subclassed model compiled before its first call
        trainer._resolve_compile(step_lib.output_names_of(y_pred))
    names, specs = trainer.output_names, list(trainer.specs or ())
    total = jnp.zeros((), jnp.float32)
    if any(s.loss is not None for s in specs):
        ys = y if isinstance(y, (list, tuple)) and len(names) > 1 else [y]
        if isinstance(y, dict):
            ys = [y.get(name) for name in names]
        loss, _ = step_lib.compute_loss(specs, ys, step_lib.flatten_outputs(y_pred, names),
                                        sample_weight,
                                        step_lib.flatten_outputs(record.masks if record
                                                                 else None, names))
        total = total + jnp.asarray(loss, jnp.float32)
    terms = record.terms() if record is not None else model.losses
    for term in terms:
        total = total + jnp.sum(term).astype(jnp.float32)
    return total


# -- metrics ----------------------------------------------------------------------------
class CompileMetrics(metrics_base.Metric):
    """The metrics given to `compile`, as one metric (Keras 3's "compile_metrics"):
    `stateless_update_state(variables, y, y_pred, sample_weight=None)`, and a result that is
    a dict of the compiled metric names (the fit logs flatten it)."""

    name = "compile_metrics"

    def __init__(self, trainer):
        super().__init__()
        self._trainer = trainer

    def init(self):
        return [[m.init() for m in s.metrics] for s in self._trainer.specs]

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        trainer = self._trainer
        names = trainer.output_names
        ys = y_true if isinstance(y_true, (list, tuple)) and len(names) > 1 else [y_true]
        preds = step_lib.flatten_outputs(y_pred, names)
        return [[step_lib.update_one(m, st, t, p, sample_weight, None)
                 for m, st in zip(s.metrics, states, strict=True)]
                for s, states, t, p in zip(trainer.specs, state, ys, preds, strict=True)]

    def result(self, state):
        specs = self._trainer.specs
        multi = len(specs) > 1
        return {(f"{s.name}_{m.name}" if multi else m.name): m.result(st)
                for s, states in zip(specs, state, strict=True)
                for m, st in zip(s.metrics, states, strict=True)}


def compiled_metrics(trainer):
    """`[loss tracker, compile metrics]`: the compiled part of `model.metrics` (Keras order;
    the second only when compile named metrics)."""
    if trainer.loss_tracker is None:
        trainer.loss_tracker = Mean(name="loss")
        trainer.compile_metrics = CompileMetrics(trainer)
    has_metrics = any(s.metrics for s in trainer.specs or [])
    return [trainer.loss_tracker] + ([trainer.compile_metrics] if has_metrics else [])


def init_metric_variables(model):
    """The Keras metric state: the variables of every metric of `model.metrics`, in order."""
    return [leaf for metric in model.metrics for leaf in metric.stateless_reset_state()]


def flatten_logs(logs, owner):
    """A step's logs as an ordered mapping name -> value; a dict value (a metric whose
    result is a dict, such as "compile_metrics") gives its entries, as Keras's fit logs."""
    if not isinstance(logs, dict):
        raise errors.ConfigurationError(
            f"{owner}: expected the logs returned first to be a dict name -> value, "
            f"received {type(logs).__name__}.")
    flat = collections.OrderedDict()
    for name, value in logs.items():
        if isinstance(value, dict):
            flat.update(flatten_logs(value, owner))
        else:
            flat[name] = jnp.asarray(value)
    return flat


def same_dtypes(new, old):
    """`new` values cast to the dtypes of `old` (a scan carry keeps its dtypes)."""
    return [jnp.asarray(n).astype(jnp.asarray(o).dtype) for n, o in zip(new, old, strict=True)]


def returned_state(model, what, new, size):
    """The state a Keras-form step returned, checked to be `size` lists."""
    if not isinstance(new, (tuple, list)) or len(new) != size:
        raise errors.ConfigurationError(
            f"Model '{model.name}'.{what}: expected to return (logs, state) with state a "
            f"tuple of {size} lists, received {type(new).__name__}.")
    return tuple(list(part) for part in new)


def check_returned(model, what, name, got, expected):
    if len(got) != len(expected):
        raise errors.ConfigurationError(
            f"Model '{model.name}'.{what}: expected the returned {name} to hold "
            f"{len(expected)} values (one per variable, in the order received), received "
            f"{len(got)}.")


def test_step_fn(trainer, resolution):
    """The pure test step running the model's Keras-form `test_step(self, state, data)`:
    `step(values, metric_state, x, y, sample_weight) -> (metric_state, logs)`."""
    model = trainer.model
    trained, other = resolution.trained, resolution.not_trained

    def step(values, metric_state, x, y, sample_weight):
        if metric_state is None:
            metric_state = trainer.init_metric_state()
        state = ([values[v.uid] for v in trained], [values[v.uid] for v in other],
                 list(metric_state["keras"]))
        with step_losses.recording(model):
            logs, new = model.test_step(state, pack_x_y_sample_weight(
                x, keras_targets(y), sample_weight))
        new = returned_state(model, "test_step", new, 3)
        check_returned(model, "test_step", "metrics_variables", new[2], state[2])
        metric_state = {**metric_state, "keras": same_dtypes(new[2], state[2])}
        return metric_state, flatten_logs(logs, f"Model '{model.name}'.test_step")

    return step


def custom_loss(trainer):
    """The model's own `compute_loss` as the steps call it (`step.forward_loss`'s
    `custom_loss`): y as Keras gives it (one array for a single output), `training` passed
    when the override takes it. None when the model keeps the base `compute_loss`."""
    model = trainer.model
    if not model.compute_loss_is_overridden():
        return None
    with_training = takes_training(type(model).compute_loss)

    def loss(x, ys, outputs, sample_weight, training):
        kwargs = {"training": training} if with_training else {}
        return model.compute_loss(x=x, y=keras_targets(ys), y_pred=outputs,
                                  sample_weight=sample_weight, **kwargs)

    return loss


def pure_test_step(trainer, resolution, regularized):
    """The pure test step: the model's own Keras-form `test_step`, or the compiled loss and
    metrics (on the compiled half of the metric state when a Keras-form step keeps both)."""
    if overrides(trainer.model, "test_step"):
        return test_step_fn(trainer, resolution)
    step = step_lib.test_step_fn(trainer.model, trainer.specs, trainer.output_names,
                                 regularized, trainer.custom_loss)
    if not trainer.keras_metrics:
        return step

    def on_compiled_half(values, metric_state, *data):
        if metric_state is None:
            metric_state = trainer.init_metric_state()
        compiled, logs = step(values, metric_state["compiled"], *data)
        return {**metric_state, "compiled": compiled}, logs

    return on_compiled_half
