"""Training checkpoints: exact resume after a crash, safe writes, rotation, ModelCheckpoint.

- A fit interrupted anywhere (mid-epoch, after the last batch of an epoch, by SIGKILL of a
  real process, or while a checkpoint is being written) and restarted with
  `BackupAndRestore` ends with variables bit for bit equal to an uninterrupted run's (CPU),
  with the same `History` and the same files written by `ModelCheckpoint(save_best_only)`.
- `CheckpointManager` keeps `max_to_keep` checkpoints, skips a damaged newest one in favour
  of the previous, and never takes the temporary file of an interrupted write.
- `ModelCheckpoint(save_best_only=True)` writes exactly on the epochs whose monitored value
  beat every earlier one (checked against the recorded History), and weights-only files
  load with `load_weights`.
"""
import importlib.util
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import lamina as lm
from lamina.callbacks import BackupAndRestore, ModelCheckpoint
from lamina.core import tree
from lamina.errors import ConfigurationError, SavingError
from lamina.saving import checkpoint as ckpt
from lamina.saving import model_io

# The training script, run in-process for the reference and as a real process to be killed.
SCRIPT = '''\
"""Train the digits MLP with BackupAndRestore (the test runs, kills and restarts this)."""
import os
import signal
import sys
import time

import numpy as np

from lamina.core import tree

import lamina as lm
from lamina.callbacks import BackupAndRestore

EPOCHS, BATCH = 3, 64


def build():
    lm.reset_names()
    lm.random.set_seed(1234)
    model = lm.Sequential([lm.Input((64,)), lm.layers.Dense(32, activation="relu"),
                           lm.layers.Dropout(0.25, seed=7), lm.layers.Dense(10)])
    model.compile(lm.optimizers.Adam(3e-3),
                  lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def train(model, x, y, callbacks=(), **kwargs):
    return model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0,
                     callbacks=list(callbacks), **kwargs)


class PauseAt(lm.callbacks.Callback):
    """At training step `at`: write `marker`, then wait to be killed."""

    def __init__(self, at, marker):
        super().__init__()
        self.at, self.marker = at, marker

    def on_train_batch_end(self, batch, logs=None):
        if self.model._trainer.iterations == self.at:
            with open(self.marker, "w") as f:
                f.write(str(batch))
            time.sleep(120)


def die_during_checkpoint_write(nth):
    """SIGKILL this process inside the nth checkpoint write: the temporary file is written
    and fsynced, the rename over ckpt-*.lamina has not happened."""
    real_replace, count = os.replace, [0]

    def replace(src, dst, *args, **kwargs):
        if os.path.basename(dst).startswith("ckpt-"):
            count[0] += 1
            if count[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace


if __name__ == "__main__":
    work = sys.argv[1]
    data = np.load(os.path.join(work, "digits.npz"))
    callbacks = [BackupAndRestore(os.path.join(work, "backup"), save_freq=5)]
    if os.environ.get("PAUSE_AT"):
        callbacks.append(PauseAt(int(os.environ["PAUSE_AT"]), os.path.join(work, "marker")))
    if os.environ.get("DIE_IN_WRITE"):
        die_during_checkpoint_write(int(os.environ["DIE_IN_WRITE"]))
    model = build()
    history = train(model, data["x"], data["y"], callbacks)
    model.save_weights(os.path.join(work, "final.safetensors"))
    with open(os.path.join(work, "history.json"), "w") as f:
        f.write(repr(history.history))
'''


# -- helpers ------------------------------------------------------------------------------
def _digits(n=None):
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.data / 16.0).astype("float32"), d.target.astype("int32")
    return (x, y) if n is None else (x[:n], y[:n])


def _variables(model):
    """path -> numpy value of every variable (weights, dropout seed states)."""
    return {p: np.asarray(v._value) for p, v in tree.variable_paths(model).items()}


def _assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for path in a:
        assert a[path].dtype == b[path].dtype, path
        assert np.array_equal(a[path].view(np.uint8), b[path].view(np.uint8)), path


def _load_script(tmp_path):
    path = tmp_path / "train_digits.py"
    path.write_text(SCRIPT)
    spec = importlib.util.spec_from_file_location("train_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Crash(lm.callbacks.Callback):
    """Raise after training step `at` (before its checkpoint), or at the end of epoch
    `epoch_end` (after that epoch's validation and the callbacks listed before this one)."""

    def __init__(self, at=None, epoch_end=None):
        super().__init__()
        self.at, self.epoch_end = at, epoch_end

    def on_train_batch_end(self, batch, logs=None):
        if self.model._trainer.iterations == self.at:
            raise KeyboardInterrupt(f"crash at step {self.at}")

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch_end:
            raise KeyboardInterrupt(f"crash at the end of epoch {epoch}")


# -- the reference run and real processes -----------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(work dir with the script and data, final variables, history) of an uninterrupted run."""
    work = tmp_path_factory.mktemp("digits")
    x, y = _digits(1536)  # 24 batches of 64 per epoch
    np.savez(work / "digits.npz", x=x, y=y)
    script = _load_script(work)
    model = script.build()
    history = script.train(model, x, y)
    return work, _variables(model), history.history


def _run(work, env=None, pause_marker=None):
    """Run the script on `work`; with `pause_marker`, SIGKILL it once the marker appears.

    Returns the process's exit code. The processes share a persistent compilation cache
    (the same executable, so the same bits; compiling is most of a short run's time)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {}),
           "JAX_COMPILATION_CACHE_DIR": str(work.parent / "jax-cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    proc = subprocess.Popen([sys.executable, str(work / "train_digits.py"), str(work)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        if pause_marker is not None:
            deadline = time.monotonic() + 120
            while not pause_marker.exists():
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "the training process never paused"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        code = proc.wait(timeout=180)
        output = proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert code in (0, -signal.SIGKILL), output
    return code


def _finish_and_compare(work, reference_variables, reference_history):
    assert _run(work) == 0
    final = load_file(str(work / "final.safetensors"))
    _assert_bitwise_equal(final, reference_variables)
    assert (work / "history.json").read_text() == repr(reference_history)
    assert not (work / "backup").exists()  # deleted once training completed


def _fresh_work(reference, tmp_path):
    src = reference[0]
    for name in ("train_digits.py", "digits.npz"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    return tmp_path


def test_sigkill_mid_epoch_then_restart_is_bit_exact(reference, tmp_path):
    work = _fresh_work(reference, tmp_path)
    code = _run(work, {"PAUSE_AT": "33"}, pause_marker=work / "marker")  # epoch 2, batch 10
    assert code == -signal.SIGKILL
    (only,) = ckpt.CheckpointManager(work / "backup").checkpoints()
    training, _ = ckpt.read_checkpoint(only[1])
    assert (training["epoch"], training["batch"], training["iterations"]) == (1, 6, 30)
    _finish_and_compare(work, *reference[1:])


def test_sigkill_while_writing_a_checkpoint_keeps_the_previous_one(reference, tmp_path):
    work = _fresh_work(reference, tmp_path)
    assert _run(work, {"DIE_IN_WRITE": "3"}) == -signal.SIGKILL  # inside the step-15 write
    backup = work / "backup"
    names = sorted(os.listdir(backup))
    assert [n for n in names if n.startswith("ckpt-")] == ["ckpt-000001.lamina"]
    assert any(n.startswith(".tmp-") and n.endswith(".partial") for n in names), names
    path, training, _ = ckpt.CheckpointManager(backup).latest()
    assert path.endswith("ckpt-000001.lamina") and training["iterations"] == 10
    _finish_and_compare(work, *reference[1:])


# -- in-process: several interruptions of one run ------------------------------------------
def _mlp(seed=3):
    lm.reset_names()
    lm.random.set_seed(seed)
    model = lm.Sequential([lm.Input((64,)), lm.layers.Dense(16, activation="relu"),
                           lm.layers.Dropout(0.3, seed=11), lm.layers.Dense(10)])
    model.compile(lm.optimizers.Adam(1e-2),
                  lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def test_resume_after_crashes_anywhere_is_exact(tmp_path):
    """Crashes right after the checkpoint of an epoch's last batch, mid-epoch, and in
    on_epoch_end; one model object, rolled back by every restore. History, learning rate,
    iteration count and the files of a best-only ModelCheckpoint match."""
    x, y = _digits(23 * 64)  # 23 batches of 64 per epoch
    fit = dict(batch_size=64, epochs=4, verbose=0)

    class Decay(lm.callbacks.Callback):  # a learning-rate change to carry across a crash
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate *= 0.5

    def best_only(directory):
        return ModelCheckpoint(str(directory / "{epoch:02d}-{loss:.4f}.weights"),
                               monitor="loss", save_best_only=True, save_weights_only=True)

    reference, ref_dir = _mlp(), tmp_path / "ref"
    history = reference.fit(x, y, callbacks=[Decay(), best_only(ref_dir)], **fit)

    model, backup, run_dir = _mlp(), tmp_path / "backup", tmp_path / "run"
    # checkpoints every 23 steps: after each epoch's last batch, before its end of epoch
    for crash in (Crash(at=24), Crash(at=40), Crash(epoch_end=2), Crash(at=80), None):
        callbacks = [BackupAndRestore(backup, save_freq=23), Decay(), best_only(run_dir)]
        if crash is None:
            training = ckpt.CheckpointManager(backup).latest()[1]
            assert (training["epoch"], training["batch"], training["iterations"]) == (2, 23, 69)
            resumed = model.fit(x, y, callbacks=callbacks, **fit)
            break
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, callbacks=[*callbacks, crash], **fit)

    _assert_bitwise_equal(_variables(model), _variables(reference))
    assert resumed.history == history.history and resumed.epoch == [0, 1, 2, 3]
    assert model._trainer.iterations == reference._trainer.iterations == 4 * 23
    assert model.optimizer.learning_rate == reference.optimizer.learning_rate
    assert sorted(os.listdir(run_dir)) == sorted(os.listdir(ref_dir))
    assert not backup.exists()


def _tiny():
    lm.reset_names()
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(2)])
    model.compile("sgd", "mse")
    return model


def _tiny_data(n):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def test_resume_refuses_a_different_batching(tmp_path):
    x, y = _tiny_data(64)
    model = _tiny()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path, save_freq=3), Crash(at=5)])
    with pytest.raises(ConfigurationError, match="same data and batch size"):
        model.fit(x, y, batch_size=32, epochs=2, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path, save_freq=3)])


def test_backup_kept_when_asked_and_epoch_level_resume(tmp_path):
    x, y = _tiny_data(64)
    model = _tiny()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    (only,) = ckpt.CheckpointManager(tmp_path).checkpoints()
    training, _ = ckpt.read_checkpoint(only[1])
    assert (training["epoch"], training["batch"], training["iterations"]) == (2, 0, 8)
    before = _variables(model)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                        callbacks=[BackupAndRestore(tmp_path)])
    _assert_bitwise_equal(_variables(model), before)  # nothing left to train
    assert history.epoch == [0, 1]
    assert not tmp_path.exists()


def test_one_backup_callback_serves_several_fits(tmp_path):
    x, y = _tiny_data(64)
    model, backup = _tiny(), BackupAndRestore(tmp_path / "b", save_freq=2)
    for _ in range(2):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[backup])
        assert not (tmp_path / "b").exists()
    assert model._trainer.iterations == 8


# -- CheckpointManager ---------------------------------------------------------------------------
def _step(model, value):
    model.train_on_batch(np.full((4, 3), value, "float32"), np.zeros((4, 2), "float32"))


def _position(model):
    rng = np.random.default_rng(0)
    return ckpt.training_state(model, epoch=0, batch=model._trainer.iterations,
                               epoch_rng_state=rng.bit_generator.state)


def test_rotation_keeps_the_last_n(tmp_path):
    model, manager = _tiny(), ckpt.CheckpointManager(tmp_path, max_to_keep=2)
    for i in range(5):
        _step(model, i)
        manager.save(model, _position(model))
    assert [n for n, _ in manager.checkpoints()] == [3, 4]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-000003.lamina", "ckpt-000004.lamina"]
    assert manager.latest()[1]["iterations"] == 5


@pytest.mark.parametrize("damage", ["truncate", "flip_a_weight_byte", "garbage"])
def test_damaged_newest_is_skipped_for_the_previous(tmp_path, damage):
    model, manager = _tiny(), ckpt.CheckpointManager(tmp_path, max_to_keep=3)
    saved = []
    for i in range(2):
        _step(model, i + 1)
        saved.append(_variables(model))
        manager.save(model, _position(model))
    newest = manager.checkpoints()[-1][1]
    data = bytearray(Path(newest).read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip_a_weight_byte":
        with zipfile.ZipFile(newest) as zf:
            offset = zf.getinfo(model_io.WEIGHTS).header_offset
        name_len, extra_len = struct.unpack("<HH", data[offset + 26:offset + 30])
        data[offset + 30 + name_len + extra_len + 100] ^= 1  # inside the member's data
    else:
        data = b"\0" * 64
    Path(newest).write_bytes(bytes(data))
    # leftovers of interrupted writes are never candidates
    (tmp_path / ".tmp-abc.partial").write_bytes(b"PK partial")
    (tmp_path / "ckpt-000009.lamina.partial").write_bytes(b"partial")
    with pytest.raises(SavingError):
        ckpt.read_checkpoint(newest)

    _step(model, 7.0)  # move away, then restore
    with pytest.warns(RuntimeWarning, match="damaged checkpoint"):
        path, training = manager.restore(model)
    assert path.endswith("ckpt-000000.lamina") and training["iterations"] == 1
    _assert_bitwise_equal(_variables(model), saved[0])
    assert model._trainer.iterations == 1
    # a new checkpoint is numbered after the damaged one, so it is the newest
    assert manager.save(model, _position(model)).endswith("ckpt-000002.lamina")
    manager.delete_all()  # removes checkpoints and temporary files, not foreign files
    assert os.listdir(tmp_path) == ["ckpt-000009.lamina.partial"]


def test_load_checkpoint_rebuilds_the_model(tmp_path):
    model = _tiny()
    _step(model, 1.0)
    path = tmp_path / "one.lamina"
    ckpt.save_checkpoint(model, path, _position(model))
    loaded, training = ckpt.load_checkpoint(path)
    _assert_bitwise_equal(_variables(loaded), _variables(model))
    assert loaded._trainer.iterations == 1 and training["batch"] == 1
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read(ckpt.TRAINING))["format"] == "lamina.training"


# -- ModelCheckpoint -----------------------------------------------------------------------------
class EpochWeights(lm.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(_variables(self.model))


class Jolt(lm.callbacks.Callback):
    """A huge learning rate for one epoch, so val_loss gets worse and recovers."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = 3.0 if epoch == 2 else 0.01


def test_model_checkpoint_best_only_writes_on_improvement(tmp_path):
    x, y = _digits(640)  # 8 training and 2 validation batches of 64
    model, recorder = _mlp(), EpochWeights()
    checkpoint = ModelCheckpoint(str(tmp_path / "w-{epoch:02d}-{val_loss:.4f}.weights"),
                                 monitor="val_loss", save_best_only=True,
                                 save_weights_only=True)
    history = model.fit(x, y, batch_size=64, epochs=6, validation_split=0.2, verbose=0,
                        callbacks=[Jolt(), checkpoint, recorder])
    val = history.history["val_loss"]
    improved = [e for e in range(len(val)) if val[e] < min(val[:e], default=np.inf)]
    assert len(improved) < len(val), "the scenario must have an epoch without improvement"
    expected = [f"w-{e + 1:02d}-{val[e]:.4f}.weights" for e in improved]
    assert sorted(os.listdir(tmp_path)) == expected
    assert checkpoint.best == min(val)
    fresh = _mlp(seed=99)
    fresh.load_weights(str(tmp_path / expected[-1]))
    _assert_bitwise_equal(_variables(fresh), recorder.weights[improved[-1]])


def test_model_checkpoint_full_models_and_modes(tmp_path):
    x, y = _tiny_data(50)
    model = _tiny()
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[
        ModelCheckpoint(tmp_path / "sub" / "m-{epoch}.lamina"),
        ModelCheckpoint(tmp_path / "b-{epoch}-{batch}.lamina", save_freq=4,
                        save_weights_only=True)])
    assert sorted(os.listdir(tmp_path / "sub")) == ["m-1.lamina", "m-2.lamina"]
    # 5 batches per epoch, every 4 batches across epochs: steps 4 and 8
    assert sorted(os.listdir(tmp_path)) == ["b-1-4.lamina", "b-2-3.lamina", "sub"]
    loaded = lm.models.load_model(tmp_path / "sub" / "m-2.lamina")
    _assert_bitwise_equal(_variables(loaded), _variables(model))
    assert ModelCheckpoint("f", monitor="val_accuracy").mode == "max"
    assert ModelCheckpoint("f", monitor="val_loss").mode == "min"
    with pytest.raises(ConfigurationError, match="mode"):
        ModelCheckpoint("f", mode="best")
    with pytest.raises(ConfigurationError, match="save_freq"):
        BackupAndRestore(tmp_path, save_freq=0)
    with pytest.raises(ConfigurationError, match="cannot format"):
        model.fit(x, y, batch_size=10, epochs=1, verbose=0,
                  callbacks=[ModelCheckpoint(tmp_path / "{nope}")])
