"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Each is called on a list of tensors. Shapes are checked when the layer is built (so a
functional model with incompatible branches fails where it is defined) and on every call.

Element-wise merges broadcast as Keras 3 does: the batch sizes must agree, an input of lower
rank gets new axes after the batch axis, and the other axes broadcast (equal or 1).

Masks (Keras 3 rules): every merge layer supports masking. The mask of the output is the
OR of the input masks (a timestep is valid if it is valid in any input), and None when any
input has no mask. Maximum and Minimum ignore masked values (a masked value is replaced by
the other inputs'), Multiply treats them as 1 (and gives 0 where every input is masked).
Concatenate concatenates the masks (an input without mask counts as all valid) and reduces
over the last axis; Dot outputs no mask. A mask has an input's shape without its last axis.
"""
import jax
import jax.numpy as jnp

from lamina.core.layer import Layer
from lamina.errors import AbstractMethodError, ConfigurationError, InputSpecError


def _shape_list(inputs):
    return [tuple(x.shape) for x in inputs]


class _Merge(Layer):
    """Base of the merge layers: list checks, mask checks and the output mask."""

    supports_masking = True
    min_inputs, max_inputs = 1, None

    def _label(self):
        return f"{type(self).__name__} '{self.name}'"

    def _check_list(self, shapes):
        """Raise unless `shapes` is a list of shapes of an accepted length."""
        is_list = isinstance(shapes, (list, tuple)) and all(
            isinstance(s, (list, tuple)) for s in shapes)
        count = len(shapes) if is_list else None
        low, high = self.min_inputs, self.max_inputs
        if not is_list or count < low or (high is not None and count > high):
            wanted = (f"exactly {low}" if low == high
                      else f"at least {low}" if high is None else f"{low} to {high}")
            received = (f"{count} inputs with shapes {[tuple(s) for s in shapes]}" if is_list
                        else f"a single tensor of shape {tuple(shapes)}")
            raise InputSpecError(f"{self._label()}: expected a list of {wanted} tensors, "
                                 f"received {received}.")

    def _check_shapes(self, shapes):
        """Raise an InputSpecError naming the layer when `shapes` cannot be merged."""
        self._check_list(shapes)
        shapes = [tuple(s) for s in shapes]
        batch = {s[0] for s in shapes if s} - {None}
        if len(batch) > 1 or any(len(s) == 0 for s in shapes):
            raise InputSpecError(f"{self._label()}: expected inputs with a batch axis and one "
                                 f"batch size, received shapes {shapes}.")
        rank = max(len(s) for s in shapes)
        padded = [s[:1] + (1,) * (rank - len(s)) + s[1:] for s in shapes]
        for axis in range(1, rank):
            sizes = {s[axis] for s in padded} - {None, 1}
            if len(sizes) > 1:
                raise InputSpecError(
                    f"{self._label()}: expected shapes that broadcast (after the batch axis "
                    f"each axis equal or 1), received shapes {shapes}.")

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def check_input(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            self._check_list(tuple(inputs.shape))
        self._check_shapes(_shape_list(inputs))

    def _check_masks(self, inputs, mask, full_shape_ok=False):
        """The list of masks (None entries allowed), checked against the inputs."""
        if mask is None:
            return [None] * len(inputs)
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise InputSpecError(
                f"{self._label()}: expected a list of {len(inputs)} masks (one per input, None "
                f"for an input without mask), received {mask!r}.")
        for x, m in zip(inputs, mask, strict=True):
            if m is None:
                continue
            allowed = [tuple(x.shape[:-1])] + ([tuple(x.shape)] if full_shape_ok else [])
            if tuple(m.shape) not in allowed:
                raise InputSpecError(
                    f"{self._label()}: expected a mask of shape {allowed[0]} for the input of "
                    f"shape {tuple(x.shape)} (the input's shape without its last axis), "
                    f"received a mask of shape {tuple(m.shape)}.")
        return list(mask)

    @staticmethod
    def _aligned(inputs):
        """The inputs with new axes after the batch axis so that all have the same rank."""
        rank = max(x.ndim for x in inputs)
        return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]

    def call(self, inputs, mask=None):
        masks = self._check_masks(inputs, mask)
        return self._merge(self._aligned(list(inputs)), masks)

    def _merge(self, inputs, masks):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `_merge(self, inputs, masks)`: "
            "expected every subclass of _Merge to define it.")

    def compute_mask(self, inputs, previous_mask):
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)):
            return None
        masks = self._check_masks(inputs, previous_mask)
        if any(m is None for m in masks):
            return None
        out = masks[0]
        for m in masks[1:]:
            out = jnp.logical_or(out, m)
        return out


def _masked_fold(op, inputs, masks):
    """Keras 3's merge of masked inputs for ops without an identity (max, min): a masked value
    is replaced by the running result, and a masked running result by the new input."""
    output, output_mask = None, None
    for x, mask in zip(inputs, masks, strict=True):
        if mask is not None:
            mask = jnp.broadcast_to(mask[..., None], x.shape)
        if output is None:
            output, output_mask = x, mask
            continue
        if mask is not None:
            x = jnp.where(mask, x, output)
        if output_mask is not None:
            output = jnp.where(output_mask, output, x)
        output_mask = (jnp.logical_or(output_mask, mask)
                       if mask is not None and output_mask is not None else None)
        output = op(output, x)
    return output


class Add(_Merge):
    """Element-wise sum of the inputs."""

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """`inputs[0] - inputs[1]`, for exactly two inputs."""

    min_inputs = max_inputs = 2

    def _merge(self, inputs, masks):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Element-wise product. Masked values count as 1; where every input is masked the output
    is 0 (Keras 3)."""

    def _merge(self, inputs, masks):
        every_mask = all(m is not None for m in masks)
        output, output_mask = None, None
        for x, mask in zip(inputs, masks, strict=True):
            if mask is not None:
                mask = jnp.broadcast_to(mask[..., None], x.shape)
                x = jnp.where(mask, x, jnp.ones((), x.dtype))
                if every_mask:
                    output_mask = mask if output_mask is None else output_mask | mask
            output = x if output is None else output * x
        if every_mask:
            output = jnp.where(output_mask, output, jnp.zeros((), output.dtype))
        return output


class Average(_Merge):
    """Element-wise mean of the inputs."""

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Maximum(_Merge):
    """Element-wise maximum; masked values are ignored."""

    def _merge(self, inputs, masks):
        return _masked_fold(jnp.maximum, inputs, masks)


class Minimum(_Merge):
    """Element-wise minimum; masked values are ignored."""

    def _merge(self, inputs, masks):
        return _masked_fold(jnp.minimum, inputs, masks)


class Concatenate(_Merge):
    """Concatenates the inputs along `axis` (default the last); every other axis must match.

    The output mask is the concatenation of the input masks along `axis` (an input without a
    mask counts as all valid), reduced with `any` over the last axis, as in Keras 3: for a
    time axis this concatenates the timestep masks; for the feature axis it ORs them.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ConfigurationError(
                f"Concatenate '{self.name}': expected an integer `axis`, received "
                f"{axis!r} (of type {type(axis).__name__}).")
        self.axis = axis

    def _check_shapes(self, shapes):
        self._check_list(shapes)
        shapes = [tuple(s) for s in shapes]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise InputSpecError(
                f"Concatenate '{self.name}': expected inputs of one rank that has axis "
                f"{self.axis}, received shapes {shapes}.")
        axis = self.axis % rank
        for i in range(rank):
            sizes = {s[i] for s in shapes} - {None}
            if i != axis and len(sizes) > 1:
                raise InputSpecError(
                    f"Concatenate '{self.name}': expected shapes equal except on axis "
                    f"{self.axis}, received shapes {shapes} (they differ on axis {i}).")

    def call(self, inputs, mask=None):
        self._check_masks(inputs, mask, full_shape_ok=True)
        return jnp.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, previous_mask):
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)):
            return None
        masks = self._check_masks(inputs, previous_mask, full_shape_ok=True)
        if all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks, strict=True):
            if m is None:
                m = jnp.ones(x.shape, bool)
            elif m.ndim < x.ndim:
                m = jnp.broadcast_to(m[..., None], x.shape)
            full.append(m)
        return jnp.any(jnp.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot product of two inputs along one axis of each (Keras's `batch_dot`).

    Args:
        axes: an integer (the same axis of both inputs) or a pair `(axis_of_x, axis_of_y)`;
            negative values count from the end; the batch axis 0 cannot be used.
        normalize: L2-normalize both inputs along their dot axis first (the output is then
            the cosine similarity).

    Output: `x`'s shape without its dot axis, followed by `y`'s shape without its batch and
    dot axes; `(batch, 1)` when that would leave only the batch axis. No output mask.
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = axes if isinstance(axes, (list, tuple)) else (axes,)
        if (isinstance(axes, (list, tuple)) and len(axes) != 2) or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in pair):
            raise ConfigurationError(
                f"Dot '{self.name}': expected `axes` to be an integer or a pair "
                f"of integers, received {axes!r}.")
        self.axes = list(axes) if isinstance(axes, (list, tuple)) else axes
        self.normalize = bool(normalize)

    def _resolved_axes(self, ranks):
        pair = self.axes if isinstance(self.axes, list) else [self.axes] * 2
        return [a % r if -r <= a < r else None for a, r in zip(pair, ranks, strict=True)]

    def _check_shapes(self, shapes):
        self._check_list(shapes)
        shapes = [tuple(s) for s in shapes]
        ranks = [len(s) for s in shapes]
        axes = self._resolved_axes(ranks)
        if min(ranks) < 2 or None in axes or 0 in axes:
            raise InputSpecError(
                f"Dot '{self.name}': expected two inputs of rank >= 2 and axes {self.axes} "
                f"that are not the batch axis 0, received shapes {shapes}.")
        (a, b), (x, y) = axes, shapes
        if None not in (x[a], y[b]) and x[a] != y[b]:
            raise InputSpecError(
                f"Dot '{self.name}': expected equal sizes on the dot axes, received shapes "
                f"{shapes} with axes {axes} ({x[a]} != {y[b]}).")
        if None not in (x[0], y[0]) and x[0] != y[0]:
            raise InputSpecError(f"Dot '{self.name}': expected one batch size, received "
                                 f"shapes {shapes}.")

    @staticmethod
    def _l2_normalize(x, axis):
        # Keras: x * min(rsqrt(sum(x^2)), 1 / epsilon), epsilon = 1e-7
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv_norm, 1e7)

    def call(self, inputs, mask=None):
        x, y = inputs
        a, b = self._resolved_axes([x.ndim, y.ndim])
        if self.normalize:
            x, y = self._l2_normalize(x, a), self._l2_normalize(y, b)
        out = jax.lax.dot_general(x, y, (((a,), (b,)), ((0,), (0,))))
        return out[:, None] if out.ndim == 1 else out

    def compute_mask(self, inputs, previous_mask):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


LAYERS = (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot)


# -- Keras's functional forms: a new layer applied to `inputs` (symbolic or arrays) ------
def add(inputs, **kwargs):
    """`Add(**kwargs)(inputs)`: the element-wise sum of the inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`Subtract(**kwargs)(inputs)`: the first of two inputs minus the second."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """`Multiply(**kwargs)(inputs)`: the element-wise product of the inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """`Average(**kwargs)(inputs)`: the element-wise mean of the inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """`Maximum(**kwargs)(inputs)`: the element-wise maximum of the inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """`Minimum(**kwargs)(inputs)`: the element-wise minimum of the inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """`Concatenate(axis=axis, **kwargs)(inputs)`: the inputs joined along `axis`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """`Dot(axes=axes, normalize=normalize, **kwargs)(inputs)`: the per-sample dot product
    of two inputs."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
