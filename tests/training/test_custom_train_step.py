"""A subclassed model overriding `train_step(self, state, data)` (the pure contract of
lamina.training.custom_step): fit, logs, frozen weights, steps_per_execution and resume.

Reference for the values: plain SGD written with jax.grad over an explicit function of the
copied weights (rtol 1e-5 in float32).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.training import custom_step as cs
from lamina.training.step import stack_batches


class Regressor(lm.Model):
    """Two Dense layers; its train_step is the documented recipe, plus a 'grad_norm' log
    and an attempt to overwrite every non-trained value (which must not reach frozen
    weights)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = lm.layers.Dense(4, activation="tanh", name="hidden")
        self.out = lm.layers.Dense(1, name="out")

    def call(self, x, training=None):
        return self.out(self.hidden(x))

    @cs.lamina_form
    def train_step(self, state, data):
        x, y, sample_weight = data

        def loss_fn(trainable):
            return cs.compute_loss_and_updates(self, trainable, state.non_trainable, x, y,
                                               sample_weight)

        (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state.trainable)
        trainable, optimizer = cs.optimizer_apply(self, state.optimizer, grads,
                                                  state.trainable)
        metrics, logs = cs.update_metrics(self, state.metrics, loss, y, y_pred, sample_weight)
        non_trainable = {u: v + 1.0 for u, v in non_trainable.items()}  # must be ignored
        norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(grads)))
        return {**logs, "grad_norm": norm}, cs.TrainState(trainable, non_trainable, optimizer,
                                                           metrics)


def _model(lr=0.1):
    lm.random.set_seed(0)
    model = Regressor(name="regressor")
    model.compile(lm.optimizers.SGD(lr), "mse", metrics=["mae"])
    model(np.zeros((1, 3), "float32"))
    return model


def _data(n=16):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, (x ** 2).sum(1, keepdims=True)


def _ref_loss(params, x, y):
    w1, b1, w2, b2 = params
    return jnp.mean((jnp.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2)


def test_custom_step_equals_hand_written_sgd_and_logs_its_own_names():
    model, (x, y) = _model(), _data()
    params = [jnp.asarray(w) for w in model.get_weights()]
    for i in range(0, 16, 8):
        loss, grads = jax.value_and_grad(_ref_loss)(params, x[i:i + 8], y[i:i + 8])
        params = [p - 0.1 * g for p, g in zip(params, grads, strict=True)]
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert list(history.history) == ["loss", "mae", "grad_norm"]
    np.testing.assert_allclose(history.history["loss"][0],
                               (float(_ref_loss([jnp.asarray(w) for w in _model().get_weights()],
                                                x[:8], y[:8])) + float(loss)) / 2, rtol=1e-5)
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "mae"}


def test_frozen_layer_is_not_in_the_state_and_stays_bitwise_unchanged():
    model, (x, y) = _model(), _data()
    model.hidden.trainable = False
    seen = []
    step = type(model).train_step

    def spy(self, state, data):
        seen.append(len(state.trainable))
        return step(self, state, data)

    Regressor.train_step = cs.lamina_form(spy)
    try:
        before = [w.copy() for w in model.hidden.get_weights()]
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    finally:
        Regressor.train_step = step
    assert seen == [2]  # traced once: the head's kernel and bias only
    assert all(np.array_equal(a, b)
               for a, b in zip(before, model.hidden.get_weights(), strict=True))


def test_custom_step_runs_grouped_with_steps_per_execution():
    single, grouped = _model(), _model()
    x, y = _data(24)
    batches = [(x[i:i + 8], [y[i:i + 8]], None) for i in range(0, 24, 8)]
    for b in batches:
        last = single._trainer.train_step(*b)
    logs = grouped._trainer.train_steps(*stack_batches(batches))
    for a, b in zip(single.get_weights(), grouped.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose([float(v[-1]) for v in logs], [float(v) for v in last],
                               rtol=1e-6)


def test_backup_and_restore_resumes_a_custom_step_exactly(tmp_path):
    x, y = _data(32)
    full = _model()
    full.fit(x, y, batch_size=8, epochs=2, verbose=0)

    class Crash(lm.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._trainer.iterations == 5:
                raise KeyboardInterrupt("crash")

    crashed = _model()
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[
            lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2), Crash()])
    resumed = _model()
    resumed.fit(x, y, batch_size=8, epochs=2, verbose=0,
                callbacks=[lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2)])
    assert all(np.array_equal(a, b)
               for a, b in zip(full.get_weights(), resumed.get_weights(), strict=True))


def test_a_step_returning_other_variables_is_an_error_naming_the_model():
    class Bad(Regressor):
        @cs.lamina_form
        def train_step(self, state, data):
            return {}, cs.TrainState({}, state.non_trainable, state.optimizer, state.metrics)

    lm.random.set_seed(0)
    model = Bad(name="bad")
    model.compile("sgd", "mse")
    x, y = _data()
    with pytest.raises(ValueError, match=r"'bad'.train_step: expected the returned "
                                         r"state.trainable to hold the same variables"):
        model.fit(x, y, verbose=0)


def test_optimizer_apply_applies_the_trained_weights_constraints():
    """The custom step's optimizer half-step is the default step's (issue 14, item 3): a
    kernel constraint holds after each update."""
    lm.random.set_seed(0)
    model = Regressor(name="regressor")
    model(np.zeros((1, 3), "float32"))
    model.out.kernel.constraint = lm.constraints.NonNeg()
    model.compile(lm.optimizers.SGD(0.5), "mse")
    x, y = _data()
    model.fit(x, -y, batch_size=8, epochs=2, verbose=0)  # pushes the output kernel negative
    assert np.all(model.out.kernel.numpy() >= 0)
