"""Exact resume of the trainability state and of every callback that keeps state.

- A backup records the complete trainability state (every container's scoped freezes,
  the empty ones included, and every layer and variable flag); restoring it makes the live
  model's state equal to the recorded one, removing freezes the backup did not have. The
  fine-tuning recipe of docs/freezing.md (`freeze_up_to` before fit, `FreezeSchedule`
  unfreezing later) resumed after a crash ends bit for bit equal to the uninterrupted run.
- `EarlyStopping`, `ReduceLROnPlateau`, `LearningRateScheduler`, `GradualUnfreezing`,
  `CSVLogger`, `TerminateOnNaN` resume with their state: a resumed run stops at the same epoch,
  with the same learning rate and the same restored best weights.
- `BackupAndRestore(save_freq=N)` with `steps_per_execution=k` backs up at the first group
  boundary at or after every multiple of N steps: no multiple is skipped.
"""
import json

import numpy as np
import pytest

import lamina as lm
from lamina.callbacks import BackupAndRestore
from lamina.core import tree
from lamina.saving import checkpoint as ckpt
from lamina.saving import model_io


def _variables(model):
    return {p: np.asarray(v._value) for p, v in tree.variable_paths(model).items()}


def _assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for path in a:
        assert a[path].dtype == b[path].dtype, path
        assert np.array_equal(a[path].reshape(-1).view(np.uint8),
                              b[path].reshape(-1).view(np.uint8)), path


class Crash(lm.callbacks.Callback):
    """Raise after training step `at` (before that step's backup)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if self.model._trainer.iterations == self.at:
            raise KeyboardInterrupt(f"crash at step {self.at}")


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _fine_tuning_model():
    """docs/freezing.md's fine-tuning recipe: the backbone frozen in clf's scope."""
    lm.reset_names()
    lm.random.set_seed(5)
    backbone = lm.Sequential([lm.Input((3,)), lm.layers.Dense(8, activation="relu"),
                              lm.layers.Dense(8, activation="relu")], name="backbone")
    clf = lm.Sequential([backbone, lm.layers.Dense(2)], name="clf")
    clf.compile(optimizer=lm.optimizers.Adam(1e-2),
                loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    clf.freeze_up_to(backbone)
    return clf, backbone


def _fine_tune(backup, crash=None):
    model, backbone = _fine_tuning_model()
    x, y = _data()
    callbacks = [BackupAndRestore(backup),
                 lm.callbacks.FreezeSchedule({1: {"unfreeze": [backbone]}}, verbose=0)]
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=True,
                        callbacks=callbacks + ([crash] if crash else []))
    return model, history


# -- 1. the trainability state ------------------------------------------------------------------
def test_fine_tuning_recipe_resumed_after_a_crash_is_bitwise_the_uninterrupted_run(tmp_path):
    reference, history = _fine_tune(tmp_path / "ref")
    assert len(reference.trainable_weights) == 6
    with pytest.raises(KeyboardInterrupt):
        _fine_tune(tmp_path / "backup", Crash(at=8))  # epoch 2, after the unfreeze
    resumed, resumed_history = _fine_tune(tmp_path / "backup")
    assert len(resumed.trainable_weights) == 6
    assert resumed.frozen_layers == reference.frozen_layers == []
    _assert_bitwise_equal(_variables(resumed), _variables(reference))
    _assert_bitwise_equal(model_io.optimizer_arrays(resumed),
                          model_io.optimizer_arrays(reference))
    assert resumed_history.history == history.history


def test_trainability_config_records_every_container_and_restore_makes_it_equal(tmp_path):
    model, backbone = _fine_tuning_model()
    model.unfreeze()
    backbone.layers[0].trainable = False
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    config = model_io.trainability_config(model)
    assert config["freezes"] == {"": [], "backbone": []}  # the empty ones too
    path = tmp_path / "c.lamina"
    ckpt.save_checkpoint(model, path, ckpt.training_state(
        model, epoch=1, batch=0, epoch_rng_state=np.random.default_rng(0).bit_generator.state))
    trained = {w.path for w in model.trainable_weights}
    # the live model drifts: a freeze in each container, flags flipped both ways
    model.freeze(backbone)
    backbone.freeze(backbone.layers[1])
    backbone.layers[0].trainable = True
    model.layers[-1].kernel.trainable = False
    assert {w.path for w in model.trainable_weights} != trained
    ckpt.restore_checkpoint(model, path)
    assert model_io.trainability_config(model) == config
    assert {w.path for w in model.trainable_weights} == trained  # the live resolution too


def test_a_config_without_empty_freeze_entries_still_clears_live_freezes():
    """Files written before empty containers were recorded list only non-empty freezes: a
    container they do not list had none."""
    model, backbone = _fine_tuning_model()
    config = model_io.trainability_config(model)
    old_style = {**config, "freezes": {k: v for k, v in config["freezes"].items() if v}}
    model.unfreeze()
    backbone.freeze(backbone.layers[0])
    model_io.apply_trainability(model, old_style, "test")
    assert model_io.trainability_config(model) == config


# -- 2. callbacks with state -------------------------------------------------------------------
def _tiny():
    lm.reset_names()
    lm.random.set_seed(2)
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(2)], name="tiny")
    model.compile(lm.optimizers.SGD(0.05, momentum=0.5),
                  lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _plateau_fit(backup, crash=None):
    """A loss that never improves by min_delta after epoch 0: EarlyStopping stops after
    epoch 2, ReduceLROnPlateau halves the rate after epoch 1 and cools down."""
    model = _tiny()
    stopper = lm.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=10.0,
                                         restore_best_weights=True)
    callbacks = [BackupAndRestore(backup), stopper,
                 lm.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                                min_delta=10.0, cooldown=1)]
    x, y = _data()
    history = model.fit(x, y, batch_size=16, epochs=6, verbose=0,
                        callbacks=([crash] if crash else []) + callbacks)
    return model, history, stopper


def test_early_stopping_and_plateau_resume_with_their_state(tmp_path):
    reference, history, stopper = _plateau_fit(tmp_path / "ref")
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2
    assert history.history["learning_rate"] == [0.05, 0.05, 0.025]
    with pytest.raises(KeyboardInterrupt):
        _plateau_fit(tmp_path / "backup", Crash(at=8))  # inside epoch 2
    resumed, resumed_history, resumed_stopper = _plateau_fit(tmp_path / "backup")
    assert resumed_history.history == history.history  # stopped at the same epoch
    assert (resumed_stopper.stopped_epoch, resumed_stopper.best_epoch, resumed_stopper.wait) \
        == (stopper.stopped_epoch, stopper.best_epoch, stopper.wait)
    assert resumed.optimizer.learning_rate == reference.optimizer.learning_rate == 0.0125
    # the weights of epoch 0, kept in the backup, were restored at the end of both runs
    _assert_bitwise_equal(_variables(resumed), _variables(reference))


def test_a_backup_taken_after_training_was_stopped_ends_the_resumed_fit(tmp_path):
    """EarlyStopping stopped training at the end of epoch 2 and the epoch's backup was
    written; a crash after it (in an on_train_end that runs before BackupAndRestore's, which
    would delete the backup) must not resume into epoch 3."""
    class CrashAtEnd(lm.callbacks.Callback):
        def on_train_end(self, logs=None):
            raise KeyboardInterrupt("crash at the end of training")

    _, history, _ = _plateau_fit(tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _plateau_fit(tmp_path / "backup", CrashAtEnd())
    _, resumed_history, _ = _plateau_fit(tmp_path / "backup")
    assert resumed_history.history == history.history


def test_learning_rate_scheduler_is_not_applied_twice_to_a_resumed_epoch(tmp_path):
    def scheduled(backup, crash=None):
        model = _tiny()
        x, y = _data()
        model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                  callbacks=[BackupAndRestore(backup, save_freq=1),
                             lm.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
                             *([crash] if crash else [])])
        return model

    reference = scheduled(tmp_path / "ref")
    assert reference.optimizer.learning_rate == 0.05 * 0.5 ** 3
    with pytest.raises(KeyboardInterrupt):
        scheduled(tmp_path / "backup", Crash(at=5))  # epoch 1, one batch done after it
    resumed = scheduled(tmp_path / "backup")
    assert resumed.optimizer.learning_rate == reference.optimizer.learning_rate
    _assert_bitwise_equal(_variables(resumed), _variables(reference))


def test_csv_logger_resumed_file_is_the_uninterrupted_runs(tmp_path):
    def logged(work, crash=None):
        work.mkdir(exist_ok=True)
        model = _tiny()
        x, y = _data()
        model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                  callbacks=[BackupAndRestore(work / "backup", save_freq=2),
                             lm.callbacks.CSVLogger(work / "log.csv"),
                             *([crash] if crash else [])])
        return (work / "log.csv").read_bytes()

    reference = logged(tmp_path / "ref")
    assert reference.count(b"\n") == 4  # header and 3 epochs
    with pytest.raises(KeyboardInterrupt):
        logged(tmp_path / "run", Crash(at=7))  # after epoch 1's row, backup at step 6
    assert logged(tmp_path / "run") == reference


def test_callback_states_survive_a_json_round_trip(tmp_path):
    """What each callback checkpoints is plain JSON (training.json): fresh callbacks given
    the saved states (after their on_train_begin, as in a resumed fit) report the same."""
    model = _tiny()

    def make():
        made = [lm.callbacks.EarlyStopping(monitor="loss"),
                lm.callbacks.ReduceLROnPlateau("loss"),
                lm.callbacks.LearningRateScheduler(lambda e, lr: lr),
                lm.callbacks.FreezeSchedule({}), lm.callbacks.GradualUnfreezing([model.layers[0]]),
                lm.callbacks.CSVLogger(tmp_path / "log.csv"),
                lm.callbacks.TensorBoard(tmp_path / "tb")]
        for callback in made:
            callback.set_model(model)
            callback.on_train_begin()
        return made

    made = make()
    made[0].wait, made[0].best_epoch, made[0]._monitor.best = 3, 1, 0.25
    made[1].wait, made[1].cooldown_counter, made[1]._monitor.best = 1, 2, 0.5
    made[2]._applied_epoch = made[3]._handled_epoch = made[4]._handled_epoch = 4
    made[5].keys, made[5]._length, made[5]._header_needed = ["loss"], 40, False
    made[6]._step = 17
    states = ckpt.callback_states(made)
    assert set(states) == {type(c).__name__ for c in made}
    fresh = make()
    assert ckpt.callback_states(fresh) != states
    ckpt.restore_callback_states(fresh, json.loads(json.dumps(states)))
    assert ckpt.callback_states(fresh) == states
    for callback in made + fresh:
        callback.on_train_end()


# -- 3. steps_per_execution and save_freq ------------------------------------------------------
def test_grouped_steps_back_up_at_the_first_boundary_after_every_multiple(tmp_path,
                                                                           monkeypatch):
    saved = []
    real_save = ckpt.CheckpointManager.save

    def spy(self, model, training, callback_arrays=None):
        saved.append(training["iterations"])
        return real_save(self, model, training, callback_arrays)

    monkeypatch.setattr(ckpt.CheckpointManager, "save", spy)
    lm.reset_names()
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(2)])
    model.compile("sgd", lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=3)
    x, y = _data(64)
    save_freq, per_epoch, epochs = 4, 8, 2  # calls of 3, 3, 2 batches an epoch
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False,
              callbacks=[BackupAndRestore(tmp_path, save_freq=save_freq)])
    boundaries = [e * per_epoch + b for e in range(epochs) for b in (3, 6, 8)]
    expected = sorted({min(b for b in boundaries if b >= m)
                       for m in range(save_freq, epochs * per_epoch + 1, save_freq)})
    assert saved == expected == [6, 8, 14, 16]


def test_a_callback_state_that_does_not_fit_is_a_saving_error_naming_the_file():
    stopper = lm.callbacks.EarlyStopping(monitor="loss")
    stopper.on_train_begin()
    with pytest.raises(lm.errors.SavingError, match=r"'b\.lamina'.*callback EarlyStopping"):
        ckpt.restore_callback_states([stopper], {"EarlyStopping": {"wait": 1}}, {},
                                     "'b.lamina'")
    with pytest.raises(lm.errors.SavingError, match="EarlyStopping"):
        ckpt.restore_callback_states([stopper], {}, {"EarlyStopping/7": np.zeros(2)})
