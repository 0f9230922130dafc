"""Keras's `(x, y, sample_weight)` tuple helpers for custom `train_step`s."""
from lamina.errors import InputSpecError


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from a batch: a tuple or list of 1 to 3 items, missing ones
    None; anything else is `x` alone (`keras.utils.unpack_x_y_sample_weight`)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise InputSpecError(
            "unpack_x_y_sample_weight: expected (x,), (x, y) or (x, y, sample_weight), "
            f"received a tuple of {len(data)} items.")
    return data + (None,) * (3 - len(data))


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch tuple Keras builds: `x` alone (as `(x,)` when x is itself a tuple or list),
    `(x, y)`, or `(x, y, sample_weight)` (`keras.utils.pack_x_y_sample_weight`)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)
