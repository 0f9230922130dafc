"""Convolution layers: the generic harness, agreement with direct numpy convolutions (forward and
gradient), weight-layout agreement with Keras 3, and the errors bad arguments and inputs get.

The numpy references are written from the definitions, independently of the implementation:
a convolution is a sum over kernel taps at every output position (explicit loops over output
positions), "same" padding is TensorFlow's (total padding max((out - 1) * s + span - n, 0),
the smaller half first), a transposed convolution scatters every input cell times the kernel
into the output and is cropped as the gradient of that "same" convolution.
"""
import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import InputSpecError
from lamina.layers import convolutional as conv_layers
from lamina.layers.convolutional import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from lamina.saving import register_serializable
from lamina.training import step

for _cls in conv_layers.LAYERS:  # the lead wires these into lamina.layers; idempotent
    register_serializable()(_cls)


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("conv1d-causal-dilated", lambda: Conv1D(2, 3, padding="causal", dilation_rate=2),
              _normal(4, 8, 3), (4, 8, 2), 20),
    LayerCase("conv2d-valid-relu", lambda: Conv2D(4, 3, activation="relu"), _normal(4, 6, 6, 2),
              (4, 4, 4, 4), 76, supports_masking=False),
    LayerCase("conv2d-same-strides", lambda: Conv2D(3, (3, 2), strides=(2, 1), padding="same"),
              _normal(4, 5, 6, 2), (4, 3, 6, 3), 39),
    LayerCase("conv2d-dilated-nobias", lambda: Conv2D(3, 3, dilation_rate=2, use_bias=False),
              _normal(4, 7, 7, 2), (4, 3, 3, 3), 54),
    LayerCase("conv2d-groups", lambda: Conv2D(4, 3, groups=2), _normal(4, 5, 5, 4),
              (4, 3, 3, 4), 76),
    LayerCase("conv2d-regularized",
              lambda: Conv2D(2, 3, kernel_regularizer="l2", bias_regularizer="l1",
                             activity_regularizer="l2", kernel_constraint="max_norm"),
              _normal(2, 4, 4, 1), (2, 2, 2, 2), 20),
    LayerCase("conv3d-same-strides", lambda: Conv3D(2, 3, strides=2, padding="same"),
              _normal(2, 3, 4, 5, 1), (2, 2, 2, 3, 2), 56),
    LayerCase("conv1d-transpose", lambda: Conv1DTranspose(2, 3, strides=2), _normal(4, 5, 3),
              (4, 11, 2), 20),
    LayerCase("conv2d-transpose-same-output-padding",
              lambda: Conv2DTranspose(2, (3, 4), strides=2, padding="same", output_padding=1),
              _normal(2, 3, 4, 2), (2, 6, 7, 2), 50),
    LayerCase("conv3d-transpose", lambda: Conv3DTranspose(2, 2, strides=2),
              _normal(2, 2, 2, 2, 1), (2, 4, 4, 4, 2), 18),
    LayerCase("depthwise1d", lambda: DepthwiseConv1D(3, depth_multiplier=2), _normal(4, 6, 3),
              (4, 4, 6), 24),
    LayerCase("depthwise2d-multiplier-same",
              lambda: DepthwiseConv2D((2, 3), depth_multiplier=2, padding="same"),
              _normal(2, 5, 6, 2), (2, 5, 6, 4), 28),
    LayerCase("separable1d-same", lambda: SeparableConv1D(4, 3, padding="same"),
              _normal(4, 6, 3), (4, 6, 4), 25),
    LayerCase("separable2d-multiplier", lambda: SeparableConv2D(4, 3, depth_multiplier=2),
              _normal(2, 5, 5, 3), (2, 3, 3, 4), 82),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- independent numpy references ----------------------------------------------------------
def _same_pads(spatial, kernel, strides, dilation):
    """TensorFlow's "same" padding: output ceil(n / s), the smaller half of the padding first."""
    pads = []
    for n, k, s, d in zip(spatial, kernel, strides, dilation, strict=True):
        span = (k - 1) * d + 1
        total = max((-(-n // s) - 1) * s + span - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pads(padding, spatial, kernel, strides, dilation):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    if padding == "causal":
        return [((k - 1) * d, 0) for k, d in zip(kernel, dilation, strict=True)]
    return _same_pads(spatial, kernel, strides, dilation)


def ref_conv(x, kernel, strides, padding, dilation, groups=1):
    """Direct convolution, one output position at a time. x (b, *spatial, c),
    kernel (*k, c // groups, filters)."""
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    pads = _pads(padding, x.shape[1:-1], ksize, strides, dilation)
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    span = [(k - 1) * d + 1 for k, d in zip(ksize, dilation, strict=True)]
    out_spatial = [(n - sp) // s + 1 for n, sp, s in zip(x.shape[1:-1], span, strides, strict=True)]
    cin, filters = kernel.shape[-2:]
    fpg = filters // groups
    out = np.zeros((x.shape[0], *out_spatial, filters))
    for pos in itertools.product(*map(range, out_spatial)):
        taps = tuple(slice(p * s, p * s + sp, d)
                     for p, s, sp, d in zip(pos, strides, span, dilation, strict=True))
        window = x[(slice(None),) + taps]  # (b, *k, c)
        for g in range(groups):
            out[(slice(None),) + pos + (slice(g * fpg, (g + 1) * fpg),)] = np.tensordot(
                window[..., g * cin:(g + 1) * cin], kernel[..., g * fpg:(g + 1) * fpg],
                axes=(list(range(1, rank + 2)), list(range(rank + 1))))
    return out


def ref_depthwise(x, kernel, strides, padding, dilation):
    """Each input channel c convolved alone with kernel[..., c, m] -> output c * mult + m."""
    channels, multiplier = kernel.shape[-2:]
    outputs = [ref_conv(x[..., c:c + 1], kernel[..., c:c + 1, m:m + 1], strides, padding,
                        dilation) for c in range(channels) for m in range(multiplier)]
    return np.concatenate(outputs, axis=-1)


def _keras_transpose_length(n, k, s, d, padding, output_padding):
    """The output length Keras documents for a transposed convolution."""
    span = (k - 1) * d + 1
    if padding == "valid":
        return (n - 1) * s + span + (max(span, s) - span if output_padding is None
                                     else output_padding)
    return n * s if output_padding is None else (n - 1) * s + span % 2 + output_padding


def ref_conv_transpose(x, kernel, strides, padding, dilation, output_padding=None):
    """Scatter x[i] * kernel[tap] to output i * s + tap * d, then crop as the gradient of the
    "same"/"valid" convolution from the output back to x. kernel (*k, filters, c)."""
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    spatial = x.shape[1:-1]
    span = [(k - 1) * d + 1 for k, d in zip(ksize, dilation, strict=True)]
    full = [(n - 1) * s + sp for n, s, sp in zip(spatial, strides, span, strict=True)]
    out_full = np.zeros((x.shape[0], *full, kernel.shape[-2]))
    for pos in itertools.product(*map(range, spatial)):
        for tap in itertools.product(*map(range, ksize)):
            at = tuple(p * s + t * d
                       for p, s, t, d in zip(pos, strides, tap, dilation, strict=True))
            out_full[(slice(None),) + at] += x[(slice(None),) + pos] @ kernel[tap].T
    ops = output_padding or (None,) * rank
    lengths = [_keras_transpose_length(n, k, s, d, padding, p)
               for n, k, s, d, p in zip(spatial, ksize, strides, dilation, ops, strict=True)]
    out = np.zeros((x.shape[0], *lengths, kernel.shape[-2]))
    src, dst = [slice(None)], [slice(None)]
    for n, s, sp, length, available in zip(spatial, strides, span, lengths, full, strict=True):
        crop = 0 if padding == "valid" else max((n - 1) * s + sp - length, 0) // 2
        size = min(length, available - crop)
        src.append(slice(crop, crop + size))
        dst.append(slice(0, size))
    out[tuple(dst)] = out_full[tuple(src)]
    return out


def _separable(x, depthwise, pointwise, strides, padding, dilation):
    return ref_depthwise(x, depthwise, strides, padding, dilation) @ pointwise.reshape(
        pointwise.shape[-2:])


# (id, layer factory, input shape, reference(x, *weights))
REFERENCE_CASES = [
    ("conv1d-causal-dilated", lambda: Conv1D(3, 3, padding="causal", dilation_rate=2), (2, 7, 2),
     lambda x, w, b: ref_conv(x, w, (1,), "causal", (2,)) + b),
    ("conv1d-same-strided", lambda: Conv1D(3, 4, strides=3, padding="same"), (2, 8, 2),
     lambda x, w, b: ref_conv(x, w, (3,), "same", (1,)) + b),
    ("conv2d-valid-strided", lambda: Conv2D(3, (3, 2), strides=(2, 1)), (2, 6, 5, 2),
     lambda x, w, b: ref_conv(x, w, (2, 1), "valid", (1, 1)) + b),
    ("conv2d-same-even-kernel", lambda: Conv2D(2, 4, strides=2, padding="same"), (1, 5, 6, 2),
     lambda x, w, b: ref_conv(x, w, (2, 2), "same", (1, 1)) + b),
    ("conv2d-dilated-same", lambda: Conv2D(2, 3, dilation_rate=(2, 1), padding="same"),
     (1, 5, 5, 2), lambda x, w, b: ref_conv(x, w, (1, 1), "same", (2, 1)) + b),
    ("conv2d-groups", lambda: Conv2D(4, 2, groups=2, use_bias=False), (2, 4, 4, 4),
     lambda x, w: ref_conv(x, w, (1, 1), "valid", (1, 1), groups=2)),
    ("conv3d-same", lambda: Conv3D(2, 2, padding="same"), (1, 3, 3, 3, 2),
     lambda x, w, b: ref_conv(x, w, (1, 1, 1), "same", (1, 1, 1)) + b),
    ("conv1d-transpose-same", lambda: Conv1DTranspose(2, 3, strides=2, padding="same"),
     (2, 4, 3), lambda x, w, b: ref_conv_transpose(x, w, (2,), "same", (1,)) + b),
    ("conv2d-transpose-valid", lambda: Conv2DTranspose(2, 3, strides=2), (1, 3, 3, 2),
     lambda x, w, b: ref_conv_transpose(x, w, (2, 2), "valid", (1, 1)) + b),
    ("conv2d-transpose-same-even", lambda: Conv2DTranspose(2, (4, 3), strides=(2, 3),
                                                           padding="same"),
     (1, 3, 2, 2), lambda x, w, b: ref_conv_transpose(x, w, (2, 3), "same", (1, 1)) + b),
    ("conv2d-transpose-output-padding",
     lambda: Conv2DTranspose(2, 3, strides=3, padding="same", output_padding=(2, 0)),
     (1, 2, 3, 1),
     lambda x, w, b: ref_conv_transpose(x, w, (3, 3), "same", (1, 1), (2, 0)) + b),
    ("conv2d-transpose-valid-output-padding",
     lambda: Conv2DTranspose(1, 2, strides=2, output_padding=1), (1, 2, 2, 2),
     lambda x, w, b: ref_conv_transpose(x, w, (2, 2), "valid", (1, 1), (1, 1)) + b),
    ("conv2d-transpose-dilated", lambda: Conv2DTranspose(2, 2, dilation_rate=2), (1, 3, 3, 2),
     lambda x, w, b: ref_conv_transpose(x, w, (1, 1), "valid", (2, 2)) + b),
    ("conv3d-transpose", lambda: Conv3DTranspose(1, 2, strides=(1, 2, 1), padding="same"),
     (1, 2, 2, 2, 2),
     lambda x, w, b: ref_conv_transpose(x, w, (1, 2, 1), "same", (1, 1, 1)) + b),
    ("depthwise1d", lambda: DepthwiseConv1D(3, depth_multiplier=2, padding="same"), (2, 5, 2),
     lambda x, w, b: ref_depthwise(x, w, (1,), "same", (1,)) + b),
    ("depthwise2d-strided", lambda: DepthwiseConv2D(3, strides=2, depth_multiplier=2),
     (1, 5, 5, 2), lambda x, w, b: ref_depthwise(x, w, (2, 2), "valid", (1, 1)) + b),
    ("separable1d-dilated", lambda: SeparableConv1D(3, 2, dilation_rate=2), (2, 5, 2),
     lambda x, d, p, b: _separable(x, d, p, (1,), "valid", (2,)) + b),
    ("separable2d-same", lambda: SeparableConv2D(3, 3, padding="same", depth_multiplier=2),
     (1, 4, 4, 2), lambda x, d, p, b: _separable(x, d, p, (1, 1), "same", (1, 1)) + b),
]

FORWARD_TOL = {"rtol": 1e-5, "atol": 1e-5}  # float32 layer vs float64 reference
GRAD_TOL = {"rtol": 1e-4, "atol": 1e-5}


def _exact_differences(fn, args, index, upstream):
    """d sum(upstream * fn(*args)) / d args[index], entry by entry. `fn` is affine in each
    argument separately, so a unit difference is the exact derivative (no step-size error)."""
    base = fn(*args)
    grad = np.zeros_like(args[index])
    for i in np.ndindex(grad.shape):
        moved = list(args)
        moved[index] = args[index].copy()
        moved[index][i] += 1.0
        grad[i] = np.sum(upstream * (fn(*moved) - base))
    return grad


def _value_and_grads(layer, x, values, w_out):
    """The layer's output for weight `values`, and the gradient of sum(w_out * tanh(output))
    w.r.t. the input and each weight, through jax.grad of the pure call (one compilation)."""
    variables = layer.weights

    def loss(inputs, weights):
        values = {v.uid: w for v, w in zip(variables, weights, strict=True)}
        out, _ = step.apply(layer, values, inputs, False)
        return jnp.sum(w_out * jnp.tanh(out)), out

    (_, out), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(
        jnp.asarray(x), [jnp.asarray(v, jnp.float32) for v in values])
    return np.asarray(out), [np.asarray(g) for g in (grads[0], *grads[1])]


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda c: c[0])
def test_forward_and_gradient_match_numpy_reference(case):
    _, make, shape, reference = case
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape).astype(np.float32)
    layer = make()
    layer(lm.Input(shape[1:]))  # builds the weights without running the convolution
    # random weights everywhere (biases included), so every weight is exercised
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
    args = [a.astype(np.float64) for a in (x, *weights)]
    expected = reference(*args)
    w_out = rng.normal(size=expected.shape)
    y, grads = _value_and_grads(layer, x, weights, w_out)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **FORWARD_TOL)
    upstream = w_out * (1.0 - np.tanh(expected) ** 2)
    for index, got in enumerate(grads):
        np.testing.assert_allclose(got, _exact_differences(reference, args, index, upstream),
                                   **GRAD_TOL)


def test_conv_transpose_is_the_adjoint_of_a_same_convolution():
    # <T(y), x> == <y, C(x)>: Conv2DTranspose with kernel K is the input-gradient of the
    # strided "same" convolution with K seen as (k, k, filters, in), via jax.lax directly
    rng = np.random.default_rng(5)
    layer = Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False)
    y = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    t_y = np.asarray(layer(y))
    kernel = layer.kernel.value
    x = rng.normal(size=t_y.shape).astype(np.float32)
    c_x = jax.lax.conv_general_dilated(x, kernel, (2, 2), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert c_x.shape == y.shape
    np.testing.assert_allclose(np.sum(t_y * x), np.sum(np.asarray(c_x) * y), rtol=1e-5)


def test_activation_is_applied_after_the_bias():
    layer = Conv1D(2, 2, activation="relu", bias_initializer="ones")
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    y = np.asarray(layer(x))
    w, b = layer.get_weights()
    np.testing.assert_allclose(
        y, np.maximum(ref_conv(x.astype(np.float64), w, (1,), "valid", (1,)) + b, 0),
        **FORWARD_TOL)


def test_conv_trains_in_a_sequential_cnn():
    model = lm.Sequential([lm.Input((6, 6, 1)), Conv2D(4, 3, activation="relu"),
                           lm.layers.Flatten(), lm.layers.Dense(1)])
    model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 6, 1)).astype(np.float32)
    y = x[:, 1:5, 1:5, 0].mean(axis=(1, 2))[:, None]
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * first


# -- weight layout and values agree with Keras 3 ---------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


# (lamina class, its arguments (the same for the Keras class of the same name), input shape)
KERAS_CASES = [
    (Conv1D, {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
     (2, 7, 2)),
    (Conv2D, {"filters": 3, "kernel_size": (3, 2), "strides": 2, "padding": "same"},
     (2, 7, 6, 2)),
    (Conv2D, {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "groups": 2,
              "activation": "relu"}, (2, 7, 7, 4)),
    (Conv3D, {"filters": 2, "kernel_size": 2, "strides": (1, 2, 1), "padding": "same"},
     (1, 3, 4, 3, 2)),
    (Conv1DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2}, (2, 4, 3)),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 3, 4, 2)),
    (Conv2DTranspose, {"filters": 2, "kernel_size": (4, 3), "strides": (2, 3),
                       "padding": "same", "output_padding": (1, 2)}, (1, 3, 2, 2)),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 2, "strides": 2}, (1, 2, 2, 2, 1)),
    (DepthwiseConv1D, {"kernel_size": 3, "depth_multiplier": 2}, (2, 6, 3)),
    (DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2, "strides": 2,
                       "padding": "same"}, (2, 5, 5, 3)),
    (SeparableConv1D, {"filters": 4, "kernel_size": 3, "padding": "same"}, (2, 6, 3)),
    (SeparableConv2D, {"filters": 4, "kernel_size": 3, "depth_multiplier": 2,
                       "dilation_rate": 2}, (2, 7, 7, 3)),
]


@pytest.mark.parametrize("case", KERAS_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(KERAS_CASES)])
def test_weights_and_outputs_agree_with_keras(keras, case):
    cls, kwargs, shape = case
    x = np.random.default_rng(7).normal(size=shape).astype(np.float32)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    theirs(x)
    # random biases too, so a bias in the wrong place cannot hide behind zeros
    rng = np.random.default_rng(8)
    keras_weights = [rng.normal(size=v.shape).astype(np.float32) for v in theirs.weights]
    for variable, value in zip(theirs.weights, keras_weights, strict=True):
        variable.assign(value)
    expected = np.asarray(theirs(x))
    ours = cls(**kwargs)
    ours(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_weights]
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    ours.set_weights(keras_weights)
    np.testing.assert_allclose(np.asarray(ours(x)), expected, rtol=1e-5, atol=1e-5)
    config = theirs.get_config()
    ours_config = ours.get_config()
    for key in ("kernel_size", "strides", "padding", "dilation_rate", "data_format"):
        assert tuple(np.atleast_1d(ours_config[key])) == tuple(np.atleast_1d(config[key]))


# -- errors ----------------------------------------------------------------------------------
def test_conv2d_on_a_rank_3_input_names_the_layer_and_the_expected_rank():
    layer = Conv2D(2, 3, name="edges")
    with pytest.raises(InputSpecError, match=r"Conv2D 'edges': expected an input of rank 4 "
                       r"\(batch, height, width, channels\), received shape \(2, 5, 3\)"):
        layer(np.zeros((2, 5, 3), np.float32))


def test_symbolic_input_of_the_wrong_rank_is_refused():
    with pytest.raises(InputSpecError, match=r"Conv1D 'c': expected an input of rank 3"):
        Conv1D(2, 3, name="c")(lm.Input((5,)))


def test_kernel_larger_than_a_valid_padded_input():
    with pytest.raises(InputSpecError, match=r"Conv2D 'big': the input of shape \(1, 3, 4, 1\) "
                       r"is too small for kernel_size \(5, 2\).*padding 'valid'.*"
                       r"padding='same'"):
        Conv2D(1, (5, 2), name="big")(np.zeros((1, 3, 4, 1), np.float32))


def test_dilated_kernel_too_large_for_a_later_input():
    layer = Conv1D(1, 3, dilation_rate=3, name="wide")
    layer(np.zeros((1, 8, 1), np.float32))
    with pytest.raises(InputSpecError, match=r"Conv1D 'wide': the input of shape \(1, 6, 1\) "
                       r"is too small"):
        layer(np.zeros((1, 6, 1), np.float32))


def test_wrong_number_of_channels_on_a_later_call():
    layer = Conv2D(2, 3, name="c2")
    layer(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(InputSpecError, match=r"Conv2D 'c2': expected 3 input channels.*"
                       r"received shape \(1, 4, 4, 2\)"):
        layer(np.zeros((1, 4, 4, 2), np.float32))


@pytest.mark.parametrize("kwargs, match", [
    ({"strides": 0}, r"expected `strides` to be an integer >= 1 .* received strides=0"),
    ({"strides": (1, -2)}, r"expected `strides` .* received strides=\(1, -2\)"),
    ({"kernel_size": (3, 3, 3)}, (r"expected `kernel_size` to be an integer >= 1 or a tuple of "
                                  r"2 such integers")),
    ({"padding": "full"}, (r"expected `padding` to be one of 'valid', 'same', received "
                           r"padding='full'")),
    ({"padding": "causal"}, (r"expected `padding` to be one of 'valid', 'same', received "
                             r"padding='causal'")),
    ({"data_format": "channels_first"}, (r"only data_format='channels_last'.*received "
                                         r"data_format='channels_first'")),
    ({"filters": 0}, r"expected a positive integer `filters`, received filters=0"),
    ({"filters": 3, "groups": 2}, r"`filters` must be divisible by `groups`"),
    ({"strides": 2, "dilation_rate": 2}, r"`strides` > 1 cannot be combined with `dilation_rate`"),
])
def test_bad_constructor_arguments(kwargs, match):
    kwargs = {"filters": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=r"Conv2D 'bad': " + match):
        Conv2D(name="bad", **kwargs)


def test_causal_padding_is_accepted_only_by_conv1d():
    assert Conv1D(1, 2, padding="CAUSAL").padding == "causal"
    with pytest.raises(ValueError, match=r"Conv3D 'c3': expected `padding` to be one of"):
        Conv3D(1, 2, padding="causal", name="c3")


def test_channels_not_divisible_by_groups():
    with pytest.raises(InputSpecError, match=r"Conv2D 'g': the number of input channels must "
                       r"be divisible by groups=2, received 3 channels"):
        Conv2D(4, 1, groups=2, name="g")(np.zeros((1, 2, 2, 3), np.float32))


@pytest.mark.parametrize("cls, kwargs, match", [
    (Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2},
     (r"Conv2DTranspose 't': each `output_padding` must be smaller than the matching "
      r"`strides`, received output_padding=\(2, 2\) and strides=\(2, 2\)")),
    (Conv2DTranspose, {"filters": 2, "kernel_size": 3, "output_padding": -1},
     r"`output_padding` to be an integer >= 0"),
    (DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 0},
     r"DepthwiseConv2D 't': expected a positive integer `depth_multiplier`"),
    (SeparableConv2D, {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
     r"SeparableConv2D 't': only data_format='channels_last'"),
    (DepthwiseConv1D, {"kernel_size": 3, "padding": "causal"},
     r"DepthwiseConv1D 't': expected `padding` to be one of 'valid', 'same'"),
])
def test_bad_arguments_of_the_other_convolutions(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(name="t", **kwargs)


def test_transposed_convolution_with_an_empty_output():
    # "same" with output_padding 0 and an even kernel: (1 - 1) * 2 + 4 % 2 + 0 = 0 cells
    layer = Conv1DTranspose(1, 4, strides=2, padding="same", output_padding=0, name="t0")
    with pytest.raises(InputSpecError, match=r"Conv1DTranspose 't0': .* too small .*"
                       r"output would have spatial shape \(0,\)"):
        layer(np.zeros((1, 1, 1), np.float32))
