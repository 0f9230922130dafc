"""California housing prices (`keras.datasets.california_housing`): 20,640 districts of 8
features, or a 600-sample "small" version."""
import numpy as np

from lamina.datasets import files
from lamina.errors import ConfigurationError

ORIGIN = files.ORIGIN_FOLDER + "california_housing.npz"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # sha256


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """`(x_train, y_train), (x_test, y_test)`: float arrays (n, 8) and (n,), shuffled with
    `seed`, the last `test_split` part as the test set; `version="small"` keeps the first
    600 samples."""
    if not 0 <= test_split < 1:
        raise ConfigurationError(
            f"california_housing.load_data: test_split must be in [0, 1), received "
            f"{test_split}.")
    if version not in ("small", "large"):
        raise ConfigurationError(
            f"california_housing.load_data: version must be 'small' or 'large', received "
            f"{version!r}.")
    path = files.fetch(path, "california_housing.npz", ORIGIN, FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = files.members(f, ["x", "y"], path)
    if version == "small":
        x, y = x[:600], y[:600]
    return files.split(x, y, test_split, seed)
