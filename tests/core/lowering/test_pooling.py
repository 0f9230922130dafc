"""lamina.core.lowering.pooling: every lowering against references written here, and the
backend choice.

References, independent of the implementation:
- `numpy_pool`: explicit loops over output positions; "same" padding is TensorFlow's (total
  max((out - 1) * s + k - n, 0), the smaller half first), padded cells never count (max: they
  never win; average: divided by the number of real cells);
- `jax.lax.reduce_window` called here, for values and for gradients: its max-pool gradient
  (`select_and_scatter`) sends each window's gradient to the first maximal element in
  row-major window order, which the "slices" lowering must reproduce exactly, ties included.

Tolerances: max pooling and its gradient are exact (no arithmetic, only selection and sums of
at most a few terms in the same order for distinct windows: compared at atol 1e-6); average
pooling within atol 1e-6 + rtol 1e-6 (float32).
"""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lamina.core.lowering import pooling
from lamina.core.lowering.pooling import avg_pool, max_pool, select_pool_lowering

TOL = {"atol": 1e-6, "rtol": 1e-6}


@pytest.fixture(autouse=True)
def _exact_float32_products():
    """GPUs may run float32 products in TF32 by default; these references are float32."""
    with jax.default_matmul_precision("highest"):
        yield


def numpy_pool(x, pool_size, strides, padding, mode):
    spatial = x.shape[1:-1]
    if padding == "valid":
        pads = [(0, 0)] * len(spatial)
        out = [(n - k) // s + 1 for n, k, s in zip(spatial, pool_size, strides, strict=True)]
    else:
        out = [-(-n // s) for n, s in zip(spatial, strides, strict=True)]
        totals = [max((o - 1) * s + k - n, 0) for o, s, k, n in zip(out, strides, pool_size,
                                                                     spatial, strict=True)]
        pads = [(t // 2, t - t // 2) for t in totals]
    y = np.zeros((x.shape[0], *out, x.shape[-1]), np.float64)
    for pos in itertools.product(*(range(m) for m in out)):
        cells = []
        for tap in itertools.product(*(range(k) for k in pool_size)):
            idx = [p * s + t - lo for p, s, t, (lo, _) in zip(pos, strides, tap, pads, strict=True)]
            if all(0 <= i < n for i, n in zip(idx, spatial, strict=True)):
                cells.append(x[(slice(None), *idx)])
        cells = np.stack(cells)
        y[(slice(None), *pos)] = cells.max(0) if mode == "max" else cells.mean(0)
    return y


def lax_max_pool(x, pool_size, strides, padding):
    return jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, *pool_size, 1),
                                 (1, *strides, 1), padding.upper())


def lax_avg_pool(x, pool_size, strides, padding):
    window, stride = (1, *pool_size, 1), (1, *strides, 1)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, stride, padding.upper())
    count = jax.lax.reduce_window(jnp.ones((1, *x.shape[1:-1], 1)), 0.0, jax.lax.add, window,
                                  stride, padding.upper())
    return total / count


# (name, input shape, pool_size, strides, padding)
CASES = [
    ("1d_valid", (2, 9, 3), (2,), (2,), "valid"),
    ("1d_same_overlap", (2, 9, 2), (3,), (2,), "same"),
    ("2d_w4", (3, 26, 26, 4), (2, 2), (2, 2), "valid"),
    ("2d_odd_valid", (2, 11, 11, 3), (2, 2), (2, 2), "valid"),
    ("2d_same", (2, 7, 5, 3), (2, 2), (2, 2), "same"),
    ("2d_overlap_same", (2, 8, 9, 2), (3, 3), (2, 2), "same"),
    ("2d_stride_one", (2, 6, 5, 2), (2, 3), (1, 1), "valid"),
    ("2d_rect_strides", (2, 9, 10, 2), (3, 2), (2, 3), "same"),
    ("2d_window_larger_than_stride_valid", (1, 10, 9, 2), (4, 3), (3, 2), "valid"),
    ("2d_stride_larger_than_window", (2, 9, 10, 2), (2, 2), (3, 3), "valid"),
    ("2d_same_tiles_with_padding", (1, 5, 7, 2), (3, 2), (3, 2), "same"),
    ("3d_valid", (2, 4, 6, 5, 2), (2, 2, 2), (2, 2, 2), "valid"),
    ("3d_same", (1, 5, 4, 6, 2), (2, 3, 2), (2, 1, 2), "same"),
]
IDS = [c[0] for c in CASES]


def tied(shape, seed=0):
    """Values from a small set, so that windows hold ties (and whole windows of one value)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-2, 3, shape).astype(np.float32)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("lowering", pooling.LOWERINGS)
def test_max_pool_values_and_gradient_with_ties(case, lowering):
    _, shape, pool_size, strides, padding = case
    for x in (tied(shape), np.random.default_rng(1).standard_normal(shape).astype(np.float32)):
        expected = numpy_pool(x, pool_size, strides, padding, "max")
        out = max_pool(jnp.asarray(x), pool_size, strides, padding, lowering=lowering)
        assert out.shape == expected.shape and out.dtype == jnp.float32
        np.testing.assert_allclose(out, expected, atol=1e-6)
        w = jnp.asarray(np.random.default_rng(2).standard_normal(expected.shape), jnp.float32)
        ref = jax.grad(lambda x, w=w: jnp.sum(lax_max_pool(x, pool_size, strides, padding) * w))(x)
        got = jax.jit(jax.grad(lambda x, w=w: jnp.sum(
            max_pool(x, pool_size, strides, padding, lowering=lowering) * w)))(x)
        np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("lowering", pooling.LOWERINGS)
def test_avg_pool_values_and_gradient(case, lowering):
    _, shape, pool_size, strides, padding = case
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    expected = numpy_pool(x, pool_size, strides, padding, "avg")
    out = avg_pool(jnp.asarray(x), pool_size, strides, padding, lowering=lowering)
    assert out.shape == expected.shape and out.dtype == jnp.float32
    np.testing.assert_allclose(out, expected, **TOL)
    w = jnp.asarray(np.random.default_rng(4).standard_normal(expected.shape), jnp.float32)
    ref = jax.grad(lambda x: jnp.sum(lax_avg_pool(x, pool_size, strides, padding) * w))(x)
    got = jax.jit(jax.grad(lambda x: jnp.sum(
        avg_pool(x, pool_size, strides, padding, lowering=lowering) * w)))(x)
    np.testing.assert_allclose(got, ref, **TOL)


def test_max_pool_gradient_goes_to_the_first_maximum_of_each_window():
    """Written out for one 2x2 window of equal values: all of the gradient on the top-left."""
    x = jnp.ones((1, 2, 2, 1))
    for lowering in pooling.LOWERINGS:
        g = jax.grad(lambda x, low=lowering: max_pool(x, (2, 2), (2, 2), "valid",
                                                      lowering=low).sum())(x)
        np.testing.assert_array_equal(g[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_max_pool_padding_never_receives_the_gradient():
    """-inf inputs tie with -inf padding: the gradient must stay on the real cells."""
    x = jnp.full((1, 3, 3, 1), -jnp.inf)
    ref = jax.grad(lambda x: lax_max_pool(x, (2, 2), (2, 2), "same").sum())(x)
    for lowering in pooling.LOWERINGS:
        got = jax.grad(lambda x, low=lowering: max_pool(x, (2, 2), (2, 2), "same",
                                                        lowering=low).sum())(x)
        np.testing.assert_array_equal(got, ref)
        assert float(got.sum()) == 4.0  # four windows, each gives its gradient to a real cell


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bfloat16])
def test_other_dtypes(dtype):
    x = tied((2, 6, 6, 2)).astype(np.float32)
    for lowering in pooling.LOWERINGS:
        out = max_pool(jnp.asarray(x, dtype), (2, 2), (2, 2), "same", lowering=lowering)
        assert out.dtype == dtype
        np.testing.assert_array_equal(np.asarray(out, np.float32),
                                      numpy_pool(x, (2, 2), (2, 2), "same", "max"))


# ---- lowering selection -----------------------------------------------------------------
@pytest.mark.parametrize("backend", ["gpu", "cuda", "rocm", "tpu", "METAL"])
def test_selection_keeps_reduce_window_off_cpu(backend):
    assert select_pool_lowering(backend) == "xla"


def test_selection_on_cpu():
    assert select_pool_lowering("cpu") == "slices"


def test_default_lowering_follows_the_backend():
    x = jnp.zeros((2, 8, 8, 3))
    grad = jax.grad(lambda x: max_pool(x, (2, 2), (2, 2), "valid").sum())
    text = str(jax.make_jaxpr(grad)(x))  # the printed program, nested jaxprs included
    on_cpu = jax.default_backend() == "cpu"
    assert ("select_and_scatter_add" in text) != on_cpu  # XLA's gradient only off CPU
    assert "reduce_window_max" in text  # the forward is reduce_window everywhere


# ---- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [max_pool, avg_pool])
def test_bad_padding(fn):
    with pytest.raises(ValueError, match=r"expected padding 'valid' or 'same', received 'causal'"):
        fn(jnp.zeros((1, 4, 4, 1)), (2, 2), (2, 2), "causal")


def test_unknown_lowering():
    with pytest.raises(ValueError, match=r"expected lowering .*'xla', 'slices'.*received 'fast'"):
        max_pool(jnp.zeros((1, 4, 4, 1)), (2, 2), (2, 2), "valid", lowering="fast")
