"""Keras files written by lamina, beyond the catalogue: trainable flags, what Keras cannot
express (refused before anything is written), file names (`.keras`, legacy `.h5`,
`.weights.h5`, `ModelCheckpoint`), Keras 3's weights-only file both ways, atomic writes."""
import os
import warnings

import numpy as np
import pytest

import lamina as lm
from lamina.callbacks import ModelCheckpoint

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
L = lm.layers
X = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def small(name=None):
    return lm.Sequential([lm.Input((4,)), L.Dense(3, activation="relu"), L.Dense(2)],
                         name=name)


def _signature(weights):
    return sorted((tuple(np.shape(w)), round(float(np.sum(np.asarray(w))), 4))
                  for w in weights)


# -- trainable flags ----------------------------------------------------------------------
def test_keras_trains_the_weights_lamina_trains(keras, tmp_path):
    """lamina's gate (a frozen nested model, a frozen layer, a frozen BatchNormalization)
    written so that Keras's trainable_weights after loading are lamina's; the imported
    model's own flags are those written (a layer under a frozen model reads False)."""
    inner = lm.Sequential([lm.Input((4,)), L.Dense(4), L.Dense(4)], name="inner")
    inner.trainable = False
    inp = lm.Input((4,))
    bn = L.BatchNormalization(trainable=False)
    model = lm.Model(inp, L.Dense(2, name="head")(bn(L.Dense(4, name="mid")(inner(inp)))))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert _signature(loaded.trainable_weights) == _signature(model.trainable_weights)
    assert (_signature(loaded.non_trainable_weights)
            == _signature(model.non_trainable_weights))
    imported = lm.models.load_model(tmp_path / "m.keras")
    assert [v.path for v in imported.trainable_weights] == [
        v.path for v in model.trainable_weights]
    assert [layer.trainable for layer in imported.layers[1].layers] == [False, False]


def test_a_root_with_trainable_false_is_written_frozen(keras, tmp_path):
    model = small()
    model.trainable = False
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").trainable_weights == []


# -- what Keras cannot express ------------------------------------------------------------
def _refused(model, tmp_path, *fragments, lamina_saves=True):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "m.keras"
    with pytest.raises(lm.SavingError) as info:
        model.save(path)
    for fragment in (*fragments, ".lamina"):
        assert fragment in str(info.value)
    assert not path.exists() and os.listdir(tmp_path) == []
    if lamina_saves:
        model.save(tmp_path / "m.lamina")  # lamina's own format keeps it


def test_scoped_freeze_is_refused(tmp_path):
    d = small("d")
    inp = lm.Input((4,))
    combined = lm.Model(inp, d(inp), name="combined")
    combined.freeze(d)
    _refused(combined, tmp_path, "model 'combined'", "'d'", "model.freeze")


def test_lamina_only_option_is_refused(tmp_path):
    model = lm.Sequential([lm.Input((4,)), L.BatchNormalization(train_when_frozen=True)])
    _refused(model, tmp_path, "train_when_frozen=True", "batch_normalization")


def test_variable_flag_is_refused(tmp_path):
    model = small()
    model.layers[0].kernel.trainable = False
    _refused(model, tmp_path, "dense/kernel", "trainable flag")


def test_lambda_custom_and_subclassed_are_refused(tmp_path):
    @lm.saving.register_function
    def double(x):
        return 2 * x

    _refused(lm.Sequential([lm.Input((4,)), L.Lambda(double)]), tmp_path / "a", "Lambda")

    class Scaled(L.Dense):
        pass

    _refused(lm.Sequential([lm.Input((4,)), Scaled(2)]), tmp_path / "b",
             "custom or subclassed", "Scaled", lamina_saves=False)

    class Net(lm.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(X)
    with pytest.raises(lm.SavingError, match="subclassed model"):
        net.save(tmp_path / "net.keras")


def test_compile_settings_keras_cannot_take_are_left_out_with_a_warning(keras, tmp_path):
    model = small()
    model.compile(optimizer=lm.optimizers.Adagrad(), loss="mse")
    model.fit(X, X[:, :2], verbose=0)
    with pytest.warns(UserWarning, match="Adagrad.*uncompiled"):
        model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert not loaded.compiled
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)


def test_lamina_compiles_a_keras_file_as_keras_does(keras, tmp_path):
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    kmodel.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    kmodel.save(tmp_path / "k.keras")
    model = lm.models.load_model(tmp_path / "k.keras")
    assert type(model.optimizer) is lm.optimizers.SGD
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    assert model.optimizer.momentum == 0.5
    labels = np.array([0, 2, 1])
    logs = model.evaluate(X, labels, return_dict=True, verbose=0)
    expected = kmodel.evaluate(X, labels, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert logs["accuracy"] == pytest.approx(expected["accuracy"])
    kmodel.compile(optimizer=keras.optimizers.Adam(loss_scale_factor=2.0), loss="mse")
    kmodel.save(tmp_path / "scaled.keras")
    with pytest.raises(lm.SavingError, match="loss_scale_factor=2.0"):
        lm.models.load_model(tmp_path / "scaled.keras")


# -- file names ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["m.h5", "m.hdf5"])
def test_h5_model_names_get_keras_legacy_hdf5_never_a_zip(keras, tmp_path, name):
    """Keras's legacy HDF5 model file: weights in Keras's legacy order (trainable, then
    non-trainable, per top-level layer), through a frozen nested model and a BatchNorm."""
    h5py = pytest.importorskip("h5py")
    inner = lm.Sequential([lm.Input((4,)), L.Dense(4), L.BatchNormalization()], name="inner")
    inner.trainable = False
    inp = lm.Input((4,))
    model = lm.Model(inp, L.Dense(2)(L.BatchNormalization()(inner(inp))))
    for variable in model.weights:
        variable.assign(np.random.default_rng(3).uniform(0.5, 1.5, variable.shape))
    model.compile(optimizer="adam", loss="mse")
    with pytest.warns(UserWarning, match="uncompiled"):
        model.save(tmp_path / name)
    with h5py.File(tmp_path / name, "r") as f:
        assert "model_config" in f.attrs and "model_weights" in f
    loaded = keras.models.load_model(tmp_path / name)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)
    assert _signature(loaded.trainable_weights) == _signature(model.trainable_weights)
    with pytest.raises(lm.SavingError, match="legacy .h5 model format.*'.keras'"):
        lm.models.load_model(tmp_path / name)


def test_a_weights_h5_name_for_a_whole_model_is_refused(tmp_path):
    with pytest.raises(lm.SavingError, match="save_weights"):
        small().save(tmp_path / "m.weights.h5")
    assert os.listdir(tmp_path) == []


def test_h5_weights_names_other_than_weights_h5_are_refused(tmp_path):
    with pytest.raises(lm.SavingError, match=r"'<name>\.weights\.h5'"):
        small().save_weights(tmp_path / "w.h5")
    assert os.listdir(tmp_path) == []


def test_weights_h5_goes_both_ways_with_keras(keras, tmp_path):
    model = small()
    model.save(tmp_path / "m.keras")
    kmodel = keras.models.load_model(tmp_path / "m.keras")
    for variable in model.weights:
        variable.assign(variable.value + 1.0)
    model.save_weights(tmp_path / "lamina.weights.h5")
    kmodel.load_weights(tmp_path / "lamina.weights.h5")
    np.testing.assert_allclose(kmodel.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)
    kmodel.set_weights([w * 0.5 for w in kmodel.get_weights()])
    kmodel.save_weights(tmp_path / "keras.weights.h5")
    assert model.load_weights(tmp_path / "keras.weights.h5") == {
        "missing": [], "unexpected": [], "mismatched": []}
    np.testing.assert_allclose(model.predict(X, verbose=0), kmodel.predict(X, verbose=0),
                               atol=1e-6)


def test_weights_h5_of_another_model_is_refused_or_reported(tmp_path):
    small().save_weights(tmp_path / "w.weights.h5")
    other = lm.Sequential([lm.Input((4,)), L.Dense(3), L.Dense(5)])
    before = other.get_weights()
    with pytest.raises(lm.SavingError, match="w.weights.h5.*shape"):
        other.load_weights(tmp_path / "w.weights.h5")
    for kept, original in zip(other.get_weights(), before, strict=True):
        np.testing.assert_array_equal(kept, original)  # the first layer matched: not applied
    report = other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    assert report["mismatched"] == ["layers/dense_1"]


def test_model_checkpoint_routes_by_name_like_keras(keras, tmp_path):
    for filepath, weights_only in (("best.weights.h5", False), ("w.h5", True),
                                   ("m.keras", True)):
        with pytest.raises(lm.ConfigurationError, match="ModelCheckpoint"):
            ModelCheckpoint(str(tmp_path / filepath), save_weights_only=weights_only)
    model = small()
    model.compile(optimizer="adam", loss="mse")
    with pytest.warns(UserWarning, match="legacy HDF5 format is written uncompiled"):
        _fit_with_checkpoints(model, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["best.h5", "m-1.keras", "m-2.keras",
                                            "w-1.weights.h5", "w-2.weights.h5"]
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "best.h5").predict(X, verbose=0),
        model.predict(X, verbose=0), atol=1e-6)
    loaded = keras.models.load_model(tmp_path / "m-2.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)
    loaded.load_weights(tmp_path / "w-2.weights.h5")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)


def _fit_with_checkpoints(model, tmp_path):
    model.fit(X, X[:, :2], epochs=2, verbose=0, callbacks=[
        ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"), monitor="loss"),
        ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"), monitor="loss",
                        save_weights_only=True),
        ModelCheckpoint(str(tmp_path / "best.h5"), monitor="loss", save_best_only=True)])


def test_a_failed_keras_save_leaves_the_existing_file(tmp_path):
    path = tmp_path / "m.keras"
    small().save(path)
    before = path.read_bytes()
    model = small()
    model.layers[0].kernel.trainable = False
    with pytest.raises(lm.SavingError):
        model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
