"""ResNet50V2 (and ResNet101V2 / ResNet152V2, the same blocks) against Keras 3's
`keras.applications.resnet_v2`: structure, parameter counts, output shapes and predictions
with Keras's weights files (Keras 3 `.weights.h5` and the legacy layer-keyed `.h5`), the
published files, preprocessing and the argument checks."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina.applications import resnet_v2

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")

from keras_parity import (  # noqa: E402
    check_loads,
    check_same_model,
    images,
    keras_model,
    requested_files,
    save_keras3,
    save_legacy,
)

CONFIGS = {
    "notop": dict(include_top=False, input_shape=(32, 32, 3)),
    "notop_avg": dict(include_top=False, input_shape=(40, 48, 3), pooling="avg"),
    "notop_max": dict(include_top=False, input_shape=(32, 32, 3), pooling="max"),
    "top_7": dict(include_top=True, input_shape=(32, 32, 3), classes=7),
}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


@pytest.mark.parametrize("config", ["notop_avg", "notop_max", "top_7"])
def test_keras3_weights_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "ResNet50V2", **kwargs)
    path = save_keras3(kmodel, tmp_path / "resnet50v2.weights.h5")
    x = resnet_v2.preprocess_input(images(kwargs["input_shape"]))
    check_loads(resnet_v2.ResNet50V2, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("config", ["notop", "top_7"])
def test_legacy_h5_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "ResNet50V2", **kwargs)
    path = save_legacy(kmodel, tmp_path / "resnet50v2.h5")
    x = resnet_v2.preprocess_input(images(kwargs["input_shape"]))
    check_loads(resnet_v2.ResNet50V2, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("constructor", ["ResNet101V2", "ResNet152V2"])
def test_deeper_variants_are_keras_structure(keras, constructor):
    kwargs = dict(include_top=True, input_shape=(32, 32, 3), classes=5)
    kmodel = keras_model(keras, constructor, **kwargs)
    lm.reset_names()
    check_same_model(getattr(resnet_v2, constructor)(weights=None, **kwargs), kmodel)


@pytest.mark.parametrize("include_top", [False, True])
def test_imagenet_asks_for_keras_published_file(keras, monkeypatch, include_top):
    kwargs = dict(include_top=include_top)
    if not include_top:
        kwargs["input_shape"] = (32, 32, 3)
    keras_file, lamina_file = requested_files(keras, monkeypatch, "ResNet50V2",
                                              resnet_v2.ResNet50V2, **kwargs)
    assert keras_file == lamina_file
    published = (resnet_v2.WEIGHTS if include_top else resnet_v2.WEIGHTS_NO_TOP)["resnet50v2"]
    assert lamina_file == (published.fname, published.origin, published.file_hash)


def test_published_files_of_deeper_variants_are_keras(keras):
    from keras.src.applications import resnet

    for key, published in resnet_v2.WEIGHTS.items():
        assert published.origin == resnet.BASE_WEIGHTS_PATH + published.fname
        assert published.file_hash == resnet.WEIGHTS_HASHES[key][0]
    for key, published in resnet_v2.WEIGHTS_NO_TOP.items():
        assert published.origin == resnet.BASE_WEIGHTS_PATH + published.fname
        assert published.fname.endswith("_notop.h5")
        assert published.file_hash == resnet.WEIGHTS_HASHES[key][1]


def test_preprocess_input_is_keras(keras):
    x = images((5, 4, 3))
    np.testing.assert_allclose(resnet_v2.preprocess_input(x),
                               keras.applications.resnet_v2.preprocess_input(x.copy()),
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(pooling="sum", include_top=False), "pooling"),
    (dict(weights="imagenet", classes=10), "classes=1000"),
    (dict(include_top=False, input_shape=(64, 16, 3), weights=None), "at least 32x32"),
    (dict(include_top=True, input_shape=(None, None, 3), weights=None), "static"),
])
def test_arguments_refused_before_building(kwargs, match):
    with pytest.raises(lm.ConfigurationError, match=match):
        resnet_v2.ResNet50V2(**kwargs)
