"""Argument checks and output lengths shared by the sliding-window layers (convolution and
pooling), with Keras 3's rules and error messages naming the layer.

Inputs are channels-last, `(batch, *spatial, channels)`; channels-first is refused.
"""
import numpy as np

from lamina.errors import ConfigurationError, InputSpecError

_SPATIAL = {1: "steps", 2: "height, width", 3: "depth, height, width"}


def _label(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def normalize_tuple(layer, value, rank, arg, minimum=1):
    """`value` (one int, or `rank` ints) as a tuple of `rank` Python ints >= `minimum`."""
    values = (value,) * rank if _is_int(value) else value
    if not (isinstance(values, (tuple, list)) and len(values) == rank
            and all(_is_int(v) and v >= minimum for v in values)):
        raise ConfigurationError(
            f"{_label(layer)}: expected `{arg}` to be an integer >= {minimum} or a tuple of "
            f"{rank} such integers, received {arg}={value!r}.")
    return tuple(int(v) for v in values)


def positive_int(layer, value, arg):
    if not _is_int(value) or value <= 0:
        raise ConfigurationError(
            f"{_label(layer)}: expected a positive integer `{arg}`, received "
            f"{arg}={value!r}.")
    return int(value)


def check_data_format(layer, data_format):
    """Only channels-last is implemented; channels-first is refused, never ignored."""
    if data_format not in (None, "channels_last"):
        raise ConfigurationError(
            f"{_label(layer)}: only data_format='channels_last' (inputs of shape "
            f"(batch, *spatial, channels)) is supported, received data_format={data_format!r}. "
            "Move the channels axis last first, e.g. with jnp.moveaxis(x, 1, -1).")
    return "channels_last"


def check_padding(layer, padding, allowed):
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ConfigurationError(
            f"{_label(layer)}: expected `padding` to be one of "
            f"{', '.join(repr(p) for p in allowed)}, received padding={padding!r}.")
    return value


def check_rank(layer, shape, rank):
    """Raise unless `shape` is `(batch, *spatial, channels)` with `rank` spatial axes."""
    if len(shape) != rank + 2:
        raise InputSpecError(
            f"{_label(layer)}: expected an input of rank {rank + 2} (batch, {_SPATIAL[rank]}, "
            f"channels), received shape {tuple(shape)} (rank {len(shape)}).")


def output_length(length, window, stride, dilation, padding):
    """Keras's output length of a convolution or pooling along one axis (None stays None)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - (window - 1) * dilation - 1) // stride + 1
    return -(-length // stride)  # "same", and "causal" (left padding, then "valid")


def check_output_size(layer, shape, spatial_out, window):
    """Raise when an output axis would be empty (`window` describes the window options)."""
    if any(n is not None and n <= 0 for n in spatial_out):
        raise InputSpecError(
            f"{_label(layer)}: the input of shape {tuple(shape)} is too small for {window} with "
            f"padding '{layer.padding}': the output would have spatial shape "
            f"{tuple(spatial_out)}. Use a larger input, a smaller window, or padding='same'.")

