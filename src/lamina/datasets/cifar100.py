"""CIFAR-100 (`keras.datasets.cifar100`): 50,000 + 10,000 32x32 colour images, 100 fine
classes grouped in 20 coarse ones."""
import os

from lamina.datasets import cifar
from lamina.errors import ConfigurationError
from lamina.utils.file_download import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # sha256


def load_data(label_mode="fine"):
    """`(x_train, y_train), (x_test, y_test)` as `cifar10.load_data`, labels from 0-99
    (`label_mode="fine"`) or 0-19 (`"coarse"`)."""
    if label_mode not in ("fine", "coarse"):
        raise ConfigurationError(
            f"cifar100.load_data: label_mode must be 'fine' or 'coarse', received "
            f"{label_mode!r}.")
    folder = get_file(fname="cifar-100-python-target", origin=ORIGIN, extract=True,
                      file_hash=FILE_HASH)
    folder = cifar.inner(folder, "cifar-100-python")
    key = f"{label_mode}_labels"
    x_train, y_train = cifar.load_batch(os.path.join(folder, "train"), label_key=key)
    x_test, y_test = cifar.load_batch(os.path.join(folder, "test"), label_key=key)
    return cifar.finish(x_train, y_train, x_test, y_test)
