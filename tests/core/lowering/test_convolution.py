"""lamina.core.lowering.convolution: every lowering against references written here, and the
backend choice.

References, independent of the implementation:
- `numpy_conv`: a direct convolution, an explicit loop over output positions summing kernel
  taps, with TensorFlow's "same" padding (total max((out - 1) * s + span - n, 0), the smaller
  half first) written out below;
- `lax_conv`: `jax.lax.conv_general_dilated` called here with NHWC / HWIO dimension numbers,
  for values and for gradients (jax.grad) w.r.t. the input and the kernel.

Tolerances (float32, values of order 1): values and gradients within atol 2e-5 + rtol 2e-5 of
the reference. A different summation order is the only expected difference.
"""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lamina.core.lowering import conv_paths, convolution
from lamina.core.lowering.convolution import conv, patches, select_conv_lowering

TOL = {"atol": 2e-5, "rtol": 2e-5}


@pytest.fixture(autouse=True)
def _exact_float32_products():
    """GPUs may run float32 products in TF32 by default; these references are float32."""
    with jax.default_matmul_precision("highest"):
        yield


def same_pads(n, k, s, d):
    span = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + span - n, 0)
    return total // 2, total - total // 2


def numpy_conv(x, kernel, strides, padding, dilation, groups=1):
    """Direct N-D grouped convolution (channels last, kernel (*window, in/groups, out))."""
    window = kernel.shape[:-2]
    if padding == "valid":
        pads = [(0, 0)] * len(window)
    elif padding == "same":
        pads = [same_pads(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], window, strides,
                                                               dilation, strict=True)]
    else:
        pads = padding
    # negative padding crops
    xp = np.pad(x.astype(np.float64), [(0, 0), *((max(lo, 0), max(hi, 0)) for lo, hi in pads),
                                       (0, 0)])
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0))
                 for (lo, hi), n in zip(pads, xp.shape[1:-1], strict=True))
    xp = xp[(slice(None), *crop)]
    out_sp = [(n - (k - 1) * d - 1) // s + 1
              for n, k, s, d in zip(xp.shape[1:-1], window, strides, dilation, strict=True)]
    cin_g, cout = kernel.shape[-2], kernel.shape[-1]
    cout_g = cout // groups
    y = np.zeros((x.shape[0], *out_sp, cout))
    for pos in itertools.product(*(range(m) for m in out_sp)):
        for tap in itertools.product(*(range(k) for k in window)):
            idx = tuple(p * s + t * d
                        for p, s, t, d in zip(pos, strides, tap, dilation, strict=True))
            v = xp[(slice(None), *idx)]  # (batch, in)
            for g in range(groups):
                y[(slice(None), *pos, slice(g * cout_g, (g + 1) * cout_g))] += (
                    v[:, g * cin_g:(g + 1) * cin_g] @ kernel[tap][:, g * cout_g:(g + 1) * cout_g])
    return y


def lax_conv(x, kernel, strides, padding, dilation, groups=1):
    sp = "DHW"[-(x.ndim - 2):]
    pad = padding.upper() if isinstance(padding, str) else padding
    return jax.lax.conv_general_dilated(x, kernel, strides, pad, rhs_dilation=dilation,
                                        dimension_numbers=(f"N{sp}C", f"{sp}IO", f"N{sp}C"),
                                        feature_group_count=groups)


# (name, input shape, kernel shape, strides, padding, dilation, groups)
CASES = [
    ("1d_valid", (2, 9, 3), (3, 3, 4), (1,), "valid", (1,), 1),
    ("1d_same_stride2", (2, 10, 3), (4, 3, 5), (2,), "same", (1,), 1),
    ("1d_causal_dilated", (2, 11, 2), (3, 2, 3), (1,), ((4, 0),), (2,), 1),
    ("2d_valid", (2, 8, 7, 3), (3, 3, 3, 4), (1, 1), "valid", (1, 1), 1),
    ("2d_same_even_kernel", (2, 7, 6, 2), (2, 4, 2, 3), (1, 1), "same", (1, 1), 1),
    ("2d_strides", (2, 9, 8, 3), (3, 2, 3, 4), (2, 3), "valid", (1, 1), 1),
    ("2d_same_strides", (2, 9, 8, 3), (3, 3, 3, 4), (2, 2), "same", (1, 1), 1),
    ("2d_dilation", (2, 9, 9, 2), (3, 3, 2, 3), (1, 1), "same", (2, 3), 1),
    ("2d_explicit", (2, 6, 7, 2), (3, 2, 2, 3), (1, 2), ((1, 2), (0, 3)), (1, 1), 1),
    ("2d_negative_explicit", (2, 8, 7, 2), (3, 3, 2, 3), (1, 1), ((-1, 1), (1, 0)), (1, 1), 1),
    ("2d_one_by_one", (2, 5, 5, 3), (1, 1, 3, 4), (1, 1), "valid", (1, 1), 1),
    ("2d_groups", (2, 7, 7, 4), (3, 3, 2, 6), (1, 1), "same", (1, 1), 2),
    ("2d_depthwise", (2, 7, 6, 3), (3, 3, 1, 6), (2, 1), "valid", (1, 1), 3),
    ("3d_valid", (2, 5, 6, 4, 2), (2, 3, 2, 2, 3), (1, 1, 1), "valid", (1, 1, 1), 1),
    ("3d_same_strides_dilation", (1, 6, 5, 7, 2), (3, 2, 3, 2, 2), (2, 1, 2), "same",
     (1, 2, 1), 1),
]
IDS = [c[0] for c in CASES]


def data(case, seed=0):
    _, xs, ks, *_ = case
    rng = np.random.default_rng(seed)
    return rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ks).astype(np.float32)


def lowerings(groups):
    # "shifts" computes depthwise convolutions only (tests/core/lowering/test_conv_autotune.py)
    return ["xla"] if groups != 1 else [m for m in convolution.LOWERINGS if m != "shifts"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_lax_reference_agrees_with_numpy_loops(case):
    """The reference used for gradients below is itself checked against direct loops."""
    _, _, _, strides, padding, dilation, groups = case
    x, k = data(case)
    np.testing.assert_allclose(lax_conv(x, k, strides, padding, dilation, groups),
                               numpy_conv(x, k, strides, padding, dilation, groups), **TOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_lowering_values_and_gradients(case):
    _, _, _, strides, padding, dilation, groups = case
    x, k = data(case)
    expected = numpy_conv(x, k, strides, padding, dilation, groups)
    weights = jnp.asarray(np.random.default_rng(1).standard_normal(expected.shape), jnp.float32)

    def objective(fn):
        return lambda x, k: jnp.sum(jnp.tanh(fn(x, k)) * weights)

    ref_gx, ref_gk = jax.grad(objective(lambda x, k: lax_conv(x, k, strides, padding,
                                                             dilation, groups)), (0, 1))(x, k)
    for lowering in lowerings(groups):
        def run(x, k, lowering=lowering):
            return conv(x, k, strides, padding, dilation, groups, lowering=lowering)

        out = run(x, k)
        assert out.shape == expected.shape and out.dtype == jnp.float32, lowering
        np.testing.assert_allclose(out, expected, **TOL, err_msg=lowering)
        gx, gk = jax.jit(jax.grad(objective(run), (0, 1)))(x, k)
        np.testing.assert_allclose(gx, ref_gx, **TOL, err_msg=f"{lowering}: input gradient")
        np.testing.assert_allclose(gk, ref_gk, **TOL, err_msg=f"{lowering}: kernel gradient")


def test_patches_gradient_matches_finite_differences():
    """Central differences in float64 on a strided, dilated, padded case (no jax reference)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 7, 6, 2))
    k = rng.standard_normal((2, 3, 2, 2))
    w = rng.standard_normal((1, 4, 2, 2))

    def f(x, k):
        y = conv_paths.conv_patches(x, k, (2, 2), ((1, 1), (2, 0)), (1, 2))
        return jnp.sum(jnp.sin(y) * w)

    with jax.enable_x64(True):
        gx, gk = jax.grad(f, (0, 1))(jnp.asarray(x), jnp.asarray(k))
        eps = 1e-6
        for arr, grad, argnum in ((x, gx, 0), (k, gk, 1)):
            for index in [tuple(rng.integers(0, n) for n in arr.shape) for _ in range(6)]:
                hi, lo = arr.copy(), arr.copy()
                hi[index] += eps
                lo[index] -= eps
                args_hi = (hi, k) if argnum == 0 else (x, hi)
                args_lo = (lo, k) if argnum == 0 else (x, lo)
                numeric = (float(f(*map(jnp.asarray, args_hi)))
                           - float(f(*map(jnp.asarray, args_lo)))) / (2 * eps)
                assert abs(numeric - float(grad[index])) < 1e-6, (argnum, index)


def test_patches_feature_order_is_window_then_channel():
    """patches[..., offset * in + c] is input channel c at window offset `offset`."""
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
    cols = patches(jnp.asarray(x), (2, 3), (1, 1), "valid", (1, 1))
    assert cols.shape == (2, 3, 3, 18)
    for i, j in itertools.product(range(2), range(3)):
        offset = i * 3 + j
        np.testing.assert_array_equal(cols[..., offset * 3:(offset + 1) * 3],
                                      x[:, i:i + 3, j:j + 3, :])


def test_w4_shapes_agree_through_a_jitted_training_gradient():
    """The shapes of the W4 benchmark (batch 8): conv 3x3 -> relu -> conv 3x3, jitted grad."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 28, 28, 1)).astype(np.float32)
    k1 = (rng.standard_normal((3, 3, 1, 32)) * 0.4).astype(np.float32)
    k2 = (rng.standard_normal((3, 3, 32, 64)) * 0.1).astype(np.float32)

    def loss(fn):
        return lambda k1, k2: jnp.mean(fn(jax.nn.relu(fn(x, k1)), k2) ** 2)

    ref = jax.grad(loss(lambda x, k: lax_conv(x, k, (1, 1), "valid", (1, 1))), (0, 1))(k1, k2)
    got = jax.jit(jax.grad(loss(lambda x, k: conv(x, k, (1, 1), "valid", (1, 1),
                                                  lowering="patches")), (0, 1)))(k1, k2)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-5, rtol=1e-4)


# ---- lowering selection -----------------------------------------------------------------
W4_CONV2 = {"x_shape": (128, 13, 13, 32), "kernel_shape": (3, 3, 32, 64), "strides": (1, 1),
            "padding": "valid", "dilation_rate": (1, 1)}


@pytest.mark.parametrize("backend", ["gpu", "cuda", "rocm", "tpu", "METAL"])
def test_selection_keeps_xla_convolution_off_cpu(backend):
    assert select_conv_lowering(backend, **W4_CONV2) == "xla"


def test_selection_on_cpu():
    assert select_conv_lowering("cpu", **W4_CONV2) == "patches"
    assert select_conv_lowering("cpu", **{**W4_CONV2, "kernel_shape": (3, 3, 16, 64)},
                                groups=2) == "xla"
    assert select_conv_lowering("cpu", **{**W4_CONV2, "kernel_shape": (1, 1, 32, 64)}) == "xla"
    # patches beyond PATCHES_MAX_BYTES: 64 * 224 * 224 * 9 * 64 * 4 bytes is about 7 GiB
    assert select_conv_lowering("cpu", (64, 226, 226, 64), (3, 3, 64, 64), (1, 1), "valid",
                                (1, 1)) == "xla"
    # no output at all: left to XLA (which reports the shapes)
    assert select_conv_lowering("cpu", (1, 2, 2, 1), (3, 3, 1, 1), (1, 1), "valid",
                                (1, 1)) == "xla"


def test_conv_uses_the_lowering_selected_for_the_default_backend():
    x = jnp.zeros((2, 13, 13, 32))
    k = jnp.zeros((3, 3, 32, 64))
    used = str(jax.make_jaxpr(lambda x, k: conv(x, k, (1, 1), "valid", (1, 1)))(x, k))
    expected = select_conv_lowering(jax.default_backend(), x.shape, k.shape, (1, 1), "valid",
                                     (1, 1))
    assert ("conv_general_dilated" in used) == (expected == "xla")
    if jax.default_backend() == "cpu":
        assert expected == "patches" and "dot_general" in used and "gather" in used


# ---- errors -----------------------------------------------------------------------------
def test_patches_refuses_groups():
    x, k = jnp.zeros((1, 5, 5, 4)), jnp.zeros((3, 3, 2, 4))
    with pytest.raises(ValueError, match=r"'patches' lowering needs groups=1, received groups=2"):
        conv(x, k, (1, 1), "valid", (1, 1), groups=2, lowering="patches")


def test_rank_beyond_three_spatial_dimensions():
    x, k = jnp.zeros((1, 3, 3, 3, 3, 1)), jnp.zeros((1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"expected 1 to 3 spatial dimensions.*received 4"):
        conv(x, k, (1,) * 4, "valid", (1,) * 4, lowering="xla")


def test_unknown_lowering():
    x, k = jnp.zeros((1, 5, 5, 1)), jnp.zeros((3, 3, 1, 1))
    with pytest.raises(ValueError,
                       match=r"expected lowering .*'xla', 'patches'.*received 'im2col'"):
        conv(x, k, (1, 1), "valid", (1, 1), lowering="im2col")
