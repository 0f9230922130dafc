"""Layer numerics against hand-written numpy references, plus weights, counts and configs.

Every layer in the table is built on known inputs, given known random weights through
`set_weights`, and compared with a numpy computation written independently of lamina.
"""
import dataclasses
import math
from typing import Callable

import numpy as np
import pytest

import lamina as lm

RTOL, ATOL = 1e-5, 1e-6


# -- numpy references of the activations (Keras 3 definitions) -----------------------------
def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_erf = np.vectorize(math.erf)

NP_ACTIVATIONS = {
    None: lambda x: x,
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "softmax": _np_softmax,
    # keras.activations.gelu defaults to approximate=False (the exact erf form)
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))),
    # keras 3: leaky_relu(x, negative_slope=0.2)
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    # keras 3: hard_sigmoid(x) = relu6(x + 3) / 6
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _f32(a):
    return np.asarray(a, dtype=np.float32)


# -- the table ------------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    id: str
    make: Callable  # () -> layer
    inputs: Callable  # () -> array or list of arrays
    weights: Callable  # (layer) -> list of arrays for set_weights (None: leave as built)
    reference: Callable  # (inputs, weights) -> expected output (numpy)
    out_shape: tuple
    out_dtype: str
    n_trainable: int
    n_non_trainable: int
    n_params: int
    config: dict  # constructor arguments that get_config must report
    call_kwargs: dict = dataclasses.field(default_factory=dict)


def _dense_case(activation, use_bias=True):
    def weights(layer):
        r = _rng(1)
        w = [_f32(r.normal(size=(3, 4)))]
        if use_bias:
            w.append(_f32(r.normal(size=(4,))))
        return w

    def reference(x, w):
        y = x.astype(np.float64) @ w[0].astype(np.float64)
        if use_bias:
            y = y + w[1]
        return NP_ACTIVATIONS[activation](y)

    config = {"units": 4, "use_bias": use_bias}
    if activation is not None:
        config["activation"] = activation
    return Case(
        id=f"dense-{activation}" + ("" if use_bias else "-nobias"),
        make=lambda: lm.layers.Dense(4, activation=activation, use_bias=use_bias),
        inputs=lambda: _f32(_rng(0).normal(size=(5, 3)) * 2.0),
        weights=weights,
        reference=reference,
        out_shape=(5, 4),
        out_dtype="float32",
        n_trainable=2 if use_bias else 1,
        n_non_trainable=0,
        n_params=3 * 4 + (4 if use_bias else 0),
        config=config,
    )


def _bn_weights(layer):
    r = _rng(2)
    dim = 4
    return [_f32(r.normal(size=dim)), _f32(r.normal(size=dim)),
            _f32(r.normal(size=dim)), _f32(r.uniform(0.5, 2.0, size=dim))]


def _bn_reference(axis, training, epsilon):
    def reference(x, w):
        gamma, beta, mm, mv = (a.astype(np.float64) for a in w)
        x = x.astype(np.float64)
        ax = axis % x.ndim
        reduce = tuple(i for i in range(x.ndim) if i != ax)
        shape = [1] * x.ndim
        shape[ax] = x.shape[ax]
        if training:
            mean, var = x.mean(axis=reduce), x.var(axis=reduce)
        else:
            mean, var = mm, mv
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon)
        return y * gamma.reshape(shape) + beta.reshape(shape)

    return reference


CASES = [
    *[_dense_case(a) for a in [None, "linear", "relu", "sigmoid", "tanh", "softmax", "gelu",
                                "leaky_relu", "elu", "selu", "softplus", "silu",
                                "hard_sigmoid"]],
    _dense_case("relu", use_bias=False),
    _dense_case(None, use_bias=False),
    Case(
        id="dense-int-input",
        make=lambda: lm.layers.Dense(4),
        inputs=lambda: _rng(0).integers(-3, 4, size=(5, 3)).astype(np.int32),
        weights=lambda layer: [_f32(_rng(1).normal(size=(3, 4))), _f32(_rng(2).normal(size=4))],
        reference=lambda x, w: x.astype(np.float64) @ w[0] + w[1],
        out_shape=(5, 4), out_dtype="float32", n_trainable=2, n_non_trainable=0,
        n_params=16, config={"units": 4},
    ),
    *[Case(
        id=f"activation-{a}",
        make=(lambda a=a: lm.layers.Activation(a)),
        inputs=lambda: _f32(_rng(0).normal(size=(4, 6)) * 3.0),
        weights=lambda layer: None,
        reference=(lambda x, w, a=a: NP_ACTIVATIONS[a](x.astype(np.float64))),
        out_shape=(4, 6), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"activation": a},
    ) for a in ["relu", "sigmoid", "tanh", "softmax", "gelu", "elu"]],
    Case(
        id="dropout-inference",
        make=lambda: lm.layers.Dropout(0.4, seed=3),
        inputs=lambda: _f32(_rng(0).normal(size=(6, 5))),
        weights=lambda layer: None,
        reference=lambda x, w: x,
        out_shape=(6, 5), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"rate": 0.4, "seed": 3},
        call_kwargs={"training": False},
    ),
    Case(
        id="dropout-default-call",
        make=lambda: lm.layers.Dropout(0.4),
        inputs=lambda: _f32(_rng(0).normal(size=(6, 5))),
        weights=lambda layer: None,
        reference=lambda x, w: x,
        out_shape=(6, 5), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"rate": 0.4},
    ),
    Case(
        id="flatten",
        make=lambda: lm.layers.Flatten(),
        inputs=lambda: _f32(_rng(0).normal(size=(2, 3, 4, 5))),
        weights=lambda layer: None,
        reference=lambda x, w: x.reshape(2, 60),
        out_shape=(2, 60), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={},
    ),
    Case(
        id="flatten-int",
        make=lambda: lm.layers.Flatten(),
        inputs=lambda: np.arange(24, dtype=np.int32).reshape(2, 3, 4),
        weights=lambda layer: None,
        reference=lambda x, w: x.reshape(2, 12),
        out_shape=(2, 12), out_dtype="int32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={},
    ),
    Case(
        id="reshape",
        make=lambda: lm.layers.Reshape((4, 3)),
        inputs=lambda: _f32(_rng(0).normal(size=(2, 3, 4))),
        weights=lambda layer: None,
        reference=lambda x, w: x.reshape(2, 4, 3),
        out_shape=(2, 4, 3), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"target_shape": (4, 3)},
    ),
    Case(
        id="reshape-minus-one",
        make=lambda: lm.layers.Reshape((-1, 2)),
        inputs=lambda: _f32(_rng(0).normal(size=(2, 3, 4))),
        weights=lambda layer: None,
        reference=lambda x, w: x.reshape(2, 6, 2),
        out_shape=(2, 6, 2), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"target_shape": (-1, 2)},
    ),
    Case(
        id="reshape-minus-one-middle",
        make=lambda: lm.layers.Reshape((2, -1, 3)),
        inputs=lambda: _f32(_rng(0).normal(size=(2, 12))),
        weights=lambda layer: None,
        reference=lambda x, w: x.reshape(2, 2, 2, 3),
        out_shape=(2, 2, 2, 3), out_dtype="float32", n_trainable=0, n_non_trainable=0,
        n_params=0, config={"target_shape": (2, -1, 3)},
    ),
    Case(
        id="concatenate-last",
        make=lambda: lm.layers.Concatenate(),
        inputs=lambda: [_f32(_rng(0).normal(size=(3, 2))), _f32(_rng(1).normal(size=(3, 5)))],
        weights=lambda layer: None,
        reference=lambda xs, w: np.concatenate(xs, axis=-1),
        out_shape=(3, 7), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"axis": -1},
    ),
    Case(
        id="concatenate-axis1",
        make=lambda: lm.layers.Concatenate(axis=1),
        inputs=lambda: [_f32(_rng(0).normal(size=(2, 3, 4))),
                        _f32(_rng(1).normal(size=(2, 1, 4))),
                        _f32(_rng(2).normal(size=(2, 2, 4)))],
        weights=lambda layer: None,
        reference=lambda xs, w: np.concatenate(xs, axis=1),
        out_shape=(2, 6, 4), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={"axis": 1},
    ),
    Case(
        id="add",
        make=lambda: lm.layers.Add(),
        inputs=lambda: [_f32(_rng(i).normal(size=(3, 4))) for i in range(3)],
        weights=lambda layer: None,
        reference=lambda xs, w: xs[0] + xs[1] + xs[2],
        out_shape=(3, 4), out_dtype="float32", n_trainable=0, n_non_trainable=0, n_params=0,
        config={},
    ),
    Case(
        id="batchnorm-inference",
        make=lambda: lm.layers.BatchNormalization(momentum=0.9, epsilon=1e-3),
        inputs=lambda: _f32(_rng(0).normal(2.0, 3.0, size=(8, 4))),
        weights=_bn_weights,
        reference=_bn_reference(-1, False, 1e-3),
        out_shape=(8, 4), out_dtype="float32", n_trainable=2, n_non_trainable=2, n_params=16,
        config={"axis": -1, "momentum": 0.9, "epsilon": 1e-3, "center": True, "scale": True},
        call_kwargs={"training": False},
    ),
    Case(
        id="batchnorm-training",
        make=lambda: lm.layers.BatchNormalization(momentum=0.8, epsilon=1e-2),
        inputs=lambda: _f32(_rng(0).normal(2.0, 3.0, size=(8, 4))),
        weights=_bn_weights,
        reference=_bn_reference(-1, True, 1e-2),
        out_shape=(8, 4), out_dtype="float32", n_trainable=2, n_non_trainable=2, n_params=16,
        config={"axis": -1, "momentum": 0.8, "epsilon": 1e-2},
        call_kwargs={"training": True},
    ),
    Case(
        id="batchnorm-axis1-training",
        make=lambda: lm.layers.BatchNormalization(axis=1, epsilon=1e-3),
        inputs=lambda: _f32(_rng(0).normal(1.0, 2.0, size=(5, 4, 3))),
        weights=_bn_weights,
        reference=_bn_reference(1, True, 1e-3),
        out_shape=(5, 4, 3), out_dtype="float32", n_trainable=2, n_non_trainable=2,
        n_params=16, config={"axis": 1},
        call_kwargs={"training": True},
    ),
]

CASE_IDS = [c.id for c in CASES]


def _built(case):
    """(layer, inputs, weights, output) with the case's weights set before the call."""
    layer = case.make()
    inputs = case.inputs()
    weights = case.weights(layer)
    if weights is not None:
        # build the layer on its inputs' shapes first, then overwrite every weight
        layer(inputs, training=False)
        layer.set_weights(weights)
    out = layer(inputs, **case.call_kwargs)
    return layer, inputs, weights, out


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_output_matches_numpy(case):
    layer, inputs, weights, out = _built(case)
    expected = case.reference(inputs, weights)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_output_shape_and_dtype(case):
    _, _, _, out = _built(case)
    assert tuple(out.shape) == case.out_shape
    assert np.dtype(out.dtype).name == case.out_dtype


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_weight_counts(case):
    layer, _, _, _ = _built(case)
    assert len(layer.trainable_weights) == case.n_trainable
    assert len(layer.non_trainable_weights) == case.n_non_trainable
    assert len(layer.weights) == case.n_trainable + case.n_non_trainable
    assert len(layer.get_weights()) == case.n_trainable + case.n_non_trainable
    assert layer.count_params() == case.n_params


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_get_config_holds_constructor_arguments(case):
    layer = case.make()
    config = layer.get_config()
    assert config["name"] == layer.name
    for key, value in case.config.items():
        assert key in config, f"get_config() of {type(layer).__name__} lacks {key!r}: {config}"
        assert config[key] == value
    # a config rebuilds an equivalent layer (Keras contract: from_config(get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_symbolic_call_gives_the_same_shape_and_dtype(case):
    layer = case.make()
    inputs = case.inputs()
    if isinstance(inputs, list):
        sym = [lm.Input(a.shape[1:], dtype=a.dtype.name) for a in inputs]
    else:
        sym = lm.Input(inputs.shape[1:], dtype=inputs.dtype.name)
    out = layer(sym)
    assert tuple(out.shape) == (None,) + case.out_shape[1:]
    assert np.dtype(out.dtype).name == case.out_dtype


# -- Keras weight layout ------------------------------------------------------------------
def test_dense_kernel_layout_is_in_by_out():
    inp = lm.Input((3,))
    layer = lm.layers.Dense(7)
    layer(inp)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 7)
    assert bias.shape == (7,)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert layer.kernel.shape == (3, 7)
    # the kernel multiplies from the right: x @ kernel
    x = _f32(_rng(0).normal(size=(2, 3)))
    w = _f32(_rng(1).normal(size=(3, 7)))
    layer.set_weights([w, np.zeros(7, np.float32)])
    np.testing.assert_allclose(np.asarray(layer(x)), x @ w, rtol=RTOL, atol=ATOL)


def test_dense_bias_initialised_to_zeros_and_glorot_uniform_kernel_in_range():
    layer = lm.layers.Dense(50)
    layer(np.zeros((1, 30), np.float32))
    kernel, bias = layer.get_weights()
    np.testing.assert_array_equal(bias, np.zeros(50))
    limit = np.sqrt(6.0 / (30 + 50))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.8 * limit  # really uniform over the Glorot range


def test_batchnorm_weight_order_and_initial_values():
    layer = lm.layers.BatchNormalization()
    layer(lm.Input((5,)))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    gamma, beta, mm, mv = layer.get_weights()
    np.testing.assert_array_equal(gamma, np.ones(5))
    np.testing.assert_array_equal(beta, np.zeros(5))
    np.testing.assert_array_equal(mm, np.zeros(5))
    np.testing.assert_array_equal(mv, np.ones(5))
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]


def test_batchnorm_without_center_and_scale_has_only_moving_statistics():
    layer = lm.layers.BatchNormalization(center=False, scale=False)
    layer(lm.Input((3,)))
    assert [w.name for w in layer.weights] == ["moving_mean", "moving_variance"]
    assert layer.trainable_weights == []
    assert layer.count_params() == 6


# -- BatchNormalization moving statistics ----------------------------------------------------
def _np_bn_moving_update(mm, mv, x, momentum):
    mean, var = x.mean(axis=0), x.var(axis=0)
    return mm * momentum + mean * (1 - momentum), mv * momentum + var * (1 - momentum)


def test_batchnorm_training_call_updates_moving_statistics_with_momentum():
    momentum = 0.75
    layer = lm.layers.BatchNormalization(momentum=momentum)
    x1 = _f32(_rng(0).normal(3.0, 2.0, size=(16, 4)))
    x2 = _f32(_rng(1).normal(-1.0, 0.5, size=(16, 4)))
    layer(x1, training=False)
    w = _bn_weights(layer)
    layer.set_weights(w)
    mm, mv = w[2].astype(np.float64), w[3].astype(np.float64)
    for x in (x1, x2):
        layer(x, training=True)
        mm, mv = _np_bn_moving_update(mm, mv, x.astype(np.float64), momentum)
        got = layer.get_weights()
        np.testing.assert_allclose(got[2], mm, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(got[3], mv, rtol=RTOL, atol=ATOL)
        # gamma and beta are untouched by a forward pass
        np.testing.assert_array_equal(got[0], w[0])
        np.testing.assert_array_equal(got[1], w[1])


def test_batchnorm_inference_call_does_not_update_moving_statistics():
    layer = lm.layers.BatchNormalization()
    x = _f32(_rng(0).normal(3.0, 2.0, size=(16, 4)))
    layer(x, training=False)
    w = _bn_weights(layer)
    layer.set_weights(w)
    layer(x, training=False)
    layer(x)
    for got, want in zip(layer.get_weights(), w, strict=True):
        np.testing.assert_array_equal(got, want)


def test_batchnorm_moving_statistics_update_in_train_on_batch():
    momentum = 0.9
    bn = lm.layers.BatchNormalization(momentum=momentum, epsilon=1e-3)
    model = lm.Sequential([lm.Input((4,)), bn])
    w = _bn_weights(bn)
    bn.set_weights(w)
    model.compile(optimizer=lm.optimizers.SGD(learning_rate=0.0), loss="mse")
    x = _f32(_rng(0).normal(3.0, 2.0, size=(16, 4)))
    y = np.zeros((16, 4), np.float32)
    train_loss = model.train_on_batch(x, y)
    mm, mv = _np_bn_moving_update(w[2].astype(np.float64), w[3].astype(np.float64),
                                  x.astype(np.float64), momentum)
    got = bn.get_weights()
    np.testing.assert_allclose(got[2], mm, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[3], mv, rtol=RTOL, atol=ATOL)
    # the step normalised with batch statistics: its loss is that of the training output
    expected = _bn_reference(-1, True, 1e-3)(x, w)
    np.testing.assert_allclose(train_loss, np.mean(expected ** 2), rtol=1e-4)
    # evaluation normalises with the (updated) moving statistics
    test_loss = model.test_on_batch(x, y)
    expected_inference = _bn_reference(-1, False, 1e-3)(x, [w[0], w[1], mm, mv])
    np.testing.assert_allclose(test_loss, np.mean(expected_inference ** 2), rtol=1e-4)
    assert not np.allclose(np.mean(expected ** 2), np.mean(expected_inference ** 2))


def test_batchnorm_predict_uses_moving_statistics():
    bn = lm.layers.BatchNormalization(epsilon=1e-3)
    model = lm.Sequential([lm.Input((4,)), bn])
    w = _bn_weights(bn)
    bn.set_weights(w)
    x = _f32(_rng(0).normal(3.0, 2.0, size=(8, 4)))
    np.testing.assert_allclose(model.predict(x, verbose=0), _bn_reference(-1, False, 1e-3)(x, w),
                               rtol=RTOL, atol=ATOL)


# -- Dropout ------------------------------------------------------------------------------
def test_dropout_training_keeps_about_one_minus_rate_and_scales_kept_values():
    rate = 0.3
    layer = lm.layers.Dropout(rate, seed=11)
    x = _f32(_rng(0).uniform(1.0, 2.0, size=(200, 50)))
    out = np.asarray(layer(x, training=True))
    kept = out != 0
    assert abs(kept.mean() - (1 - rate)) < 0.02
    np.testing.assert_allclose(out[kept], x[kept] / (1 - rate), rtol=1e-6)
    assert out.shape == x.shape and out.dtype == np.float32


def test_dropout_expected_value_is_preserved():
    layer = lm.layers.Dropout(0.5, seed=5)
    x = np.ones((100, 100), np.float32)
    out = np.asarray(layer(x, training=True))
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert abs(out.mean() - 1.0) < 0.05


def test_dropout_rate_zero_is_identity_in_training():
    x = _f32(_rng(0).normal(size=(4, 5)))
    np.testing.assert_array_equal(np.asarray(lm.layers.Dropout(0.0)(x, training=True)), x)


def test_dropout_same_seed_gives_same_mask_sequence():
    x = np.ones((8, 16), np.float32)
    a = lm.layers.Dropout(0.5, seed=42)
    lm.random.set_seed(123)  # the global stream must not matter for a seeded layer
    b = lm.layers.Dropout(0.5, seed=42)
    masks_a = [np.asarray(a(x, training=True)) != 0 for _ in range(3)]
    masks_b = [np.asarray(b(x, training=True)) != 0 for _ in range(3)]
    for ma, mb in zip(masks_a, masks_b, strict=True):
        np.testing.assert_array_equal(ma, mb)
    # consecutive calls draw fresh masks
    assert not np.array_equal(masks_a[0], masks_a[1])
    assert not np.array_equal(masks_a[1], masks_a[2])


def test_dropout_different_seeds_give_different_masks():
    x = np.ones((8, 16), np.float32)
    ma = np.asarray(lm.layers.Dropout(0.5, seed=1)(x, training=True)) != 0
    mb = np.asarray(lm.layers.Dropout(0.5, seed=2)(x, training=True)) != 0
    assert not np.array_equal(ma, mb)


def test_dropout_unseeded_layers_reproducible_under_global_seed():
    x = np.ones((8, 16), np.float32)
    lm.random.set_seed(7)
    ma = np.asarray(lm.layers.Dropout(0.5)(x, training=True)) != 0
    lm.random.set_seed(7)
    mb = np.asarray(lm.layers.Dropout(0.5)(x, training=True)) != 0
    np.testing.assert_array_equal(ma, mb)


def test_seeded_dropout_models_reproducible():
    def make():
        inp = lm.Input((16,))
        dense = lm.layers.Dense(16)
        out = lm.layers.Dropout(0.5, seed=9)(dense(inp))
        model = lm.Model(inp, out)
        dense.set_weights([np.eye(16, dtype=np.float32), np.zeros(16, np.float32)])
        return model

    x = _f32(_rng(0).uniform(1.0, 2.0, size=(4, 16)))
    m1 = make()
    lm.random.set_seed(99)
    m2 = make()
    outs1 = [np.asarray(m1(x, training=True)) for _ in range(2)]
    outs2 = [np.asarray(m2(x, training=True)) for _ in range(2)]
    for o1, o2 in zip(outs1, outs2, strict=True):
        np.testing.assert_array_equal(o1, o2)
    assert not np.array_equal(outs1[0], outs1[1])
    # inference is the identity map
    np.testing.assert_allclose(m1.predict(x, verbose=0), x, rtol=RTOL)


def test_dropout_noise_shape_broadcasts_the_mask():
    layer = lm.layers.Dropout(0.5, noise_shape=(None, 1, 6), seed=4)
    x = np.ones((3, 5, 6), np.float32)
    out = np.asarray(layer(x, training=True))
    # the same mask for every position along axis 1
    for i in range(1, 5):
        np.testing.assert_array_equal(out[:, i, :], out[:, 0, :])
    assert set(np.unique(out)) <= {0.0, 2.0}
