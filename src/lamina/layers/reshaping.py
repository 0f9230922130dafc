"""Reshaping layers with Keras 3 names, arguments and defaults: Flatten, Reshape, Permute,
RepeatVector, UpSampling1D/2D, ZeroPadding1D/2D and Cropping1D/2D.

Shapes in docstrings exclude nothing: `(batch, steps, features)` is the full input shape.
Image layers take `data_format="channels_last"` (default) or `"channels_first"`.

Masks: as in Keras 3, none of these layers supports masking; a mask reaching one is dropped
(with a warning) and the layers after it see none.
"""
import math

import jax
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import ConfigurationError, InputSpecError

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


def _label(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _int_pair(layer, value, what, minimum):
    """`value` (an int, or a pair of ints) as a pair of ints >= `minimum`."""
    pair = (value, value) if _is_int(value) else value
    if (not isinstance(pair, (list, tuple)) or len(pair) != 2
            or not all(_is_int(v) and v >= minimum for v in pair)):
        raise ConfigurationError(
            f"{_label(layer)}: expected `{what}` to be an int or a pair of ints, "
            f"each >= {minimum}; received {value!r}.")
    return tuple(pair)


def _pair_of_pairs(layer, value, what):
    """`value` (int, `(sym_h, sym_w)` or `((top, bottom), (left, right))`) as a pair of
    pairs of non-negative ints."""
    if _is_int(value):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigurationError(
            f"{_label(layer)}: expected `{what}` to be an int, a pair of ints or a pair of "
            f"pairs of ints ((top, bottom), (left, right)); received {value!r}.")
    return tuple(_int_pair(layer, v, what, 0) for v in value)


def _data_format(layer, data_format):
    data_format = "channels_last" if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ConfigurationError(
            f"{_label(layer)}: expected `data_format` 'channels_last' or "
            f"'channels_first', received {data_format!r}.")
    return data_format


def _check_rank(layer, shape, ndim, what):
    if len(shape) != ndim:
        raise InputSpecError(f"{_label(layer)}: expected {ndim}D inputs {what}, received "
                             f"shape {tuple(shape)}.")


def _tracing_shape(layer, inputs):
    """The input shape, with the axes that were unknown when the layer was built set to None
    while tracing (symbolic shapes stand in for unknown sizes with placeholders)."""
    shape = tuple(inputs.shape)
    if isinstance(inputs, jax.core.Tracer):
        return tuple(None if i in layer._unknown_axes else d for i, d in enumerate(shape))
    return shape


class Flatten(Layer):
    """Flattens every axis but the batch axis: `(batch, ...)` -> `(batch, prod(...))`.

    Inputs of shape `(batch,)` become `(batch, 1)`. With `data_format="channels_first"` the
    channel axis (axis 1) is moved last before flattening, so the order of the values matches
    a channels-last model.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = jnp.moveaxis(inputs, 1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes to `(batch,) + target_shape`; one entry of `target_shape` may be -1 (inferred).

    The number of values per sample must be unchanged.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or not all(
                _is_int(d) and d >= -1 for d in self.target_shape):
            raise ConfigurationError(
                f"{_label(self)}: expected non-negative dimensions and at most one -1, "
                f"received target_shape {self.target_shape}.")

    def check_input(self, inputs):
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        ok = (known > 0 and size % known == 0) if -1 in self.target_shape else known == size
        if not ok:
            raise InputSpecError(
                f"{_label(self)}: cannot reshape input of shape {tuple(inputs.shape)} "
                f"({size} values per sample) to target shape {self.target_shape}.")

    def call(self, inputs):
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the non-batch axes: `dims` is a permutation of `1 .. rank - 1` (1-based, the
    batch axis excluded). `Permute((2, 1))` maps `(batch, a, b)` to `(batch, b, a)`."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ConfigurationError(
                f"{_label(self)}: expected `dims` to be a permutation of 1..{len(self.dims)} "
                f"(axes counted from 1, the batch axis excluded), received {self.dims}.")

    def build(self, input_shape):
        _check_rank(self, input_shape, len(self.dims) + 1, f"for dims {self.dims}")

    def check_input(self, inputs):
        _check_rank(self, inputs.shape, len(self.dims) + 1, f"for dims {self.dims}")

    def call(self, inputs):
        return jnp.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n) or n <= 0:
            raise ConfigurationError(
                f"{_label(self)}: expected a positive integer `n`, received {n!r}.")
        self.n = n

    def build(self, input_shape):
        _check_rank(self, input_shape, 2, "(batch, features)")

    def check_input(self, inputs):
        _check_rank(self, inputs.shape, 2, "(batch, features)")

    def call(self, inputs):
        return jnp.repeat(inputs[:, None, :], self.n, axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class UpSampling1D(Layer):
    """Repeats each step `size` times: `(batch, steps, features)` ->
    `(batch, steps * size, features)`."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(size) or size <= 0:
            raise ConfigurationError(
                f"{_label(self)}: expected a positive integer `size`, "
                f"received {size!r}.")
        self.size = size

    def build(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, features)")

    def check_input(self, inputs):
        _check_rank(self, inputs.shape, 3, "(batch, steps, features)")

    def call(self, inputs):
        return jnp.repeat(inputs, self.size, axis=1)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class _Spatial2D(Layer):
    """Shared part of the 2D image layers: data format, rank check and the spatial axes."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(self, data_format)

    @property
    def _spatial_axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def _check(self, shape):
        order = ("(batch, channels, rows, cols)" if self.data_format == "channels_first"
                 else "(batch, rows, cols, channels)")
        _check_rank(self, shape, 4, f"{order} ({self.data_format})")

    def build(self, input_shape):
        self._check(input_shape)

    def check_input(self, inputs):
        self._check(inputs.shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class UpSampling2D(_Spatial2D):
    """Upsamples rows by `size[0]` and columns by `size[1]`.

    `interpolation="nearest"` repeats rows and columns; `"bilinear"`, `"bicubic"`,
    `"lanczos3"` and `"lanczos5"` resize with half-pixel centers (as Keras 3 and
    `tf.image.resize`), without antialiasing.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.size = _int_pair(self, size, "size", 1)
        interpolation = interpolation.lower() if isinstance(interpolation, str) else None
        if interpolation not in _INTERPOLATIONS:
            raise ConfigurationError(
                f"{_label(self)}: expected `interpolation` in {_INTERPOLATIONS}, "
                f"received {interpolation!r}.")
        self.interpolation = interpolation

    def call(self, inputs):
        (rows, cols), (sh, sw) = self._spatial_axes, self.size
        if self.interpolation == "nearest":
            return jnp.repeat(jnp.repeat(inputs, sh, axis=rows), sw, axis=cols)
        shape = list(inputs.shape)
        shape[rows], shape[cols] = shape[rows] * sh, shape[cols] * sw
        return jax.image.resize(inputs, tuple(shape), method=self.interpolation,
                                antialias=False)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "interpolation": self.interpolation}


class ZeroPadding1D(Layer):
    """Adds zeros at the start and end of the steps axis.

    Args:
        padding: an int (both ends) or `(start, end)`.
        data_format: "channels_last" `(batch, steps, features)` or "channels_first"
            `(batch, features, steps)`.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _int_pair(self, padding, "padding", 0)
        self.data_format = _data_format(self, data_format)

    def build(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, features)")

    def check_input(self, inputs):
        _check_rank(self, inputs.shape, 3, "(batch, steps, features)")

    def call(self, inputs):
        pads = [(0, 0)] * 3
        pads[2 if self.data_format == "channels_first" else 1] = self.padding
        return jnp.pad(inputs, pads)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}


class ZeroPadding2D(_Spatial2D):
    """Adds rows and columns of zeros around images.

    `padding` is an int (all sides), `(rows, cols)` (symmetric) or
    `((top, bottom), (left, right))`.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = _pair_of_pairs(self, padding, "padding")

    def call(self, inputs):
        pads = [(0, 0)] * 4
        for axis, pad in zip(self._spatial_axes, self.padding, strict=True):
            pads[axis] = pad
        return jnp.pad(inputs, pads)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _check_cropping(layer, shape, crops):
    """Raise unless every cropped axis keeps at least one entry. `crops`: axis -> pair."""
    for axis, (start, end) in crops.items():
        if shape[axis] is not None and start + end >= shape[axis]:
            raise InputSpecError(
                f"{_label(layer)}: cropping ({start}, {end}) removes {start + end} of the "
                f"{shape[axis]} entries of axis {axis} of inputs of shape {tuple(shape)}; "
                "expected to crop fewer entries than the axis has. Reduce `cropping` or pass "
                "larger inputs.")


def _crop(inputs, crops):
    index = [slice(None)] * inputs.ndim
    for axis, (start, end) in crops.items():
        index[axis] = slice(start, inputs.shape[axis] - end)
    return inputs[tuple(index)]


class Cropping1D(Layer):
    """Removes `cropping = (start, end)` steps (or an int, both ends) from a
    `(batch, steps, features)` input."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _int_pair(self, cropping, "cropping", 0)

    def build(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, features)")
        _check_cropping(self, input_shape, {1: self.cropping})
        self._unknown_axes = {i for i, d in enumerate(input_shape) if d is None}

    def check_input(self, inputs):
        _check_rank(self, inputs.shape, 3, "(batch, steps, features)")
        _check_cropping(self, _tracing_shape(self, inputs), {1: self.cropping})

    def call(self, inputs):
        return _crop(inputs, {1: self.cropping})

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(_Spatial2D):
    """Removes rows and columns at the image borders.

    `cropping` is an int (all sides), `(rows, cols)` (symmetric) or
    `((top, bottom), (left, right))`.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = _pair_of_pairs(self, cropping, "cropping")

    @property
    def _crops(self):
        return dict(zip(self._spatial_axes, self.cropping, strict=True))

    def build(self, input_shape):
        super().build(input_shape)
        _check_cropping(self, input_shape, self._crops)
        self._unknown_axes = {i for i, d in enumerate(input_shape) if d is None}

    def check_input(self, inputs):
        super().check_input(inputs)
        _check_cropping(self, _tracing_shape(self, inputs), self._crops)

    def call(self, inputs):
        return _crop(inputs, self._crops)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


LAYERS = (Flatten, Reshape, Permute, RepeatVector, UpSampling1D, UpSampling2D, ZeroPadding1D,
          ZeroPadding2D, Cropping1D, Cropping2D)
