"""Fashion-MNIST (`keras.datasets.fashion_mnist`): 60,000 + 10,000 uint8 images of 28x28.

Keras publishes no hash for these four files. lamina checks the MD5 sums that Zalando
publishes in the dataset's README (github.com/zalandoresearch/fashion-mnist, the same
values torchvision checks): MD5 detects corruption, not a deliberate substitution.
"""
import gzip
import os

import numpy as np

from lamina.datasets import files
from lamina.errors import SavingError
from lamina.utils.file_download import get_file

# (file name, MD5 from the Fashion-MNIST README)
FILES = (
    ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
)
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")


def _idx(path, offset, shape):
    """The uint8 payload of a gzipped IDX file, past its `offset`-byte header."""
    try:
        with gzip.open(path, "rb") as f:
            raw: bytes = f.read()  # pyright: ignore[reportAssignmentType]
            data = np.frombuffer(raw, np.uint8, offset=offset)
    except (OSError, ValueError) as err:
        raise SavingError(f"Cannot read the Fashion-MNIST file '{path}': {err}.") from err
    if shape is not None and data.size != int(np.prod(shape)):
        raise SavingError(f"The Fashion-MNIST file '{path}' holds {data.size} bytes of "
                          f"images, expected {int(np.prod(shape))} for shape {shape}.")
    return data if shape is None else data.reshape(shape)


def load_data():
    """`(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes (60000, 28, 28),
    (60000,), (10000, 28, 28), (10000,)."""
    paths = [get_file(name, origin=files.ORIGIN_FOLDER + name, file_hash=md5,
                      cache_subdir=CACHE_SUBDIR) for name, md5 in FILES]
    y_train = _idx(paths[0], 8, None)
    x_train = _idx(paths[1], 16, (len(y_train), 28, 28))
    y_test = _idx(paths[2], 8, None)
    x_test = _idx(paths[3], 16, (len(y_test), 28, 28))
    return (x_train, y_train), (x_test, y_test)
