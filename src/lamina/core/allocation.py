"""An optional bound on the bytes that new variables may allocate (used while loading files).

Loading a model builds it from a config read from a file before its weights are read; a
hostile config could declare enormous layers. The loader sets a budget equal to the weight
bytes the file actually holds, and `Layer.add_weight` charges every new variable to it.
"""
import contextlib
import contextvars

from lamina.errors import SavingError

# [bytes left, source named in errors], or None when no budget is set
_BUDGET: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "lamina_allocation_budget", default=None)


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
