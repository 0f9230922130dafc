"""lamina.applications.resnet against Keras 3's: constructor checks, published files,
preprocess_input (fast); structure, parameter counts, output shapes and predictions with
Keras's weights in both file formats (slow: these build ResNets)."""
import os

import numpy as np
import pytest
from parity import check_weight_files, same_structure

import lamina as lm
from lamina.applications import resnet
from lamina.errors import ConfigurationError

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


@pytest.mark.parametrize("kwargs", [
    {"weights": 3},
    {"weights": "imagenet", "classes": 10},
    {"weights": None, "input_shape": (31, 31, 3), "include_top": False},
    {"weights": "imagenet", "input_shape": (64, 64, 3)},
    {"weights": None, "input_shape": (32, 32)},
    {"weights": None, "input_shape": (None, None, 3)},
])
def test_the_arguments_keras_refuses_are_refused_before_anything_is_built(kwargs):
    with pytest.raises(ValueError):
        keras.applications.ResNet50(**kwargs)
    with pytest.raises(ConfigurationError):
        lm.applications.ResNet50(**kwargs)


def test_a_classifier_activation_other_than_softmax_is_refused_with_weights(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"")
    with pytest.raises(ConfigurationError, match="classifier_activation"):
        resnet.ResNet50(weights=str(path), classifier_activation="relu")


def test_published_files_are_keras_s():
    from keras.src.applications import resnet as kresnet

    for name in ("resnet50", "resnet101", "resnet152"):
        for top, index, suffix in ((True, 0, ""), (False, 1, "_notop")):
            fname = f"{name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
            assert resnet.published_weights(name, top) == lm.applications.weights.WeightsFile(
                fname, kresnet.BASE_WEIGHTS_PATH + fname, kresnet.WEIGHTS_HASHES[name][index])


def test_keras_module_names():
    apps = lm.applications
    assert apps.resnet50.ResNet50 is apps.ResNet50 is resnet.ResNet50
    assert apps.resnet.ResNet101 is apps.ResNet101
    assert apps.resnet.ResNet152 is apps.ResNet152
    assert apps.resnet50.preprocess_input is resnet.preprocess_input
    assert apps.resnet50.decode_predictions is resnet.decode_predictions


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_is_keras_s(data_format):
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    if data_format == "channels_first":
        x = x.transpose(0, 3, 1, 2)
    expected = keras.applications.resnet50.preprocess_input(x.copy(), data_format=data_format)
    np.testing.assert_allclose(resnet.preprocess_input(x, data_format=data_format), expected,
                               rtol=1e-6)


# -- slow: builds -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_pair():
    kwargs = {"weights": None, "include_top": False, "input_shape": (32, 32, 3),
              "pooling": "avg"}
    keras.utils.set_random_seed(0)
    return keras.applications.ResNet50(**kwargs), resnet.ResNet50(**kwargs)


def test_resnet50_loads_keras_weights_in_both_formats_and_predicts_as_keras(small_pair,
                                                                            tmp_path):
    kmodel, model = small_pair
    same_structure(kmodel, model)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    check_weight_files(kmodel, model, tmp_path, x)


@pytest.mark.parametrize("name, kwargs", [
    ("ResNet50", {}),
    ("ResNet50", {"include_top": True, "input_shape": (32, 32, 3), "classes": 10,
                  "classifier_activation": None}),
    ("ResNet50", {"include_top": False, "input_shape": (40, 48, 3)}),
    ("ResNet50", {"include_top": False, "pooling": "max"}),
    ("ResNet101", {"include_top": False, "input_shape": (32, 32, 3), "pooling": "avg"}),
], ids=["default", "top-classes-32", "notop-40x48", "notop-max", "resnet101"])
def test_structure_counts_and_output_shape_equal_keras_s(name, kwargs):
    same_structure(getattr(keras.applications, name)(weights=None, **kwargs),
                   getattr(lm.applications, name)(weights=None, **kwargs))


def test_input_tensor_with_predecessors_is_part_of_the_model(small_pair):
    inp = lm.Input((16, 16, 3))
    x = lm.layers.UpSampling2D(2)(inp)
    model = resnet.ResNet50(weights=None, include_top=False, input_tensor=x, pooling="avg")
    assert model.inputs[0] is inp
    assert model.count_params() == small_pair[1].count_params()


def test_stages_are_the_five_resnet_stages_in_order(small_pair):
    _, model = small_pair
    groups = resnet.stages(model)
    assert [g[0].name for g in groups] == ["conv1_pad", "conv2_block1_1_conv",
                                            "conv3_block1_1_conv", "conv4_block1_1_conv",
                                            "conv5_block1_1_conv"]
    named = [layer for g in groups for layer in g]
    assert len(named) == len(set(map(id, named)))
    assert {layer.name for layer in model.layers} - {layer.name for layer in named} == {
        model.layers[0].name, "avg_pool"}
    outer = lm.Model(model.inputs, lm.layers.Dense(2)(model.outputs[0]))
    assert [len(g) for g in resnet.stages(outer)] == [len(g) for g in groups]
    with pytest.raises(ConfigurationError, match="expected a ResNet"):
        resnet.stages(lm.Sequential([lm.Input((2,)), lm.layers.Dense(1)]))
