"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017), as Keras
3's `keras.applications.densenet`: DenseNet121, DenseNet169 and DenseNet201 with Keras's layer
names and weights, so Keras's published weights files load.

Inputs: RGB images in [0, 255] passed through `preprocess_input` (scaled to [0, 1], then
normalised by the ImageNet channel means and deviations; "torch" mode). The default input is
224x224, the smallest 32x32.
"""
from lamina import layers
from lamina.applications import family, imagenet_utils
from lamina.applications.weights import WeightsFile

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
# Keras's file hashes: (with the top, without)
_HASHES = {
    "densenet121": ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "densenet169": ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "densenet201": ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
# building blocks of the four dense blocks conv2..conv5
BLOCKS = {"densenet121": (6, 12, 24, 16), "densenet169": (6, 12, 32, 32),
          "densenet201": (6, 12, 48, 32)}
_EPS = 1.001e-5


def _published(key, include_top):
    fname = f"{key}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return WeightsFile(fname, _BASE + fname, _HASHES[key][0 if include_top else 1])


WEIGHTS = {key: _published(key, True) for key in _HASHES}
WEIGHTS_NO_TOP = {key: _published(key, False) for key in _HASHES}


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 convolution (4 x `growth_rate`), BN-ReLU-3x3 convolution (`growth_rate`),
    concatenated to the input."""
    x1 = layers.BatchNormalization(axis=-1, epsilon=_EPS, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=-1, epsilon=_EPS, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([x, x1])


def dense_block(x, blocks, name):
    """`blocks` building blocks of growth rate 32."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN-ReLU, a 1x1 convolution to `reduction` of the channels, 2x2 average pooling."""
    x = layers.BatchNormalization(axis=-1, epsilon=_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[-1] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _densenet(key, include_top, weights, input_tensor, input_shape, pooling, classes,
              classifier_activation, name):
    img_input = family.image_input(
        name, include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes, default_size=224,
        min_size=32)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, blocks in enumerate(BLOCKS[key], start=2):
        x = dense_block(x, blocks, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = layers.BatchNormalization(axis=-1, epsilon=_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = family.average_top(x, name, include_top=include_top, pooling=pooling, classes=classes,
                           classifier_activation=classifier_activation, weights=weights)
    published = (WEIGHTS if include_top else WEIGHTS_NO_TOP)[key]
    return family.finish(img_input, x, name, weights=weights, published=published)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    """DenseNet121: dense blocks of 6, 12, 24 and 16 building blocks."""
    return _densenet("densenet121", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet169"):
    """DenseNet169: dense blocks of 6, 12, 32 and 32 building blocks."""
    return _densenet("densenet169", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet201"):
    """DenseNet201: dense blocks of 6, 12, 48 and 32 building blocks."""
    return _densenet("densenet201", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name)


for _constructor in (DenseNet121, DenseNet169, DenseNet201):
    _constructor.__doc__ = (_constructor.__doc__ or "") + family.ARGUMENTS_DOC.format(
        keras_name=_constructor.__name__)


def preprocess_input(x, data_format=None):
    """Scale RGB images in [0, 255] to [0, 1], minus the ImageNet channel means, over their
    standard deviations ("torch" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`: `(class_id, name, score)` lists."""
    return imagenet_utils.decode_predictions(preds, top=top)
