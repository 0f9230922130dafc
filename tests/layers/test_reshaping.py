"""Reshaping layers: harness rows, numpy references written with explicit index loops (values,
and gradients as the transpose of each layer's matrix, which is built from the numpy
reference), half-pixel resizing (TF's bilinear formula and a kernel formulation), agreement with
Keras 3, masks dropped as in Keras, and bad-input errors."""
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import InputSpecError
from lamina.layers.reshaping import (
    LAYERS,
    Cropping1D,
    Cropping2D,
    Flatten,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from lamina.saving import register_serializable

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

RTOL, ATOL = 1e-5, 1e-6


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _steps_mask(x):
    return np.abs(x[:, :, 0]) > 0.3


HARNESS_CASES = [
    LayerCase("flatten-channels-first", lambda: Flatten(data_format="channels_first"),
              _normal(4, 2, 3, 2), (4, 12), trainable_params=0, supports_masking=False),
    LayerCase("reshape-minus-one", lambda: Reshape((-1, 2)), _normal(4, 3, 4), (4, 6, 2),
              trainable_params=0),
    LayerCase("permute", lambda: Permute((2, 1)), _normal(4, 3, 5), (4, 5, 3),
              trainable_params=0, supports_masking=False,
              mask=_steps_mask, expected_mask=lambda inputs, mask: None),
    LayerCase("permute-3d", lambda: Permute((3, 1, 2)), _normal(4, 2, 3, 5), (4, 5, 2, 3),
              trainable_params=0),
    LayerCase("repeat-vector", lambda: RepeatVector(3), _normal(4, 5), (4, 3, 5),
              trainable_params=0, supports_masking=False),
    LayerCase("upsampling1d", lambda: UpSampling1D(size=3), _normal(4, 2, 3), (4, 6, 3),
              trainable_params=0, supports_masking=False),
    LayerCase("upsampling2d-nearest", lambda: UpSampling2D((2, 3)), _normal(4, 2, 3, 2),
              (4, 4, 9, 2), trainable_params=0, supports_masking=False),
    LayerCase("upsampling2d-bilinear", lambda: UpSampling2D(2, interpolation="bilinear"),
              _normal(4, 3, 2, 2), (4, 6, 4, 2), trainable_params=0),
    LayerCase("upsampling2d-bicubic-channels-first",
              lambda: UpSampling2D((3, 2), data_format="channels_first", interpolation="bicubic"),
              _normal(4, 2, 3, 3), (4, 2, 9, 6), trainable_params=0),
    LayerCase("zeropadding1d", lambda: ZeroPadding1D(2), _normal(4, 3, 2), (4, 7, 2),
              trainable_params=0, supports_masking=False),
    LayerCase("zeropadding1d-pair-channels-first",
              lambda: ZeroPadding1D((1, 3), data_format="channels_first"), _normal(4, 2, 3),
              (4, 2, 7), trainable_params=0),
    LayerCase("zeropadding2d", lambda: ZeroPadding2D(), _normal(4, 2, 3, 2), (4, 4, 5, 2),
              trainable_params=0, supports_masking=False),
    LayerCase("zeropadding2d-pairs", lambda: ZeroPadding2D(((1, 0), (2, 3))),
              _normal(4, 2, 3, 2), (4, 3, 8, 2), trainable_params=0),
    LayerCase("zeropadding2d-channels-first",
              lambda: ZeroPadding2D((1, 2), data_format="channels_first"), _normal(4, 2, 3, 2),
              (4, 2, 5, 6), trainable_params=0),
    LayerCase("cropping1d", lambda: Cropping1D((1, 2)), _normal(4, 6, 2), (4, 3, 2),
              trainable_params=0, supports_masking=False,
              mask=_steps_mask, expected_mask=lambda inputs, mask: None),
    LayerCase("cropping2d", lambda: Cropping2D(((1, 0), (0, 2))), _normal(4, 3, 5, 2),
              (4, 2, 3, 2), trainable_params=0, supports_masking=False),
    LayerCase("cropping2d-int-channels-first",
              lambda: Cropping2D(1, data_format="channels_first"), _normal(4, 2, 4, 5),
              (4, 2, 2, 3), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references (explicit index loops) --------------------------------------------------
def _flatten_channels_first(x):
    b, c, h, w = x.shape
    out = np.zeros((b, h * w * c))
    for i, j, k in np.ndindex(h, w, c):
        out[:, (i * w + j) * c + k] = x[:, k, i, j]
    return out


def _permute(dims):
    def ref(x):
        out = np.zeros((x.shape[0],) + tuple(x.shape[d] for d in dims))
        for index in np.ndindex(x.shape[1:]):
            out[(slice(None),) + tuple(index[d - 1] for d in dims)] = x[(slice(None),) + index]
        return out
    return ref


def _repeat_vector(n):
    def ref(x):
        out = np.zeros((x.shape[0], n, x.shape[1]))
        for t in range(n):
            out[:, t] = x
        return out
    return ref


def _upsample_nearest(factors, axes):
    def ref(x):
        shape = list(x.shape)
        for f, a in zip(factors, axes, strict=True):
            shape[a] *= f
        out = np.zeros(shape)
        for index in np.ndindex(*shape):
            source = list(index)
            for f, a in zip(factors, axes, strict=True):
                source[a] //= f
            out[index] = x[tuple(source)]
        return out
    return ref


def _zero_pad(pads):
    """`pads`: axis -> (before, after)."""
    def ref(x):
        shape = [n + sum(pads.get(a, (0, 0))) for a, n in enumerate(x.shape)]
        out = np.zeros(shape)
        for index in np.ndindex(x.shape):
            out[tuple(i + pads.get(a, (0, 0))[0] for a, i in enumerate(index))] = x[index]
        return out
    return ref


def _crop(crops):
    """`crops`: axis -> (start, end)."""
    def ref(x):
        shape = [n - sum(crops.get(a, (0, 0))) for a, n in enumerate(x.shape)]
        out = np.zeros(shape)
        for index in np.ndindex(*shape):
            out[index] = x[tuple(i + crops.get(a, (0, 0))[0] for a, i in enumerate(index))]
        return out
    return ref


def _tf_bilinear_1d(x, axis, scale):
    """TF2's half-pixel bilinear resize along one axis (`tf.image.resize`, method bilinear):
    source `(i + 0.5) / scale - 0.5`, neighbours clamped into the image."""
    n = x.shape[axis]
    out = []
    for i in range(n * scale):
        source = (i + 0.5) / scale - 0.5
        lower, frac = math.floor(source), source - math.floor(source)
        lo, hi = min(max(lower, 0), n - 1), min(max(lower + 1, 0), n - 1)
        out.append((1 - frac) * np.take(x, lo, axis) + frac * np.take(x, hi, axis))
    return np.stack(out, axis)


def _keys_cubic(d):
    d = abs(d)
    if d < 1:
        return (1.5 * d - 2.5) * d * d + 1
    return ((-0.5 * d + 2.5) * d - 4) * d + 2 if d < 2 else 0.0


def _lanczos(radius):
    def kernel(d):
        if d == 0:
            return 1.0
        if abs(d) >= radius:
            return 0.0
        return radius * math.sin(math.pi * d) * math.sin(math.pi * d / radius) / (math.pi * d) ** 2
    return kernel


def _kernel_resize_1d(x, axis, scale, kernel):
    """Half-pixel resize by a kernel, with the weights of the taps inside the image
    normalised to sum 1 (how tf.image.resize / scale_and_translate treat the borders)."""
    n = x.shape[axis]
    out = []
    for i in range(n * scale):
        source = (i + 0.5) / scale - 0.5
        weights = np.array([kernel(source - j) for j in range(n)])
        weights /= weights.sum()
        out.append(sum(w * np.take(x, j, axis) for j, w in enumerate(weights)))
    return np.stack(out, axis)


def _separable(resize_1d, factors, axes):
    def ref(x):
        for f, a in zip(factors, axes, strict=True):
            x = resize_1d(x, a, f)
        return x
    return ref


REFERENCE_CASES = [
    # id, layer, numpy reference, input shape
    ("flatten", lambda: Flatten(), lambda x: x.reshape(x.shape[0], -1), (2, 3, 2)),
    ("flatten-channels-first", lambda: Flatten("channels_first"), _flatten_channels_first,
     (2, 3, 2, 2)),
    ("reshape", lambda: Reshape((2, -1)), lambda x: x.reshape(x.shape[0], 2, -1), (2, 3, 4)),
    ("permute", lambda: Permute((2, 1)), _permute((2, 1)), (2, 3, 4)),
    ("permute-3d", lambda: Permute((3, 1, 2)), _permute((3, 1, 2)), (2, 2, 3, 4)),
    ("repeat-vector", lambda: RepeatVector(3), _repeat_vector(3), (2, 4)),
    ("upsampling1d", lambda: UpSampling1D(3), _upsample_nearest((3,), (1,)), (2, 3, 2)),
    ("upsampling2d-nearest", lambda: UpSampling2D((2, 3)), _upsample_nearest((2, 3), (1, 2)),
     (2, 2, 3, 2)),
    ("upsampling2d-nearest-channels-first", lambda: UpSampling2D(2, "channels_first"),
     _upsample_nearest((2, 2), (2, 3)), (2, 2, 2, 3)),
    ("upsampling2d-bilinear", lambda: UpSampling2D((2, 3), interpolation="bilinear"),
     _separable(_tf_bilinear_1d, (2, 3), (1, 2)), (2, 3, 4, 2)),
    ("upsampling2d-bilinear-as-kernel", lambda: UpSampling2D((3, 2), interpolation="bilinear"),
     _separable(lambda x, a, s: _kernel_resize_1d(x, a, s, lambda d: max(0.0, 1 - abs(d))),
                (3, 2), (1, 2)), (2, 3, 4, 1)),
    ("upsampling2d-bicubic", lambda: UpSampling2D(2, interpolation="bicubic"),
     _separable(lambda x, a, s: _kernel_resize_1d(x, a, s, _keys_cubic), (2, 2), (1, 2)),
     (2, 4, 3, 2)),
    ("upsampling2d-lanczos3", lambda: UpSampling2D(2, interpolation="lanczos3"),
     _separable(lambda x, a, s: _kernel_resize_1d(x, a, s, _lanczos(3)), (2, 2), (1, 2)),
     (1, 4, 3, 2)),
    ("upsampling2d-lanczos5-channels-first",
     lambda: UpSampling2D(2, "channels_first", interpolation="lanczos5"),
     _separable(lambda x, a, s: _kernel_resize_1d(x, a, s, _lanczos(5)), (2, 2), (2, 3)),
     (1, 2, 3, 4)),
    ("zeropadding1d", lambda: ZeroPadding1D((1, 2)), _zero_pad({1: (1, 2)}), (2, 3, 2)),
    ("zeropadding1d-channels-first", lambda: ZeroPadding1D(2, "channels_first"),
     _zero_pad({2: (2, 2)}), (2, 2, 3)),
    ("zeropadding2d", lambda: ZeroPadding2D(((1, 0), (2, 3))), _zero_pad({1: (1, 0), 2: (2, 3)}),
     (2, 2, 3, 2)),
    ("zeropadding2d-channels-first", lambda: ZeroPadding2D((1, 2), "channels_first"),
     _zero_pad({2: (1, 1), 3: (2, 2)}), (2, 2, 2, 3)),
    ("cropping1d", lambda: Cropping1D((1, 2)), _crop({1: (1, 2)}), (2, 5, 2)),
    ("cropping1d-int", lambda: Cropping1D(1), _crop({1: (1, 1)}), (2, 4, 2)),
    ("cropping2d", lambda: Cropping2D(((1, 0), (0, 2))), _crop({1: (1, 0), 2: (0, 2)}),
     (2, 3, 4, 2)),
    ("cropping2d-channels-first", lambda: Cropping2D((1, 1), "channels_first"),
     _crop({2: (1, 1), 3: (1, 1)}), (2, 2, 4, 3)),
]


def _matrix(ref, shape):
    """The matrix of the linear map `ref` on inputs of `shape` (one column per input entry)."""
    columns = []
    for k in range(math.prod(shape)):
        basis = np.zeros(math.prod(shape))
        basis[k] = 1.0
        columns.append(ref(basis.reshape(shape)).ravel())
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("make, ref, shape", [c[1:] for c in REFERENCE_CASES],
                         ids=[c[0] for c in REFERENCE_CASES])
def test_forward_and_gradient_match_numpy(make, ref, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    layer = make()
    out = np.asarray(layer(np.float32(x)))
    expected = ref(x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)
    # every layer here is linear, so d sum(w * layer(x)) / dx = A^T w
    w = rng.normal(size=expected.shape)
    grad = jax.grad(lambda v: jnp.sum(layer(v) * np.float32(w)))(jnp.float32(x))
    np.testing.assert_allclose(np.asarray(grad),
                               (_matrix(ref, shape).T @ w.ravel()).reshape(shape),
                               rtol=RTOL, atol=1e-5)


def test_bilinear_upsampling_of_a_ramp_follows_half_pixel_centers():
    # a ramp 0, 1, 2 upsampled 2x: centers at -0.25, 0.25, 0.75, ... clamp to the edge values
    x = np.float32([0, 1, 2]).reshape(1, 3, 1, 1)
    out = np.asarray(UpSampling2D((2, 1), interpolation="bilinear")(x)).ravel()
    np.testing.assert_allclose(out, [0, 0.25, 0.75, 1.25, 1.75, 2], rtol=1e-6)


# -- agreement with Keras 3 ------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


KERAS_CASES = [
    # id, keras layer, lamina layer, input shape
    ("flatten-channels-first", lambda L: L.Flatten("channels_first"),
     lambda: Flatten("channels_first"), (2, 3, 2, 4)),
    ("reshape", lambda L: L.Reshape((-1, 3)), lambda: Reshape((-1, 3)), (2, 3, 4)),
    ("permute", lambda L: L.Permute((3, 1, 2)), lambda: Permute((3, 1, 2)), (2, 2, 3, 4)),
    ("repeat-vector", lambda L: L.RepeatVector(4), lambda: RepeatVector(4), (2, 3)),
    ("upsampling1d", lambda L: L.UpSampling1D(3), lambda: UpSampling1D(3), (2, 3, 2)),
    *[(f"upsampling2d-{method}",
       lambda L, m=method: L.UpSampling2D((2, 3), interpolation=m),
       lambda m=method: UpSampling2D((2, 3), interpolation=m), (2, 3, 4, 2))
      for method in ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")],
    ("upsampling2d-bilinear-channels-first",
     lambda L: L.UpSampling2D(3, "channels_first", interpolation="bilinear"),
     lambda: UpSampling2D(3, "channels_first", interpolation="bilinear"), (2, 2, 3, 4)),
    ("zeropadding1d", lambda L: L.ZeroPadding1D((2, 1)), lambda: ZeroPadding1D((2, 1)),
     (2, 3, 2)),
    ("zeropadding2d", lambda L: L.ZeroPadding2D(((1, 2), (0, 3))),
     lambda: ZeroPadding2D(((1, 2), (0, 3))), (2, 3, 4, 2)),
    ("zeropadding2d-channels-first", lambda L: L.ZeroPadding2D(2, "channels_first"),
     lambda: ZeroPadding2D(2, "channels_first"), (2, 2, 3, 4)),
    ("cropping1d", lambda L: L.Cropping1D((0, 2)), lambda: Cropping1D((0, 2)), (2, 5, 2)),
    ("cropping2d", lambda L: L.Cropping2D(((1, 0), (1, 2))),
     lambda: Cropping2D(((1, 0), (1, 2))), (2, 4, 5, 2)),
    ("cropping2d-channels-first", lambda L: L.Cropping2D(1, "channels_first"),
     lambda: Cropping2D(1, "channels_first"), (2, 2, 4, 5)),
]


@pytest.mark.parametrize("make_keras, make, shape", [c[1:] for c in KERAS_CASES],
                         ids=[c[0] for c in KERAS_CASES])
def test_agrees_with_keras(keras, make_keras, make, shape):
    x = np.float32(np.random.default_rng(1).normal(size=shape))
    klayer, layer = make_keras(keras.layers), make()
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(klayer(x)), rtol=1e-5,
                               atol=1e-6)
    assert layer.supports_masking == klayer.supports_masking
    kconfig, config = klayer.get_config(), layer.get_config()
    for key in set(kconfig) - {"name", "dtype"}:
        assert kconfig[key] == config[key], key


# -- masks -----------------------------------------------------------------------------------
class _MaskFromZeros(lm.layers.Layer):
    """Test-only producer: passes its input on with the mask `any(x != 0, axis=-1)`."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return jnp.any(inputs != 0, axis=-1)

    def call(self, inputs):
        return inputs


def test_a_mask_reaching_a_reshaping_layer_is_dropped_with_a_warning():
    inp = lm.Input((4, 3))
    model = lm.Model(inp, Cropping1D(1, name="crop")(_MaskFromZeros()(inp)))
    with pytest.warns(UserWarning, match=r"Layer 'crop' \(Cropping1D\) received an input with a "
                                         r"mask but does not support masking"):
        model(np.ones((2, 4, 3), np.float32))


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: Permute((1, 3), name="p"), (r"Permute 'p': expected `dims` to be a permutation of "
                                        r"1..2 .*received \(1, 3\)")),
    (lambda: Permute((0, 1), name="p"), r"permutation of 1..2"),
    (lambda: RepeatVector(0, name="r"), r"RepeatVector 'r': expected a positive integer `n`"),
    (lambda: UpSampling1D(size=2.0, name="u"), r"UpSampling1D 'u'.*positive integer `size`"),
    (lambda: UpSampling2D(size=(2, 0), name="u"), r"UpSampling2D 'u'.*`size`.*>= 1.*\(2, 0\)"),
    (lambda: UpSampling2D(interpolation="area", name="u"),
     r"UpSampling2D 'u': expected `interpolation` in \('nearest', 'bilinear'"),
    (lambda: ZeroPadding1D((1, 2, 3), name="z"), r"ZeroPadding1D 'z'.*`padding`.*\(1, 2, 3\)"),
    (lambda: ZeroPadding2D((1, 2, 3), name="z"), r"ZeroPadding2D 'z'.*pair of pairs"),
    (lambda: ZeroPadding2D(((1, -1), (0, 0)), name="z"), r"each >= 0.*\(1, -1\)"),
    (lambda: Cropping1D(-1, name="c"), r"Cropping1D 'c'.*`cropping`.*-1"),
    (lambda: Cropping2D(data_format="NHWC", name="c"),
     (r"Cropping2D 'c': expected `data_format` 'channels_last' or 'channels_first', "
     r"received 'NHWC'")),
    (lambda: Reshape((2, -1, -1), name="r"), r"Reshape 'r'.*at most one -1.*\(2, -1, -1\)"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_cropping_more_than_the_input_is_refused():
    with pytest.raises(InputSpecError, match=r"Cropping1D 'c': cropping \(2, 3\) removes 5 of "
                                             r"the 5 entries of axis 1 of inputs of shape "
                                             r"\(2, 5, 3\)"):
        Cropping1D((2, 3), name="c")(np.ones((2, 5, 3), np.float32))
    with pytest.raises(InputSpecError, match=r"Cropping2D 'd': cropping \(0, 4\) removes 4 of "
                                             r"the 3 entries of axis 2"):
        Cropping2D(((0, 0), (0, 4)), name="d")(lm.Input((5, 3, 2)))
    # built on an unknown length, the check runs on the actual input
    layer = Cropping1D(1, name="e")
    layer(lm.Input((None, 2)))
    with pytest.raises(InputSpecError, match=r"Cropping1D 'e': cropping \(1, 1\) removes 2 of "
                                             r"the 2 entries"):
        layer(np.ones((3, 2, 2), np.float32))


@pytest.mark.parametrize("layer, shape, match", [
    (lambda: Permute((2, 1), name="p"), (2, 3, 4, 5),
     r"Permute 'p': expected 3D inputs for dims \(2, 1\), received shape \(2, 3, 4, 5\)"),
    (lambda: RepeatVector(2, name="r"), (2, 3, 4),
     r"RepeatVector 'r': expected 2D inputs \(batch, features\), received shape \(2, 3, 4\)"),
    (lambda: UpSampling1D(name="u"), (2, 3),
     r"UpSampling1D 'u': expected 3D inputs \(batch, steps, features\)"),
    (lambda: UpSampling2D(name="u"), (2, 3, 4),
     r"UpSampling2D 'u': expected 4D inputs \(batch, rows, cols, channels\) \(channels_last\)"),
    (lambda: ZeroPadding2D(data_format="channels_first", name="z"), (2, 3, 4),
     r"expected 4D inputs \(batch, channels, rows, cols\) \(channels_first\)"),
    (lambda: Cropping1D(name="c"), (2, 3), r"Cropping1D 'c': expected 3D inputs"),
    (lambda: Reshape((4, 4), name="r"), (2, 3, 5),
     (r"Reshape 'r': cannot reshape input of shape \(2, 3, 5\) \(15 values per sample\) to "
     r"target shape \(4, 4\)")),
])
def test_wrong_input_rank_or_size_names_the_layer(layer, shape, match):
    with pytest.raises(InputSpecError, match=match):
        layer()(np.ones(shape, np.float32))
