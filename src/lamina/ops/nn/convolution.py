"""Keras's convolution ops: `conv`, `depthwise_conv`, `separable_conv`, `conv_transpose`.

Kernels have Keras's layouts: `(*window, in // groups, out)` for `conv`,
`(*window, in, multiplier)` for `depthwise_conv`, `(*window, out, in)` for `conv_transpose`.
Channels-last inputs go straight to the layers' lowering (`lamina.core.lowering.convolution`,
which picks XLA's convolution or im2col per backend); channels-first inputs are transposed to
channels-last and back.
"""
import jax

from lamina.core.lowering import convolution as lowering
from lamina.errors import ConfigurationError, InputSpecError
from lamina.ops.tensors import tensor

DATA_FORMATS = ("channels_last", "channels_first")


def data_format_of(data_format):
    """Keras's `data_format`, None meaning "channels_last"."""
    data_format = data_format or "channels_last"
    if data_format not in DATA_FORMATS:
        raise ConfigurationError(f"lamina.ops: data_format must be one of {DATA_FORMATS}. "
                                 f"Received: data_format={data_format!r}.")
    return data_format


def to_channels_last(x, data_format):
    if data_format == "channels_first":
        return x.transpose(0, *range(2, x.ndim), 1)
    return x


def from_channels_last(x, data_format):
    if data_format == "channels_first":
        return x.transpose(0, x.ndim - 1, *range(1, x.ndim - 1))
    return x


def spatial_tuple(value, rank):
    """An int or sequence as a tuple with one entry per spatial dimension."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


def _padding(padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ConfigurationError("lamina.ops: padding must be 'valid' or 'same'. "
                                 f"Received: padding={padding!r}.")
    return padding.lower()


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1 to 3 spatial dimensions); grouped when the input has a multiple of
    the kernel's input channels."""
    data_format = data_format_of(data_format)
    kernel = tensor(kernel)
    x = to_channels_last(tensor(inputs, kernel.dtype), data_format)
    rank = x.ndim - 2
    channels, kernel_in = x.shape[-1], kernel.shape[-2]
    if channels % kernel_in:
        raise InputSpecError(f"lamina.ops.conv: the input's {channels} channels are not a multiple "
                             f"of the kernel's {kernel_in} input channels (kernel shape "
                             f"{kernel.shape}). Give a kernel of shape (*window, {channels} // "
                             "groups, filters).")
    out = lowering.conv(x, kernel, spatial_tuple(strides, rank), _padding(padding),
                        spatial_tuple(dilation_rate, rank), groups=channels // kernel_in)
    if out.size == 0 and x.size != 0:
        raise InputSpecError(f"lamina.ops.conv: the output is empty: input spatial shape "
                             f"{x.shape[1:-1]} is too small for kernel {kernel.shape[:-2]}, "
                             f"strides={strides}, dilation_rate={dilation_rate}, "
                             f"padding={padding!r}. Use a larger input or padding='same'.")
    return from_channels_last(out, data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Depthwise convolution: each input channel convolved with its own `multiplier` filters."""
    data_format = data_format_of(data_format)
    kernel = tensor(kernel)
    x = to_channels_last(tensor(inputs), data_format)
    rank, channels = x.ndim - 2, x.shape[-1]
    if kernel.shape[-2] != channels:
        raise InputSpecError(f"lamina.ops.depthwise_conv: the kernel {kernel.shape} expects "
                             f"{kernel.shape[-2]} input channels, the input has {channels}. "
                             f"Give a kernel of shape (*window, {channels}, multiplier).")
    grouped = kernel.reshape(*kernel.shape[:-2], 1, channels * kernel.shape[-1])
    out = lowering.conv(x, grouped, spatial_tuple(strides, rank), _padding(padding),
                        spatial_tuple(dilation_rate, rank), groups=channels)
    return from_channels_last(out, data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """A depthwise convolution followed by a pointwise (1x1) convolution."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format,
                               dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, dilation_rate)


def transpose_padding(kernel, stride, dilation, padding, output_padding):
    """(low, high) padding of `jax.lax.conv_transpose` giving Keras's output length."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return span - 1, span - 1 + extra
    total = stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
    low = min(total // 2 + total % 2, span - 1)
    return low, total - low


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """N-D transposed convolution (the gradient of `conv` with respect to its input)."""
    data_format = data_format_of(data_format)
    kernel = tensor(kernel)
    x = to_channels_last(tensor(inputs), data_format)
    rank = x.ndim - 2
    if kernel.shape[-1] != x.shape[-1]:
        raise InputSpecError(f"lamina.ops.conv_transpose: the kernel {kernel.shape} expects "
                             f"{kernel.shape[-1]} input channels, the input has {x.shape[-1]}. "
                             f"Give a kernel of shape (*window, filters, {x.shape[-1]}).")
    strides, dilation = spatial_tuple(strides, rank), spatial_tuple(dilation_rate, rank)
    extras = (output_padding if output_padding is None or not isinstance(output_padding, int)
              else (output_padding,) * rank)
    pads = [transpose_padding(kernel.shape[i], strides[i], dilation[i], _padding(padding),
                              None if extras is None else extras[i]) for i in range(rank)]
    spatial = "DHW"[-rank:]
    numbers = (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")
    out = jax.lax.conv_transpose(x, kernel, strides, pads, rhs_dilation=dilation,
                                 dimension_numbers=numbers, transpose_kernel=True)
    return from_channels_last(out, data_format)
