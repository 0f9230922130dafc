"""fit / evaluate / predict: loops over batches of any source that drive the callbacks.

Progress output is a callback too (`lamina.callbacks.ProgbarLogger`): each loop adds one when
`verbose != 0` and the callbacks hold none, as Keras does.

The sources (`lamina.training.data.sources.adapt`): arrays, DataFrames, generators, iterables and
`PyDataset`-style objects, read epoch by epoch through `lamina.training.data.batches`. Array
training data goes to the device once per fit where `lamina.training.data.device` says so
(on an accelerator, or with `steps_per_execution`), and each compiled call gathers its
batches there. Otherwise, on an accelerator, each batch of 4 MiB or more is moved to the
device one batch ahead of its step, so the host-to-device transfer of batch k + 1 overlaps
step k (smaller batches, and every batch on CPU, go to the step as host arrays: there the
explicit transfer would cost more than it hides).

Checks (`lamina.training.data.checks`, shared with the `*_on_batch` methods): array data
is checked once before training; sources read batch by batch (generators, PyDataset,
iterables) are checked batch by batch, on the host before the transfer (device arrays: one
batch late, without a wait):

- NaN or infinite values refuse to train (`check_finite=False` trains anyway; the default
  also trains anyway when the callbacks include `TerminateOnNaN`, which asks for Keras's
  behaviour: train, and stop at the first NaN loss);
- labels outside [0, classes) for an output trained with a sparse categorical
  cross-entropy are refused, naming the output and the range.
"""
import dataclasses
from typing import Any

import jax
import numpy as np

from lamina import callbacks as callbacks_lib
from lamina.core import rng as lrandom
from lamina.errors import InputSpecError
from lamina.training import arguments, loop_callbacks
from lamina.training import predict as predict_lib
from lamina.training.data.arrays import (
    ArrayData,
    check_finite,
    check_sparse_labels,
    class_weight_to_sample_weight,
    flatten_targets,
    sparse_loss,
)
from lamina.training.data.batches import Epochs, Prepare, executions, prefetched
from lamina.training.data.checks import output_shapes
from lamina.training.data.device import DeviceData
from lamina.training.data.sources import adapt
from lamina.training.position import FitPosition


def _prefetch(trainer):
    """Whether batches go to the device ahead of their step: on an accelerator, without a
    distribution (whose placement lays batches out itself)."""
    return jax.default_backend() != "cpu" and trainer.active_distribution() is None


def _run(prepare, index, step, *args):
    try:
        return step(*args)
    except Exception as err:
        error = prepare.step_error(index)
        if error is None:
            raise
        raise error from err


def _check_arrays(trainer, data, batch_size, finite, what):
    """The checks made once on array data before the first step."""
    if not isinstance(data, ArrayData):
        return
    if finite:
        check_finite(data.x, f"{what} x", trainer.model)
        check_finite(data.y, f"{what} y", trainer.model)
        check_finite(data.sample_weight, f"{what} sample_weight", trainer.model)
    if data.y is None or not any(sparse_loss(s.loss) for s in trainer.specs):
        return
    targets = flatten_targets(data.y, trainer.output_names, trainer.specs, trainer.model)
    check_sparse_labels(targets, trainer.specs, output_shapes(trainer, data.first(batch_size)),
                        f"{what} labels", trainer.model)


def _class_weighted(trainer, data, class_weight, sample_weight):
    if class_weight is None:
        return data
    model = trainer.model
    if sample_weight is not None:
        raise InputSpecError(f"Model '{model.name}'.fit: class_weight and sample_weight were "
                             "both given; use one or the other.")
    if len(trainer.output_names) > 1:
        raise InputSpecError(
            f"Model '{model.name}'.fit: class_weight is only supported for models with a "
            f"single output; this model has {len(trainer.output_names)} "
            f"({trainer.output_names}). Pass a sample_weight per output instead.")
    if not isinstance(data, ArrayData):
        return data  # applied to each batch
    y = flatten_targets(data.y, trainer.output_names, trainer.specs, model)[0]
    return data.with_sample_weight(class_weight_to_sample_weight(y, class_weight, model))


def _first_inputs(data, batch_size):
    return data.first(batch_size) if isinstance(data, ArrayData) else None


# -- fit ----------------------------------------------------------------------------------
@dataclasses.dataclass
class _FitRun:
    """What the stages of one `fit` call share (made by `_start_fit`)."""

    trainer: Any
    cbs: callbacks_lib.CallbackList
    position: FitPosition  # also `trainer.fit_position`, read by checkpointing callbacks
    train: Epochs
    validation: Epochs | None
    validation_freq: Any
    on_device: DeviceData | None  # None: batches come from the host
    prepare: Prepare
    prefetch: bool
    per_execution: int
    batch_logs: bool  # whether a callback reads each batch's logs
    ran_any: bool = False  # whether any batch trained (over all epochs)


def fit(trainer, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_freq=1, seed=None, check_finite=None):
    """Train for `epochs` epochs; returns the `History` callback (Keras semantics).

    `x` is any source `lamina.training.data.sources.adapt` takes (arrays with `y`, or batches
    carrying their targets). `check_finite`: refuse NaN / inf in array data before training
    (default: yes, unless a `TerminateOnNaN` callback is given); see the module docstring.
    The stages: `_fit_data` (check and split the data), `_start_fit` (batches, callbacks,
    position), then `_run_epoch` per epoch (its batches, validation, the epoch hooks).
    """
    batch_size = arguments.batch_size(batch_size)
    verbose = loop_callbacks.progress_verbose(verbose)
    steps_per_epoch = arguments.steps(steps_per_epoch, "steps_per_epoch")
    validation_steps = arguments.steps(validation_steps, "validation_steps")
    arguments.validation_due(0, validation_freq)  # checks it
    if shuffle not in (True, False, "batch"):
        raise InputSpecError(f"shuffle: expected True, False or 'batch', received {shuffle!r}.")
    finite = arguments.check_finite_default(check_finite, callbacks)
    data, val = _fit_data(trainer, x, y, batch_size, validation_split, validation_data,
                          class_weight, sample_weight, finite)
    history = callbacks_lib.History()
    trainer.model.history = history
    run = _start_fit(trainer, data, val, batch_size, epochs, shuffle, class_weight,
                     list(callbacks or []) + [history], verbose, initial_epoch, seed,
                     steps_per_epoch, validation_steps, validation_freq, finite)
    with loop_callbacks.progress_closed_on_error(run.cbs):
        run.cbs.on_train_begin()
        run.position.safe_point("train_begin")  # a callback may resume: position.resume(...)
        logs = {}
        for epoch in range(run.position.epoch, epochs):
            epoch_logs = _run_epoch(run, epoch)
            if epoch_logs is None:
                break  # a generator ran out before this epoch (warned)
            logs = epoch_logs
            if trainer.model.stop_training or run.train.exhausted:
                break
        run.cbs.on_train_end(logs)
    return history


def _fit_data(trainer, x, y, batch_size, validation_split, validation_data, class_weight,
              sample_weight, finite):
    """(training data, validation data or None): fit's data adapted, the validation split
    taken off the end; array data is checked once here (`_check_arrays`, `finite`: for NaN
    and infinite values) and gets its class weights."""
    model = trainer.model
    data = adapt(x, y, sample_weight, model, "fit")
    if isinstance(data, ArrayData) and data.y is None and trainer.needs_targets:
        raise InputSpecError("fit: expected targets `y`, received None.")
    val = None
    if validation_data is not None:
        val = arguments.validation_data(validation_data, model)
    elif validation_split:
        if not 0 < validation_split < 1:
            raise InputSpecError(
                f"validation_split: expected a fraction in (0, 1), received {validation_split!r}.")
        data, val = data.split(validation_split)
    arguments.check_distributed(trainer.active_distribution(), model, batch_size, data, val)
    if isinstance(data, ArrayData):
        trainer.ensure_ready(data.first(batch_size))
        data = _class_weighted(trainer, data, class_weight, sample_weight)
        _check_arrays(trainer, data, batch_size, finite, "fit")
        _check_arrays(trainer, val, batch_size, finite, "validation")
    return data, val


def _start_fit(trainer, data, val, batch_size, epochs, shuffle, class_weight, callbacks,
               verbose, initial_epoch, seed, steps_per_epoch, validation_steps,
               validation_freq, finite=True):
    """The `_FitRun` of a fit: the epochs of batches (on the device where
    `DeviceData.for_fit` says so), the callback list with its progress bar, and the fit
    position that checkpointing callbacks read and resume."""
    model = trainer.model
    if seed is None:
        seed = trainer.seed if trainer.seed is not None else lrandom.next_seed()
    rng = np.random.default_rng(seed)
    per_execution = getattr(trainer, "steps_per_execution", 1)
    on_device = DeviceData.for_fit(trainer, data, per_execution)
    train = Epochs(on_device or data, batch_size, shuffle, rng, steps_per_epoch, hooks=True)
    validation = Epochs(val, batch_size, steps=validation_steps) if val is not None else None
    params = {"epochs": epochs, "steps": train.per_epoch, "verbose": verbose,
              "batch_size": batch_size}
    cbs = callbacks_lib.CallbackList(loop_callbacks.with_progbar(callbacks, verbose), model,
                                     params)
    streamed = not isinstance(data, ArrayData)
    model.stop_training = False
    # shared with callbacks that checkpoint (safe points) and resume (BackupAndRestore)
    trainer.fit_position = FitPosition(rng, initial_epoch, cbs.callbacks)
    return _FitRun(
        trainer, cbs, trainer.fit_position, train, validation,
        validation_freq, on_device,
        Prepare(trainer, streamed, class_weight if streamed else None, finite=finite),
        _prefetch(trainer) and on_device is None, per_execution,
        loop_callbacks.needs_batch_logs(cbs.callbacks))


def _run_epoch(run, epoch):
    """One epoch: its batches, validation when due, the epoch hooks. Returns the epoch's
    logs, or None when the data gave no batch this epoch (a generator ran out)."""
    trainer, position = run.trainer, run.position
    skip = position.begin_epoch(epoch)  # batches done before a resume
    if not skip:
        trainer.reset_metrics()  # (a resume restored the epoch's running metrics)
    run.cbs.on_epoch_begin(epoch)
    batches = enumerate(run.train.epoch(skip), start=skip)
    if run.on_device is None:  # (on the device the batches are index arrays)
        batches = ((i, run.prepare(i, b)) for i, b in batches)
    train = _train_each if run.per_execution == 1 else _train_grouped
    step_logs = train(run, batches, position.logs if skip else None)
    run.prepare.finish()
    if step_logs is None:
        if not run.ran_any:
            raise InputSpecError(f"fit: the training data of model '{trainer.model.name}' "
                                 "gave no batches.")
        return None
    logs = trainer.logs_dict(step_logs)
    if run.validation is not None and arguments.validation_due(epoch, run.validation_freq):
        # fit's callbacks get the test hooks (Keras); the progress bar stays silent
        logs.update({f"val_{k}": v for k, v in _evaluate(
            trainer, run.validation, verbose=0, callbacks=run.cbs, finite=False).items()})
    run.cbs.on_epoch_end(epoch, logs)
    position.safe_point("epoch_end")
    return logs


def _train_each(run, batches, step_logs):
    """One compiled call per batch; returns the last batch's logs (`step_logs` if none)."""
    trainer, cbs, position = run.trainer, run.cbs, run.position
    for index, batch in prefetched(batches, run.prefetch):
        cbs.on_train_batch_begin(index)
        run.ran_any = True
        step_logs = (_run(run.prepare, index, trainer.train_step, *batch)
                     if run.on_device is None
                     else trainer.train_step_at(run.on_device.arrays, batch))
        position.batch_done(index, step_logs)
        # device scalars: reading them (float) is left to callbacks that need them
        cbs.on_train_batch_end(index, dict(zip(trainer.log_names, step_logs, strict=True)))
        position.safe_point("batch_end")
        if trainer.model.stop_training:
            break
    return step_logs


def _train_grouped(run, batches, step_logs):
    """`steps_per_execution` batches per compiled call (`_execute`); returns the last
    batch's logs (`step_logs` if none ran)."""
    for (first, count), batch in prefetched(executions(batches, run.per_execution),
                                            run.prefetch):
        run.ran_any = True
        step_logs = _execute(run.trainer, run.cbs, run.prepare, first, count, batch,
                             run.batch_logs, run.on_device)
        run.position.batch_done(first + count - 1, step_logs)
        run.position.safe_point("batch_end")
        if run.trainer.model.stop_training:
            break
    return step_logs


def _execute(trainer, cbs, prepare, first, count, batch, batch_logs, on_device=None):
    """Run batches `first .. first + count - 1` in one compiled call (`count` > 1: the
    batch is stacked) and call every batch's hooks in order; returns the last batch's logs.
    With `on_device` (a `DeviceData`) the batch is its sample indices ((count, batch) when
    stacked), gathered inside the call.

    The begin hooks of all but the first batch, and every end hook, run after the call:
    a change they make (a rate, a freeze, stop_training) takes effect at the next call, as
    in Keras. End hooks get each batch's own logs when a callback defines them (read from
    the device once per call); otherwise the last batch's end hook gets the call's last
    logs as device values and the others an empty dict (the progress bar moves once per
    call)."""
    names = trainer.log_names
    cbs.on_train_batch_begin(first)
    if count == 1:
        logs = (_run(prepare, first, trainer.train_step, *batch) if on_device is None
                else trainer.train_step_at(on_device.arrays, batch))
        cbs.on_train_batch_end(first, dict(zip(names, logs, strict=True)))
        return logs
    stacked = (_run(prepare, first, trainer.train_steps, *batch) if on_device is None
               else trainer.train_steps_at(on_device.arrays, batch))
    last = [v[-1] for v in stacked]
    host = jax.device_get(stacked) if batch_logs else None
    for i in range(count):
        if i:
            cbs.on_train_batch_begin(first + i)
        if host is not None:
            logs = dict(zip(names, (v[i] for v in host), strict=True))
        else:
            logs = dict(zip(names, last, strict=True)) if i == count - 1 else {}
        cbs.on_train_batch_end(first + i, logs)
    return last


def _evaluate(trainer, epochs, verbose, callbacks, finite):
    model = trainer.model
    source = epochs.source
    first = _first_inputs(source, epochs.batch_size)
    if first is not None:
        if source.y is None:
            raise InputSpecError("evaluate: expected targets `y`, received None.")
        trainer.ensure_ready(first)
        _check_arrays(trainer, source, epochs.batch_size, finite, "evaluate")
    steps = epochs.per_epoch
    if isinstance(callbacks, callbacks_lib.CallbackList):  # fit's, validating
        cbs = callbacks
    else:
        params = {"verbose": verbose, "epochs": 1, "steps": steps}
        cbs = callbacks_lib.CallbackList(loop_callbacks.with_progbar(callbacks, verbose), model,
                                         params)
    trainer.reset_metrics()
    prepare = Prepare(trainer, first is None, what="evaluate", finite=finite)
    prefetch = _prefetch(trainer)
    with loop_callbacks.progress_closed_on_error(cbs):
        cbs.on_test_begin()
        logs = None
        batches = ((i, prepare(i, b)) for i, b in enumerate(epochs.epoch()))
        for index, (xb, yb, swb) in prefetched(batches, prefetch):
            cbs.on_test_batch_begin(index)
            logs = _run(prepare, index, trainer.test_step, xb, yb, swb)
            cbs.on_test_batch_end(index, dict(zip(trainer.log_names, logs, strict=True)))
        prepare.finish()
        if logs is None:
            raise InputSpecError(f"evaluate: the data gave no batches to evaluate model "
                                 f"'{model.name}' on.")
        result = trainer.logs_dict(logs)
        cbs.on_test_end(result)
    return result


def evaluate(trainer, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
             steps=None, callbacks=None, return_dict=False, check_finite=True):
    """Loss and metrics over `x, y` (the model in inference mode); `steps` limits the
    batches read (needed for an endless generator)."""
    model = trainer.model
    batch_size = arguments.batch_size(batch_size)
    data = adapt(x, y, sample_weight, model, "evaluate")
    arguments.check_distributed(trainer.active_distribution(), model, batch_size, data)
    epochs = Epochs(data, batch_size, steps=arguments.steps(steps, "steps"))
    result = _evaluate(trainer, epochs, loop_callbacks.progress_verbose(verbose), callbacks,
                       check_finite)
    if return_dict:
        return result
    values = list(result.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=32, verbose="auto", steps=None, callbacks=None):
    """Outputs for every sample of `x`, concatenated over batches (numpy). Batches of a
    generator or dataset may carry targets; only their `x` is used."""
    batch_size = arguments.batch_size(batch_size)
    data = adapt(x, None, None, model, "predict")
    arguments.check_distributed(predict_lib.active_distribution(model), model, batch_size, data)
    epochs = Epochs(data, batch_size, steps=arguments.steps(steps, "steps"))
    verbose = loop_callbacks.progress_verbose(verbose)
    params = {"verbose": verbose, "epochs": 1, "steps": epochs.per_epoch}
    cbs = callbacks_lib.CallbackList(loop_callbacks.with_progbar(callbacks, verbose), model,
                                     params)
    with loop_callbacks.progress_closed_on_error(cbs):
        cbs.on_predict_begin()
        outputs = []
        for index, (xb, _, _) in enumerate(epochs.epoch()):
            cbs.on_predict_batch_begin(index)
            outputs.append(predict_lib.predict_on_batch(model, xb))
            cbs.on_predict_batch_end(index, {"outputs": outputs[-1]})
        if not outputs:
            raise InputSpecError(f"predict: the data gave no batches for model '{model.name}'.")
        cbs.on_predict_end()
    return jax.tree_util.tree_map(lambda *parts: np.concatenate(parts), *outputs)
