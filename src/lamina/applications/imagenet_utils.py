"""What every ImageNet application shares, with Keras 3's behaviour: `preprocess_input` in the
"caffe", "tf" and "torch" modes, `decode_predictions` (the class index file downloaded once,
hash-checked, then read from the cache), and the checks of `input_shape`, `input_tensor` and
`classifier_activation` the constructors run.

One deliberate difference: Keras's numpy `preprocess_input` writes into a float input array
in place; lamina's returns a new array and leaves the caller's untouched.
"""
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from lamina import activations
from lamina.config import image_data_format
from lamina.core.input_layer import Input
from lamina.core.node import is_symbolic
from lamina.errors import ConfigurationError, InputSpecError
from lamina.utils.file_download import get_file

CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"
_CAFFE_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_class_index: dict | None = None


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scale a batch of RGB images in [0, 255] the way a family's weights were trained.

    "caffe": RGB -> BGR, minus the ImageNet channel means; "tf": to [-1, 1]; "torch": to
    [0, 1], minus the means, over the standard deviations. numpy in, numpy out; a jax array
    in, a jax array out.
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ConfigurationError(
            f"preprocess_input: expected `mode` 'caffe', 'tf' or 'torch', received {mode!r}.")
    data_format = data_format or image_data_format()
    if data_format not in {"channels_first", "channels_last"}:
        raise ConfigurationError(
            "preprocess_input: expected `data_format` 'channels_first' or 'channels_last', "
            f"received {data_format!r}.")
    xp = np if isinstance(x, (np.ndarray, list, tuple, int, float)) else jnp
    x = xp.asarray(x)
    if not xp.issubdtype(x.dtype, xp.floating):
        x = x.astype("float32")
    if mode == "tf":
        return x / 127.5 - 1.0
    channel_axis = (0 if x.ndim == 3 else 1) if data_format == "channels_first" else -1
    shape = [1] * x.ndim
    shape[channel_axis] = 3
    if mode == "torch":
        mean = xp.asarray(_TORCH_MEAN, x.dtype).reshape(shape)
        return (x / 255.0 - mean) / xp.asarray(_TORCH_STD, x.dtype).reshape(shape)
    x = xp.flip(x, axis=channel_axis)
    return x - xp.asarray(_CAFFE_MEAN, x.dtype).reshape(shape)


def _load_class_index() -> dict:
    global _class_index
    if _class_index is not None:
        return _class_index
    path = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                    file_hash=CLASS_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    _class_index = index
    return index


def decode_predictions(preds, top=5):
    """The `top` classes of each row of ImageNet predictions `(samples, 1000)`, as lists of
    `(class_id, class_name, score)` sorted by score."""
    preds = np.asarray(jax.device_get(preds))
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise InputSpecError(
            "decode_predictions: expected a batch of ImageNet predictions of shape (samples, "
            f"1000), received shape {preds.shape}.")
    index = _load_class_index()
    results = []
    for row in preds:
        best = row.argsort()[-top:][::-1]
        result = [(*index[str(i)], row[i]) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def _check_given_shape(name, input_shape, min_size, data_format, weights):
    if len(input_shape) != 3:
        raise ConfigurationError(
            f"{name}: expected `input_shape` to be a tuple of three integers, received "
            f"{input_shape}.")
    channels = input_shape[0] if data_format == "channels_first" else input_shape[-1]
    spatial = input_shape[1:] if data_format == "channels_first" else input_shape[:2]
    if channels != 3 and weights == "imagenet":
        raise ConfigurationError(
            f"{name}: the ImageNet weights expect 3 input channels, received "
            f"input_shape={input_shape}.")
    if any(d is not None and d < min_size for d in spatial):
        raise ConfigurationError(
            f"{name}: expected an input size of at least {min_size}x{min_size}, received "
            f"input_shape={input_shape}.")


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None, name="application"):
    """The model's input shape (no batch dimension): `input_shape` checked, or the default
    for `default_size`; Keras's `imagenet_utils.obtain_input_shape`."""
    first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if first else input_shape[-1]
        if channels not in {1, 3}:
            warnings.warn(f"{name}: this model usually expects 1 or 3 input channels, received "
                          f"input_shape {tuple(input_shape)}.", stacklevel=3)
        default = ((channels, default_size, default_size) if first
                   else (default_size, default_size, channels))
    else:
        default = (3, default_size, default_size) if first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default:
            raise ConfigurationError(
                f"{name}: with include_top=True and the ImageNet weights, expected "
                f"input_shape={default}, received {tuple(input_shape)}.")
        return default
    if input_shape:
        input_shape = tuple(input_shape)
        _check_given_shape(name, input_shape, min_size, data_format, weights)
    elif require_flatten:
        input_shape = default
    else:
        input_shape = (3, None, None) if first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ConfigurationError(
            f"{name}: with include_top=True the input shape must be static, received "
            f"input_shape={input_shape}.")
    return input_shape


def correct_pad(inputs, kernel_size):
    """Keras's zero padding before a stride-2 convolution of `kernel_size` (channels last)."""
    size = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights, name="application"):
    """Pretrained classifiers take only `None` or "softmax" as their activation."""
    if weights is None:
        return
    if activations.get(classifier_activation) not in {activations.get("softmax"),
                                                      activations.get(None)}:
        raise ConfigurationError(
            f"{name}: with pretrained weights and include_top=True, expected "
            f"classifier_activation None or 'softmax', received {classifier_activation!r}.")


def image_input(input_tensor, input_shape, name="application"):
    """The model's input tensor: `input_tensor` when given (a symbolic tensor, e.g. from
    `lm.Input`), else a new `Input` of `input_shape`."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not is_symbolic(input_tensor):
        raise ConfigurationError(
            f"{name}: expected `input_tensor` to be a symbolic tensor (from lamina.Input or a "
            f"layer called on one), received {type(input_tensor).__name__}.")
    return input_tensor

