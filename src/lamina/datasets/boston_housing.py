"""Boston housing prices (`keras.datasets.boston_housing`): 506 samples of 13 attributes.
(Keras warns that the dataset has an ethical problem: its "B" attribute; see its docs.)"""
import numpy as np

from lamina.datasets import files
from lamina.errors import ConfigurationError

ORIGIN = files.ORIGIN_FOLDER + "boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # sha256


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """`(x_train, y_train), (x_test, y_test)`: float arrays (n, 13) and (n,), shuffled with
    `seed`, the last `test_split` part as the test set."""
    if not 0 <= test_split < 1:
        raise ConfigurationError(
            f"boston_housing.load_data: test_split must be in [0, 1), received {test_split}.")
    path = files.fetch(path, "boston_housing.npz", ORIGIN, FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = files.members(f, ["x", "y"], path)
    return files.split(x, y, test_split, seed)
