"""Atomic file writes, shared by everything lamina saves (models, checkpoints, plots, histories).

A write goes to a temporary file beside the target, is fsynced and renamed over it, so an
interruption at any moment leaves the previous file intact.
"""
import os
import tempfile

import jax

from lamina.errors import SavingError


def is_writer():
    """True in the process that writes files: the only one, or process 0 of a multi-process
    (multi-host) run, where every process computes the same content."""
    return jax.process_index() == 0


def atomic_write(path, fill):
    """Call `fill(file)` on a temporary file beside `path`, fsync it, rename it over `path`.

    A failure at any point removes the temporary file and leaves `path` as it was. In a
    multi-process run only process 0 writes (see `is_writer`).
    """
    if not is_writer():
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise SavingError(f"Cannot save to '{path}': the directory '{directory}' does not exist.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".partial", dir=directory)
    except OSError as err:
        raise SavingError(f"Cannot save to '{path}': {err.strerror or err}.") from err
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise SavingError(f"Cannot save to '{path}': {err.strerror or err}. "
                          "Any existing file at that path was left untouched.") from err
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_directory(directory)


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
