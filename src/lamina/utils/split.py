"""`split_dataset`: two datasets from one, Keras's rules for the sizes."""
import random

import numpy as np

from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError
from lamina.utils.sample_dataset import SampleDataset


def _size(value, name, total):
    """A split size as a count: a float is a fraction of `total`, an int a count."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"split_dataset: {name} must be an int, a float or None, received "
            f"{type(value).__name__}.")
    if isinstance(value, float):
        if not 0 < value < 1:
            raise ConfigurationError(
                f"split_dataset: a float {name} must be in (0, 1), received {value}.")
        return round(value * total)
    if not 0 < value < total:
        raise ConfigurationError(
            f"split_dataset: an integer {name} must be in (0, {total}), received {value}.")
    return value


def split_sizes(left_size, right_size, total):
    """(left, right) sample counts, as Keras computes them."""
    if left_size is None and right_size is None:
        raise ConfigurationError(
            "split_dataset: give left_size or right_size (or both); received neither.")
    if (isinstance(left_size, float) and isinstance(right_size, float)
            and left_size + right_size > 1):
        raise ConfigurationError(
            f"split_dataset: left_size + right_size = {left_size + right_size} > 1.")
    left, right = _size(left_size, "left_size", total), _size(right_size, "right_size", total)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total or not left or not right:
        raise ConfigurationError(
            f"split_dataset: sizes {left} + {right} do not fit a dataset of {total} samples "
            "with both sides non-empty.")
    return left, right


def _reader(dataset):
    """(number of samples, read(indices, single)) for arrays, a tuple/list/dict of arrays,
    or a SampleDataset."""
    if isinstance(dataset, SampleDataset):
        order = dataset.order.copy()
        return dataset.num_samples, lambda idx, single: dataset.read(order[idx], single)
    if isinstance(dataset, dict):
        arrays = {k: np.asarray(v) for k, v in dataset.items()}
        pick = dict
    elif isinstance(dataset, (tuple, list)):
        arrays = {i: np.asarray(v) for i, v in enumerate(dataset)}
        pick = list if isinstance(dataset, list) else tuple
    elif hasattr(dataset, "shape") and hasattr(dataset, "__getitem__"):
        arrays, pick = {0: np.asarray(dataset)}, None
    else:
        raise ArgumentTypeError(
            "split_dataset: expected an array, a tuple, list or dict of arrays, or a "
            f"lamina SampleDataset, received {type(dataset).__name__}.")
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        raise InputSpecError(
            f"split_dataset: expected arrays of one length, received lengths {sorted(lengths)}.")

    def read(indices, single):
        rows = {k: (a[indices[0]] if single else a[indices]) for k, a in arrays.items()}
        if pick is None:
            return rows[0]
        if pick is dict:
            return rows
        items = [rows[i] for i in range(len(rows))]
        return items if pick is list else tuple(items)

    return lengths.pop(), read


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None,
                  preferred_backend=None):
    """`(left, right)`: the first `left_size` and the last `right_size` samples (counts or
    fractions), after an optional shuffle with `seed` (Python's `random`, the permutation
    Keras makes). Each side is an unbatched `SampleDataset` (one sample per item, like
    Keras's `tf.data` result); call `.batch(n)` before fit. `preferred_backend` is accepted
    for Keras compatibility and ignored."""
    del preferred_backend
    total, read = _reader(dataset)
    indices = list(range(total))
    if shuffle:
        random.Random(seed if seed is not None else random.randint(0, int(1e6))).shuffle(
            indices)
    left, right = split_sizes(left_size, right_size, total)
    left_idx, right_idx = np.array(indices[:left]), np.array(indices[-right:])
    return (SampleDataset(left, lambda i, single: read(left_idx[i], single), None),
            SampleDataset(right, lambda i, single: read(right_idx[i], single), None))
