"""train_on_batch steps against an update computed by hand with jax.grad + optax directly."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm

RTOL, ATOL = 1e-5, 1e-6

_r = np.random.default_rng(0)
X = _r.normal(size=(8, 3)).astype(np.float32)
Y = _r.normal(size=(8, 2)).astype(np.float32)
KERNEL = _r.normal(size=(3, 2)).astype(np.float32)
BIAS = _r.normal(size=(2,)).astype(np.float32)


def _model():
    inp = lm.Input((3,))
    dense = lm.layers.Dense(2)
    model = lm.Model(inp, dense(inp))
    dense.set_weights([KERNEL, BIAS])
    return model


def _mse(params, x, y):
    pred = x @ params["kernel"] + params["bias"]
    return jnp.mean(jnp.mean((pred - y) ** 2, axis=-1))


def _reference(tx, steps):
    """[(loss before the step, kernel, bias) after each step] with plain jax + optax."""
    params = {"kernel": jnp.asarray(KERNEL), "bias": jnp.asarray(BIAS)}
    state = tx.init(params)
    out = []
    for _ in range(steps):
        loss, grads = jax.value_and_grad(_mse)(params, X, Y)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        out.append((float(loss), np.asarray(params["kernel"]), np.asarray(params["bias"])))
    return out


def _check(model, reference):
    for loss_ref, kernel_ref, bias_ref in reference:
        loss = model.train_on_batch(X, Y)
        kernel, bias = model.get_weights()
        np.testing.assert_allclose(loss, loss_ref, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(kernel, kernel_ref, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(bias, bias_ref, rtol=RTOL, atol=ATOL)


CASES = [
    pytest.param(lambda: lm.optimizers.SGD(learning_rate=0.1),
                 lambda: optax.sgd(0.1), id="sgd"),
    pytest.param(lambda: lm.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                 lambda: optax.sgd(0.1, momentum=0.9), id="sgd-momentum"),
    pytest.param(lambda: lm.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
                 lambda: optax.sgd(0.1, momentum=0.9, nesterov=True), id="sgd-nesterov"),
    pytest.param(lambda: lm.optimizers.Adam(learning_rate=0.05),
                 lambda: optax.adam(0.05, eps=1e-7), id="adam"),
    pytest.param(lambda: lm.optimizers.Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.9,
                                            epsilon=1e-4),
                 lambda: optax.adam(0.05, b1=0.8, b2=0.9, eps=1e-4), id="adam-args"),
    pytest.param(lambda: lm.optimizers.AdamW(learning_rate=0.05, weight_decay=0.1),
                 lambda: optax.adamw(0.05, eps=1e-7, weight_decay=0.1), id="adamw"),
    pytest.param(lambda: lm.optimizers.RMSprop(learning_rate=0.05, rho=0.8),
                 lambda: optax.rmsprop(0.05, decay=0.8, eps=1e-7), id="rmsprop"),
    pytest.param(lambda: lm.optimizers.RMSprop(learning_rate=0.05, rho=0.8, epsilon=1e-3),
                 lambda: optax.rmsprop(0.05, decay=0.8, eps=1e-3), id="rmsprop-eps"),
]


@pytest.mark.parametrize("make, make_ref", CASES)
def test_train_on_batch_matches_optax(make, make_ref):
    model = _model()
    model.compile(optimizer=make(), loss="mse")
    # two steps, so that the optimizer state (momentum, moments, step count) matters
    _check(model, _reference(make_ref(), steps=2))


@pytest.mark.parametrize("name, make_ref", [
    ("sgd", lambda: optax.sgd(0.01)),
    ("adam", lambda: optax.adam(0.001, eps=1e-7)),
    ("adamw", lambda: optax.adamw(0.001, eps=1e-7, weight_decay=0.004)),
    ("rmsprop", lambda: optax.rmsprop(0.001, decay=0.9, eps=1e-7)),
])
def test_string_names_resolve_with_keras_defaults(name, make_ref):
    model = _model()
    model.compile(optimizer=name, loss="mse")
    _check(model, _reference(make_ref(), steps=1))


def test_string_names_give_the_keras_classes():
    assert isinstance(lm.optimizers.get("sgd"), lm.optimizers.SGD)
    assert isinstance(lm.optimizers.get("adam"), lm.optimizers.Adam)
    assert isinstance(lm.optimizers.get("adamw"), lm.optimizers.AdamW)
    assert isinstance(lm.optimizers.get("rmsprop"), lm.optimizers.RMSprop)
    assert lm.optimizers.get("sgd").learning_rate == 0.01
    assert lm.optimizers.get("adam").learning_rate == 0.001


def test_raw_optax_transformation_is_accepted():
    model = _model()
    model.compile(optimizer=optax.sgd(0.05, momentum=0.5), loss="mse")
    _check(model, _reference(optax.sgd(0.05, momentum=0.5), steps=2))


def test_raw_optax_chain_is_accepted():
    tx = optax.chain(optax.clip_by_global_norm(0.1), optax.adam(0.01))
    model = _model()
    model.compile(optimizer=tx, loss="mse")
    _check(model, _reference(optax.chain(optax.clip_by_global_norm(0.1), optax.adam(0.01)),
                             steps=2))


def test_unknown_optimizer_name_lists_valid_names():
    model = _model()
    with pytest.raises(lm.ConfigurationError) as info:
        model.compile(optimizer="adamm", loss="mse")
        model.train_on_batch(X, Y)
    message = str(info.value)
    assert "adamm" in message
    for name in ["sgd", "adam", "adamw", "rmsprop"]:
        assert name in message


def test_wrong_optimizer_type_is_a_configuration_error():
    with pytest.raises(lm.ConfigurationError) as info:
        lm.optimizers.get(42)
    assert "42" in str(info.value)


def test_optimizer_get_config_holds_constructor_arguments():
    config = lm.optimizers.SGD(learning_rate=0.3, momentum=0.7, nesterov=True).get_config()
    assert config["learning_rate"] == 0.3
    assert config["momentum"] == 0.7
    assert config["nesterov"] is True
    config = lm.optimizers.RMSprop(rho=0.8, epsilon=1e-5).get_config()
    assert config["rho"] == 0.8 and config["epsilon"] == 1e-5
    assert lm.optimizers.AdamW().get_config()["weight_decay"] == 0.004
