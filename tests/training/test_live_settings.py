"""Settings that take effect at the next step without recompiling, and seeded determinism."""
import numpy as np
import optax
import pytest

import lamina as lm


def _linear_model(lr):
    model = lm.Sequential([lm.Input((2,)),
                           lm.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(lm.optimizers.SGD(learning_rate=lr), "mse")
    return model


def test_learning_rate_set_after_compile_is_used_by_the_next_step():
    model = _linear_model(1.0)
    x, y = np.ones((1, 2), "float32"), np.ones((1, 1), "float32")
    model.train_on_batch(x, y)  # w = 0 -> grad of (2w-1)^2 = -2 per weight: w = 2
    steps_before = len(model._trainer.compiled_steps("train"))
    model.optimizer.learning_rate = 0.001
    w = model.get_weights()[0].copy()
    model.train_on_batch(x, y)
    # gradient at w=2: 2 * (4 - 1) * 1 = 6 per weight, so the update is -0.001 * 6
    np.testing.assert_allclose(model.get_weights()[0] - w, -0.006, rtol=1e-5)
    assert len(model._trainer.compiled_steps("train")) == steps_before
    assert model.optimizer.learning_rate == 0.001


def test_learning_rate_set_before_the_first_step_is_used():
    model = _linear_model(1.0)
    model.optimizer.learning_rate = 0.5
    model.train_on_batch(np.ones((1, 2), "float32"), np.ones((1, 1), "float32"))
    np.testing.assert_allclose(model.get_weights()[0], 1.0, rtol=1e-6)  # 0 - 0.5 * (-2)


def test_raw_optax_learning_rate_cannot_be_set_silently():
    model = lm.Sequential([lm.Input((2,)), lm.layers.Dense(1)])
    model.compile(optax.sgd(0.1), "mse")
    with pytest.raises(lm.ConfigurationError, match="inject_hyperparams"):
        model.optimizer.learning_rate = 0.01


def test_set_seed_makes_initialisation_and_fit_shuffling_reproducible():
    def run():
        lm.random.set_seed(123)
        model = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3), lm.layers.Dense(1)])
        model.compile("sgd", "mse")
        x = np.arange(256, dtype="float32").reshape(64, 4) / 256
        model.fit(x, x.sum(1, keepdims=True), batch_size=8, epochs=2, verbose=0)
        return model.get_weights()

    first, second = run(), run()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    lm.random.set_seed(124)
    other = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3)])
    assert not np.array_equal(other.get_weights()[0], first[0])
