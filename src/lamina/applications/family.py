"""The steps every constructor of VGG16, ResNet50V2, Xception and DenseNet takes around its
own layers, in Keras 3's order: check the arguments and make the image input (`image_input`),
then the classifier or the feature pooling (`classifier`, `pooled`), then the model and its
weights (`finish`).

Two deliberate differences from Keras: a `pooling` other than None, "avg" and "max" is refused
(Keras ignores it and returns the 4D features), and the models are channels-last only (lamina's
convolutions are), so `image_data_format() == "channels_first"` is refused rather than giving
a model whose input shape and layers disagree.
"""
from lamina import layers
from lamina.applications.imagenet_utils import image_input as checked_input
from lamina.applications.imagenet_utils import obtain_input_shape, validate_activation
from lamina.applications.model_inputs import source_inputs
from lamina.applications.weights import WeightsFile, check_weights_argument, load
from lamina.config import image_data_format
from lamina.errors import ConfigurationError
from lamina.models.model import Model

POOLINGS = (None, "avg", "max")


def image_input(name, *, include_top, weights, input_tensor, input_shape, pooling, classes,
                default_size, min_size):
    """Keras's argument checks, then the model's image input (`input_tensor` or a new
    `Input`), channels last."""
    if image_data_format() != "channels_last":
        raise ConfigurationError(
            f"{name}: lamina's applications are channels-last, received "
            f"image_data_format()={image_data_format()!r}. Call "
            "lamina.config.set_image_data_format('channels_last') before building the model.")
    check_weights_argument(name, weights, include_top, classes)
    if pooling not in POOLINGS:
        raise ConfigurationError(
            f"{name}: expected `pooling` None, 'avg' or 'max', received {pooling!r}.")
    shape = obtain_input_shape(input_shape, default_size=default_size, min_size=min_size,
                               data_format="channels_last", require_flatten=include_top,
                               weights=weights, name=name)
    return checked_input(input_tensor, shape, name=name)


def pooled(x, pooling, avg_name=None, max_name=None):
    """The feature output without the top: `x`, or its global average or maximum."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def classifier(x, name, *, classes, classifier_activation, weights):
    """The "predictions" layer of the top, its activation checked for pretrained weights."""
    validate_activation(classifier_activation, weights, name=name)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def finish(img_input, outputs, name, *, weights, published: WeightsFile | None):
    """The functional model from the sources of `img_input` to `outputs`, with `weights`
    loaded (`published` is the file Keras downloads for "imagenet")."""
    model = Model(source_inputs(img_input), outputs, name=name)
    load(model, weights, published)
    return model


def average_top(x, name, *, include_top, pooling, classes, classifier_activation, weights):
    """Keras's head of the ResNetV2 and DenseNet families: global average pooling and the
    classifier with the top, else the optional pooling (layers "avg_pool" / "max_pool")."""
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return classifier(x, name, classes=classes, classifier_activation=classifier_activation,
                          weights=weights)
    return pooled(x, pooling, avg_name="avg_pool", max_name="max_pool")


# the arguments section of the ResNetV2 and DenseNet constructors' docstrings
ARGUMENTS_DOC = """

    **Arguments:** as `keras.applications.{keras_name}`:
    - `include_top`: global average pooling and the classifier on top (then the input must be
      224x224x3 with ImageNet weights);
    - `weights`: None (random), "imagenet" (downloaded once, hash-checked) or a weights path;
    - `input_tensor`: a symbolic tensor to use as the image input;
    - `input_shape`: `(height, width, 3)`, at least 32x32, without the top;
    - `pooling`: without the top, None (4D features), "avg" or "max" (2D features);
    - `classes`, `classifier_activation`: the classifier (None gives logits);
    - `name`: the model's name.

    **Returns:** a functional `lamina.Model`.
    """
