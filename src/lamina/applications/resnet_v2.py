"""ResNet V2 (He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016), as Keras
3's `keras.applications.resnet_v2`: pre-activation bottleneck blocks, with Keras's layer names
and weights, so Keras's published weights files load.

Inputs: RGB images in [0, 255] passed through `preprocess_input` (scaled to [-1, 1]; "tf"
mode). The default input is 224x224, the smallest 32x32.
"""
from lamina import layers
from lamina.applications import family, imagenet_utils
from lamina.applications.weights import WeightsFile

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# Keras's resnet.WEIGHTS_HASHES: (with the top, without)
_HASHES = {
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
# blocks of the four stages conv2..conv5 (bottleneck filters 64, 128, 256, 512)
STAGE_BLOCKS = {"resnet50v2": (3, 4, 6, 3), "resnet101v2": (3, 4, 23, 3),
                "resnet152v2": (3, 8, 36, 3)}
_EPS = 1.001e-5


def _published(weights_name, include_top):
    fname = (f"{weights_name}_weights_tf_dim_ordering_tf_kernels"
             f"{'' if include_top else '_notop'}.h5")
    return WeightsFile(fname, _BASE + fname, _HASHES[weights_name][0 if include_top else 1])


WEIGHTS = {key: _published(key, True) for key in _HASHES}
WEIGHTS_NO_TOP = {key: _published(key, False) for key in _HASHES}


def _bn_relu(x, name):
    x = layers.BatchNormalization(axis=-1, epsilon=_EPS, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """One pre-activation bottleneck block: BN-ReLU, then 1x1, kxk (strided) and 1x1 (4x
    filters) convolutions, added to the shortcut (a 1x1 convolution of the pre-activation,
    the input, or its strided subsampling)."""
    preact = _bn_relu(x, f"{name}_preact")
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn_relu(x, f"{name}_1")
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False,
                      name=f"{name}_2_conv")(x)
    x = _bn_relu(x, f"{name}_2")
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """`blocks` blocks; the first has a convolution shortcut, the last the stride `stride1`."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _resnet_v2(weights_name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name):
    img_input = family.image_input(
        name, include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes, default_size=224,
        min_size=32)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    blocks = STAGE_BLOCKS[weights_name]
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks, strict=True)):
        x = stack_residual_blocks_v2(x, filters, count, stride1=1 if stage == 3 else 2,
                                     name=f"conv{stage + 2}")
    x = _bn_relu(x, "post")
    x = family.average_top(x, name, include_top=include_top, pooling=pooling, classes=classes,
                           classifier_activation=classifier_activation, weights=weights)
    published = (WEIGHTS if include_top else WEIGHTS_NO_TOP)[weights_name]
    return family.finish(img_input, x, name, weights=weights, published=published)


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """The 50-layer ResNet V2 (stages of 3, 4, 6 and 3 bottleneck blocks)."""
    return _resnet_v2("resnet50v2", include_top, weights, input_tensor, input_shape, pooling,
                      classes, classifier_activation, name)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet101v2"):
    """The 101-layer ResNet V2 (stages of 3, 4, 23 and 3 bottleneck blocks)."""
    return _resnet_v2("resnet101v2", include_top, weights, input_tensor, input_shape, pooling,
                      classes, classifier_activation, name)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet152v2"):
    """The 152-layer ResNet V2 (stages of 3, 8, 36 and 3 bottleneck blocks)."""
    return _resnet_v2("resnet152v2", include_top, weights, input_tensor, input_shape, pooling,
                      classes, classifier_activation, name)


for _constructor in (ResNet50V2, ResNet101V2, ResNet152V2):
    _constructor.__doc__ = (_constructor.__doc__ or "") + family.ARGUMENTS_DOC.format(
        keras_name=_constructor.__name__)


def preprocess_input(x, data_format=None):
    """Scale RGB images in [0, 255] to [-1, 1] ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`: `(class_id, name, score)` lists."""
    return imagenet_utils.decode_predictions(preds, top=top)
