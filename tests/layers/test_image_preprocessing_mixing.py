"""Mixing and occlusion layers (MixUp, CutMix, RandomErasing, RandomGaussianBlur): Keras 3
parity given Keras's own transformations (and Keras applying lamina's draws), the labels of a
dict input, properties of the draws, the .keras importer, and errors.
Tolerance: atol 1e-4 on values in [0, 255] (float32)."""
import numpy as np
import pytest
from harness import LayerCase, check_layer

from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers import CutMix, MixUp, RandomErasing, RandomGaussianBlur

PIXELS = {"rtol": 0, "atol": 1e-4}


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras



def _uniform(*shape, high=255.0):
    return lambda rng: rng.uniform(0, high, size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("mix-up", lambda: MixUp(seed=1), _uniform(4, 5, 4, 3), (4, 5, 4, 3),
              trainable_params=0),
    LayerCase("cut-mix", lambda: CutMix(seed=1), _uniform(4, 5, 4, 3), (4, 5, 4, 3),
              trainable_params=0),
    LayerCase("random-erasing", lambda: RandomErasing(seed=1), _uniform(4, 5, 4, 3),
              (4, 5, 4, 3), trainable_params=0),
    LayerCase("random-gaussian-blur", lambda: RandomGaussianBlur(seed=1),
              _uniform(4, 5, 4, 3), (4, 5, 4, 3), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def _images(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype(np.float32)


# Keras's MixUp asks JAX for an int64 permutation, which JAX truncates with a warning
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64")
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_layers_match_keras_on_each_others_transformations(keras, data_format):
    x = _images(4, 7, 6, 3)
    x = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
    labels = np.eye(4, dtype=np.float32)
    cases = [
        (keras.layers.MixUp(data_format=data_format), MixUp(data_format=data_format, seed=1)),
        (keras.layers.CutMix(data_format=data_format), CutMix(data_format=data_format, seed=1)),
        (keras.layers.RandomErasing(0.8, data_format=data_format),
         RandomErasing(0.8, data_format=data_format, seed=1)),
        (keras.layers.RandomGaussianBlur(0.7, (3, 5), (0.3, 0.9), data_format=data_format),
         RandomGaussianBlur(0.7, (3, 5), (0.3, 0.9), data_format=data_format, seed=1)),
    ]
    for theirs, ours in cases:
        for transformation in (theirs.get_random_transformation(x),
                               ours.get_random_transformation(x)):
            np.testing.assert_allclose(
                np.asarray(ours.transform_images(x, transformation)),
                np.asarray(theirs.transform_images(x, transformation)), **PIXELS)
            if hasattr(theirs, "transform_labels") and "mix_weight" in transformation:
                np.testing.assert_allclose(
                    np.asarray(ours.transform_labels(labels, transformation)),
                    np.asarray(theirs.transform_labels(labels, transformation)), atol=1e-6)


def test_mixing_properties_and_dict_inputs():
    x, labels = _images(64, 5, 5, 1), np.eye(4, dtype=np.float32)[np.arange(64) % 4]
    out = MixUp(alpha=0.4, seed=2)({"images": x, "labels": labels}, training=True)
    np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0, rtol=1e-6)
    t = MixUp(seed=3).get_random_transformation(x)
    np.testing.assert_array_equal(np.sort(np.asarray(t["permutation_order"])), np.arange(64))
    weights = np.asarray(MixUp(alpha=0.2, seed=3).get_random_transformation(
        _images(4000, 1, 1, 1))["mix_weight"])
    assert abs(weights.mean() - 0.5) < 0.03 and np.mean((weights < 0.1) | (weights > 0.9)) > 0.5
    cut = CutMix(seed=4)
    t = cut.get_random_transformation(x)
    mixed = np.asarray(cut.transform_images(x, t))
    other = x[np.asarray(t["permutation_order"])]
    masks = np.asarray(t["batch_masks"])
    np.testing.assert_array_equal(mixed, np.where(masks, other, x))  # a pasted box, nothing else
    kept = np.asarray(t["mix_weight"])
    assert np.all((kept >= 0) & (kept <= 1)) and masks.any() and not masks.all()
    for layer in (MixUp(seed=1), CutMix(seed=1), RandomErasing(seed=1),
                  RandomGaussianBlur(seed=1)):
        np.testing.assert_array_equal(np.asarray(layer(x)), x)  # identity at inference


def test_erasing_and_blur_properties():
    x = _images(50, 8, 8, 3)
    erased = np.asarray(RandomErasing(1.0, fill_value=(1, 2, 3), seed=5)(x, training=True))
    changed = erased != x
    assert changed.any()
    np.testing.assert_array_equal(erased[changed], np.broadcast_to(
        np.array([1, 2, 3], np.float32), x.shape)[changed])
    flat = np.full((2, 9, 9, 1), 100.0, np.float32)
    blurred = RandomGaussianBlur().transform_images(
        flat, {"should_apply_blur": np.array([True, False]), "blur_factor": np.array([1., 1.])})
    np.testing.assert_allclose(np.asarray(blurred)[0, 1:-1, 1:-1], 100.0, rtol=1e-5)
    assert np.asarray(blurred)[0, 0, 0, 0] < 100.0  # zero padding darkens the border
    np.testing.assert_array_equal(np.asarray(blurred)[1], flat[1])


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64")
def test_keras_file_imports(keras, tmp_path):
    from lamina.saving.keras.importer import load_keras_model
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((6, 5, 3)), layers.MixUp(0.3, seed=1), layers.CutMix(0.5),
        layers.RandomErasing(0.5, scale=(0.1, 0.2), fill_value=7.0),
        layers.RandomGaussianBlur(0.5, kernel_size=5, sigma=0.5)])
    kmodel.save(tmp_path / "mixing.keras")
    model = load_keras_model(tmp_path / "mixing.keras")
    assert [type(layer).__name__ for layer in model.layers] == [
        "MixUp", "CutMix", "RandomErasing", "RandomGaussianBlur"]
    assert model.layers[0].alpha == 0.3 and model.layers[2].fill_value == 7.0
    assert model.layers[3].kernel_size == (5, 5) and model.layers[3].sigma == (0, 0.5)
    x = _images(2, 6, 5, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               **PIXELS)


def test_bad_arguments_and_inputs_are_refused_by_name():
    cases = [
        (lambda: MixUp(alpha=0), "MixUp .*`alpha`"),
        (lambda: CutMix(1.5), "CutMix .*`factor`"),
        (lambda: RandomErasing(scale=(0.1, 2.0)), "RandomErasing .*`scale`"),
        (lambda: RandomErasing(fill_value=(1, 2)), "`fill_value`"),
        (lambda: RandomGaussianBlur(kernel_size=4), "RandomGaussianBlur .*`kernel_size`"),
        (lambda: RandomGaussianBlur(sigma=-1), "`sigma`"),
    ]
    for make, pattern in cases:
        with pytest.raises(ConfigurationError, match=pattern):
            make()
    with pytest.raises(InputSpecError, match="MixUp .*'images' and 'labels'"):
        MixUp()({"images": _images(2, 3, 3, 1), "boxes": np.zeros((2, 4))}, training=True)
