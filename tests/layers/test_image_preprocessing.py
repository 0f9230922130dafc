"""Image preprocessing and augmentation layers: the generic harness, Keras 3 parity
(deterministic layers on the same inputs; random layers given Keras's own transformation
dicts), properties of the random draws, seeds, the jitted training step, saving and errors.

Keras parity uses atol 1e-4 on pixel values in [0, 255] (float32; bilinear sampling at a
constant fill differs from Keras in the last bit). Statistical checks allow about 5
standard errors at the stated sample sizes (and the seeds are fixed anyway).
"""
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomPerspective,
    RandomRotation,
    RandomShear,
    RandomTranslation,
    RandomZoom,
    Resizing,
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


def _uniform(*shape):
    return lambda rng: rng.uniform(0, 255, size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("resizing", lambda: Resizing(3, 5), _uniform(2, 6, 4, 2), (2, 3, 5, 2),
              trainable_params=0),
    LayerCase("center-crop", lambda: CenterCrop(3, 2), _uniform(2, 6, 4, 2), (2, 3, 2, 2),
              trainable_params=0),
    LayerCase("random-crop", lambda: RandomCrop(3, 2, seed=1), _uniform(2, 6, 4, 2),
              (2, 3, 2, 2), trainable_params=0),
    LayerCase("random-flip", lambda: RandomFlip(seed=1), _uniform(2, 6, 4, 2), (2, 6, 4, 2),
              trainable_params=0),
    LayerCase("random-rotation", lambda: RandomRotation(0.2, seed=1), _uniform(2, 6, 4, 2),
              (2, 6, 4, 2), trainable_params=0),
    LayerCase("random-zoom", lambda: RandomZoom(0.2, seed=1), _uniform(2, 6, 4, 2),
              (2, 6, 4, 2), trainable_params=0),
    LayerCase("random-translation", lambda: RandomTranslation(0.2, 0.1, seed=1),
              _uniform(2, 6, 4, 2), (2, 6, 4, 2), trainable_params=0),
    LayerCase("random-shear", lambda: RandomShear(0.2, 0.1, seed=1), _uniform(2, 6, 4, 2),
              (2, 6, 4, 2), trainable_params=0),
    LayerCase("random-perspective", lambda: RandomPerspective(seed=1), _uniform(2, 6, 4, 2),
              (2, 6, 4, 2), trainable_params=0),
    LayerCase("random-contrast", lambda: RandomContrast(0.3, seed=1), _uniform(2, 6, 4, 2),
              (2, 6, 4, 2), trainable_params=0),
    LayerCase("random-brightness", lambda: RandomBrightness(0.3, seed=1),
              _uniform(2, 6, 4, 2), (2, 6, 4, 2), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- deterministic layers equal Keras ------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic", "lanczos3",
                                           "lanczos5"])
@pytest.mark.parametrize("aspect", [{}, {"crop_to_aspect_ratio": True},
                                    {"pad_to_aspect_ratio": True, "fill_value": 3.0}],
                         ids=["stretch", "crop", "pad"])
def test_resizing_matches_keras(keras, interpolation, aspect):
    x = _images(2, 9, 7, 2)
    for size in ((5, 6), (8, 3)):
        ours = Resizing(*size, interpolation=interpolation, **aspect)(x)
        theirs = keras.layers.Resizing(*size, interpolation=interpolation, **aspect)(x)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), **PIXELS)


def test_resizing_channels_first_unbatched_and_integer_images_match_keras(keras):
    x = _images(2, 3, 9, 7)
    for kwargs in ({"pad_to_aspect_ratio": True}, {"crop_to_aspect_ratio": True}):
        ours = Resizing(4, 3, data_format="channels_first", **kwargs)(x)
        theirs = keras.layers.Resizing(4, 3, data_format="channels_first", **kwargs)(x)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), **PIXELS)
    single = _images(9, 7, 3)
    np.testing.assert_allclose(np.asarray(Resizing(4, 5)(single)),
                               np.asarray(keras.layers.Resizing(4, 5)(single)), **PIXELS)
    pixels = _images(2, 9, 7, 3).astype(np.uint8)
    ours = Resizing(5, 6, interpolation="bicubic")(pixels)
    assert ours.dtype == np.uint8  # rounded and clipped back into the input's dtype
    np.testing.assert_array_equal(
        np.asarray(ours), np.asarray(keras.layers.Resizing(5, 6, interpolation="bicubic")(
            pixels)))


@pytest.mark.parametrize("size", [(4, 4), (9, 7), (12, 5), (3, 10)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_center_crop_matches_keras(keras, size, data_format):
    x = _images(2, 9, 7, 3) if data_format == "channels_last" else _images(2, 3, 9, 7)
    ours = CenterCrop(*size, data_format=data_format)(x)
    theirs = keras.layers.CenterCrop(*size, data_format=data_format)(x)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), **PIXELS)


# -- random layers equal Keras given Keras's transformation --------------------------------
AFFINE = [
    ("rotation", lambda k, **kw: k.RandomRotation(0.3, **kw),
     lambda **kw: RandomRotation(0.3, **kw)),
    ("zoom", lambda k, **kw: k.RandomZoom(0.3, (-0.2, 0.5), **kw),
     lambda **kw: RandomZoom(0.3, (-0.2, 0.5), **kw)),
    ("translation", lambda k, **kw: k.RandomTranslation(0.3, 0.2, **kw),
     lambda **kw: RandomTranslation(0.3, 0.2, **kw)),
    ("shear", lambda k, **kw: k.RandomShear(0.3, 0.2, **kw),
     lambda **kw: RandomShear(0.3, 0.2, **kw)),
]


@pytest.mark.parametrize("kind, make_keras, make_ours", AFFINE, ids=[a[0] for a in AFFINE])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_affine_layers_match_keras_given_the_same_transformation(keras, kind, make_keras,
                                                                 make_ours, fill_mode):
    x = _images(3, 9, 7, 2)
    for interpolation in ("bilinear", "nearest"):
        kwargs = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 2.0}
        theirs = make_keras(keras.layers, **kwargs)
        transformation = theirs.get_random_transformation(x)
        ours = make_ours(**kwargs).transform_images(x, transformation)
        np.testing.assert_allclose(np.asarray(ours),
                                   np.asarray(theirs.transform_images(x, transformation)),
                                   **PIXELS)


def test_other_random_layers_match_keras_given_the_same_transformation(keras):
    x, x_first = _images(3, 9, 7, 2), _images(3, 2, 9, 7)
    cases = [
        (lambda k: k.RandomCrop(4, 5), lambda: RandomCrop(4, 5), x),
        (lambda k: k.RandomCrop(12, 5), lambda: RandomCrop(12, 5), x),
        (lambda k: k.RandomFlip("horizontal"), lambda: RandomFlip("horizontal"), x),
        (lambda k: k.RandomFlip("vertical"), lambda: RandomFlip("vertical"), x),
        (lambda k: k.RandomFlip(), lambda: RandomFlip(), x),
        (lambda k: k.RandomFlip(data_format="channels_first"),
         lambda: RandomFlip(data_format="channels_first"), x_first),
        (lambda k: k.RandomRotation(0.4, data_format="channels_first"),
         lambda: RandomRotation(0.4, data_format="channels_first"), x_first),
        (lambda k: k.RandomContrast((0.3, 0.6)), lambda: RandomContrast((0.3, 0.6)), x),
        (lambda k: k.RandomBrightness(0.4), lambda: RandomBrightness(0.4), x),
        (lambda k: k.RandomBrightness(0.2, value_range=(0, 1)),
         lambda: RandomBrightness(0.2, value_range=(0, 1)), x / 255),
    ]
    for make_keras, make_ours, images in cases:
        theirs = make_keras(keras.layers)
        transformation = theirs.get_random_transformation(images)
        np.testing.assert_allclose(
            np.asarray(make_ours().transform_images(images, transformation)),
            np.asarray(theirs.transform_images(images, transformation)), **PIXELS)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_perspective_matches_keras_and_scale_zero_is_the_identity(keras, data_format):
    x = _images(4, 9, 7, 2) if data_format == "channels_last" else _images(4, 2, 9, 7)
    for interpolation in ("bilinear", "nearest"):
        kwargs = {"interpolation": interpolation, "fill_value": 3.0, "data_format": data_format}
        theirs = keras.layers.RandomPerspective(0.8, 0.6, **kwargs)
        transformation = theirs.get_random_transformation(x)
        np.testing.assert_allclose(
            np.asarray(RandomPerspective(0.8, 0.6, **kwargs).transform_images(x, transformation)),
            np.asarray(theirs.transform_images(x, transformation)), **PIXELS)
    still = RandomPerspective(1.0, scale=0.0, seed=1)(x, training=True)
    np.testing.assert_allclose(np.asarray(still), x, rtol=0, atol=1e-3)


# -- properties of the random draws ---------------------------------------------------------
def test_flip_is_a_flip_and_flips_half_the_images():
    x = _images(400, 3, 4, 1)
    for mode, axes in (("horizontal", (2,)), ("vertical", (1,)),
                       ("horizontal_and_vertical", (1, 2))):
        out = np.asarray(RandomFlip(mode, seed=2)(x, training=True))
        flipped = np.flip(x, axes)
        same = np.all(out == x, axis=(1, 2, 3))
        turned = np.all(out == flipped, axis=(1, 2, 3))
        assert np.all(same | turned), mode  # every image is itself or its mirror image
        assert abs(turned.mean() - 0.5) < 5 * 0.5 / np.sqrt(400), mode


def test_zero_factors_are_the_identity_and_inference_is_the_identity():
    x = _images(2, 6, 5, 3)
    for layer in (RandomRotation(0.0), RandomZoom(0.0), RandomTranslation(0.0, 0.0),
                  RandomShear(0.0, 0.0), RandomBrightness(0.0), RandomContrast(0.0)):
        np.testing.assert_allclose(np.asarray(layer(x, training=True)), x, rtol=0, atol=1e-3)
    x = _images(8, 6, 5, 3)
    for layer in (RandomRotation(0.5, seed=1), RandomFlip(seed=1), RandomZoom(0.5, seed=1),
                  RandomContrast(0.5, seed=1), RandomTranslation(0.5, 0.5, seed=1),
                  RandomShear(0.5, seed=1), RandomBrightness(0.5, seed=1)):
        np.testing.assert_array_equal(np.asarray(layer(x)), x)  # lamina's default: inference
        np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
        assert not np.allclose(np.asarray(layer(x, training=True)), x)


def test_rotation_by_a_quarter_turn_is_rot90():
    x = _images(1, 5, 5, 2)
    quarter = RandomRotation(0.25, interpolation="nearest").transform_images(
        x, {"angle": np.array([90.0])})
    np.testing.assert_array_equal(np.asarray(quarter), np.rot90(x, 1, axes=(1, 2)))


def test_drawn_parameters_cover_their_ranges_uniformly():
    x = _images(2000, 2, 2, 1)
    angles = np.asarray(RandomRotation((-0.1, 0.2), seed=3).get_random_transformation(x)[
        "angle"])
    assert angles.min() >= -36.0 and angles.max() <= 72.0
    assert abs(angles.mean() - 18.0) < 5 * 108 / np.sqrt(12 * 2000)
    zoom = RandomZoom(0.5, seed=3).get_random_transformation(x)
    np.testing.assert_array_equal(zoom["height_zoom"], zoom["width_zoom"])  # aspect kept
    assert 0.5 <= float(np.min(zoom["height_zoom"])) and float(np.max(zoom["height_zoom"])) <= 1.5
    shifts = np.asarray(RandomTranslation(0.25, 0.5, seed=3).get_random_transformation(
        _images(2000, 8, 4, 1))["translations"])
    assert np.all(np.abs(shifts[:, 0]) <= 2.0) and np.all(np.abs(shifts[:, 1]) <= 2.0)
    assert abs(shifts[:, 1].std() - 4 / np.sqrt(12)) < 0.05  # uniform on [-2, 2] pixels
    contrast = np.asarray(RandomContrast(0.2, seed=3).get_random_transformation(x)[
        "contrast_factor"])
    assert contrast.min() >= 0.8 and contrast.max() <= 1.2 and contrast.min() < 0.85


def test_value_ranges_are_kept():
    x = _images(50, 4, 4, 3) / 255.0
    for layer in (RandomContrast(0.9, value_range=(0, 1), seed=1),
                  RandomBrightness(0.9, value_range=(0, 1), seed=1)):
        out = np.asarray(layer(x, training=True))
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert not np.allclose(out, x)


def test_random_crop_keeps_windows_and_centre_crops_at_inference():
    x = np.arange(2 * 8 * 6, dtype=np.float32).reshape(2, 8, 6, 1)
    layer = RandomCrop(3, 2, seed=5)
    starts = set()
    for _ in range(30):
        out = np.asarray(layer(x, training=True))
        top, left = np.argwhere(x[0, :, :, 0] == out[0, 0, 0, 0])[0]
        np.testing.assert_array_equal(out, x[:, top:top + 3, left:left + 2])
        starts.add((int(top), int(left)))
    assert len(starts) > 10
    inference = RandomCrop(4, 6)(x)  # largest centred 2:3 window, resized
    np.testing.assert_allclose(np.asarray(inference), np.asarray(
        Resizing(4, 6, crop_to_aspect_ratio=True)(x)))


def test_seeds_are_reproducible_and_calls_advance_the_state():
    x = _images(4, 6, 5, 2)
    a, b = RandomRotation(0.3, seed=11), RandomRotation(0.3, seed=11)
    first = [np.asarray(a(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(first[0], np.asarray(b(x, training=True)))
    assert not np.array_equal(first[0], first[1])  # a data pipeline draws afresh per batch
    draws = []
    for _ in range(2):
        lm.random.set_seed(3)  # unseeded layers take their seed from lamina's stream
        draws.append(np.asarray(RandomZoom(0.4)(x, training=True)))
    np.testing.assert_array_equal(*draws)
    given = RandomFlip().get_random_transformation(x, seed=4)["flips"]
    np.testing.assert_array_equal(given, RandomFlip().get_random_transformation(x, seed=4)[
        "flips"])


def test_augmentation_runs_inside_the_jitted_training_step_only():
    x = _images(8, 6, 6, 1) / 255.0
    y = np.zeros((8, 1), np.float32)
    augment = RandomTranslation(0.3, 0.3, fill_mode="constant", seed=1)
    model = lm.Sequential([lm.Input((6, 6, 1)), augment, RandomFlip(seed=2),
                           lm.layers.Flatten(), lm.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    state = np.asarray(augment.seed_generator.state.value)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert not np.array_equal(state, np.asarray(augment.seed_generator.state.value))
    prediction = model.predict(x, verbose=0)  # inference: no augmentation
    expected = x.reshape(8, -1) @ np.asarray(model.layers[-1].kernel.value) + np.asarray(
        model.layers[-1].bias.value)
    np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-5)


# -- saving -------------------------------------------------------------------------------
def _augmenter():
    return lm.Sequential([
        lm.Input((12, 10, 3)), Resizing(10, 8, interpolation="bicubic",
                                        crop_to_aspect_ratio=True),
        CenterCrop(9, 7), RandomCrop(8, 6, seed=3), RandomFlip("horizontal", seed=1),
        RandomRotation(0.1, fill_mode="constant"), RandomZoom(0.2, (-0.1, 0.3)),
        RandomTranslation(0.1, 0.2), RandomShear(0.2, 0.1),
        RandomContrast(0.3, value_range=(0, 1)), RandomBrightness(0.2, value_range=(0, 1))])


def test_lamina_file_round_trip_keeps_configs_and_seed_states(tmp_path):
    model = _augmenter()
    x = _images(2, 12, 10, 3) / 255.0
    model(x, training=True)
    model.save(tmp_path / "augment.lamina")
    loaded = lm.models.load_model(tmp_path / "augment.lamina")
    for ours, theirs in zip(model.layers, loaded.layers, strict=True):
        assert type(ours) is type(theirs) and ours.get_config() == theirs.get_config()
    np.testing.assert_array_equal(np.asarray(model(x, training=True)),
                                  np.asarray(loaded(x, training=True)))


def test_keras_file_imports_and_predicts_like_keras(keras, tmp_path):
    from lamina.saving.keras.importer import load_keras_model
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((12, 10, 3)), layers.Resizing(10, 8, interpolation="bicubic",
                                                  crop_to_aspect_ratio=True),
        layers.CenterCrop(9, 7), layers.RandomFlip("horizontal", seed=1),
        layers.RandomRotation(0.1, fill_mode="constant"), layers.RandomZoom(0.2, (-0.1, 0.3)),
        layers.RandomTranslation(0.1, 0.2), layers.RandomShear(0.2, 0.1),
        layers.RandomContrast(0.3, value_range=(0, 1)),
        layers.RandomBrightness(0.2, value_range=(0, 1)), layers.RandomCrop(8, 6, seed=3)])
    kmodel.save(tmp_path / "augment.keras")
    model = load_keras_model(tmp_path / "augment.keras")
    assert [type(layer).__name__ for layer in model.layers] == [
        type(layer).__name__ for layer in kmodel.layers]
    assert model.layers[-1].get_config()["seed"] == 3
    assert model.layers[6].x_factor == (-0.2, 0.2)  # Keras stores the drawn range
    x = _images(2, 12, 10, 3) / 255.0
    # Keras 3.15's RandomCrop returns its input uncropped at inference; lamina crops to the
    # aspect ratio and resizes (Keras's documented behaviour), so compare before it
    np.testing.assert_allclose(_run(model.layers[:-1], x), _run(kmodel.layers[:-1], x),
                               **PIXELS)
    assert model.predict(x, verbose=0).shape == (2, 8, 6, 3)


def _run(layers, x):
    for layer in layers:
        x = layer(x, training=False)
    return np.asarray(x)


# -- errors -------------------------------------------------------------------------------
def test_bad_arguments_and_inputs_are_refused_by_name():
    cases = [
        (lambda: Resizing(4, 4, interpolation="area"), "Resizing 'resizing.*interpolation"),
        (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
         "at most one"),
        (lambda: Resizing(0, 4), "`height`.*positive integer"),
        (lambda: RandomRotation(1.5), "RandomRotation .*`factor`.*1.5"),
        (lambda: RandomRotation(0.1, fill_mode="mirror"), "`fill_mode`"),
        (lambda: RandomZoom(-1.0), r"`height_factor`.*\(-1.0, 1.0\]"),
        (lambda: RandomTranslation(0.1, (0.1, 0.2, 0.3)), "`width_factor`"),
        (lambda: RandomContrast(-0.5), "RandomContrast .*`factor`"),
        (lambda: RandomBrightness(0.1, value_range=(1, 1)), "`value_range`"),
        (lambda: RandomFlip("diagonal"), "RandomFlip .*`mode`.*diagonal"),
        (lambda: CenterCrop(2, 2, data_format="channels_middle"), "`data_format`"),
    ]
    for make, pattern in cases:
        with pytest.raises(ConfigurationError, match=pattern):
            make()
    for layer in (RandomFlip(), Resizing(2, 2), CenterCrop(2, 2)):
        with pytest.raises(InputSpecError, match=f"'{layer.name}'.*rank 4.*shape \\(5, 4\\)"):
            layer(np.zeros((5, 4), np.float32), training=True)
