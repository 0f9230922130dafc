"""Xception against Keras 3's `keras.applications.Xception`: structure, parameter counts,
output shapes and predictions with Keras's weights files (Keras 3 `.weights.h5` and the legacy
layer-keyed `.h5`), the published files, preprocessing and the argument checks."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina.applications import xception

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")

from keras_parity import (  # noqa: E402
    check_loads,
    images,
    keras_model,
    requested_files,
    save_keras3,
    save_legacy,
)

CONFIGS = {
    "notop": dict(include_top=False, input_shape=(71, 71, 3)),
    "notop_avg": dict(include_top=False, input_shape=(80, 71, 3), pooling="avg"),
    "top_6": dict(include_top=True, input_shape=(71, 71, 3), classes=6),
}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


@pytest.mark.parametrize("config", ["notop_avg", "top_6"])
def test_keras3_weights_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "Xception", **kwargs)
    path = save_keras3(kmodel, tmp_path / "xception.weights.h5")
    x = xception.preprocess_input(images(kwargs["input_shape"]))
    check_loads(xception.Xception, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("config", ["notop"])
def test_legacy_h5_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "Xception", **kwargs)
    path = save_legacy(kmodel, tmp_path / "xception.h5")
    x = xception.preprocess_input(images(kwargs["input_shape"]))
    check_loads(xception.Xception, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("include_top", [False, True])
def test_imagenet_asks_for_keras_published_file(keras, monkeypatch, include_top):
    kwargs = dict(include_top=include_top, pooling="max")
    if not include_top:
        kwargs["input_shape"] = (71, 71, 3)
    keras_file, lamina_file = requested_files(keras, monkeypatch, "Xception",
                                              xception.Xception, **kwargs)
    assert keras_file == lamina_file
    published = xception.WEIGHTS if include_top else xception.WEIGHTS_NO_TOP
    assert lamina_file == (published.fname, published.origin, published.file_hash)


def test_preprocess_input_is_keras(keras):
    x = images((5, 4, 3))
    np.testing.assert_allclose(xception.preprocess_input(x),
                               keras.applications.xception.preprocess_input(x.copy()),
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(include_top=False, input_shape=(70, 100, 3), weights=None), "at least 71x71"),
    (dict(include_top=True, weights="imagenet", input_shape=(224, 224, 3)), "299, 299, 3"),
])
def test_arguments_refused_before_building(kwargs, match):
    with pytest.raises(lm.ConfigurationError, match=match):
        xception.Xception(**kwargs)
