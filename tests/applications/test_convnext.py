"""ConvNeXtTiny against Keras 3: weights saved by Keras in both of its formats load into
lamina's model of the same configuration and give the same predictions, parameter counts and
output shapes; Keras's published files and argument checks."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.applications import convnext as keras_convnext  # noqa: E402
from keras_random_weights import (  # noqa: E402
    FORMATS,
    assert_same_model,
    images,
    keras_model,
    save,
)

import lamina as lm  # noqa: E402
from lamina.applications import convnext  # noqa: E402
from lamina.errors import ConfigurationError  # noqa: E402

# Keras's own weight saving trips numpy 2's `__array__(copy=...)` deprecation
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")

CONFIGS = {
    "top": {"input_shape": (32, 32, 3)},
    "features-max-raw": {"input_shape": (32, 40, 3), "include_top": False, "pooling": "max",
                         "include_preprocessing": False},
}
_files = {}


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """Per configuration: the Keras model with random weights and its saved files."""
    def get(config):
        if config not in _files:
            model = keras_model("ConvNeXtTiny", **CONFIGS[config])
            folder = tmp_path_factory.mktemp(config)
            _files[config] = model, {f: save(model, folder, f) for f in FORMATS}
        return _files[config]
    return get


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_loads_keras_weights_and_matches_keras(keras_files, config, file_format):
    model, files = keras_files(config)
    kwargs = CONFIGS[config]
    lamina_model = convnext.ConvNeXtTiny(weights=files[file_format], **kwargs)
    assert [layer.name for layer in lamina_model.layers if layer.weights] == [
        layer.name for layer in model.layers if layer.weights]
    assert_same_model(model, lamina_model, images(kwargs["input_shape"]), atol=2e-4)


def test_model_on_an_input_tensor_starts_from_its_source_input():
    inputs = lm.Input((32, 32, 3))
    scaled = lm.layers.Rescaling(2.0)(inputs)
    model = convnext.ConvNeXtTiny(input_tensor=scaled, weights=None, include_top=False,
                                  pooling="avg")
    assert model.inputs[0] is inputs
    assert tuple(model.output.shape) == (None, 768)


@pytest.mark.parametrize("include_top", [True, False])
def test_published_files_are_keras_files(include_top):
    published = convnext.published_weights("convnext_tiny", "convnext_tiny", include_top)
    assert published.fname == "convnext_tiny" + (".h5" if include_top else "_notop.h5")
    assert published.origin == keras_convnext.BASE_WEIGHTS_PATH + published.fname
    assert published.file_hash == keras_convnext.WEIGHTS_HASHES["convnext_tiny"][
        0 if include_top else 1]


@pytest.mark.parametrize("kwargs", [
    {"weights": "imagenet", "classes": 10},
    {"weights": "imagenet", "input_shape": (64, 64, 3)},
    {"weights": None, "include_top": False, "input_shape": (16, 64, 3)},
], ids=["imagenet-classes", "imagenet-top-shape", "too-small"])
def test_refuses_what_keras_refuses(kwargs):
    with pytest.raises(ValueError):
        keras.applications.ConvNeXtTiny(**kwargs)
    with pytest.raises(ConfigurationError, match="convnext_tiny"):
        convnext.ConvNeXtTiny(**kwargs)


def test_channels_first_is_refused(monkeypatch):
    monkeypatch.setattr(convnext, "image_data_format", lambda: "channels_first")
    with pytest.raises(ConfigurationError, match="channels_last"):
        convnext.ConvNeXtTiny(weights=None)


def test_preprocess_input_and_decode_predictions_are_keras_s():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(convnext.preprocess_input(x),
                                  keras_convnext.preprocess_input(x))
    assert convnext.preprocess_input(x) is x
    with pytest.raises(ValueError):
        keras_convnext.decode_predictions(np.zeros((1, 10)))
    with pytest.raises(ValueError):
        convnext.decode_predictions(np.zeros((1, 10)))
