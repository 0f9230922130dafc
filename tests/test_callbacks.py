"""Callbacks on real training: each behaviour checked against the recorded history, the
weights snapshotted per epoch, or an SGD update computed by hand."""
import csv
import math

import numpy as np
import pytest

import lamina as lm
from lamina.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from lamina.errors import ConfigurationError


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ rng.normal(size=(4, 1)) + 0.5 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def _model(lr=0.05, optimizer=None):
    model = lm.Sequential([lm.Input((4,)), lm.layers.Dense(8, activation="tanh"),
                           lm.layers.Dense(1)])
    model.compile(optimizer=optimizer or lm.optimizers.SGD(lr), loss="mse")
    return model


class Snapshots(Callback):
    """Weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


class Scripted(Callback):
    """Writes a scripted value into the epoch logs as 'score' (placed before the callback
    under test, so the monitored sequence is known exactly while the weights really train)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]


def _expected_stop(values, patience, min_delta=0.0, mode="min", start=0, baseline=None):
    """(best epoch, last epoch run) for EarlyStopping semantics, computed from the values."""
    best = baseline if baseline is not None else (math.inf if mode == "min" else -math.inf)
    best_epoch, wait = None, 0
    for epoch, v in enumerate(values):
        if epoch < start:
            continue
        wait += 1
        better = v < best - min_delta if mode == "min" else v > best + min_delta
        if better:
            best, best_epoch, wait = v, epoch, 0
        elif wait >= patience and epoch > 0:
            return best_epoch, epoch
    return best_epoch, len(values) - 1


def _assert_weights_equal(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs", [
    dict(patience=2),
    dict(patience=1, min_delta=0.15),
    dict(patience=2, start_from_epoch=3),
    dict(patience=3, mode="max"),
])
def test_early_stopping_stops_where_the_history_says_and_restores_the_best_weights(kwargs):
    values = [1.0, 0.8, 0.7, 0.75, 0.9, 0.6, 0.65, 0.7, 0.71, 0.72]
    x, y = _data()
    model, snaps = _model(), Snapshots()
    stopper = EarlyStopping(monitor="score", restore_best_weights=True, **kwargs)
    history = model.fit(x, y, epochs=len(values), batch_size=16, verbose=0,
                        callbacks=[Scripted(values), snaps, stopper])
    best_epoch, last = _expected_stop(values, kwargs["patience"], kwargs.get("min_delta", 0.0),
                                      kwargs.get("mode", "min"), kwargs.get("start_from_epoch", 0))
    assert history.epoch == list(range(last + 1))
    assert history.history["score"] == values[:last + 1]
    assert stopper.best_epoch == best_epoch
    _assert_weights_equal(model.get_weights(), snaps.weights[best_epoch])
    assert not np.array_equal(snaps.weights[best_epoch][0], snaps.weights[last][0])


def test_early_stopping_on_real_val_loss_agrees_with_the_recorded_history():
    x, y = _data(48)
    xv, yv = _data(48, seed=5)
    model, snaps = _model(lr=0.3), Snapshots()
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=25, batch_size=8, verbose=0, validation_data=(xv, yv),
                        callbacks=[snaps, stopper])
    values = history.history["val_loss"]
    best_epoch, last = _expected_stop(values, 2)
    assert history.epoch[-1] == last
    assert values[best_epoch] == min(values)
    _assert_weights_equal(model.get_weights(), snaps.weights[best_epoch])
    np.testing.assert_allclose(model.evaluate(xv, yv, verbose=0), min(values), rtol=1e-5)


def test_best_weights_are_restored_when_training_ends_for_another_reason():
    values = [1.0, 0.5, 0.7, 0.8, 0.9, 1.0]
    x, y = _data()

    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:
                self.model.stop_training = True

    for extra, last in (([StopAt()], 3), ([], 5)):  # another callback stops / epochs run out
        model, snaps = _model(), Snapshots()
        stopper = EarlyStopping(monitor="score", patience=10, restore_best_weights=True)
        history = model.fit(x, y, epochs=len(values), batch_size=16, verbose=0,
                            callbacks=[Scripted(values), snaps, stopper, *extra])
        assert history.epoch[-1] == last and stopper.stopped_epoch == 0
        _assert_weights_equal(model.get_weights(), snaps.weights[1])


def test_early_stopping_baseline_stops_when_never_beaten():
    values = [1.0, 0.9, 0.85, 0.8, 0.7]
    x, y = _data()
    model = _model()
    stopper = EarlyStopping(monitor="score", patience=2, baseline=0.5)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0,
                        callbacks=[Scripted(values), stopper])
    assert history.epoch == [0, 1] and stopper.best_epoch is None


def test_early_stopping_warns_about_a_missing_monitor():
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="the monitored log 'val_loss' is not available; "
                                            "the logs are \\['loss'\\]"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[EarlyStopping()])


def _full_batch_sgd_expected(model, x, y, lr):
    """The weights after one full-batch SGD step of a Dense(1) linear model (numpy)."""
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    err = x.astype(np.float64) @ kernel + bias - y
    return kernel - lr * 2 * x.T @ err / len(x), bias - lr * 2 * err.mean(axis=0)


def _linear(lr):
    model = lm.Sequential([lm.Input((4,)), lm.layers.Dense(1)])
    model.compile(optimizer=lm.optimizers.SGD(lr), loss="mse")
    return model


def test_reduce_lr_on_plateau_lowers_the_rate_the_optimizer_really_uses():
    values = [1.0, 0.9, 0.95, 0.97, 0.99, 0.98]  # plateau from epoch 1: reduce after 2 more
    x, y = _data()
    model = _linear(0.1)

    class CheckUpdate(Callback):
        """Before each epoch, predicts the full-batch SGD step with the rate it expects."""

        def __init__(self):
            super().__init__()
            self.rates = []

        def on_epoch_begin(self, epoch, logs=None):
            self.expected = _full_batch_sgd_expected(self.model, x, y,
                                                     float(self.model.optimizer.learning_rate))
            self.rates.append(float(self.model.optimizer.learning_rate))

        def on_epoch_end(self, epoch, logs=None):
            kernel, bias = self.model.get_weights()
            np.testing.assert_allclose(kernel, self.expected[0], rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(bias, self.expected[1], rtol=1e-4, atol=1e-6)

    check = CheckUpdate()
    plateau = ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, min_delta=0.0,
                                min_lr=0.03)
    history = model.fit(x, y, epochs=6, batch_size=len(x), verbose=0, shuffle=False,
                        callbacks=[check, Scripted(values), plateau])
    # epochs 2 and 3 do not improve on 0.9 -> halve after epoch 3; again after 5 (floored)
    assert check.rates == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
    # the logs record the rate each epoch ran with, as Keras
    np.testing.assert_allclose(history.history["learning_rate"], check.rates, rtol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.03)


def test_learning_rate_scheduler_sets_each_epochs_rate():
    x, y = _data()
    model = _linear(0.2)
    rates = []

    def record(epoch, logs):
        rates.append(float(model.optimizer.learning_rate))

    scheduler = LearningRateScheduler(lambda epoch, lr: 0.2 / (1 + epoch))
    history = model.fit(x, y, epochs=3, batch_size=len(x), verbose=0,
                        callbacks=[scheduler, LambdaCallback(on_epoch_begin=record)])
    np.testing.assert_allclose(rates, [0.2, 0.1, 0.2 / 3], rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], rates, rtol=1e-6)
    with pytest.raises(ConfigurationError, match="must return a finite number, returned nan"):
        _linear(0.1).fit(x, y, epochs=1, verbose=0,
                         callbacks=[LearningRateScheduler(lambda e, lr: float("nan"))])


def test_csv_logger_writes_one_row_per_epoch_and_appends_on_resume(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    model = _model()
    first = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                      callbacks=[CSVLogger(path)])
    second = model.fit(x, y, epochs=4, initial_epoch=2, verbose=0, validation_split=0.25,
                       callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    losses = first.history["loss"] + second.history["loss"]
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], losses, rtol=1e-12)


def test_terminate_on_nan_stops_after_the_first_bad_batch():
    x, y = _data()
    x[20] = np.nan  # in the second batch of 16
    model = _model()
    seen = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[TerminateOnNaN(), record])
    assert seen == [0, 1] and history.epoch == [0]
    assert math.isnan(history.history["loss"][0])


def test_lambda_callback_calls_hooks_and_rejects_unknown_names():
    x, y = _data()
    events = []
    cb = LambdaCallback(on_train_begin=lambda logs: events.append("begin"),
                        on_epoch_end=lambda epoch, logs: events.append(("epoch", epoch)),
                        on_train_end=lambda logs: events.append("end"))
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    assert events == ["begin", ("epoch", 0), ("epoch", 1), "end"]
    with pytest.raises(ConfigurationError, match="unknown hooks \\['on_epoch_ends'\\]"):
        LambdaCallback(on_epoch_ends=print)


def test_a_misspelled_hook_warns_once_per_class():
    class Typo(Callback):
        def on_epoch_ended(self, epoch, logs=None):
            pass

    x, y = _data()
    model = _model()
    with pytest.warns(UserWarning, match="Typo defines on_epoch_ended, which no training loop "
                                         "calls \\(a misspelled hook\\?\\)"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[Typo()])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[Typo()])  # no second warning


def test_callbacks_must_be_callback_instances():
    x, y = _data()
    with pytest.raises(TypeError, match="expected lamina.callbacks.Callback instances, received "
                                        "<built-in function print>"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[print])


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = _data()
    history = _model().fit(x, y, epochs=3, verbose=0, validation_split=0.25)
    path = tmp_path / "plots" / "curves.png"
    figure = history.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in figure.axes] == ["loss"]
    assert [line.get_label() for line in figure.axes[0].lines] == ["loss", "val_loss"]
    np.testing.assert_allclose(figure.axes[0].lines[1].get_ydata(),
                               history.history["val_loss"])


def _read_events(directory):
    """Every (tag, step, value or histogram) in the event files of `directory`, parsed from the
    TFRecord framing (u64 length, u32 crc, data, u32 crc) with the Event protobuf."""
    from tensorboardX.proto import event_pb2

    found = []
    for name in sorted(directory.iterdir()):
        data = name.read_bytes()
        offset = 0
        while offset < len(data):
            length = int.from_bytes(data[offset:offset + 8], "little")
            event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                found.append((value.tag, event.step,
                              value.histo if value.HasField("histo") else value.simple_value))
    return found


def test_tensorboard_writes_epoch_scalars_batch_scalars_and_histograms(tmp_path):
    pytest.importorskip("tensorboardX")
    from lamina.callbacks import TensorBoard

    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25,
                        callbacks=[TensorBoard(tmp_path, histogram_freq=1, update_freq=2)])
    train = _read_events(tmp_path / "train")
    validation = _read_events(tmp_path / "validation")
    epoch_loss = [(step, v) for tag, step, v in train if tag == "epoch_loss"]
    assert [s for s, _ in epoch_loss] == [0, 1]
    np.testing.assert_allclose([v for _, v in epoch_loss], history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for tag, _, v in validation if tag == "epoch_loss"],
                               history.history["val_loss"], rtol=1e-6)
    # 3 batches of 16 per epoch (48 training samples): batch logs at steps 2, 4 and 6
    assert [s for tag, s, _ in train if tag == "batch_loss"] == [2, 4, 6]
    histograms = {(tag, s): h for tag, s, h in train if not isinstance(h, float)}
    kernel = model.layers[0].get_weights()[0]
    h = histograms[("dense/kernel", 1)]
    assert h.num == kernel.size
    np.testing.assert_allclose([h.min, h.max, h.sum], [kernel.min(), kernel.max(), kernel.sum()],
                               rtol=1e-5)
    with pytest.raises(ConfigurationError, match="expected update_freq='epoch' or a positive"):
        TensorBoard(tmp_path, update_freq=0)


class HookRecorder(Callback):
    """Records the order of fit's hooks, with the test hooks' logs as host floats."""

    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("train_batch_end", batch))

    def on_test_begin(self, logs=None):
        self.events.append(("test_begin",))

    def on_test_batch_begin(self, batch, logs=None):
        self.events.append(("test_batch_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test_batch_end", batch, float(logs["loss"])))

    def on_test_end(self, logs=None):
        self.events.append(("test_end", {k: float(v) for k, v in logs.items()}))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, float(logs["val_loss"])))


def test_validation_inside_fit_calls_the_test_hooks_of_fits_callbacks():
    """Keras 3 runs fit's validation through evaluate with fit's callbacks: every validation
    pass calls on_test_begin, each batch's test hooks and on_test_end, after the epoch's last
    training batch and before on_epoch_end; the logs are the unprefixed evaluation's."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype("float32"), rng.normal(size=(12, 1)).astype("float32")
    xv, yv = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 1)).astype("float32")
    lm.reset_names()
    inp = lm.Input((3,))
    model = lm.Model(inp, lm.layers.Dense(1)(inp))
    model.compile(optimizer=lm.optimizers.SGD(learning_rate=0.0), loss="mse")
    kernel, bias = model.get_weights()
    val_mse = [float(np.mean((xv[i:i + 4] @ kernel + bias - yv[i:i + 4]) ** 2))
               for i in (0, 4)]
    recorder = HookRecorder()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(xv, yv), shuffle=False,
              verbose=0, callbacks=[recorder])
    total = float(np.mean((xv @ kernel + bias - yv) ** 2))
    epoch = [("train_batch_end", b) for b in range(3)] + [
        ("test_begin",),
        ("test_batch_begin", 0), ("test_batch_end", 0, pytest.approx(val_mse[0], rel=1e-5)),
        ("test_batch_begin", 1),
        # the running mean over the samples seen (4 + 2)
        ("test_batch_end", 1, pytest.approx(total, rel=1e-5)),
        ("test_end", {"loss": pytest.approx(total, rel=1e-5)})]
    assert recorder.events == (epoch + [("epoch_end", 0, pytest.approx(total, rel=1e-5))]
                               + epoch + [("epoch_end", 1, pytest.approx(total, rel=1e-5))])
