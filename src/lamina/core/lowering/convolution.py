"""N-D convolution and transposed convolution over channels-last inputs, Keras's kernel
layouts, with the lowering chosen per shape at trace time.

`conv` is the one entry point of every convolutional layer, `conv_transpose` that of the
transposed layers. The lowerings are in `conv_paths` ("xla", "patches", "hybrid") and, for
transposes, "xla" (`jax.lax.conv_transpose`) or "dilated" (the input dilated by the strides
with zeros, then `conv` with the flipped kernel, whose own lowering is chosen in turn).

How the lowering is chosen (`plan`), by the environment variable `LAMINA_CONV_LOWERING`:

- "auto" (default): on CPU, a convolution of at least `MIN_TUNE_FLOPS` is autotuned
  (`autotune.choose`): the candidates are compiled and timed once per shape and machine on
  random inputs, separately for plain evaluation and for the forward + backward pass, and
  the winners are cached in memory and on disk (`tuning_cache`). XLA's own lowering is a
  candidate and wins ties, so a convolution is never lowered to something measured slower
  than XLA's. Smaller convolutions, where timing would cost more than it can save, take the
  "heuristic" choice. Off CPU every convolution is XLA's (cuDNN, the TPU's units).
- "heuristic": `select_conv_lowering`, no timing: "patches" on CPU where it applies.
- "xla", "patches", "hybrid": that lowering wherever it applies (transposes: "xla" for
  "xla", "dilated" otherwise); tests pin a path this way. The `lowering=` argument of `conv`
  does the same for one call.

"patches" and "hybrid" need groups=1, a window larger than one element, a non-empty output
and a patches tensor of at most `PATCHES_MAX_BYTES`; elsewhere "xla" is used.
"""
import math
import os

import jax

from lamina.core.lowering import autotune
from lamina.core.lowering.conv_paths import conv_planned, conv_xla, explicit_padding
from lamina.core.lowering.conv_paths import dimension_numbers, output_spatial
from lamina.core.lowering.conv_paths import patches as patches
from lamina.errors import ConfigurationError

LOWERINGS = ("xla", "patches", "hybrid")
MODES = ("auto", "heuristic", *LOWERINGS)
# Largest patches tensor (bytes) the CPU lowerings build: "patches" keeps it until the
# backward pass, so it bounds the extra memory a convolution may take.
PATCHES_MAX_BYTES = 256 * 2**20
# Convolutions below this many floating-point operations (forward) are not timed.
MIN_TUNE_FLOPS = 2**26


def mode():
    """The lowering mode: `LAMINA_CONV_LOWERING`, default "auto" (see the module docstring)."""
    chosen = os.environ.get("LAMINA_CONV_LOWERING", "auto").strip().lower() or "auto"
    if chosen not in MODES:
        raise ConfigurationError(
            f"LAMINA_CONV_LOWERING: expected one of {MODES}, received {chosen!r}. Unset it "
            f"for the default, 'auto'.")
    return chosen


def _geometry(x_shape, kernel_shape, strides, padding, dilation_rate):
    window = tuple(kernel_shape[:-2])
    pads = explicit_padding(x_shape[1:-1], window, strides, dilation_rate, padding)
    return window, output_spatial(x_shape[1:-1], window, strides, dilation_rate, pads)


def applies(x_shape, kernel_shape, strides, padding, dilation_rate, groups=1, itemsize=4):
    """Whether "patches" and "hybrid" apply: groups=1, a window larger than one element, a
    non-empty output and a patches tensor of at most `PATCHES_MAX_BYTES`."""
    window, out = _geometry(x_shape, kernel_shape, strides, padding, dilation_rate)
    if groups != 1 or math.prod(window) == 1 or min(out) <= 0:
        return False
    nbytes = x_shape[0] * math.prod(out) * math.prod(window) * kernel_shape[-2] * itemsize
    return nbytes <= PATCHES_MAX_BYTES


def select_conv_lowering(backend, x_shape, kernel_shape, strides, padding, dilation_rate,
                         groups=1, itemsize=4):
    """The "heuristic" lowering for these shapes on `backend` ("cpu", "gpu", "tpu", ...):
    "patches" on CPU where it `applies`, "xla" everywhere else."""
    return "patches" if backend == "cpu" and applies(
        x_shape, kernel_shape, strides, padding, dilation_rate, groups, itemsize) else "xla"


def forward_flops(x_shape, kernel_shape, strides, padding, dilation_rate):
    """Multiply-adds times two of the dense convolution (groups=1)."""
    window, out = _geometry(x_shape, kernel_shape, strides, padding, dilation_rate)
    return 2 * x_shape[0] * math.prod(out) * math.prod(window) * math.prod(kernel_shape[-2:])


def _tuned_plan(x, kernel, strides, padding, dilation_rate):
    """(forward, training) lowerings, each the fastest measured on this machine."""
    fields = {"x": list(x.shape), "kernel": list(kernel.shape), "dtype": str(x.dtype),
              "strides": list(strides), "padding": padding, "dilation": list(dilation_rate),
              "backend": jax.default_backend()}
    x_struct = jax.ShapeDtypeStruct(x.shape, x.dtype)
    k_struct = jax.ShapeDtypeStruct(kernel.shape, kernel.dtype)

    def run(name):
        return lambda a, b: conv_planned(a, b, strides, padding, dilation_rate, name, name)

    forward = autotune.choose(
        autotune.decision_key("conv.forward", **fields),
        {name: run(name) for name in ("xla", "patches")}, (x_struct, k_struct), "xla")
    y_struct = jax.eval_shape(run("xla"), x_struct, k_struct)

    def gradients(name):
        return lambda a, b, g: jax.vjp(run(name), a, b)[1](g)

    training = autotune.choose(
        autotune.decision_key("conv.training", **fields),
        {name: gradients(name) for name in LOWERINGS}, (x_struct, k_struct, y_struct), "xla")
    return forward, training


def plan(x, kernel, strides, padding, dilation_rate, groups=1, lowering=None):
    """(forward, training): the lowerings `conv` uses for evaluation and differentiation."""
    if lowering is not None:
        if lowering != "xla" and groups != 1:
            raise ConfigurationError(
                f"conv: the {lowering!r} lowering needs groups=1, received groups={groups}; "
                f"use lowering='xla'.")
        return lowering, lowering
    chosen = mode()
    args = (x.shape, kernel.shape, strides, padding, dilation_rate)
    if chosen in LOWERINGS:
        usable = chosen == "xla" or applies(*args, groups, x.dtype.itemsize)
        return (chosen, chosen) if usable else ("xla", "xla")
    heuristic = select_conv_lowering(jax.default_backend(), *args, groups, x.dtype.itemsize)
    if chosen == "heuristic" or heuristic == "xla" or forward_flops(*args) < MIN_TUNE_FLOPS:
        return heuristic, heuristic
    return _tuned_plan(x, kernel, strides, padding, dilation_rate)


def conv(x, kernel, strides, padding, dilation_rate, groups=1, lowering=None):
    """Convolve `x` (batch, *spatial, in) with `kernel` (*window, in // groups, out).

    Args:
        x: channels-last input, 1 to 3 spatial dimensions.
        kernel: Keras layout, `(*window, in // groups, out)`.
        strides, dilation_rate: tuples, one entry per spatial dimension.
        padding: "valid", "same" (XLA's arithmetic: output ceil(n / stride), the extra cell
            at the end) or explicit `((low, high), ...)` pairs.
        groups: `in` and `out` are split into `groups` groups convolved separately
            (output channels of group g are `g * out // groups ...`).
        lowering: "xla", "patches" or "hybrid" to force one for this call; default: the
            mode of `LAMINA_CONV_LOWERING` (see the module docstring).

    Returns:
        `(batch, *out_spatial, out)`, in the dtype of `x`.
    """
    dimension_numbers(x.ndim - 2)  # checks the rank
    strides, dilation_rate = tuple(strides), tuple(dilation_rate)
    if not isinstance(padding, str):
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    if lowering is not None and lowering not in LOWERINGS:
        raise ConfigurationError(
            f"conv: expected lowering None or one of {LOWERINGS}, received "
            f"{lowering!r}.")
    forward, training = plan(x, kernel, strides, padding, dilation_rate, groups, lowering)
    if forward == training == "xla":
        return conv_xla(x, kernel, strides, padding, dilation_rate, groups)
    return conv_planned(x, kernel, strides, padding, dilation_rate, forward, training)
