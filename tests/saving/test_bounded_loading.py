"""Bounded loading (core/allocation.py): every allocation a file can cause is checked before
it happens, one test per path from a file to memory; and the error contract of loading
(every error a LaminaError naming the file). Small hostile files are built here by hand.

Paths: the whole file (larger than the load limit: refused from its size), a `.keras`
member (declared size, compression ratio, read in chunks), an HDF5 dataset declared but
never written, the compile config (sizing arguments such as AUC's num_thresholds, then every
metric's state), the model config (the weights budget: tests/saving/test_hostile_files.py::
test_huge_layer_is_refused_by_the_allocation_budget_before_allocating), the weights and
optimizer members (the safetensors reader: test_hostile_files.py's tensor cases).
"""
import hashlib
import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

import lamina as lm
from lamina.core import allocation
from lamina.errors import SavingError

h5py = pytest.importorskip("h5py")

KERNEL = np.arange(6, dtype="float32").reshape(3, 2)
BIAS = np.array([0.5, -0.5], dtype="float32")
PEAK = 16 << 20  # tracemalloc bound per refused load: far below what the file asks for


def _keras_config():
    dense = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "dense", "trainable": True, "units": 2,
                        "activation": "linear", "use_bias": True}}
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "hand", "trainable": True, "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "x"}},
                dense]}}


def _h5(write_kernel=True):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        group = f.create_group("layers/dense/vars")
        if write_kernel:
            group["0"] = KERNEL
        else:  # declared, never written: HDF5 would read fill values (zeros)
            group.create_dataset("0", shape=KERNEL.shape, dtype="float32")
        group["1"] = BIAS
    return buffer.getvalue()


def _keras_file(path, weights=None, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(_keras_config()))
        zf.writestr("model.weights.h5", _h5() if weights is None else weights)
    return path


def _refused(path, *fragments, load=None):
    """Loading fails with a SavingError naming the file and `fragments`, within PEAK."""
    tracemalloc.start()
    try:
        with pytest.raises(lm.LaminaError) as info:
            (load or lm.models.load_model)(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < PEAK, f"peak {peak:,} bytes"
    return message


def _predicts_the_kernel(model):
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), x @ KERNEL + BIAS)


# -- whole files ---------------------------------------------------------------------------
def test_a_file_larger_than_the_load_limit_is_refused_from_its_size(tmp_path):
    path = _keras_file(tmp_path / "m.keras")
    size = path.stat().st_size
    with allocation.load_limit_set(size - 1):
        _refused(path, f"{size:,} bytes", "set_load_limit")
    with allocation.load_limit_set(size):
        _predicts_the_kernel(lm.models.load_model(path))


def test_a_huge_file_that_is_not_an_archive_is_never_read_whole(tmp_path):
    path = tmp_path / "sparse.lamina"
    with open(path, "wb") as f:
        f.truncate(3 << 30)  # 3 GiB of zeros, sparse on disk: reading it whole would show
    _refused(path, "not a lamina archive")


# -- .keras members ------------------------------------------------------------------------
def test_a_deflated_weights_bomb_is_refused_before_decompressing(tmp_path):
    bomb = _h5() + bytes(20 << 20)  # 20 MiB of zeros deflate to ~20 KiB (ratio ~1000)
    path = _keras_file(tmp_path / "bomb.keras", weights=bomb, compression=zipfile.ZIP_DEFLATED)
    _refused(path, "model.weights.h5", "decompression bomb", "ratio")


def test_a_rezipped_deflated_keras_file_loads(tmp_path):
    """A .keras file re-zipped with deflate (every member, metadata.json included) is
    recognised as a Keras file and imported (it was refused as a 'compressed lamina
    archive' before)."""
    path = _keras_file(tmp_path / "rezipped.keras", compression=zipfile.ZIP_DEFLATED)
    _predicts_the_kernel(lm.models.load_model(path))


def test_a_member_larger_than_the_load_limit_is_refused_before_reading(tmp_path):
    path = _keras_file(tmp_path / "m.keras", weights=_h5() + bytes(1 << 20),
                       compression=zipfile.ZIP_DEFLATED)
    with allocation.load_limit_set(512 << 10):
        _refused(path, "member 'model.weights.h5' would allocate")


def test_an_hdf5_dataset_declared_but_never_written_is_refused(tmp_path):
    path = _keras_file(tmp_path / "unwritten.keras", weights=_h5(write_kernel=False))
    _refused(path, "/layers/dense/vars/0", "only 0 were ever written", "zeros")


# -- compile configs -----------------------------------------------------------------------
def _resigned(path, edit_config):
    """The lamina archive at `path` with config.json edited and metadata.json re-signed."""
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    config = json.loads(members["config.json"])
    edited = edit_config(config)
    members["config.json"] = (edited if isinstance(edited, bytes)
                              else json.dumps(config).encode())
    metadata = json.loads(members["metadata.json"])
    for name, data in members.items():
        if name != "metadata.json":
            metadata["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                         "size": len(data)}
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _saved(tmp_path, metric):
    inp = lm.Input((3,))
    model = lm.Model(inp, lm.layers.Dense(1, activation="sigmoid")(inp))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[metric])
    path = tmp_path / "m.lamina"
    model.save(path)
    return path


def _set_metric_option(key, value):
    def edit(config):
        config["compile"]["metrics"][0]["config"][key] = value
    return edit


@pytest.mark.parametrize("metric, key, value", [
    (lambda: lm.metrics.AUC(num_thresholds=10), "num_thresholds", 30_000_000),
    (lambda: lm.metrics.MeanIoU(num_classes=2), "num_classes", 100_000),
])
def test_compile_config_sizes_are_bounded_before_anything_is_built(tmp_path, metric, key,
                                                                   value):
    path = _saved(tmp_path, metric())
    lm.models.load_model(path)  # the honest file loads
    _resigned(path, _set_metric_option(key, value))
    _refused(path, f"{key}={value!r}", "would allocate")


def test_every_metric_state_is_sized_before_compile(tmp_path, monkeypatch):
    path = _saved(tmp_path, lm.metrics.BinaryAccuracy())
    monkeypatch.setattr(allocation, "STATE_BYTES", 4)  # its state: two float32 counts
    _refused(path, "the state of metric 'binary_accuracy' would allocate 8 bytes")


# -- the error contract --------------------------------------------------------------------
def test_a_json_integer_over_4300_digits_is_a_saving_error_naming_the_file(tmp_path):
    path = _saved(tmp_path, "accuracy")

    def huge(config):
        return json.dumps(config).replace('"trainable": true', '"trainable": ' + "9" * 5000,
                                          1).encode()
    _resigned(path, huge)
    message = _refused(path, "config.json", "not valid JSON")
    assert "4300" in message


def test_fuzzed_configs_fail_only_with_lamina_errors_naming_the_file(tmp_path):
    """300 seeded mutations of a valid file's config.json (re-signed, so they reach the
    model rebuild): each loads or raises a LaminaError whose message names the file."""
    original = _saved(tmp_path, "accuracy").read_bytes()
    rng = np.random.default_rng(17)
    values = [None, -1, 0, 2**40, 1.5, "x", "Dense", [], {}, [None], {"a": 1}, True]
    path = tmp_path / "fuzz.lamina"
    failures = []
    for case in range(300):
        path.write_bytes(original)

        def mutate(config, case=case):
            nodes = []

            def walk(node):
                if isinstance(node, dict):
                    nodes.extend((node, k) for k in node)
                    for v in node.values():
                        walk(v)
                elif isinstance(node, list):
                    nodes.extend((node, i) for i in range(len(node)))
                    for v in node:
                        walk(v)
            walk(config)
            for _ in range(1 + case % 3):
                parent, key = nodes[rng.integers(len(nodes))]
                parent[key] = values[rng.integers(len(values))]
        _resigned(path, mutate)
        try:
            lm.models.load_model(path)
        except lm.LaminaError as err:
            if str(path) not in str(err):
                failures.append(f"case {case}: {err}"[:200])
        except Exception as err:  # noqa: BLE001 - the point is to catch everything else
            failures.append(f"case {case}: {type(err).__name__}: {err}"[:200])
    assert not failures, "\n".join(failures[:20])


def test_the_load_limit_is_validated():
    with pytest.raises(lm.errors.ConfigurationError, match="positive number of bytes"):
        allocation.set_load_limit(0)
    previous = allocation.set_load_limit(1 << 30)
    try:
        assert allocation.load_limit() == 1 << 30
    finally:
        allocation.set_load_limit(previous)
    with pytest.raises(SavingError, match="'f': x would allocate 11 bytes"):
        allocation.check(11, "x", "'f'", limit=10)
