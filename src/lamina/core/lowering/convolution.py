"""N-D convolution and transposed convolution over channels-last inputs, Keras's kernel
layouts, with the lowering chosen per shape at trace time.

`conv` is the one entry point of every convolutional layer, `conv_transpose` that of the
transposed layers. The lowerings are in `conv_paths` ("xla", "patches", "hybrid", and
"shifts" for depthwise convolutions) and `conv_transpose` ("xla" or "dilated").

How the lowering is chosen (`plan`), by the environment variable `LAMINA_CONV_LOWERING`:

- "auto" (default): on CPU, a convolution of at least `MIN_TUNE_FLOPS` is autotuned
  (`autotune.choose`): the candidates are compiled and timed once per shape and machine on
  random inputs, separately for plain evaluation and for the forward + backward pass, and
  the winners are cached in memory and on disk (`tuning_cache`). Each decision is made
  when a traced program first needs it (`_tuned`, a `jax.custom_vjp` whose body JAX traces
  only for evaluation and whose forward rule only under differentiation): a training step
  times the training candidates alone. XLA's own lowering is a candidate and wins ties, so
  a convolution is never lowered to something measured slower than XLA's; `step_guard`
  then checks the choices of a whole train step together. Smaller convolutions, where
  timing would cost more than it can save, use XLA's. Depthwise
  convolutions (one group per input channel) are timed the same way between "xla" and
  "shifts" from `MIN_TUNE_FLOPS_DEPTHWISE` on; other grouped convolutions are XLA's. Off
  CPU every convolution is XLA's (cuDNN, the TPU's units).
- "heuristic": `select_conv_lowering`, no timing: "patches" on CPU where it applies
  (depthwise: "xla").
- "xla", "patches", "hybrid", "shifts": that lowering wherever it applies, else "xla"
  (transposes: "xla" for "xla", "dilated" otherwise); tests pin a path this way. The
  `lowering=` argument of `conv` does the same for one call.

"patches" and "hybrid" need groups=1, a non-empty output and a patches tensor of at most
`PATCHES_MAX_BYTES`; elsewhere "xla" is used. 1x1 windows are autotuned too (XLA:CPU's
gradient of a 1x1 convolution is far slower than the matrix products "patches" uses), but
the heuristic leaves them to XLA.
"""
import contextlib
import contextvars
import functools
import math
import os

import jax

from lamina.core.lowering import autotune
from lamina.core.lowering.conv_paths import (
    conv_planned,
    conv_xla,
    dimension_numbers,
    explicit_padding,
    grouped_planned,
    output_spatial,
)
from lamina.core.lowering.conv_paths import patches as patches
from lamina.errors import ConfigurationError

LOWERINGS = ("xla", "patches", "hybrid", "shifts")
MODES = ("auto", "heuristic", *LOWERINGS)
# `plan`'s answer where the autotune decides, at trace time, what the traced program needs.
TUNED = "tuned"
# Largest patches tensor (bytes) the CPU lowerings build: "patches" keeps it until the
# backward pass, so it bounds the extra memory a convolution may take.
PATCHES_MAX_BYTES = 256 * 2**20
# In "auto" mode, convolutions below this many floating-point operations (forward) are not
# timed and use XLA's lowering: the sweep measured an untimed "patches" at 0.3-0.9x XLA's
# speed on many small shapes, and timing a small convolution costs a fraction of a second.
MIN_TUNE_FLOPS = 2**16
MIN_TUNE_FLOPS_DEPTHWISE = 2**22
# The candidates are timed on a batch cut down so that one forward pass does at most this
# many operations: it bounds the cost of a decision (a slow candidate's backward pass on a
# large batch can take seconds), and convolution time grows linearly with the batch.
TUNE_FLOPS = 2**28


def tuning_structs(x, kernel, flops):
    """Shape structs of `x` (batch cut down to stay under `TUNE_FLOPS`) and `kernel`."""
    batch = max(1, min(x.shape[0], x.shape[0] * TUNE_FLOPS // max(flops, 1)))
    return (jax.ShapeDtypeStruct((batch, *x.shape[1:]), x.dtype),
            jax.ShapeDtypeStruct(kernel.shape, kernel.dtype))


# Set by `pinned`: overrides `LAMINA_CONV_LOWERING` for the programs traced inside it.
_PINNED: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "lamina_conv_lowering", default=None)


@contextlib.contextmanager
def pinned(name):
    """Trace the programs inside this block with the lowering mode `name` (one of `MODES`),
    whatever `LAMINA_CONV_LOWERING` says: `step_guard` traces a step with "xla" this way."""
    if name not in MODES:
        raise ConfigurationError(f"pinned: expected one of {MODES}, received {name!r}.")
    token = _PINNED.set(name)
    try:
        yield
    finally:
        _PINNED.reset(token)


@contextlib.contextmanager
def shapes_only():
    """The context of a trace that only computes output shapes (`jax.eval_shape`): XLA's
    lowering everywhere (same shapes), so no decision is timed for a program never run, and
    its convolutions are not noted as a traced program's (`autotune.recording`)."""
    with pinned("xla"), autotune.recording():
        yield


def eval_shape(fn, *specs):
    """`jax.eval_shape(fn, *specs)` under `shapes_only`."""
    with shapes_only():
        return jax.eval_shape(fn, *specs)


def mode():
    """The lowering mode: `pinned`'s inside it, else `LAMINA_CONV_LOWERING`, default "auto"
    (see the module docstring)."""
    if _PINNED.get() is not None:
        return _PINNED.get()
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
    """Whether "patches" and "hybrid" apply: groups=1, a non-empty output and a patches
    tensor of at most `PATCHES_MAX_BYTES`."""
    window, out = _geometry(x_shape, kernel_shape, strides, padding, dilation_rate)
    if groups != 1 or min(out) <= 0:
        return False
    nbytes = x_shape[0] * math.prod(out) * math.prod(window) * kernel_shape[-2] * itemsize
    return nbytes <= PATCHES_MAX_BYTES


def select_conv_lowering(backend, x_shape, kernel_shape, strides, padding, dilation_rate,
                         groups=1, itemsize=4):
    """The "heuristic" lowering for these shapes on `backend` ("cpu", "gpu", "tpu", ...):
    "patches" on CPU where it `applies` to a window larger than one element, "xla"
    everywhere else."""
    return "patches" if backend == "cpu" and math.prod(kernel_shape[:-2]) > 1 and applies(
        x_shape, kernel_shape, strides, padding, dilation_rate, groups, itemsize) else "xla"


def forward_flops(x_shape, kernel_shape, strides, padding, dilation_rate):
    """Multiply-adds times two of the dense convolution (groups=1)."""
    window, out = _geometry(x_shape, kernel_shape, strides, padding, dilation_rate)
    return 2 * x_shape[0] * math.prod(out) * math.prod(window) * math.prod(kernel_shape[-2:])


def depthwise(x_shape, kernel_shape, groups):
    """Whether "shifts" applies: one group per input channel (a depthwise convolution)."""
    return groups > 1 and groups == x_shape[-1] and kernel_shape[-2] == 1


def decide(kind, x, kernel, strides, padding, dilation_rate, groups=1):
    """The lowering timed fastest on this machine for `kind`: "forward" (plain evaluation)
    or "training" (the forward + backward pass), at the static shapes of `x` and `kernel`."""
    fields = {"x": list(x.shape), "kernel": list(kernel.shape), "dtype": str(x.dtype),
              "strides": list(strides), "padding": padding, "dilation": list(dilation_rate),
              "groups": groups, "backend": jax.default_backend()}
    structs = tuning_structs(x, kernel, forward_flops(x.shape, kernel.shape, strides, padding,
                                                      dilation_rate))
    if groups > 1:
        names = ("xla", "shifts")
    else:
        names = ("xla", "patches") if kind == "forward" else ("xla", "patches", "hybrid")

    def run(name):
        return lambda a, b: planned(a, b, strides, padding, dilation_rate, groups, name, name)

    key = autotune.decision_key(f"conv.{kind}", **fields)
    # nested in another decision's candidate (a transpose's "dilated"): the untimed rule,
    # which the per-layer experiment measured far closer to the tuned choice than XLA's
    untimed = "xla" if groups > 1 else select_conv_lowering(
        jax.default_backend(), x.shape, kernel.shape, strides, padding, dilation_rate)
    if kind == "forward":
        return autotune.choose(key, {name: run(name) for name in names}, structs, "xla",
                               untimed)
    y_struct = eval_shape(run("xla"), *structs)
    return autotune.choose(key, {name: autotune.gradients(run(name)) for name in names},
                           (*structs, y_struct), "xla", untimed)


def planned(x, kernel, strides, padding, dilation_rate, groups, forward, training):
    """`conv` by the lowering `forward` when evaluated and `training` when differentiated."""
    autotune.used(f"conv x={list(x.shape)} kernel={list(kernel.shape)} strides="
                  f"{list(strides)} padding={padding} dilation={list(dilation_rate)} "
                  f"groups={groups}", "xla" if forward == training == "xla"
                  else f"{forward}_{training}")
    if forward == training == "xla":
        return conv_xla(x, kernel, strides, padding, dilation_rate, groups)
    if groups != 1:
        return grouped_planned(x, kernel, strides, padding, dilation_rate, groups, forward,
                               training)
    return conv_planned(x, kernel, strides, padding, dilation_rate, forward, training)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _tuned(x, kernel, strides, padding, dilation_rate, groups):
    """`conv` with each lowering timed when first needed: JAX traces this body only for
    plain evaluation and `_tuned_fwd` only under differentiation, so a training step times
    the training candidates alone, and inference the forward ones alone."""
    name = decide("forward", x, kernel, strides, padding, dilation_rate, groups)
    return planned(x, kernel, strides, padding, dilation_rate, groups, name, name)


def _tuned_fwd(x, kernel, strides, padding, dilation_rate, groups):
    name = decide("training", x, kernel, strides, padding, dilation_rate, groups)
    return jax.vjp(lambda a, b: planned(a, b, strides, padding, dilation_rate, groups, name,
                                        name), x, kernel)


def _tuned_bwd(strides, padding, dilation_rate, groups, pullback, grad):
    return pullback(grad)


_tuned.defvjp(_tuned_fwd, _tuned_bwd)


def _forced(lowering, x, kernel, groups):
    if lowering in ("patches", "hybrid") and groups != 1:
        raise ConfigurationError(
            f"conv: the {lowering!r} lowering needs groups=1, received groups={groups}; "
            f"use lowering='xla'.")
    if lowering == "shifts" and not depthwise(x.shape, kernel.shape, groups):
        raise ConfigurationError(
            f"conv: the 'shifts' lowering needs a depthwise convolution (groups = input "
            f"channels = {x.shape[-1]}, kernel (*window, 1, out)), received groups={groups} "
            f"and kernel {kernel.shape}; use lowering='xla'.")
    return lowering, lowering


def plan(x, kernel, strides, padding, dilation_rate, groups=1, lowering=None):
    """(forward, training): the lowerings `conv` uses for evaluation and differentiation;
    `TUNED` for both where the autotune decides, when the program is traced (`decide`)."""
    if lowering is not None:
        return _forced(lowering, x, kernel, groups)
    chosen = mode()
    args = (x.shape, kernel.shape, strides, padding, dilation_rate)
    is_depthwise = depthwise(x.shape, kernel.shape, groups)
    if chosen in LOWERINGS:
        usable = (chosen == "xla" or (is_depthwise if chosen == "shifts" else
                                      applies(*args, groups, x.dtype.itemsize)))
        return (chosen, chosen) if usable else ("xla", "xla")
    if is_depthwise:
        if chosen == "heuristic" or jax.default_backend() != "cpu" or \
                forward_flops(*args) < MIN_TUNE_FLOPS_DEPTHWISE:
            return "xla", "xla"
        return TUNED, TUNED
    heuristic = select_conv_lowering(jax.default_backend(), *args, groups, x.dtype.itemsize)
    if chosen == "heuristic" or jax.default_backend() != "cpu" or not applies(
            *args, groups, x.dtype.itemsize):
        return heuristic, heuristic
    if forward_flops(*args) < MIN_TUNE_FLOPS:
        return "xla", "xla"
    return TUNED, TUNED


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
        lowering: "xla", "patches", "hybrid" or (depthwise only) "shifts" to force one for
            this call; default: the mode of `LAMINA_CONV_LOWERING` (module docstring).

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
    if forward == TUNED:
        return _tuned(x, kernel, strides, padding, dilation_rate, groups)
    return planned(x, kernel, strides, padding, dilation_rate, groups, forward, training)
