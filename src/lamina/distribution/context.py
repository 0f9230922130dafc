"""The scoped distribution setting: a context variable, never a process-wide global.

Which distribution a call uses (one rule, read at every fit / evaluate / predict /
*_on_batch call):

1. the one given to `model.compile(..., distribution=...)`, if any;
2. otherwise the innermost `with lamina.distribution.scope(d):` active at the call;
3. otherwise none: the single-device code path, unchanged.

The compile argument wins because it is attached to the model on purpose; a scope is the
ambient default for every model that did not choose.
"""
import contextlib
import contextvars

_CURRENT = contextvars.ContextVar("lamina_distribution", default=None)


def current():
    """The distribution of the innermost active `scope`, or None."""
    return _CURRENT.get()


def active(explicit):
    """The distribution a call runs with: `explicit` (from compile) or the scope's."""
    return explicit if explicit is not None else _CURRENT.get()


@contextlib.contextmanager
def entered(distribution):
    """Make `distribution` the current one inside the block (`lamina.distribution.scope`
    checks it first)."""
    token = _CURRENT.set(distribution)
    try:
        yield distribution
    finally:
        _CURRENT.reset(token)
