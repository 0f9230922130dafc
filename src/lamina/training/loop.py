"""fit / evaluate / predict: loops over in-memory batches that drive callbacks and progress."""
import jax
import numpy as np

from lamina import callbacks as callbacks_lib
from lamina import random as lrandom
from lamina.errors import InputSpecError
from lamina.training import predict as predict_lib
from lamina.training.data import ArrayData, flatten_targets
from lamina.training.position import FitPosition
from lamina.training.progress import Progress, resolve_verbose


def _validation(validation_data, owner):
    if isinstance(validation_data, ArrayData):
        return validation_data
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise InputSpecError(
            "validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, "
            f"sample_weight), received {type(validation_data).__name__}."
        )
    return ArrayData(*validation_data, owner=owner)


def _check_distributed(distribution, owner, batch_size, *datasets):
    """Fail before the first step when a batch would not split over the devices."""
    if distribution is not None:
        for data in datasets:
            if data is not None:
                distribution.check_data(data.n, batch_size, owner.name)


def _progress_verbose(verbose):
    """Only process 0 of a multi-process run reports progress."""
    return verbose if jax.process_index() == 0 else 0


def _batch_size(batch_size):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise InputSpecError(f"batch_size: expected a positive integer, received {batch_size!r}.")
    return int(batch_size)


def fit(trainer, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, sample_weight=None,
        initial_epoch=0, seed=None):
    """Train for `epochs` epochs; returns the `History` callback (Keras semantics)."""
    model = trainer.model
    batch_size = _batch_size(batch_size)
    verbose = _progress_verbose(resolve_verbose(verbose))
    if y is None:
        raise InputSpecError("fit: expected targets `y`, received None.")
    data = ArrayData(x, y, sample_weight, model)
    val = None
    if validation_data is not None:
        val = _validation(validation_data, model)
    elif validation_split:
        data, val = data.split(validation_split)
    _check_distributed(trainer.active_distribution(), model, batch_size, data, val)
    history = callbacks_lib.History()
    model.history = history
    steps = data.num_batches(batch_size)
    params = {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size}
    cbs = callbacks_lib.CallbackList(list(callbacks or []) + [history], model, params)
    if seed is None:
        seed = trainer.seed if trainer.seed is not None else lrandom.next_seed()
    rng = np.random.default_rng(seed)
    trainer.ensure_ready(data.first(batch_size))
    model.stop_training = False
    # shared with callbacks that checkpoint (safe points) and resume (BackupAndRestore)
    position = trainer.fit_position = FitPosition(rng, initial_epoch, cbs.callbacks)
    cbs.on_train_begin()
    position.safe_point("train_begin")  # a callback may resume here: position.resume(...)
    logs = {}
    for epoch in range(position.epoch, epochs):
        skip = position.begin_epoch(epoch)  # batches done before a resume
        if not skip:
            trainer.reset_metrics()  # (a resume restored the epoch's running metrics)
        cbs.on_epoch_begin(epoch)
        progress = Progress(verbose, steps, f"Epoch {epoch + 1}/{epochs}")
        step_logs = position.logs if skip else None
        batches = data.batches(batch_size, shuffle, rng, skip)
        for index, (xb, yb, swb) in enumerate(batches, start=skip):
            cbs.on_train_batch_begin(index)
            yb = flatten_targets(yb, trainer.output_names, trainer.specs, model)
            step_logs = trainer.train_step(xb, yb, swb)
            position.batch_done(index, step_logs)
            progress.update(index + 1, lambda: trainer.logs_dict(step_logs))
            # device scalars: reading them (float) is left to callbacks that need them
            cbs.on_train_batch_end(index, dict(zip(trainer.log_names, step_logs)))
            position.safe_point("batch_end")
            if model.stop_training:
                break
        logs = trainer.logs_dict(step_logs)
        if val is not None:
            val_logs = evaluate(trainer, val, batch_size=batch_size, verbose=0,
                                return_dict=True, _progress=False)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        progress.finish(logs)
        cbs.on_epoch_end(epoch, logs)
        position.safe_point("epoch_end")
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return history


def evaluate(trainer, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
             callbacks=None, return_dict=False, _progress=True):
    """Loss and metrics over `x, y` (the model in inference mode)."""
    data = x if isinstance(x, ArrayData) else ArrayData(x, y, sample_weight, trainer.model)
    if data.y is None:
        raise InputSpecError("evaluate: expected targets `y`, received None.")
    batch_size = _batch_size(batch_size)
    _check_distributed(trainer.active_distribution(), trainer.model, batch_size, data)
    steps = data.num_batches(batch_size)
    cbs = callbacks_lib.CallbackList(callbacks, trainer.model, {"steps": steps})
    trainer.ensure_ready(data.first(batch_size))
    trainer.reset_metrics()
    progress = Progress(_progress_verbose(verbose) if _progress else 0, steps, "Evaluate")
    cbs.on_test_begin()
    logs = None
    for index, (xb, yb, swb) in enumerate(data.batches(batch_size)):
        cbs.on_test_batch_begin(index)
        yb = flatten_targets(yb, trainer.output_names, trainer.specs, trainer.model)
        logs = trainer.test_step(xb, yb, swb)
        progress.update(index + 1, lambda: trainer.logs_dict(logs))
        cbs.on_test_batch_end(index)
    result = trainer.logs_dict(logs)
    progress.finish(result)
    cbs.on_test_end(result)
    if return_dict:
        return result
    values = list(result.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=32, verbose="auto", callbacks=None):
    """Outputs for every sample of `x`, concatenated over batches (numpy)."""
    data = ArrayData(x, owner=model)
    batch_size = _batch_size(batch_size)
    _check_distributed(predict_lib.active_distribution(model), model, batch_size, data)
    steps = data.num_batches(batch_size)
    cbs = callbacks_lib.CallbackList(callbacks, model, {"steps": steps})
    progress = Progress(_progress_verbose(verbose), steps, "Predict")
    cbs.on_predict_begin()
    outputs = []
    for index, (xb, _, _) in enumerate(data.batches(batch_size)):
        cbs.on_predict_batch_begin(index)
        outputs.append(predict_lib.predict_on_batch(model, xb))
        progress.update(index + 1, dict)
        cbs.on_predict_batch_end(index, {"outputs": outputs[-1]})
    progress.finish({})
    cbs.on_predict_end()
    return jax.tree_util.tree_map(lambda *parts: np.concatenate(parts), *outputs)
