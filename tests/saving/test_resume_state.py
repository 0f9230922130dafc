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
