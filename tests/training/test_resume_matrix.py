"""The resume matrix: a fit crashed at a seeded random step and re-run with
`BackupAndRestore` ends bit for bit equal to the uninterrupted run, in every setup.

Each case builds a fresh model and fresh callbacks for every run (as a re-run script does):
the reference run, a run that raises from a callback after a random number of batches
(drawn from the case's own seed, among the batches the reference ran), and the re-run.
Compared: every variable and every optimizer-state entry (bitwise), the History, the
learning rate, the iteration count, and the files the callbacks wrote (CSV bytes,
ModelCheckpoint file names).

Cases: every built-in callback with state (EarlyStopping with best weights,
ReduceLROnPlateau, LearningRateScheduler, ModelCheckpoint, CSVLogger, TensorBoard,
TerminateOnNaN, LambdaCallback), FreezeSchedule and GradualUnfreezing, scoped freezes and
flags set before fit, steps_per_execution, GAN.fit and mixed precision. Two representative
cases (`FAST`) run in the fast suite; the others are marked slow (each takes 10-40 s on
the 2-core machine: three fits, with compiles).
"""
import os
import zlib

import numpy as np
import pytest

import lamina as lm
from lamina.callbacks import BackupAndRestore
from lamina.core import tree
from lamina.models.gan import GAN
from lamina.saving import model_io

N, BATCH, EPOCHS = 48, 16, 4  # 3 batches an epoch, 12 steps


class Crash(lm.callbacks.Callback):
    """Raise at the end of the `at`-th training batch of this fit."""

    def __init__(self, at):
        super().__init__()
        self.at, self.seen = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt(f"crash after batch {self.at}")


class CountBatches(lm.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1


# -- models -------------------------------------------------------------------------------------
def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int32")


def _mlp(optimizer=None, dtype=None, steps_per_execution=1):
    lm.reset_names()
    lm.random.set_seed(3)
    backbone = lm.Sequential([lm.Input((4,)), lm.layers.Dense(8, activation="relu"),
                              lm.layers.Dropout(0.2, seed=4),
                              lm.layers.Dense(8, activation="relu", dtype=dtype)],
                             name="backbone")
    model = lm.Sequential([backbone, lm.layers.Dense(2, dtype=dtype)], name="clf")
    model.compile(optimizer or lm.optimizers.Adam(1e-2),
                  lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return model, backbone


def _gan():
    lm.reset_names()
    lm.random.set_seed(0)
    gen = lm.Sequential([lm.Input((3,)), lm.layers.Dense(6, activation="tanh", name="g1"),
                         lm.layers.Dense(4, name="g2")], name="generator")
    disc = lm.Sequential([lm.Input((4,)), lm.layers.Dense(6, activation="tanh", name="d1"),
                          lm.layers.Dense(1, name="d2")], name="discriminator")
    gan = GAN(gen, disc, latent_dim=3, seed=11, name="gan")
    gan.compile(d_optimizer=lm.optimizers.Adam(1e-2), g_optimizer=lm.optimizers.Adam(1e-2),
                loss_fn=lm.losses.BinaryCrossentropy(from_logits=True))
    return gan


def _bias(layer):
    return next(v for v in layer.weights if v.name == "bias")


def _toggle_head_bias(model):  # a FreezeSchedule change that is not idempotent
    bias = _bias(model.layers[-1])
    bias.trainable = not bias.trainable


def _standard_callbacks(model, backbone, files):
    return [lm.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=0.05,
                                       restore_best_weights=True),
            lm.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                           min_delta=0.05, cooldown=1),
            lm.callbacks.ModelCheckpoint(os.path.join(files, "{epoch:02d}-{loss:.4f}.lamina"),
                                         monitor="loss", save_best_only=True),
            lm.callbacks.CSVLogger(os.path.join(files, "log.csv")),
            lm.callbacks.TerminateOnNaN()]


# case -> (build() -> (model, backbone or None), callbacks(model, backbone, files), save_freq,
#          fit keyword arguments)
CASES = {
    "standard_callbacks": (_mlp, _standard_callbacks, 2, {}),
    "early_stopping": (_mlp, lambda m, b, f: [lm.callbacks.EarlyStopping(
        monitor="loss", patience=1, min_delta=10.0, restore_best_weights=True)], 1, {}),
    "reduce_lr_on_plateau": (_mlp, lambda m, b, f: [lm.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, min_delta=10.0, cooldown=1)], 2, {}),
    "lr_scheduler_mid_epoch": (_mlp, lambda m, b, f: [lm.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr * 0.5)], 2, {}),
    "model_checkpoint_every_batches": (_mlp, lambda m, b, f: [lm.callbacks.ModelCheckpoint(
        os.path.join(f, "{epoch:02d}-{batch}.lamina"), save_freq=5)], 2, {}),
    "csv_logger_append": (_mlp, lambda m, b, f: [lm.callbacks.CSVLogger(
        os.path.join(f, "log.csv"), append=True)], "epoch", {}),
    "tensorboard": (_mlp, lambda m, b, f: [lm.callbacks.TensorBoard(
        os.path.join(f, "tb"), update_freq=2)], 2, {}),
    "lambda_and_terminate_on_nan": (_mlp, lambda m, b, f: [
        lm.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None),
        lm.callbacks.TerminateOnNaN()], 3, {}),
    "freeze_schedule": (lambda: _fine_tuning(), lambda m, b, f: [lm.callbacks.FreezeSchedule(
        {1: {"unfreeze": [b]}, 2: _toggle_head_bias}, verbose=0)], 2, {}),
    "freeze_schedule_epoch_backups": (lambda: _fine_tuning(), lambda m, b, f: [
        lm.callbacks.FreezeSchedule({1: {"unfreeze": [b]}}, verbose=0)], "epoch", {}),
    "gradual_unfreezing": (_mlp, lambda m, b, f: [lm.callbacks.GradualUnfreezing(
        [[b.layers[0]], [b.layers[-1]]], start_epoch=1, verbose=0)], 2, {}),
    "scoped_freezes_and_flags": (lambda: _frozen_parts(), lambda m, b, f: [], 2, {}),
    "steps_per_execution": (lambda: _mlp(steps_per_execution=2), _standard_callbacks, 3, {}),
    "mixed_precision": (lambda: _mlp(dtype="mixed_float16"), _standard_callbacks, 2, {}),
    "sgd_momentum_validation": (lambda: _mlp(lm.optimizers.SGD(0.05, momentum=0.9)),
                                _standard_callbacks, 2, {"validation_split": 0.25}),
    "gan": (lambda: (_gan(), None), lambda m, b, f: [lm.callbacks.CSVLogger(
        os.path.join(f, "log.csv"))], 2, {}),
}
FAST = {"early_stopping", "model_checkpoint_every_batches"}


def _fine_tuning():
    model, backbone = _mlp()
    model.freeze_up_to(backbone)
    return model, backbone


def _frozen_parts():
    model, backbone = _mlp()
    model(np.zeros((1, 4), "float32"))  # builds the head, whose bias flag is set
    backbone.freeze(backbone.layers[0])
    _bias(model.layers[-1]).trainable = False
    return model, backbone


# -- the runs ---------------------------------------------------------------------------------
def _run(case, work, crash_at=None):
    build, callbacks, save_freq, fit_kwargs = CASES[case]
    model, backbone = build()
    files = os.path.join(work, "files")
    os.makedirs(files, exist_ok=True)
    counter = CountBatches()
    extra = [Crash(crash_at)] if crash_at else []
    x, y = _data()
    data = (x,) if isinstance(model, GAN) else (x, y)
    history = model.fit(*data, batch_size=BATCH, epochs=EPOCHS, verbose=0, **fit_kwargs,
                        callbacks=[BackupAndRestore(os.path.join(work, "backup"), save_freq),
                                   *callbacks(model, backbone, files), counter, *extra])
    return model, history, counter.seen


def _state(model, history, work):
    files = os.path.join(work, "files")
    written = {}
    for name in sorted(os.listdir(files)):
        path = os.path.join(files, name)
        if name.endswith(".csv"):
            with open(path, "rb") as f:
                written[name] = f.read()
        elif os.path.isfile(path):
            written[name] = None  # (a saved model holds its save time: compare the name)
    rates = [getattr(model, "optimizer", None)]
    if isinstance(model, GAN):
        rates = [model.d_optimizer, model.g_optimizer]
    return {"variables": {p: np.asarray(v._value).reshape(-1).view(np.uint8).tobytes()
                          for p, v in tree.variable_paths(model).items()},
            "optimizer": {k: np.asarray(v).reshape(-1).view(np.uint8).tobytes()
                          for k, v in model_io.optimizer_arrays(model).items()},
            "history": (history.epoch, history.history),
            "rates": [float(o.learning_rate) for o in rates],
            "iterations": model._trainer.iterations,
            "trainable": [w.path for w in model.trainable_weights],
            "files": written}


def check_case(case, tmp_path):
    model, history, batches = _run(case, tmp_path / "reference")
    reference = _state(model, history, tmp_path / "reference")
    assert batches > 2
    at = int(np.random.default_rng(zlib.crc32(case.encode())).integers(1, batches))
    with pytest.raises(KeyboardInterrupt):
        _run(case, tmp_path / "resumed", crash_at=at)
    model, history, _ = _run(case, tmp_path / "resumed")
    resumed = _state(model, history, tmp_path / "resumed")
    for key in reference:
        assert resumed[key] == reference[key], f"{case}: {key} differs (crash after {at})"
    assert not (tmp_path / "resumed" / "backup").exists()


@pytest.mark.parametrize("case", [pytest.param(case, marks=() if case in FAST
                                                else pytest.mark.slow) for case in sorted(CASES)])
def test_resumed_run_is_bitwise_the_uninterrupted_run(case, tmp_path):
    check_case(case, tmp_path)
