"""N-D convolution over channels-last inputs with Keras's kernel layout.

`conv` is the one entry point every convolutional layer calls, so the choice of lowering
(XLA's own convolution, or another formulation that is faster on a given backend) lives here.
"""
import jax


def _dimension_numbers(rank):
    spatial = "DHW"[-rank:] if rank <= 3 else None
    if spatial is None:
        raise ValueError(f"conv: expected 1 to 3 spatial dimensions, received {rank}.")
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


def conv(x, kernel, strides, padding, dilation_rate, groups=1):
    """Convolve `x` (batch, *spatial, in) with `kernel` (*window, in // groups, out).

    `strides` and `dilation_rate` are tuples with one entry per spatial dimension; `padding` is
    "valid", "same" or explicit `((low, high), ...)` pairs.
    """
    rank = x.ndim - 2
    pad = padding.upper() if isinstance(padding, str) else tuple(padding)
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=tuple(strides), padding=pad,
        rhs_dilation=tuple(dilation_rate), dimension_numbers=_dimension_numbers(rank),
        feature_group_count=groups,
    )
