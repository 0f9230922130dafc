"""EfficientNetB0-B3 with Keras 3's constructors, layer names and weights layout (Tan and Le,
"EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019).

The models take pixels in [0, 255] and normalise inside: `Rescaling(1/255)`, then a
`Normalization` whose mean and variance are weights of the model (loaded from the weights
file; zeros and ones without one, as in Keras), so `preprocess_input` returns its input
unchanged. Keras's quirk is kept, because the published files were trained with it: with
`weights="imagenet"` (only then) a third layer, `Rescaling(1 / sqrt(stddev))` per channel,
follows the normalisation (the published files store the standard deviation where
`Normalization` expects the variance; tensorflow issue 49930). A model built with
`weights=None` and given the ImageNet file later lacks that layer, in Keras as here.
Keras 3.15's EfficientNet (unlike EfficientNetV2) has no `include_preprocessing` argument.
"""
import copy
import math

from lamina import initializers, layers
from lamina.applications import imagenet_utils
from lamina.applications import weights as weights_lib
from lamina.applications.model_inputs import source_inputs
from lamina.config import image_data_format
from lamina.errors import ConfigurationError
from lamina.models.model import Model

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"
# (with top, without top) MD5 hashes of Keras's files
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
}
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]


def _block_args(kernel_size, repeats, filters_in, filters_out, expand_ratio, strides):
    return {"kernel_size": kernel_size, "repeats": repeats, "filters_in": filters_in,
            "filters_out": filters_out, "expand_ratio": expand_ratio, "id_skip": True,
            "strides": strides, "se_ratio": 0.25}


DEFAULT_BLOCKS_ARGS = [_block_args(3, 1, 32, 16, 1, 1), _block_args(3, 2, 16, 24, 6, 2),
                       _block_args(5, 2, 24, 40, 6, 2), _block_args(3, 3, 40, 80, 6, 2),
                       _block_args(5, 3, 80, 112, 6, 1), _block_args(5, 4, 112, 192, 6, 2),
                       _block_args(3, 1, 192, 320, 6, 1)]


def _conv_init():
    return initializers.VarianceScaling(scale=2.0, mode="fan_out",
                                        distribution="truncated_normal")


def _dense_init():
    return initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_out", distribution="uniform")


def published_weights(weights_name, name, include_top):
    """The `WeightsFile` Keras downloads: named after the model (`name`), hash by variant."""
    fname = name + (".h5" if include_top else "_notop.h5")
    return weights_lib.WeightsFile(fname, BASE_WEIGHTS_PATH + fname,
                                   WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def _bn_axis():
    return 3 if image_data_format() == "channels_last" else 1


def _squeeze_excite(x, filters, filters_in, se_ratio, activation, name):
    filters_se = max(1, int(filters_in * se_ratio))
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se_shape = (filters, 1, 1) if _bn_axis() == 1 else (1, 1, filters)
    se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
    se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                       kernel_initializer=_conv_init(), name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                       kernel_initializer=_conv_init(), name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16,
          kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0, id_skip=True):
    """One mobile inverted bottleneck block (Keras's `efficientnet.block`)."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                          kernel_initializer=_conv_init(), name=f"{name}expand_conv")(x)
        x = layers.BatchNormalization(axis=_bn_axis(), name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    conv_pad = "same"
    if strides == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"{name}dwconv_pad")(x)
        conv_pad = "valid"
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=conv_pad, use_bias=False,
                               depthwise_initializer=_conv_init(), name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=_bn_axis(), name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        x = _squeeze_excite(x, filters, filters_in, se_ratio, activation, name)
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      kernel_initializer=_conv_init(), name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=_bn_axis(), name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def _stem(x, weights, filters, activation):
    x = layers.Rescaling(1.0 / 255.0)(x)
    normalization = layers.Normalization(axis=_bn_axis())
    x = normalization(x)
    # Keras's statistics before a weights file sets them: mean 0, variance 1, never refused
    normalization.set_weights(normalization.get_weights())
    if weights == "imagenet":
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(filters, 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=_conv_init(), name="stem_conv")(x)
    x = layers.BatchNormalization(axis=_bn_axis(), name="stem_bn")(x)
    return layers.Activation(activation, name="stem_activation")(x)


def _blocks(x, blocks_args, round_filters, round_repeats, drop_connect_rate, activation,
            name):
    blocks_args = copy.deepcopy(blocks_args)
    total = float(sum(round_repeats(args["repeats"]) for args in blocks_args))
    b = 0
    for i, args in enumerate(blocks_args):
        if args["repeats"] <= 0:
            raise ConfigurationError(
                f"{name}: expected every block's `repeats` to be > 0, received "
                f"repeats={args['repeats']} in block {i + 1}.")
        args["filters_in"] = round_filters(args["filters_in"])
        args["filters_out"] = round_filters(args["filters_out"])
        for j in range(round_repeats(args.pop("repeats"))):
            if j > 0:
                args["strides"], args["filters_in"] = 1, args["filters_out"]
            x = block(x, activation, drop_connect_rate * b / total,
                      name=f"block{i + 1}{chr(j + 97)}_", **args)
            b += 1
    return x


def _top(x, include_top, pooling, dropout_rate, classes, classifier_activation, weights,
         name):
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights, name)
        return layers.Dense(classes, activation=classifier_activation,
                            kernel_initializer=_dense_init(), name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,
                 drop_connect_rate=0.2, depth_divisor=8, activation="swish",
                 blocks_args="default", name="efficientnet", include_top=True,
                 weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                 classes=1000, classifier_activation="softmax", weights_name=None):
    """The EfficientNet body scaled by `width_coefficient` (channels) and
    `depth_coefficient` (blocks), as Keras's `efficientnet.EfficientNet`."""
    blocks_args = DEFAULT_BLOCKS_ARGS if blocks_args == "default" else blocks_args
    weights_lib.check_weights_argument(name, weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32, data_format=image_data_format(),
        require_flatten=include_top, weights=weights, name=name)
    img_input = imagenet_utils.image_input(input_tensor, input_shape, name)

    def round_filters(filters, divisor=depth_divisor):
        filters *= width_coefficient
        new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
        return int(new_filters + divisor if new_filters < 0.9 * filters else new_filters)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    x = _stem(img_input, weights, round_filters(32), activation)
    x = _blocks(x, blocks_args, round_filters, round_repeats, drop_connect_rate, activation,
                name)
    x = layers.Conv2D(round_filters(1280), 1, padding="same", use_bias=False,
                      kernel_initializer=_conv_init(), name="top_conv")(x)
    x = layers.BatchNormalization(axis=_bn_axis(), name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    x = _top(x, include_top, pooling, dropout_rate, classes, classifier_activation, weights,
             name)
    inputs = img_input if input_tensor is None else source_inputs(input_tensor, name)
    model = Model(inputs, x, name=name)
    published = (published_weights(weights_name, name, include_top)
                 if weights == "imagenet" and weights_name in WEIGHTS_HASHES else None)
    weights_lib.load(model, weights, published)
    return model


_DOC = """{variant} (Keras 3's `keras.applications.{variant}`): inputs in [0, 255], default size
{size}x{size}.

Args:
    include_top: the `classes`-way classifier on top (1000 with the ImageNet weights).
    weights: None, "imagenet" (Keras's published file, downloaded once) or a path.
    input_tensor: a symbolic tensor to build the model on.
    input_shape: (height, width, 3), at least 32x32; with the top and the ImageNet
        weights it must be ({size}, {size}, 3).
    pooling: without the top, None (4D features), "avg" or "max".
    classes: classifier width.
    classifier_activation: the top's activation (None or "softmax" with weights).
    name: the model's name (it also names the published file Keras downloads).
"""


def EfficientNetB0(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb0"):
    return EfficientNet(1.0, 1.0, 224, 0.2, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b0")


def EfficientNetB1(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb1"):
    return EfficientNet(1.0, 1.1, 240, 0.2, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b1")


def EfficientNetB2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb2"):
    return EfficientNet(1.1, 1.2, 260, 0.3, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b2")


def EfficientNetB3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb3"):
    return EfficientNet(1.2, 1.4, 300, 0.3, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b3")


for _variant, _size in ((EfficientNetB0, 224), (EfficientNetB1, 240), (EfficientNetB2, 260),
                        (EfficientNetB3, 300)):
    _variant.__doc__ = _DOC.format(variant=_variant.__name__, size=_size)


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: the models rescale and normalise their inputs inside (Keras
    keeps this function for compatibility)."""
    return x


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`, as `imagenet_utils`."""
    return imagenet_utils.decode_predictions(preds, top=top)
