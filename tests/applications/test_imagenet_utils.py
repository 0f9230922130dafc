"""lamina.applications.imagenet_utils against Keras 3's: preprocess_input for every mode,
data format and rank on numpy and jax inputs, decode_predictions with a local class index,
obtain_input_shape, and the shared `weights="imagenet"` path (a verified download from a
local origin: the right hash loads, a wrong one is refused)."""
import hashlib
import json
import os

import h5py
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.applications import imagenet_utils
from lamina.applications import weights as weights_lib
from lamina.errors import ConfigurationError, InputSpecError, SavingError

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
kutils = pytest.importorskip("keras.src.applications.imagenet_utils")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


def _images(rank, data_format, dtype="float32"):
    shape = (2, 5, 4, 3) if rank == 4 else (5, 4, 3)
    x = np.random.default_rng(0).uniform(0, 255, shape)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1 if rank == 4 else 0)
    return x.astype(dtype)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [3, 4])
def test_preprocess_input_numpy_is_keras_s_and_leaves_the_input_untouched(mode, data_format,
                                                                          rank):
    x = _images(rank, data_format)
    before = x.copy()
    ours = imagenet_utils.preprocess_input(x, data_format=data_format, mode=mode)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    expected = kutils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_jax_is_keras_s(mode, data_format):
    x = jnp.asarray(_images(4, data_format))
    ours = imagenet_utils.preprocess_input(x, data_format=data_format, mode=mode)
    assert isinstance(ours, type(x))
    expected = kutils.preprocess_input(x, data_format=data_format, mode=mode)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), rtol=1e-6, atol=1e-5)


def test_preprocess_input_of_integers_is_float_as_keras_s():
    x = _images(4, "channels_last", "uint8")
    ours = imagenet_utils.preprocess_input(x)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, kutils.preprocess_input(x.copy()), rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "other"}, "mode"), ({"data_format": "nchw"}, "data_format")])
def test_preprocess_input_refuses_unknown_options(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), **kwargs)


@pytest.fixture
def class_index(tmp_path, monkeypatch):
    """A local class index served through a file:// origin with its own hash; Keras reads the
    same index from its module global."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "served" / "imagenet_class_index.json"
    path.parent.mkdir()
    path.write_text(json.dumps(index))
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", path.as_uri())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH",
                        hashlib.md5(path.read_bytes()).hexdigest())
    monkeypatch.setattr(imagenet_utils, "_class_index", None)
    monkeypatch.setattr(kutils, "CLASS_INDEX", index)
    return tmp_path


def test_decode_predictions_is_keras_s(class_index):
    preds = np.random.default_rng(0).uniform(size=(3, 1000)).astype("float32")
    for top in (1, 5):
        ours = imagenet_utils.decode_predictions(preds, top=top)
        theirs = kutils.decode_predictions(preds, top=top)
        assert [[r[:2] for r in row] for row in ours] == [[r[:2] for r in row]
                                                          for row in theirs]
        np.testing.assert_array_equal([[r[2] for r in row] for row in ours],
                                      [[r[2] for r in row] for row in theirs])
    assert (class_index / "home" / "models" / "imagenet_class_index.json").is_file()
    assert imagenet_utils.decode_predictions(jnp.asarray(preds), top=2)[0][0][0] == (
        theirs[0][0][0])


def test_decode_predictions_refuses_other_shapes():
    with pytest.raises(InputSpecError, match=r"\(samples, 1000\), received shape \(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))


@pytest.mark.parametrize("args", [
    ((None, None, 3), 224, 32, "channels_last", True, None),
    ((64, 64, 3), 224, 32, "channels_last", True, "imagenet"),
    ((16, 16, 3), 224, 32, "channels_last", False, None),
    ((64, 64, 2), 224, 32, "channels_last", False, "imagenet"),
    ((3, 16, 40), 224, 32, "channels_first", False, None),
    ((64, 64), 224, 32, "channels_last", False, None),
])
def test_obtain_input_shape_refuses_what_keras_refuses(args):
    with pytest.raises(ValueError):
        kutils.obtain_input_shape(*args)
    with pytest.raises(ConfigurationError):
        imagenet_utils.obtain_input_shape(*args)


@pytest.mark.parametrize("args", [
    (None, 224, 32, "channels_last", True, None),
    (None, 224, 32, "channels_first", True, "imagenet"),
    (None, 224, 32, "channels_last", False, None),
    ((40, 48, 3), 224, 32, "channels_last", False, "imagenet"),
    ((224, 224, 3), 224, 32, "channels_last", True, "imagenet"),
    ((3, 64, 64), 224, 32, "channels_first", True, None),
])
def test_obtain_input_shape_returns_keras_s(args):
    assert tuple(imagenet_utils.obtain_input_shape(*args)) == tuple(
        kutils.obtain_input_shape(*args))


def test_correct_pad_is_keras_s():
    for shape in ((None, 7, 8, 3), (None, 6, 6, 3), (None, None, None, 3)):
        ours = imagenet_utils.correct_pad(lm.Input(shape[1:]), 3)
        assert ours == kutils.correct_pad(keras.Input(shape[1:]), 3)


def _tiny(lib):
    inp = lib.Input((3,))
    return lib.Model(inp, lib.layers.Dense(2, name="predictions")(inp), name="tiny")


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A Keras-written legacy weights file behind a file:// origin, and its md5."""
    from keras.src.legacy.saving import legacy_h5_format

    kmodel = _tiny(keras)
    path = tmp_path / "served" / "tiny_weights.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    return kmodel, path, hashlib.md5(path.read_bytes()).hexdigest()


def test_imagenet_weights_load_when_the_hash_matches(served, tmp_path):
    kmodel, path, md5 = served
    model = _tiny(lm)
    weights_lib.load(model, "imagenet", weights_lib.WeightsFile(path.name, path.as_uri(), md5))
    np.testing.assert_array_equal(np.asarray(model.weights[0]), np.asarray(kmodel.weights[0]))
    assert (tmp_path / "home" / "models" / path.name).is_file()


def test_imagenet_weights_with_a_wrong_hash_are_refused_and_not_cached(served, tmp_path):
    _, path, _ = served
    model = _tiny(lm)
    before = np.asarray(model.weights[0]).copy()
    with pytest.raises(SavingError, match="hash"):
        weights_lib.load(model, "imagenet",
                         weights_lib.WeightsFile(path.name, path.as_uri(), "0" * 32))
    np.testing.assert_array_equal(np.asarray(model.weights[0]), before)
    assert not (tmp_path / "home" / "models" / path.name).exists()


def test_weights_arguments_are_checked():
    with pytest.raises(ConfigurationError, match="received 3"):
        weights_lib.check_weights_argument("net", 3, True, 1000)
    with pytest.raises(ConfigurationError, match="does not exist"):
        weights_lib.load(_tiny(lm), "nowhere.h5", None)
    with pytest.raises(ConfigurationError, match="no published ImageNet weights"):
        weights_lib.load(_tiny(lm), "imagenet", None)
