"""MobileNetV3Small and MobileNetV3Large with Keras 3's constructors, layer names and weights
layout (Howard et al., "Searching for MobileNetV3", ICCV 2019).

The models rescale their inputs inside (`include_preprocessing=True`: a `Rescaling` from
[0, 255] to [-1, 1]), so `preprocess_input` returns its input unchanged, as in Keras.
`minimalistic=True` drops squeeze-and-excite, hard-swish and the 5x5 kernels.
"""
import warnings

from lamina import layers
from lamina import ops as _ops  # noqa: F401  (installs the operators on symbolic tensors)
from lamina.applications import imagenet_utils
from lamina.applications import weights as weights_lib
from lamina.applications.model_inputs import source_inputs
from lamina.config import image_data_format
from lamina.core.node import is_symbolic
from lamina.errors import ConfigurationError
from lamina.models.model import Model

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
# (with top, without top) MD5 hashes of Keras's files, keyed by configuration
WEIGHTS_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb",
                             "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7",
                            "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c",
                                         "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7",
                             "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862",
                            "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37",
                                         "cde8136e733e811080d9fcd8a252f7e4"),
}


def published_weights(model_type, minimalistic, alpha, include_top):
    """The `WeightsFile` Keras downloads for this configuration (None when none exists)."""
    key = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
    if key not in WEIGHTS_HASHES:
        return None
    suffix = ".h5" if include_top else "_no_top_v2.h5"
    fname = f"weights_mobilenet_v3_{key}{suffix}"
    return weights_lib.WeightsFile(fname, BASE_WEIGHT_PATH + fname,
                                   WEIGHTS_HASHES[key][0 if include_top else 1])


def _depth(v, divisor=8, min_value=None):
    """`v` rounded to a multiple of `divisor`, never more than 10% below `v`."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _relu(x):
    return layers.ReLU()(x)


def _hard_sigmoid(x):
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _hard_swish(x):
    return layers.Activation("hard_swish")(x)


def _batch_norm(x, name):
    axis = 1 if image_data_format() == "channels_first" else -1
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)(x)


def _se_block(inputs, filters, se_ratio, prefix):
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(
        inputs)
    x = layers.Conv2D(_depth(filters * se_ratio), kernel_size=1, padding="same",
                      name=f"{prefix}squeeze_excite_conv")(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, kernel_size=1, padding="same",
                      name=f"{prefix}squeeze_excite_conv_1")(x)
    x = _hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x, expansion, filters, kernel_size, stride, se_ratio, activation,
                        block_id):
    channel_axis = 1 if image_data_format() == "channels_first" else -1
    shortcut, infilters, prefix = x, x.shape[channel_axis], "expanded_conv_"
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = layers.Conv2D(_depth(infilters * expansion), kernel_size=1, padding="same",
                          use_bias=False, name=f"{prefix}expand")(x)
        x = activation(_batch_norm(x, f"{prefix}expand_bn"))
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"{prefix}depthwise_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=stride,
                               padding="same" if stride == 1 else "valid", use_bias=False,
                               name=f"{prefix}depthwise")(x)
    x = activation(_batch_norm(x, f"{prefix}depthwise_bn"))
    if se_ratio:
        x = _se_block(x, _depth(infilters * expansion), se_ratio, prefix)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", use_bias=False,
                      name=f"{prefix}project")(x)
    x = _batch_norm(x, f"{prefix}project_bn")
    if stride == 1 and infilters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


# (expansion, filters, kernel ("k": 5, or 3 when minimalistic), stride, squeeze-excite,
#  activation ("hs": hard-swish, or relu when minimalistic)) of each inverted residual block
_SMALL_BLOCKS = [(1, 16, 3, 2, True, "relu"), (72 / 16, 24, 3, 2, False, "relu"),
                 (88 / 24, 24, 3, 1, False, "relu"), (4, 40, "k", 2, True, "hs"),
                 (6, 40, "k", 1, True, "hs"), (6, 40, "k", 1, True, "hs"),
                 (3, 48, "k", 1, True, "hs"), (3, 48, "k", 1, True, "hs"),
                 (6, 96, "k", 2, True, "hs"), (6, 96, "k", 1, True, "hs"),
                 (6, 96, "k", 1, True, "hs")]
_LARGE_BLOCKS = [(1, 16, 3, 1, False, "relu"), (4, 24, 3, 2, False, "relu"),
                 (3, 24, 3, 1, False, "relu"), (3, 40, "k", 2, True, "relu"),
                 (3, 40, "k", 1, True, "relu"), (3, 40, "k", 1, True, "relu"),
                 (6, 80, 3, 2, False, "hs"), (2.5, 80, 3, 1, False, "hs"),
                 (2.3, 80, 3, 1, False, "hs"), (2.3, 80, 3, 1, False, "hs"),
                 (6, 112, 3, 1, True, "hs"), (6, 112, 3, 1, True, "hs"),
                 (6, 160, "k", 2, True, "hs"), (6, 160, "k", 1, True, "hs"),
                 (6, 160, "k", 1, True, "hs")]


def _stack(x, blocks, alpha, minimalistic):
    kernel, activation = (3, _relu) if minimalistic else (5, _hard_swish)
    se_ratio = None if minimalistic else 0.25
    for block_id, (expansion, filters, size, stride, se, act) in enumerate(blocks):
        x = _inverted_res_block(x, expansion, _depth(filters * alpha),
                                kernel if size == "k" else size, stride,
                                se_ratio if se else None,
                                activation if act == "hs" else _relu, block_id)
    return x


def _spatial(input_shape):
    first = image_data_format() == "channels_first"
    return (input_shape[1], input_shape[2]) if first else (input_shape[0], input_shape[1])


def _input_shape(input_shape, input_tensor, name):
    """Keras's MobileNetV3 input checks: `input_shape` against `input_tensor`, at least
    32x32."""
    first = image_data_format() == "channels_first"
    if input_tensor is not None and not is_symbolic(input_tensor):
        raise ConfigurationError(
            f"{name}: expected `input_tensor` to be a symbolic tensor (from lamina.Input or a "
            f"layer called on one), received {type(input_tensor).__name__}.")
    if input_tensor is not None and input_shape is not None:
        given = input_tensor.shape[1] if first else input_tensor.shape[2]
        if given != input_shape[1]:
            raise ConfigurationError(
                f"{name}: expected input_shape[1] to equal the width of `input_tensor`, "
                f"received input_shape={tuple(input_shape)} and input_tensor.shape="
                f"{input_tensor.shape}.")
    if input_shape is None and input_tensor is not None:
        rows, cols = input_tensor.shape[2:4] if first else input_tensor.shape[1:3]
        input_shape = (3, cols, rows) if first else (cols, rows, 3)
    if input_shape is None:
        input_shape = (3, None, None) if first else (None, None, 3)
    rows, cols = _spatial(input_shape)
    if rows and cols and (rows < 32 or cols < 32):
        raise ConfigurationError(
            f"{name}: expected an input size of at least 32x32, received "
            f"input_shape={tuple(input_shape)}.")
    return tuple(input_shape)


def _check_imagenet(alpha, minimalistic, input_shape, name):
    if (not minimalistic and alpha not in (0.75, 1.0)) or (minimalistic and alpha != 1.0):
        raise ConfigurationError(
            f"{name}: the ImageNet weights exist for alpha 0.75 or 1.0 (not minimalistic) and "
            f"1.0 (minimalistic), received alpha={alpha}, minimalistic={minimalistic}. Pass "
            "weights=None or a weights file for other widths.")
    rows, cols = _spatial(input_shape)
    if rows != cols or rows != 224:
        warnings.warn(f"{name}: `input_shape` is undefined or non-square, or `rows` is not "
                      "224. Weights for input shape (224, 224) will be loaded as the default.",
                      stacklevel=4)


def _top(x, include_top, pooling, classes, dropout_rate, classifier_activation, weights,
         last_point_ch, activation, name):
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, kernel_size=1, padding="same", use_bias=True,
                          name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        imagenet_utils.validate_activation(classifier_activation, weights, name)
        return layers.Activation(activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def MobileNetV3(blocks, last_point_ch, input_shape=None, alpha=1.0, model_type="large",
                minimalistic=False, include_top=True, weights="imagenet", input_tensor=None,
                classes=1000, pooling=None, dropout_rate=0.2,
                classifier_activation="softmax", include_preprocessing=True, name=None):
    """The MobileNetV3 body shared by Small and Large: `blocks` lists the inverted residual
    blocks, `last_point_ch` the width of the classifier's hidden 1x1 convolution."""
    label = name or f"MobileNetV3{model_type.capitalize()}"
    weights_lib.check_weights_argument(label, weights, include_top, classes)
    input_shape = _input_shape(input_shape, input_tensor, label)
    if weights == "imagenet":
        _check_imagenet(alpha, minimalistic, input_shape, label)
    img_input = imagenet_utils.image_input(input_tensor, input_shape, label)
    activation = _relu if minimalistic else _hard_swish
    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, kernel_size=3, strides=2, padding="same", use_bias=False,
                      name="conv")(x)
    x = activation(_batch_norm(x, "conv_bn"))
    x = _stack(x, blocks, alpha, minimalistic)
    channel_axis = 1 if image_data_format() == "channels_first" else -1
    last_conv_ch = _depth(x.shape[channel_axis] * 6)
    if alpha > 1.0:
        last_point_ch = _depth(last_point_ch * alpha)
    x = layers.Conv2D(last_conv_ch, kernel_size=1, padding="same", use_bias=False,
                      name="conv_1")(x)
    x = activation(_batch_norm(x, "conv_1_bn"))
    x = _top(x, include_top, pooling, classes, dropout_rate, classifier_activation, weights,
             last_point_ch, activation, label)
    inputs = img_input if input_tensor is None else source_inputs(input_tensor, label)
    model = Model(inputs, x, name=name)
    published = (published_weights(model_type, minimalistic, alpha, include_top)
                 if weights == "imagenet" else None)
    weights_lib.load(model, weights, published)
    return model


def MobileNetV3Small(input_shape=None, alpha=1.0, minimalistic=False, include_top=True,
                     weights="imagenet", input_tensor=None, classes=1000, pooling=None,
                     dropout_rate=0.2, classifier_activation="softmax",
                     include_preprocessing=True, name="MobileNetV3Small"):
    """MobileNetV3Small (Keras 3's `keras.applications.MobileNetV3Small`).

    Args:
        input_shape: (height, width, 3), at least 32x32; default (None, None, 3).
        alpha: width multiplier of every layer (0.75 or 1.0 for the ImageNet weights,
            1.0 with `minimalistic`).
        minimalistic: no squeeze-and-excite, hard-swish or 5x5 kernels.
        include_top: the 1000-class (or `classes`) classifier on top.
        weights: None, "imagenet" (Keras's published file, downloaded once) or a path.
        input_tensor: a symbolic tensor to build the model on.
        classes: classifier width (1000 with the ImageNet top).
        pooling: without the top, None (4D features), "avg" or "max".
        dropout_rate: dropout before the logits.
        classifier_activation: the top's activation (None or "softmax" with weights).
        include_preprocessing: rescale inputs in [0, 255] to [-1, 1] inside the model.
        name: the model's name.
    """
    return MobileNetV3(_SMALL_BLOCKS, 1024, input_shape, alpha, "small", minimalistic,
                       include_top, weights, input_tensor, classes, pooling, dropout_rate,
                       classifier_activation, include_preprocessing, name=name)


def MobileNetV3Large(input_shape=None, alpha=1.0, minimalistic=False, include_top=True,
                     weights="imagenet", input_tensor=None, classes=1000, pooling=None,
                     dropout_rate=0.2, classifier_activation="softmax",
                     include_preprocessing=True, name="MobileNetV3Large"):
    """MobileNetV3Large (Keras 3's `keras.applications.MobileNetV3Large`); the arguments
    are those of `MobileNetV3Small`."""
    return MobileNetV3(_LARGE_BLOCKS, 1280, input_shape, alpha, "large", minimalistic,
                       include_top, weights, input_tensor, classes, pooling, dropout_rate,
                       classifier_activation, include_preprocessing, name=name)


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: the models rescale their inputs inside (Keras keeps this
    function for compatibility)."""
    return x


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`, as `imagenet_utils`."""
    return imagenet_utils.decode_predictions(preds, top=top)
