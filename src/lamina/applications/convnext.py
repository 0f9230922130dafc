"""ConvNeXtTiny with Keras 3's constructor, layer names and weights layout (Liu et al., "A
ConvNet for the 2020s", CVPR 2022).

The model normalises pixels in [0, 255] with the ImageNet mean and standard deviation inside
(`include_preprocessing=True`: a `Normalization` with fixed statistics, for 3-channel inputs),
so `preprocess_input` returns its input unchanged, as in Keras. Each block ends in
`LayerScale` and, with a drop-path rate, `StochasticDepth` (`lamina.layers`). ConvNeXt runs
channels-last only, as in Keras.
"""
import numpy as np

from lamina import layers
from lamina import ops as _ops  # noqa: F401  (installs the operators on symbolic tensors)
from lamina.applications import imagenet_utils
from lamina.applications import weights as weights_lib
from lamina.applications.model_inputs import source_inputs
from lamina.config import image_data_format
from lamina.errors import ConfigurationError
from lamina.models.model import Model
from lamina.models.sequential import Sequential

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
# (with top, without top) SHA-256 hashes of Keras's files
WEIGHTS_HASHES = {
    "convnext_tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                      "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
}
MODEL_CONFIGS = {"tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768],
                          "default_size": 224}}


def published_weights(weights_name, name, include_top):
    """The `WeightsFile` Keras downloads: named after the model (`name`), hash by variant."""
    fname = name + (".h5" if include_top else "_notop.h5")
    return weights_lib.WeightsFile(fname, BASE_WEIGHTS_PATH + fname,
                                   WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def ConvNeXtBlock(projection_dim, drop_path_rate=0.0, layer_scale_init_value=1e-6, name=None):
    """One ConvNeXt block: 7x7 depthwise convolution, LayerNormalization, two pointwise
    `Dense` layers around a GELU, `LayerScale`, and the residual sum (Keras's block)."""
    def apply(inputs):
        x = layers.Conv2D(filters=projection_dim, kernel_size=7, padding="same",
                          groups=projection_dim, name=f"{name}_depthwise_conv")(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = layers.LayerScale(layer_scale_init_value, projection_dim,
                                  name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            layer = layers.StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")
        else:
            layer = layers.Activation("linear", name=f"{name}_identity")
        return inputs + layer(x)
    return apply


def PreStem(name):
    """Normalises inputs in [0, 255] with the ImageNet-1k mean and standard deviation."""
    def apply(x):
        return layers.Normalization(
            mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
            variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
            name=f"{name}_prestem_normalization")(x)
    return apply


def Head(num_classes=1000, classifier_activation=None, name=None):
    """The classifier: global average pooling, LayerNormalization, Dense."""
    def apply(x):
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        return layers.Dense(num_classes, activation=classifier_activation,
                            name=f"{name}_head_dense")(x)
    return apply


def _downsampling_layers(projection_dims, name):
    stem = Sequential([
        layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
        layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm"),
    ], name=f"{name}_stem")
    found = [stem]
    for i in range(3):
        found.append(Sequential([
            layers.LayerNormalization(epsilon=1e-6,
                                      name=f"{name}_downsampling_layernorm_{i}"),
            layers.Conv2D(projection_dims[i + 1], kernel_size=2, strides=2,
                          name=f"{name}_downsampling_conv_{i}"),
        ], name=f"{name}_downsampling_block_{i}"))
    return found


def _check_imagenet(weights_name, depths, projection_dims, name):
    expected = MODEL_CONFIGS[weights_name.split("convnext_")[-1]]
    if depths != expected["depths"] or projection_dims != expected["projection_dims"]:
        raise ConfigurationError(
            f"{name}: the {weights_name} ImageNet weights expect depths {expected['depths']} "
            f"and projection_dims {expected['projection_dims']}, received {depths} and "
            f"{projection_dims}.")
    if weights_name not in name:
        raise ConfigurationError(
            f"{name}: with the ImageNet weights the model name must contain the variant "
            f"'{weights_name}' (it names the downloaded file), received name={name!r}.")


def _top(x, include_top, pooling, classes, classifier_activation, weights, name):
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights, name)
        return Head(num_classes=classes, classifier_activation=classifier_activation,
                    name=name)(x)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    return layers.LayerNormalization(epsilon=1e-6)(x)


def ConvNeXt(depths, projection_dims, drop_path_rate=0.0, layer_scale_init_value=1e-6,
             default_size=224, name="convnext", include_preprocessing=True, include_top=True,
             weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", weights_name=None):
    """The ConvNeXt body for `depths` blocks per stage of `projection_dims` channels, as
    Keras's `convnext.ConvNeXt`."""
    if image_data_format() == "channels_first":
        raise ConfigurationError(
            f"{name}: ConvNeXt runs on channels_last images only, received the "
            "channels_first image data format; set lamina.config.set_image_data_format("
            "'channels_last').")
    weights_lib.check_weights_argument(name, weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32, data_format=image_data_format(),
        require_flatten=include_top, weights=weights, name=name)
    x = imagenet_utils.image_input(input_tensor, input_shape, name)
    inputs = x if input_tensor is None else source_inputs(input_tensor, name)
    if include_preprocessing and input_shape[-1] == 3:
        x = PreStem(name=name)(x)
    rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i, downsampling in enumerate(_downsampling_layers(projection_dims, name)):
        x = downsampling(x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(projection_dim=projection_dims[i],
                              drop_path_rate=rates[cur + j],
                              layer_scale_init_value=layer_scale_init_value,
                              name=f"{name}_stage_{i}_block_{j}")(x)
        cur += depths[i]
    x = _top(x, include_top, pooling, classes, classifier_activation, weights, name)
    model = Model(inputs, x, name=name)
    published = None
    if weights == "imagenet":
        _check_imagenet(weights_name, depths, projection_dims, name)
        published = published_weights(weights_name, name, include_top)
    weights_lib.load(model, weights, published)
    return model


def ConvNeXtTiny(include_top=True, include_preprocessing=True, weights="imagenet",
                 input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", name="convnext_tiny"):
    """ConvNeXtTiny (Keras 3's `keras.applications.ConvNeXtTiny`): inputs in [0, 255],
    default size 224x224.

    Args:
        include_top: the `classes`-way classifier on top (1000 with the ImageNet weights).
        include_preprocessing: normalise the inputs inside the model (keep it with the
            ImageNet weights).
        weights: None, "imagenet" (Keras's published file, downloaded once) or a path.
        input_tensor: a symbolic tensor to build the model on.
        input_shape: (height, width, channels), at least 32x32; with the top and the
            ImageNet weights it must be (224, 224, 3).
        pooling: without the top, None (4D features), "avg" or "max" (then a
            LayerNormalization, as in Keras).
        classes: classifier width.
        classifier_activation: the top's activation (None or "softmax" with weights).
        name: the model's name; with the ImageNet weights it must contain "convnext_tiny".
    """
    config = MODEL_CONFIGS["tiny"]
    return ConvNeXt(weights_name="convnext_tiny", depths=config["depths"],
                    projection_dims=config["projection_dims"], drop_path_rate=0.0,
                    layer_scale_init_value=1e-6, default_size=config["default_size"],
                    name=name, include_top=include_top,
                    include_preprocessing=include_preprocessing, weights=weights,
                    input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                    classes=classes, classifier_activation=classifier_activation)


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: the model normalises its inputs inside (Keras keeps this
    function for compatibility)."""
    return x


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`, as `imagenet_utils`."""
    return imagenet_utils.decode_predictions(preds, top=top)
