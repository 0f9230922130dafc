"""The metric protocol: pure `init / update / result` functions over a small state pytree.

A metric object holds only configuration. `init()` returns its state (a dict of arrays),
`update(state, y_true, y_pred, sample_weight=None, mask=None)` returns the next state and
`result(state)` the value; all three run inside `jax.jit` (no Python branching on values).
Standalone use, as Keras's `update_state` / `result`:

    m = lamina.metrics.AUC()
    state = m.init()
    for y_true, y_pred in batches:
        state = m.update(state, y_true, y_pred)
    m.result(state)

The training step passes `mask=` (the output's mask, e.g. padded time steps) only when the
output has one; masked entries count as weight 0. A few metrics size their state from the
number of classes of `y_pred` (F1Score, R2Score, AUC with `multi_label`): call
`metric.build(y_pred_shape)` before `init()` to fix the size up front; otherwise `init()`
returns empty arrays and the first `update` sizes them.
"""
import jax
import jax.numpy as jnp

from lamina.errors import AbstractMethodError, InputSpecError
from lamina.losses.base import match_rank


def as_float(x):
    return jnp.asarray(x, jnp.float32)


def broadcast_weights(sample_weight, mask, shape):
    """`sample_weight * mask` aligned on the batch axis and broadcast to `shape`, or None."""
    weights = None
    for w in (sample_weight, mask):
        if w is None:
            continue
        w = as_float(w)
        if w.ndim > len(shape) and w.shape[-1] == 1:
            w = w[..., 0]
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
        weights = w if weights is None else weights * w
    return None if weights is None else jnp.broadcast_to(weights, shape)


def divide_no_nan(a, b):
    safe = jnp.where(b == 0, 1.0, b)
    return jnp.where(b == 0, 0.0, a / safe)


def zeros_like_state(names, shape):
    return {name: jnp.zeros(shape, jnp.float32) for name in names}


def check_size(state, owner, size, what="classes"):
    """Raise if a built state does not match the `size` of the incoming `y_pred`."""
    built = next(iter(state.values())).shape
    if built and built[-1] not in (0, size):
        raise InputSpecError(
            f"{owner}: its state was built for {built[-1]} {what}, received "
            f"y_pred with {size}. Use one metric instance per output.")
    return built and built[-1] == 0


class Metric:
    """Base class: subclasses define `init`, `update` and `result`."""

    name = "metric"

    def __init__(self, name=None):
        if name is not None:
            self.name = name

    def build(self, y_pred_shape):
        """Fix shape-dependent state sizes from the output shape; most metrics need none."""

    def init(self):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `init(self)`: "
            "expected every subclass of Metric to define it.")

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `update(self, state, y_true, y_pred, "
            f"sample_weight=None, mask=None)`: expected every subclass of Metric to define it.")

    def result(self, state):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `result(self, state)`: "
            "expected every subclass of Metric to define it.")

    # -- Keras 3's stateless surface: the state as a flat list of arrays ----------------
    @property
    def variables(self):
        """The initial state as a list of arrays (Keras: `len(metric.variables)` is how many
        entries of a step's `metrics_variables` belong to this metric)."""
        return self.stateless_reset_state()

    def stateless_reset_state(self):
        """The initial state as a list of arrays."""
        return jax.tree_util.tree_leaves(self.init())

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        """The state list after `update(state, *args, **kwargs)` (Keras's
        `stateless_update_state(variables, y_true, y_pred, sample_weight=None)`)."""
        state = self._unflatten(metric_variables)
        return jax.tree_util.tree_leaves(self.update(state, *args, **kwargs))

    def stateless_result(self, metric_variables):
        """`result` of the state list."""
        return self.result(self._unflatten(metric_variables))

    def _unflatten(self, metric_variables):
        treedef = jax.tree_util.tree_structure(self.init())
        if len(metric_variables) != treedef.num_leaves:
            raise InputSpecError(
                f"Metric '{self.name}': expected {treedef.num_leaves} state variables (as "
                f"`len(metric.variables)`), received {len(metric_variables)}.")
        return jax.tree_util.tree_unflatten(treedef, list(metric_variables))

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Mean(Metric):
    """The weighted mean of the values it is updated with (`update(state, values,
    sample_weight=None)`, as Keras's `Mean.update_state`). Values of rank > 1 are first
    averaged per sample."""

    name = "mean"

    def __init__(self, name="mean"):
        super().__init__(name)

    def init(self):
        return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}

    def update(self, state, values, sample_weight=None):
        values = as_float(values)
        if sample_weight is None:
            per_sample = values.reshape(values.shape[0], -1).mean(1) if values.ndim > 1 else values
            count = per_sample.size
            total = jnp.sum(per_sample)
        else:
            weights = as_float(sample_weight)
            weights = match_rank(weights, values)
            weighted = values * weights
            axes = tuple(range(1, values.ndim))
            total = jnp.sum(jnp.mean(weighted, axis=axes)) if axes else jnp.sum(weighted)
            full = jnp.broadcast_to(weights, values.shape)
            count = jnp.sum(jnp.mean(full, axis=axes)) if axes else jnp.sum(full)
        return {"total": state["total"] + total, "count": state["count"] + count}

    def result(self, state):
        return divide_no_nan(state["total"], state["count"])


class Sum(Metric):
    """The weighted sum of the values it is updated with (`update(state, values,
    sample_weight=None)`, as Keras's `Sum.update_state`)."""

    name = "sum"

    def __init__(self, name="sum"):
        super().__init__(name)

    def init(self):
        return {"total": jnp.zeros((), jnp.float32)}

    def update(self, state, values, sample_weight=None):
        values = as_float(values)
        if sample_weight is not None:
            values = values * match_rank(as_float(sample_weight), values)
        return {"total": state["total"] + jnp.sum(values)}

    def result(self, state):
        return state["total"]


class MeanMetricWrapper(Metric):
    """The weighted mean over samples of `fn(y_true, y_pred, **options) -> per-sample value`.

    With a mask only the valid entries count (Keras 3 semantics); values of rank > 1 are
    averaged per sample first.
    """

    def __init__(self, fn, name=None, **options):
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn = fn
        self.options = options
        for key, value in options.items():
            setattr(self, key, value)

    def init(self):
        return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}

    def result(self, state):
        return divide_no_nan(state["total"], state["count"])

    def update(self, state, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = jnp.asarray(y_pred)
        values = as_float(self.fn(match_rank(jnp.asarray(y_true), y_pred), y_pred,
                                  **self.options))
        total, count = state["total"], state["count"]
        if mask is not None:  # count only the valid entries (padded steps have weight 0)
            mask = match_rank(as_float(mask), values)
            if sample_weight is not None:
                mask = mask * match_rank(as_float(sample_weight), mask)
            return {"total": total + jnp.sum(values * mask),
                    "count": count + jnp.sum(mask * jnp.ones_like(values))}
        values = values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values
        weight = (jnp.ones_like(values) if sample_weight is None
                  else match_rank(as_float(sample_weight), values))
        return {"total": total + jnp.sum(values * weight), "count": count + jnp.sum(weight)}

    def get_config(self):
        return {**super().get_config(), **self.options}
