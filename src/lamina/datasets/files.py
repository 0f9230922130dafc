"""Finding and reading dataset files safely.

`fetch` resolves a dataset's `path=` argument: an existing local file is read as is, offline
and without a hash check (it is the user's file: a mirror, a subset); any other value is a
file name in the cache, downloaded from Keras's origin and checked against the published
hash (`lamina.utils.get_file`).

The IMDB and Reuters `.npz` files hold ragged sequences as pickled numpy object arrays, and
the CIFAR batches are Python pickles. They are read with `RestrictedUnpickler`, which
builds only plain containers, bytes, numbers and numpy arrays: any other global a pickle
names (`os.system`, `builtins.eval`, ...) is refused before anything runs.
"""
import io
import os
import pickle
import zipfile

import numpy as np

from lamina.errors import SavingError
from lamina.utils.file_download import get_file

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else that needs a global."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise SavingError(
            f"Refusing to load `{module}.{name}` from a dataset file: dataset files hold "
            "only arrays, lists, dicts and bytes. The file may be corrupted or malicious.")


def fetch(path, fname, origin, file_hash):
    """The local file to read: `path` itself when it is an existing file, else the cached
    (downloaded, hash-checked) copy named `path` (or `fname` when `path` is None)."""
    if path is not None and os.path.isfile(path):
        return os.fspath(path)
    return get_file(fname=path or fname, origin=origin, file_hash=file_hash)


def unpickle(f, source):
    """Read one restricted pickle from the open file `f` (bytes keys kept as bytes)."""
    try:
        return RestrictedUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        if isinstance(err, SavingError):
            raise SavingError(f"{source}: {err}") from err
        raise SavingError(f"Cannot read the dataset file {source}: {err}.") from err


def _read_npy(buffer, source):
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:
        buffer.seek(0)
        version = np.lib.format.read_magic(buffer)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(buffer)
        else:
            np.lib.format.read_array_header_2_0(buffer)
        return unpickle(buffer, source)


def load_npz(path):
    """name -> array for every `.npy` member of the archive at `path` (object arrays through
    the restricted unpickler)."""
    try:
        with zipfile.ZipFile(path) as archive:
            out = {}
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as raw:
                        out[member[:-4]] = _read_npy(io.BytesIO(raw.read()),
                                                     f"'{path}' member {member}")
            return out
    except zipfile.BadZipFile as err:
        raise SavingError(f"Cannot read the dataset file '{path}': not an npz archive.") from err


def members(arrays, names, path):
    """The arrays named `names`, or a SavingError naming the file and what it lacks."""
    missing = [n for n in names if n not in arrays]
    if missing:
        raise SavingError(f"The dataset file '{path}' lacks the arrays {missing}; it holds "
                          f"{sorted(arrays)}.")
    return [arrays[n] for n in names]


def split(x, y, test_split, seed):
    """Shuffle with `np.random.RandomState(seed)` and cut off the last `test_split` part, as
    Keras's regression datasets do."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
