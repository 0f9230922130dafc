"""VGG16 against Keras 3's `keras.applications.VGG16`: structure, parameter counts, output
shapes and predictions with Keras's weights files (Keras 3 `.weights.h5` and the legacy
layer-keyed `.h5`), the published files, preprocessing and the argument checks."""
import os

import numpy as np
import pytest

import lamina as lm
from lamina.applications import vgg16

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
    "notop": dict(include_top=False, input_shape=(32, 32, 3)),
    "notop_avg": dict(include_top=False, input_shape=(48, 40, 3), pooling="avg"),
    "notop_max": dict(include_top=False, input_shape=(32, 32, 3), pooling="max"),
    "top_10_logits": dict(include_top=True, input_shape=(32, 32, 3), classes=10,
                          classifier_activation=None),
}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


@pytest.mark.parametrize("config", ["notop_avg", "notop_max", "top_10_logits"])
def test_keras3_weights_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "VGG16", **kwargs)
    path = save_keras3(kmodel, tmp_path / "vgg16.weights.h5")
    x = vgg16.preprocess_input(images(kwargs["input_shape"]))
    check_loads(vgg16.VGG16, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("config", ["notop", "top_10_logits"])
def test_legacy_h5_file_loads_with_keras_predictions(keras, tmp_path, config):
    kwargs = CONFIGS[config]
    kmodel = keras_model(keras, "VGG16", **kwargs)
    path = save_legacy(kmodel, tmp_path / "vgg16.h5")
    x = vgg16.preprocess_input(images(kwargs["input_shape"]))
    check_loads(vgg16.VGG16, kmodel, path, x, **kwargs)


@pytest.mark.parametrize("include_top", [False, True])
def test_imagenet_asks_for_keras_published_file(keras, monkeypatch, include_top):
    kwargs = dict(include_top=include_top)
    if not include_top:
        kwargs["input_shape"] = (32, 32, 3)
    keras_file, lamina_file = requested_files(keras, monkeypatch, "VGG16", vgg16.VGG16,
                                              **kwargs)
    assert keras_file == lamina_file
    published = vgg16.WEIGHTS if include_top else vgg16.WEIGHTS_NO_TOP
    assert lamina_file == (published.fname, published.origin, published.file_hash)


def test_preprocess_input_is_keras(keras):
    x = images((5, 4, 3))
    np.testing.assert_allclose(vgg16.preprocess_input(x),
                               keras.applications.vgg16.preprocess_input(x.copy()),
                               rtol=1e-6)
    assert vgg16.decode_predictions.__doc__


@pytest.mark.parametrize("kwargs, match", [
    (dict(pooling="mean", include_top=False), "pooling"),
    (dict(weights="imagenet", classes=10), "classes=1000"),
    (dict(weights=3), "weights"),
    (dict(include_top=False, input_shape=(31, 64, 3), weights=None), "at least 32x32"),
    (dict(input_tensor=np.zeros((1, 32, 32, 3)), weights=None), "symbolic"),
])
def test_arguments_refused_before_building(kwargs, match):
    with pytest.raises(lm.ConfigurationError, match=match):
        vgg16.VGG16(**kwargs)


def test_channels_first_refused():
    lm.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(lm.ConfigurationError, match="channels-last"):
            vgg16.VGG16(weights=None, include_top=False)
    finally:
        lm.config.set_image_data_format("channels_last")


def test_input_tensor_computed_from_an_input_makes_that_input_the_model_input():
    """As Keras's `get_source_inputs`: the layers between the `lamina.Input` and
    `input_tensor` become part of the model."""
    inp = lm.Input((32, 32, 3))
    scaled = lm.layers.Rescaling(2.0, name="scale")(inp)
    model = vgg16.VGG16(weights=None, include_top=False, input_tensor=scaled)
    assert model.inputs == [inp]
    assert model.layers[1].name == "scale"
    assert tuple(model.output.shape) == (None, 1, 1, 512)
