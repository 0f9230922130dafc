"""The optimizer state is split per variable when some weights are frozen (docs/design.md rule 6,
`lamina.training.opt_state`); a transform whose state cannot be split says so, once per
configuration, instead of failing inside the compiled step with a raw shape error (issue 14,
item 6)."""
import numpy as np
import optax
import pytest

import lamina as lm


def _model(optimizer):
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(4, name="hidden"),
                           lm.layers.Dense(1, name="out")])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")


def test_a_flattening_transform_trains_while_every_weight_trains():
    model = _model(optax.flatten(optax.adam(1e-2)))
    before = [np.array(w) for w in model.get_weights()]
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    assert all(not np.array_equal(b, a) for b, a in zip(before, model.get_weights(), strict=True))


def test_a_flattening_transform_refuses_frozen_weights_with_the_fix():
    model = _model(optax.flatten(optax.adam(1e-2)))
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    model.layers[0].trainable = False
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(lm.errors.ConfigurationError,
                       match=r"(?s)flatten.*one entry per parameter.*optax\.adam") as info:
        model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    assert "'hidden/kernel'" in str(info.value)  # names a frozen variable
    for b, a in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(b, a)


def test_a_per_parameter_raw_optax_transform_keeps_frozen_weights_bitwise():
    model = _model(optax.adam(1e-2))
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    model.layers[0].trainable = False
    frozen = [np.array(w) for w in model.layers[0].get_weights()]
    trained = [np.array(w) for w in model.layers[1].get_weights()]
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    for b, a in zip(frozen, model.layers[0].get_weights(), strict=True):
        np.testing.assert_array_equal(b, a)
    assert all(not np.array_equal(b, a)
               for b, a in zip(trained, model.layers[1].get_weights(), strict=True))
