"""`model.load_weights("x.h5")` on Keras's legacy layer-keyed HDF5 weights (the layout
`keras.applications` downloads): files written by Keras itself
(`legacy_h5_format.save_weights_to_hdf5_group`), Keras 2's `name:0` weight names, the
`model_weights` group of a model file, matching by order as Keras 3 does, and the refusals."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina.errors import SavingError

os.environ.setdefault("KERAS_BACKEND", "jax")
h5py = pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
X = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def build(lib, names=("conv", "bn", "head"), filters=4):
    inp = lib.Input((6, 6, 3))
    x = lib.layers.Conv2D(filters, 3, name=names[0])(inp)
    x = lib.layers.BatchNormalization(name=names[1])(x)
    x = lib.layers.ReLU()(x)
    x = lib.layers.GlobalAveragePooling2D()(x)
    return lib.Model(inp, lib.layers.Dense(5, name=names[2])(x))


def keras_file(keras, path, model):
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory):
    """A Keras model with moved BatchNormalization statistics, and its legacy file."""
    keras.utils.set_random_seed(1)
    model = build(keras)
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.linspace(-1, 1, 4).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 2, 4).astype("float32"))
    path = tmp_path_factory.mktemp("legacy") / "keras.h5"
    keras_file(keras, path, model)
    return model, path


def test_a_keras_legacy_file_loads_and_predicts_as_keras(saved):
    kmodel, path = saved
    model = build(lm)
    assert model.load_weights(path) == {"missing": [], "unexpected": [], "mismatched": []}
    for ours, theirs in zip(model.weights, kmodel.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    np.testing.assert_allclose(model.predict(X, verbose=0), kmodel.predict(X, verbose=0),
                               atol=1e-5)


def test_layers_are_matched_by_order_not_name_as_keras_does(keras, saved):
    kmodel, path = saved
    renamed_keras = build(keras, names=("a", "b", "c"))
    renamed_keras.load_weights(path)
    model = build(lm, names=("a", "b", "c"))
    model.load_weights(path)
    for ours, theirs in zip(model.weights, renamed_keras.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_keras2_names_with_colons_and_hdf5_suffix(saved, tmp_path):
    """The published files come from Keras 2: weight names `conv/kernel:0` (nested groups)."""
    kmodel, _ = saved
    path = tmp_path / "keras2.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.asarray([layer.name.encode() for layer in kmodel.layers])
        f.attrs["keras_version"] = b"2.2.4"
        for layer in kmodel.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
            group.attrs["weight_names"] = np.asarray(names, dtype="S")
            for name, w in zip(names, layer.weights, strict=True):
                group.create_dataset(name.decode(), data=np.asarray(w))
    model = build(lm)
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(X, verbose=0), kmodel.predict(X, verbose=0),
                               atol=1e-5)


def test_the_model_weights_group_of_a_legacy_model_file(keras, tmp_path):
    source = build(lm)
    source.get_layer("head").kernel.assign(np.ones((4, 5), "float32"))
    source.save(tmp_path / "model.h5")
    model = build(lm)
    model.load_weights(tmp_path / "model.h5")
    for ours, theirs in zip(model.weights, source.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    reference = build(keras)
    reference.load_weights(tmp_path / "model.h5")  # Keras reads the same group
    np.testing.assert_allclose(reference.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-5)


def test_a_shape_mismatch_names_the_layer_and_both_shapes_and_changes_nothing(saved):
    _, path = saved
    model = build(lm, filters=3)
    before = [np.asarray(w).copy() for w in model.weights]
    with pytest.raises(SavingError, match=r"layer #0 \('conv' in model .*'conv' in the "
                       r"file\): weight 'conv/kernel' expects shape \(3, 3, 3, 3\), .*has "
                       r"shape \(3, 3, 3, 4\)"):
        model.load_weights(path)
    for value, w in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(value, np.asarray(w))


def test_skip_mismatch_loads_the_others_and_reports_the_skipped(saved):
    kmodel, path = saved
    model = build(lm, filters=3)
    with pytest.warns(UserWarning, match="Skipped"):
        report = model.load_weights(path, skip_mismatch=True)
    assert set(report["mismatched"]) >= {"conv/kernel", "conv/bias", "bn/gamma"}
    np.testing.assert_array_equal(np.asarray(model.get_layer("head").bias),
                                  np.asarray(kmodel.get_layer("head").bias))


def test_a_layer_count_mismatch_is_refused(saved):
    _, path = saved
    inp = lm.Input((6, 6, 3))
    model = lm.Model(inp, lm.layers.Conv2D(4, 3, name="conv")(inp))
    with pytest.raises(SavingError, match=r"holds weights for 3 layers \('conv', 'bn', "
                       r"'head'\); model .* has 1 layers with weights"):
        model.load_weights(path)


def test_names_that_are_not_strings_are_refused(tmp_path):
    path = tmp_path / "numbers.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.arange(3)
    with pytest.raises(SavingError, match=r"numbers.h5'.*attribute 'layer_names' of type"):
        build(lm).load_weights(path)


def test_a_listed_dataset_that_is_absent_is_refused(saved, tmp_path):
    path = tmp_path / "holed.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.asarray([b"conv"])
        f.create_group("conv").attrs["weight_names"] = np.asarray([b"conv/kernel:0"])
    with pytest.raises(SavingError, match=r"conv/conv/kernel:0' is listed in 'weight_names' "
                       "but the file has no such dataset"):
        build(lm).load_weights(path)


def branchy(lib):
    """A shortcut built before the main branch: Keras lists (and numbers) the layers by
    depth, not in call order."""
    inp = lib.Input((4,))
    shortcut = lib.layers.Dense(3, name="shortcut")(inp)
    x = lib.layers.Dense(5, name="first")(inp)
    x = lib.layers.Dense(3, name="second")(x)
    return lib.Model(inp, lib.layers.Add(name="join")([shortcut, x]))


def test_weight_files_follow_keras_s_layer_order_where_branches_join(keras, tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 4)).astype("float32")
    kmodel, model = branchy(keras), branchy(lm)
    assert [layer.name for layer in model.layers][1:] == [
        layer.name for layer in kmodel.layers][1:]
    kmodel.save_weights(tmp_path / "k.weights.h5")
    keras_file(keras, tmp_path / "k.h5", kmodel)
    for name in ("k.weights.h5", "k.h5"):
        fresh = branchy(lm)
        fresh.load_weights(tmp_path / name)
        np.testing.assert_allclose(fresh.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                                   atol=1e-6, err_msg=name)
    model.save_weights(tmp_path / "l.weights.h5")
    kmodel.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(kmodel.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
