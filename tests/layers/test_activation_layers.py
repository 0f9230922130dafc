"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax): harness rows, numpy references
for values and gradients (inputs and PReLU's alpha, by central finite differences of the
numpy formula), masks, agreement with Keras 3 (PReLU's weight layout included), and errors."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.core import scope as scope_lib
from lamina.errors import InputSpecError
from lamina.layers.activations import ELU, LAYERS, LeakyReLU, PReLU, ReLU, Softmax
from lamina.saving import register_serializable

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

RTOL, ATOL = 1e-5, 1e-6
GRAD_RTOL, GRAD_ATOL = 2e-3, 2e-4


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _positive_mask(x):
    return x[..., 0] > -0.5 if x.ndim > 2 else x > -0.5


HARNESS_CASES = [
    LayerCase("relu", lambda: ReLU(), _normal(6, 3), (6, 3), trainable_params=0,
              supports_masking=True),
    LayerCase("relu-options", lambda: ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
              _normal(6, 4, 3), (6, 4, 3), trainable_params=0),
    LayerCase("leaky-relu", lambda: LeakyReLU(), _normal(6, 3), (6, 3), trainable_params=0,
              supports_masking=True),
    LayerCase("leaky-relu-slope", lambda: LeakyReLU(negative_slope=0.05), _normal(6, 3), (6, 3),
              trainable_params=0),
    LayerCase("prelu", lambda: PReLU(), _normal(6, 4, 3), (6, 4, 3), trainable_params=12,
              supports_masking=True,
              mask=_positive_mask, expected_mask=lambda inputs, mask: mask),
    LayerCase("prelu-shared", lambda: PReLU(shared_axes=[1, 2]), _normal(6, 4, 5, 3),
              (6, 4, 5, 3), trainable_params=3),
    LayerCase("prelu-shared-int-options",
              lambda: PReLU(alpha_initializer="ones", alpha_regularizer="l2",
                            alpha_constraint="non_neg", shared_axes=1),
              _normal(6, 4, 3), (6, 4, 3), trainable_params=3),
    LayerCase("elu", lambda: ELU(alpha=0.5), _normal(6, 3), (6, 3), trainable_params=0,
              supports_masking=True),
    LayerCase("softmax", lambda: Softmax(), _normal(6, 5), (6, 5), trainable_params=0,
              supports_masking=True,
              mask=_positive_mask, expected_mask=lambda inputs, mask: mask),
    LayerCase("softmax-axes", lambda: Softmax(axis=[1, 2]), _normal(6, 3, 4), (6, 3, 4),
              trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references ------------------------------------------------------------------------
def _call_with(layer, weights, inputs, **kwargs):
    """The layer's output with its weights replaced by `weights` (traceable: for jax.grad)."""
    scope = scope_lib.CallScope({v.uid: w for v, w in zip(layer.weights, weights, strict=True)})
    with scope_lib.activate(scope):
        return layer(inputs, **kwargs)


def _finite_difference(f, x, eps=1e-6):
    """d sum(f) / dx, by central differences in float64."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (np.sum(f(x + step)) - np.sum(f(x - step))) / (2 * eps)
    return grad


def _away_from(x, kinks):
    """`x` moved 0.1 away from values within 0.05 of a kink (finite differences need it)."""
    near = (np.abs(x[..., None] - np.asarray(kinks, float)) < 0.05).any(-1)
    return np.where(near, x + 0.1, x)


def _softmax(x, axes):
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


NO_WEIGHT_CASES = [
    # id, layer, numpy formula, kinks
    ("relu", lambda: ReLU(), lambda x: np.maximum(x, 0), [0]),
    ("relu-options", lambda: ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
     lambda x: np.where(x > 0.2, np.minimum(x, 1.5), 0.1 * (x - 0.2)), [0.2, 1.5]),
    ("relu-max-only", lambda: ReLU(max_value=6), lambda x: np.clip(x, 0, 6), [0, 6]),
    ("leaky-relu", lambda: LeakyReLU(), lambda x: np.where(x > 0, x, 0.3 * x), [0]),
    ("elu", lambda: ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), [0]),
    ("softmax", lambda: Softmax(), lambda x: _softmax(x, -1), []),
    ("softmax-axis-1", lambda: Softmax(axis=1), lambda x: _softmax(x, 1), []),
    ("softmax-axes", lambda: Softmax(axis=[1, 2]), lambda x: _softmax(x, (1, 2)), []),
]


@pytest.mark.parametrize("make, formula, kinks", [c[1:] for c in NO_WEIGHT_CASES],
                         ids=[c[0] for c in NO_WEIGHT_CASES])
def test_forward_and_input_gradient_match_numpy(make, formula, kinks):
    rng = np.random.default_rng(0)
    x = _away_from(rng.uniform(-3, 3, size=(2, 3, 4)), kinks)
    w = rng.normal(size=x.shape)
    layer = make()
    x32 = jnp.asarray(x, jnp.float32)
    np.testing.assert_allclose(np.asarray(layer(x32)), formula(x), rtol=RTOL, atol=ATOL)
    grad = jax.grad(lambda v: jnp.sum(layer(v) * jnp.asarray(w, jnp.float32)))(x32)
    np.testing.assert_allclose(np.asarray(grad), _finite_difference(lambda v: formula(v) * w, x),
                               rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("shared_axes, alpha_shape", [(None, (3, 4)), ([1], (1, 4)), (2, (3, 1))])
def test_prelu_forward_and_gradients_match_numpy(shared_axes, alpha_shape):
    rng = np.random.default_rng(1)
    x = _away_from(rng.normal(size=(2, 3, 4)), [0])
    alpha = rng.uniform(0.1, 0.5, size=alpha_shape)
    w = rng.normal(size=x.shape)
    layer = PReLU(shared_axes=shared_axes)
    layer(np.float32(x))
    assert [v.name for v in layer.weights] == ["alpha"] and layer.alpha.shape == alpha_shape
    layer.set_weights([np.float32(alpha)])

    def formula(v, a):
        return np.where(v > 0, v, a * v)

    np.testing.assert_allclose(np.asarray(layer(np.float32(x))), formula(x, alpha), rtol=RTOL,
                               atol=ATOL)
    gx, ga = jax.grad(lambda v, a: jnp.sum(_call_with(layer, [a], v) * np.float32(w)),
                      argnums=(0, 1))(jnp.float32(x), jnp.float32(alpha))
    expected_gx = _finite_difference(lambda v: formula(v, alpha) * w, x)
    expected_ga = _finite_difference(lambda a: formula(x, a) * w, alpha)
    np.testing.assert_allclose(np.asarray(gx), expected_gx, rtol=GRAD_RTOL, atol=GRAD_ATOL)
    np.testing.assert_allclose(np.asarray(ga), expected_ga, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def _masked_softmax(x, mask):
    """Softmax over the last axis of the kept entries only; masked entries (and fully masked
    rows) are 0."""
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape[:-1]):
        keep = mask[index]
        if keep.any():
            e = np.exp(x[index][keep] - x[index][keep].max())
            out[index][keep] = e / e.sum()
    return out


def test_softmax_mask_excludes_masked_positions():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5))
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    w = rng.normal(size=x.shape)
    layer = Softmax()
    got = layer(np.float32(x), mask=mask)
    np.testing.assert_allclose(np.asarray(got), _masked_softmax(x, mask), rtol=RTOL, atol=ATOL)
    grad = jax.grad(lambda v: jnp.sum(layer(v, mask=mask) * np.float32(w)))(jnp.float32(x))
    np.testing.assert_allclose(np.asarray(grad),
                               _finite_difference(lambda v: _masked_softmax(v, mask) * w, x),
                               rtol=GRAD_RTOL, atol=GRAD_ATOL)
    # a float mask counts as kept where > 0.5; a (batch, 1, steps) mask broadcasts over rows
    np.testing.assert_allclose(np.asarray(layer(np.float32(x), mask=np.float32(mask) * 0.9)),
                               _masked_softmax(x, mask), rtol=RTOL, atol=ATOL)
    x3 = rng.normal(size=(3, 2, 5))
    got3 = layer(np.float32(x3), mask=mask[:, None, :])
    np.testing.assert_allclose(np.asarray(got3),
                               _masked_softmax(x3, np.broadcast_to(mask[:, None, :], x3.shape)),
                               rtol=RTOL, atol=ATOL)


class _MaskFromZeros(lm.layers.Layer):
    """Test-only producer: passes its input on with the mask `x != 0` (one per step)."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return inputs != 0

    def call(self, inputs):
        return inputs


def test_softmax_receives_the_graph_mask_and_passes_it_on():
    x = np.float32([[1.0, 0.0, 2.0, 0.0], [0.5, 0.25, 0.0, 3.0]])
    inp = lm.Input((4,))
    out = Softmax()(_MaskFromZeros()(inp))
    model = lm.Model(inp, out)
    np.testing.assert_allclose(np.asarray(model(x)), _masked_softmax(np.float64(x), x != 0),
                               rtol=RTOL, atol=ATOL)
    probe = ReLU()
    assert probe.supports_masking and np.array_equal(probe.compute_mask(x, x != 0), x != 0)


# -- agreement with Keras 3 ------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


KERAS_CASES = [
    ("relu", lambda L: L.ReLU(), lambda: ReLU()),
    ("relu-options", lambda L: L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
     lambda: ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2)),
    ("leaky-relu-default", lambda L: L.LeakyReLU(), lambda: LeakyReLU()),
    ("elu", lambda L: L.ELU(alpha=0.7), lambda: ELU(alpha=0.7)),
    ("softmax-axis-1", lambda L: L.Softmax(axis=1), lambda: Softmax(axis=1)),
    ("softmax-axes", lambda L: L.Softmax(axis=[1, 2]), lambda: Softmax(axis=[1, 2])),
    ("prelu", lambda L: L.PReLU(), lambda: PReLU()),
    ("prelu-shared", lambda L: L.PReLU(shared_axes=[1, 2]), lambda: PReLU(shared_axes=[1, 2])),
]


@pytest.mark.parametrize("make_keras, make", [c[1:] for c in KERAS_CASES],
                         ids=[c[0] for c in KERAS_CASES])
def test_agrees_with_keras(keras, make_keras, make):
    rng = np.random.default_rng(3)
    x = np.float32(rng.normal(size=(2, 3, 4, 5)) * 2)
    klayer, layer = make_keras(keras.layers), make()
    klayer.build(x.shape)
    # Keras's weights (randomised, so a zero alpha cannot hide a layout mistake) into lamina
    # (Keras's own get_weights warns under numpy 2: read the variables' shapes instead)
    kweights = [np.float32(rng.uniform(0.1, 0.9, size=v.shape)) for v in klayer.weights]
    klayer.set_weights(kweights)
    layer(x)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in kweights]
    layer.set_weights(kweights)
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(klayer(x)), rtol=1e-6, atol=1e-6)
    config = klayer.get_config()
    for key, value in layer.get_config().items():
        if key not in ("name", "dtype", "alpha_initializer"):
            assert config[key] == value, key


def test_softmax_mask_agrees_with_keras(keras):
    rng = np.random.default_rng(4)
    x = np.float32(rng.normal(size=(2, 3, 5)))
    mask = rng.random((2, 1, 5)) > 0.4
    np.testing.assert_allclose(np.asarray(Softmax()(x, mask=mask)),
                               np.asarray(keras.layers.Softmax()(x, mask=mask)), rtol=1e-6,
                               atol=1e-7)


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: ReLU(max_value=-1, name="r"), (r"ReLU 'r': expected `max_value` to be a "
                                           r"non-negative number or None, received -1")),
    (lambda: ReLU(negative_slope=None, name="r"), r"`negative_slope`.*received None"),
    (lambda: ReLU(threshold=-0.5, name="r"), r"`threshold`.*received -0.5"),
    (lambda: LeakyReLU(negative_slope=-0.1, name="l"), r"LeakyReLU 'l'.*received -0.1"),
    (lambda: ELU(alpha="big", name="e"), r"ELU 'e': expected a number `alpha`, received 'big'"),
    (lambda: PReLU(shared_axes=[0], name="p"), r"PReLU 'p'.*`shared_axes`.*>= 1.*\[0\]"),
    (lambda: Softmax(axis="last", name="s"), r"Softmax 's'.*`axis`.*'last'"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_prelu_input_errors_name_the_layer():
    with pytest.raises(InputSpecError, match=r"PReLU 'p': shared_axes \[3\] are out of range "
                                             r"for inputs of shape \(2, 3, 4\)"):
        PReLU(shared_axes=3, name="p")(np.ones((2, 3, 4), np.float32))
    layer = PReLU(shared_axes=1, name="q")
    layer(np.ones((2, 3, 4), np.float32))
    with pytest.raises(InputSpecError, match=r"PReLU 'q': expected inputs of shape "
                                             r"\(batch, \*, 4\).*received shape \(2, 3, 5\)"):
        layer(np.ones((2, 3, 5), np.float32))
    with pytest.raises(InputSpecError, match=r"PReLU 'u': expected known sizes.*\(None, None, 4\)"):
        PReLU(name="u")(lm.Input((None, 4)))


def test_softmax_mask_that_does_not_broadcast_is_refused():
    with pytest.raises(InputSpecError, match=r"Softmax 's': expected a mask broadcastable.*"
                                             r"mask shape \(2, 3\) for inputs of shape "
                                             r"\(2, 3, 4\)"):
        Softmax(name="s")(np.ones((2, 3, 4), np.float32), mask=np.ones((2, 3), bool))


def test_leaky_relu_alpha_is_accepted_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="`alpha` is deprecated, use `negative_slope`"):
        layer = LeakyReLU(alpha=0.1)
    assert layer.get_config()["negative_slope"] == 0.1
