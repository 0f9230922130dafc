"""The arguments of fit / evaluate / predict, checked and resolved (Keras's defaults and
rules: batch sizes, step counts, validation data and frequency, the finite-data check)."""
import numpy as np

from lamina import callbacks as callbacks_lib
from lamina.errors import InputSpecError
from lamina.training.data.arrays import ArrayData
from lamina.training.data.sources import adapt


def validation_data(validation_data, owner):
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise InputSpecError(
                "validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight), received a {type(validation_data).__name__} of "
                f"{len(validation_data)} items.")
        return ArrayData(*validation_data, owner=owner)
    return adapt(validation_data, None, None, owner, "validation_data")


def check_distributed(distribution, owner, batch_size, *datasets):
    """Fail before the first step when a batch would not split over the devices."""
    if distribution is not None:
        for data in datasets:
            if isinstance(data, ArrayData):
                distribution.check_data(data.n, batch_size, owner.name)


def batch_size(batch_size):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise InputSpecError(f"batch_size: expected a positive integer, received {batch_size!r}.")
    return int(batch_size)


def steps(value, name):
    if value is None:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise InputSpecError(f"{name}: expected a positive integer or None, received {value!r}.")
    return int(value)


def validation_due(epoch, freq):
    """Keras's `validation_freq`: every `freq` epochs (int) or after the listed epochs
    (1-based)."""
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool) and freq > 0:
        return (epoch + 1) % freq == 0
    if isinstance(freq, (list, tuple, set, range)):
        return epoch + 1 in freq
    raise InputSpecError(
        "validation_freq: expected a positive integer (validate every N epochs) or a list "
        f"of 1-based epoch numbers, received {freq!r}.")


def check_finite_default(check, callbacks):
    if check is not None:
        return bool(check)
    return not any(isinstance(cb, callbacks_lib.TerminateOnNaN) for cb in callbacks or [])
