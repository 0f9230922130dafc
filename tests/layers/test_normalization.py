"""Normalization layers: the generic harness, numpy references (forward and gradients by
finite differences), agreement with Keras 3 after copying weights, and error messages.

Tolerances: forward outputs against float64 numpy references, rtol 1e-4 / atol 1e-5 (float32
arithmetic); gradients against central finite differences of the float64 references,
rtol 2e-3 / atol 2e-4; Keras agreement, rtol 1e-5 / atol 1e-5 (same float32 formulas).
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import InputSpecError
from lamina.layers.normalization import (
    LAYERS,
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    UnitNormalization,
)
from lamina.saving import register_serializable
from lamina.training import step

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

FWD = {"rtol": 1e-4, "atol": 1e-5}
GRAD = {"rtol": 2e-3, "atol": 2e-4}
KERAS = {"rtol": 1e-5, "atol": 1e-5}


def _normal(*shape):
    return lambda rng: rng.normal(1.0, 2.0, size=shape).astype(np.float32)


def _sequence_mask(x):
    """(batch, timesteps) mask: sample i keeps its first 2 + i % 3 steps."""
    lengths = 2 + np.arange(x.shape[0]) % 3
    return np.arange(x.shape[1])[None, :] < lengths[:, None]


def _same_mask(inputs, mask):
    return mask


HARNESS_CASES = [
    LayerCase("batchnorm", lambda: BatchNormalization(), _normal(8, 3), (8, 3),
              trainable_params=6, non_trainable_params=6, updates_state=True,
              supports_masking=True),
    LayerCase("batchnorm-axis1-3d", lambda: BatchNormalization(axis=1, momentum=0.5),
              _normal(8, 3, 4), (8, 3, 4), trainable_params=6, non_trainable_params=6,
              updates_state=True),
    LayerCase("batchnorm-no-affine", lambda: BatchNormalization(center=False, scale=False),
              _normal(8, 3), (8, 3), trainable_params=0, non_trainable_params=6,
              updates_state=True),
    LayerCase("batchnorm-options", lambda: BatchNormalization(
        gamma_initializer="random_normal", beta_initializer="random_uniform",
        moving_variance_initializer="constant", gamma_regularizer="l2",
        beta_regularizer="l1", gamma_constraint="max_norm"),
        _normal(8, 3), (8, 3), trainable_params=6, non_trainable_params=6,
        updates_state=True),
    LayerCase("batchnorm-masked", lambda: BatchNormalization(), _normal(6, 5, 3), (6, 5, 3),
              trainable_params=6, non_trainable_params=6, updates_state=True,
              mask=_sequence_mask, expected_mask=_same_mask),
    LayerCase("layernorm", lambda: LayerNormalization(), _normal(6, 5), (6, 5),
              trainable_params=10, supports_masking=True),
    LayerCase("layernorm-axes-1-2", lambda: LayerNormalization(axis=[1, 2], epsilon=1e-5),
              _normal(6, 4, 5), (6, 4, 5), trainable_params=40),
    LayerCase("layernorm-rms", lambda: LayerNormalization(rms_scaling=True), _normal(6, 5),
              (6, 5), trainable_params=5),
    LayerCase("layernorm-no-affine", lambda: LayerNormalization(center=False, scale=False),
              _normal(6, 5), (6, 5), trainable_params=0),
    LayerCase("layernorm-options", lambda: LayerNormalization(
        gamma_regularizer="l2", beta_constraint="max_norm", gamma_initializer="random_normal"),
        _normal(6, 5), (6, 5), trainable_params=10),
    LayerCase("layernorm-masked", lambda: LayerNormalization(), _normal(6, 5, 3), (6, 5, 3),
              trainable_params=6, mask=_sequence_mask, expected_mask=_same_mask),
    LayerCase("groupnorm", lambda: GroupNormalization(groups=2), _normal(6, 5, 4), (6, 5, 4),
              trainable_params=8, supports_masking=True),
    LayerCase("groupnorm-instance-axis1", lambda: GroupNormalization(groups=-1, axis=1),
              _normal(6, 3, 5), (6, 3, 5), trainable_params=6),
    LayerCase("groupnorm-no-center", lambda: GroupNormalization(groups=3, center=False),
              _normal(6, 2, 2, 6), (6, 2, 2, 6), trainable_params=6),
    LayerCase("groupnorm-masked", lambda: GroupNormalization(groups=2), _normal(6, 5, 4),
              (6, 5, 4), trainable_params=8, mask=_sequence_mask, expected_mask=_same_mask),
    LayerCase("unitnorm", lambda: UnitNormalization(), _normal(6, 5), (6, 5),
              trainable_params=0, supports_masking=True),
    LayerCase("unitnorm-axes", lambda: UnitNormalization(axis=[1, 2]), _normal(6, 3, 4),
              (6, 3, 4), trainable_params=0, mask=_sequence_mask, expected_mask=_same_mask),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references ---------------------------------------------------------------------
def np_layer_norm(x, gamma, beta, axes, eps, rms=False):
    x = x.astype(np.float64)
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    var = x.var(axis=tuple(axes), keepdims=True)
    centred = x if rms else x - x.mean(axis=tuple(axes), keepdims=True)
    y = centred / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y


def np_group_norm(x, gamma, beta, groups, axis, eps):
    """Loops over samples and groups; each group is a slice of channels on `axis`."""
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    y = np.empty_like(x)
    per_group = x.shape[-1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            part = x[n, ..., g * per_group:(g + 1) * per_group]
            y[n, ..., g * per_group:(g + 1) * per_group] = (
                (part - part.mean()) / np.sqrt(part.var() + eps))
    y = y * gamma + beta
    return np.moveaxis(y, -1, axis)


def np_masked_batch_norm(x, mask, gamma, beta, eps):
    """Per channel: statistics over the unmasked (sample, step) entries only."""
    x = x.astype(np.float64)
    y = np.empty_like(x)
    means, variances = [], []
    for c in range(x.shape[-1]):
        values = x[..., c][mask]
        mean, var = values.mean(), values.var()
        means.append(mean)
        variances.append(var)
        y[..., c] = (x[..., c] - mean) / np.sqrt(var + eps) * gamma[c] + beta[c]
    return y, np.array(means), np.array(variances)


def np_unit_norm(x, axes):
    x = x.astype(np.float64)
    return x / np.maximum(np.sqrt((x ** 2).sum(axis=tuple(axes), keepdims=True)), 1e-12)


def finite_difference(f, args, i, h=1e-6):
    """d f(*args) / d args[i] by central differences in float64."""
    args = [np.array(a, np.float64) for a in args]
    grad = np.zeros_like(args[i])
    for index in np.ndindex(args[i].shape):
        original = args[i][index]
        args[i][index] = original + h
        up = f(*args)
        args[i][index] = original - h
        down = f(*args)
        args[i][index] = original
        grad[index] = (up - down) / (2 * h)
    return grad


def lamina_output_and_grads(layer, x, weights, cotangent, training=False):
    """layer(x) and the gradients of sum(layer(x) * cotangent) w.r.t. x and each trainable
    weight, with the layer run as a pure function of its variable values (`step.apply`),
    jitted once (eager op-by-op dispatch would compile every primitive separately)."""
    variables = layer.trainable_weights

    def f(x, ws):
        values = {v.uid: w for v, w in zip(variables, ws, strict=True)}
        out, _ = step.apply(layer, values, x, training)
        return jnp.sum(out * cotangent), out

    (_, out), grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1), has_aux=True))(
        jnp.asarray(x), [jnp.asarray(w) for w in weights])
    return out, grads


def _rand(seed, *shape, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, size=shape).astype(np.float32)


# -- LayerNormalization -------------------------------------------------------------------
@pytest.mark.parametrize("axis, shape, rms", [
    (-1, (3, 4, 5), False), ([1, 2], (3, 4, 5), False), ([1, 3], (2, 3, 2, 4), False),
    ([-2, -1], (2, 3, 4), False), (-1, (3, 4, 5), True)])
def test_layer_norm_forward_and_gradients_match_numpy(axis, shape, rms):
    x = _rand(0, *shape, loc=1.5, scale=2.0)
    layer = LayerNormalization(axis=axis, epsilon=1e-3, rms_scaling=rms)
    layer(x)
    axes = sorted(a % len(shape) for a in ([axis] if isinstance(axis, int) else axis))
    weight_shape = tuple(shape[a] for a in axes)
    assert [w.shape for w in layer.weights] == [weight_shape] * (1 if rms else 2)
    weights = [_rand(i + 1, *weight_shape, loc=1.0) for i in range(len(layer.weights))]
    layer.set_weights(weights)
    gamma, beta = (weights + [None])[:2]
    cotangent = _rand(9, *shape)

    def reference(x, *ws):
        g, b = (list(ws) + [None])[:2]
        return np.sum(np_layer_norm(x, g, b, axes, 1e-3, rms) * cotangent)

    out, (dx, dws) = lamina_output_and_grads(layer, x, weights, cotangent)
    np.testing.assert_allclose(out, np_layer_norm(x, gamma, beta, axes, 1e-3, rms), **FWD)
    np.testing.assert_allclose(dx, finite_difference(reference, [x, *weights], 0), **GRAD)
    for i, dw in enumerate(dws):
        np.testing.assert_allclose(dw, finite_difference(reference, [x, *weights], i + 1),
                                   **GRAD)


# -- GroupNormalization -------------------------------------------------------------------
@pytest.mark.parametrize("groups, axis, shape", [
    (2, -1, (3, 5, 4)), (3, -1, (2, 2, 3, 6)), (-1, 1, (2, 3, 5)), (1, -1, (3, 4, 4))])
def test_group_norm_forward_and_gradients_match_numpy_reshape(groups, axis, shape):
    x = _rand(0, *shape, loc=-1.0, scale=3.0)
    layer = GroupNormalization(groups=groups, axis=axis, epsilon=1e-3)
    layer(x)
    channels = shape[axis]
    weights = [_rand(1, channels, loc=1.0), _rand(2, channels)]
    layer.set_weights(weights)
    resolved = channels if groups == -1 else groups
    cotangent = _rand(9, *shape)

    def reference(x, gamma, beta):
        return np.sum(np_group_norm(x, gamma, beta, resolved, axis, 1e-3) * cotangent)

    out, (dx, (dgamma, dbeta)) = lamina_output_and_grads(layer, x, weights, cotangent)
    np.testing.assert_allclose(out, np_group_norm(x, *weights, resolved, axis, 1e-3), **FWD)
    args = [x, *weights]
    np.testing.assert_allclose(dx, finite_difference(reference, args, 0), **GRAD)
    np.testing.assert_allclose(dgamma, finite_difference(reference, args, 1), **GRAD)
    np.testing.assert_allclose(dbeta, finite_difference(reference, args, 2), **GRAD)


# -- UnitNormalization --------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_unit_norm_forward_and_gradient_match_numpy(axis):
    x = _rand(0, 3, 4, 5)
    layer = UnitNormalization(axis=axis)
    axes = [2] if axis == -1 else axis
    np.testing.assert_allclose(layer(x), np_unit_norm(x, axes), **FWD)
    cotangent = _rand(9, 3, 4, 5)

    def reference(x):
        return np.sum(np_unit_norm(x, axes) * cotangent)

    dx = jax.jit(jax.grad(lambda x: jnp.sum(layer(x) * cotangent)))(jnp.asarray(x))
    np.testing.assert_allclose(dx, finite_difference(reference, [x], 0), **GRAD)


def test_unit_norm_of_zero_vector_is_zero_with_finite_gradient():
    x = np.zeros((2, 3), np.float32)
    layer = UnitNormalization()
    np.testing.assert_array_equal(layer(x), x)
    assert np.all(np.isfinite(jax.grad(lambda x: jnp.sum(layer(x)))(jnp.asarray(x))))


# -- BatchNormalization with a mask -------------------------------------------------------
class _MaskedTrainingCall(lm.layers.Layer):
    """Calls `inner(x, training=True, mask=mask)` (a test helper so `step.apply` can run a
    masked training call as a pure function)."""

    def __init__(self, inner, mask):
        super().__init__()
        self.inner, self.mask = inner, jnp.asarray(mask)

    def call(self, inputs):
        return self.inner(inputs, training=True, mask=self.mask)


def test_batch_norm_masked_training_matches_numpy_forward_gradients_and_moving_stats():
    x = _rand(0, 4, 5, 3, loc=2.0, scale=3.0)
    mask = _sequence_mask(x)
    x[~mask] = 100.0  # padded entries far away: they must not move the statistics
    bn = BatchNormalization(momentum=0.75, epsilon=1e-3)
    bn(x)
    gamma, beta = _rand(1, 3, loc=1.0), _rand(2, 3)
    mm, mv = _rand(3, 3), np.abs(_rand(4, 3)) + 0.5
    bn.set_weights([gamma, beta, mm, mv])
    expected, means, variances = np_masked_batch_norm(x, mask, gamma, beta, 1e-3)

    out = bn(x, training=True, mask=mask)
    np.testing.assert_allclose(out, expected, **FWD)
    got = bn.get_weights()
    np.testing.assert_allclose(got[2], 0.75 * mm + 0.25 * means, **FWD)
    np.testing.assert_allclose(got[3], 0.75 * mv + 0.25 * variances, **FWD)
    # inference ignores the mask and uses the moving statistics
    inference = bn(x, mask=mask)
    np.testing.assert_allclose(
        inference, (x - got[2]) / np.sqrt(got[3] + 1e-3) * gamma + beta, **FWD)

    cotangent = _rand(9, 4, 5, 3)
    wrapper = _MaskedTrainingCall(bn, mask)

    def reference(x, gamma, beta):
        return np.sum(np_masked_batch_norm(x, mask, gamma, beta, 1e-3)[0] * cotangent)

    def f(x, gamma, beta):
        values = {bn.gamma.uid: gamma, bn.beta.uid: beta}
        out, updates = step.apply(wrapper, values, x, True)
        assert set(updates) == {bn.moving_mean.uid, bn.moving_variance.uid}
        return jnp.sum(out * cotangent)

    grads = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(jnp.asarray(x), jnp.asarray(gamma),
                                                    jnp.asarray(beta))
    args = [x, gamma, beta]
    # padded entries get the gradient of their normalised value only (no statistic term)
    for i, grad in enumerate(grads):
        np.testing.assert_allclose(grad, finite_difference(reference, args, i), **GRAD)


def test_batch_norm_receives_the_graph_mask_in_a_training_step():
    """Masking -> BatchNormalization: the step's moving statistics count unmasked steps only."""
    from lamina.layers.embedding import Masking

    x = _rand(0, 4, 5, 3, loc=2.0, scale=3.0)
    mask = _sequence_mask(x)
    x[~mask] = 0.0  # Masking(0.0) masks exactly these steps
    bn = BatchNormalization(momentum=0.5)
    model = lm.Sequential([lm.Input((5, 3)), Masking(0.0), bn])
    model.compile(optimizer=lm.optimizers.SGD(0.0), loss="mse")
    model.train_on_batch(x, np.zeros_like(x))
    _, means, variances = np_masked_batch_norm(x, mask, np.ones(3), np.zeros(3), 1e-3)
    np.testing.assert_allclose(bn.get_weights()[2], 0.5 * means, **FWD)
    np.testing.assert_allclose(bn.get_weights()[3], 0.5 + 0.5 * variances, **FWD)


def test_batch_norm_unmasked_training_gradient_matches_numpy():
    x = _rand(0, 6, 3, loc=1.0, scale=2.0)
    bn = BatchNormalization(epsilon=1e-2)
    bn(x)
    gamma, beta = _rand(1, 3, loc=1.0), _rand(2, 3)
    bn.set_weights([gamma, beta, np.zeros(3), np.ones(3)])
    cotangent = _rand(9, 6, 3)

    def reference(x, gamma, beta):
        y = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-2) * gamma + beta
        return np.sum(y * cotangent)

    out, (dx, (dgamma, dbeta)) = lamina_output_and_grads(bn, x, [gamma, beta], cotangent,
                                                         training=True)
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-2) * gamma + beta,
                               **FWD)
    args = [x, gamma, beta]
    for got, i in ((dx, 0), (dgamma, 1), (dbeta, 2)):
        np.testing.assert_allclose(got, finite_difference(reference, args, i), **GRAD)


def test_batch_norm_initializers_regularizers_and_constraints():
    bn = BatchNormalization(gamma_initializer=lm.initializers.Constant(2.0),
                            beta_initializer=lm.initializers.Constant(-1.0),
                            moving_mean_initializer=lm.initializers.Constant(0.5),
                            moving_variance_initializer=lm.initializers.Constant(3.0),
                            gamma_regularizer=lm.regularizers.L2(0.1),
                            beta_regularizer=lm.regularizers.L1(0.2),
                            gamma_constraint="non_neg")
    model = lm.Sequential([lm.Input((3,)), bn])
    for got, value in zip(bn.get_weights(), (2.0, -1.0, 0.5, 3.0), strict=True):
        np.testing.assert_array_equal(got, np.full(3, value, np.float32))
    bn.set_weights([np.array([-1.0, 2.0, 3.0]), np.array([1.0, -2.0, 0.0]),
                    np.zeros(3), np.ones(3)])
    gamma, beta = bn.get_weights()[:2]
    penalties = sorted(float(p) for p in bn.losses)
    np.testing.assert_allclose(penalties, sorted([0.1 * np.sum(gamma ** 2),
                                                  0.2 * np.sum(np.abs(beta))]), rtol=1e-6)
    # with a zero learning rate the update is nothing: only the constraint acts on gamma
    model.compile(optimizer=lm.optimizers.SGD(0.0), loss="mse")
    x = _rand(0, 8, 3)
    model.train_on_batch(x, np.zeros((8, 3), np.float32))
    np.testing.assert_array_equal(bn.get_weights()[0], [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(bn.get_weights()[1], beta)


def test_batch_norm_config_round_trip_keeps_every_option():
    bn = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-2, center=False,
                            gamma_initializer="he_normal", moving_variance_initializer="zeros",
                            gamma_regularizer="l2", gamma_constraint="non_neg",
                            train_when_frozen=True)
    config = bn.get_config()
    assert config["axis"] == 1 and config["momentum"] == 0.9
    assert config["gamma_initializer"] == "he_normal"
    assert config["moving_variance_initializer"] == "zeros"
    assert config["gamma_constraint"] == "non_neg" and config["train_when_frozen"] is True
    assert BatchNormalization.from_config(config).get_config() == config


# -- agreement with Keras 3 ---------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


def _keras_weights(klayer):
    # Keras's own get_weights warns under numpy 2: read the jax values instead
    return [np.asarray(v.value) for v in klayer.weights]


def _copy_from_keras(klayer, layer, x, seed=0):
    """Build both on `x`, give Keras random weights, copy them into lamina; check names."""
    klayer(x)
    layer(x)
    rng = np.random.default_rng(seed)
    klayer.set_weights([rng.uniform(0.5, 1.5, size=w.shape).astype(np.float32)
                        for w in _keras_weights(klayer)])
    assert [w.name for w in layer.weights] == [w.name for w in klayer.weights]
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in _keras_weights(klayer)]
    layer.set_weights(_keras_weights(klayer))


@pytest.mark.parametrize("kwargs, shape", [
    ({}, (3, 4, 5)), ({"axis": [1, 2]}, (3, 4, 5)), ({"axis": [-2, -1], "epsilon": 1e-5},
                                                     (2, 3, 4, 5)),
    ({"center": False}, (3, 5)), ({"scale": False}, (3, 5))])
def test_layer_norm_agrees_with_keras(keras, kwargs, shape):
    x = _rand(0, *shape, loc=1.0, scale=2.0)
    klayer, layer = keras.layers.LayerNormalization(**kwargs), LayerNormalization(**kwargs)
    _copy_from_keras(klayer, layer, x)
    np.testing.assert_allclose(layer(x), np.asarray(klayer(x)), **KERAS)


@pytest.mark.parametrize("kwargs, shape", [
    ({"groups": 2}, (3, 5, 4)), ({"groups": -1, "axis": 1}, (2, 3, 5)),
    ({"groups": 3, "center": False}, (2, 2, 3, 6)), ({"groups": 2, "axis": -2}, (2, 4, 3))])
def test_group_norm_agrees_with_keras(keras, kwargs, shape):
    x = _rand(0, *shape, loc=1.0, scale=2.0)
    klayer, layer = keras.layers.GroupNormalization(**kwargs), GroupNormalization(**kwargs)
    _copy_from_keras(klayer, layer, x)
    np.testing.assert_allclose(layer(x), np.asarray(klayer(x)), **KERAS)


@pytest.mark.parametrize("kwargs, shape", [({}, (6, 3)), ({"axis": 1}, (4, 3, 5)),
                                           ({"center": False, "scale": False}, (6, 3))])
def test_batch_norm_agrees_with_keras_in_both_modes(keras, kwargs, shape):
    x = _rand(0, *shape, loc=1.0, scale=2.0)
    klayer, layer = keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs)
    _copy_from_keras(klayer, layer, x)
    np.testing.assert_allclose(layer(x), np.asarray(klayer(x)), **KERAS)
    np.testing.assert_allclose(layer(x, training=True), np.asarray(klayer(x, training=True)),
                               **KERAS)
    # moving statistics
    for mine, theirs in zip(layer.get_weights(), _keras_weights(klayer), strict=True):
        np.testing.assert_allclose(mine, theirs, **KERAS)


def test_masked_batch_norm_agrees_with_keras(keras):
    x = _rand(0, 4, 5, 3, loc=1.0, scale=2.0)
    mask = _sequence_mask(x)
    klayer, layer = keras.layers.BatchNormalization(), BatchNormalization()
    _copy_from_keras(klayer, layer, x)
    np.testing.assert_allclose(layer(x, training=True, mask=mask),
                               np.asarray(klayer(x, training=True, mask=mask)), **KERAS)
    for mine, theirs in zip(layer.get_weights(), _keras_weights(klayer), strict=True):
        np.testing.assert_allclose(mine, theirs, **KERAS)


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_unit_norm_agrees_with_keras(keras, axis):
    x = _rand(0, 3, 4, 5)
    np.testing.assert_allclose(UnitNormalization(axis=axis)(x),
                               np.asarray(keras.layers.UnitNormalization(axis=axis)(x)), **KERAS)


# -- errors -------------------------------------------------------------------------------
def test_batch_norm_takes_one_int_axis():
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn': expected `axis` to be an "
                                         r"int, received \[1, 2\]"):
        BatchNormalization(axis=[1, 2], name="bn")


@pytest.mark.parametrize("option", ["synchronized", "renorm"])
def test_batch_norm_rejects_unsupported_keras_options(option):
    with pytest.raises(ValueError, match=f"expected {option}=False, received {option}=True.*"
                                         "not available in lamina"):
        BatchNormalization(**{option: True})


def test_batch_norm_input_with_other_channel_count():
    bn = BatchNormalization(name="bn")
    bn(np.zeros((2, 3), np.float32))
    with pytest.raises(InputSpecError, match=r"BatchNormalization 'bn': expected inputs of rank "
                                             r"2 with axis 1: 3 .*received shape \(2, 4\)"):
        bn(np.zeros((2, 4), np.float32))


def test_batch_norm_mask_of_wrong_rank():
    bn = BatchNormalization(name="bn")
    with pytest.raises(InputSpecError, match=r"expected a mask of rank 2 .*received mask shape "
                                             r"\(2,\) for inputs of shape \(2, 5, 3\)"):
        bn(np.zeros((2, 5, 3), np.float32), training=True, mask=np.ones(2, bool))


def test_axis_out_of_range():
    with pytest.raises(InputSpecError, match=r"LayerNormalization 'ln': axis 3 is out of range "
                                             r"for inputs of rank 2"):
        LayerNormalization(axis=3, name="ln")(np.zeros((2, 3), np.float32))


def test_layer_norm_axis_of_wrong_type_and_repeated_axis():
    with pytest.raises(ValueError, match="expected `axis` to be an int or a non-empty list of "
                                         "ints, received 'last'"):
        LayerNormalization(axis="last")
    with pytest.raises(InputSpecError, match="names the same dimension twice"):
        LayerNormalization(axis=[1, -1])(np.zeros((2, 3), np.float32))


def test_group_norm_groups_must_divide_channels():
    with pytest.raises(InputSpecError, match=r"GroupNormalization 'gn': expected a number of "
                                             r"channels \(axis -1\) divisible by groups=4, "
                                             r"received 6 channels"):
        GroupNormalization(groups=4, name="gn")(np.zeros((2, 6), np.float32))
    with pytest.raises(InputSpecError, match="divisible by groups=32, received 8 channels"):
        GroupNormalization()(np.zeros((2, 8), np.float32))  # the default groups=32


@pytest.mark.parametrize("groups", [0, -2, 2.0])
def test_group_norm_groups_argument(groups):
    with pytest.raises(ValueError, match="expected `groups` to be a positive integer"):
        GroupNormalization(groups=groups)


def test_unit_norm_axis_of_wrong_type():
    with pytest.raises(ValueError, match="UnitNormalization 'u': expected `axis` to be an int"):
        UnitNormalization(axis=None, name="u")
