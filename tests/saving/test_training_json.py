"""A checkpoint's training.json is validated before a resume uses it (saving/training_json.py),
and checkpoint callbacks that cannot create their folder raise a SavingError naming it."""
import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

import lamina as lm
from lamina.errors import SavingError
from lamina.saving import checkpoint as ckpt


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    inp = lm.Input((2,))
    model = lm.Model(inp, lm.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    path = tmp_path_factory.mktemp("ckpt") / "c.lamina"
    training = ckpt.training_state(model, epoch=1, batch=0,
                                   epoch_rng_state=np.random.default_rng(0).bit_generator.state,
                                   logs=[0.5], history=model.history)
    ckpt.save_checkpoint(model, path, training)
    return path.read_bytes()


def _with_training(tmp_path, data, change):
    """The checkpoint with training.json changed by `change(dict)` and re-signed."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    training = json.loads(members["training.json"])
    change(training)
    members["training.json"] = json.dumps(training).encode()
    metadata = json.loads(members["metadata.json"])
    metadata["members"]["training.json"] = {
        "sha256": hashlib.sha256(members["training.json"]).hexdigest(),
        "size": len(members["training.json"])}
    members["metadata.json"] = json.dumps(metadata).encode()
    path = tmp_path / "edited.lamina"
    with zipfile.ZipFile(path, "w") as zf:
        for name, member in members.items():
            zf.writestr(name, member)
    return path


def test_the_valid_checkpoint_reads(saved, tmp_path):
    training, _ = ckpt.read_checkpoint(_with_training(tmp_path, saved, lambda t: None))
    assert (training["epoch"], training["iterations"]) == (1, 1)


def _set(field, value):
    def change(training):
        training[field] = value
    return change


@pytest.mark.parametrize("change, field", [
    (_set("epoch", -1), "epoch"),
    (_set("batch", 1.5), "batch"),
    (_set("iterations", "10"), "iterations"),
    (_set("epoch", True), "epoch"),
    (_set("iterations", 10**30), "iterations"),
    (_set("epoch_rng_state", {"bit_generator": "os.system", "state": {}}), "epoch_rng_state"),
    (_set("epoch_rng_state", {"bit_generator": "PCG64", "state": {"state": "x"}}),
     "epoch_rng_state"),
    (_set("epoch_rng_state", [1, 2]), "epoch_rng_state"),
    (_set("learning_rate", "fast"), "learning_rate"),
    (_set("learning_rate", float("nan")), "learning_rate"),
    (_set("learning_rate", -0.1), "learning_rate"),
    (_set("logs", [0.5, 0.25, 0.1]), "logs"),
    (_set("logs", ["a"]), "logs"),
    (_set("log_names", "loss"), "log_names"),
    (_set("random", {"seed": -3, "count": 0}), "random"),
    (_set("random", {"seed": 1}), "random"),
    (_set("history", {"epoch": "0", "history": {}}), "history"),
    (_set("history", {"epoch": [0], "history": {"loss": "high"}}), "history.loss"),
    (_set("callbacks", [1]), "callbacks"),
])
def test_bad_fields_are_refused_naming_the_file_and_the_field(saved, tmp_path, change, field):
    path = _with_training(tmp_path, saved, change)
    with pytest.raises(SavingError, match=rf"training.json field '{field}': expected") as info:
        ckpt.read_checkpoint(path)
    assert str(path) in str(info.value)
    # a resume goes through the same reader: the model is not touched either
    inp = lm.Input((2,))
    model = lm.Model(inp, lm.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(SavingError, match="training.json field"):
        ckpt.restore_checkpoint(model, path)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)


@pytest.fixture
def blocked(tmp_path):
    """A path under a regular file: no folder can be created there."""
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "sub"


def test_checkpoint_manager_names_the_folder_it_cannot_create(blocked):
    with pytest.raises(SavingError, match=rf"CheckpointManager: cannot create the folder "
                                          rf"'{blocked}'"):
        ckpt.CheckpointManager(blocked)


@pytest.mark.parametrize("callback, message", [
    (lambda blocked: lm.callbacks.BackupAndRestore(str(blocked)), r"CheckpointManager: "),
    (lambda blocked: lm.callbacks.ModelCheckpoint(str(blocked / "m.lamina")),
     r"ModelCheckpoint\('.*'\): "),
])
def test_checkpoint_callbacks_name_the_folder_they_cannot_create(blocked, callback, message):
    inp = lm.Input((2,))
    model = lm.Model(inp, lm.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(SavingError, match=rf"{message}cannot create the folder '{blocked}'"):
        model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0,
                  callbacks=[callback(blocked)])
