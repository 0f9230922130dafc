"""`lamina.callbacks.ProgbarLogger`: the progress output of fit / evaluate / predict (issue 4).

Losses are checked against numpy: the models train with SGD(0), so every epoch reports the
mean squared error of the initial weights."""
import contextlib
import io
import re

import jax
import numpy as np
import pytest

import lamina as lm
from lamina.callbacks import ProgbarLogger
from lamina.callbacks.progress import Progress
from lamina.layers import Dense


class TTY(io.StringIO):
    """A stream that says it is a terminal, so progress draws a rich bar on it."""

    def isatty(self):
        return True


class Recording(ProgbarLogger):
    """A ProgbarLogger that also records the end hooks it is given."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, None if logs is None else sorted(logs)))
        super().on_train_batch_end(batch, logs)


class Unreadable:
    """A log value whose reading fails: proves it is never read."""

    ndim = 0

    def __float__(self):
        raise AssertionError("a log value was read")


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]


def _frozen_model():
    inp = lm.Input((3,))
    model = lm.Model(inp, Dense(1)(inp))
    model.compile(optimizer=lm.optimizers.SGD(learning_rate=0.0), loss="mse")
    return model


def _mse(model, x, y):
    kernel, bias = model.get_weights()
    return float(np.mean((x.astype(np.float64) @ kernel + bias - y) ** 2))


def _fit_lines(epochs, loss, val_loss):
    """The exact lines of a non-tty fit (times vary; the rest is fixed)."""
    return [re.compile(rf"Epoch {i}/{epochs} - \d+\.\ds - \d+ms/step - loss: {loss:.4f} - "
                       rf"val_loss: {val_loss:.4f}") for i in range(1, epochs + 1)]


def _assert_lines(out, patterns):
    assert "\r" not in out
    lines = out.splitlines()
    assert len(lines) == len(patterns), out
    for line, pattern in zip(lines, patterns, strict=True):
        assert pattern.fullmatch(line), (line, pattern.pattern)


def _on_terminal(run):
    """What `run()` prints to stdout, with stdout a terminal. (Set in the test body: pytest
    sets its own capture stream again between fixture set-up and the test.)"""
    stream = TTY()
    with contextlib.redirect_stdout(stream):
        run()
    return stream.getvalue()


# -- fit ---------------------------------------------------------------------------------
def test_without_a_terminal_fit_writes_one_line_per_epoch_with_val_logs(capsys):
    x, y = _data(16, 0)
    xv, yv = _data(8, 1)
    model = _frozen_model()
    model.fit(x, y, batch_size=4, epochs=3, validation_data=(xv, yv), shuffle=False)
    _assert_lines(capsys.readouterr().out, _fit_lines(3, _mse(model, x, y), _mse(model, xv, yv)))


def test_on_a_terminal_fit_draws_a_bar_per_epoch_ending_with_the_epoch_logs():
    x, y = _data(16, 0)
    xv, yv = _data(8, 1)
    model = _frozen_model()
    out = _on_terminal(lambda: model.fit(x, y, batch_size=4, epochs=2,
                                         validation_data=(xv, yv), shuffle=False))
    logs = f"loss: {_mse(model, x, y):.4f} - val_loss: {_mse(model, xv, yv):.4f}"
    assert "━" in out and "4/4" in out  # rich's bar, complete
    first, second = out.index("Epoch 1/2"), out.index("Epoch 2/2")
    # the epoch's bar ends with its logs, validation included, before the next epoch
    assert first < out.index(logs) < second
    assert out.rindex(logs) > second
    assert "Evaluate" not in out  # validation draws no bar of its own


def test_a_user_progbar_is_the_only_progress_output(capsys):
    x, y = _data(16, 0)
    xv, yv = _data(8, 1)
    model = _frozen_model()
    progbar = Recording()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(xv, yv), shuffle=False,
              callbacks=[progbar], verbose=1)
    _assert_lines(capsys.readouterr().out, _fit_lines(2, _mse(model, x, y), _mse(model, xv, yv)))
    assert progbar.params["epochs"] == 2 and progbar.params["steps"] == 4
    assert [b for b, _ in progbar.batches] == [0, 1, 2, 3] * 2


def test_the_epoch_line_shows_logs_that_other_callbacks_add(capsys):
    """As in Keras 3 the default ProgbarLogger comes after the user's callbacks, so the
    line carries what they add to the epoch's logs (here `learning_rate`)."""
    x, y = _data(8, 0)
    model = _frozen_model()
    schedule = lm.callbacks.LearningRateScheduler(lambda epoch, rate: 0.0, verbose=1)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, callbacks=[schedule])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1: LearningRateScheduler setting learning rate to 0.0."
    assert re.fullmatch(rf"Epoch 1/1 - \d+\.\ds - \d+ms/step - loss: {_mse(model, x, y):.4f} - "
                        r"learning_rate: 0\.0000", lines[1]), lines
    assert len(lines) == 2


def test_verbose_0_prints_nothing_even_with_a_user_progbar(capsys):
    """Keras 3: the ProgbarLogger takes `verbose` from fit's params, so it stays silent."""
    x, y = _data(8, 0)
    model = _frozen_model()
    progbar = ProgbarLogger()
    model.fit(x, y, batch_size=4, epochs=2, validation_split=0.5, verbose=0,
              callbacks=[progbar])
    model.evaluate(x, y, verbose=0, callbacks=[progbar])
    model.predict(x, verbose=0, callbacks=[progbar])
    assert capsys.readouterr().out == ""
    assert progbar.verbose == 0


def test_verbose_2_on_a_terminal_writes_one_line_per_epoch():
    x, y = _data(16, 0)
    xv, yv = _data(8, 1)
    model = _frozen_model()
    out = _on_terminal(lambda: model.fit(x, y, batch_size=4, epochs=2,
                                         validation_data=(xv, yv), shuffle=False, verbose=2))
    _assert_lines(out, _fit_lines(2, _mse(model, x, y), _mse(model, xv, yv)))


def test_with_steps_per_execution_the_bar_moves_once_per_call_without_host_reads(
        capsys, monkeypatch):
    x, y = _data(16, 0)
    model = _frozen_model()
    model.compile(optimizer=lm.optimizers.SGD(learning_rate=0.0), loss="mse",
                  steps_per_execution=2)

    def no_device_get(*args, **kwargs):
        raise AssertionError("the loop read every batch's logs from the device")

    monkeypatch.setattr(jax, "device_get", no_device_get)
    progbar = Recording()
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, callbacks=[progbar])
    # the last batch of each compiled call brings that call's logs; the others an empty dict
    assert progbar.batches == [(0, []), (1, ["loss"]), (2, []), (3, ["loss"])]
    out = capsys.readouterr().out
    assert re.fullmatch(rf"Epoch 1/1 - \d+\.\ds - \d+ms/step - loss: {_mse(model, x, y):.4f}\n",
                        out), out


def test_validation_inside_fit_is_silent():
    """Keras 3: once fit has begun, test hooks (validation) draw nothing."""
    progbar = ProgbarLogger()
    progbar.set_params({"verbose": 2, "epochs": 1, "steps": 2})
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):
        progbar.on_train_begin()
        progbar.on_test_begin()
        progbar.on_test_batch_end(0, {"loss": 1.0})
        progbar.on_test_end({"loss": 1.0})
        assert stream.getvalue() == ""
        progbar.on_train_end()
        progbar.on_test_begin()  # after fit, evaluate with the same logger draws again
        progbar.on_test_batch_end(0, {"loss": 1.0})
        progbar.on_test_end({"loss": 1.0})
    assert re.fullmatch(r"Evaluate - \d+\.\ds - \d+ms/step - loss: 1\.0000\n", stream.getvalue())


def test_a_bar_left_open_by_an_epoch_without_batches_is_stopped_at_train_end():
    progbar = ProgbarLogger()
    progbar.set_params({"verbose": 1, "epochs": 2, "steps": 3})
    progbar.on_train_begin()
    with contextlib.redirect_stdout(TTY()):
        progbar.on_epoch_begin(0)
    progress = progbar.progress
    assert progress.bar.live.is_started
    progbar.on_train_end()
    assert not progress.bar.live.is_started and progbar.progress is None


# -- evaluate / predict ------------------------------------------------------------------
def test_evaluate_and_predict_print_through_the_progbar(capsys):
    x, y = _data(12, 0)
    model = _frozen_model()
    progbar = ProgbarLogger()
    model.evaluate(x, y, batch_size=4, callbacks=[progbar])
    assert progbar.params == {"verbose": 1, "epochs": 1, "steps": 3}
    model.predict(x, batch_size=4, callbacks=[progbar])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(rf"Evaluate - \d+\.\ds - \d+ms/step - loss: {_mse(model, x, y):.4f}",
                        lines[0]), lines
    assert re.fullmatch(r"Predict - \d+\.\ds - \d+ms/step", lines[1]), lines


def test_evaluate_and_predict_draw_a_bar_on_a_terminal():
    x, y = _data(12, 0)
    model = _frozen_model()
    out = _on_terminal(lambda: (model.evaluate(x, y, batch_size=4),
                                model.predict(x, batch_size=4)))
    assert out.index("Evaluate") < out.index(f"loss: {_mse(model, x, y):.4f}")
    assert out.index("Evaluate") < out.index("Predict") and out.count("3/3") == 2


# -- Keras 3 surface, Progress ------------------------------------------------------------
def test_progbar_reads_verbose_epochs_and_steps_from_params():
    progbar = lm.callbacks.ProgbarLogger()
    progbar.set_params({"verbose": "auto", "epochs": 5, "steps": 7})
    assert (progbar.verbose, progbar.epochs, progbar.target) == (1, 5, 7)
    with pytest.raises(lm.errors.ConfigurationError,
                       match=r"verbose: expected 'auto', 0, 1 or 2, received 3\."):
        progbar.set_params({"verbose": 3, "epochs": 1, "steps": 1})


def test_progress_reads_logs_only_when_it_redraws(monkeypatch):
    monkeypatch.setattr(Progress, "refresh_s", float("inf"))
    logs = {"loss": Unreadable()}
    Progress(1, 3, "Epoch 1/1", stream=io.StringIO()).update(1, logs)  # no terminal: no bar
    progress = Progress(1, 3, "Epoch 1/1", stream=TTY())
    progress.update(1, logs)  # a bar: not before the refresh interval has passed ...
    progress.update(2, logs)
    # ... or the last step is reached
    with pytest.raises(AssertionError, match="a log value was read"):
        progress.update(3, logs)
    progress.close()


def test_a_bar_of_unknown_length_ends_at_the_steps_seen():
    stream = TTY()
    progress = Progress(1, None, "Epoch 1/1", stream=stream)
    for step in (1, 2, 3):
        progress.update(step, {"loss": 0.5})
    progress.finish({"loss": 0.25})
    assert "3/3" in stream.getvalue() and "loss: 0.2500" in stream.getvalue()


class Interrupt(lm.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of batch 1 of training, evaluation or prediction;
    remembers the bar that was drawing."""

    def __init__(self, progbar):
        super().__init__()
        self.progbar = progbar
        self.progress = None

    def _stop(self, batch):
        if batch == 1:
            self.progress = self.progbar.progress
            raise KeyboardInterrupt("stop")

    def on_train_batch_end(self, batch, logs=None):
        self._stop(batch)

    def on_test_batch_end(self, batch, logs=None):
        self._stop(batch)

    def on_predict_batch_end(self, batch, logs=None):
        self._stop(batch)


@pytest.mark.parametrize("loop", ["fit", "evaluate", "predict"])
def test_an_exception_mid_epoch_stops_the_bar_it_leaves_drawing(loop):
    x, y = _data(12, 0)
    model = _frozen_model()
    progbar = ProgbarLogger()
    interrupt = Interrupt(progbar)
    run = {"fit": lambda cbs: model.fit(x, y, batch_size=4, callbacks=cbs),
           "evaluate": lambda cbs: model.evaluate(x, y, batch_size=4, callbacks=cbs),
           "predict": lambda cbs: model.predict(x, batch_size=4, callbacks=cbs)}[loop]

    def interrupted():
        with pytest.raises(KeyboardInterrupt, match="stop"):
            run([progbar, interrupt])
    out = _on_terminal(interrupted)
    assert interrupt.progress is not None and interrupt.progress.bar is not None
    assert not interrupt.progress.bar.live.is_started  # stopped, cursor and line given back
    assert progbar.progress is None
    assert "1/3" in out or "0/3" in out  # it was drawing
