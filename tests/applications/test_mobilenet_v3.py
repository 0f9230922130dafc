"""MobileNetV3Small / MobileNetV3Large against Keras 3: weights saved by Keras in both of its
formats load into lamina's model of the same configuration and give the same predictions,
parameter counts and output shapes; Keras's published files and argument checks."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.applications import mobilenet_v3 as keras_mobilenet_v3  # noqa: E402
from keras_random_weights import (  # noqa: E402
    FORMATS,
    assert_same_model,
    images,
    keras_model,
    save,
)

import lamina as lm  # noqa: E402
from lamina.applications import mobilenet_v3  # noqa: E402
from lamina.errors import ConfigurationError  # noqa: E402

# Keras's own weight saving trips numpy 2's `__array__(copy=...)` deprecation
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")

CONFIGS = {
    "small-top": ("MobileNetV3Small", {"input_shape": (32, 32, 3)}),
    "large-minimalistic-avg": ("MobileNetV3Large", {
        "input_shape": (32, 32, 3), "minimalistic": True, "include_top": False,
        "pooling": "avg", "alpha": 0.75}),
    "small-wide-10-classes-raw": ("MobileNetV3Small", {
        "input_shape": (40, 36, 3), "alpha": 1.25, "classes": 10, "dropout_rate": 0.0,
        "classifier_activation": None, "include_preprocessing": False}),
}
_files = {}


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """Per configuration: the Keras model with random weights and its saved files."""
    def get(config):
        if config not in _files:
            constructor, kwargs = CONFIGS[config]
            model = keras_model(constructor, **kwargs)
            folder = tmp_path_factory.mktemp(config)
            _files[config] = model, {f: save(model, folder, f) for f in FORMATS}
        return _files[config]
    return get


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_loads_keras_weights_and_matches_keras(keras_files, config, file_format):
    model, files = keras_files(config)
    constructor, kwargs = CONFIGS[config]
    lamina_model = getattr(mobilenet_v3, constructor)(weights=files[file_format], **kwargs)
    assert [layer.name for layer in lamina_model.layers if layer.weights] == [
        layer.name for layer in model.layers if layer.weights]
    assert_same_model(model, lamina_model, images(kwargs["input_shape"]))


def test_model_on_an_input_tensor_starts_from_its_source_input():
    inputs = lm.Input((32, 32, 3))
    scaled = lm.layers.Rescaling(2.0)(inputs)
    model = mobilenet_v3.MobileNetV3Small(input_tensor=scaled, weights=None,
                                          include_top=False, pooling="avg")
    assert model.inputs[0] is inputs
    assert model.layers[1].name == scaled.node.layer.name
    assert tuple(model.output.shape) == (None, 576)


@pytest.mark.parametrize("model_type", ["small", "large"])
@pytest.mark.parametrize("minimalistic,alpha", [(False, 0.75), (False, 1.0), (True, 1.0)])
@pytest.mark.parametrize("include_top", [True, False])
def test_published_files_are_keras_files(model_type, minimalistic, alpha, include_top):
    published = mobilenet_v3.published_weights(model_type, minimalistic, alpha, include_top)
    key = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
    suffix = ".h5" if include_top else "_no_top_v2.h5"
    assert published.fname == f"weights_mobilenet_v3_{key}{suffix}"
    assert published.origin == keras_mobilenet_v3.BASE_WEIGHT_PATH + published.fname
    assert published.file_hash == keras_mobilenet_v3.WEIGHTS_HASHES[key][
        0 if include_top else 1]
    assert mobilenet_v3.published_weights(model_type, minimalistic, 0.5, include_top) is None


@pytest.mark.parametrize("kwargs", [
    {"weights": "no/such/file.weights.h5"},
    {"weights": "imagenet", "classes": 10},
    {"weights": "imagenet", "alpha": 0.5},
    {"weights": "imagenet", "minimalistic": True, "alpha": 0.75},
    {"weights": None, "input_shape": (16, 64, 3)},
], ids=["missing-file", "imagenet-classes", "imagenet-alpha", "imagenet-minimalistic-alpha",
        "too-small"])
@pytest.mark.parametrize("constructor", ["MobileNetV3Small", "MobileNetV3Large"])
def test_refuses_what_keras_refuses(constructor, kwargs):
    with pytest.raises(ValueError):
        getattr(keras.applications, constructor)(**kwargs)
    with pytest.raises(ConfigurationError, match=constructor):
        getattr(mobilenet_v3, constructor)(**kwargs)


def test_input_tensor_of_another_width_than_input_shape_is_refused():
    with pytest.raises(ConfigurationError, match="input_tensor"):
        mobilenet_v3.MobileNetV3Small(input_tensor=lm.Input((32, 40, 3)),
                                      input_shape=(32, 32, 3), weights=None)
    with pytest.raises(ConfigurationError, match="symbolic"):
        mobilenet_v3.MobileNetV3Small(input_tensor=np.zeros((1, 32, 32, 3)), weights=None)


def test_preprocess_input_and_decode_predictions_are_keras_s():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(mobilenet_v3.preprocess_input(x),
                                  keras_mobilenet_v3.preprocess_input(x))
    assert mobilenet_v3.preprocess_input(x) is x
    with pytest.raises(ValueError):
        keras_mobilenet_v3.decode_predictions(np.zeros((1, 10)))
    with pytest.raises(ValueError):
        mobilenet_v3.decode_predictions(np.zeros((1, 10)))
