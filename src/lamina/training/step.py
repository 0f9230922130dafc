"""Pure steps: the model as a function of its variable values, and the train steps (pure
functions of a `TrainState`, jitted by `lamina.training.state.CompiledStep`).

`apply` runs a model in a pure `CallScope`: variables read the values given, and
assignments (moving statistics, seeds) come back as `updates`. `forward_loss` is the one
forward pass + loss (compiled losses, `add_loss` values, regularizers) shared by the train
step, the test step and the custom-step helpers. `train_step_fn` closes over
one trainability configuration: gradients are taken only w.r.t. the trained variables, the
optax update (`opt_state.apply_gradients`) touches only their optimizer entries, and frozen
variables are plain inputs, so they are bit-for-bit unchanged and cost no weight-gradient
work.
"""
import collections
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lamina import trainability
from lamina.core import scope as scope_lib
from lamina.core import step_losses
from lamina.core.lowering import convolution
from lamina.errors import ConfigurationError
from lamina.losses import softmax_logits
from lamina.optimizers import loss_scale
from lamina.training import opt_state as opt_state_lib
from lamina.training.state import TrainState, assign


def run(model, values, inputs, training):
    """(outputs, updates, added losses, output masks) of `model(inputs)` with variables
    reading `values`."""
    scope = scope_lib.CallScope(values)
    with scope_lib.activate(scope):
        outputs = model(inputs, training=training)
    return outputs, scope.updates, scope.losses, scope.output_masks.get(id(model))


def apply(model, values, inputs, training):
    """(outputs, updates) of `model(inputs)` with variables reading `values` (uid -> array)."""
    outputs, updates, _, _ = run(model, values, inputs, training)
    return outputs, updates


def output_spec(model, spec):
    """The model's outputs as shape structs for the input shape structs `spec` (traced under
    `convolution.shapes_only`: nothing is computed or timed)."""
    return convolution.eval_shape(lambda inputs: apply(model, {}, inputs, False)[0], spec)


def penalties(added_losses, regularized, values):
    """The sum of `add_loss` values and of the regularizers of the `regularized` variables."""
    total = jnp.zeros((), jnp.float32)
    for value in added_losses:
        total = total + jnp.sum(value).astype(jnp.float32)
    for variable in regularized:
        total = total + jnp.asarray(variable.regularizer(values[variable.uid]), jnp.float32)
    return total


def output_names_of(outputs):
    """Output names of a model whose compile did not know them: a dict's keys, else
    "output" or "output_1", "output_2", ... (Keras's names)."""
    if isinstance(outputs, dict):
        return list(outputs)
    if isinstance(outputs, (list, tuple)):
        return [f"output_{i + 1}" for i in range(len(outputs))]
    return ["output"]


def flatten_outputs(outputs, names):
    if outputs is None:  # no output masks
        return [None] * len(names)
    if isinstance(outputs, dict):
        return [outputs[name] for name in names]
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    return [outputs]


class Forward(NamedTuple):
    """What `forward_loss` computed besides the loss (a pytree: it can be the aux output of
    `jax.value_and_grad`)."""

    outputs: Any  # as the model returns them (an array, a list or a dict)
    y_pred: list  # the outputs in `output_names` order
    updates: dict  # uid -> value assigned by the call (moving statistics, seed states)
    per_output: list  # each output's loss, None where an output has no loss
    masks: list  # each output's mask (None for none), in `output_names` order


def forward_loss(model, specs, output_names, values, x, y, sample_weight, training,
                 regularized=(), custom_loss=None):
    """(loss, Forward) of `model(x)`, variables reading `values`, against the targets `y` (a
    list in `output_names` order): the compiled loss of every output (its mask applied), plus
    the call's `add_loss` values and the penalties of the `regularized` variables. The
    penalties read `values`, the arrays the model ran on: in a train step those are the
    differentiated trained values, so the penalty's gradient reaches them.

    `custom_loss(x, y, outputs, sample_weight, training)`, when given (a model's own
    `compute_loss`), replaces that sum; the call's losses are then what `model.losses`
    reads (`lamina.core.step_losses`).

    A cross-entropy of a softmax output is computed from the softmax's logits
    (`lamina.losses.softmax_logits`): the same values, a smaller program."""
    with softmax_logits.recording():
        outputs, updates, added, output_masks = run(model, values, x, training)
        loss, y_pred, per_output, masks = output_loss(specs, output_names, y, outputs,
                                                      sample_weight, output_masks)
        if custom_loss is None:
            if not added and not regularized and all(s.loss is None for s in specs):
                raise ConfigurationError(MSG_NO_LOSS.format(model=model.name))
            loss = loss + penalties(added, regularized, values)
        else:
            with step_losses.recording(model) as record:
                record.record(added, regularized, values, output_masks)
                loss = custom_loss(x, y, outputs, sample_weight, training)
    return loss, Forward(outputs, y_pred, updates, per_output, masks)


MSG_NO_LOSS = (
    "Model '{model}': nothing supplies a loss to train on. compile() was given no `loss`, "
    "the model's call added none (`self.add_loss(...)`), no weight has a regularizer, and "
    "the model overrides neither `compute_loss` nor `train_step`. Pass "
    "`compile(loss=...)`, add a loss in `call`, or override `compute_loss`.")


def output_loss(specs, output_names, y, outputs, sample_weight, output_masks=None):
    """(total loss, y_pred, per-output losses, masks) of the model's `outputs` (and their
    `output_masks`, None for none) against `y`; `y_pred` and `masks` are flattened in
    `output_names` order."""
    y_pred = flatten_outputs(outputs, output_names)
    masks = flatten_outputs(output_masks, output_names)
    loss, per_output = compute_loss(specs, y, y_pred, sample_weight, masks)
    return loss, y_pred, per_output, masks


def compute_loss(specs, y_true, y_pred, sample_weight, masks):
    """Total weighted loss and the per-output losses (None where an output has no loss)."""
    total, per_output = 0.0, []
    for spec, t, p, mask in zip(specs, y_true or [None] * len(specs), y_pred, masks,
                                strict=True):
        if spec.loss is None:
            per_output.append(None)
            continue
        value = spec.loss(t, p, sample_weight, mask=mask)
        per_output.append(value)
        total = total + spec.weight * value
    return total, per_output


def init_metric_state(specs):
    loss_states = [s.loss is not None for s in specs]
    return {
        "loss": (jnp.zeros(()), jnp.zeros(())),
        "output_losses": [(jnp.zeros(()), jnp.zeros(())) if has else None for has in loss_states],
        "metrics": [[m.init() for m in s.metrics] for s in specs],
    }


def update_metrics(specs, state, loss, per_output, y_true, y_pred, sample_weight, masks):
    # losses are averaged over samples, like Keras's loss tracker (batches weighted by size)
    n = jnp.asarray(y_pred[0].shape[0], jnp.float32)

    def add(pair, value):
        return (pair[0] + value * n, pair[1] + n)

    # one output's loss is the loss: `results` logs it once, so its own tracker stays as is
    per_output_logged = len(specs) > 1
    return {
        "loss": add(state["loss"], loss),
        "output_losses": [add(st, value) if st is not None and per_output_logged else st
                          for st, value in zip(state["output_losses"], per_output, strict=True)],
        "metrics": [[update_one(m, st, t, p, sample_weight, mask)
                     for m, st in zip(s.metrics, states, strict=True)]
                    for s, states, t, p, mask in zip(specs, state["metrics"],
                                                     y_true or [None] * len(specs), y_pred,
                                                     masks, strict=True)],
    }


def update_one(metric, state, y_true, y_pred, sample_weight, mask):
    if mask is None:
        return metric.update(state, y_true, y_pred, sample_weight)
    return metric.update(state, y_true, y_pred, sample_weight, mask=mask)


def results(specs, state):
    """Log values (scalars) in `compile.log_names` order."""
    def mean(pair):
        return pair[0] / jnp.maximum(pair[1], 1.0)

    values = [mean(state["loss"])]
    if len(specs) > 1:
        values += [mean(st) for st in state["output_losses"] if st is not None]
    for s, states in zip(specs, state["metrics"], strict=True):
        values += [m.result(st) for m, st in zip(s.metrics, states, strict=True)]
    return values


def logs_of(names, values):
    """The logs of a step: an ordered mapping, so that their names leave the compiled call
    with their values (a pytree keeps an OrderedDict's order, not a dict's)."""
    return collections.OrderedDict(zip(names, values, strict=True))


def train_step_fn(model, tx, specs, output_names, log_names, covered, plan, regularized=(),
                  constrained=(), custom_loss=None):
    """The pure (unjitted) train step of one configuration: `step(state, x, y,
    sample_weight) -> (state, logs)` on a `TrainState` whose `trained` and `other` are lists
    in the order of `plan.trained` / `plan.other` (`lamina.training.state.Plan`).

    Gradients are taken w.r.t. the trained values only; `covered` are the variables the
    optimizer state covers; the logs are named `log_names` (`compile.log_names(specs)`).
    `regularized` trained variables add their penalty to the loss; `constrained` ones get
    their constraint after the update; `custom_loss` is the model's own `compute_loss`
    (see `forward_loss`).
    """

    def step(state, x, y, sample_weight):
        trained = dict(zip(plan.trained, state.trained, strict=True))
        other = dict(zip(plan.other, state.other, strict=True))

        def loss_fn(trained):
            return forward_loss(model, specs, output_names, {**other, **trained}, x, y,
                                sample_weight, True, regularized, custom_loss)

        (loss, forward), grads = loss_scale.value_and_grad(loss_fn, state.opt_state)(trained)
        trained, opt_state = opt_state_lib.apply_gradients(
            tx, state.opt_state, trained, grads, constrained, covered)
        metrics = init_metric_state(specs) if state.metrics is None else state.metrics
        metrics = update_metrics(specs, metrics, loss, forward.per_output, y, forward.y_pred,
                                 sample_weight, forward.masks)
        new = TrainState([trained[uid] for uid in plan.trained],
                         assign(plan.other, state.other, forward.updates, plan.kept),
                         opt_state, metrics)
        return new, logs_of(log_names, results(specs, metrics))

    return step


def make_indexed_step(step):
    """`step` (a pure train step) on one batch gathered inside the compiled call.

    The result takes `state, arrays, index` in place of `state, x, y, sample_weight`:
    `arrays` is the whole training set `(x, ys, sample_weight)` (on the device, not donated)
    and `index` an int32 array (batch,) of sample indices. One step per call costs one
    dispatch and no host gather or transfer of the batch."""

    def indexed(state, arrays, index):
        return step(state, *take_batch(arrays, index))

    return indexed


def make_multi_step(step, init_metrics, kept, indexed=False):
    """`step` (a pure train step) run over K batches in one compiled call.

    Without `indexed` the result takes the batches `xs, ys, sample_weights` stacked on a
    leading axis of size K. With `indexed` it takes `arrays, indices` instead: `arrays` is
    the whole training set `(x, ys, sample_weight)` (on the device, not donated) and
    `indices` an int32 array (K, batch) of sample indices; each batch is gathered inside
    the call (`take_batch`), so K steps cost one dispatch and no host work per batch.
    `jax.lax.scan` runs the K steps in order, threading the state (`init_metrics()` is
    the metric state a restart begins with). Of `other`, only the
    entries at the positions `kept` (statistics, seed states) are carried: the frozen
    weights are constants of the loop and come out as they went in. The logs come back
    stacked: one entry per batch (shape (K,) for scalar logs), so callbacks can see every
    batch.
    """

    def multi(state, *data):
        if indexed:
            arrays, scanned = data
            load = functools.partial(take_batch, arrays)
        else:
            scanned = data
            load = _as_is

        def with_kept(values):
            other = list(state.other)
            for i, value in zip(kept, values, strict=True):
                other[i] = value
            return other

        def body(carry, batch):
            new, logs = step(carry._replace(other=with_kept(carry.other)), *load(batch))
            return new._replace(other=[new.other[i] for i in kept]), logs

        if state.metrics is None:  # the first batch restarts the metrics
            state = state._replace(metrics=init_metrics())
        carry = state._replace(other=[state.other[i] for i in kept])
        carry, logs = jax.lax.scan(body, carry, scanned)
        return carry._replace(other=with_kept(carry.other)), logs

    return multi


def _as_is(batch):
    """The batch a scan over stacked batches hands to the step, unchanged."""
    return batch


def take_batch(arrays, index):
    """The batch `index` (int array of sample positions) of `arrays` (any pytree of
    arrays sharing a first axis; None leaves stay None). Used inside the compiled
    multi-step, and eagerly for a batch run on its own; the indices are always in range,
    so clipping them is cheap and never changes a value."""
    return jax.tree_util.tree_map(lambda a: jnp.take(a, index, axis=0, mode="clip"), arrays)


def stack_batches(batches):
    """K batches `(x, y, sample_weight)` of equal shapes -> one `(xs, ys, sample_weights)`
    with a leading axis of size K (the input of `Trainer.train_steps`)."""
    def stack(parts):
        return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *parts)

    xs, ys, sws = zip(*batches, strict=True)
    return stack(xs), stack(ys), (None if sws[0] is None else stack(sws))


def test_step_fn(model, specs, output_names, regularized=(), custom_loss=None):
    """The pure test step: `step(values, metric_state, x, y, sample_weight) -> (metric_state,
    log values)` with the model in inference mode."""
    def step(values, metric_state, x, y, sample_weight):
        loss, forward = forward_loss(model, specs, output_names, values, x, y, sample_weight,
                                     False, regularized, custom_loss)
        if metric_state is None:  # test_on_batch: metrics restart at this batch
            metric_state = init_metric_state(specs)
        metric_state = update_metrics(specs, metric_state, loss, forward.per_output, y,
                                      forward.y_pred, sample_weight, forward.masks)
        return metric_state, results(specs, metric_state)

    return step


def compiled(fn, jit=True, donate_argnums=()):
    """`fn` jitted (donating `donate_argnums`), or as it is with `jit=False`
    (`compile(jit_compile=False)`: steps run op by op, for debugging)."""
    return jax.jit(fn, donate_argnums=donate_argnums) if jit else fn


class EagerStep:
    """A train step run without `jax.jit` (`compile(jit_compile=False)`), with the calling
    convention of `state.CompiledStep`."""

    def __init__(self, step):
        self.step = step

    def __call__(self, state, *data):
        return self.step(state, *data)


def make_predict_step(model):
    """The inference function `(values, x) -> outputs` of `model`: `model(x)`, or the
    model's own Keras-form `predict_step(self, state, data)`; jitted unless the model was
    compiled with `jit_compile=False`."""
    trainer = model._trainer
    jit = getattr(trainer, "jit", True)  # (a GAN's trainer always jits)
    if not callable(getattr(type(model), "predict_step", None)):
        return compiled(lambda values, x: apply(model, values, x, False)[0], jit)

    def predict(values, x):
        resolution = trainability.resolve(model)
        state = ([values[v.uid] for v in resolution.trained],
                 [values[v.uid] for v in resolution.not_trained])
        result = model.predict_step(state, (x,) if isinstance(x, (list, tuple)) else x)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ConfigurationError(
                f"Model '{model.name}'.predict_step: expected to return (outputs, "
                f"non_trainable_variables) as Keras 3's JAX form does, received "
                f"{type(result).__name__}.")
        return result[0]

    return compiled(predict, jit)
