"""Export to Keras 3 `.keras` files: every model of the catalogue, written by lamina, opened
by `keras.models.load_model` (the independent reference) with the same predictions, and
read back by lamina's own importer. Weights are randomised first (BatchNormalization's moving
statistics included) so that a weight put in the wrong place shows."""
import json
import os
import zipfile

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
L = lm.layers


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        name = variable.path.rsplit("/", 1)[-1]
        shape = tuple(variable.shape)
        value = (rng.uniform(0.5, 1.5, shape) if name in ("moving_variance", "gamma")
                 else rng.normal(0, 0.5, shape))
        variable.assign(value.astype(variable.dtype))


def assert_same(expected, received):
    if not isinstance(expected, (list, tuple)):
        expected, received = [expected], [received]
    assert len(expected) == len(received)
    for e, r in zip(expected, received, strict=True):
        np.testing.assert_allclose(np.asarray(r), np.asarray(e), rtol=1e-5, atol=1e-6)


# -- the catalogue ------------------------------------------------------------------------
def _x(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=(2, *shape)).astype("float32")


def mlp():
    model = lm.Sequential([lm.Input((4,)), L.Dense(8, activation="relu"), L.Dropout(0.3),
                           L.BatchNormalization(), L.Dense(3, activation="softmax")])
    return model, _x(4)


def convnet():
    model = lm.Sequential([
        lm.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same", activation="relu"),
        L.BatchNormalization(), L.MaxPooling2D(), L.SeparableConv2D(4, 2),
        L.DepthwiseConv2D(2), L.Conv2DTranspose(3, 2, strides=2), L.ZeroPadding2D(1),
        L.Cropping2D(1), L.AveragePooling2D(), L.GroupNormalization(groups=3),
        L.UpSampling2D(), L.SpatialDropout2D(0.2), L.GlobalAveragePooling2D(),
        L.Dense(2)])
    return model, _x(8, 8, 3)


def sequences():
    inp = lm.Input((5,), dtype="int32")
    x = L.Embedding(12, 4)(inp)
    x = L.Bidirectional(L.LSTM(3, return_sequences=True))(x)
    x = L.GRU(4, return_sequences=True)(x)
    x = L.TimeDistributed(L.Dense(3))(x)
    x = L.SimpleRNN(3, return_sequences=True)(x)
    x = L.Conv1D(2, 2)(x)
    x = L.MaxPooling1D()(x)
    out = L.GlobalMaxPooling1D()(L.UpSampling1D(2)(x))
    ids = np.random.default_rng(2).integers(0, 12, (2, 5)).astype("int32")
    return lm.Model(inp, out), ids


def attention():
    query, value = lm.Input((4, 6)), lm.Input((3, 5))
    attended = L.MultiHeadAttention(num_heads=2, key_dim=3)(query, value)
    x = L.LayerNormalization()(L.Add()([query, attended]))
    x = L.Attention()([x, x])
    out = L.Dense(2, activation="gelu")(L.Flatten()(x))
    return lm.Model([query, value], out), [_x(4, 6), _x(3, 5, seed=3)]


def shared_multi_io():
    a, b = lm.Input((4,), name="a"), lm.Input((4,), name="b")
    shared = L.Dense(5, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    merged = L.Concatenate()([ha, hb, L.Subtract()([ha, hb]), L.Multiply()([ha, hb]),
                              L.Average()([ha, hb]), L.Maximum()([ha, hb]),
                              L.Minimum()([ha, hb])])
    out1 = L.Dense(2, name="out1")(merged)
    out2 = L.Dot(axes=1)([ha, hb])
    return lm.Model({"a": a, "b": b}, [out1, out2]), {"a": _x(4), "b": _x(4, seed=4)}


def nested():
    inner = lm.Sequential([lm.Input((4,)), L.Dense(4, activation="elu"), L.PReLU()])
    core_in = lm.Input((4,))
    core = lm.Model(core_in, L.LeakyReLU(0.2)(L.Dense(4)(core_in)), name="core")
    inp = lm.Input((4,))
    x = core(inner(inp))
    x = L.Reshape((2, 2))(x)
    x = L.Permute((2, 1))(x)
    x = L.Flatten()(x)
    x = L.RepeatVector(2)(x)
    x = L.Flatten()(L.ReLU()(x))
    outer = lm.Sequential([lm.Input((8,)), L.Dense(3), L.Softmax()])
    return lm.Model(inp, outer(L.Rescaling(0.5)(x))), _x(4)


def masks_and_more():
    ids = lm.Input((5,), dtype="int32", name="ids")
    seq = L.GlobalAveragePooling1D()(L.LSTM(3, return_sequences=True)(
        L.Embedding(10, 4, mask_zero=True)(ids)))
    steps = lm.Input((4, 3), name="steps")
    y = L.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])(L.GRU(2)(L.Masking(0.0)(steps)))
    y = L.Identity()(L.UnitNormalization()(L.ActivityRegularization(0.01)(
        L.AlphaDropout(0.1)(L.GaussianNoise(0.1)(y)))))
    y = L.Dense(2, kernel_constraint="max_norm", bias_regularizer=lm.regularizers.L1L2(0.1, 0.2),
                kernel_initializer=lm.initializers.RandomNormal(0.0, 0.1),
                activation="swish")(y)
    cube = lm.Input((4, 4, 4, 2), name="cube")
    c = L.GlobalMaxPooling3D()(L.MaxPooling3D()(L.Conv3D(2, 2)(cube)))
    line = lm.Input((6, 2), name="line")
    f = L.Flatten()(L.SpatialDropout1D(0.1)(L.Cropping1D(1)(L.ZeroPadding1D(1)(
        L.AveragePooling1D()(L.SeparableConv1D(2, 2)(L.DepthwiseConv1D(2)(
            L.Conv1DTranspose(2, 2)(line))))))))
    model = lm.Model([ids, steps, cube, line], L.Concatenate()([seq, y, c, f]))
    padded = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 0]], "int32")
    steps_x = _x(4, 3)
    steps_x[0, 2:] = 0.0
    return model, [padded, steps_x, _x(4, 4, 4, 2), _x(6, 2)]


CATALOGUE = {"mlp": mlp, "masks_and_more": masks_and_more, "convnet": convnet,
             "sequences": sequences, "attention": attention,
             "shared_multi_io": shared_multi_io, "nested": nested}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_keras_loads_what_lamina_writes_with_the_same_predictions(keras, tmp_path, name):
    model, x = CATALOGUE[name]()
    randomize(model)
    path = tmp_path / "model.keras"
    model.save(path)
    expected = model.predict(x, verbose=0)
    assert_same(expected, keras.models.load_model(path).predict(x, verbose=0))
    imported = lm.models.load_model(path)
    assert_same(expected, imported.predict(x, verbose=0))
    assert [v.path for v in imported.weights] == [v.path for v in model.weights]


def test_the_file_has_keras_members_and_serialization_format(tmp_path):
    model, _ = mlp()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["keras_version"].startswith("3.")
    assert {"module", "class_name", "config", "registered_name", "build_config",
            "compile_config"} <= set(config)
    dense = config["config"]["layers"][1]
    assert (dense["module"], dense["class_name"]) == ("keras.layers", "Dense")
    assert dense["config"]["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert dense["config"]["dtype"]["class_name"] == "DTypePolicy"


# -- compile config and optimizer state ---------------------------------------------------
def _slots(optimizer):
    return [np.asarray(v) for v in optimizer.variables]


@pytest.mark.parametrize("make", [
    lambda: lm.optimizers.Adam(0.01, beta_1=0.8),
    lambda: lm.optimizers.AdamW(0.02, weight_decay=0.01),
    lambda: lm.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: lm.optimizers.RMSprop(0.01, rho=0.8),
], ids=["adam", "adamw", "sgd_momentum", "rmsprop"])
def test_compile_config_and_optimizer_state_reach_keras(keras, tmp_path, make):
    """Keras reads the optimizer, loss and metrics, and the state lamina's steps built equals
    the state Keras's own steps build from the same start (the reference: the untrained model,
    loaded in Keras and trained there)."""
    inner = lm.Sequential([lm.Input((3,)), L.Dense(4, activation="relu")], name="inner")
    frozen = L.Dense(4, name="frozen", trainable=False)
    inp = lm.Input((3,))
    model = lm.Model(inp, L.Dense(2, name="head")(frozen(inner(inp))))
    optimizer = make()
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    x, y = _x(3), _x(2, seed=5)
    model.save(tmp_path / "start.keras")
    model.fit(x, y, epochs=3, verbose=0)
    model.save(tmp_path / "trained.keras")
    loaded = keras.models.load_model(tmp_path / "trained.keras")
    kopt = loaded.optimizer
    assert type(kopt).__name__ == type(optimizer).__name__
    assert float(kopt.learning_rate) == pytest.approx(optimizer.learning_rate)
    assert loaded.loss == "mse"
    assert int(kopt.iterations) == 3
    reference = keras.models.load_model(tmp_path / "start.keras")
    reference.fit(x, y, epochs=3, shuffle=False, verbose=0)
    received, expected = _slots(kopt), _slots(reference.optimizer)
    assert len(received) == len(expected) == 2 + len(model.trainable_weights) * (
        2 if "Adam" in type(optimizer).__name__ else 1)
    for r, e in zip(received, expected, strict=True):
        np.testing.assert_allclose(r, e, rtol=1e-3, atol=1e-6)
    for r, e in zip(loaded.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(r, e, rtol=1e-3, atol=1e-5)
