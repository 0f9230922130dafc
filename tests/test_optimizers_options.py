"""The optimizer catalogue, Keras's base options (clipping, decay, EMA, accumulation) and
learning-rate schedules, each against optax or a hand-written update."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_optimizers import BIAS, KERNEL, X, Y, _check, _model, _reference

import lamina as lm
from lamina.errors import ConfigurationError
from lamina.optimizers import schedules

os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.mark.parametrize("make, make_ref", [
    pytest.param(lambda: lm.optimizers.Adagrad(0.1), lambda: optax.adagrad(0.1, 0.1, 1e-7),
                 id="adagrad"),
    pytest.param(lambda: lm.optimizers.Adadelta(1.0, rho=0.9),
                 lambda: optax.adadelta(1.0, 0.9, 1e-7), id="adadelta"),
    pytest.param(lambda: lm.optimizers.Adamax(0.05), lambda: optax.adamax(0.05, eps=1e-7),
                 id="adamax"),
    pytest.param(lambda: lm.optimizers.Nadam(0.05), lambda: optax.nadam(0.05, eps=1e-7),
                 id="nadam"),
    pytest.param(lambda: lm.optimizers.Lion(0.01), lambda: optax.lion(0.01, 0.9, 0.99),
                 id="lion"),
    pytest.param(lambda: lm.optimizers.Lamb(0.05), lambda: optax.lamb(0.05, eps=1e-7),
                 id="lamb"),
    pytest.param(lambda: lm.optimizers.Adafactor(0.05),
                 lambda: optax.adafactor(0.05, decay_rate=0.8, eps=1e-30,
                                         multiply_by_parameter_scale=False), id="adafactor"),
    pytest.param(lambda: lm.optimizers.SGD(0.1, clipvalue=0.05),
                 lambda: optax.chain(optax.clip(0.05), optax.sgd(0.1)), id="clipvalue"),
    pytest.param(lambda: lm.optimizers.Adam(0.05, global_clipnorm=0.1),
                 lambda: optax.chain(optax.clip_by_global_norm(0.1), optax.adam(0.05, eps=1e-7)),
                 id="global_clipnorm"),
    pytest.param(lambda: lm.optimizers.SGD(0.1, momentum=0.9, gradient_accumulation_steps=2),
                 lambda: optax.MultiSteps(optax.sgd(0.1, momentum=0.9), 2)
                 .gradient_transformation(), id="accumulation"),
])
def test_optimizer_matches_its_optax_recipe_over_three_steps(make, make_ref):
    model = _model()
    model.compile(optimizer=make(), loss="mse")
    _check(model, _reference(make_ref(), steps=3))


def _grads(kernel, bias):
    def loss(params):
        pred = X @ params[0] + params[1]
        return jnp.mean(jnp.mean((pred - Y) ** 2, axis=-1))

    return [np.asarray(g, np.float64) for g in jax.grad(loss)((jnp.asarray(kernel),
                                                               jnp.asarray(bias)))]


def test_clipnorm_clips_each_tensor_by_its_own_norm():
    model = _model()
    model.compile(optimizer=lm.optimizers.SGD(0.5, clipnorm=0.1), loss="mse")
    grads = _grads(KERNEL, BIAS)
    expected = [w - 0.5 * g * min(1.0, 0.1 / np.linalg.norm(g))
                for w, g in zip((KERNEL, BIAS), grads, strict=True)]
    assert all(np.linalg.norm(g) > 0.1 for g in grads)  # both really clipped
    model.train_on_batch(X, Y)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_weight_decay_is_decoupled_as_keras():
    """Keras: w -= lr * wd * w, then the optimizer's own update (momentum untouched)."""
    model = _model()
    model.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.5, weight_decay=0.2), loss="mse")
    weights = [KERNEL.astype(np.float64), BIAS.astype(np.float64)]
    velocity = [np.zeros_like(w) for w in weights]
    for _ in range(2):
        grads = _grads(*[w.astype(np.float32) for w in weights])
        velocity = [0.5 * v + g for v, g in zip(velocity, grads, strict=True)]
        weights = [w - 0.1 * 0.2 * w - 0.1 * v for w, v in zip(weights, velocity, strict=True)]
        model.train_on_batch(X, Y)
    for got, want in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_ema_is_tracked_and_put_into_the_model_when_fit_ends():
    model = _model()
    optimizer = lm.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    model.compile(optimizer=optimizer, loss="mse")
    weights, average = [KERNEL.astype(np.float64), BIAS.astype(np.float64)], None
    for _ in range(3):
        grads = _grads(*[w.astype(np.float32) for w in weights])
        weights = [w - 0.1 * g for w, g in zip(weights, grads, strict=True)]
        average = (list(weights) if average is None
                   else [0.5 * a + 0.5 * w for a, w in zip(average, weights, strict=True)])
    model.fit(X, Y, batch_size=len(X), epochs=3, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), average, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    model.fit(X, Y, batch_size=len(X), epochs=1, verbose=0)  # training goes on afterwards


def test_ema_never_overwrites_a_frozen_weight():
    inp = lm.Input((3,))
    frozen, head = lm.layers.Dense(3), lm.layers.Dense(2)
    model = lm.Model(inp, head(frozen(inp)))
    model.compile(optimizer=lm.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9), loss="mse")
    model.fit(X, Y, epochs=2, verbose=0)
    frozen.trainable = False
    before = frozen.get_weights()
    model.fit(X, Y, epochs=2, verbose=0)
    for a, b in zip(frozen.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_ema_overwrite_frequency_replaces_the_weights_during_training():
    model = _model()
    model.compile(optimizer=lm.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5,
                                              ema_overwrite_frequency=2), loss="mse")
    weights, average = [KERNEL.astype(np.float64), BIAS.astype(np.float64)], None
    for _ in range(2):
        grads = _grads(*[w.astype(np.float32) for w in weights])
        weights = [w - 0.1 * g for w, g in zip(weights, grads, strict=True)]
        average = (list(weights) if average is None
                   else [0.5 * a + 0.5 * w for a, w in zip(average, weights, strict=True)])
    model.train_on_batch(X, Y)
    model.train_on_batch(X, Y)  # the second update ends with the weights set to the average
    for got, want in zip(model.get_weights(), average, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_accumulation_leaves_weights_unchanged_between_applied_steps():
    model = _model()
    model.compile(optimizer=lm.optimizers.SGD(0.1, gradient_accumulation_steps=3), loss="mse")
    model.train_on_batch(X, Y)
    model.train_on_batch(X, Y)
    np.testing.assert_array_equal(model.get_weights()[0], KERNEL)
    model.train_on_batch(X, Y)
    assert not np.array_equal(model.get_weights()[0], KERNEL)


# -- schedules --------------------------------------------------------------------------------
STEPS = np.arange(0, 60)


@pytest.mark.parametrize("ours, theirs", [
    (schedules.ExponentialDecay(0.1, 10, 0.5),
     optax.exponential_decay(0.1, 10, 0.5)),
    (schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
     optax.exponential_decay(0.1, 10, 0.5, staircase=True)),
    (schedules.PolynomialDecay(0.1, 40, end_learning_rate=0.01, power=2.0),
     optax.polynomial_schedule(0.1, 0.01, 2.0, 40)),
    (schedules.CosineDecay(0.1, 40, alpha=0.1),
     optax.cosine_decay_schedule(0.1, 40, alpha=0.1)),
    (schedules.CosineDecay(0.0, 40, warmup_target=0.2, warmup_steps=10),
     optax.warmup_cosine_decay_schedule(0.0, 0.2, 10, 50, end_value=0.0)),
    (schedules.InverseTimeDecay(0.1, 5, 0.5),
     optax.inverse_time_decay(0.1, 0.5 / 5) if hasattr(optax, "inverse_time_decay")
     else (lambda s: 0.1 / (1 + 0.5 * s / 5))),
])
def test_schedules_match_optax(ours, theirs):
    np.testing.assert_allclose([float(ours(s)) for s in STEPS],
                               [float(theirs(s)) for s in STEPS], rtol=1e-5, atol=1e-8)


def test_piecewise_constant_and_restarts_match_keras():
    keras = pytest.importorskip("keras")
    pairs = [
        (schedules.PiecewiseConstantDecay([10, 30], [0.1, 0.05, 0.01]),
         keras.optimizers.schedules.PiecewiseConstantDecay([10, 30], [0.1, 0.05, 0.01])),
        (schedules.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5, alpha=0.1),
         keras.optimizers.schedules.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5,
                                                        alpha=0.1)),
        (schedules.CosineDecayRestarts(0.1, 7, t_mul=1.0),
         keras.optimizers.schedules.CosineDecayRestarts(0.1, 7, t_mul=1.0)),
        (schedules.PolynomialDecay(0.1, 10, 0.01, power=0.5, cycle=True),
         keras.optimizers.schedules.PolynomialDecay(0.1, 10, 0.01, power=0.5, cycle=True)),
        (schedules.CosineDecay(0.01, 30, alpha=0.2, warmup_target=0.1, warmup_steps=5),
         keras.optimizers.schedules.CosineDecay(0.01, 30, alpha=0.2, warmup_target=0.1,
                                                warmup_steps=5)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose([float(ours(s)) for s in STEPS],
                                   [float(theirs(s)) for s in STEPS], rtol=1e-5, atol=1e-8)


def test_a_scheduled_rate_drives_the_updates_and_is_readable_not_settable():
    schedule = schedules.ExponentialDecay(0.2, 1, 0.5)  # 0.2, 0.1, 0.05, ...
    model = _model()
    optimizer = lm.optimizers.SGD(schedule)
    model.compile(optimizer=optimizer, loss="mse")
    _check(model, _reference(optax.sgd(optax.exponential_decay(0.2, 1, 0.5)), steps=3))
    assert optimizer.learning_rate == pytest.approx(0.2 * 0.5 ** 3)
    with pytest.raises(ConfigurationError, match="follows the schedule ExponentialDecay"):
        optimizer.learning_rate = 0.1


def test_schedule_and_options_survive_save_and_load(tmp_path):
    model = _model()
    model.compile(optimizer=lm.optimizers.Adam(schedules.CosineDecay(0.1, 100), clipnorm=1.0,
                                               use_ema=True), loss="mse")
    model.train_on_batch(X, Y)
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    optimizer = loaded.optimizer
    assert isinstance(optimizer._learning_rate, schedules.CosineDecay)
    assert optimizer._learning_rate.get_config() == {"initial_learning_rate": 0.1,
                                                     "decay_steps": 100, "alpha": 0.0,
                                                     "warmup_target": None, "warmup_steps": 0}
    assert optimizer.clipnorm == 1.0 and optimizer.use_ema is True
    np.testing.assert_array_equal(loaded.train_on_batch(X, Y), model.train_on_batch(X, Y))


def test_bad_optimizer_options_are_clear_errors():
    with pytest.raises(ConfigurationError, match="at most one of clipnorm, clipvalue and "
                                                 "global_clipnorm"):
        lm.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ConfigurationError, match="non-negative number for `clipnorm`, "
                                                 "received -1"):
        lm.optimizers.Adam(clipnorm=-1)
    with pytest.raises(ConfigurationError, match="positive integer gradient_accumulation_steps"):
        lm.optimizers.Adam(gradient_accumulation_steps=0)
    with pytest.raises(ConfigurationError, match="expected len\\(values\\) == len\\(boundaries\\)"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ConfigurationError, match="Unknown optimizer 'ftrl'. Valid names: "
                                                 "adadelta, adafactor, adagrad, adam, adamax"):
        lm.optimizers.get("ftrl")


@pytest.mark.parametrize("cls", lm.optimizers.OPTIMIZERS, ids=lambda c: c.__name__)
def test_every_optimizer_saves_with_the_model(cls, tmp_path):
    model = _model()
    model.compile(optimizer=cls(learning_rate=0.01), loss="mse")
    model.train_on_batch(X, Y)
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    assert type(loaded.optimizer) is cls
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
