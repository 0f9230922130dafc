"""CIFAR-10 (`keras.datasets.cifar10`): 50,000 + 10,000 32x32 colour images, 10 classes."""
import os

import numpy as np

from lamina.datasets import cifar
from lamina.utils.file_download import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # sha256


def load_data():
    """`(x_train, y_train), (x_test, y_test)`: uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3) (channels first under `image_data_format() == "channels_first"`),
    uint8 labels (50000, 1) and (10000, 1)."""
    folder = get_file(fname="cifar-10-batches-py-target", origin=ORIGIN, extract=True,
                      file_hash=FILE_HASH)
    folder = cifar.inner(folder, "cifar-10-batches-py")
    parts = [cifar.load_batch(os.path.join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([data for data, _ in parts]).astype("uint8")
    y_train = np.concatenate([np.asarray(labels) for _, labels in parts])
    x_test, y_test = cifar.load_batch(os.path.join(folder, "test_batch"))
    return cifar.finish(x_train, y_train, x_test.astype("uint8"), y_test, "uint8")
