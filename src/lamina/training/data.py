"""In-memory data for fit / evaluate / predict: validation, splitting and batching.

`x` may be an array, a list of arrays or a dict keyed by input names; `y` an array, a list
or a dict keyed by output names. Everything is kept as numpy on the host; each batch is
gathered there and handed to the jitted step (which transfers it).
"""
import jax
import numpy as np

from lamina.errors import InputSpecError


def _is_array(a):
    return hasattr(a, "shape") and hasattr(a, "dtype")


def _numeric(a, owner):
    a = a if _is_array(a) else np.asarray(a)
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
    """Leaves as numeric arrays (numpy and jax arrays are kept as they are).

    `owner` (the model) is named in errors.
    """
    if _is_array(tree) and np.dtype(tree.dtype).kind in "biuf":
        return tree  # the common case, without a tree traversal per batch
    return jax.tree_util.tree_map(lambda a: _numeric(a, owner), tree)


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
        self.x = to_arrays(x, owner)
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
        """Yield (x, y, sample_weight) batches; the last one may be smaller.

        `skip` leaves out the first batches of the order (a resumed epoch); the order is
        drawn in full either way, so the random generator advances the same.
        """
        order = rng.permutation(self.n) if shuffle else None
        for start in range(skip * batch_size, self.n, batch_size):
            index = (order[start:start + batch_size] if order is not None
                     else slice(start, start + batch_size))
            yield (take(self.x, index),
                   take(self.y, index) if self.y is not None else None,
                   take(self.sample_weight, index) if self.sample_weight is not None else None)

    def first(self, batch_size):
        """The inputs of the first batch (to build the model and learn its outputs)."""
        return take(self.x, slice(0, batch_size))

    def num_batches(self, batch_size):
        return -(-self.n // batch_size)
