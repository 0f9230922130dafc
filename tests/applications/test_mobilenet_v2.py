"""lamina.applications.mobilenet_v2 against Keras 3's: constructor checks, published files,
preprocess_input (fast); structure, parameter counts, output shapes and predictions with
Keras's weights in both file formats, and `weights="imagenet"` from a local origin (slow)."""
import os

import numpy as np
import pytest
from parity import check_weight_files, same_structure

import lamina as lm
from lamina.applications import mobilenet_v2
from lamina.errors import ConfigurationError

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


@pytest.mark.parametrize("kwargs", [
    {"weights": "nowhere/w.h5"},
    {"weights": "imagenet", "classes": 10},
    {"weights": "imagenet", "alpha": 0.2},
    {"weights": None, "input_shape": (16, 16, 3), "include_top": False},
    {"weights": "imagenet", "input_shape": (64, 64, 3)},
])
def test_the_arguments_keras_refuses_are_refused(kwargs):
    with pytest.raises(ValueError):
        keras.applications.MobileNetV2(**kwargs)
    with pytest.raises(ConfigurationError):
        mobilenet_v2.MobileNetV2(**kwargs)


def test_published_files_are_keras_s():
    from keras.src.applications import mobilenet_v2 as kmobilenet

    for alpha in mobilenet_v2.ALPHAS:
        for rows in mobilenet_v2.SIZES:
            for top, suffix in ((True, ""), (False, "_no_top")):
                fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_"
                         f"{rows}{suffix}.h5")
                assert mobilenet_v2.published_weights(alpha, rows, top) == (
                    lm.applications.weights.WeightsFile(
                        fname, kmobilenet.BASE_WEIGHT_PATH + fname, None))


@pytest.mark.parametrize("v", [3, 8.0, 11.9, 16 * 0.35, 32 * 1.4, 1280 * 1.3, 96 * 0.75])
def test_make_divisible_is_keras_s(v):
    from keras.src.applications import mobilenet_v2 as kmobilenet

    assert mobilenet_v2.make_divisible(v, 8) == kmobilenet._make_divisible(v, 8)


def test_keras_module_names_and_preprocess_input():
    assert lm.applications.MobileNetV2 is mobilenet_v2.MobileNetV2
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        mobilenet_v2.preprocess_input(x),
        keras.applications.mobilenet_v2.preprocess_input(x.copy()), rtol=1e-6)


# -- slow: builds -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_pair():
    kwargs = {"weights": None, "alpha": 0.35, "input_shape": (32, 32, 3), "classes": 7}
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(**kwargs), mobilenet_v2.MobileNetV2(**kwargs)


def test_loads_keras_weights_in_both_formats_and_predicts_as_keras(small_pair, tmp_path):
    kmodel, model = small_pair
    same_structure(kmodel, model)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    check_weight_files(kmodel, model, tmp_path, x)


@pytest.mark.parametrize("kwargs", [
    {},
    {"alpha": 1.4, "include_top": False, "pooling": "max"},
    {"alpha": 0.75, "include_top": False, "input_shape": (96, 96, 3), "pooling": "avg"},
    {"alpha": 1.3, "include_top": False, "input_shape": (40, 56, 3)},
    {"alpha": 0.5, "include_top": False, "name": "backbone"},
], ids=["default", "1.4-max", "0.75-96-avg", "1.3-40x56", "0.5-named"])
def test_structure_counts_and_output_shape_equal_keras_s(kwargs):
    same_structure(keras.applications.MobileNetV2(weights=None, **kwargs),
                   mobilenet_v2.MobileNetV2(weights=None, **kwargs))


def test_stages_cover_the_backbone_in_order(small_pair):
    _, model = small_pair
    groups = mobilenet_v2.stages(model)
    assert [g[0].name for g in groups] == ["Conv1", "block_1_expand", "block_3_expand",
                                            "block_6_expand", "block_13_expand"]
    assert groups[-1][-1].name == "out_relu"
    named = {layer.name for g in groups for layer in g}
    pooling = model.layers[-2]
    assert type(pooling).__name__ == "GlobalAveragePooling2D"
    assert {layer.name for layer in model.layers[1:]} - named == {pooling.name, "predictions"}


def test_imagenet_weights_download_from_the_published_origin(small_pair, tmp_path,
                                                             monkeypatch):
    """`weights="imagenet"` fetches Keras's file name from the origin (here a local folder
    served as file://) into $LAMINA_HOME/models, then loads it as Keras does."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    kwargs = {"alpha": 0.35, "input_shape": (96, 96, 3), "include_top": False}
    kmodel = keras.applications.MobileNetV2(weights=None, **kwargs)
    served = tmp_path / "served"
    served.mkdir()
    fname = mobilenet_v2.published_weights(0.35, 96, False).fname
    with h5py.File(served / fname, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)
    monkeypatch.setattr(mobilenet_v2, "BASE_WEIGHT_PATH", served.as_uri() + "/")
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    model = mobilenet_v2.MobileNetV2(weights="imagenet", **kwargs)
    assert (tmp_path / "home" / "models" / fname).is_file()
    for ours, theirs in zip(sorted(model.weights, key=lambda w: w.path),
                            sorted(kmodel.weights, key=lambda w: w.path), strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
