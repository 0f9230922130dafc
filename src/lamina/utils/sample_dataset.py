"""`SampleDataset`: what lamina's dataset utilities return where Keras returns a
`tf.data.Dataset` (lamina has no TensorFlow).

A `lamina.utils.PyDataset` of numpy batches: `len(ds)` batches, `ds[i]` batch i, `for batch
in ds` every batch in order, so `model.fit(ds)`, `evaluate(ds)` and `predict(ds)` take it as
they take any PyDataset. Samples are read lazily, one batch at a time (image and text files
are opened when their batch is asked for). With `shuffle=True` the samples are shuffled once
with `seed` when the dataset is made and again, with the same generator, after every epoch
of fit. `batch_size=None` gives one sample per item, unbatched, as Keras does. Attributes
such as `class_names` and `file_paths` are set where Keras sets them.
"""
import math

import numpy as np

from lamina.errors import ConfigurationError, InputSpecError
from lamina.training.data.sources import PyDataset


class SampleDataset(PyDataset):
    """Batches of `read(indices)` over `num_samples` samples (see the module docstring)."""

    def __init__(self, num_samples, read, batch_size: int | None = 32, shuffle=False,
                 seed=None):
        super().__init__()
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ConfigurationError(
                f"batch_size: expected a positive integer or None, received {batch_size!r}.")
        self.num_samples, self.read = int(num_samples), read
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = np.random.RandomState(seed if seed is not None
                                          else np.random.randint(1_000_000))
        self.class_names: list[str] | None = None  # set by the folder readers, as Keras
        self.file_paths: list[str] | None = None
        self.order = np.arange(self.num_samples)
        if shuffle:
            self._rng.shuffle(self.order)

    def __len__(self):
        if self.batch_size is None:
            return self.num_samples
        return math.ceil(self.num_samples / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise InputSpecError(
                f"{type(self).__name__}: batch {index} requested from a dataset of "
                f"{len(self)} batches.")
        index %= len(self)
        if self.batch_size is None:
            return self.read(self.order[index:index + 1], single=True)
        start = index * self.batch_size
        return self.read(self.order[start:start + self.batch_size], single=False)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def on_epoch_end(self):
        if self.shuffle:
            self._rng.shuffle(self.order)

    def batch(self, batch_size):
        """The same samples, in the current order, in batches of `batch_size` (the one
        `tf.data` method lamina keeps: `split_dataset(...)[0].batch(32)`)."""
        order = self.order.copy()
        return SampleDataset(self.num_samples, lambda indices, single: self.read(
            order[indices], single), batch_size)


def unbatch(arrays, single):
    """A batch from a tuple of arrays: the first item of each when `single`, and the array
    alone when there is one."""
    items = [a[0] for a in arrays] if single else list(arrays)
    return tuple(items) if len(items) > 1 else items[0]


def _check_timeseries(data, start_index, end_index, sampling_rate, sequence_stride):
    n = len(data)
    problems = [
        (start_index is not None and not 0 <= start_index < n,
         f"start_index={start_index} must be in [0, {n})"),
        (end_index is not None and not (0 < end_index < n and end_index > (start_index or 0)),
         f"end_index={end_index} must be in (start_index, {n})"),
        (not 0 < sampling_rate < n, f"sampling_rate={sampling_rate} must be in (0, {n})"),
        (not 0 < sequence_stride < n, f"sequence_stride={sequence_stride} must be in (0, {n})"),
    ]
    for bad, text in problems:
        if bad:
            raise ConfigurationError(
                f"timeseries_dataset_from_array: {text} for data of length {n}.")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Sliding windows over `data` (Keras's `timeseries_dataset_from_array`): window `i`
    holds `data[start + s_i + k * sampling_rate]` for `k < sequence_length`, where `s_i =
    i * sequence_stride`; its target is `targets[start + s_i]`. Returns a `SampleDataset`
    of `(windows, targets)` batches (`windows` alone when `targets` is None)."""
    _check_timeseries(data, start_index, end_index, sampling_rate, sequence_stride)
    start = start_index or 0
    end = end_index if end_index is not None else len(data)
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    positions = np.arange(0, max(num_seqs, 0), sequence_stride)
    steps = np.arange(sequence_length) * sampling_rate
    data = np.asarray(data)[start:end]
    target_slice = None if targets is None else np.asarray(targets)[start:end]

    def read(indices, single):
        windows = data[positions[indices][:, None] + steps]
        if target_slice is None:
            return unbatch((windows,), single)
        return unbatch((windows, target_slice[positions[indices]]), single)

    return SampleDataset(len(positions), read, batch_size, shuffle, seed)
