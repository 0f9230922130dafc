"""Keras 3's JAX custom-step surface (lamina.training.keras_step): `train_step(self, state,
data)` with four lists, `test_step` / `predict_step`, `stateless_call`, `compute_loss`,
`optimizer.stateless_apply`, `model.metrics` and the stateless metric methods; trainability
(docs/design.md rules 3 and 6) inside that form; overrides honoured or refused at compile.

References: a hand-written JAX + optax step on copies of the weights, and Keras 3.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm
from lamina.training import custom_step as cs
from lamina.training.keras_step import unpack_x_y_sample_weight


class KerasStep(lm.Model):
    """The guide's low-level step, written as in Keras 3 (lists, stateless calls)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = lm.layers.Dense(4, activation="tanh", name="hidden")
        self.out = lm.layers.Dense(1, name="out")
        self.seen = []

    def call(self, x, training=None):
        return self.out(self.hidden(x))

    def loss_and_updates(self, trainable, non_trainable, x, y):
        y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x, training=True)
        return self.compute_loss(x, y, y_pred), (y_pred, non_trainable)

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        x, y = data
        self.seen.append((len(trainable), len(non_trainable)))
        (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(
            self.loss_and_updates, has_aux=True)(trainable, non_trainable, x, y)
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable)
        non_trainable = [v + 1.0 for v in non_trainable]  # must not reach frozen weights
        new_metrics, logs = [], {}
        for metric in self.metrics:
            own = metrics_variables[len(new_metrics):len(new_metrics) + len(metric.variables)]
            own = (metric.stateless_update_state(own, loss) if metric.name == "loss"
                   else metric.stateless_update_state(own, y, y_pred))
            logs[metric.name] = metric.stateless_result(own)
            new_metrics += own
        return logs, (trainable, non_trainable, optimizer_variables, new_metrics)


def _data(n=16):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, (x ** 2).sum(1, keepdims=True)


def _model(cls=KerasStep, optimizer=None, **compile_kwargs):
    lm.random.set_seed(0)
    model = cls(name="custom")
    model(np.zeros((1, 3), "float32"))
    model.compile(optimizer or lm.optimizers.Adam(0.05), **{"loss": "mse", **compile_kwargs})
    return model


def _forward(params, x):
    w1, b1, w2, b2 = params
    return jnp.tanh(x @ w1 + b1) @ w2 + b2


def _reference(params, x, y, tx, trained, batches=2, loss=None):
    """A hand-written jitted JAX + optax loop training the `trained` entries of `params`."""
    loss = loss or (lambda p, xb, yb: jnp.mean((_forward(p, xb) - yb) ** 2))
    sub = [params[i] for i in trained]
    state = tx.init(sub)

    @jax.jit
    def step(sub, state, xb, yb):
        def f(sub):
            full = list(params)
            for i, value in zip(trained, sub, strict=True):
                full[i] = value
            return loss(full, xb, yb)

        grads = jax.grad(f)(sub)
        updates, state = tx.update(grads, state, sub)
        return optax.apply_updates(sub, updates), state

    size = len(x) // batches
    for i in range(batches):
        sub, state = step(sub, state, x[i * size:(i + 1) * size], y[i * size:(i + 1) * size])
    out = list(params)
    for i, value in zip(trained, sub, strict=True):
        out[i] = value
    return [np.asarray(p) for p in out]


def test_keras_form_step_equals_hand_written_optax_and_logs_model_metrics():
    model, (x, y) = _model(metrics=["mae"]), _data()
    want = _reference([jnp.asarray(w) for w in model.get_weights()], x, y,
                      optax.adam(0.05), [0, 1, 2, 3])
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, ref in zip(model.get_weights(), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert list(history.history) == ["loss", "mae"]  # "compile_metrics" flattened, as Keras
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    assert model.seen == [(4, 0)]  # traced once


def test_scoped_freeze_trains_the_rest_as_hand_written_optax_and_frozen_stay_bitwise():
    model, (x, y) = _model(), _data()
    model.freeze(model.hidden)  # scoped: this model's scope only, no flag written
    before = [w.copy() for w in model.hidden.get_weights()]
    want = _reference([jnp.asarray(w) for w in model.get_weights()], x, y,
                      optax.adam(0.05), [2, 3])
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert model.seen == [(2, 2)]  # the frozen layer's weights came as non-trainable
    assert all(np.array_equal(a, b) for a, b in zip(before, model.hidden.get_weights(),
                                                    strict=True))
    for got, ref in zip(model.out.get_weights(), want[2:], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert [r.trained for r in model.explain().rows] == [False, False, True, True]


def test_a_frozen_flag_keeps_the_optimizer_state_of_its_weights_until_unfrozen():
    model, (x, y) = _model(), _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    trainer, kernel = model._trainer, model.hidden.kernel
    entries = [np.asarray(d[kernel.uid]) for d in _per_variable(trainer.opt_state)]
    assert entries and any(np.any(e != 0) for e in entries)
    model.hidden.trainable = False
    before = kernel.numpy().copy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.array_equal(kernel.numpy(), before)
    assert all(np.array_equal(a, np.asarray(d[kernel.uid])) for a, d in zip(
        entries, _per_variable(trainer.opt_state), strict=True))
    model.hidden.trainable = True
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.array_equal(kernel.numpy(), before)
    assert model.seen == [(4, 0), (2, 2)]  # one trace per configuration, reused (rule 5)


def _per_variable(opt_state):
    """The per-variable dicts (uid -> array) of an optax state, in order."""
    found = []

    def visit(node):
        if isinstance(node, dict) and node and all(isinstance(k, int) for k in node):
            found.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                visit(value)
        elif isinstance(node, (tuple, list)):
            for value in node:
                visit(value)

    visit(opt_state)
    return found


class DoubledLoss(lm.Model):
    """Overrides compute_loss with Keras 3's signature, calling super()."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = lm.layers.Dense(4, activation="tanh", name="hidden")
        self.out = lm.layers.Dense(1, name="out")

    def call(self, x, training=None):
        h = self.hidden(x)
        self.add_loss(0.1 * jnp.mean(h ** 2))
        return self.out(h)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return 2.0 * super().compute_loss(x, y, y_pred, sample_weight, training) + jnp.mean(
            jnp.abs(y_pred))


def _doubled(params, xb, yb):
    h = jnp.tanh(xb @ params[0] + params[1])
    pred = h @ params[2] + params[3]
    return 2.0 * (jnp.mean((pred - yb) ** 2) + 0.1 * jnp.mean(h ** 2)) + jnp.mean(jnp.abs(pred))


def test_an_overridden_compute_loss_is_what_fit_trains_and_evaluate_reports():
    model, (x, y) = _model(DoubledLoss, lm.optimizers.SGD(0.05)), _data()
    params = [jnp.asarray(w) for w in model.get_weights()]
    want = _reference(params, x, y, optax.sgd(0.05), [0, 1, 2, 3], loss=_doubled)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, ref in zip(model.get_weights(), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    # evaluate: the call runs in inference mode; add_loss still joins (Keras does the same)
    result = model.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(result, float(_doubled([jnp.asarray(w) for w in want], x, y)),
                               rtol=1e-5)


class AddLossOnly(lm.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = lm.layers.Dense(2, name="dense")

    def call(self, x, training=None):
        out = self.dense(x)
        self.add_loss(jnp.mean((out - 1.0) ** 2))
        return out


def test_compile_without_a_loss_trains_on_add_loss_and_model_losses_is_eager():
    model = _model(AddLossOnly, lm.optimizers.SGD(0.1), loss=None)
    x, _ = _data()
    w, b = (jnp.asarray(v) for v in model.get_weights())
    for i in range(2):
        xb = x[i * 8:(i + 1) * 8]
        gw, gb = jax.grad(lambda w, b, xb=xb: jnp.mean((xb @ w + b - 1.0) ** 2),
                          argnums=(0, 1))(w, b)
        w, b = w - 0.1 * gw, b - 0.1 * gb
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)  # no targets, as Keras
    np.testing.assert_allclose(model.dense.kernel.numpy(), w, rtol=1e-5, atol=1e-6)
    model(x[:4])
    [loss] = model.losses
    np.testing.assert_allclose(loss, np.mean((x[:4] @ w + b - 1.0) ** 2), rtol=1e-5)


def test_nothing_supplying_a_loss_is_refused_at_fit_with_the_fix():
    model = _model(lambda name: lm.Sequential([lm.layers.Dense(1)], name=name), loss=None)
    x, y = _data()
    with pytest.raises(lm.ConfigurationError, match=r"'custom': nothing supplies a loss.*"
                                                    r"compile\(loss=\.\.\.\)"):
        model.fit(x, y, verbose=0)


@pytest.mark.parametrize("body, match", [
    ("def train_step(self, data):\n    return {}", r"train_step\(self, data\)`, the Tens"),
    ("def test_step(self, data):\n    return {}", r"test_step\(self, data\)`"),
    ("def compute_loss(self, a, b):\n    return 0.0", r"missing \['x', 'y', 'y_pred'"),
    ("def compute_metrics(self, x, y, y_pred, sample_weight):\n    return {}",
     r"defines `compute_metrics`.*silently ignored"),
])
def test_an_override_lamina_cannot_honour_is_refused_at_compile(body, match):
    namespace = {}
    exec(body, namespace)  # noqa: S102 - one method per case
    name = body.split("(")[0][4:]
    cls = type("Overriding", (lm.Sequential,), {name: namespace[name]})
    model = cls([lm.layers.Dense(1)], name="overriding")
    with pytest.raises(lm.ConfigurationError, match=match):
        model.compile("sgd", "mse")


class Steps(lm.Model):
    """Keras-form test_step and predict_step overrides."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = lm.layers.Dense(1, name="dense")

    def call(self, x, training=None):
        return self.dense(x)

    def test_step(self, state, data):
        trainable, non_trainable, metrics_variables = state
        x, y, _ = unpack_x_y_sample_weight(data)
        y_pred, _ = self.stateless_call(trainable, non_trainable, x)
        loss = self.compute_loss(x, y, y_pred)
        tracker = self.metrics[0]
        metrics_variables = tracker.stateless_update_state(metrics_variables, loss)
        return {"custom_loss": tracker.stateless_result(metrics_variables)}, (
            trainable, non_trainable, metrics_variables)

    def predict_step(self, state, data):
        y_pred, non_trainable = self.stateless_call(*state, data)
        return 10.0 * y_pred, non_trainable


def test_test_step_and_predict_step_overrides_are_honoured():
    model, (x, y) = _model(Steps), _data()
    kernel, bias = model.get_weights()
    batch_means = [np.mean((x[i:i + 8] @ kernel + bias - y[i:i + 8]) ** 2) for i in (0, 8)]
    result = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert list(result) == ["custom_loss"]
    np.testing.assert_allclose(result["custom_loss"], np.mean(batch_means), rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), 10.0 * (x @ kernel + bias),
                               rtol=1e-5, atol=1e-6)


def test_jit_compile_false_runs_eagerly_with_the_jitted_results():
    (x, y), runs = _data(), []
    for jit in (True, False):
        model = _model(jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        runs.append((model.get_weights(), model.evaluate(x, y, verbose=0)))
        assert model._trainer.compiled_steps("train")[0].__class__.__name__ == (
            "CompiledStep" if jit else "EagerStep")
    for a, b in zip(runs[0][0], runs[1][0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-6)
    with pytest.raises(lm.ConfigurationError, match="jit_compile=...\\): expected True"):
        _model(jit_compile="xla")
    assert _model(run_eagerly=True)._trainer.jit is False  # Keras's other name for it


def test_a_weightless_model_fits_and_an_all_frozen_one_is_rule_8s_error():
    model = lm.Sequential([lm.layers.Lambda(lambda t: t * 2.0)], name="weightless")
    model.compile("sgd", "mse")
    x, y = _data()
    history = model.fit(x, 2.0 * x, batch_size=8, epochs=1, verbose=0)
    assert history.history["loss"] == [0.0]
    frozen = _model(optimizer=lm.optimizers.SGD(0.1))
    frozen.trainable = False
    with pytest.raises(lm.NotTrainableError):
        frozen.fit(x, y, verbose=0)


def test_metric_stateless_methods_match_init_update_result():
    metric = lm.metrics.MeanAbsoluteError()
    y_true, y_pred = np.array([[1.0], [2.0]]), np.array([[1.5], [1.0]])
    variables = metric.stateless_reset_state()
    assert len(variables) == len(metric.variables) == 2
    variables = metric.stateless_update_state(variables, y_true, y_pred)
    state = metric.update(metric.init(), y_true, y_pred)
    assert float(metric.stateless_result(variables)) == float(metric.result(state)) == 0.75


def test_stateless_apply_outside_a_step_and_an_unmarked_lamina_step_are_explained():
    with pytest.raises(lm.errors.UsageError, match="inside a custom `train_step"):
        lm.optimizers.SGD().stateless_apply([], [], [])

    class Unmarked(KerasStep):
        def train_step(self, state, data):
            return {}, state.trainable

    model, (x, y) = _model(Unmarked), _data()
    with pytest.raises(lm.ConfigurationError, match="lamina_form"):
        model.fit(x, y, verbose=0)


def test_unpack_x_y_sample_weight_is_keras():
    keras_utils = pytest.importorskip("keras").utils
    for data in (1, (1,), (1, 2), (1, 2, 3), [1, 2]):
        assert unpack_x_y_sample_weight(data) == keras_utils.unpack_x_y_sample_weight(data)


def test_lamina_form_and_keras_form_agree():
    """The documented lamina-form step and the Keras-form step train alike."""
    from tests.training.recipe import RecipeTrainStep

    class Lamina(RecipeTrainStep, KerasStep):
        pass

    (x, y), weights = _data(), []
    for cls in (KerasStep, Lamina):
        model = _model(cls)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert cs.is_lamina_form(Lamina(name="x")) and not cs.is_lamina_form(KerasStep(name="y"))


class CurrentGuide(KerasStep):
    """The guide's current text: `unpack_x_y_sample_weight`, `stateless_compute_loss` and
    sample weights passed to the metrics."""

    def loss_and_updates(self, trainable, non_trainable, metrics_variables, x, y, sample_weight):
        y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x, training=True)
        loss, (trainable, non_trainable, metrics_variables) = self.stateless_compute_loss(
            trainable, non_trainable, metrics_variables, x=x, y=y, y_pred=y_pred,
            sample_weight=sample_weight, training=True)
        return loss, (y_pred, non_trainable, metrics_variables)

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        (loss, (y_pred, non_trainable, metrics_variables)), grads = jax.value_and_grad(
            self.loss_and_updates, has_aux=True)(trainable, non_trainable, metrics_variables,
                                                 x, y, sample_weight)
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable)
        new_metrics, logs = [], {}
        for metric in self.metrics:
            own = metrics_variables[len(new_metrics):len(new_metrics) + len(metric.variables)]
            own = (metric.stateless_update_state(own, loss, sample_weight=sample_weight)
                   if metric.name == "loss" else
                   metric.stateless_update_state(own, y, y_pred, sample_weight=sample_weight))
            logs[metric.name] = metric.stateless_result(own)
            new_metrics += own
        return logs, (trainable, non_trainable, optimizer_variables, new_metrics)


def test_the_guides_current_step_equals_hand_written_sgd_and_weights_reach_the_loss():
    model, (x, y) = _model(CurrentGuide, lm.optimizers.SGD(0.05)), _data()
    want = _reference([jnp.asarray(w) for w in model.get_weights()], x, y, optax.sgd(0.05),
                      [0, 1, 2, 3])
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, ref in zip(model.get_weights(), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    # outside a step, compute_loss is the compiled loss (sample weights applied, Keras's
    # sum over the batch size) plus the last eager call's losses (none here)
    weights = np.linspace(0.5, 2.0, len(x)).astype("float32")
    y_pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        model.compute_loss(x, y, y_pred, sample_weight=weights),
        np.sum(weights * np.mean((y_pred - y) ** 2, axis=-1)) / len(x), rtol=1e-5)


class GANLike(KerasStep):
    """Keras's GAN examples override compile with their own arguments and call super()."""

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn


def test_a_subclass_compile_with_its_own_arguments_calls_the_base_without_a_loss():
    model = GANLike(name="gan")
    d_optimizer, g_optimizer = lm.optimizers.Adam(1e-3), lm.optimizers.SGD(1e-2)
    model.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, loss_fn="mse")
    assert model.compiled and model.d_optimizer is d_optimizer
    assert model.g_optimizer is g_optimizer and model.loss_fn == "mse"
    assert [m.name for m in model.metrics] == ["loss"]


class TwoOptimizers(lm.Model):
    """A GAN-shaped Keras-form step: a discriminator and a generator, each updated by its
    own optimizer over its own subset of the step's trainable variables."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.generator = lm.Sequential([lm.layers.Dense(3)], name="generator")
        self.discriminator = lm.Sequential([lm.layers.Dense(1)], name="discriminator")

    def call(self, x, training=None):
        return self.discriminator(self.generator(x))

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        position = {id(v): i for i, v in enumerate(self.trainable_variables)}
        d_at = [position[id(v)] for v in self.discriminator.trainable_variables]
        g_at = [position[id(v)] for v in self.generator.trainable_variables]
        d_vars, g_vars = [trainable[i] for i in d_at], [trainable[i] for i in g_at]
        d_loss, d_grads = jax.value_and_grad(_d_loss)(d_vars, g_vars, data, self)
        new_d, _ = self.d_optimizer.stateless_apply(None, d_grads, d_vars)
        g_loss, g_grads = jax.value_and_grad(_g_loss)(g_vars, new_d, data, self)
        new_g, _ = self.g_optimizer.stateless_apply(None, g_grads, g_vars)
        trainable = list(trainable)
        for at, values in ((d_at, new_d), (g_at, new_g)):
            for i, value in zip(at, values, strict=True):
                trainable[i] = value
        return {"d_loss": d_loss, "g_loss": g_loss}, (
            trainable, non_trainable, optimizer_variables, metrics_variables)


def _d_loss(d_vars, g_vars, x, model):
    if model is None:  # the hand-written reference: Dense layers as (kernel, bias) pairs
        fake = x @ g_vars[0] + g_vars[1]
        real_logits, fake_logits = (t @ d_vars[0] + d_vars[1] for t in (x, fake))
    else:
        fake, _ = model.generator.stateless_call(g_vars, [], x)
        real_logits, _ = model.discriminator.stateless_call(d_vars, [], x)
        fake_logits, _ = model.discriminator.stateless_call(d_vars, [], fake)
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def _g_loss(g_vars, d_vars, x, model):
    if model is None:
        logits = (x @ g_vars[0] + g_vars[1]) @ d_vars[0] + d_vars[1]
    else:
        fake, _ = model.generator.stateless_call(g_vars, [], x)
        logits, _ = model.discriminator.stateless_call(d_vars, [], fake)
    return jnp.mean(jax.nn.softplus(-logits))


def test_two_optimizers_each_update_their_own_subset_as_hand_written_optax():
    lm.random.set_seed(0)
    model = TwoOptimizers(name="gan")
    x, _ = _data()
    model(x[:1])
    g_vars = [jnp.asarray(w) for w in model.generator.get_weights()]
    d_vars = [jnp.asarray(w) for w in model.discriminator.get_weights()]
    model.compile(d_optimizer=lm.optimizers.SGD(0.1), g_optimizer=lm.optimizers.Adam(0.01))
    d_tx, g_tx = optax.sgd(0.1), optax.adam(0.01, eps=1e-7)
    d_state, g_state = d_tx.init(d_vars), g_tx.init(g_vars)
    for i in (0, 8):
        xb = x[i:i + 8]
        grads = jax.grad(_d_loss)(d_vars, g_vars, xb, None)
        updates, d_state = d_tx.update(grads, d_state, d_vars)
        d_vars = optax.apply_updates(d_vars, updates)
        grads = jax.grad(_g_loss)(g_vars, d_vars, xb, None)
        updates, g_state = g_tx.update(grads, g_state, g_vars)
        g_vars = optax.apply_updates(g_vars, updates)
    history = model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert list(history.history) == ["d_loss", "g_loss"]
    for got, want in zip(model.discriminator.get_weights() + model.generator.get_weights(),
                         d_vars + g_vars, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert sorted(model._trainer.extra_opt_states) == ["d_optimizer", "g_optimizer"]


def test_backup_and_restore_resumes_both_optimizers_of_a_custom_step_bit_for_bit(tmp_path):
    x, _ = _data()

    def run(callbacks):
        lm.random.set_seed(0)
        lm.reset_names()
        model = TwoOptimizers(name="gan")
        model(x[:1])
        model.compile(d_optimizer=lm.optimizers.Adam(1e-2), g_optimizer=lm.optimizers.Adam(1e-2))
        model.fit(x, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
        return model

    class Crash(lm.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._trainer.iterations == 5:
                raise KeyboardInterrupt("crash")

    full = run([])
    with pytest.raises(KeyboardInterrupt):
        run([lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2), Crash()])
    resumed = run([lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2)])
    for a, b in zip(full.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("d_optimizer", "g_optimizer"):
        for a, b in zip(jax.tree_util.tree_leaves(full._trainer.extra_opt_states[name]),
                        jax.tree_util.tree_leaves(resumed._trainer.extra_opt_states[name]),
                        strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
