"""The callbacks of fit / evaluate / predict: the progress bar added as Keras adds it,
which hooks the loops must call, and the bars an exception leaves drawing."""
import contextlib

import jax

from lamina import callbacks as callbacks_lib
from lamina.callbacks.progress import resolve_verbose


def progress_verbose(verbose):
    """`verbose` resolved ("auto" is 1); only process 0 of a multi-process run reports
    progress."""
    verbose = resolve_verbose(verbose)
    return verbose if jax.process_index() == 0 else 0


def with_progbar(callbacks, verbose):
    """The callbacks, with a `ProgbarLogger` appended when `verbose != 0` and none is
    given (Keras 3's `CallbackList(add_progbar=verbose != 0)`)."""
    callbacks = list(callbacks or [])
    if verbose and not any(isinstance(c, callbacks_lib.ProgbarLogger) for c in callbacks):
        callbacks.append(callbacks_lib.ProgbarLogger())
    return callbacks


def overrides(callbacks, hook):
    """Whether a callback defines `hook` (as a method or an attribute, as CallbackList)."""
    base = getattr(callbacks_lib.Callback, hook)
    return any(getattr(getattr(c, hook), "__func__", None) is not base for c in callbacks)


def needs_batch_logs(callbacks):
    """Whether a callback reads every batch's logs. `ProgbarLogger` does not: it draws once
    per compiled call, from the call's last logs, which it always gets."""
    return overrides([c for c in callbacks if not isinstance(c, callbacks_lib.ProgbarLogger)],
                     "on_train_batch_end")


@contextlib.contextmanager
def progress_closed_on_error(cbs):
    """Stop the progress bars that an exception (KeyboardInterrupt included) leaves drawing,
    so the terminal gets its cursor and lines back; the exception goes on."""
    try:
        yield
    except BaseException:
        for callback in cbs.callbacks:
            if isinstance(callback, callbacks_lib.ProgbarLogger):
                callback.abort()
        raise
