"""Reading CIFAR batches (Python pickles) safely, shared by `cifar10` and `cifar100`."""
import os

import numpy as np

from lamina import config
from lamina.datasets import files
from lamina.errors import SavingError


def load_batch(fpath, label_key="labels"):
    """`(data, labels)` of one CIFAR batch file: data (n, 3, 32, 32) uint8, labels a list."""
    with open(fpath, "rb") as f:
        batch = files.unpickle(f, f"'{fpath}'")
    if not isinstance(batch, dict):
        raise SavingError(f"The CIFAR file '{fpath}' holds a {type(batch).__name__}, "
                          "expected a dict of arrays.")
    batch = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = files.members(batch, ["data", label_key], fpath)
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise SavingError(f"The CIFAR file '{fpath}': expected 'data' of shape (n, 3072), "
                          f"received {getattr(data, 'shape', type(data).__name__)}.")
    if len(labels) != len(data):
        raise SavingError(f"The CIFAR file '{fpath}' has {len(data)} images and "
                          f"{len(labels)} labels.")
    return data.reshape(data.shape[0], 3, 32, 32), labels


def finish(x_train, y_train, x_test, y_test, label_dtype=None):
    """Labels as (n, 1) columns (in `label_dtype`, or as numpy reads the pickled list, as
    Keras), images channels last unless `image_data_format()` says channels first."""
    y_train = np.reshape(np.asarray(y_train, label_dtype), (len(y_train), 1))
    y_test = np.reshape(np.asarray(y_test, label_dtype), (len(y_test), 1))
    if config.image_data_format() == "channels_last":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)


def inner(folder, name):
    path = os.path.join(folder, name)
    if not os.path.isdir(path):
        raise SavingError(f"The CIFAR archive extracted into '{folder}' lacks the folder "
                          f"'{name}'.")
    return path
