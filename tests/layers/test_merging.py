"""Merging layers: harness rows, numpy references with Keras 3's mask rules (forward, and
gradients by finite differences), agreement with Keras 3, and shape/mask errors."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.layers import merging
from lamina.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from lamina.saving import register_serializable

for _cls in merging.LAYERS:  # the lead wires the package exports; re-registration is allowed
    register_serializable()(_cls)

RTOL, ATOL = 1e-5, 1e-6  # float32 forward against float64 numpy
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-5  # float32 jax.grad against float64 central differences


def _normal(*shapes):
    return lambda rng: [rng.normal(size=s).astype(np.float32) for s in shapes]


def _time_mask(seed):
    """(6, 4) masks with a different valid prefix per row (and one fully masked row)."""
    lengths = np.random.default_rng(seed).integers(0, 5, size=6)
    return np.arange(4)[None, :] < lengths[:, None]


def _or(inputs, masks):
    return np.logical_or(masks[0], masks[1])


def _masked(expected=_or):
    """Harness options for a row called with a mask per input."""
    return dict(mask=lambda first: [_time_mask(1), _time_mask(2)], expected_mask=expected,
                supports_masking=True)


HARNESS_CASES = [
    LayerCase("add-3", lambda: Add(), _normal((6, 3), (6, 3), (6, 3)), (6, 3),
              trainable_params=0, supports_masking=True),
    LayerCase("add-broadcast", lambda: Add(), _normal((6, 4, 3), (6, 3)), (6, 4, 3),
              trainable_params=0),
    LayerCase("add-masked", lambda: Add(), _normal((6, 4, 3), (6, 4, 3)), (6, 4, 3),
              trainable_params=0, **_masked()),
    LayerCase("subtract-broadcast", lambda: Subtract(), _normal((6, 4, 3), (6, 1, 3)),
              (6, 4, 3), trainable_params=0),
    LayerCase("subtract-masked", lambda: Subtract(), _normal((6, 4, 3), (6, 4, 3)), (6, 4, 3),
              trainable_params=0, **_masked()),
    LayerCase("multiply", lambda: Multiply(), _normal((6, 4, 3), (6, 4, 3)), (6, 4, 3),
              trainable_params=0, **_masked()),
    LayerCase("average", lambda: Average(), _normal((6, 3), (6, 3), (6, 1)), (6, 3),
              trainable_params=0),
    LayerCase("maximum", lambda: Maximum(), _normal((6, 4, 3), (6, 4, 3)), (6, 4, 3),
              trainable_params=0, **_masked()),
    LayerCase("minimum", lambda: Minimum(), _normal((6, 4, 3), (6, 4, 3)), (6, 4, 3),
              trainable_params=0, **_masked()),
    LayerCase("concatenate-features", lambda: Concatenate(), _normal((6, 4, 3), (6, 4, 2)),
              (6, 4, 5), trainable_params=0, **_masked()),
    LayerCase("concatenate-time", lambda: Concatenate(axis=1), _normal((6, 4, 3), (6, 4, 3)),
              (6, 8, 3), trainable_params=0,
              **_masked(lambda xs, ms: np.concatenate(ms, axis=1))),
    LayerCase("dot-vectors", lambda: Dot(axes=-1), _normal((6, 3), (6, 3)), (6, 1),
              trainable_params=0),
    LayerCase("dot-sequences", lambda: Dot(axes=(1, 2)), _normal((6, 3, 4), (6, 5, 3)),
              (6, 4, 5), trainable_params=0,
              **_masked(lambda xs, ms: None)),
    LayerCase("dot-normalize", lambda: Dot(axes=2, normalize=True),
              _normal((6, 4, 3), (6, 5, 3)), (6, 4, 5), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references (Keras 3 semantics, written element by element) ----------------------
def _valid(masks, i, b, t):
    return masks[i] is None or bool(masks[i][b, t])


def _np_elementwise(name, xs, masks):
    """Element-wise merge of same-shape (batch, time, features) inputs, with Keras 3 masks."""
    xs = [x.astype(np.float64) for x in xs]
    out = np.zeros_like(xs[0])
    every_mask = all(m is not None for m in masks)
    for b in range(out.shape[0]):
        for t in range(out.shape[1]):
            values = [x[b, t] for x in xs]
            valid = [v for i, v in enumerate(values) if _valid(masks, i, b, t)]
            if name == "add":
                out[b, t] = sum(values)
            elif name == "average":
                out[b, t] = sum(values) / len(values)
            elif name == "subtract":
                out[b, t] = values[0] - values[1]
            elif name in ("maximum", "minimum"):  # masked values are ignored
                pick = np.max if name == "maximum" else np.min
                out[b, t] = pick(valid, axis=0) if valid else values[0]
            elif name == "multiply":  # masked values count as 1, all masked gives 0
                out[b, t] = np.prod(valid, axis=0) if valid else (
                    0.0 if every_mask else 1.0)
    return out


def _np_merge_mask(masks):
    if any(m is None for m in masks):
        return None
    out = np.zeros_like(masks[0], bool)
    for m in masks:
        out = out | m
    return out


LAYER_OF = {"add": Add, "subtract": Subtract, "multiply": Multiply, "average": Average,
            "maximum": Maximum, "minimum": Minimum}


def _finite_difference_grads(f, xs, eps=1e-6):
    grads = []
    for i, x in enumerate(xs):
        g = np.zeros(x.shape)
        for idx in np.ndindex(*x.shape):
            plus = [np.array(a, np.float64) for a in xs]
            minus = [np.array(a, np.float64) for a in xs]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (f(plus) - f(minus)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("name", sorted(LAYER_OF))
@pytest.mark.parametrize("masked", ["none", "all", "some"])
def test_elementwise_merges_match_numpy_forward_and_gradient(name, masked):
    rng = np.random.default_rng(7)
    count = 2 if name == "subtract" else 3
    xs = [rng.normal(size=(3, 4, 2)).astype(np.float32) for _ in range(count)]
    masks = [rng.random((3, 4)) < 0.5 for _ in range(count)]
    masks[0][0, :] = False  # a timestep masked everywhere
    for m in masks:
        m[0, 1] = False
    if masked == "none":
        masks = [None] * count
    elif masked == "some":
        masks[1] = None
    layer = LAYER_OF[name]()
    call_masks = None if masked == "none" else masks
    out = layer(xs, mask=call_masks)
    np.testing.assert_allclose(np.asarray(out), _np_elementwise(name, xs, masks),
                               rtol=RTOL, atol=ATOL)
    expected_mask = None if masked == "none" else _np_merge_mask(masks)
    got_mask = layer.compute_mask(xs, call_masks)
    if expected_mask is None:
        assert got_mask is None
    else:
        np.testing.assert_array_equal(np.asarray(got_mask), expected_mask)

    weights = rng.normal(size=out.shape)
    grads = jax.grad(lambda args: jnp.sum(layer(args, mask=call_masks) * weights))(
        [jnp.asarray(x) for x in xs])
    expected = _finite_difference_grads(
        lambda args: np.sum(_np_elementwise(name, args, masks) * weights), xs)
    for g, e in zip(grads, expected, strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_broadcasting_inserts_axes_after_the_batch_axis():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b = rng.normal(size=(2, 4)).astype(np.float32)
    c = rng.normal(size=(2, 1, 1)).astype(np.float32)
    expected = np.empty((2, 3, 4))
    for i in range(2):
        for j in range(3):
            for k in range(4):
                expected[i, j, k] = a[i, j, k] + b[i, k] + c[i, 0, 0]
    np.testing.assert_allclose(np.asarray(Add()([a, b, c])), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concatenate_values_masks_and_gradient(axis):
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 3, 2)).astype(np.float32) for _ in range(3)]
    masks = [rng.random((2, 3)) < 0.5, None, rng.random((2, 3)) < 0.5]
    layer = Concatenate(axis=axis)
    np.testing.assert_array_equal(np.asarray(layer(xs)), np.concatenate(xs, axis=axis))
    full = [np.ones((2, 3, 2), bool) if m is None else np.repeat(m[..., None], 2, -1)
            for m in masks]
    if axis == 1:  # timestep masks side by side
        expected_mask = np.concatenate([f[..., 0] for f in full], axis=1)
    else:  # one timestep is valid if any input is (a missing mask counts as all valid)
        expected_mask = np.ones((2, 3), bool)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(xs, masks)), expected_mask)
    assert layer.compute_mask(xs, [None, None, None]) is None
    weights = rng.normal(size=np.concatenate(xs, axis=axis).shape)
    grads = jax.grad(lambda args: jnp.sum(layer(args) * weights))([jnp.asarray(x) for x in xs])
    expected = _finite_difference_grads(
        lambda args: np.sum(np.concatenate(args, axis=axis) * weights), xs)
    for g, e in zip(grads, expected, strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def _np_dot(x, y, axes, normalize):
    x, y = x.astype(np.float64), y.astype(np.float64)
    a, b = axes
    if normalize:
        x = x / np.sqrt(np.sum(x * x, axis=a, keepdims=True))
        y = y / np.sqrt(np.sum(y * y, axis=b, keepdims=True))
    xm = np.moveaxis(x, a, -1)  # (batch, *x_rest, n)
    ym = np.moveaxis(y, b, 1)  # (batch, n, *y_rest)
    batch, n = x.shape[0], x.shape[a]
    flat = np.einsum("bin,bnj->bij", xm.reshape(batch, -1, n), ym.reshape(batch, n, -1))
    out = flat.reshape(xm.shape[:-1] + ym.shape[2:])
    return out.reshape(out.shape[0], 1) if out.ndim == 1 else out


@pytest.mark.parametrize("shapes, axes, resolved", [
    (((2, 3), (2, 3)), 1, (1, 1)),
    (((2, 3, 4), (2, 5, 3)), (1, 2), (1, 2)),
    (((2, 4, 3), (2, 5, 3)), -1, (2, 2)),
    (((2, 3), (2, 3, 5)), (1, 1), (1, 1)),
    (((2, 4, 3), (2, 3)), (-1, -1), (2, 1)),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_numpy_forward_and_gradient(shapes, axes, resolved, normalize):
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    layer = Dot(axes=axes, normalize=normalize)
    out = layer(xs)
    np.testing.assert_allclose(np.asarray(out), _np_dot(*xs, resolved, normalize),
                               rtol=RTOL, atol=ATOL)
    weights = rng.normal(size=out.shape)
    grads = jax.grad(lambda args: jnp.sum(layer(args) * weights))([jnp.asarray(x) for x in xs])
    expected = _finite_difference_grads(
        lambda args: np.sum(_np_dot(*args, resolved, normalize) * weights), xs)
    for g, e in zip(grads, expected, strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# -- masks through a functional model -----------------------------------------------------
class _MaskProbe(lm.layers.Layer):
    """Outputs the mask it receives (1.0 valid, 0.0 masked; -1 for no mask)."""

    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return jnp.full(inputs.shape[:2], -1.0)
        return mask.astype(jnp.float32)


def test_merge_masks_travel_through_a_model():
    from lamina.layers.embedding import Embedding

    a, b = lm.Input((4,), dtype="int32"), lm.Input((4,), dtype="int32")
    embed = Embedding(9, 3, mask_zero=True)
    ea, eb = embed(a), embed(b)
    model = lm.Model([a, b], [_MaskProbe()(Maximum()([ea, eb])),
                              _MaskProbe()(Concatenate(axis=1)([ea, eb])),
                              _MaskProbe()(Add()([ea, lm.layers.Dense(3)(eb)])),
                              _MaskProbe()(Dot(axes=2)([ea, eb]))])
    xa = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], np.int32)
    xb = np.array([[4, 0, 5, 0], [0, 0, 0, 0]], np.int32)
    maximum, concat, add, dot = [np.asarray(o) for o in model([xa, xb])]
    np.testing.assert_array_equal(maximum, (xa != 0) | (xb != 0))
    np.testing.assert_array_equal(concat, np.concatenate([xa != 0, xb != 0], axis=1))
    np.testing.assert_array_equal(add, (xa != 0) | (xb != 0))  # Dense passes the mask on
    np.testing.assert_array_equal(dot, -np.ones((2, 4)))  # Dot outputs no mask


# -- Keras 3 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _padded(seed):
    x = np.random.default_rng(seed).normal(size=(3, 4, 2)).astype(np.float32)
    x[0, 2:] = 0.0
    x[1, :1] = 0.0
    x[2, 1] = 0.0
    return x


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                  "Minimum", "Concatenate"])
def test_masked_merges_match_keras_in_a_functional_model(keras, name):
    xs = [_padded(0), _padded(1)]
    xs[1][0, 1] = 0.0
    theirs_in = [keras.Input((4, 2)) for _ in range(2)]
    theirs = keras.Model(theirs_in, getattr(keras.layers, name)()(
        [keras.layers.Masking()(t) for t in theirs_in]))
    ours_in = [lm.Input((4, 2)) for _ in range(2)]
    from lamina.layers.embedding import Masking

    ours = lm.Model(ours_in, getattr(merging, name)()([Masking()(t) for t in ours_in]))
    np.testing.assert_allclose(np.asarray(ours(xs)), np.asarray(theirs(xs)),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("make", [lambda L: L.Add(), lambda L: L.Concatenate(axis=1),
                                  lambda L: L.Concatenate(axis=-1), lambda L: L.Maximum()])
def test_merge_compute_mask_matches_keras(keras, make):
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, 3, 2)).astype(np.float32) for _ in range(2)]
    for masks in ([rng.random((2, 3)) < 0.5, rng.random((2, 3)) < 0.5],
                  [rng.random((2, 3)) < 0.5, None]):
        expected = make(keras.layers).compute_mask(xs, masks)
        got = make(merging).compute_mask(xs, masks)
        if expected is None:
            assert got is None
        else:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


@pytest.mark.parametrize("shapes, axes", [(((2, 3), (2, 3)), 1), (((2, 3, 4), (2, 5, 3)), (1, 2)),
                                          (((2, 3), (2, 3, 5)), (1, 1)),
                                          (((2, 4, 3), (2, 3)), -1)])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(keras, shapes, axes, normalize):
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    expected = keras.layers.Dot(axes=axes, normalize=normalize)(xs)
    np.testing.assert_allclose(np.asarray(Dot(axes=axes, normalize=normalize)(xs)),
                               np.asarray(expected), rtol=RTOL, atol=ATOL)


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, shapes", [
    (Add(name="plus"), [(4,), (5,)]),
    (Maximum(name="plus"), [(3, 4), (2, 4)]),
    (Multiply(name="plus"), [(3, 4), (3,)]),
])
def test_incompatible_shapes_fail_when_the_model_is_defined(layer, shapes):
    inputs = [lm.Input(s) for s in shapes]
    received = re.escape(str([(None,) + s for s in shapes]))
    with pytest.raises(lm.InputSpecError, match=rf"'plus': expected shapes that broadcast "
                                                rf".*received shapes {received}"):
        layer(inputs)


def test_concatenate_mismatch_fails_when_the_model_is_defined():
    a, b = lm.Input((3, 4)), lm.Input((5, 6))
    with pytest.raises(lm.InputSpecError, match=r"Concatenate 'cat': expected shapes equal "
                                                r"except on axis -1, .*\(None, 3, 4\), "
                                                r"\(None, 5, 6\)\] \(they differ on axis 1\)"):
        Concatenate(name="cat")([a, b])
    with pytest.raises(lm.InputSpecError, match=r"'cat2': expected inputs of one rank"):
        Concatenate(name="cat2")([lm.Input((3,)), lm.Input((3, 1))])


def test_eager_calls_after_build_are_checked_too():
    layer = Add(name="plus")
    layer([np.ones((2, 3), np.float32)] * 2)
    with pytest.raises(lm.InputSpecError, match=r"'plus'.*\(2, 3\), \(2, 4\)"):
        layer([np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)])
    with pytest.raises(lm.InputSpecError, match=r"'plus': expected inputs with a batch axis "
                                                r"and one batch size"):
        layer([np.ones((2, 3), np.float32), np.ones((3, 3), np.float32)])


def test_subtract_needs_exactly_two_inputs():
    inputs = [lm.Input((3,)) for _ in range(3)]
    with pytest.raises(lm.InputSpecError, match=r"Subtract 'minus': expected a list of exactly "
                                                r"2 tensors, received 3 inputs"):
        Subtract(name="minus")(inputs)
    with pytest.raises(lm.InputSpecError, match=r"Dot 'd': expected a list of exactly 2 "
                                                r"tensors, received 3 inputs"):
        Dot(axes=1, name="d")(inputs)


def test_a_single_tensor_is_refused():
    with pytest.raises(lm.InputSpecError, match=r"Average 'avg': expected a list of at least 1 "
                                                r"tensors, received a single tensor of shape "
                                                r"\(2, 3\)"):
        Average(name="avg")(np.ones((2, 3), np.float32))


def test_masks_of_the_wrong_shape_or_count_are_refused():
    xs = [np.ones((2, 3, 4), np.float32)] * 2
    with pytest.raises(lm.InputSpecError, match=r"Maximum 'mx': expected a mask of shape "
                                                r"\(2, 3\) .* received a mask of shape \(2, 4\)"):
        Maximum(name="mx")(xs, mask=[np.ones((2, 4), bool), None])
    with pytest.raises(lm.InputSpecError, match=r"Add 'ad': expected a list of 2 masks"):
        Add(name="ad")(xs, mask=np.ones((2, 3), bool))
    with pytest.raises(lm.InputSpecError, match=r"Concatenate 'cc': expected a mask of shape "
                                                r"\(2, 3\)"):
        Concatenate(name="cc").compute_mask(xs, [np.ones((3,), bool), None])


@pytest.mark.parametrize("axes", [(1, 2, 3), "1", (1.0, 1), True])
def test_dot_axes_must_be_an_int_or_a_pair(axes):
    with pytest.raises(ValueError, match=r"Dot 'd': expected `axes` to be an integer or a pair "
                                         r"of integers"):
        Dot(axes=axes, name="d")


def test_dot_shape_errors():
    with pytest.raises(lm.InputSpecError, match=r"Dot 'd': expected equal sizes on the dot "
                                                r"axes, .*\(None, 3\), \(None, 4\)\] with axes "
                                                r"\[1, 1\] \(3 != 4\)"):
        Dot(axes=1, name="d")([lm.Input((3,)), lm.Input((4,))])
    with pytest.raises(lm.InputSpecError, match=r"Dot 'd0': expected two inputs of rank >= 2 "
                                                r"and axes 0 that are not the batch axis 0"):
        Dot(axes=0, name="d0")([lm.Input((3,)), lm.Input((3,))])


def test_concatenate_axis_must_be_an_int():
    with pytest.raises(ValueError, match=r"Concatenate 'c': expected an integer `axis`, "
                                         r"received 'x'"):
        Concatenate(axis="x", name="c")
