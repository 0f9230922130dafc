"""Training checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint is a lamina archive (see `archive.py`) holding what `save_model` writes
(`config.json`: model config, flags, scoped freezes, compile config; `model.safetensors`:
every variable, dropout seed states included; `optimizer.safetensors`) plus:

- `training.json`: where training is (`epoch`, `batch` = batches done in that epoch,
  `epoch_rng_state` = fit's shuffling generator when that epoch began), the trainer's
  `iterations`, the learning rate, the latest step's `logs`, lamina's random stream, the
  `History` so far, whether a callback has asked training to stop (`stop_training`) and
  the states of callbacks (`callbacks`, see below);
- `metrics.safetensors`: the running metric state of the epoch in progress;
- `callbacks.safetensors`: the arrays callbacks keep (`EarlyStopping`'s best weights).

Callbacks take part by defining `get_checkpoint_state() -> JSON-able dict` and
`set_checkpoint_state(state)`, and for arrays `get_checkpoint_arrays() -> {name: array}`
and `set_checkpoint_arrays(arrays)`; states are keyed by class name (`EarlyStopping`,
`EarlyStopping_1`, ... in callback order), arrays by `key/name`.

`CheckpointManager` keeps the last `max_to_keep` checkpoints of a directory as
`ckpt-000012.lamina` (numbered in the order written) and restores the newest valid one:
a damaged file (truncated, bad checksum, unreadable) is skipped with a warning, and the
temporary files of interrupted writes are never candidates.
"""
import json
import numbers
import os
import re
import warnings

import jax
import numpy as np

from lamina.core import rng as lrandom
from lamina.core.files import is_writer, make_directory
from lamina.errors import ConfigurationError, SavingError
from lamina.saving import archive, model_io, tensors, training_json

TRAINING, METRICS = "training.json", "metrics.safetensors"
CALLBACK_ARRAYS = "callbacks.safetensors"
CHECKPOINT_MEMBERS = model_io.MODEL_MEMBERS | {TRAINING, METRICS, CALLBACK_ARRAYS}
TRAINING_FORMAT = "lamina.training"
TRAINING_VERSION = 1


# -- what a checkpoint holds --------------------------------------------------------------
def _config(model):
    """The model config; models that cannot be rebuilt from a config (an unregistered
    subclass, a raw optax optimizer) still checkpoint for in-place restore."""
    try:
        return model_io.model_config(model)
    except (ConfigurationError, SavingError) as err:
        trainer = model._trainer
        return {"model": None, "not_rebuildable": str(err), "build_input_spec": None,
                "trainability": model_io.trainability_config(model), "compile": None,
                "iterations": trainer.iterations if trainer is not None else 0}


def _metric_arrays(metric_state):
    leaves = jax.tree_util.tree_flatten_with_path(metric_state)[0]
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def callback_states(callbacks):
    """key -> state of every callback that defines `get_checkpoint_state`."""
    states = {}
    for key, callback in _keyed(callbacks):
        if hasattr(callback, "get_checkpoint_state"):
            states[key] = callback.get_checkpoint_state()
    return states


def callback_arrays(callbacks):
    """`key/name` -> array of every callback that defines `get_checkpoint_arrays`."""
    arrays = {}
    for key, callback in _keyed(callbacks):
        if hasattr(callback, "get_checkpoint_arrays"):
            for name, value in callback.get_checkpoint_arrays().items():
                arrays[f"{key}/{name}"] = np.asarray(value)
    return arrays


def restore_callback_states(callbacks, states, arrays=None, where="the checkpoint"):
    """Give each callback its saved state (`states`, from `training.json`) and its saved
    arrays (`arrays`, `key/name` -> array, from `read_callback_arrays`). A state the
    callback cannot take is a `SavingError` naming `where` and the callback."""
    grouped = {}
    for full_name, value in (arrays or {}).items():
        key, _, name = full_name.partition("/")
        grouped.setdefault(key, {})[name] = value
    for key, callback in _keyed(callbacks):
        try:
            if key in states and hasattr(callback, "set_checkpoint_state"):
                callback.set_checkpoint_state(states[key])
            if hasattr(callback, "set_checkpoint_arrays"):
                callback.set_checkpoint_arrays(grouped.get(key, {}))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise SavingError(f"{where}: the saved state of callback {key} cannot be "
                              f"restored ({type(err).__name__}: {err}); delete the backup "
                              "to start over.") from err


def read_callback_arrays(path, members):
    """The callbacks' arrays of a checkpoint read by `read_checkpoint` ({} if none)."""
    if CALLBACK_ARRAYS not in members:
        return {}
    return tensors.decode(members[CALLBACK_ARRAYS], f"'{path}', member {CALLBACK_ARRAYS!r}")


def _keyed(callbacks):
    """(key, callback) pairs: the class name, numbered from the second of a class on. (The
    `History` keeps no checkpoint state here: it is saved on its own.)"""
    seen = {}
    for callback in callbacks:
        name = type(callback).__name__
        count = seen.get(name, 0)
        seen[name] = count + 1
        yield (name if count == 0 else f"{name}_{count}"), callback


def training_state(model, *, epoch, batch, epoch_rng_state, logs=None, history=None,
                   callbacks=None):
    """The `training.json` content for a checkpoint of `model` taken now.

    Args:
        epoch, batch: the position to continue from (`batch` batches of `epoch` done).
        epoch_rng_state: the shuffling generator's `bit_generator.state` when `epoch` began.
        logs: the latest step's logs (a list in `trainer.log_names` order), or None.
        history: a `History` (its epochs so far are saved), or None.
        callbacks: callbacks whose `get_checkpoint_state()` is saved.
    """
    trainer = model._trainer
    # a scheduled rate is not saved: it follows the update count in the optimizer state
    rate = (trainer.optimizer.learning_rate
            if trainer is not None and not trainer.optimizer.has_schedule else None)
    return {
        "format": TRAINING_FORMAT, "version": TRAINING_VERSION,
        "epoch": int(epoch), "batch": int(batch), "epoch_rng_state": epoch_rng_state,
        "iterations": trainer.iterations if trainer is not None else 0,
        "learning_rate": float(rate) if isinstance(rate, numbers.Real) else None,
        "log_names": list(trainer.log_names) if trainer is not None and logs is not None
        else None,
        "logs": [float(v) for v in logs] if logs is not None else None,
        "random": lrandom.get_state(),
        "history": ({"epoch": list(history.epoch), "history": history.history}
                    if history is not None else None),
        "stop_training": bool(getattr(model, "stop_training", False)),
        "callbacks": callback_states(callbacks or []),
    }


def save_checkpoint(model, path, training, callback_arrays=None):
    """Write a checkpoint of `model` with `training` (see `training_state`) and the
    callbacks' arrays (see `callback_arrays`), atomically."""
    members = model_io.model_members(model, _config(model))
    members[TRAINING] = json.dumps(training, indent=1).encode()
    if callback_arrays:
        members[CALLBACK_ARRAYS] = tensors.encode(callback_arrays)
    trainer = model._trainer
    if trainer is not None and trainer.metric_state is not None:
        members[METRICS] = tensors.encode(_metric_arrays(trainer.metric_state))
    archive.write(path, members, extra_metadata={"kind": "checkpoint"})


# -- reading --------------------------------------------------------------------------------
def read_checkpoint(path):
    """(training dict, members) of the checkpoint at `path`, every checksum verified.

    Raises `SavingError` for anything damaged, partial or not a checkpoint.
    """
    _, members = archive.read(path, CHECKPOINT_MEMBERS,
                              {name: model_io.MAX_TENSOR_BYTES for name in CHECKPOINT_MEMBERS
                               if name.endswith(".safetensors")})
    for name in (model_io.CONFIG, model_io.WEIGHTS, TRAINING):
        if name not in members:
            raise SavingError(f"'{path}': not a training checkpoint (no {name!r} member).")
    training = archive.parse_json(path, TRAINING, members[TRAINING])
    if (not isinstance(training, dict) or training.get("format") != TRAINING_FORMAT
            or not {"epoch", "batch", "iterations", "epoch_rng_state"} <= set(training)):
        raise SavingError(f"'{path}': {TRAINING} does not describe a training position.")
    if training.get("version") != TRAINING_VERSION:
        raise SavingError(f"'{path}': {TRAINING} version {training.get('version')!r} is not "
                          f"supported (this lamina reads version {TRAINING_VERSION}).")
    training_json.validate(path, training)
    return training, members


def restore_checkpoint(model, path):
    """Set `model` (weights, flags, scoped freezes, optimizer and metric state, iterations,
    learning rate, lamina's random stream) from the checkpoint at `path`, in place.

    Returns the training dict (position, logs, history, callback states) for the caller
    (normally `BackupAndRestore`) to resume from.
    """
    training, members = read_checkpoint(path)
    apply_checkpoint(model, path, training, members)
    return training


def apply_checkpoint(model, path, training, members):
    """`restore_checkpoint` for a checkpoint already read (`read_checkpoint`)."""
    where = f"'{path}'"
    config = archive.parse_json(path, model_io.CONFIG, members[model_io.CONFIG])
    trainer = model._trainer
    if trainer is None and model_io.OPTIMIZER in members:
        raise SavingError(f"{where}: the checkpoint holds optimizer state; compile model "
                          f"'{model.name}' before restoring it.")
    weights = tensors.decode(members[model_io.WEIGHTS], f"{where}, member "
                             f"{model_io.WEIGHTS!r}")
    model_io.assign_weights(model, weights, f"{where}, member {model_io.WEIGHTS!r}")
    try:
        model_io.apply_trainability(model, config["trainability"], where)
    except SavingError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise SavingError(f"{where}: the trainability state cannot be applied: "
                          f"{type(err).__name__}: {err}.") from err
    if trainer is not None:
        if model_io.OPTIMIZER in members:
            arrays = tensors.decode(members[model_io.OPTIMIZER],
                                    f"{where}, member {model_io.OPTIMIZER!r}")
            model_io.restore_optimizer(model, arrays, f"{where}, member "
                                       f"{model_io.OPTIMIZER!r}")
        if training.get("learning_rate") is not None:
            trainer.optimizer.learning_rate = training["learning_rate"]
        if METRICS in members and trainer.metric_state is not None:
            _restore_metrics(trainer, tensors.decode(members[METRICS], f"{where}, member "
                                                     f"{METRICS!r}"), where)
        trainer.iterations = int(training["iterations"])
        if training.get("log_names") is not None:  # the saved logs are in this order (a
            trainer.log_names = list(training["log_names"])  # custom step names its own)
    stream = training.get("random")
    if isinstance(stream, dict):
        lrandom.set_state(stream)


def _restore_metrics(trainer, arrays, where):
    trainer.metric_state = model_io.fill_tree(trainer.metric_state, jax.tree_util.keystr,
                                              arrays, where, "metric")


def load_checkpoint(path):
    """(model, training dict): the model rebuilt from the checkpoint (like `load_model`),
    with its metric state, learning rate and iterations restored."""
    training, members = read_checkpoint(path)
    config = archive.parse_json(path, model_io.CONFIG, members[model_io.CONFIG])
    if isinstance(config, dict) and config.get("model") is None:
        raise SavingError(f"'{path}': this checkpoint cannot rebuild its model "
                          f"({config.get('not_rebuildable')}); build the model in code and "
                          "call restore_checkpoint(model, path).")
    model, _ = model_io.read_model(path, CHECKPOINT_MEMBERS)
    trainer = model._trainer
    if trainer is not None:
        if training.get("learning_rate") is not None:
            trainer.optimizer.learning_rate = training["learning_rate"]
        if METRICS in members and trainer.specs is not None:
            _restore_metrics(trainer, tensors.decode(members[METRICS], f"'{path}'"),
                             f"'{path}'")
        trainer.iterations = int(training["iterations"])
    return model, training


# -- a directory of checkpoints -------------------------------------------------------------
_NAME = re.compile(r"^ckpt-(\d{6,})\.lamina$")


class CheckpointManager:
    """The checkpoints of one directory: write, rotate, find the newest valid one.

    Args:
        directory: created if missing. The manager owns the `ckpt-*.lamina` files in it.
        max_to_keep: how many complete checkpoints to keep (the oldest are deleted after
            a new one is written; None keeps all).
    """

    def __init__(self, directory, max_to_keep=1):
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep < 1):
            raise ConfigurationError(f"CheckpointManager: expected max_to_keep >= 1 or None, "
                                     f"received {max_to_keep!r}.")
        self.directory = os.fspath(directory)
        self.max_to_keep = max_to_keep
        make_directory(self.directory, "CheckpointManager")

    def checkpoints(self):
        """(number, path) of every checkpoint file, oldest first (temporary files of
        interrupted writes are not checkpoints)."""
        found = []
        if not os.path.isdir(self.directory):
            return found
        for name in os.listdir(self.directory):
            match = _NAME.match(name)
            if match:
                found.append((int(match.group(1)), os.path.join(self.directory, name)))
        return sorted(found)

    def save(self, model, training, callback_arrays=None):
        """Write a new checkpoint (numbered after every existing one), then rotate."""
        make_directory(self.directory, "CheckpointManager")  # (delete_all may remove it)
        existing = self.checkpoints()
        number = existing[-1][0] + 1 if existing else 0
        path = os.path.join(self.directory, f"ckpt-{number:06d}.lamina")
        save_checkpoint(model, path, training, callback_arrays)
        if self.max_to_keep is not None and is_writer():
            for _, old in existing[:max(0, len(existing) + 1 - self.max_to_keep)]:
                _remove(old)
        return path

    def latest(self):
        """(path, training dict, members) of the newest checkpoint that reads back intact,
        or None. Damaged ones are skipped with a warning."""
        for _, path in reversed(self.checkpoints()):
            try:
                training, members = read_checkpoint(path)
            except SavingError as err:
                warnings.warn(f"Skipping a damaged checkpoint: {err}", RuntimeWarning,
                              stacklevel=2)
                continue
            return path, training, members
        return None

    def restore(self, model):
        """Restore `model` from the newest valid checkpoint; (path, training dict) or None."""
        found = self.latest()
        if found is None:
            return None
        path, training, members = found
        apply_checkpoint(model, path, training, members)
        return path, training

    def delete_all(self):
        """Remove every checkpoint and interrupted-write leftover, and the directory if it
        is then empty (process 0 only, in a multi-process run)."""
        if not os.path.isdir(self.directory) or not is_writer():
            return
        for _, path in self.checkpoints():
            _remove(path)
        for name in os.listdir(self.directory):
            if name.startswith(".tmp-") and name.endswith(".partial"):
                _remove(os.path.join(self.directory, name))
        try:
            os.rmdir(self.directory)
        except OSError:
            pass  # other files live there: they are not ours to remove


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
