"""Pooling layers: the generic harness, agreement with window-by-window numpy references (forward
and gradient), agreement with Keras 3, and the errors bad arguments and inputs get.

The references follow the definitions: "valid" windows start at i * strides inside the input;
"same" gives ceil(n / strides) windows with TensorFlow's padding (total
max((out - 1) * s + pool - n, 0), the smaller half first) and a window covers only real cells
(average pooling divides by their number). Gradients: a max sends its upstream value to the
window's largest cell, an average spreads it evenly over the window's cells.
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
from lamina.layers import pooling as pooling_layers
from lamina.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from lamina.saving import register_serializable

for _cls in pooling_layers.LAYERS:  # the lead wires these into lamina.layers; idempotent
    register_serializable()(_cls)


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _steps_mask(x):
    lengths = np.arange(x.shape[0]) % x.shape[1] + 1  # every sample keeps >= 1 step
    return np.arange(x.shape[1])[None, :] < lengths[:, None]


HARNESS_CASES = [
    LayerCase("maxpool1d", lambda: MaxPooling1D(), _normal(4, 8, 3), (4, 4, 3), 0,
              supports_masking=False),
    LayerCase("maxpool1d-same-strided", lambda: MaxPooling1D(3, strides=2, padding="same"),
              _normal(4, 7, 3), (4, 4, 3), 0),
    LayerCase("maxpool2d", lambda: MaxPooling2D(), _normal(4, 6, 5, 2), (4, 3, 2, 2), 0),
    LayerCase("maxpool2d-same", lambda: MaxPooling2D((3, 2), strides=(2, 1), padding="same"),
              _normal(4, 5, 5, 2), (4, 3, 5, 2), 0),
    LayerCase("maxpool3d", lambda: MaxPooling3D(), _normal(2, 4, 4, 4, 2), (2, 2, 2, 2, 2), 0),
    LayerCase("avgpool1d-overlapping", lambda: AveragePooling1D(3, strides=1), _normal(4, 6, 3),
              (4, 4, 3), 0),
    LayerCase("avgpool2d-same", lambda: AveragePooling2D(3, strides=2, padding="same"),
              _normal(4, 5, 5, 2), (4, 3, 3, 2), 0),
    LayerCase("avgpool3d", lambda: AveragePooling3D((1, 2, 2)), _normal(2, 3, 4, 4, 2),
              (2, 3, 2, 2, 2), 0),
    LayerCase("global-max1d", lambda: GlobalMaxPooling1D(), _normal(4, 5, 3), (4, 3), 0,
              supports_masking=False),
    LayerCase("global-max2d-keepdims", lambda: GlobalMaxPooling2D(keepdims=True),
              _normal(4, 3, 4, 2), (4, 1, 1, 2), 0),
    LayerCase("global-max3d", lambda: GlobalMaxPooling3D(), _normal(2, 2, 3, 2, 3), (2, 3), 0),
    LayerCase("global-avg1d-masked", lambda: GlobalAveragePooling1D(), _normal(4, 5, 3), (4, 3),
              0, mask=_steps_mask, expected_mask=lambda inputs, mask: None,
              supports_masking=True),
    LayerCase("global-avg2d", lambda: GlobalAveragePooling2D(), _normal(4, 3, 4, 2), (4, 2), 0),
    LayerCase("global-avg3d-keepdims", lambda: GlobalAveragePooling3D(keepdims=True),
              _normal(2, 2, 3, 2, 3), (2, 1, 1, 1, 3), 0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- independent numpy references ----------------------------------------------------------
def _windows(spatial, pool, strides, padding):
    """For every output position, the tuple of slices of the real input cells it covers."""
    ranges = []
    for n, p, s in zip(spatial, pool, strides, strict=True):
        if padding == "valid":
            starts = [i * s for i in range((n - p) // s + 1)]
        else:
            out = -(-n // s)
            low = max((out - 1) * s + p - n, 0) // 2
            starts = [i * s - low for i in range(out)]
        ranges.append([slice(max(a, 0), min(a + p, n)) for a in starts])
    return list(itertools.product(*[list(enumerate(r)) for r in ranges]))


def ref_pool(x, pool, strides, padding, mode, upstream=None):
    """Pooled output, or with `upstream` (the output's gradient) the input's gradient."""
    rank = x.ndim - 2
    windows = _windows(x.shape[1:-1], pool, strides, padding)
    out_shape = [max(w[i][0] for w in windows) + 1 for i in range(rank)]
    out = np.zeros((x.shape[0], *out_shape, x.shape[-1]))
    grad = np.zeros_like(x, dtype=np.float64)
    for window in windows:
        pos = tuple(i for i, _ in window)
        cells = (slice(None),) + tuple(s for _, s in window)
        block = x[cells].reshape(x.shape[0], -1, x.shape[-1])  # (b, cells, c)
        index = (slice(None),) + pos
        if mode == "max":
            out[index] = block.max(axis=1)
        else:
            out[index] = block.mean(axis=1)
        if upstream is None:
            continue
        g = np.zeros(block.shape)
        if mode == "max":
            np.put_along_axis(g, block.argmax(axis=1)[:, None], upstream[index][:, None], axis=1)
        else:
            g += upstream[index][:, None] / block.shape[1]
        grad[cells] += g.reshape(x[cells].shape)
    return out if upstream is None else grad


# (id, layer factory, input shape, mode, pool, strides, padding)
REFERENCE_CASES = [
    ("max1d-valid", lambda: MaxPooling1D(3, strides=2), (2, 8, 3), "max", (3,), (2,), "valid"),
    ("max1d-same", lambda: MaxPooling1D(2, padding="same"), (2, 7, 2), "max", (2,), (2,), "same"),
    ("max2d-same-overlap", lambda: MaxPooling2D(3, strides=(2, 1), padding="same"),
     (2, 5, 4, 2), "max", (3, 3), (2, 1), "same"),
    ("max3d", lambda: MaxPooling3D((2, 1, 2)), (1, 4, 3, 4, 2), "max", (2, 1, 2), (2, 1, 2),
     "valid"),
    ("avg1d-same", lambda: AveragePooling1D(4, strides=3, padding="same"), (2, 8, 2), "avg",
     (4,), (3,), "same"),
    ("avg2d-valid", lambda: AveragePooling2D((2, 3), strides=(1, 2)), (2, 4, 7, 2), "avg",
     (2, 3), (1, 2), "valid"),
    ("avg2d-same-edges", lambda: AveragePooling2D(3, strides=2, padding="same"), (1, 6, 5, 2),
     "avg", (3, 3), (2, 2), "same"),
    ("avg3d-same", lambda: AveragePooling3D(2, padding="same"), (1, 3, 3, 2, 2), "avg",
     (2, 2, 2), (2, 2, 2), "same"),
]

FORWARD_TOL = {"rtol": 1e-6, "atol": 1e-6}  # float32 layer vs float64 reference
GRAD_TOL = {"rtol": 1e-5, "atol": 1e-6}


def _layer_value_and_grad(layer, x, w_out):
    """The layer's output and d sum(w_out * tanh(output)) / d input, through jax.grad."""
    def loss(inputs):
        return jnp.sum(w_out * jnp.tanh(layer(inputs)))
    return np.asarray(layer(x)), np.asarray(jax.grad(loss)(jnp.asarray(x)))


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda c: c[0])
def test_forward_and_gradient_match_numpy_reference(case):
    _, make, shape, mode, pool, strides, padding = case
    rng = np.random.default_rng(2)
    x = rng.normal(size=shape).astype(np.float32)
    expected = ref_pool(x.astype(np.float64), pool, strides, padding, mode)
    w_out = rng.normal(size=expected.shape)
    y, grad = _layer_value_and_grad(make(), x, w_out)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **FORWARD_TOL)
    upstream = w_out * (1.0 - np.tanh(expected) ** 2)
    np.testing.assert_allclose(
        grad, ref_pool(x.astype(np.float64), pool, strides, padding, mode, upstream),
        **GRAD_TOL)


@pytest.mark.parametrize("cls, mode", [
    (GlobalMaxPooling1D, "max"), (GlobalMaxPooling2D, "max"), (GlobalMaxPooling3D, "max"),
    (GlobalAveragePooling1D, "avg"), (GlobalAveragePooling2D, "avg"),
    (GlobalAveragePooling3D, "avg"),
])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_one_window_over_the_whole_input(cls, mode, keepdims):
    rng = np.random.default_rng(4)
    shape = (2, 4, 3, 2, 3)[:cls.rank + 1] + (3,)
    x = rng.normal(size=shape).astype(np.float32)
    spatial = shape[1:-1]
    window = ref_pool(x.astype(np.float64), spatial, spatial, "valid", mode)  # (b, 1.., c)
    expected = window if keepdims else window.reshape(shape[0], shape[-1])
    w_out = rng.normal(size=expected.shape)
    y, grad = _layer_value_and_grad(cls(keepdims=keepdims), x, w_out)
    np.testing.assert_allclose(y, expected, **FORWARD_TOL)
    upstream = (w_out * (1.0 - np.tanh(expected) ** 2)).reshape(window.shape)
    np.testing.assert_allclose(
        grad, ref_pool(x.astype(np.float64), spatial, spatial, "valid", mode, upstream),
        **GRAD_TOL)


def test_global_average_pooling1d_averages_only_unmasked_steps():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0, 0], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1]], bool)
    w_out = rng.normal(size=(3, 2))
    layer = GlobalAveragePooling1D()

    def loss(inputs):
        return jnp.sum(w_out * layer(inputs, mask=mask))

    y = np.asarray(layer(x, mask=mask))
    grad = np.asarray(jax.grad(loss)(jnp.asarray(x)))
    for b in range(3):
        kept = np.flatnonzero(mask[b])
        np.testing.assert_allclose(y[b], x[b, kept].astype(np.float64).mean(axis=0),
                                   **FORWARD_TOL)
        expected_grad = np.zeros((5, 2))
        expected_grad[kept] = w_out[b] / len(kept)
        np.testing.assert_allclose(grad[b], expected_grad, **GRAD_TOL)
    kept_dims = GlobalAveragePooling1D(keepdims=True)(x, mask=mask)
    np.testing.assert_allclose(np.asarray(kept_dims)[:, 0], y, rtol=1e-6)


def test_global_average_pooling1d_with_every_step_masked_gives_zeros_not_nan():
    x = np.ones((2, 3, 2), np.float32)
    mask = np.array([[0, 0, 0], [1, 0, 0]], bool)
    y = np.asarray(GlobalAveragePooling1D()(x, mask=mask))
    np.testing.assert_array_equal(y, [[0.0, 0.0], [1.0, 1.0]])


def test_global_average_pooling1d_consumes_the_mask_in_a_model():
    inputs = lm.Input((5, 2))
    model = lm.Model(inputs, lm.layers.Dense(1)(GlobalAveragePooling1D()(inputs)))
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype(np.float32)
    mask = _steps_mask(x)
    pooled = GlobalAveragePooling1D()(x, mask=mask)
    dense = model.layers[-1]
    expected = np.asarray(pooled) @ dense.get_weights()[0] + dense.get_weights()[1]
    np.testing.assert_allclose(np.asarray(model(x, mask=mask)), expected, rtol=1e-5, atol=1e-6)


def test_global_average_pooling1d_uses_the_mask_of_an_embedding():
    from lamina.layers.embedding import Embedding

    tokens = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7]])
    inputs = lm.Input((5,), dtype="int32")
    embedding = Embedding(10, 4, mask_zero=True)
    model = lm.Model(inputs, GlobalAveragePooling1D()(embedding(inputs)))
    vectors = embedding.get_weights()[0][tokens]  # (2, 5, 4)
    expected = [vectors[0, :2].mean(axis=0), vectors[1].mean(axis=0)]
    np.testing.assert_allclose(np.asarray(model(tokens)), expected, rtol=1e-6, atol=1e-7)


def test_pooling_in_a_cnn_trains():
    model = lm.Sequential([lm.Input((6, 6, 1)), lm.layers.Dense(3), MaxPooling2D(),
                           AveragePooling2D(padding="same"), GlobalMaxPooling2D(),
                           lm.layers.Dense(1)])
    model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 6, 1)).astype(np.float32)
    y = x.max(axis=(1, 2))
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * first


# -- agreement with Keras 3 ------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


KERAS_CASES = [
    (MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3)),
    (MaxPooling2D, {}, (2, 5, 5, 2)),
    (MaxPooling2D, {"pool_size": (3, 2), "strides": 1, "padding": "same"}, (2, 4, 5, 2)),
    (MaxPooling3D, {"pool_size": 2, "padding": "same"}, (1, 3, 3, 3, 2)),
    (AveragePooling1D, {"pool_size": 4, "strides": 3, "padding": "same"}, (2, 8, 2)),
    (AveragePooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 5, 2)),
    (AveragePooling3D, {"pool_size": (1, 2, 2)}, (1, 3, 4, 4, 2)),
    (GlobalMaxPooling1D, {"keepdims": True}, (2, 5, 3)),
    (GlobalMaxPooling2D, {}, (2, 3, 4, 2)),
    (GlobalMaxPooling3D, {}, (2, 2, 3, 2, 3)),
    (GlobalAveragePooling1D, {}, (2, 5, 3)),
    (GlobalAveragePooling2D, {"keepdims": True}, (2, 3, 4, 2)),
    (GlobalAveragePooling3D, {}, (2, 2, 3, 2, 3)),
]


@pytest.mark.parametrize("case", KERAS_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(KERAS_CASES)])
def test_outputs_and_config_agree_with_keras(keras, case):
    cls, kwargs, shape = case
    x = np.random.default_rng(7).normal(size=shape).astype(np.float32)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    ours = cls(**kwargs)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-6,
                               atol=1e-6)
    config, ours_config = theirs.get_config(), ours.get_config()
    for key in ("pool_size", "strides", "padding", "data_format", "keepdims"):
        if key in config:
            assert np.array_equal(np.atleast_1d(ours_config[key]), np.atleast_1d(config[key]))


def test_masked_global_average_agrees_with_keras(keras):
    x = np.random.default_rng(7).normal(size=(3, 5, 2)).astype(np.float32)
    mask = _steps_mask(x)
    np.testing.assert_allclose(
        np.asarray(GlobalAveragePooling1D()(x, mask=mask)),
        np.asarray(keras.layers.GlobalAveragePooling1D()(x, mask=mask)), rtol=1e-6, atol=1e-6)


# -- errors ----------------------------------------------------------------------------------
def test_pooling_on_the_wrong_rank_names_the_layer():
    with pytest.raises(InputSpecError, match=r"MaxPooling2D 'pool': expected an input of rank 4 "
                       r"\(batch, height, width, channels\), received shape \(2, 6, 3\)"):
        MaxPooling2D(name="pool")(np.zeros((2, 6, 3), np.float32))
    with pytest.raises(InputSpecError, match=r"GlobalAveragePooling2D 'gap': expected an input "
                       r"of rank 4"):
        GlobalAveragePooling2D(name="gap")(lm.Input((6, 3)))


def test_window_larger_than_a_valid_padded_input():
    with pytest.raises(InputSpecError, match=r"AveragePooling2D 'avg': the input of shape "
                       r"\(1, 2, 5, 1\) is too small for pool_size \(3, 3\) and strides "
                       r"\(3, 3\) with padding 'valid'.*padding='same'"):
        AveragePooling2D(3, name="avg")(np.zeros((1, 2, 5, 1), np.float32))


@pytest.mark.parametrize("kwargs, match", [
    ({"pool_size": 0}, (r"expected `pool_size` to be an integer >= 1 or a tuple of 2 such "
                        r"integers, received pool_size=0")),
    ({"strides": (2, 0)}, (r"expected `strides` to be an integer >= 1 .* received "
                           r"strides=\(2, 0\)")),
    ({"padding": "full"}, (r"expected `padding` to be one of 'valid', 'same', received "
                           r"padding='full'")),
    ({"data_format": "channels_first"}, r"only data_format='channels_last'"),
])
def test_bad_pooling_arguments(kwargs, match):
    with pytest.raises(ValueError, match=r"MaxPooling2D 'p': " + match):
        MaxPooling2D(name="p", **kwargs)


def test_global_pooling_refuses_channels_first():
    with pytest.raises(ValueError, match=r"GlobalMaxPooling1D 'g': only "
                       r"data_format='channels_last'.*received data_format='channels_first'"):
        GlobalMaxPooling1D(data_format="channels_first", name="g")


def test_mask_of_the_wrong_shape():
    with pytest.raises(InputSpecError, match=r"GlobalAveragePooling1D 'm': expected a mask of "
                       r"shape \(batch, steps\) = \(2, 4\), received shape \(2, 3\)"):
        GlobalAveragePooling1D(name="m")(np.zeros((2, 4, 3), np.float32),
                                         mask=np.ones((2, 3), bool))
