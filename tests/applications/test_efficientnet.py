"""EfficientNetB0-B3 against Keras 3: weights saved by Keras in both of its formats load into
lamina's model of the same configuration and give the same predictions, parameter counts and
output shapes; Keras's published files, its `weights="imagenet"` stem quirk, and its argument
checks."""
import math
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.applications import efficientnet as keras_efficientnet  # noqa: E402
from keras_random_weights import (  # noqa: E402
    FORMATS,
    assert_same_model,
    images,
    keras_model,
    save,
)

import lamina as lm  # noqa: E402
from lamina.applications import efficientnet  # noqa: E402
from lamina.applications import weights as weights_lib  # noqa: E402
from lamina.errors import ConfigurationError  # noqa: E402

# Keras's own weight saving trips numpy 2's `__array__(copy=...)` deprecation
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")

CONFIGS = {
    "b0-top": ("EfficientNetB0", {"input_shape": (32, 32, 3)}),
    "b1-10-classes-logits": ("EfficientNetB1", {
        "input_shape": (36, 32, 3), "classes": 10, "classifier_activation": None}),
    "b2-features": ("EfficientNetB2", {"input_shape": (32, 32, 3), "include_top": False}),
    "b3-max": ("EfficientNetB3", {"input_shape": (32, 32, 3), "include_top": False,
                                  "pooling": "max"}),
}
VARIANTS = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3"]
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
    lamina_model = getattr(efficientnet, constructor)(weights=files[file_format], **kwargs)
    assert [layer.name for layer in lamina_model.layers if layer.weights] == [
        layer.name for layer in model.layers if layer.weights]
    assert_same_model(model, lamina_model, images(kwargs["input_shape"]))


def test_imagenet_adds_keras_s_stddev_rescaling_and_loads_the_published_file(
        tmp_path, monkeypatch):
    """Both libraries built with weights="imagenet", their downloads served by the same
    local file: the third stem layer, Rescaling(1/sqrt(stddev)), exists in both and they
    agree."""
    kwargs = {"include_top": False, "pooling": "avg", "input_shape": (32, 32, 3)}
    path = save(keras_model("EfficientNetB0", **kwargs), tmp_path, "weights.h5")
    keras_calls, lamina_calls = [], []

    def served(calls):
        return lambda fname, origin, **kw: calls.append((fname, origin, kw)) or path

    monkeypatch.setattr(keras_efficientnet.file_utils, "get_file", served(keras_calls))
    monkeypatch.setattr(weights_lib, "get_file", served(lamina_calls))
    keras.utils.clear_session()
    reference = keras.applications.EfficientNetB0(weights="imagenet", **kwargs)
    model = efficientnet.EfficientNetB0(weights="imagenet", **kwargs)
    assert lamina_calls == keras_calls
    assert lamina_calls[0][:2] == ("efficientnetb0_notop.h5", efficientnet.BASE_WEIGHTS_PATH
                                   + "efficientnetb0_notop.h5")
    stem = [layer.__class__.__name__ for layer in model.layers[1:4]]
    assert stem == ["Rescaling", "Normalization", "Rescaling"]
    np.testing.assert_allclose(model.layers[3].scale,
                               [1 / math.sqrt(s) for s in (0.229, 0.224, 0.225)])
    assert_same_model(reference, model, images(kwargs["input_shape"]))


def test_without_a_weights_file_the_normalization_is_keras_s_identity():
    model = efficientnet.EfficientNetB0(weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    normalization = model.layers[2]
    np.testing.assert_array_equal(normalization.adapt_mean.value, np.zeros(3))
    np.testing.assert_array_equal(normalization.adapt_variance.value, np.ones(3))
    assert model.predict(images((32, 32, 3)), verbose=0).shape == (2, 1280)


def test_model_on_an_input_tensor_starts_from_its_source_input():
    inputs = lm.Input((32, 32, 3))
    scaled = lm.layers.Rescaling(2.0)(inputs)
    model = efficientnet.EfficientNetB0(input_tensor=scaled, weights=None, include_top=False)
    assert model.inputs[0] is inputs
    assert tuple(model.output.shape) == (None, 1, 1, 1280)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("include_top", [True, False])
def test_published_files_are_keras_files(variant, include_top):
    key = "b" + variant[-1]
    name = variant.lower()
    published = efficientnet.published_weights(key, name, include_top)
    assert published.fname == name + (".h5" if include_top else "_notop.h5")
    assert published.origin == keras_efficientnet.BASE_WEIGHTS_PATH + published.fname
    assert published.file_hash == keras_efficientnet.WEIGHTS_HASHES[key][
        0 if include_top else 1]


@pytest.mark.parametrize("kwargs", [
    {"weights": "imagenet", "classes": 10},
    {"weights": "imagenet", "input_shape": (64, 64, 3)},
    {"weights": None, "include_top": False, "input_shape": (16, 64, 3)},
    {"weights": None, "input_shape": (None, None, 3)},
], ids=["imagenet-classes", "imagenet-top-shape", "too-small", "top-unknown-size"])
@pytest.mark.parametrize("constructor", VARIANTS)
def test_refuses_what_keras_refuses(constructor, kwargs):
    with pytest.raises(ValueError):
        getattr(keras.applications, constructor)(**kwargs)
    with pytest.raises(ConfigurationError, match=constructor.lower()):
        getattr(efficientnet, constructor)(**kwargs)


def test_preprocess_input_and_decode_predictions_are_keras_s():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(efficientnet.preprocess_input(x),
                                  keras_efficientnet.preprocess_input(x))
    assert efficientnet.preprocess_input(x) is x
    with pytest.raises(ValueError):
        keras_efficientnet.decode_predictions(np.zeros((1, 10)))
    with pytest.raises(ValueError):
        efficientnet.decode_predictions(np.zeros((1, 10)))
