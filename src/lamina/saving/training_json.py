"""The fields of a checkpoint's `training.json`, validated before a resume uses any of them.

A checkpoint's checksums prove only that its members are the bytes that were written; a
file written by another program (or edited and re-signed) can still hold fields of the wrong
type or range. `validate(path, training)` checks every field a resume reads (types, ranges,
lengths, the shuffling generator's state) and raises a `SavingError` naming the file and the
field, so a resume never starts from nonsense.
"""
import math
import numbers
from typing import NoReturn

import numpy as np

from lamina.errors import SavingError

_MAX_COUNT = 2**62  # epochs, batches, steps: beyond any real run, within numpy's int64


def _fail(path, field, expected, value) -> NoReturn:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise SavingError(f"'{path}': training.json field {field!r}: expected {expected}, "
                      f"received {shown}. The checkpoint is damaged or was not written by "
                      "lamina; delete it to start over.")


def _count(value):
    return type(value) is int and 0 <= value <= _MAX_COUNT


def _number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _rng_state(path, value):
    """A numpy bit generator's state: accepted only if a generator takes it."""
    if not isinstance(value, dict) or not isinstance(value.get("bit_generator"), str):
        _fail(path, "epoch_rng_state", "a numpy bit generator state (a dict)", value)
    generator = getattr(np.random, value["bit_generator"], None)
    if (not isinstance(generator, type) or not issubclass(generator, np.random.BitGenerator)):
        _fail(path, "epoch_rng_state", "the state of a numpy bit generator", value)
    try:
        generator().state = value
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        _fail(path, "epoch_rng_state", f"a valid {value['bit_generator']} state ({err})",
              value)


def _history(path, value):
    if value is None:
        return
    if (not isinstance(value, dict) or set(value) != {"epoch", "history"}
            or not isinstance(value["epoch"], list) or not all(map(_count, value["epoch"]))
            or not isinstance(value["history"], dict)):
        _fail(path, "history", "null or {'epoch': [epoch numbers], 'history': {name: "
              "[values]}}", value)
    for name, values in value["history"].items():
        if not isinstance(values, list) or not all(
                v is None or isinstance(v, (numbers.Real, list)) for v in values):
            _fail(path, f"history.{name}", "a list of numbers", values)


def validate(path, training):
    """Raise a `SavingError` naming `path` and the field unless every field of `training`
    (the parsed `training.json`) has the type and range a resume needs."""
    for field in ("epoch", "batch", "iterations"):
        if not _count(training.get(field)):
            _fail(path, field, "a non-negative integer", training.get(field))
    _rng_state(path, training.get("epoch_rng_state"))
    rate = training.get("learning_rate")
    if rate is not None and not (_number(rate) and rate >= 0):
        _fail(path, "learning_rate", "null or a finite number >= 0", rate)
    names, logs = training.get("log_names"), training.get("logs")
    if names is not None and (not isinstance(names, list)
                              or not all(isinstance(n, str) for n in names)):
        _fail(path, "log_names", "null or a list of names", names)
    if logs is not None:
        if not isinstance(logs, list) or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in logs):
            _fail(path, "logs", "null or a list of numbers", logs)
        if names is not None and len(names) != len(logs):
            _fail(path, "logs", f"one value per log name ({len(names)})", logs)
    stream = training.get("random")
    if stream is not None and not (isinstance(stream, dict) and set(stream) >= {"seed", "count"}
                                   and _count(stream["seed"]) and _count(stream["count"])):
        _fail(path, "random", "null or {'seed': int >= 0, 'count': int >= 0}", stream)
    _history(path, training.get("history"))
    callbacks = training.get("callbacks")
    if callbacks is not None and not (isinstance(callbacks, dict) and all(
            isinstance(k, str) and isinstance(v, dict) for k, v in callbacks.items())):
        _fail(path, "callbacks", "null or {callback key: state dict}", callbacks)
