"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR
2017), as Keras 3's `keras.applications.xception`: the same layers, layer names and weights,
so Keras's published weights files load.

Inputs: RGB images in [0, 255] passed through `preprocess_input` (scaled to [-1, 1]; "tf"
mode). The default input is 299x299, the smallest 71x71.
"""
from lamina import layers
from lamina.applications import family, imagenet_utils
from lamina.applications.weights import WeightsFile

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
WEIGHTS = WeightsFile("xception_weights_tf_dim_ordering_tf_kernels.h5",
                      _BASE + "xception_weights_tf_dim_ordering_tf_kernels.h5",
                      "0a58e3b7378bc2990ea3b43d5981f1f6")
WEIGHTS_NO_TOP = WeightsFile("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                             _BASE + "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                             "b0042744bf5b25fce3cb969f33bebb97")


def _sepconv_bn(x, filters, name):
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=-1, name=f"{name}_bn")(x)


def _downsampling_block(x, filters, block, relu_first=True):
    """Two separable convolutions and a strided max pooling, added to a strided 1x1
    convolution of the input (Keras leaves the shortcut's layers unnamed)."""
    residual = layers.Conv2D(filters[1], 1, strides=2, padding="same",
                             use_bias=False)(x)
    residual = layers.BatchNormalization(axis=-1)(residual)
    if relu_first:
        x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sepconv_bn(x, filters[0], f"block{block}_sepconv1")
    x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sepconv_bn(x, filters[1], f"block{block}_sepconv2")
    x = layers.MaxPooling2D(3, strides=2, padding="same",
                            name=f"block{block}_pool")(x)
    return layers.add([x, residual])


def _middle_block(x, block):
    """Three ReLU-separable-convolution units of 728 filters, added to the input."""
    residual = x
    for unit in (1, 2, 3):
        x = layers.Activation("relu", name=f"block{block}_sepconv{unit}_act")(x)
        x = _sepconv_bn(x, 728, f"block{block}_sepconv{unit}")
    return layers.add([x, residual])


def _entry_flow(img_input):
    x = layers.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(
        img_input)
    x = layers.BatchNormalization(axis=-1, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=-1, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = _downsampling_block(x, (128, 128), 2, relu_first=False)
    x = _downsampling_block(x, (256, 256), 3)
    return _downsampling_block(x, (728, 728), 4)


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """The Xception model: an entry flow of strided separable-convolution blocks, eight
    middle blocks, an exit flow, then (with `include_top`) global average pooling and the
    `classes`-way classifier.

    **Arguments:** as `keras.applications.Xception`:
    - `include_top`: the classifier on top (then the input must be 299x299x3 with ImageNet
      weights);
    - `weights`: None (random), "imagenet" (downloaded once, hash-checked) or a weights path;
    - `input_tensor`: a symbolic tensor to use as the image input;
    - `input_shape`: `(height, width, 3)`, at least 71x71, without the top;
    - `pooling`: without the top, None (4D features), "avg" or "max" (2D features);
    - `classes`, `classifier_activation`: the classifier (None gives logits);
    - `name`: the model's name.

    **Returns:** a functional `lamina.Model`.
    """
    img_input = family.image_input(
        name, include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes, default_size=299,
        min_size=71)
    x = _entry_flow(img_input)
    for block in range(5, 13):
        x = _middle_block(x, block)
    x = _downsampling_block(x, (728, 1024), 13)
    x = _sepconv_bn(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = family.classifier(x, name, classes=classes,
                              classifier_activation=classifier_activation, weights=weights)
    else:
        x = family.pooled(x, pooling)
    return family.finish(img_input, x, name, weights=weights,
                         published=WEIGHTS if include_top else WEIGHTS_NO_TOP)


def preprocess_input(x, data_format=None):
    """Scale RGB images in [0, 255] to [-1, 1] ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`: `(class_id, name, score)` lists."""
    return imagenet_utils.decode_predictions(preds, top=top)
