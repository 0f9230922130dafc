"""Array training data kept on the device (one transfer per fit).

`fit` on array data (numpy or jax arrays; single, list or dict) puts the whole training set
on the device once and sends each compiled call only int32 sample indices: the call gathers
its batch itself (`Trainer.train_step_at`), or its K batches with
`compile(steps_per_execution=K)` (`Trainer.train_steps_at`), so a call costs one dispatch,
with no host gathers, stacking or per-batch transfers. The order is the one
`ArrayData.indices` draws from fit's random generator, so the trained weights are those of
the host path, batch for batch.

Used by the trainers whose steps gather (`Trainer.gathers_batches`; not a GAN's), when no
distribution is active (its placement lays batches out itself), the numpy
arrays total at most `max_bytes()` (jax arrays are used where they are): a quarter of the
device's memory when the device reports it (GPU, TPU), else 1 GiB; and, for one step per
call, on an accelerator only (`gathers_single_steps`). Otherwise fit gathers batches on the
host. Streamed sources (generators, PyDataset, iterables) never come here.

Why one step per call gathers on an accelerator and not on CPU. Measured on one H100
(`benchmarks/w1_steps.py`, W1 at batch 128, same run): the hand-written loop that gathers on
the host and sends each batch with its step took 392 us/step; lamina's step gathering its
batch from the device arrays 184 us/step (2.1x). On a loaded 2-core CPU the gain is nil (a
prototype: 9.27 against 9.13 ms/step for the host path, per-rep ratios 0.91 - 1.09) and the
transfer is a copy (XLA's CPU client does not alias numpy buffers; 0.12 - 0.5 s for W1's
188 MB), so there fit keeps the host path.
"""
import jax
import numpy as np

from lamina.training.data.arrays import ArrayData, flatten_targets

MEMORY_FRACTION = 0.25  # of the device's memory, when it reports it
MAX_BYTES_UNREPORTED = 1 << 30  # when it does not (CPU)


def max_bytes(device=None):
    """The most bytes of host arrays fit puts on `device` (default: the first local one)."""
    stats = (device or jax.local_devices()[0]).memory_stats()
    limit = stats.get("bytes_limit") if stats else None
    return int(limit * MEMORY_FRACTION) if limit else MAX_BYTES_UNREPORTED


def gathers_single_steps():
    """Whether fit with one step per call takes its batches from device arrays too: on an
    accelerator (see the module docstring), not on CPU."""
    return jax.default_backend() != "cpu"


def host_bytes(data):
    """Bytes of the arrays of `data` (an `ArrayData`) that are not jax arrays yet."""
    leaves = jax.tree_util.tree_leaves((data.x, data.y, data.sample_weight))
    return sum(leaf.nbytes for leaf in leaves if not isinstance(leaf, jax.Array))


class DeviceData:
    """An `ArrayData` with its arrays on the device; its batches are index arrays.

    `arrays` is `(x, ys, sample_weight)` as the train step takes them (`ys` a list in
    output order), transferred by one `jax.device_put`.
    """

    def __init__(self, data, trainer):
        ys = flatten_targets(data.y, trainer.output_names, trainer.specs, trainer.model)
        self.data = data
        self.arrays = jax.device_put((data.x, ys, data.sample_weight))

    @classmethod
    def for_fit(cls, trainer, data, per_execution):
        """A `DeviceData` for fit's training data, or None where fit keeps the host path
        (see the module docstring)."""
        if ((per_execution == 1 and not gathers_single_steps())
                or not trainer.gathers_batches or not isinstance(data, ArrayData)
                or trainer.active_distribution() is not None
                or host_bytes(data) > max_bytes()):
            return None
        return cls(data, trainer)

    def num_batches(self, batch_size):
        return self.data.num_batches(batch_size)

    def batches(self, batch_size, shuffle=False, rng=None, skip=0):
        """Yield each batch's sample indices, int32 (the order of `ArrayData.batches`)."""
        for index in self.data.indices(batch_size, shuffle, rng, skip):
            if isinstance(index, slice):
                index = np.arange(index.start, min(index.stop, self.data.n))
            yield index.astype(np.int32)

