"""ResNet50, ResNet101 and ResNet152 (He et al. 2015), Keras 3's `keras.applications.resnet`:
the same constructors, layer names, weight shapes and order, and published weight files.

Inputs are RGB images in [0, 255] through `preprocess_input` ("caffe" mode: BGR, minus the
ImageNet means). `stages(model)` gives the five stages (`conv1` ... `conv5`) for
`GradualUnfreezing`.
"""
from lamina import layers
from lamina.applications import imagenet_utils
from lamina.applications import weights as weights_lib
from lamina.applications.model_inputs import source_inputs
from lamina.applications.stages import layers_by_stage
from lamina.config import image_data_format
from lamina.models.model import Model

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
# the layer-name prefixes of each stage, shallow to deep
STAGES = (("conv1_", "pool1_"), ("conv2_",), ("conv3_",), ("conv4_",), ("conv5_",))
_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}


def published_weights(weights_name, include_top):
    """The `WeightsFile` Keras downloads for `weights_name` ("resnet50", ...)."""
    suffix = "" if include_top else "_notop"
    fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    return weights_lib.WeightsFile(fname, BASE_WEIGHTS_PATH + fname,
                                   WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def _bn(x, name):
    axis = 3 if image_data_format() == "channels_last" else 1
    return layers.BatchNormalization(axis=axis, epsilon=1.001e-5, name=name)(x)


def residual_block(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """Keras's `residual_block_v1`: 1x1 -> kxk -> 1x1 (4 * filters) bottleneck plus a
    shortcut (a strided 1x1 convolution when `conv_shortcut`, else the identity)."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(shortcut, f"{name}_0_bn")
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(_bn(x, f"{name}_1_bn"))
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(_bn(x, f"{name}_2_bn"))
    x = _bn(layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x), f"{name}_3_bn")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack(x, filters, blocks, stride1=2, name=None):
    """Keras's `stack_residual_blocks_v1`: `blocks` residual blocks, the first strided."""
    x = residual_block(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def ResNet(weights_name, include_top=True, weights="imagenet", input_tensor=None,
           input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
           name="resnet"):
    """The ResNet (v1) of `weights_name` ("resnet50", "resnet101" or "resnet152")."""
    weights_lib.check_weights_argument(name, weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=image_data_format(),
        require_flatten=include_top, weights=weights, name=name)
    img_input = imagenet_utils.image_input(input_tensor, input_shape, name)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights, name)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.Activation("relu", name="conv1_relu")(_bn(x, "conv1_bn"))
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), _BLOCKS[weights_name],
                                              strict=True)):
        x = stack(x, filters, blocks, stride1=1 if i == 0 else 2, name=f"conv{i + 2}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    inputs = img_input if input_tensor is None else source_inputs(input_tensor, name)
    model = Model(inputs, x, name=name)
    weights_lib.load(model, weights, published_weights(weights_name, include_top))
    return model


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50, as `keras.applications.ResNet50` (25.6M parameters with the top)."""
    return ResNet("resnet50", include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet101, as `keras.applications.ResNet101`."""
    return ResNet("resnet101", include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet152, as `keras.applications.ResNet152`."""
    return ResNet("resnet152", include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name)


def stages(model):
    """The layers of the stages `conv1` (stem) ... `conv5`, shallow to deep, of a ResNet (or
    of a model holding one): `GradualUnfreezing(stages(base)[1:])` unfreezes from conv5."""
    return layers_by_stage(model, STAGES, "ResNet")


def preprocess_input(x, data_format=None):
    """RGB in [0, 255] to the "caffe" scaling the ResNet weights were trained with."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`, as (class_id, name, score)."""
    return imagenet_utils.decode_predictions(preds, top=top)
