"""Transposed convolution over channels-last inputs, Keras's kernel layout
(*window, filters, in), the lowering chosen per shape at trace time.

Two lowerings compute the same function:

- "xla": `jax.lax.conv_transpose(..., transpose_kernel=True)`, XLA's convolution with the
  input dilated by the strides (`lhs_dilation`). XLA:CPU runs that form far below its
  ordinary convolution's speed (a DCGAN generator took 3.5 s per step).
- "dilated": the input dilated explicitly (zeros between its cells, `jax.lax.pad`), then
  `convolution.conv` with stride 1 and the flipped, in/out-swapped kernel: an ordinary
  convolution, whose own lowering ("xla", "patches", "hybrid") is chosen in turn.

The choice follows `convolution.mode()`: "auto" times both on CPU (evaluation and
forward + backward separately, each when a traced program first needs it,
`autotune.choose`, XLA's winning ties) for transposes of at least
`convolution.MIN_TUNE_FLOPS` and uses "xla" below (the "dilated" candidate is timed
with XLA's convolution inside; once chosen, that convolution's lowering is decided at its
own shape); "heuristic" uses "dilated" on
CPU; a forced lowering name uses "xla" for "xla" and "dilated" otherwise. Off CPU: "xla".
"""
import functools

import jax
import jax.numpy as jnp

from lamina.core.lowering import autotune, convolution
from lamina.core.lowering.conv_paths import dimension_numbers
from lamina.errors import ConfigurationError

LOWERINGS = ("xla", "dilated")


def transpose_xla(x, kernel, strides, padding, dilation_rate):
    """`conv_transpose` through `jax.lax.conv_transpose`."""
    return jax.lax.conv_transpose(x, kernel, strides, padding, rhs_dilation=dilation_rate,
                                  dimension_numbers=dimension_numbers(x.ndim - 2),
                                  transpose_kernel=True)


def transpose_dilated(x, kernel, strides, padding, dilation_rate):
    """`conv_transpose` as an ordinary stride-1 convolution of the explicitly dilated input."""
    rank = x.ndim - 2
    dilated = jax.lax.pad(x, jnp.zeros((), x.dtype),
                          [(0, 0, 0), *((0, 0, s - 1) for s in strides), (0, 0, 0)])
    flipped = jnp.swapaxes(jnp.flip(kernel, tuple(range(rank))), -1, -2)
    return convolution.conv(dilated, flipped, (1,) * rank, padding, dilation_rate)


PATHS = {"xla": transpose_xla, "dilated": transpose_dilated}


def _path(name, x, kernel, strides, padding, dilation_rate):
    """`PATHS[name]`, noted for `autotune.recording`."""
    autotune.used(f"conv_transpose x={list(x.shape)} kernel={list(kernel.shape)} "
                  f"strides={list(strides)} padding={list(padding)} "
                  f"dilation={list(dilation_rate)}", name)
    return PATHS[name]


def _dilated_flops(x, kernel, strides, padding, dilation_rate):
    dilated = (x.shape[0], *((n - 1) * s + 1 for n, s in zip(x.shape[1:-1], strides,
                                                              strict=True)), x.shape[-1])
    window = kernel.shape[:-2]
    return convolution.forward_flops(dilated, (*window, kernel.shape[-1], kernel.shape[-2]),
                                     (1,) * len(window), padding, dilation_rate)


def decide(kind, x, kernel, strides, padding, dilation_rate):
    """The lowering timed fastest for `kind` ("forward" or "training") at these shapes."""
    fields = {"x": list(x.shape), "kernel": list(kernel.shape), "dtype": str(x.dtype),
              "strides": list(strides), "padding": padding, "dilation": list(dilation_rate),
              "backend": jax.default_backend()}
    structs = convolution.tuning_structs(
        x, kernel, _dilated_flops(x, kernel, strides, padding, dilation_rate))

    def run(name):
        return lambda a, b: PATHS[name](a, b, strides, padding, dilation_rate)

    key = autotune.decision_key(f"conv_transpose.{kind}", **fields)
    if kind == "forward":
        return autotune.choose(key, {name: run(name) for name in LOWERINGS}, structs, "xla")
    y_struct = convolution.eval_shape(run("xla"), *structs)
    return autotune.choose(key, {name: autotune.gradients(run(name)) for name in LOWERINGS},
                           (*structs, y_struct), "xla")


def transpose_plan(x, kernel, strides, padding, dilation_rate):
    """(forward, training): the lowerings `conv_transpose` uses for evaluation and
    differentiation; `convolution.TUNED` for both where the autotune decides (`decide`)."""
    chosen = convolution.mode()
    if chosen in convolution.LOWERINGS:
        return ("xla",) * 2 if chosen == "xla" else ("dilated",) * 2
    if jax.default_backend() != "cpu":
        return "xla", "xla"
    if chosen == "heuristic":
        return "dilated", "dilated"
    if _dilated_flops(x, kernel, strides, padding, dilation_rate) < convolution.MIN_TUNE_FLOPS:
        return "xla", "xla"
    return convolution.TUNED, convolution.TUNED


def conv_transpose(x, kernel, strides, padding, dilation_rate, lowering=None):
    """Transposed convolution of `x` (batch, *spatial, in), kernel (*window, filters, in).

    Args:
        strides, dilation_rate: tuples, one entry per spatial dimension.
        padding: explicit `((low, high), ...)` pairs of the dilated input, as
            `jax.lax.conv_transpose` takes them.
        lowering: "xla" or "dilated" to force one; default: `transpose_plan`.

    Returns:
        `(batch, *out_spatial, filters)`: the gradient, with respect to its input, of the
        convolution of stride `strides` by this kernel.
    """
    strides, dilation_rate = tuple(strides), tuple(dilation_rate)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    if lowering is not None and lowering not in LOWERINGS:
        raise ConfigurationError(
            f"conv_transpose: expected lowering None or one of {LOWERINGS}, received "
            f"{lowering!r}.")
    forward, training = ((lowering, lowering) if lowering is not None else
                         transpose_plan(x, kernel, strides, padding, dilation_rate))
    if forward == convolution.TUNED:
        return _tuned(x, kernel, strides, padding, dilation_rate)
    if forward == training:
        return _path(forward, x, kernel, strides, padding, dilation_rate)(
            x, kernel, strides, padding, dilation_rate)
    return _dispatch(x, kernel, strides, padding, dilation_rate, forward, training)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5, 6))
def _dispatch(x, kernel, strides, padding, dilation_rate, forward, training):
    """`PATHS[forward]` when evaluated; differentiated as `PATHS[training]`."""
    return PATHS[forward](x, kernel, strides, padding, dilation_rate)


def _dispatch_fwd(x, kernel, strides, padding, dilation_rate, forward, training):
    return PATHS[training](x, kernel, strides, padding, dilation_rate), (x, kernel)


def _dispatch_bwd(strides, padding, dilation_rate, forward, training, residuals, grad):
    run = functools.partial(PATHS[training], strides=strides, padding=padding,
                            dilation_rate=dilation_rate)
    return jax.vjp(run, *residuals)[1](grad)


_dispatch.defvjp(_dispatch_fwd, _dispatch_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _tuned(x, kernel, strides, padding, dilation_rate):
    """Each lowering timed when the traced program needs it (see `convolution._tuned`)."""
    name = decide("forward", x, kernel, strides, padding, dilation_rate)
    return _path(name, x, kernel, strides, padding, dilation_rate)(
        x, kernel, strides, padding, dilation_rate)


def _tuned_fwd(x, kernel, strides, padding, dilation_rate):
    name = decide("training", x, kernel, strides, padding, dilation_rate)
    run = _path(name, x, kernel, strides, padding, dilation_rate)
    return jax.vjp(lambda a, b: run(a, b, strides, padding, dilation_rate), x, kernel)


def _tuned_bwd(strides, padding, dilation_rate, pullback, grad):
    return pullback(grad)


_tuned.defvjp(_tuned_fwd, _tuned_bwd)
