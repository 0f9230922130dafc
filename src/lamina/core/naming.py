"""Unique automatic names ("dense", "dense_1", ...), kept in one resettable registry."""
import re
from collections import defaultdict

_COUNTS: dict[str, int] = defaultdict(int)


def to_snake_case(name):
    """Keras's `to_snake_case`: "Conv2D" -> "conv2d", "SpatialDropout1D" ->
    "spatial_dropout1d", "MultiHeadAttention" -> "multi_head_attention"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """`base` the first time, then `base_1`, `base_2`, ..."""
    n = _COUNTS[base]
    _COUNTS[base] += 1
    return base if n == 0 else f"{base}_{n}"


def reset_names():
    """Forget every name handed out, so the next Dense is called "dense" again."""
    _COUNTS.clear()
