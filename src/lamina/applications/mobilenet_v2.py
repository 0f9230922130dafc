"""MobileNetV2 (Sandler et al. 2018), Keras 3's `keras.applications.mobilenet_v2`: the same
constructor (with the width multiplier `alpha`), layer names, weight shapes and order, and
published weight files (Keras publishes no hash for them, so none is checked).

Inputs are RGB images in [0, 255] through `preprocess_input` ("tf" mode: to [-1, 1]).
`stages(model)` gives the stem and the four resolution stages for `GradualUnfreezing`.
"""
import warnings

from lamina import layers
from lamina.applications import imagenet_utils
from lamina.applications import weights as weights_lib
from lamina.applications.model_inputs import source_inputs
from lamina.applications.stages import layers_by_stage
from lamina.config import image_data_format
from lamina.errors import ConfigurationError
from lamina.models.model import Model

BASE_WEIGHT_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                    "mobilenet_v2/")
ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
SIZES = (96, 128, 160, 192, 224)
# the layer-name prefixes of each stage, shallow to deep (Conv_1 closes the last stage)
STAGES = (("Conv1", "bn_Conv1", "expanded_conv_"), ("block_1_", "block_2_"),
          ("block_3_", "block_4_", "block_5_"),
          tuple(f"block_{i}_" for i in range(6, 13)),
          (*(f"block_{i}_" for i in range(13, 17)), "Conv_1", "out_relu"))
# (filters, stride, expansion) of blocks 0 ... 16
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
           (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


def published_weights(alpha, rows, include_top):
    """The `WeightsFile` Keras downloads for this width and input size."""
    suffix = "" if include_top else "_no_top"
    fname = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"
    return weights_lib.WeightsFile(fname, BASE_WEIGHT_PATH + fname, None)


def make_divisible(v, divisor, min_value=None):
    """`v` rounded to a multiple of `divisor`, never more than 10% below `v`."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _bn(x, name):
    axis = 1 if image_data_format() == "channels_first" else -1
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)(x)


def inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Keras's `_inverted_res_block`: 1x1 expansion, 3x3 depthwise, linear 1x1 projection,
    with a residual connection when the shapes allow it."""
    channel_axis = 1 if image_data_format() == "channels_first" else -1
    in_channels = inputs.shape[channel_axis]
    pointwise_filters = make_divisible(int(filters * alpha), 8)
    x, prefix = inputs, f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False,
                          name=f"{prefix}expand")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(_bn(x, f"{prefix}expand_BN"))
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3),
                                 name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(_bn(x, f"{prefix}depthwise_BN"))
    x = layers.Conv2D(pointwise_filters, 1, padding="same", use_bias=False,
                      name=f"{prefix}project")(x)
    x = _bn(x, f"{prefix}project_BN")
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _default_size(input_shape, input_tensor):
    """Keras's choice of the size whose weights load: the input's when square and published,
    else 224."""
    first = image_data_format() == "channels_first"
    if input_shape is not None:
        rows, cols = input_shape[1:3] if first else input_shape[:2]
    elif input_tensor is not None:
        rows, cols = input_tensor.shape[2:4] if first else input_tensor.shape[1:3]
    else:
        return 224
    return rows if rows == cols and rows in SIZES else 224


def _check_input_tensor(input_shape, input_tensor, name):
    if input_shape is None or input_tensor is None:
        return
    first = image_data_format() == "channels_first"
    axis = 1 if first else 2
    if input_tensor.shape[axis] != input_shape[1]:
        raise ConfigurationError(
            f"{name}: `input_tensor` of shape {input_tensor.shape} does not match "
            f"input_shape={input_shape}: expected input_tensor.shape[{axis}] == "
            f"input_shape[1].")


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None):
    """MobileNetV2, as `keras.applications.MobileNetV2`; `alpha` scales every layer's width
    (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4 and sizes 96 to 224). The
    default name is Keras's, `mobilenetv2_{alpha:.2f}_{rows}`."""
    where = name or "MobileNetV2"
    weights_lib.check_weights_argument(where, weights, include_top, classes)
    if input_tensor is not None:
        imagenet_utils.image_input(input_tensor, None, where)
    _check_input_tensor(input_shape, input_tensor, where)
    first = image_data_format() == "channels_first"
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=_default_size(input_shape, input_tensor), min_size=32,
        data_format=image_data_format(), require_flatten=include_top, weights=weights,
        name=where)
    rows, cols = input_shape[1:3] if first else input_shape[:2]
    if weights == "imagenet":
        if alpha not in ALPHAS:
            raise ConfigurationError(
                f"{where}: the ImageNet weights exist for alpha in {ALPHAS}, received "
                f"alpha={alpha}.")
        if rows != cols or rows not in SIZES:
            rows = 224
            warnings.warn(f"{where}: `input_shape` is undefined or non-square, or `rows` is "
                          f"not in {list(SIZES)}; the weights for input shape (224, 224) "
                          "will be loaded as the default.", stacklevel=2)
    img_input = imagenet_utils.image_input(input_tensor, input_shape, where)
    x = _backbone(img_input, alpha)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights, where)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    inputs = img_input if input_tensor is None else source_inputs(input_tensor, where)
    model = Model(inputs, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    weights_lib.load(model, weights, published_weights(alpha, rows, include_top))
    return model


def _backbone(img_input, alpha):
    x = layers.Conv2D(make_divisible(32 * alpha, 8), 3, strides=2, padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.ReLU(6.0, name="Conv1_relu")(_bn(x, "bn_Conv1"))
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = inverted_res_block(x, filters=filters, alpha=alpha, stride=stride,
                               expansion=expansion, block_id=block_id)
    # no alpha on the last convolution, except to widen it (as in the paper)
    last_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, 1, use_bias=False, name="Conv_1")(x)
    return layers.ReLU(6.0, name="out_relu")(_bn(x, "Conv_1_bn"))


def stages(model):
    """The layers of the stem and the four stages of a MobileNetV2 (or of a model holding
    one), shallow to deep: `GradualUnfreezing(stages(base)[1:])` unfreezes from the top."""
    return layers_by_stage(model, STAGES, "MobileNetV2")


def preprocess_input(x, data_format=None):
    """RGB in [0, 255] to [-1, 1], the scaling the MobileNetV2 weights were trained with."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`, as (class_id, name, score)."""
    return imagenet_utils.decode_predictions(preds, top=top)
