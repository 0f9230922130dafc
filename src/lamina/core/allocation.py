"""The allocation budget: bounds on the memory a file can make lamina allocate, checked
before the allocation happens.

Every path from a file to memory goes through one of these checks:

- **the load limit** (`load_limit()`, default 8 GiB; `set_load_limit(n)` or the block
  `load_limit_set(n)`): the largest file lamina reads whole, the largest member it
  decompresses or reads, the largest HDF5 dataset it materializes. A file larger than the
  limit is refused from its size on disk, before it is read;
- **the weights budget** (`budget(nbytes, source)`): while a model is built from a file's
  config, its layers may allocate only the weight bytes the file actually holds (plus a
  little slack), charged by `Layer.add_weight` (`charge`);
- **the state budget** (`STATE_BYTES`): what a compile config may allocate beyond the
  weights (metric states such as AUC's thresholds, a confusion matrix), estimated with
  `jax.eval_shape` (nothing allocated) and checked with `check`;
- **declared sizes**: a compressed member may expand at most `MAX_COMPRESSION_RATIO`
  times its compressed size, and it is read in chunks that stop at its declared size.
- **bytes present**: weights and optimizer state are copied out of safetensors members
  whose every declared tensor must lie inside the member's bytes (`saving/tensors.py`), and
  HDF5 datasets must have been written in full (`saving/keras/files.py`); the optimizer
  state a compile creates is sized by the weights, which the weights budget bounds.

Every refusal is a `SavingError` naming the file and what would have been allocated.
"""
import contextlib
import contextvars

from lamina.errors import ConfigurationError, SavingError

DEFAULT_LOAD_LIMIT = 8 * 1024 ** 3
STATE_BYTES = 64 * 1024 ** 2
# deflate expands at most ~1032x; real weights (random floats) compress less than 2x, so a
# member claiming more is a decompression bomb (Keras's own guard uses the same ratio; the
# zeros of a fresh model compress further, but only members above MIN_RATIO_CHECK_BYTES
# are held to the ratio)
MAX_COMPRESSION_RATIO = 100
MIN_RATIO_CHECK_BYTES = 16 * 1024 ** 2

# [bytes left, source named in errors], or None when no budget is set
_BUDGET: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "lamina_allocation_budget", default=None)
_LIMIT = [DEFAULT_LOAD_LIMIT]
_SCOPED_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "lamina_load_limit", default=None)


def load_limit():
    """The largest number of bytes one file may make lamina read or allocate at once."""
    scoped = _SCOPED_LIMIT.get()
    return _LIMIT[0] if scoped is None else scoped


def _checked_limit(nbytes):
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes <= 0:
        raise ConfigurationError(f"The load limit must be a positive number of bytes; "
                                 f"received {nbytes!r}.")
    return nbytes


def set_load_limit(nbytes):
    """Set the load limit for this process (bytes); returns the previous one."""
    previous, _LIMIT[0] = _LIMIT[0], _checked_limit(nbytes)
    return previous


@contextlib.contextmanager
def load_limit_set(nbytes):
    """Within this block (this thread or task), the load limit is `nbytes`."""
    token = _SCOPED_LIMIT.set(_checked_limit(nbytes))
    try:
        yield
    finally:
        _SCOPED_LIMIT.reset(token)


def check(nbytes, what, source, limit=None):
    """Refuse, before it happens, an allocation of `nbytes` for `what` read from `source`
    when it exceeds `limit` (default: the load limit)."""
    limit = load_limit() if limit is None else min(limit, load_limit())
    if nbytes > limit:
        raise SavingError(
            f"{source}: {what} would allocate {nbytes:,} bytes, more than the {limit:,} "
            "allowed; nothing was allocated. The file is hostile or damaged, or needs a "
            "larger bound (lamina.core.allocation.set_load_limit).")


def check_file_size(path, size):
    """Refuse a file larger than the load limit before reading it."""
    check(size, f"reading the whole file ({size:,} bytes)", f"'{path}'")


@contextlib.contextmanager
def budget(nbytes, source):
    """Within this block, variables may allocate at most `nbytes` bytes in all."""
    token = _BUDGET.set([nbytes, source])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def charge(nbytes, what):
    state = _BUDGET.get()
    if state is None:
        return
    if nbytes > state[0]:
        raise SavingError(
            f"{state[1]}: building {what} would allocate {nbytes:,} bytes, more than the "
            f"{state[0]:,} bytes of weights left in the file. The config does not match its "
            "weights (or the file is hostile); nothing was allocated."
        )
    state[0] -= nbytes
