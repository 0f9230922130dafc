"""Data sources for fit / evaluate / predict beyond in-memory arrays, and `adapt`, which
picks the source for what the user passed.

- arrays (numpy, jax; single, list or dict), pandas DataFrames and Series: `ArrayData`;
- `PyDataset`-style objects (`__len__` and `__getitem__` returning batches): `IndexedBatches`;
- Python generators and iterators (read once), and re-iterable objects such as a PyTorch
  `DataLoader` or a `tf.data.Dataset` (a new pass each epoch): `IterableBatches`.

Each batch of a source is `(x, y)`, `(x, y, sample_weight)` or `x` alone (Keras's rule: a
tuple or list of one to three items, anything else is `x`); leaves are read as numpy
(`.numpy()` for framework tensors). Every source answers the same four questions as
`ArrayData`: `num_batches(batch_size)` (None when unknown), `batches(batch_size, shuffle,
rng, skip)`, `split(fraction)` and whether it carries targets.
"""
import jax

from lamina.errors import AbstractMethodError, InputSpecError
from lamina.training.data.arrays import (
    ArrayData,
    input_arrays,
    is_array_like,
    num_samples,
    to_arrays,
)


class PyDataset:
    """Base class for a dataset of batches (Keras's `keras.utils.PyDataset`).

    Subclass it, implement `__len__` (the number of batches) and `__getitem__(index)`
    returning batch `index` as `(x, y)`, `(x, y, sample_weight)` or `x` (for predict), and
    optionally `on_epoch_begin()` / `on_epoch_end()` (fit calls them around each epoch;
    reshuffle here). `fit(shuffle=True)` visits the batches in a new random order each epoch.

    `workers`, `use_multiprocessing` and `max_queue_size` are accepted for Keras
    compatibility and kept as attributes; batches are loaded in the calling thread (the
    loop still moves batch k + 1 to the device while step k runs).
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self):
        raise AbstractMethodError(
            f"{type(self).__name__} must implement __len__ (the number "
            "of batches).")

    def __getitem__(self, index):
        raise AbstractMethodError(
            f"{type(self).__name__} must implement __getitem__(index) "
            "returning a batch.")

    def on_epoch_begin(self):
        """Called before each epoch of fit."""

    def on_epoch_end(self):
        """Called after each epoch of fit."""

    @property
    def num_batches(self):
        return len(self)


def unpack(batch, index, owner):
    """(x, y, sample_weight) of one batch, as Keras reads it."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise InputSpecError(
            f"Model '{getattr(owner, 'name', owner)}': batch {index}: expected (x,), (x, y) "
            f"or (x, y, sample_weight), received a tuple of {len(batch)} items.")
    return batch + (None,) * (3 - len(batch))


def read_batch(batch, index, owner):
    """A raw batch as (x, y, sample_weight) of numeric arrays with one batch size."""
    x, y, sw = unpack(batch, index, owner)
    x = input_arrays(x, owner)
    y, sw = (to_arrays(part, owner) if part is not None else None for part in (y, sw))
    for name, part in (("x", x), ("y", y), ("sample_weight", sw)):
        for leaf in jax.tree_util.tree_leaves(part):
            if leaf.ndim == 0:
                raise InputSpecError(
                    f"Model '{getattr(owner, 'name', owner)}': batch {index}: expected arrays "
                    f"with a batch dimension, received a scalar in `{name}`. Yield whole "
                    "batches (x, y), not single samples or numbers.")
    parts = [("x", x)] + [(name, part) for name, part in (("y", y), ("sample_weight", sw))
                          if part is not None]
    try:
        num_samples(*parts)
    except InputSpecError as err:
        raise InputSpecError(f"Model '{getattr(owner, 'name', owner)}': batch {index}: "
                             f"{err}") from None
    return x, y, sw


class IndexedBatches:
    """A `PyDataset`-style source: `__len__` batches, `__getitem__(i)` returns batch i.

    `indices` restricts it to some batches (a validation split is the last batches).
    """

    def __init__(self, dataset, owner, indices=None):
        self.dataset = dataset
        self.owner = owner
        self.indices = list(range(len(dataset))) if indices is None else list(indices)

    def num_batches(self, batch_size):
        return len(self.indices)

    def batches(self, batch_size, shuffle=False, rng=None, skip=0):
        order = (rng.permutation(self.indices) if shuffle and rng is not None
                 else self.indices)
        for position in range(skip, len(order)):
            yield read_batch(self.dataset[int(order[position])], position, self.owner)

    def on_epoch_begin(self):
        hook = getattr(self.dataset, "on_epoch_begin", None)
        if hook is not None:
            hook()

    def on_epoch_end(self):
        hook = getattr(self.dataset, "on_epoch_end", None)
        if hook is not None:
            hook()

    def split(self, fraction):
        """(train, validation): the last `fraction` of the batches (by index)."""
        total = len(self.indices)
        cut = int(total * (1 - fraction))
        if cut == 0 or cut == total:
            raise InputSpecError(
                f"validation_split={fraction} leaves an empty training or validation set "
                f"for a dataset of {total} batches (the split is made over whole batches).")
        return (IndexedBatches(self.dataset, self.owner, self.indices[:cut]),
                IndexedBatches(self.dataset, self.owner, self.indices[cut:]))


class IterableBatches:
    """Batches from an iterable: a generator or iterator (one pass, continued across
    epochs when `steps_per_epoch` is set) or a re-iterable object (a new pass each time)."""

    def __init__(self, iterable, owner):
        self.iterable = iterable
        self.owner = owner
        try:
            self.length = len(iterable)
        except TypeError:
            self.length = None  # generators, infinite datasets

    @property
    def one_shot(self):
        """A generator or iterator: read once, it cannot start another pass."""
        return _is_iterator(self.iterable)

    @property
    def kind(self):
        return "generator" if self.one_shot else type(self.iterable).__name__

    def num_batches(self, batch_size):
        return self.length

    def batches(self, batch_size, shuffle=False, rng=None, skip=0):
        for index, batch in enumerate(iter(self.iterable)):
            if index >= skip:
                yield read_batch(batch, index, self.owner)

    def split(self, fraction):
        raise InputSpecError(
            f"validation_split is supported for arrays, DataFrames and PyDataset-style "
            f"datasets (finite and indexable); received a {self.kind}, which can only be "
            "read in order. Pass validation_data=... instead.")


def _is_iterator(obj):
    return hasattr(obj, "__next__")


def adapt(x, y, sample_weight, owner, what):
    """The source for `x` (with `y` and `sample_weight` for arrays). `what` ("fit",
    "evaluate", "predict") is named in errors."""
    if isinstance(x, (ArrayData, IndexedBatches, IterableBatches)):
        return x
    if x is None:
        raise InputSpecError(f"{what}: expected input data `x`, received None.")
    if isinstance(x, (list, tuple, dict)) or is_array_like(x):
        return ArrayData(x, y, sample_weight, owner)
    if isinstance(x, (str, bytes)) or not (hasattr(x, "__iter__") or hasattr(x, "__getitem__")):
        raise InputSpecError(
            f"{what}: unsupported data of type {type(x).__name__}. Expected numpy or jax "
            "arrays (single, list or dict), a pandas DataFrame, a generator or iterable of "
            "batches (x, y[, sample_weight]), a PyDataset (with __len__ and __getitem__), or "
            "an iterable such as a PyTorch DataLoader or a tf.data.Dataset.")
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise InputSpecError(
                f"{what}: `{name}` must be None when `x` is a {type(x).__name__}; its "
                f"batches carry (x, y, sample_weight). Received {name} of type "
                f"{type(value).__name__}.")
    if hasattr(x, "__len__") and hasattr(x, "__getitem__") and not _is_iterator(x):
        return IndexedBatches(x, owner)
    return IterableBatches(x, owner)
