"""One input-validation path for every way data reaches a step.

`fit`, `evaluate`, `predict`, `train_on_batch`, `test_on_batch`, `predict_on_batch` and every
source (arrays, DataFrames, generators, `PyDataset`, iterables) run the same checks and raise
the same `InputSpecError`s, naming the model, what was expected and what was received:

- array-likes (`arrays.leaf_array`): scalars where a batch is expected, text, objects
  that are not numbers;
- sample counts (`arrays.num_samples`): x, y and sample_weight of different lengths;
- finite values (`arrays.check_finite`): NaN or infinite inputs, targets or weights
  (training and evaluation; `predict` does not refuse them);
- sparse label range (`arrays.check_sparse_labels`): labels outside [0, classes) for an
  output trained with a sparse categorical cross-entropy;
- label shapes (in the losses, `losses/crossentropy.py`): integer labels for
  `CategoricalCrossentropy` (as Keras), one-hot rows for a sparse loss.

Where each check runs, so that the fast path never waits for the device:

- **arrays given to fit / evaluate**: once, over all samples, before the first step;
- **batches read from a source** (generators, `PyDataset`, iterables) and the batches of the
  `*_on_batch` methods: each batch on the host, as it is read and before it is transferred
  (the data is on the host already, the check is a pass over memory just written);
- **batches that are already jax arrays on an accelerator** (a generator yielding device
  arrays): a small compiled reduction computes a validity flag on the device; the flag of
  batch k is read when batch k + 1 is prepared (by then it is computed, so no step waits for
  it) and the last one when the loop ends (`DeferredChecks`). Such a bad batch is reported
  one step late: the step it fed has run;
- **label shapes**: from static shapes while the step is traced, so they cost nothing per step.
"""
import functools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from lamina.errors import InputSpecError
from lamina.training import step as step_lib
from lamina.training.data.arrays import (
    check_finite,
    check_sparse_labels,
    num_samples,
    sparse_loss,
)

# trainer -> {input signature: output shapes}, so a streamed batch costs no trace
_OUTPUT_SHAPES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def owner_name(owner):
    return getattr(owner, "name", owner)


def output_shapes(trainer, x):
    """The shapes of the model's outputs (in output order) for inputs shaped like `x`,
    computed once per input signature (`jax.eval_shape`: nothing runs)."""
    leaves, structure = jax.tree_util.tree_flatten(x)
    key = (structure, tuple((tuple(a.shape[1:]), str(a.dtype)) for a in leaves))
    cache = _OUTPUT_SHAPES.setdefault(trainer, {})
    if key not in cache:
        spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), x)
        out = step_lib.output_spec(trainer.model, spec)
        outputs: list = step_lib.flatten_outputs(out, trainer.output_names)
        cache[key] = [tuple(o.shape) for o in outputs]
    return cache[key]


def check_inputs(model, x, what):
    """The inputs of a batch to predict on: arrays with one common sample count."""
    try:
        num_samples(("x", x))
    except InputSpecError as err:
        raise InputSpecError(f"Model '{owner_name(model)}': {what}: {err}") from None


def _on_device(tree):
    """Whether the leaves are jax arrays on an accelerator (reading them would wait)."""
    return any(isinstance(a, jax.Array) and a.devices() and
               next(iter(a.devices())).platform != "cpu" for a in jax.tree_util.tree_leaves(tree))


def check_batch(trainer, x, y, sample_weight, what, finite=True, deferred=None):
    """Check one batch (`y`: a list in output order, or None) before its step.

    `what` names the batch in errors ("train_on_batch", "fit: batch 3"). `finite`: refuse
    NaN / inf. `deferred` (a `DeferredChecks`): where the batch is on an accelerator, its
    value checks are queued there instead of read now; without one (the `*_on_batch`
    methods, which read their logs at once anyway) a device batch is checked by the same
    compiled reduction, reading two flags instead of copying the batch to the host.
    """
    model = trainer.model
    parts = [("x", x)] + [(name, part) for name, part in (("y", y),
                                                           ("sample_weight", sample_weight))
                          if part is not None]
    try:
        num_samples(*parts)
    except InputSpecError as err:
        raise InputSpecError(f"Model '{owner_name(model)}': {what}: {err}") from None
    sparse = y is not None and any(sparse_loss(s.loss) for s in trainer.specs)
    if not finite and not sparse:
        return
    if _on_device((x, y, sample_weight)):
        now = deferred is None
        deferred = DeferredChecks() if now else deferred
        deferred.submit(trainer, x, y, sample_weight, what, finite, sparse)
        if now:
            deferred.resolve()
        return
    if finite:
        for name, part in parts:
            check_finite(part, f"{what}: {name}", model)
    if sparse:
        check_sparse_labels(y, trainer.specs, output_shapes(trainer, x), f"{what}: labels",
                            model)


@functools.partial(jax.jit, static_argnums=2)
def _validity(tree, y, bounds):
    """(all finite, each target's labels within its [0, classes) bound) on the device."""
    finite = jnp.array(True)
    for leaf in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            finite = finite & jnp.all(jnp.isfinite(leaf))
    in_range = [jnp.all((t >= 0) & (t < b)) if b else jnp.array(True)
                for t, b in zip(y, bounds, strict=True)]
    return finite, in_range


class DeferredChecks:
    """Value checks of device-resident batches, read one batch late (see the module)."""

    def __init__(self):
        self.pending = None  # (flags, the batch, its description)

    def submit(self, trainer, x, y, sample_weight, what, finite, sparse):
        self.resolve()
        bounds = [0] * len(y or [])
        if sparse:
            shapes = output_shapes(trainer, x)
            for i, (spec, shape) in enumerate(zip(trainer.specs, shapes, strict=True)):
                found = sparse_loss(spec.loss) if y[i] is not None else None
                if found is not None and found[1] is None and shape[found[0]] is not None:
                    bounds[i] = shape[found[0]]
        targets = [t if t is not None else jnp.zeros(()) for t in (y or [])]
        tree = (x, y, sample_weight) if finite else ()
        self.pending = (_validity(tree, targets, tuple(bounds)), trainer,
                        (x, y, sample_weight), what, finite, sparse)

    def resolve(self):
        """Read the flags of the batch submitted last; on a failure, check it on the host
        for the full message."""
        if self.pending is None:
            return
        (finite_ok, ranges_ok), trainer, batch, what, finite, _ = self.pending
        self.pending = None
        if bool(finite_ok) and all(bool(ok) for ok in ranges_ok):
            return
        x, y, sample_weight = (jax.tree_util.tree_map(np.asarray, part) for part in batch)
        check_batch(trainer, x, y, sample_weight, what + " (checked after its step ran)",
                    finite)
