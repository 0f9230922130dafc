"""MNIST digits (`keras.datasets.mnist`): 60,000 + 10,000 uint8 images of 28x28."""
import numpy as np

from lamina.datasets import files

ORIGIN = files.ORIGIN_FOLDER + "mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # sha256


def load_data(path="mnist.npz"):
    """`(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes (60000, 28, 28),
    (60000,), (10000, 28, 28), (10000,). `path` is a file name in the cache, or an existing
    local `mnist.npz`, read offline."""
    path = files.fetch(path, "mnist.npz", ORIGIN, FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = files.members(
            f, ["x_train", "y_train", "x_test", "y_test"], path)
    return (x_train, y_train), (x_test, y_test)
