"""The activation registry: every Keras 3 name against a numpy formula (values, and gradients
by central finite differences of that formula), against keras.activations when keras
imports, name round trips, and the errors."""
import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina import activations
from lamina.errors import ConfigurationError, InputSpecError

# float32 against float64 formulas
RTOL, ATOL = 1e-5, 1e-6
GRAD_RTOL, GRAD_ATOL = 2e-3, 2e-4

_erf = np.vectorize(math.erf)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sparsemax(x):
    """Martins & Astudillo (2016), algorithm 1, one row at a time (last axis)."""
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape[:-1]):
        z = x[index]
        zs = np.sort(z)[::-1]
        k = max(j for j in range(1, len(z) + 1) if 1 + j * zs[j - 1] > zs[:j].sum())
        tau = (zs[:k].sum() - 1) / k
        out[index] = np.maximum(z - tau, 0)
    return out


def _glu(x):
    a, b = np.split(x, 2, axis=-1)
    return a * _sigmoid(b)


# name -> numpy formula of Keras 3's definition (with Keras's defaults)
NP_FORMULAS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),  # Keras: negative_slope=0.2
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "celu": lambda x: np.where(x > 0, x, np.expm1(x)),  # alpha=1
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),  # exact, approximate=False
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "hard_silu": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "hard_swish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),  # Keras 3: relu6(x + 3) / 6
    "sparse_sigmoid": lambda x: np.clip((x + 1) / 2, 0, 1),
    "log_sigmoid": lambda x: -_softplus(-x),
    "tanh": np.tanh,
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,  # b=4
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "threshold": lambda x: np.where(x > 0.3, x, -1.5),  # with the arguments below
    "exponential": np.exp,
    "softmax": _softmax,
    "log_softmax": lambda x: x - x.max(-1, keepdims=True) - np.log(
        np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
    "sparsemax": _sparsemax,
    "glu": _glu,
}
# `threshold` has no defaults in Keras; every other function is called with `x` alone
ARGUMENTS = {"threshold": {"threshold": 0.3, "default_value": -1.5}}
KINKS = np.array([0.0, 0.3, 0.5, 1.0, 3.0, 6.0])


def _inputs(seed=0, shape=(3, 8)):
    """Values in [-7, 7], kept 0.05 away from every kink (+-) of the piecewise formulas."""
    x = np.random.default_rng(seed).uniform(-7, 7, size=shape)
    near = np.abs(np.abs(x)[..., None] - KINKS).min(-1) < 0.05
    return np.where(near, x + 0.1, x)


def _call(name, x):
    return activations.get(name)(x, **ARGUMENTS.get(name, {}))


def test_registry_has_every_keras_3_activation_name():
    # the names of keras.activations in Keras 3.15 (ALL_OBJECTS_DICT, aliases included)
    keras_names = {
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
        "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
        "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
        "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
        "tanh_shrink", "threshold"}
    assert set(activations.names()) == keras_names == set(NP_FORMULAS)


@pytest.mark.parametrize("name", sorted(NP_FORMULAS))
def test_value_matches_numpy_formula(name):
    x = _inputs()
    got = np.asarray(_call(name, jnp.asarray(x, jnp.float32)))
    assert got.shape == NP_FORMULAS[name](x).shape
    np.testing.assert_allclose(got, NP_FORMULAS[name](x), rtol=RTOL, atol=ATOL * 10)


@pytest.mark.parametrize("name", sorted(NP_FORMULAS))
def test_gradient_matches_finite_differences_of_numpy_formula(name):
    x = _inputs(1)
    w = np.random.default_rng(2).normal(size=NP_FORMULAS[name](x).shape)
    got = jax.grad(lambda v: jnp.sum(jnp.asarray(w, jnp.float32) * _call(name, v)))(
        jnp.asarray(x, jnp.float32))
    eps, expected = 1e-6, np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        expected[index] = np.sum(w * (NP_FORMULAS[name](x + step) - NP_FORMULAS[name](x - step)))
    np.testing.assert_allclose(np.asarray(got), expected / (2 * eps),
                               rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("options, formula", [
    ({"max_value": 2.5}, lambda x: np.clip(x, 0, 2.5)),
    ({"negative_slope": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x)),
    ({"threshold": 1.0}, lambda x: np.where(x > 1, x, 0)),
    ({"threshold": 1.0, "negative_slope": 0.3, "max_value": 3.0},
     lambda x: np.where(x > 1, np.minimum(x, 3), 0.3 * (x - 1))),
], ids=["max_value", "negative_slope", "threshold", "all"])
def test_relu_options_match_keras_formula(options, formula):
    x = _inputs(3)
    got = activations.relu(jnp.asarray(x, jnp.float32), **options)
    np.testing.assert_allclose(np.asarray(got), formula(x), rtol=RTOL, atol=ATOL)


def test_defaults_match_keras():
    x = jnp.asarray([-4.0, -1.0, 2.0], jnp.float32)
    np.testing.assert_allclose(activations.leaky_relu(x), [-0.8, -0.2, 2.0], rtol=1e-6)
    np.testing.assert_allclose(activations.hard_sigmoid(x), [0.0, 1 / 3, 5 / 6], rtol=1e-6)
    np.testing.assert_allclose(activations.squareplus(x), (np.asarray(x) + np.sqrt(
        np.asarray(x) ** 2 + 4)) / 2, rtol=1e-6)
    approx = 0.5 * 2 * (1 + np.tanh(np.sqrt(2 / np.pi) * (2 + 0.044715 * 8)))
    np.testing.assert_allclose(activations.gelu(x[2:], approximate=True), [approx], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(NP_FORMULAS))
def test_serialize_round_trips_every_name(name):
    assert activations.serialize(activations.get(name)) == name
    dense = lm.layers.Dense(2, activation=name)
    config = dense.get_config()
    assert config["activation"] == name
    assert lm.layers.Dense.from_config(config).activation is activations.get(name)


def test_none_and_callables():
    assert activations.get(None) is activations.linear

    def custom(x):
        return x * 2

    assert activations.get(custom) is custom
    assert activations.serialize(custom) == "custom"


def test_registered_function_resolves_and_serializes_by_its_registered_name():
    def cube(x):
        return x ** 3

    lm.saving.register_function(cube, "test_activations.cube")
    assert activations.get("test_activations.cube") is cube
    assert activations.serialize(cube) == "test_activations.cube"
    dense = lm.layers.Dense(2, activation=cube)
    clone = lm.layers.Dense.from_config(dense.get_config())
    assert clone.activation is cube


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ConfigurationError, match="Unknown activation 'rleu'") as info:
        activations.get("rleu")
    message = str(info.value)
    assert all(name in message for name in activations.names())
    assert "register_function" in message


def test_non_callable_identifier_is_refused():
    with pytest.raises(ConfigurationError, match=r"received 3 \(of type int\)"):
        activations.get(3)


def test_threshold_without_its_arguments_says_how_to_bind_them():
    with pytest.raises(ConfigurationError, match="threshold.*functools.partial"):
        activations.get("threshold")(jnp.ones(3))
    bound = functools.partial(activations.threshold, threshold=0.0, default_value=-1.0)
    np.testing.assert_array_equal(bound(jnp.asarray([-2.0, 2.0])), [-1.0, 2.0])


def test_glu_needs_an_even_axis():
    with pytest.raises(InputSpecError, match=r"even size on axis -1.*\(2, 3\)"):
        activations.glu(jnp.ones((2, 3)))


# -- agreement with keras.activations ------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name", sorted(NP_FORMULAS))
def test_agrees_with_keras_activations(keras, name):
    # Keras 3.15's sparsemax is exact only when a single entry survives (its threshold sums
    # the cumulative sums, which is wrong for a support of two or more; tested above against
    # the published algorithm), so it is compared with Keras on such inputs.
    x = np.float32(np.arange(24).reshape(3, 8) * 1.5) if name == "sparsemax" else np.float32(
        _inputs(4))
    expected = np.asarray(keras.activations.get(name)(x, **ARGUMENTS.get(name, {})))
    np.testing.assert_allclose(np.asarray(_call(name, x)), expected, rtol=1e-6, atol=1e-6)


def test_sparsemax_sums_to_one_with_a_support_of_several_entries():
    x = np.float32([[0.1, 0.3, 0.2, -1.0], [2.0, 1.9, 1.8, 0.0]])
    got = np.asarray(activations.sparsemax(x))
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-6)
    assert (np.count_nonzero(got, axis=-1) > 1).all()
    np.testing.assert_allclose(got, _sparsemax(np.float64(x)), rtol=1e-6, atol=1e-7)
