"""Hue, saturation and colour jitter: Keras 3 parity given Keras's own transformations
(value range [0, 1], where lamina's saturation clip and Keras's agree), the jitter as the
composition of its steps, properties, the .keras importer, errors. Tolerance: atol 1e-5."""
import numpy as np
import pytest
from harness import LayerCase, check_layer

from lamina.errors import ConfigurationError
from lamina.layers import (
    RandomBrightness,
    RandomColorJitter,
    RandomContrast,
    RandomHue,
    RandomSaturation,
)

UNIT = {"rtol": 0, "atol": 1e-5}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras



def _uniform(*shape, high=255.0):
    return lambda rng: rng.uniform(0, high, size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("random-hue", lambda: RandomHue(0.3, seed=1), _uniform(2, 5, 4, 3),
              (2, 5, 4, 3), trainable_params=0),
    LayerCase("random-saturation", lambda: RandomSaturation(0.6, seed=1),
              _uniform(2, 5, 4, 3), (2, 5, 4, 3), trainable_params=0),
    LayerCase("random-color-jitter", lambda: RandomColorJitter(
        brightness_factor=0.1, contrast_factor=0.2, saturation_factor=0.6, hue_factor=0.1,
        seed=1), _uniform(2, 5, 4, 3), (2, 5, 4, 3), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def _images(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=shape).astype(np.float32)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_hue_and_saturation_match_keras_given_the_same_transformation(keras, data_format):
    x = _images(4, 5, 4, 3)
    x = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
    for theirs, ours in (
            (keras.layers.RandomHue(0.8, value_range=(0, 1), data_format=data_format),
             RandomHue(0.8, value_range=(0, 1), data_format=data_format)),
            (keras.layers.RandomSaturation((0.2, 0.5), value_range=(0, 1),
                                           data_format=data_format),
             RandomSaturation((0.2, 0.5), value_range=(0, 1), data_format=data_format))):
        transformation = theirs.get_random_transformation(x)
        np.testing.assert_allclose(np.asarray(ours.transform_images(x, transformation)),
                                   np.asarray(theirs.transform_images(x, transformation)),
                                   **UNIT)


def test_properties_of_hue_saturation_and_jitter():
    x = _images(6, 5, 4, 3)
    same = RandomHue(0.5).transform_images(x * 255, {"factor": np.zeros(6)})
    np.testing.assert_allclose(np.asarray(same), x * 255, rtol=0, atol=1e-3)
    turned = np.asarray(RandomHue(0.5).transform_images(x * 255, {"factor": np.full(6, 0.5)}))
    back = RandomHue(0.5).transform_images(turned, {"factor": np.full(6, -0.5)})
    np.testing.assert_allclose(np.asarray(back), x * 255, rtol=0, atol=1e-2)
    grey = np.asarray(RandomSaturation(0.0).transform_images(x, {"factor": np.zeros(6)}))
    np.testing.assert_allclose(grey, np.repeat(x.max(-1, keepdims=True), 3, -1), atol=1e-6)
    unchanged = RandomSaturation((0.5, 0.5), seed=1)(x, training=True)
    np.testing.assert_allclose(np.asarray(unchanged), x, atol=1e-5)
    jitter = RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, contrast_factor=0.3,
                               saturation_factor=(0.3, 0.7), hue_factor=0.2, seed=4)
    t = jitter.get_random_transformation(x)
    assert sorted(t) == ["brightness", "contrast", "hue", "saturation"]
    expected = x
    for layer, step in ((RandomBrightness(0.2, value_range=(0, 1)), "brightness"),
                        (RandomContrast(0.3, value_range=(0, 1)), "contrast"),
                        (RandomSaturation(0.7, value_range=(0, 1)), "saturation"),
                        (RandomHue(0.2, value_range=(0, 1)), "hue")):
        expected = layer.transform_images(expected, t[step])
    np.testing.assert_allclose(np.asarray(jitter.transform_images(x, t)), np.asarray(expected),
                               atol=1e-6)
    for layer in (jitter, RandomHue(0.5, seed=1), RandomSaturation(0.9, seed=1)):
        np.testing.assert_array_equal(np.asarray(layer(x)), x)  # identity at inference
        assert not np.allclose(np.asarray(layer(x, training=True)), x)


def test_keras_file_imports(keras, tmp_path):
    from lamina.saving.keras.importer import load_keras_model
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((5, 4, 3)), layers.RandomHue(0.3, value_range=(0, 1)),
        layers.RandomSaturation(0.4, value_range=(0, 1)),
        layers.RandomColorJitter(value_range=(0, 1), brightness_factor=0.1,
                                 hue_factor=(0.1, 0.2), seed=3)])
    kmodel.save(tmp_path / "hsv.keras")
    model = load_keras_model(tmp_path / "hsv.keras")
    hue, saturation, jitter = model.layers
    assert hue.factor == (0, 0.3) and saturation.factor == (-0.4, 0.4)  # Keras's stored ranges
    assert jitter.factors == {"brightness": 0.1, "contrast": None, "saturation": None,
                              "hue": (0.1, 0.2)} and jitter.seed == 3
    x = _images(2, 5, 4, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               **UNIT)


def test_bad_arguments_and_inputs_are_refused_by_name():
    with pytest.raises(ConfigurationError, match="RandomHue .*`factor`"):
        RandomHue(1.5)
    with pytest.raises(ConfigurationError, match="RandomColorJitter .*`value_range`"):
        RandomColorJitter(value_range=(0, 0))
    with pytest.raises(ConfigurationError, match="RandomSaturation .*3 channels"):
        RandomSaturation(0.5)(np.zeros((1, 2, 2, 1), np.float32), training=True)
