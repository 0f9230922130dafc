"""Trainer: what `compile()` creates. It owns the optimizer state and the compiled steps.

Each step reads the live trainability resolution of the model (re-resolved only when a flag,
a scoped freeze or the set of variables changed), picks the compiled step for that
configuration from a cache (compiling it once), runs it, and writes the results back into
the model's variables.
"""
import jax
import jax.numpy as jnp

from lamina import errors
from lamina import optimizers as optimizers_lib
from lamina import trainability
from lamina.core import trainability_version
from lamina.training import compile as compile_lib
from lamina.training import opt_state as opt_state_lib
from lamina.training import step as step_lib
from lamina.training.data import flatten_targets, to_arrays


class Trainer:
    def __init__(self, model, optimizer, loss, metrics, loss_weights, seed=None):
        self.model = model
        self.optimizer = optimizers_lib.get(optimizer)
        self.tx = self.optimizer.build()
        self.optimizer._listeners.append(self._set_learning_rate)
        self._compile_args = (loss, metrics, loss_weights)
        self.seed = seed
        self.specs = None
        self.output_names = None
        self.opt_state = None
        self._opt_keys = frozenset()
        self.metric_state = None
        self._train_steps = {}
        self._test_steps = {}
        self._version = None
        self._resolution = None
        self._plan = None
        self.iterations = 0
        self.fit_position = None  # set by fit; read by checkpointing callbacks
        if loss is None:
            raise errors.ConfigurationError(
                f"Model '{model.name}'.compile(loss=None): a loss is needed to train. Pass a "
                "name such as 'sparse_categorical_crossentropy', a lamina.losses.Loss or a "
                "function (y_true, y_pred) -> per-sample loss."
            )
        if model._graph is not None:  # outputs are known: resolve names now, fail fast
            self._resolve_compile(model.output_names)

    # -- set-up ----------------------------------------------------------------------
    def ensure_ready(self, x):
        """Build the model (from `x` if needed) and resolve compile() against its outputs."""
        if self.specs is not None:
            return
        model = self.model
        spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), x)
        out = jax.eval_shape(lambda inputs: step_lib.apply(model, {}, inputs, False)[0], spec)
        names = (list(out) if isinstance(out, dict)
                 else [f"output_{i + 1}" for i in range(len(out))]
                 if isinstance(out, (list, tuple)) else ["output"])
        self._resolve_compile(names)

    def _resolve_compile(self, names):
        self.output_names = names
        self.specs = compile_lib.resolve_outputs(names, *self._compile_args)
        self.log_names = compile_lib.log_names(self.specs)
        self.reset_metrics()

    def reset_metrics(self):
        self.metric_state = step_lib.init_metric_state(self.specs)

    def resolution(self):
        """The model's current resolution, recomputed only after a trainability change."""
        version = trainability_version.current()
        if version != self._version:
            self._resolution = trainability.resolve(self.model)
            self._plan = None
            self._version = version
        return self._resolution

    def _ensure_opt_state(self, resolution):
        keys = frozenset(v.uid for v in resolution.variables if v.trainable)
        if keys - self._opt_keys:
            params = {v.uid: v.value for v in resolution.variables if v.uid in keys | self._opt_keys}
            self.opt_state = opt_state_lib.extend(self.tx, self.opt_state, params)
            self._opt_keys = frozenset(params)
            self._set_learning_rate(self.optimizer.learning_rate)

    def _set_learning_rate(self, value):
        """Write a new rate into the injected hyperparameters (read by the next step)."""
        hyperparams = getattr(self.opt_state, "hyperparams", None)
        if hyperparams is not None and "learning_rate" in hyperparams:
            old = hyperparams["learning_rate"]
            hyperparams["learning_rate"] = jnp.asarray(value, dtype=old.dtype)

    def _empty_resolution_error(self, resolution):
        reasons = sorted({r for v in resolution.variables if v.kind == "weight"
                          for r in resolution.reasons(v)})
        text = "\n".join(f"  - {r}" for r in reasons) or "  - the model has no weights"
        return errors.NotTrainableError(
            errors.MSG_NOTHING_TRAINABLE.format(root=self.model.name, reasons=text))

    def _current_plan(self):
        """(trained variables, other variables, compiled step) for the live configuration."""
        resolution = self.resolution()
        if self._plan is None:
            trained = resolution.trained
            if not trained:
                raise self._empty_resolution_error(resolution)
            self._ensure_opt_state(resolution)
            key = (resolution.key, self._opt_keys)
            step = self._train_steps.get(key)
            if step is None:
                step = step_lib.make_train_step(
                    self.model, self.tx, self.specs, self.output_names, self._opt_keys,
                    [v.uid for v in trained], [v.uid for v in resolution.not_trained],
                    _regularized(trained), [v for v in trained if v.constraint is not None])
                self._train_steps[key] = step
            self._plan = (trained, resolution.not_trained,
                          {v.uid: v for v in resolution.variables}, step)
        return self._plan

    # -- steps -----------------------------------------------------------------------
    def train_step(self, x, y, sample_weight, reset_metrics=False):
        """One optimisation step on a batch; returns the running logs (device scalars).

        With `reset_metrics` the metrics restart from zero inside the step (no eager
        allocation of a fresh metric state per call).
        """
        self.ensure_ready(x)
        trained_vars, other_vars, by_uid, step = self._current_plan()
        metric_state = None if reset_metrics else self.metric_state
        trained, updates, self.opt_state, self.metric_state, logs = step(
            [v._value for v in trained_vars], [v._value for v in other_vars], self.opt_state,
            metric_state, x, y, sample_weight)
        for v, value in zip(trained_vars, trained):
            v._value = value
        for uid, value in updates.items():
            by_uid[uid]._value = value
        self.iterations += 1
        return logs

    def test_step(self, x, y, sample_weight, reset_metrics=False):
        self.ensure_ready(x)
        resolution = self.resolution()
        regularized = _regularized(resolution.trained)
        key = (resolution.structure_key, tuple(v.uid for v in regularized))
        step = self._test_steps.get(key)
        if step is None:
            step = step_lib.make_test_step(self.model, self.specs, self.output_names, regularized)
            self._test_steps[key] = step
        values = {v.uid: v._value for v in resolution.variables}
        metric_state = None if reset_metrics else self.metric_state
        self.metric_state, logs = step(values, metric_state, x, y, sample_weight)
        return logs

    def logs_dict(self, logs):
        return {name: float(value) for name, value in zip(self.log_names, logs)}

    # -- batch API -------------------------------------------------------------------
    def _batch(self, x, y, sample_weight):
        x = to_arrays(x, self.model)
        self.ensure_ready(x)
        y = flatten_targets(y, self.output_names, self.specs, self.model)
        if sample_weight is not None:
            sample_weight = jnp.asarray(sample_weight)
        return x, y, sample_weight

    def _format(self, logs, return_dict):
        logs = self.logs_dict(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        x, y, sample_weight = self._batch(x, y, sample_weight)
        return self._format(self.train_step(x, y, sample_weight, reset_metrics=True), return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        x, y, sample_weight = self._batch(x, y, sample_weight)
        return self._format(self.test_step(x, y, sample_weight, reset_metrics=True), return_dict)


def _regularized(trained):
    """The trained variables whose regularizer penalty joins the loss (DESIGN rule 3: only
    weights that train in this configuration are penalised)."""
    return [v for v in trained if v.regularizer is not None]
