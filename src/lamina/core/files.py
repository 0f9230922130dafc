"""Atomic file writes, shared by everything lamina saves (models, checkpoints, plots, histories).

A write goes to a temporary file beside the target, is fsynced and renamed over it, so an
interruption at any moment leaves the previous file intact. Three further rules:

- **Mode.** The saved file gets the mode a plain `open(path, "w")` would give it:
  0666 less the process's umask (not the 0600 of a temporary file).
- **Symlinks are written through.** When the target is a symbolic link, the file it points
  to is replaced and the link is kept (as `open(path, "w")` would write through it); a
  link whose target's directory does not exist is a `SavingError`.
- **Leftovers are cleaned.** The temporary file is named `.tmp-<target name>.<host>.<pid>.
  <random>.partial`. A process killed during a save leaves it behind; the next save to the
  same target removes the leftovers of processes of this host that no longer run.
"""
import os
import socket
import tempfile

import jax

from lamina.errors import SavingError

PARTIAL_SUFFIX = ".partial"


def is_writer():
    """True in the process that writes files: the only one, or process 0 of a multi-process
    (multi-host) run, where every process computes the same content."""
    return jax.process_index() == 0


def make_directory(directory, what):
    """Create `directory` (and its parents) if missing; a failure is a `SavingError` that
    names the folder and `what` needed it."""
    directory = os.fspath(directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise SavingError(f"{what}: cannot create the folder '{directory}': "
                          f"{err.strerror or err}. Choose a folder you can write to.") from err
    if not os.path.isdir(directory):
        raise SavingError(f"{what}: '{directory}' exists and is not a folder.")


def _host():
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"


def _temp_prefix(path):
    return f".tmp-{os.path.basename(path)}.{_host()}."


def _umask_mode():
    """0666 less the umask (read from /proc on Linux: setting it to read it is not
    thread-safe)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: alive
    return True


def remove_stale_partials(path):
    """Remove the temporary files that saves to `path` by dead processes of this host left."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(PARTIAL_SUFFIX)):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass  # gone already, or not ours to remove


def _resolve_target(path):
    """The file a write to `path` replaces: the end of a symlink chain, else `path`."""
    if not os.path.islink(path):
        return path
    target = os.path.realpath(path)
    if not os.path.isdir(os.path.dirname(target)):
        raise SavingError(f"Cannot save to '{path}': it is a symbolic link to '{target}', "
                          "whose folder does not exist.")
    return target


def atomic_write(path, fill):
    """Call `fill(file)` on a temporary file beside `path`, fsync it, rename it over `path`.

    A failure at any point removes the temporary file and leaves `path` as it was. In a
    multi-process run only process 0 writes (see `is_writer`).
    """
    if not is_writer():
        return
    path = os.fspath(path)
    target = _resolve_target(path)
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise SavingError(f"Cannot save to '{path}': the directory '{directory}' does not exist.")
    remove_stale_partials(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(target)}{os.getpid()}.",
                                   suffix=PARTIAL_SUFFIX, dir=directory)
    except OSError as err:
        raise SavingError(f"Cannot save to '{path}': {err.strerror or err}.") from err
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fchmod(f.fileno(), _umask_mode())
            os.fsync(f.fileno())
        os.replace(tmp, target)
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
