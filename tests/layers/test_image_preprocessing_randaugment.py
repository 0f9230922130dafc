"""RandAugment, RandomElasticTransform and RandomColorDegeneration: the layer harness, Keras 3
parity given Keras's own transformations (each of RandAugment's eleven operations, a chain of
them, the elastic field), properties of the draws, the jitted training step, saving, the
.keras importer and errors. Tolerance: atol 5e-4 on values in [0, 255] (float32; the
operations run jitted, and XLA's fused sampling arithmetic differs from Keras's eager one by
about 1e-4, a relative 1e-6). Statistical checks allow about 5 standard errors (and the
seeds are fixed anyway)."""
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers import RandAugment, RandomColorDegeneration, RandomElasticTransform
from lamina.layers.image_preprocessing.randaugment import AUGMENT_LAYERS

PIXELS = {"rtol": 0, "atol": 5e-4}


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
    LayerCase("rand-augment", lambda: RandAugment(seed=1), _uniform(2, 6, 5, 3), (2, 6, 5, 3),
              trainable_params=0),
    LayerCase("random-elastic-transform", lambda: RandomElasticTransform(seed=1),
              _uniform(2, 6, 5, 3), (2, 6, 5, 3), trainable_params=0),
    LayerCase("random-color-degeneration", lambda: RandomColorDegeneration(0.5, seed=1),
              _uniform(2, 6, 5, 3), (2, 6, 5, 3), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- RandAugment --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_op():
    """A seeded one-operation RandAugment, shared so its jitted chain compiles once."""
    return RandAugment(num_ops=1, factor=0.5, seed=3)


def _only(index, transforms):
    return {"layer_idxes": np.array([index]), "transforms": transforms}


def test_each_operation_matches_keras_given_its_transformation(keras, one_op):
    x = _images(3, 7, 6, 3)
    theirs = keras.layers.RandAugment(factor=0.5, seed=3)
    transforms = theirs.get_random_transformation(x)["transforms"]
    for index, name in enumerate(AUGMENT_LAYERS):
        expected = getattr(theirs, name).transform_images(x, transforms[name])
        np.testing.assert_allclose(np.asarray(one_op.transform_images(x, _only(index,
                                                                                transforms))),
                                   np.asarray(expected), err_msg=name, **PIXELS)


def test_a_chain_of_operations_matches_keras(keras):
    x = _images(2, 7, 6, 3) / 255.0
    theirs = keras.layers.RandAugment(value_range=(0, 1), num_ops=2, factor=(0.2, 0.7),
                                      interpolation="nearest", seed=5)
    ours = RandAugment(value_range=(0, 1), num_ops=2, factor=(0.2, 0.7),
                       interpolation="nearest")
    transformation = theirs.get_random_transformation(x)
    transformation["layer_idxes"] = np.array([2, 8])  # rotation, then solarization
    np.testing.assert_allclose(np.asarray(ours.transform_images(x, transformation)),
                               np.asarray(theirs.transform_images(x, transformation)),
                               rtol=0, atol=1e-6)


def test_factor_zero_is_the_identity_exactly_where_keras_is(keras):
    x = _images(2, 6, 5, 3)
    ours, theirs = RandAugment(num_ops=1, factor=0.0), keras.layers.RandAugment(factor=0.0)
    transforms = theirs.get_random_transformation(x)["transforms"]
    identities = []
    for index, name in enumerate(AUGMENT_LAYERS):
        out = np.asarray(ours.transform_images(x, _only(index, transforms)))
        keras_out = np.asarray(getattr(theirs, name).transform_images(x, transforms[name]))
        assert np.allclose(out, x, atol=1e-3) == np.allclose(keras_out, x, atol=1e-3), name
        identities.append(np.allclose(out, x, atol=1e-3))
    # shear, translation, rotation, brightness, colour degeneration and contrast do nothing
    # at strength 0; sharpness 0 blurs, solarization 0 inverts, posterization keeps 1 bit,
    # auto-contrast and equalization do not depend on the factor
    assert identities == [True] * 6 + [False] * 5


def test_randaugment_properties(one_op):
    x = _images(4, 7, 6, 3)
    np.testing.assert_array_equal(np.asarray(one_op(x)), x)  # identity at inference
    out = np.asarray(one_op(x, training=True))
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 255.0
    assert not np.allclose(out, x)
    single = np.asarray(one_op(x[0], training=True))  # one image, rank 3
    assert single.shape == x[0].shape
    gray = np.asarray(one_op(x[..., :1], training=True))  # one channel
    assert gray.shape == (4, 7, 6, 1) and gray.min() >= 0.0 and gray.max() <= 255.0
    first = np.asarray(RandAugment(seed=9)(x, training=True))
    np.testing.assert_array_equal(first, np.asarray(RandAugment(seed=9)(x, training=True)))


def test_operations_are_chosen_uniformly_per_batch():
    x = _images(2, 4, 4, 3)
    layer = RandAugment(num_ops=2200, seed=4)
    indices = np.asarray(layer.get_random_transformation(x)["layer_idxes"])
    counts = np.bincount(indices, minlength=len(AUGMENT_LAYERS))
    assert len(counts) == len(AUGMENT_LAYERS)
    expected = 2200 / len(AUGMENT_LAYERS)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    again = np.asarray(layer.get_random_transformation(x)["layer_idxes"])
    assert not np.array_equal(indices, again)  # each call draws afresh
    nothing = RandAugment(num_ops=0, seed=1)
    np.testing.assert_array_equal(np.asarray(nothing(x, training=True)), x)


# -- RandomElasticTransform ---------------------------------------------------------------
@pytest.mark.parametrize("data_format, options", [
    ("channels_last", {}),
    ("channels_first", {"interpolation": "nearest", "fill_mode": "constant",
                        "fill_value": 9.0, "value_range": (0, 200), "scale": (0.8, 1.0)}),
])
def test_elastic_transform_matches_keras_given_its_transformation(keras, data_format, options):
    x = _images(3, 16, 14, 2)
    if data_format == "channels_first":
        x = x.transpose(0, 3, 1, 2)
    theirs = keras.layers.RandomElasticTransform(data_format=data_format, **options)
    transformation = theirs.get_random_transformation(x, seed=7)
    # with an int seed Keras draws the probability and the threshold from the same key, so
    # it never applies; choose the images by hand
    transformation["apply_transform"] = np.array([True, False, True])
    ours = RandomElasticTransform(data_format=data_format, **options)
    out = np.asarray(ours.transform_images(x, transformation))
    np.testing.assert_allclose(out, np.asarray(theirs.transform_images(x, transformation)),
                               **PIXELS)
    assert not np.allclose(out[0], np.clip(x[0], *ours.value_range))
    np.testing.assert_array_equal(out[1], np.clip(x[1], *ours.value_range))


def test_elastic_axes_move_independently_with_lamina_draws():
    layer = RandomElasticTransform(factor=(1.0, 1.0), seed=2)
    rows = np.broadcast_to(np.arange(12, dtype=np.float32)[:, None, None] * 20, (12, 12, 1))
    x = np.stack([rows, rows.transpose(1, 0, 2)])  # varies along y only, along x only
    transformation = layer.get_random_transformation(x)
    keys = np.asarray(transformation["seed"])
    assert keys.shape == (2, 2) and not np.array_equal(keys[0], keys[1])
    out = np.asarray(layer.transform_images(x, transformation))
    # an image constant along x sees only the vertical field (row 1), and the other way round
    vertical = np.asarray(layer.transform_images(x, {**transformation, "seed": keys[1]}))
    horizontal = np.asarray(layer.transform_images(x, {**transformation, "seed": keys[0]}))
    np.testing.assert_allclose(out[0], vertical[0], atol=1e-3)
    np.testing.assert_allclose(out[1], horizontal[1], atol=1e-3)
    assert not np.allclose(out[0], horizontal[0], atol=1e-3)


def test_elastic_transform_properties():
    x = _images(200, 6, 6, 1)
    layer = RandomElasticTransform(seed=5)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # identity at inference
    out = np.asarray(layer(x, training=True))
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 255.0
    moved = ~np.all(np.isclose(out, x), axis=(1, 2, 3))
    assert abs(moved.mean() - 0.5) < 5 * 0.5 / np.sqrt(200)  # p ~ U[0, 1]: half on average
    for inert in (RandomElasticTransform(factor=0.0), RandomElasticTransform(scale=0.0)):
        assert inert.get_random_transformation(x) is None
        np.testing.assert_array_equal(np.asarray(inert(x, training=True)), x)
    a, b = RandomElasticTransform(seed=8), RandomElasticTransform(seed=8)
    np.testing.assert_array_equal(np.asarray(a(x[:4], training=True)),
                                  np.asarray(b(x[:4], training=True)))


def test_color_degeneration_matches_keras_and_greys_at_one(keras):
    x = _images(3, 5, 4, 3)
    theirs = keras.layers.RandomColorDegeneration((0.2, 0.9))
    transformation = theirs.get_random_transformation(x)
    np.testing.assert_allclose(
        np.asarray(RandomColorDegeneration((0.2, 0.9)).transform_images(x, transformation)),
        np.asarray(theirs.transform_images(x, transformation)), **PIXELS)
    grey = np.asarray(RandomColorDegeneration((1.0, 1.0))(x, training=True))
    np.testing.assert_allclose(grey, np.repeat(x @ np.array([0.2989, 0.587, 0.114],
                                                            np.float32), 3).reshape(x.shape),
                               rtol=1e-5)
    assert RandomColorDegeneration(0.4).factor == (0.0, 0.4)  # Keras's docstring: [0, f]


# -- in a model, saving, the importer ------------------------------------------------------
def test_augmentation_trains_inside_the_jitted_step_of_a_cnn():
    x = _images(8, 8, 8, 3) / 255.0
    y = np.eye(2, dtype=np.float32)[np.arange(8) % 2]
    augment = RandAugment(value_range=(0, 1), seed=1)
    elastic = RandomElasticTransform(value_range=(0, 1), seed=2)
    model = lm.Sequential([lm.Input((8, 8, 3)), augment, elastic,
                           lm.layers.Conv2D(2, 3), lm.layers.GlobalAveragePooling2D(),
                           lm.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    states = [np.asarray(layer.seed_generator.state.value) for layer in (augment, elastic)]
    kernel = np.asarray(model.layers[2].kernel.value)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    for layer, state in zip((augment, elastic), states, strict=True):
        assert not np.array_equal(state, np.asarray(layer.seed_generator.state.value))
    assert not np.array_equal(kernel, np.asarray(model.layers[2].kernel.value))
    head = lm.Sequential([lm.Input((8, 8, 3)), *model.layers[2:]])
    np.testing.assert_allclose(model.predict(x, verbose=0), head.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # inference: no augmentation


def test_lamina_file_round_trip_keeps_configs_and_seed_states(tmp_path):
    model = lm.Sequential([
        lm.Input((6, 5, 3)),
        RandAugment(value_range=(0, 1), num_ops=3, factor=(0.1, 0.4), seed=2),
        RandomElasticTransform(0.7, (0.2, 0.5), fill_mode="mirror", value_range=(0, 1)),
        RandomColorDegeneration(0.3, value_range=(0, 1))])
    x = _images(2, 6, 5, 3) / 255.0
    model(x, training=True)
    model.save(tmp_path / "augment.lamina")
    loaded = lm.models.load_model(tmp_path / "augment.lamina")
    for ours, theirs in zip(model.layers, loaded.layers, strict=True):
        assert type(ours) is type(theirs) and ours.get_config() == theirs.get_config()
    np.testing.assert_array_equal(np.asarray(model(x, training=True)),
                                  np.asarray(loaded(x, training=True)))


def test_keras_file_imports(keras, tmp_path):
    from lamina.saving.keras.importer import load_keras_model
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((6, 5, 3)),
        layers.RandAugment(value_range=(0, 1), num_ops=3, factor=0.3, seed=4),
        layers.RandomElasticTransform(0.6, 0.4, interpolation="nearest", fill_mode="constant",
                                      fill_value=0.5, value_range=(0, 1), seed=1),
        layers.RandomColorDegeneration(0.3, value_range=(0, 1))])
    kmodel.save(tmp_path / "augment.keras")
    model = load_keras_model(tmp_path / "augment.keras")
    keys = ("value_range", "num_ops", "factor", "interpolation", "seed", "scale", "fill_mode",
            "fill_value")
    for ours, theirs in zip(model.layers, kmodel.layers, strict=True):
        assert type(ours).__name__ == type(theirs).__name__
        for key in keys:
            if key in theirs.get_config():
                assert np.array_equal(ours.get_config()[key], theirs.get_config()[key]), key
    assert model.layers[2].factor == (-0.3, 0.3)  # Keras 3.15 stores a symmetric range
    x = _images(2, 6, 5, 3) / 255.0
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               **PIXELS)


# -- errors -------------------------------------------------------------------------------
def test_bad_arguments_and_inputs_are_refused_by_name():
    cases = [
        (lambda: RandAugment(interpolation="bicubic"), "RandAugment .*`interpolation`"),
        (lambda: RandAugment(num_ops=-1), "RandAugment .*`num_ops`"),
        (lambda: RandAugment(factor=1.5), "RandAugment .*`factor`"),
        (lambda: RandAugment(value_range=(1, 1)), "RandAugment .*`value_range`"),
        (lambda: RandomElasticTransform(interpolation="lanczos3"),
         "RandomElasticTransform .*`interpolation`.*lanczos3"),
        (lambda: RandomElasticTransform(fill_mode="edge"), "RandomElasticTransform .*`fill_mode`"),
        (lambda: RandomElasticTransform(scale=2.0), "RandomElasticTransform .*`scale`"),
        (lambda: RandomElasticTransform(fill_value="zero"), "`fill_value`"),
        (lambda: RandomColorDegeneration(1.5), "RandomColorDegeneration .*`factor`"),
    ]
    for make, pattern in cases:
        with pytest.raises(ConfigurationError, match=pattern):
            make()
    for layer in (RandAugment(), RandomElasticTransform(), RandomColorDegeneration(0.5)):
        with pytest.raises(InputSpecError, match=f"'{layer.name}'.*rank 4.*shape \\(5, 4\\)"):
            layer(np.zeros((5, 4), np.float32), training=True)
    for layer in (RandomColorDegeneration(0.5), RandAugment()):
        with pytest.raises(InputSpecError, match=f"'{layer.name}'.*3 channels.*\\(1, 3, 3, 2\\)"):
            layer(np.zeros((1, 3, 3, 2), np.float32), training=True)
