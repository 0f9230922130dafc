"""Tone layers (AutoContrast, RandomInvert, RandomGrayscale, Solarization,
RandomPosterization, RandomSharpness): Keras 3 parity (AutoContrast on the same inputs, the
random ones given Keras's own transformations), properties of each transform, the .keras
importer, and errors. Tolerance: atol 1e-4 on values in [0, 255] (float32)."""
import numpy as np
import pytest
from harness import LayerCase, check_layer

from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers import (
    AutoContrast,
    Equalization,
    RandomGrayscale,
    RandomInvert,
    RandomPosterization,
    RandomSharpness,
    Solarization,
)

PIXELS = {"rtol": 0, "atol": 1e-4}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def _images(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("equalization", lambda: Equalization(),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
    LayerCase("random-invert", lambda: RandomInvert(seed=1),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
    LayerCase("random-grayscale", lambda: RandomGrayscale(seed=1),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
    LayerCase("solarization", lambda: Solarization(0.2, 0.5, seed=1),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
    LayerCase("random-posterization", lambda: RandomPosterization((2, 5), seed=1),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
    LayerCase("auto-contrast", lambda: AutoContrast(),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
    LayerCase("random-sharpness", lambda: RandomSharpness(0.5, seed=1),
              lambda rng: rng.uniform(0, 255, (2, 4, 3, 3)).astype(np.float32), (2, 4, 3, 3),
              trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def test_auto_contrast_matches_keras(keras):
    x = _images(3, 5, 4, 3)
    x[0, ..., 1] = 7.0  # a constant channel is left as it is
    np.testing.assert_allclose(np.asarray(AutoContrast()(x)),
                               np.asarray(keras.layers.AutoContrast()(x)), **PIXELS)
    np.testing.assert_allclose(np.asarray(AutoContrast(value_range=(0, 1))(x / 255)),
                               np.asarray(keras.layers.AutoContrast(value_range=(0, 1))(x / 255)),
                               **PIXELS)
    out = np.asarray(AutoContrast()(x[1:]))
    np.testing.assert_allclose(out.min(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.max(axis=(1, 2)), 255.0, atol=1e-3)


def test_equalization_matches_keras_and_flattens_the_histogram(keras):
    x = (_images(3, 6, 5, 3) / 255) ** 2 * 255  # skewed towards dark values
    for kwargs, images, data_format in (({}, x, "channels_last"),
                                        ({"value_range": (0, 1), "bins": 64}, x / 255,
                                         "channels_last"),
                                        ({}, x.transpose(0, 3, 1, 2), "channels_first")):
        ours = Equalization(data_format=data_format, **kwargs)(images, training=True)
        theirs = keras.layers.Equalization(data_format=data_format, **kwargs)(images,
                                                                             training=True)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), **PIXELS)
    out = np.asarray(Equalization()(x, training=True))
    assert abs(out.mean() - 127.5) < abs(x.mean() - 127.5) / 3  # spread over the range
    np.testing.assert_array_equal(np.asarray(Equalization()(x)), x)  # as Keras: training only
    layer = Equalization(value_range=(0, 1), bins=128)  # (Keras 3.15 cannot build a model
    clone = Equalization.from_config(layer.get_config())  # with it: "part of a cycle")
    assert clone.get_config() == layer.get_config()


def test_random_layers_match_keras_given_the_same_transformation(keras):
    x = _images(4, 5, 4, 3)
    cases = [
        (lambda k: k.RandomInvert(0.8), lambda: RandomInvert(0.8)),
        (lambda k: k.RandomGrayscale(0.7), lambda: RandomGrayscale(0.7)),
        (lambda k: k.Solarization(0.3, 0.6), lambda: Solarization(0.3, 0.6)),
        (lambda k: k.RandomPosterization((2, 6)), lambda: RandomPosterization((2, 6))),
        (lambda k: k.RandomSharpness(0.9), lambda: RandomSharpness(0.9)),
    ]
    for make_keras, make_ours in cases:
        theirs = make_keras(keras.layers)
        transformation = theirs.get_random_transformation(x, training=True)
        np.testing.assert_allclose(
            np.asarray(make_ours().transform_images(x, transformation)),
            np.asarray(theirs.transform_images(x, transformation)), **PIXELS)


def test_each_transform_has_its_defining_property():
    x = _images(200, 3, 3, 3)
    inverted = np.asarray(RandomInvert(1.0, seed=1)(x, training=True))
    hit = np.all(np.isclose(inverted, 255 - x), axis=(1, 2, 3))
    assert np.all(hit | np.all(inverted == x, axis=(1, 2, 3)))
    assert abs(hit.mean() - 0.5) < 5 * 0.5 / np.sqrt(200)  # p ~ U[0, 1]: half on average
    gray = np.asarray(RandomGrayscale(1.0, seed=1)(x, training=True))
    np.testing.assert_allclose(gray, np.repeat(x @ np.array([0.2989, 0.587, 0.114],
                                                            np.float32), 3).reshape(x.shape),
                               rtol=1e-5)
    posterized = np.asarray(RandomPosterization((3, 3), seed=1)(x, training=True))
    np.testing.assert_array_equal(posterized % 32, 0)  # three bits kept
    np.testing.assert_array_equal(posterized, (x.astype(np.uint8) >> 5) << 5)
    solarized = Solarization().transform_images(
        x, {"additions": np.zeros(200), "thresholds": np.full(200, 127.5)})
    np.testing.assert_allclose(np.asarray(solarized), np.where(x < 127.5, x, 255 - x),
                               rtol=1e-6)
    everything = np.asarray(Solarization(seed=1)(x, training=True))  # the defaults: threshold 0
    np.testing.assert_allclose(everything, 255 - x, rtol=1e-6)
    unchanged = RandomSharpness((0.5, 0.5)).transform_images(x, {"factor": np.full(200, 0.5)})
    np.testing.assert_allclose(np.asarray(unchanged), x, rtol=1e-6)
    for layer in (RandomInvert(seed=2), Solarization(0.5, 0.5, seed=2), RandomGrayscale(1.0)):
        np.testing.assert_array_equal(np.asarray(layer(x)), x)  # identity at inference


def test_keras_file_imports(keras, tmp_path):
    from lamina.saving.keras.importer import load_keras_model
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((6, 5, 3)), layers.AutoContrast(), layers.RandomInvert(0.5, seed=2),
        layers.RandomGrayscale(0.3), layers.Solarization(0.2, 0.5),
        layers.RandomPosterization(4), layers.RandomSharpness(0.3)])
    kmodel.save(tmp_path / "tone.keras")
    model = load_keras_model(tmp_path / "tone.keras")
    for ours, theirs in zip(model.layers, kmodel.layers, strict=True):
        assert type(ours).__name__ == type(theirs).__name__
        for key in ("factor", "value_range", "addition_factor", "threshold_factor"):
            if key in theirs.get_config():
                assert np.array_equal(ours.get_config()[key], theirs.get_config()[key])
    x = _images(2, 6, 5, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               **PIXELS)


def test_bad_arguments_and_inputs_are_refused_by_name():
    cases = [
        (lambda: RandomInvert(1.5), "RandomInvert .*`factor`"),
        (lambda: RandomGrayscale(-0.1), "RandomGrayscale .*`factor`"),
        (lambda: Solarization(threshold_factor=(0.2, 2.0)), "`threshold_factor`"),
        (lambda: RandomPosterization(9), "RandomPosterization .*`factor`"),
        (lambda: RandomSharpness(0.5, value_range=(0,)), "`value_range`"),
        (lambda: AutoContrast(value_range="0-255"), "AutoContrast .*`value_range`"),
        (lambda: Equalization(bins=1), "Equalization .*`bins`"),
    ]
    for make, pattern in cases:
        with pytest.raises(ConfigurationError, match=pattern):
            make()
    with pytest.raises(ConfigurationError, match="RandomGrayscale .*1 or 3 channels"):
        RandomGrayscale()(np.zeros((1, 2, 2, 2), np.float32), training=True)
    with pytest.raises(InputSpecError, match="AutoContrast .*rank 4"):
        AutoContrast()(np.zeros((2, 2), np.float32))
