"""In-memory data for fit / evaluate / predict: validation, splitting, batching and the
checks made once before training.

`x` may be an array, a list of arrays or a dict keyed by input names; `y` an array, a list
or a dict keyed by output names; pandas DataFrames and Series (anything with `.to_numpy()`)
are read as arrays. Everything is kept on the host; each batch is gathered there and
handed to the loop, which moves it to the device one batch ahead of the step (on an
accelerator, or with `steps_per_execution`, fit puts the arrays on the device instead and
each compiled call gathers its batches there: `lamina.training.data.device`).
"""
import jax
import numpy as np

from lamina import losses as losses_lib
from lamina.errors import ConfigurationError, InputSpecError
from lamina.losses.crossentropy import sparse_categorical_crossentropy


def _is_array(a):
    return isinstance(a, (np.ndarray, jax.Array))


def is_frame(a):
    """A pandas DataFrame or Series (duck-typed: `.to_numpy()`, not an array)."""
    return hasattr(a, "to_numpy") and not isinstance(a, (np.ndarray, jax.Array))


def is_array_like(a):
    """An array of another library: anything with `__array__` (torch, tf), `.numpy()` or
    a shape and a dtype, or a pandas object."""
    return not isinstance(a, (str, bytes, list, tuple, dict)) and (
        is_frame(a) or hasattr(a, "__array__") or (hasattr(a, "shape") and hasattr(a, "dtype")))


def is_number_list(a):
    """A (nested) list or tuple of plain numbers: one array, not a list of inputs."""
    if not isinstance(a, (list, tuple)) or not a:
        return False
    first = a[0]
    if isinstance(first, (list, tuple)):
        return all(is_number_list(item) for item in a)
    return all(isinstance(item, (int, float, np.number)) for item in a)


def leaf_array(a):
    """One leaf of the data as an array: numpy and jax arrays as they are; pandas objects
    through `.to_numpy()`; PyTorch tensors detached and moved to the host; other
    array-likes (tf tensors, anything with `__array__`) through numpy; nested lists of
    numbers as one array."""
    if _is_array(a):
        return a
    if is_frame(a):
        return a.to_numpy()
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a PyTorch tensor (grad, GPU)
        a = a.detach().cpu()
    if not hasattr(a, "__array__") and callable(getattr(a, "numpy", None)):
        a = a.numpy()
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as err:  # ragged nested lists, unconvertible objects
        raise InputSpecError(
            f"expected arrays or array-likes (numpy, jax, pandas, objects with __array__, "
            f"nested lists of numbers), received {type(a).__name__} that numpy cannot read "
            f"as an array ({err}).") from None


def _numeric(a, owner):
    a = leaf_array(a)
    if np.dtype(a.dtype).kind not in "biuf":
        graph = getattr(owner, "_graph", None)
        expected = ([t.dtype.name for t in graph.flat_inputs] if graph is not None
                    else getattr(owner, "dtype", "a numeric dtype"))
        raise InputSpecError(
            f"Model '{getattr(owner, 'name', owner)}': expected numeric arrays (inputs of "
            f"dtype {expected}), received dtype {np.dtype(a.dtype).name} "
            f"(shape {tuple(a.shape)})."
        )
    return a


def to_arrays(tree, owner="?"):
    """Leaves as numeric arrays (numpy and jax arrays are kept as they are; array-likes
    and nested lists of numbers become numpy arrays, see `leaf_array`).

    `owner` (the model) is named in errors.
    """
    if isinstance(tree, (np.ndarray, jax.Array)) and np.dtype(tree.dtype).kind in "biuf":
        return tree  # the common case, without a tree traversal per batch
    if is_number_list(tree):
        return _numeric(tree, owner)
    return jax.tree_util.tree_map(
        lambda a: _numeric(a, owner), tree,
        is_leaf=lambda a: a is not None and (is_number_list(a)
                                             or not isinstance(a, (list, tuple, dict))))


def input_arrays(x, owner="?"):
    """The inputs `x` of a model as numeric arrays: raw inputs through the model's host
    prefix first (`Model.host_inputs`: text preprocessing layers run here, on the host,
    docs/preprocessing.md), then `to_arrays`."""
    host_inputs = getattr(owner, "host_inputs", None)
    return to_arrays(host_inputs(x) if host_inputs is not None else x, owner)


def flatten_targets(y, output_names, specs, owner="?"):
    """Targets as a list in output order (dicts matched by output name)."""
    if isinstance(y, dict):
        needed = [s.name for s in specs if s.loss is not None]
        missing = [name for name in needed if name not in y]
        unexpected = [k for k in y if k not in output_names]
        if missing or unexpected:
            raise InputSpecError(
                f"Targets: expected a dict keyed by the model's outputs {output_names}, "
                f"received keys {list(y)} (missing {missing}, unexpected {unexpected})."
            )
        return [to_arrays(y[name], owner) if name in y else None for name in output_names]
    if isinstance(y, (list, tuple)) and len(output_names) > 1:
        if len(y) != len(output_names):
            raise InputSpecError(
                f"Targets: expected {len(output_names)} arrays for outputs {output_names}, "
                f"received {len(y)}."
            )
        return [to_arrays(t, owner) for t in y]
    if isinstance(y, (list, tuple)) and len(y) == 1:
        y = y[0]
    if y is None:
        raise InputSpecError(
            "Targets: expected `y` (an array, a list or a dict keyed by output names), "
            "received None."
        )
    return [to_arrays(y, owner)]


def num_samples(*trees):
    """The common first dimension of every array in `trees`, or an error naming them."""
    sizes = {}
    for label, tree in trees:
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            if not np.ndim(leaf):
                raise InputSpecError(
                    f"expected arrays with a sample (batch) dimension, received a scalar in "
                    f"`{label}{jax.tree_util.keystr(path)}` ({leaf!r}). Pass one value per "
                    "sample, e.g. np.array([...]).")
            sizes[label + jax.tree_util.keystr(path)] = leaf.shape[0]
    distinct = set(sizes.values())
    if len(distinct) != 1:
        detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise InputSpecError(
            f"Data cardinality is ambiguous: expected every array to have the same number of "
            f"samples (first dimension), received {detail}."
        )
    return distinct.pop()


def take(tree, index):
    if _is_array(tree):
        return tree[index]
    return jax.tree_util.tree_map(lambda a: a[index], tree)


class ArrayData:
    """(x, y, sample_weight) in memory, with batching and a validation split."""

    def __init__(self, x, y=None, sample_weight=None, owner="?"):
        self.owner = owner
        self.x = input_arrays(x, owner)
        self.y = to_arrays(y, owner)
        self.sample_weight = to_arrays(sample_weight, owner)
        parts = [("x", self.x)]
        if y is not None:
            parts.append(("y", self.y))
        if sample_weight is not None:
            parts.append(("sample_weight", self.sample_weight))
        self.n = num_samples(*parts)

    def split(self, fraction):
        """(train, validation): the last `fraction` of samples, before shuffling (Keras)."""
        if not 0 < fraction < 1:
            raise InputSpecError(
                f"validation_split: expected a fraction in (0, 1), received {fraction!r}."
            )
        cut = int(self.n * (1 - fraction))
        if cut == 0 or cut == self.n:
            raise InputSpecError(
                f"validation_split={fraction} leaves an empty training or validation set "
                f"for {self.n} samples."
            )
        head, tail = slice(0, cut), slice(cut, None)
        return (self._subset(head), self._subset(tail))

    def _subset(self, index):
        sw = take(self.sample_weight, index) if self.sample_weight is not None else None
        y = take(self.y, index) if self.y is not None else None
        return ArrayData(take(self.x, index), y, sw, self.owner)

    def batches(self, batch_size, shuffle=False, rng=None, skip=0):
        """Yield (x, y, sample_weight) batches, gathered on the host; the last one may be
        smaller. The samples of each batch are `indices(...)`'s."""
        for index in self.indices(batch_size, shuffle, rng, skip):
            yield (take(self.x, index),
                   take(self.y, index) if self.y is not None else None,
                   take(self.sample_weight, index) if self.sample_weight is not None else None)

    def indices(self, batch_size: int, shuffle: bool | str = False,
                rng: np.random.Generator | None = None, skip: int = 0):
        """Yield the sample indices of each batch (a slice, or an integer array when
        shuffled); the last batch may be smaller.

        `shuffle`: True draws a new order of all samples; "batch" keeps each batch's
        samples and shuffles only their order inside the batch (Keras 3); False keeps
        the order. `skip` leaves out the first batches of the order (a resumed epoch);
        the order is drawn in full either way, so the random generator advances the same.
        """
        order = within = None
        if shuffle:
            if rng is None:
                raise ConfigurationError(
                    f"ArrayData.indices: shuffle={shuffle!r} needs `rng`, a numpy random "
                    "Generator; received rng=None.")
            if shuffle == "batch":
                within = [rng.permutation(min(batch_size, self.n - start))
                          for start in range(0, self.n, batch_size)]
            else:
                order = rng.permutation(self.n)
        for start in range(skip * batch_size, self.n, batch_size):
            yield (order[start:start + batch_size] if order is not None
                   else within[start // batch_size] + start if within is not None
                   else slice(start, start + batch_size))

    def first(self, batch_size):
        """The inputs of the first batch (to build the model and learn its outputs)."""
        return take(self.x, slice(0, batch_size))

    def num_batches(self, batch_size):
        return -(-self.n // batch_size)

    def with_sample_weight(self, sample_weight):
        return ArrayData(self.x, self.y, sample_weight, self.owner)


def _owner_name(owner):
    return getattr(owner, "name", owner)


def class_weight_to_sample_weight(y, class_weight, owner="?"):
    """Per-sample weights from `class_weight` ({class index: weight}), as Keras 3: labels
    are integers (rank 1, or rank 2 with one column) or one-hot rows (argmax); classes
    missing from the dict weigh 1."""
    if not isinstance(class_weight, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight):
        raise InputSpecError(
            f"Model '{_owner_name(owner)}': class_weight: expected a dict mapping integer "
            f"class indices to weights, received {class_weight!r}.")
    labels = np.asarray(y)
    if labels.ndim > 2:
        raise InputSpecError(
            f"Model '{_owner_name(owner)}': class_weight needs one class per sample (labels "
            f"of shape (samples,) or (samples, 1), or one-hot rows (samples, classes)); "
            f"received targets of shape {labels.shape}. For per-timestep classes pass a "
            "sample_weight of shape (samples, timesteps) instead.")
    if labels.ndim == 2:
        labels = labels[:, 0] if labels.shape[1] == 1 else np.argmax(labels, axis=-1)
    labels = np.round(labels).astype(np.int64)
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table.get(int(c), 1.0) for c in labels], dtype=np.float32)


def check_finite(tree, what, owner="?"):
    """Refuse NaN or infinite values in the float arrays of `tree` (`what` names it)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if np.dtype(leaf.dtype).kind != "f":
            continue
        values = np.asarray(leaf)
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(values)):  # a NaN or inf makes the sum non-finite; an
                continue  # overflowing sum of finite values goes on to the full check
        bad = ~np.isfinite(values)
        if bad.any():
            first = np.argwhere(bad)[0]
            raise InputSpecError(
                f"Model '{_owner_name(owner)}': {what}{jax.tree_util.keystr(path)} contains "
                f"{int(bad.sum())} NaN or infinite values (the first at index "
                f"{tuple(int(i) for i in first)}); training on them makes the loss NaN. Clean "
                "the data, or pass check_finite=False to train anyway (add "
                "lamina.callbacks.TerminateOnNaN to stop at the first NaN loss).")


def sparse_loss(loss):
    """(class axis, ignored label) when `loss` is a sparse categorical cross-entropy
    (the class or the function), else None."""
    if isinstance(loss, losses_lib.SparseCategoricalCrossentropy):
        return loss.axis, loss.ignore_class
    if getattr(loss, "fn", None) is sparse_categorical_crossentropy:
        return -1, None
    return None


def check_sparse_labels(targets, specs, output_shapes, what, owner="?"):
    """Refuse labels outside [0, classes) for outputs trained with a sparse categorical
    cross-entropy (which would silently give a zero loss for them)."""
    for spec, y, shape in zip(specs, targets, output_shapes, strict=True):
        found = sparse_loss(spec.loss) if y is not None else None
        if found is None:
            continue
        axis, ignored = found
        classes = shape[axis]
        if classes is None:
            continue
        labels = np.asarray(y)
        if ignored is not None:
            labels = labels[labels != ignored]
        if labels.size == 0:
            continue
        low, high = labels.min(), labels.max()
        if low < 0 or high >= classes:
            count = int(np.sum((labels < 0) | (labels >= classes)))
            raise InputSpecError(
                f"Model '{_owner_name(owner)}': {what} for output '{spec.name}' (loss "
                f"{spec.loss.name}) must be class indices in [0, {classes}) (the output has "
                f"{classes} classes); received labels in [{low}, {high}], {count} of them out "
                "of range. Check the labels, or give the output one unit per class.")
