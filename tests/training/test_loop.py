"""The training loop: fit / evaluate / predict arguments, callbacks, History, the batch API,
recompilation, progress output and errors, checked against Keras 3 behaviour and against
losses computed by hand with numpy.
"""
import math

import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm

Dense = lm.layers.Dense


# -- helpers ---------------------------------------------------------------------------
def _data(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ np.arange(1, d + 1, dtype="float32"))[:, None] + 0.5
    return x, y.astype("float32")


def _regressor(d=3, optimizer=None, **compile_kwargs):
    inp = lm.Input((d,))
    model = lm.Model(inp, Dense(1)(inp))
    model.compile(optimizer=optimizer or lm.optimizers.SGD(0.05), loss="mse", **compile_kwargs)
    return model


def _frozen_lr_regressor(d=3):
    """A regressor whose weights never move (SGD with learning rate 0): losses are known."""
    return _regressor(d, optimizer=lm.optimizers.SGD(learning_rate=0.0))


def _per_sample_mse(y, p):
    return np.mean((p - y) ** 2, axis=-1)


def _classifier(d=3, classes=3, metrics=("accuracy",)):
    inp = lm.Input((d,))
    model = lm.Model(inp, Dense(classes)(Dense(8, activation="relu")(inp)))
    model.compile(optimizer="adam",
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=list(metrics))
    return model


def _class_data(n=12, d=3, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype("float32"),
            rng.integers(0, classes, size=(n,)).astype("int32"))


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class Recorder(lm.callbacks.Callback):
    """Records every hook call as (hook, index-or-None, logs-or-None)."""

    HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
             "on_test_batch_begin", "on_test_batch_end"]

    def __init__(self):
        super().__init__()
        self.calls = []
        for hook in self.HOOKS:
            setattr(self, hook, self._make(hook))

    def _make(self, hook):
        takes_index = hook not in ("on_train_begin", "on_train_end", "on_test_begin",
                                   "on_test_end")

        def record(*args, **kwargs):
            index = args[0] if takes_index else None
            rest = args[1:] if takes_index else args
            logs = kwargs.get("logs", rest[0] if rest else None)
            self.calls.append((hook[3:], index, dict(logs) if logs else None))

        return record

    def names(self, prefixes=("train", "epoch")):
        return [(name, index) for name, index, _ in self.calls if name.startswith(prefixes)]


# -- fit arguments ---------------------------------------------------------------------
def test_batch_size_and_epochs_set_the_number_of_steps():
    x, y = _data(10)
    model = _regressor()
    recorder = Recorder()
    history = model.fit(x, y, batch_size=4, epochs=3, callbacks=[recorder], verbose=0)
    batch_ends = [index for name, index, _ in recorder.calls if name == "train_batch_end"]
    assert batch_ends == [0, 1, 2] * 3  # ceil(10 / 4) batches per epoch
    assert len(history.history["loss"]) == 3
    assert history.params["epochs"] == 3
    assert history.params["steps"] == 3


def test_default_batch_size_is_32():
    x, y = _data(40)
    model = _regressor()
    recorder = Recorder()
    model.fit(x, y, epochs=1, callbacks=[recorder], verbose=0)
    assert [i for n, i, _ in recorder.calls if n == "train_batch_end"] == [0, 1]


def test_validation_split_takes_the_last_fraction_before_shuffling():
    # training targets near 0, validation targets (the last 25%) far away: with weights that
    # never move, the losses are known exactly and reveal which samples were held out
    x, _ = _data(8)
    y = np.zeros((8, 1), "float32")
    y[-2:] = [[10.0], [20.0]]
    model = _frozen_lr_regressor()
    pred = model.predict(x, verbose=0)
    history = model.fit(x, y, batch_size=3, epochs=2, validation_split=0.25, shuffle=True,
                        verbose=0)
    expected_train = float(np.mean(_per_sample_mse(y[:6], pred[:6])))
    expected_val = float(np.mean(_per_sample_mse(y[6:], pred[6:])))
    np.testing.assert_allclose(history.history["loss"], [expected_train] * 2, rtol=1e-5)
    np.testing.assert_allclose(history.history["val_loss"], [expected_val] * 2, rtol=1e-5)


def test_validation_split_with_a_learning_model_matches_predict_after_each_epoch():
    x, y = _data(10)
    y[8:] += 5.0
    model = _regressor()
    val_losses = []

    class ValCheck(lm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            pred = self.model.predict(x[8:], verbose=0)
            val_losses.append((logs["val_loss"], float(np.mean(_per_sample_mse(y[8:], pred)))))

    model.fit(x, y, batch_size=4, epochs=2, validation_split=0.2, callbacks=[ValCheck()],
              verbose=0)
    assert len(val_losses) == 2
    for logged, expected in val_losses:
        np.testing.assert_allclose(logged, expected, rtol=1e-5)


def test_validation_data_pair():
    x, y = _data(8)
    xv, yv = _data(5, seed=1)
    model = _regressor()
    history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(xv, yv), verbose=0)
    assert len(history.history["val_loss"]) == 2
    pred = model.predict(xv, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1],
                               np.mean(_per_sample_mse(yv, pred)), rtol=1e-5)


def test_validation_data_with_sample_weight():
    x, y = _data(8)
    xv, yv = _data(6, seed=1)
    wv = np.array([0.0, 1.0, 2.0, 0.5, 0.0, 3.0], "float32")
    model = _regressor()
    history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(xv, yv, wv),
                        verbose=0)
    pred = model.predict(xv, verbose=0)
    # Keras "sum_over_batch_size": sum(weight * loss) / number of samples
    expected = float(np.sum(wv * _per_sample_mse(yv, pred)) / len(wv))
    np.testing.assert_allclose(history.history["val_loss"][-1], expected, rtol=1e-5)
    unweighted = float(np.mean(_per_sample_mse(yv, pred)))
    assert not np.isclose(history.history["val_loss"][-1], unweighted, rtol=1e-3)


def test_shuffle_false_trains_on_batches_in_order():
    x, y = _data(10)

    def fresh():
        lm.reset_names()
        lm.random.set_seed(0)
        return _regressor()

    model = fresh()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    by_fit = model.get_weights()

    manual = fresh()
    for _ in range(2):
        for start in range(0, 10, 4):
            manual.train_on_batch(x[start:start + 4], y[start:start + 4])
    for a, b in zip(by_fit, manual.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    again = fresh()
    again.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(by_fit, again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_initial_epoch_runs_only_the_remaining_epochs():
    x, y = _data(8)
    model = _regressor()
    recorder = Recorder()
    history = model.fit(x, y, batch_size=8, epochs=5, initial_epoch=3, callbacks=[recorder],
                        verbose=0)
    assert history.epoch == [3, 4]
    assert len(history.history["loss"]) == 2
    assert [i for n, i, _ in recorder.calls if n == "epoch_begin"] == [3, 4]


def test_sample_weight_in_fit_changes_the_loss_as_numpy_predicts():
    x, y = _data(8)
    w = np.array([1, 0, 2, 0, 1, 3, 0, 1], "float32")
    model = _frozen_lr_regressor()
    pred = model.predict(x, verbose=0)
    per_sample = _per_sample_mse(y, pred)
    weighted = model.fit(x, y, sample_weight=w, batch_size=4, epochs=1, verbose=0)
    plain = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_allclose(weighted.history["loss"][0], np.sum(w * per_sample) / 8,
                               rtol=1e-5)
    np.testing.assert_allclose(plain.history["loss"][0], np.mean(per_sample), rtol=1e-5)


def test_sample_weight_zero_samples_do_not_train():
    # the gradient of a zero-weighted sample is zero: training only on it changes nothing
    x, y = _data(4)
    model = _regressor()
    before = model.get_weights()
    model.fit(x, y, sample_weight=np.zeros(4, "float32"), batch_size=4, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- callbacks and History -------------------------------------------------------------
def test_callback_hooks_are_called_in_order_with_logs():
    x, y = _data(6)
    xv, yv = _data(3, seed=1)
    model = _regressor()
    recorder = Recorder()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(xv, yv), callbacks=[recorder],
              verbose=0)
    epoch = [("epoch_begin", None), ("train_batch_begin", 0), ("train_batch_end", 0),
             ("train_batch_begin", 1), ("train_batch_end", 1), ("epoch_end", None)]
    expected = [("train_begin", None)]
    for e in range(2):
        expected += [(name, e if name.startswith("epoch") else index) for name, index in epoch]
    expected += [("train_end", None)]
    assert recorder.names() == expected
    assert recorder.model is model
    epoch_logs = [logs for name, _, logs in recorder.calls if name == "epoch_end"]
    for logs in epoch_logs:
        assert {"loss", "val_loss"} <= set(logs)
        assert all(math.isfinite(float(v)) for v in logs.values())
    batch_logs = [logs for name, _, logs in recorder.calls if name == "train_batch_end"]
    assert all("loss" in logs for logs in batch_logs)


def test_stop_training_from_on_epoch_end():
    x, y = _data(8)
    model = _regressor()

    class StopAfterTwo(lm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    recorder = Recorder()
    history = model.fit(x, y, batch_size=4, epochs=10, callbacks=[StopAfterTwo(), recorder],
                        verbose=0)
    assert history.epoch == [0, 1]
    assert len(history.history["loss"]) == 2
    assert recorder.names()[-1] == ("train_end", None)


def test_stop_training_from_on_train_batch_end_stops_within_the_epoch():
    # Keras 3 checks `stop_training` after every batch (TerminateOnNaN relies on it)
    x, y = _data(16)
    model = _regressor()

    class StopAtSecondBatch(lm.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    recorder = Recorder()
    history = model.fit(x, y, batch_size=4, epochs=3,
                        callbacks=[StopAtSecondBatch(), recorder], verbose=0)
    assert [i for n, i, _ in recorder.calls if n == "train_batch_end"] == [0, 1]
    assert len(history.history["loss"]) == 1


def test_history_keys_and_lengths():
    x, y = _class_data(12)
    model = _classifier()
    history = model.fit(x, y, batch_size=4, epochs=3, validation_split=0.25, verbose=0)
    assert isinstance(history, lm.callbacks.History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.params["epochs"] == 3
    assert history.params["steps"] == 3  # 9 training samples in batches of 4
    assert history.model is model
    assert model.history is history


# -- evaluate / predict ----------------------------------------------------------------
def test_evaluate_returns_a_scalar_without_metrics():
    x, y = _data(10)
    model = _regressor()
    result = model.evaluate(x, y, batch_size=4, verbose=0)
    assert np.ndim(result) == 0
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(float(result), np.mean(_per_sample_mse(y, pred)), rtol=1e-5)


def test_evaluate_returns_loss_and_metrics_as_a_list_or_dict():
    x, y = _class_data(10)
    model = _classifier()
    result = model.evaluate(x, y, batch_size=4, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    logits = model.predict(x, verbose=0)
    loss = float(np.mean(-_log_softmax(logits)[np.arange(10), y]))
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == y))
    np.testing.assert_allclose(result, [loss, accuracy], rtol=1e-5)
    as_dict = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert set(as_dict) == {"loss", "accuracy"}
    np.testing.assert_allclose([as_dict["loss"], as_dict["accuracy"]], [loss, accuracy],
                               rtol=1e-5)


def test_evaluate_with_sample_weight():
    x, y = _data(8)
    w = np.linspace(0.0, 2.0, 8).astype("float32")
    model = _regressor()
    pred = model.predict(x, verbose=0)
    result = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0)
    np.testing.assert_allclose(result, np.sum(w * _per_sample_mse(y, pred)) / 8, rtol=1e-5)


def test_predict_on_numpy_and_jax_arrays():
    x, _ = _data(9)
    model = _regressor()
    kernel, bias = model.get_weights()
    expected = x @ kernel + bias
    for data in (x, jnp.asarray(x)):
        got = model.predict(data, batch_size=4, verbose=0)
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_predict_with_dict_inputs():
    a = lm.Input((2,), name="a")
    b = lm.Input((3,), name="b")
    model = lm.Model({"a": a, "b": b}, Dense(1)(lm.layers.Concatenate()([a, b])))
    xa, xb = _data(7, 2)[0], _data(7, 3, seed=1)[0]
    kernel, bias = model.get_weights()
    got = model.predict({"a": xa, "b": xb}, batch_size=3, verbose=0)
    np.testing.assert_allclose(got, np.concatenate([xa, xb], axis=1) @ kernel + bias,
                               rtol=1e-5, atol=1e-6)


# -- the batch API ---------------------------------------------------------------------
def test_train_on_batch_returns_the_loss_before_the_update():
    x, y = _data(6)
    model = _regressor()
    pred = model.predict(x, verbose=0)
    loss = model.train_on_batch(x, y)
    assert np.ndim(loss) == 0
    np.testing.assert_allclose(float(loss), np.mean(_per_sample_mse(y, pred)), rtol=1e-5)
    assert not np.allclose(model.predict(x, verbose=0), pred)  # the step updated weights


def test_test_on_batch_returns_the_loss_and_does_not_train():
    x, y = _data(6)
    model = _regressor()
    before = model.get_weights()
    pred = model.predict(x, verbose=0)
    loss = model.test_on_batch(x, y)
    assert np.ndim(loss) == 0
    np.testing.assert_allclose(float(loss), np.mean(_per_sample_mse(y, pred)), rtol=1e-5)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_batch_methods_with_metrics_return_a_list_or_dict():
    x, y = _class_data(6)
    model = _classifier()
    logits = model.predict(x, verbose=0)
    loss = float(np.mean(-_log_softmax(logits)[np.arange(6), y]))
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == y))
    tested = model.test_on_batch(x, y)
    assert isinstance(tested, list) and len(tested) == 2
    np.testing.assert_allclose(tested, [loss, accuracy], rtol=1e-5)
    tested = model.test_on_batch(x, y, return_dict=True)
    assert set(tested) == {"loss", "accuracy"}
    trained = model.train_on_batch(x, y, return_dict=True)
    assert set(trained) == {"loss", "accuracy"}
    np.testing.assert_allclose([trained["loss"], trained["accuracy"]], [loss, accuracy],
                               rtol=1e-5)
    trained = model.train_on_batch(x, y)
    assert isinstance(trained, list) and len(trained) == 2


def test_batch_methods_do_not_accumulate_metrics_across_calls():
    x, y = _data(6)
    model = _frozen_lr_regressor()
    pred = model.predict(x, verbose=0)
    first = model.train_on_batch(x[:3], y[:3])
    second = model.train_on_batch(x[3:], y[3:])
    np.testing.assert_allclose(first, np.mean(_per_sample_mse(y[:3], pred[:3])), rtol=1e-5)
    np.testing.assert_allclose(second, np.mean(_per_sample_mse(y[3:], pred[3:])), rtol=1e-5)


def test_predict_on_batch_returns_numpy():
    x, _ = _data(5)
    model = _regressor()
    kernel, bias = model.get_weights()
    got = model.predict_on_batch(x)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, x @ kernel + bias, rtol=1e-5, atol=1e-6)


# -- compilation -----------------------------------------------------------------------
class CountingDense(lm.layers.Layer):
    """A linear layer that counts how often its Python `call` runs (i.e. is traced)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.traces = 0

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")

    def call(self, inputs):
        self.traces += 1
        return inputs @ self.kernel.value


def test_last_partial_batch_does_not_recompile_every_epoch():
    x, y = _data(10)  # batches of 4, 4, 2
    xv, yv = _data(5, seed=1)  # validation batches of 4, 1
    layer = CountingDense(1)
    inp = lm.Input((3,))
    model = lm.Model(inp, layer(inp))
    model.compile(optimizer="sgd", loss="mse")
    traces = []

    class Count(lm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            traces.append(layer.traces)

    model.fit(x, y, batch_size=4, epochs=3, validation_data=(xv, yv), callbacks=[Count()],
              verbose=0)
    assert traces[0] > 0
    assert traces[1] == traces[0] and traces[2] == traces[0], traces
    # later fit / evaluate calls with the same shapes reuse the compiled steps too
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.evaluate(xv, yv, batch_size=4, verbose=0)
    assert layer.traces == traces[0]


# -- progress output -------------------------------------------------------------------
def test_verbose_0_prints_nothing(capsys):
    x, y = _data(8)
    model = _regressor()
    model.fit(x, y, batch_size=4, epochs=2, validation_split=0.25, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == ""


def test_verbose_1_without_a_terminal_prints_one_line_per_epoch(capsys):
    x, y = _class_data(12)
    model = _classifier()
    model.fit(x, y, batch_size=4, epochs=3, validation_split=0.25, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert len(lines) == 3, out
    for epoch, line in enumerate(lines, start=1):
        assert f"{epoch}/3" in line
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert f"{key}:" in line or f"{key}=" in line, line


def test_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = _data(8)
    model = _regressor()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=_data(4, seed=1), verbose=2)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert all("loss" in line and "val_loss" in line for line in lines)


# -- errors ----------------------------------------------------------------------------
def test_compile_with_loss_none_is_refused_at_fit_when_nothing_supplies_a_loss():
    """Keras 3 accepts compile() without a loss (the model may add its own); lamina refuses
    the first step when no loss exists at all (issue 15)."""
    inp = lm.Input((3,))
    model = lm.Model(inp, Dense(1)(inp))
    model.compile(optimizer="sgd", loss=None)
    with pytest.raises(ValueError, match="nothing supplies a loss"):
        model.fit(*_data(4), verbose=0)


def test_fit_before_compile_raises_runtime_error_naming_compile():
    x, y = _data(4)
    inp = lm.Input((3,))
    model = lm.Model(inp, Dense(1)(inp))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(x, y, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        model.train_on_batch(x, y)
