"""VGG16 (Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), as Keras 3's `keras.applications.vgg16`: the same layers, layer
names and weights, so Keras's published weights files load.

Inputs: RGB images in [0, 255] passed through `preprocess_input` (RGB -> BGR, minus the
ImageNet channel means; "caffe" mode). The default input is 224x224, the smallest 32x32.
"""
from lamina import layers
from lamina.applications import family, imagenet_utils
from lamina.applications.weights import WeightsFile

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
WEIGHTS = WeightsFile("vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                      _BASE + "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                      "64373286793e3c8b2b4e3219cbf3544b")
WEIGHTS_NO_TOP = WeightsFile("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                             _BASE + "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                             "6d6bbae143d832006294945121d1f1fc")
# (filters, convolutions) of the five blocks, each closed by a 2x2 max pooling
BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """The VGG16 model: five blocks of 3x3 convolutions, then (with `include_top`) two
    4096-unit layers and the `classes`-way classifier.

    **Arguments:** as `keras.applications.VGG16`:
    - `include_top`: the three fully-connected layers on top (then the input must be
      224x224x3 with ImageNet weights);
    - `weights`: None (random), "imagenet" (downloaded once, hash-checked) or a weights path;
    - `input_tensor`: a symbolic tensor to use as the image input;
    - `input_shape`: `(height, width, 3)`, at least 32x32, without the top;
    - `pooling`: without the top, None (4D features), "avg" or "max" (2D features);
    - `classes`, `classifier_activation`: the classifier (None gives logits);
    - `name`: the model's name.

    **Returns:** a functional `lamina.Model`.
    """
    img_input = family.image_input(
        name, include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes, default_size=224,
        min_size=32)
    x = img_input
    for block, (filters, convs) in enumerate(BLOCKS, start=1):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{conv}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = family.classifier(x, name, classes=classes,
                              classifier_activation=classifier_activation, weights=weights)
    else:
        x = family.pooled(x, pooling)
    return family.finish(img_input, x, name, weights=weights,
                         published=WEIGHTS if include_top else WEIGHTS_NO_TOP)


def preprocess_input(x, data_format=None):
    """RGB -> BGR and minus the ImageNet channel means, without scaling ("caffe" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each row of `preds`: `(class_id, name, score)` lists."""
    return imagenet_utils.decode_predictions(preds, top=top)
