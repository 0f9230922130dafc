"""DenseNet121 (and DenseNet169 / DenseNet201, the same blocks) against Keras 3's
`keras.applications.densenet`: structure, parameter counts, output shapes and predictions
with Keras's weights files (Keras 3 `.weights.h5` and the legacy layer-keyed `.h5`), the
published files, preprocessing and the argument checks."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina.applications import densenet

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
    "top_7": dict(include_top=True, input_shape=(32, 32, 3), classes=7),
}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


@pytest.mark.parametrize("config", ["notop_avg", "top_7"])
def test_keras3_weights_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "DenseNet121", **kwargs)
    path = save_keras3(kmodel, tmp_path / "densenet121.weights.h5")
    x = densenet.preprocess_input(images(kwargs["input_shape"]))
    check_loads(densenet.DenseNet121, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("config", ["notop"])
def test_legacy_h5_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "DenseNet121", **kwargs)
    path = save_legacy(kmodel, tmp_path / "densenet121.h5")
    x = densenet.preprocess_input(images(kwargs["input_shape"]))
    check_loads(densenet.DenseNet121, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("constructor", ["DenseNet169", "DenseNet201"])
def test_deeper_variants_are_keras_structure(keras, constructor):
    kwargs = dict(include_top=True, input_shape=(32, 32, 3), classes=5)
    kmodel = keras_model(keras, constructor, **kwargs)
    lm.reset_names()
    check_same_model(getattr(densenet, constructor)(weights=None, **kwargs), kmodel)


@pytest.mark.parametrize("include_top", [False, True])
def test_imagenet_asks_for_keras_published_file(keras, monkeypatch, include_top):
    kwargs = dict(include_top=include_top)
    if not include_top:
        kwargs["input_shape"] = (32, 32, 3)
    keras_file, lamina_file = requested_files(keras, monkeypatch, "DenseNet121",
                                              densenet.DenseNet121, **kwargs)
    assert keras_file == lamina_file
    published = (densenet.WEIGHTS if include_top else densenet.WEIGHTS_NO_TOP)["densenet121"]
    assert lamina_file == (published.fname, published.origin, published.file_hash)


def test_published_files_of_every_variant_are_keras(keras):
    """Keras's module constants give the URLs; its source holds each hash beside the file."""
    import inspect

    from keras.src.applications import densenet as keras_densenet

    source = inspect.getsource(keras_densenet.DenseNet)
    for key in densenet.BLOCKS:
        top, notop = densenet.WEIGHTS[key], densenet.WEIGHTS_NO_TOP[key]
        assert top.origin == getattr(keras_densenet, f"{key.upper()}_WEIGHT_PATH")
        assert notop.origin == getattr(keras_densenet, f"{key.upper()}_WEIGHT_PATH_NO_TOP")
        for published in (top, notop):
            call = source[source.index(f'"{published.fname}"'):]
            assert f'file_hash="{published.file_hash}"' in call[:call.index(")")]


def test_preprocess_input_is_keras(keras):
    x = images((5, 4, 3))
    np.testing.assert_allclose(densenet.preprocess_input(x),
                               keras.applications.densenet.preprocess_input(x.copy()),
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(pooling="sum", include_top=False), "pooling"),
    (dict(weights="imagenet", classes=10), "classes=1000"),
    (dict(include_top=False, input_shape=(64, 16, 3), weights=None), "at least 32x32"),
    (dict(include_top=True, input_shape=(None, None, 3), weights=None), "static"),
])
def test_arguments_refused_before_building(kwargs, match):
    with pytest.raises(lm.ConfigurationError, match=match):
        densenet.DenseNet121(**kwargs)


def test_channels_first_refused_as_keras_does():
    lm.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(lm.ConfigurationError, match="channels-last"):
            densenet.DenseNet121(weights=None, include_top=False)
    finally:
        lm.config.set_image_data_format("channels_last")
