"""Import of Keras 3 `.keras` files: equivalence with models built by Keras, and refusal of
hostile files (built here by hand with h5py, so those tests need no Keras)."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import lamina as lm
from lamina.saving.keras import importer as keras_import
from lamina.saving.keras.importer import load_keras_model

os.environ.setdefault("KERAS_BACKEND", "jax")
h5py = pytest.importorskip("h5py")

# Keras 3.15 calls `__array__` the pre-NumPy-2 way; only its own deprecation warnings are muted
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def _rng():
    return np.random.default_rng(0)


def _randomize_batchnorm(layer):
    """Non-trivial gamma, beta and moving statistics, so inference-mode BN is tested."""
    rng = _rng()
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if i in (0, 3)
                       else rng.normal(size=w.shape).astype("float32")
                       for i, w in enumerate(layer.get_weights())])


def _assert_same_outputs(kmodel, model, x):
    expected = kmodel.predict(x, verbose=0)
    received = model.predict(x, verbose=0)
    if not isinstance(expected, (list, tuple)):
        expected, received = [expected], [received]
    assert len(expected) == len(received)
    for e, r in zip(expected, received, strict=True):
        np.testing.assert_allclose(np.asarray(r), np.asarray(e), rtol=1e-5, atol=1e-6)


# -- models built and saved by Keras ------------------------------------------------------
def test_sequential_with_every_layer_matches_keras(keras, tmp_path):
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((6,), name="features"),
        layers.Dense(8, activation="relu", name="hidden"),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-2, name="norm"),
        layers.Dropout(0.3, seed=4, name="drop"),
        layers.Reshape((4, 2), name="reshape"),
        layers.Flatten(name="flat"),
        layers.Activation("tanh", name="squash"),
        keras.Sequential([layers.Dense(8, activation="selu", name="inner")], name="block"),
        layers.Dense(3, use_bias=False, kernel_initializer="he_normal", trainable=False,
                     name="head"),
    ], name="seq")
    _randomize_batchnorm(kmodel.get_layer("norm"))
    path = tmp_path / "seq.keras"
    kmodel.save(path)

    model = load_keras_model(path)

    assert isinstance(model, lm.Sequential)
    assert model.name == "seq"
    assert [layer.name for layer in model.layers] == [layer.name for layer in kmodel.layers]
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "BatchNormalization", "Dropout", "Reshape", "Flatten", "Activation", "Sequential",
        "Dense"]
    assert model.get_layer("block").layers[0].name == "inner"
    norm = model.get_layer("norm")
    assert (norm.momentum, norm.epsilon, norm.axis) == (0.9, 1e-2, -1)
    assert model.get_layer("drop").rate == pytest.approx(0.3)
    assert model.get_layer("drop").seed == 4
    assert model.get_layer("reshape").target_shape == (4, 2)
    head = model.get_layer("head")
    assert head.trainable is False and head.use_bias is False
    assert isinstance(head.kernel_initializer, lm.initializers.HeNormal)
    assert model.get_layer("hidden").trainable is True
    trained = {v.path for v in model.trainable_weights}
    assert "head/kernel" not in trained and "hidden/kernel" in trained
    x = _rng().normal(size=(5, 6)).astype("float32")
    _assert_same_outputs(kmodel, model, x)


def test_functional_two_inputs_shared_and_nested_models_match_keras(keras, tmp_path):
    layers = keras.layers
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")

    inner_in = keras.Input((7,), name="inner_in")
    inner_norm = layers.BatchNormalization(name="inner_norm")
    inner = keras.Model(inner_in, layers.Dense(5, activation="sigmoid", name="inner_dense")(
        inner_norm(inner_in)), name="inner")
    _randomize_batchnorm(inner_norm)
    stack = keras.Sequential([keras.Input((5,)), layers.Dense(5, name="dense"),
                              layers.Dense(5, activation="gelu", name="dense_1")],
                             name="stack")
    stack.trainable = False

    shared = layers.Dense(7, activation="elu", name="shared")
    joined = layers.Concatenate(name="join")([a, b])
    x1, x2 = shared(joined), shared(joined)  # one layer, two calls
    summed = layers.Add(name="sum")([x1, x2])
    out = layers.Dropout(0.5, name="drop")(stack(inner(summed)))
    out = layers.Dense(2, name="dense")(out)  # same name as a layer inside `stack`
    kmodel = keras.Model([a, b], [out, x1], name="two_inputs")
    path = tmp_path / "functional.keras"
    kmodel.save(path)

    model = load_keras_model(path)

    assert type(model) is lm.Model
    assert model.name == "two_inputs"
    assert [layer.name for layer in model.layers] == [layer.name for layer in kmodel.layers]
    assert isinstance(model.layers[0], lm.layers.InputLayer)
    assert model.input_names == ["a", "b"]
    assert isinstance(model.get_layer("inner"), lm.Model)
    assert isinstance(model.get_layer("stack"), lm.Sequential)
    assert model.get_layer("join").axis == -1
    # Keras writes `stack.trainable = False` into every sublayer; the flags come through as-is
    assert model.get_layer("stack").trainable is False
    assert all(not layer.trainable for layer in model.get_layer("stack").layers)
    assert model.get_layer("inner").trainable is True
    trained = {v.path for v in model.trainable_weights}
    assert "shared/kernel" in trained and "inner_norm/gamma" in trained
    assert not any(path.startswith(("dense/", "dense_1/")) and "stack" in path
                   for path in trained)
    rng = _rng()
    x = [rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")]
    _assert_same_outputs(kmodel, model, x)


def test_functional_dict_inputs_and_frozen_model_match_keras(keras, tmp_path):
    layers = keras.layers
    a = keras.Input((3,), name="a")
    hidden = layers.Dense(4, activation="softplus", name="hidden")(a)
    kmodel = keras.Model({"a": a}, {"out": layers.Dense(1, name="out")(hidden)}, name="frozen")
    kmodel.trainable = False
    path = tmp_path / "dict.keras"
    kmodel.save(path)

    model = load_keras_model(path)

    assert model.trainable is False
    assert model.get_layer("hidden").trainable is False
    assert model.trainable_weights == []
    x = {"a": _rng().normal(size=(4, 3)).astype("float32")}
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)["out"]),
                               kmodel.predict(x, verbose=0)["out"], rtol=1e-5, atol=1e-6)


def test_compiled_and_trained_model_imports_weights_not_optimizer(keras, tmp_path):
    kmodel = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="out")])
    kmodel.compile("adam", "mse")
    kmodel.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    path = tmp_path / "trained.keras"
    kmodel.save(path)  # the file also holds optimizer variables, which are not imported
    model = load_keras_model(path)
    assert not model.compiled
    _assert_same_outputs(kmodel, model, np.eye(2, dtype="float32"))


def test_activations_lamina_imports_compute_what_keras_computes(keras):
    from lamina import activations

    x = np.linspace(-4, 4, 33, dtype="float32").reshape(3, 11)
    for name in sorted(keras_import._ACTIVATIONS):
        expected = np.asarray(keras.activations.get(name)(x))
        received = np.asarray(activations.get(name)(x))
        np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_initializers_map_by_name(keras, tmp_path):
    init = keras.initializers
    kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
        2, kernel_initializer=init.VarianceScaling(2.0, "fan_in", "uniform"),
        bias_initializer=init.RandomNormal(stddev=0.1, seed=3), name="d")])
    path = tmp_path / "init.keras"
    kmodel.save(path)
    dense = load_keras_model(path).get_layer("d")
    assert isinstance(dense.kernel_initializer, lm.initializers.HeUniform)
    assert isinstance(dense.bias_initializer, lm.initializers.RandomNormal)
    assert (dense.bias_initializer.stddev, dense.bias_initializer.seed) == (0.1, 3)


def test_unsupported_layer_and_option_are_refused_by_name(keras, tmp_path):
    path = tmp_path / "augmix.keras"  # a Keras layer lamina does not have
    keras.Sequential([keras.Input((4, 4, 3)), keras.layers.AugMix()]).save(path)
    with pytest.raises(lm.LaminaError, match="AugMix") as info:
        load_keras_model(path)
    assert str(path) in str(info.value)

    path = tmp_path / "gated.keras"
    q = keras.Input((3, 4))
    keras.Model(q, keras.layers.MultiHeadAttention(2, 2, use_gate=True, name="reg")(q, q)).save(
        path)
    with pytest.raises(lm.LaminaError, match="use_gate") as info:
        load_keras_model(path)
    assert "'reg'" in str(info.value)


# -- files built by hand ------------------------------------------------------------------
def _dense_config(**overrides):
    config = {"name": "dense", "trainable": True, "units": 2, "activation": "linear",
              "use_bias": True}
    config.update(overrides)
    return {"module": "keras.layers", "class_name": "Dense", "config": config,
            "registered_name": None}


def _sequential_config(*layers):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "hand", "trainable": True, "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "x"}},
                *(layers or [_dense_config()])]}}


KERNEL = np.arange(6, dtype="float32").reshape(3, 2)
BIAS = np.array([0.5, -0.5], dtype="float32")


def _good_weights(f):
    group = f.create_group("layers/dense/vars")
    group.attrs["name"] = "dense"
    group["0"] = KERNEL
    group["1"] = BIAS


def _write(path, config=None, weights=_good_weights, raw_config=None):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        weights(f)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", raw_config if raw_config is not None
                    else json.dumps(config or _sequential_config()))
        zf.writestr("model.weights.h5", buffer.getvalue())
    return path


def _refused(path, *fragments):
    """The import fails with a lamina error whose message names the file and `fragments`."""
    with pytest.raises(lm.LaminaError) as info:
        load_keras_model(path)
    assert isinstance(info.value, lm.LaminaError)  # and nothing else leaks out
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_hand_built_file_loads(tmp_path):
    model = load_keras_model(_write(tmp_path / "ok.keras"))
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), x @ KERNEL + BIAS)


def test_external_link_is_refused(tmp_path):
    with h5py.File(tmp_path / "elsewhere.h5", "w") as other:
        other["kernel"] = KERNEL

    def weights(f):
        group = f.create_group("layers/dense/vars")
        group["0"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/kernel")
        group["1"] = BIAS

    _refused(_write(tmp_path / "elink.keras", weights=weights), "model.weights.h5",
             "/layers/dense/vars/0", "external link")


def test_soft_link_and_hard_link_alias_are_refused(tmp_path):
    def soft(f):
        _good_weights(f)
        f["layers/dense/alias"] = h5py.SoftLink("/layers/dense/vars/0")

    _refused(_write(tmp_path / "soft.keras", weights=soft), "/layers/dense/alias", "soft link")

    def cycle(f):
        _good_weights(f)
        f["layers/dense/vars/loop"] = f["layers/dense"]

    _refused(_write(tmp_path / "cycle.keras", weights=cycle), "hard links")


def test_external_storage_dataset_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(KERNEL.tobytes())

    def weights(f):
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", shape=(3, 2), dtype="float32",
                             external=[(str(secret), 0, KERNEL.nbytes)])
        group["1"] = BIAS

    _refused(_write(tmp_path / "external.keras", weights=weights), "/layers/dense/vars/0",
             "external files")


def test_virtual_dataset_is_refused(tmp_path):
    with h5py.File(tmp_path / "source.h5", "w") as other:
        other["kernel"] = KERNEL

    def weights(f):
        layout = h5py.VirtualLayout(shape=(3, 2), dtype="float32")
        layout[:] = h5py.VirtualSource(str(tmp_path / "source.h5"), "kernel", shape=(3, 2))
        group = f.create_group("layers/dense/vars")
        group.create_virtual_dataset("0", layout)
        group["1"] = BIAS

    _refused(_write(tmp_path / "virtual.keras", weights=weights), "/layers/dense/vars/0",
             "virtual dataset")


def test_declared_huge_dataset_is_refused(tmp_path):
    def weights(f):
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", shape=(10**12,), dtype="float32", chunks=(1024,))
        group["1"] = BIAS

    _refused(_write(tmp_path / "huge.keras", weights=weights), "/layers/dense/vars/0",
             "4,000,000,000,000 bytes")


def test_config_declaring_huge_layer_allocates_nothing(tmp_path):
    config = _sequential_config(_dense_config(units=10**9))
    _refused(_write(tmp_path / "bigconfig.keras", config=config), "'dense'", "would allocate")


def test_non_numeric_and_compressed_datasets_are_refused(tmp_path):
    def strings(f):
        _good_weights(f)
        f["layers/dense/note"] = "hello"

    _refused(_write(tmp_path / "str.keras", weights=strings), "/layers/dense/note",
             "non-numeric")

    def gzip(f):
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", data=KERNEL, compression="gzip")
        group["1"] = BIAS

    _refused(_write(tmp_path / "gzip.keras", weights=gzip), "/layers/dense/vars/0", "filter")


def test_unsupported_and_code_naming_classes_are_refused(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))
    conv = {"module": "keras.layers", "class_name": "Conv2D", "registered_name": None,
            "config": {"name": "conv", "filters": 2}}
    _refused(_write(tmp_path / "conv.keras", config=_sequential_config(conv)), "Conv2D")

    system = {"module": "os", "class_name": "system", "registered_name": None,
              "config": {"command": "echo pwned"}}
    _refused(_write(tmp_path / "system.keras", config=_sequential_config(system)), "os.system")
    _refused(_write(tmp_path / "system_root.keras", config=system), "os.system")

    custom = _dense_config()
    custom.update(module="evil.layers", registered_name="evil>Dense")
    _refused(_write(tmp_path / "custom.keras", config=_sequential_config(custom)), "evil")
    assert calls == []


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    def wrong_shape(f):
        group = f.create_group("layers/dense/vars")
        group["0"] = np.zeros((2, 2), "float32")
        group["1"] = BIAS

    _refused(_write(tmp_path / "shape.keras", weights=wrong_shape), "/layers/dense/vars/0",
             "(2, 2)")

    def missing(f):
        f.create_group("layers/dense/vars")["0"] = KERNEL

    _refused(_write(tmp_path / "missing.keras", weights=missing), "/layers/dense/vars")


@pytest.mark.parametrize("raw", [
    b"\xff\xfe not json",
    b"[" * 100_000,
    json.dumps({"class_name": "Sequential", "config": {"layers": 5}}).encode(),
    json.dumps({"class_name": "Sequential", "config": []}).encode(),
    json.dumps(_sequential_config(_dense_config(units="many"))).encode(),
    json.dumps(_sequential_config(_dense_config(activation={"class_name": "Lambda"}))).encode(),
    json.dumps(_sequential_config(_dense_config(kernel_initializer="orthogonal"))).encode(),
    json.dumps({"class_name": "Functional", "config": {
        "name": "f", "layers": [_dense_config() | {"inbound_nodes": [
            {"args": [{"class_name": "__keras_tensor__",
                       "config": {"keras_history": ["dense", 0, 0]}}]}]}],
        "input_layers": ["dense", 0, 0], "output_layers": ["dense", 0, 0]}}).encode(),
    json.dumps({"class_name": "Functional", "config": {
        "name": "f", "layers": [], "input_layers": [["x", "y"]], "output_layers": {}}}).encode(),
], ids=["not-utf8", "deep", "layers-not-list", "config-not-object", "units-not-int",
        "lambda-activation", "unknown-initializer", "cycle", "bad-history"])
def test_malformed_configs_are_refused(tmp_path, raw):
    _refused(_write(tmp_path / "bad.keras", raw_config=raw))


def test_broken_archives_are_refused(tmp_path):
    not_zip = tmp_path / "not_zip.keras"
    not_zip.write_bytes(b"definitely not a zip")
    _refused(not_zip, "zip")

    no_weights = tmp_path / "no_weights.keras"
    with zipfile.ZipFile(no_weights, "w") as zf:
        zf.writestr("config.json", json.dumps(_sequential_config()))
    _refused(no_weights, "model.weights.h5")

    not_h5 = tmp_path / "not_h5.keras"
    with zipfile.ZipFile(not_h5, "w") as zf:
        zf.writestr("config.json", json.dumps(_sequential_config()))
        zf.writestr("model.weights.h5", b"\x00" * 64)
    _refused(not_h5, "HDF5")

    path = _write(tmp_path / "limit.keras")
    with pytest.raises(lm.LaminaError, match="model.weights.h5"):
        load_keras_model(path, max_weights_bytes=100)
