"""Keras's `rearrange`: einops-style reshapes and transposes, e.g.
`rearrange(x, "b h w c -> b (h w) c")` or `rearrange(x, "b (h w) c -> b h w c", h=4)`.

Named axes only (no `...`, no literal `1`), as in Keras.
"""
import math
import re

from lamina.errors import ConfigurationError
from lamina.ops.tensors import tensor as to_tensor

_GROUP = re.compile(r"\([^()]*\)|\w+")


def _groups(side):
    """'b (h w) c' -> [['b'], ['h', 'w'], ['c']]."""
    return [token.strip("()").split() for token in _GROUP.findall(side)]


def _sizes(inputs, shape, lengths):
    """The size of every elementary axis of the left-hand side."""
    sizes = dict(lengths)
    for group, dim in zip(inputs, shape, strict=True):
        unknown = [axis for axis in group if axis not in sizes]
        if len(unknown) > 1:
            raise ConfigurationError(f"lamina.ops.rearrange: axes {unknown} of group {group} "
                                     "need their lengths (pass all but one as keywords).")
        if unknown:
            known = math.prod(sizes[axis] for axis in group if axis != unknown[0])
            sizes[unknown[0]] = dim // known
    return sizes


def rearrange(tensor, pattern, **axes_lengths):
    """Rearrange the axes of a tensor following an einops `pattern` ("in -> out")."""
    x = to_tensor(tensor)
    if "->" not in pattern:
        raise ConfigurationError("lamina.ops.rearrange: the pattern must read 'input -> output'. "
                                 f"Received: {pattern!r}.")
    left, right = (_groups(side) for side in pattern.split("->"))
    if len(left) != x.ndim:
        raise ConfigurationError(f"lamina.ops.rearrange: the pattern's input {left} names "
                                 f"{len(left)} axes, the tensor has {x.ndim} (shape {x.shape}).")
    sizes = _sizes(left, x.shape, axes_lengths)
    elementary = [axis for group in left for axis in group]
    x = x.reshape([sizes[axis] for axis in elementary])
    x = x.transpose([elementary.index(axis) for group in right for axis in group])
    return x.reshape([math.prod(sizes[axis] for axis in group) for group in right])
