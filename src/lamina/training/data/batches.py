"""Batches for the loops: epochs over a source (Keras's `steps_per_epoch` rules), batches
prepared for the step and checked against the first, moved to the device one batch ahead, and
grouped into runs for `steps_per_execution`."""
import warnings

import jax
import numpy as np

from lamina.errors import InputSpecError
from lamina.training.data.arrays import class_weight_to_sample_weight, flatten_targets
from lamina.training.data.checks import DeferredChecks, check_batch
from lamina.training.data.sources import IterableBatches

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset "
           "or generator can generate at least `steps_per_epoch * epochs` batches.")


class Epochs:
    """A source's batches epoch by epoch, with Keras's `steps_per_epoch` rules.

    Without `steps`, each epoch is one pass over the source. With `steps`, each epoch takes
    `steps` batches, continuing where the previous epoch stopped (a generator is read on);
    a pass that ends early warns ("ran out of data") and ends the epoch. With `hooks`
    (fit's training data), a PyDataset's `on_epoch_begin` / `on_epoch_end` run around each
    epoch.
    """

    def __init__(self, source, batch_size, shuffle=False, rng=None, steps=None, hooks=False):
        self.source, self.batch_size, self.shuffle, self.rng = source, batch_size, shuffle, rng
        self.steps, self.hooks = steps, hooks
        self.known = source.num_batches(batch_size)
        self.ran_out = False
        self._iterator = None
        self._seen = 0

    @property
    def per_epoch(self):
        """Batches in an epoch (None when the source's length is unknown)."""
        if self.steps is not None:
            return self.steps if self.known is None else min(self.steps, self.known)
        return self.known

    @property
    def exhausted(self):
        """The source ran out and cannot start another pass (a generator)."""
        return self.ran_out and isinstance(self.source, IterableBatches) and self.source.one_shot

    def _pass(self, skip):
        return iter(self.source.batches(self.batch_size, self.shuffle, self.rng, skip))

    def epoch(self, skip=0):
        self.ran_out = False
        self._hook("on_epoch_begin")
        if self.steps is None:
            empty = True
            for batch in self._pass(skip):
                empty = False
                yield batch
            if empty and not skip:
                self._run_out()
        else:
            if self._iterator is None or skip:
                self._iterator, self._seen = self._pass(skip), skip
            for _ in range(skip, self.steps):
                batch = next(self._iterator, None) if self._iterator is not None else None
                if batch is None:
                    self._iterator = None
                    self._run_out()
                    break
                self._seen += 1
                if self.known is not None and self._seen >= self.known:
                    self._iterator = None  # the next batch starts a new pass
                yield batch
        self._hook("on_epoch_end")

    def _hook(self, name):
        hook = getattr(self.source, name, None) if self.hooks else None
        if hook is not None:
            hook()

    def _run_out(self):
        self.ran_out = True
        warnings.warn(RAN_OUT, UserWarning, stacklevel=3)


class Prepare:
    """Batches as the step takes them: targets in output order, class weights applied;
    for sources read batch by batch, the structure checked against the first batch and the
    values checked as every source's are (`checks.check_batch`; `finite`: refuse NaN / inf).
    Call `finish()` after the last batch (it reads the last deferred device check)."""

    def __init__(self, trainer, streamed, class_weight=None, what="fit", finite=True):
        self.trainer, self.streamed, self.class_weight = trainer, streamed, class_weight
        self.what, self.finite = what, finite
        self.deferred = DeferredChecks()
        self.first = None  # (structure, shapes) of the first streamed batch
        self.changed = {}  # recent batch index -> message, for batches shaped unlike the first

    def __call__(self, index, batch):
        x, y, sw = batch
        trainer, model = self.trainer, self.trainer.model
        if self.streamed:
            self._check_structure(index, batch)
            trainer.ensure_ready(x)
            if y is None and trainer.needs_targets:
                raise InputSpecError(
                    f"{self.what}: batch {index} has no targets; expected batches (x, y) or "
                    "(x, y, sample_weight), received x alone.")
            if self.class_weight is not None:
                if sw is not None:
                    raise InputSpecError(
                        f"{self.what}: batch {index} carries a sample_weight and class_weight "
                        "is given; use one or the other.")
                sw = class_weight_to_sample_weight(y, self.class_weight, model)
        if y is not None:
            y = flatten_targets(y, trainer.output_names, trainer.specs, model)
        if self.streamed:
            check_batch(trainer, x, y, sw, f"{self.what}: batch {index}", self.finite,
                        self.deferred)
        return x, y, sw

    def finish(self):
        """Read the check of the last batch on the device, if one is pending."""
        self.deferred.resolve()

    def _check_structure(self, index, batch):
        leaves, structure = jax.tree_util.tree_flatten(batch)
        shapes = [tuple(leaf.shape) for leaf in leaves]
        if self.first is None:
            self.first = (structure, shapes)
            return
        first_structure, first_shapes = self.first
        if structure != first_structure:
            raise InputSpecError(
                f"{self.what}: batch {index} is structured as {structure}, unlike the first "
                f"batch ({first_structure}); every batch must hold the same arrays.")
        if [s[1:] for s in shapes] != [s[1:] for s in first_shapes]:
            # kept for the few batches whose step may not have run yet (prefetch, runs)
            self.changed = {i: m for i, m in self.changed.items() if i > index - 64}
            self.changed[index] = (
                f"{self.what}: batch {index} has shapes {shapes} (x, y, sample_weight), "
                f"while the first batch had {first_shapes}; the model cannot take it. Give "
                "every batch the same shapes apart from the batch dimension.")

    def step_error(self, index):
        """The error to raise when the step of batch `index` failed, or None."""
        message = self.changed.get(index)
        return InputSpecError(message) if message is not None else None


# An explicit transfer costs about 0.3 ms of Python per batch; it pays once the batch is big
# enough for its copy to matter (H100: a 0.8 MB batch took 0.25 ms/step longer ahead of its
# step, a 12.5 MB batch 0.75 ms/step less). Smaller batches go with their step, as before.
PREFETCH_MIN_BYTES = 4 << 20


def prefetched(items, enabled, min_bytes=PREFETCH_MIN_BYTES):
    """`(meta, batch)` items with each batch of at least `min_bytes` moved to the device
    one item ahead: batch k + 1 is transferred while the step of batch k runs (the steps
    dispatch asynchronously)."""
    if not enabled:
        yield from items
        return
    pending = None
    for meta, batch in items:
        if sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(batch)) >= min_bytes:
            batch = jax.device_put(batch)
        if pending is not None:
            yield pending
        pending = meta, batch
    if pending is not None:
        yield pending


def executions(items, k):
    """`(index, batch)` items grouped into runs of up to `k` consecutive batches of equal
    shapes: `((first index, count), batch)`, the batch stacked on a leading axis when
    count > 1 (the input of `Trainer.train_steps`). A batch shaped unlike the previous
    ones (the last, smaller batch of an epoch) starts a new run."""
    group, signature = [], None
    for index, batch in items:
        leaves, structure = jax.tree_util.tree_flatten(batch)
        found = (structure, [(leaf.shape, leaf.dtype) for leaf in leaves])
        if group and (len(group) == k or found != signature):
            yield _stacked(group)
            group = []
        signature = found
        group.append((index, batch))
    if group:
        yield _stacked(group)


def _stacked(group):
    if len(group) == 1:
        return (group[0][0], 1), group[0][1]
    return (group[0][0], len(group)), jax.tree_util.tree_map(_stack, *[b for _, b in group])


def _stack(*parts):
    """Host arrays are stacked on the host (one transfer for the run)."""
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.stack(parts)
    return jax.numpy.stack(parts)
