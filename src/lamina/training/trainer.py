"""Trainer: what `compile()` creates. It owns the optimizer state and the compiled steps.

Each step reads the live trainability resolution of the model (re-resolved only when a flag,
a scoped freeze or the set of variables changed) as a `Plan`, gathers the variables' values
into a `TrainState`, picks the compiled step from ONE cache keyed by (kind, configuration,
distribution, data path), compiling it once, runs it, and writes the returned state back
into the model's variables. The kinds: "train" (one step per call), "multi" (K steps per
call, `steps_per_execution`) and "test"; the data paths: "batch" (the call receives its
batches) and "gather" (it gathers them from the training set on the device).

Under a distribution (`compile(distribution=...)`, else `lamina.distribution.scope`) the
compiled steps are wrapped with the layouts of `lamina.distribution.placement`; without one
the code path is the single-device one.
"""
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

from lamina import errors, trainability
from lamina import optimizers as optimizers_lib
from lamina.core import trainability_version
from lamina.distribution import context as distribution_scope
from lamina.distribution.base import Distribution
from lamina.distribution.placement import Placement, mixed_devices_error
from lamina.metrics import base as metrics_base
from lamina.optimizers import loss_scale
from lamina.training import compile as compile_lib
from lamina.training import custom_step, keras_step, step_optimizers
from lamina.training import opt_state as opt_state_lib
from lamina.training import step as step_lib
from lamina.training.data.arrays import flatten_targets, input_arrays, to_arrays
from lamina.training.data.checks import check_batch
from lamina.training.state import CompiledStep, Plan


class Trainer:

    def __init__(self, model, optimizer, loss, metrics, loss_weights, seed=None,
                 distribution=None, steps_per_execution=1, auto_scale_loss=True,
                 jit_compile: bool | str = "auto"):
        if distribution is not None and not isinstance(distribution, Distribution):
            raise errors.ConfigurationError(
                f"Model '{model.name}'.compile(distribution=...): expected a "
                "lamina.distribution.DataParallel or ModelParallel, received "
                f"{distribution!r} (of type {type(distribution).__name__}).")
        keras_step.check_overrides(model)
        self.jit = compile_lib.jit_compile(model, jit_compile)
        self.distribution = distribution  # wins over lamina.distribution.scope
        self.steps_per_execution = compile_lib.steps_per_execution(model, steps_per_execution)
        self.model = model
        self.optimizer = compile_lib.loss_scaled_optimizer(
            model, optimizers_lib.get(optimizer), auto_scale_loss)
        self.tx = self.optimizer.build(model)
        self.optimizer._listeners.append(self._set_learning_rate)
        self._compile_args = (loss, metrics, loss_weights)
        self.seed = seed
        self.specs = None
        self.output_names = None
        self.opt_state = None
        self._opt_keys = frozenset()
        self.metric_state = None
        self._steps = {}  # (kind, configuration key, distribution key, data path) -> step
        self._version = None
        self._resolution = None
        self._plan = None  # the live configuration's Plan
        self._placements = {}  # (distribution key, structure key) -> Placement
        self.iterations = 0
        self.fit_position = None  # set by fit; read by checkpointing callbacks
        # fit refuses data without targets only when the compiled loss needs them (Keras)
        self.needs_targets = loss is not None and not custom_step.overrides_train_step(model)
        # a Keras-form step's metric state: {"compiled": ..., "keras": [model.metrics']}
        self.keras_metrics = (keras_step.overrides(model, "test_step") or (
            custom_step.overrides_train_step(model) and not custom_step.is_lamina_form(model)))
        self.loss_tracker = self.compile_metrics = None  # `model.metrics`' compiled part
        self.extra_tx, self.extra_opt_states = {}, {}  # `step_optimizers`, by attribute
        self.custom_loss = keras_step.custom_loss(self)
        if model._graph is not None:  # outputs are known: resolve names now, fail fast
            self._resolve_compile(model.output_names)

    # -- set-up ----------------------------------------------------------------------
    def ensure_ready(self, x):
        """Build the model (from `x` if needed), resolve compile() against its outputs, and
        size the metrics whose state depends on an output's shape (F1Score, R2Score, ...)."""
        if self.ready:
            return
        model = self.model
        spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), x)
        out = step_lib.output_spec(model, spec)
        if self.specs is None:
            self._resolve_compile(step_lib.output_names_of(out))
        specs = cast(list, self.specs)  # resolved just above when compile had no outputs
        shapes: list = step_lib.flatten_outputs(out, self.output_names)
        for output_spec, shape in zip(specs, shapes, strict=True):
            for metric in output_spec.metrics:
                metric.build(tuple(shape.shape))
        self._metrics_built = True
        self.reset_metrics()

    @property
    def ready(self):
        """Whether `ensure_ready` has nothing left to do (checked first on the per-step
        paths, which then skip describing their batch)."""
        return self.specs is not None and self._metrics_built

    def _resolve_compile(self, names):
        self.output_names = names
        self.specs = compile_lib.resolve_outputs(names, *self._compile_args)
        # the compiled logs; a custom `train_step` renames `log_names` to its own logs
        self.compiled_log_names = self.log_names = compile_lib.log_names(self.specs)
        # metrics whose state size depends on an output's shape are sized by ensure_ready
        self._metrics_built = not any(type(m).build is not metrics_base.Metric.build
                                      for s in self.specs for m in s.metrics)
        self.reset_metrics()

    def init_metric_state(self):
        """The metric state at a restart (see `keras_metrics`)."""
        compiled = step_lib.init_metric_state(self.specs)
        if not self.keras_metrics:
            return compiled
        return {"compiled": compiled, "keras": keras_step.init_metric_variables(self.model)}

    def reset_metrics(self):
        self.metric_state = self.init_metric_state()

    def resolution(self) -> trainability.Resolution:
        """The model's current resolution, recomputed only after a trainability change."""
        version = trainability_version.current()
        if version != self._version:
            self._resolution = trainability.resolve(self.model)
            self._plan = None
            self._version = version
        return cast(trainability.Resolution, self._resolution)  # set at the first call

    def _ensure_opt_state(self, resolution):
        """Entries for the variables this configuration trains, made at the first step that
        trains each (a base frozen from the start costs no slots) and kept after it."""
        keys = frozenset(v.uid for v in resolution.trained)
        if keys - self._opt_keys or self.opt_state is None:
            covered = keys | self._opt_keys
            params = {v.uid: v.value for v in resolution.variables if v.uid in covered}
            self.opt_state = opt_state_lib.extend(self.tx, self.opt_state, params)
            self._opt_keys = frozenset(params)
            step_optimizers.extend_states(self, params)
            self._set_learning_rate(self.optimizer.learning_rate)

    def _set_learning_rate(self, value):
        """Write a new rate into the injected hyperparameters (read by the next step)."""
        hyperparams = getattr(loss_scale.inner_state(self.opt_state), "hyperparams", None)
        if hyperparams is not None and "learning_rate" in hyperparams:
            old = hyperparams["learning_rate"]
            hyperparams["learning_rate"] = jnp.asarray(value, dtype=old.dtype)

    @property
    def gathers_batches(self):
        """Whether steps may gather batches on the device (not with extra optimizers)."""
        return not step_optimizers.extra_optimizers(self)

    def active_distribution(self):
        """The distribution this call runs with (see `lamina.distribution.scope`), or None."""
        return distribution_scope.active(self.distribution)

    def placement(self, distribution):
        resolution = self.resolution()
        key = (distribution.key, resolution.structure_key)
        placement = self._placements.get(key)
        if placement is None:
            placement = self._placements[key] = Placement(distribution, self.model)
        return placement

    def _current_plan(self):
        """The `Plan` of the live configuration (its optimizer entries made first)."""
        resolution = self.resolution()
        if self._plan is None:
            # a model with no weights at all trains as Keras does (its step updates
            # nothing); one whose weights are all frozen is rule 8's error
            if not resolution.trained and any(v.kind == "weight" for v in resolution.variables):
                raise nothing_trainable_error(self.model, resolution)
            self._ensure_opt_state(resolution)
            self._plan = Plan.of((resolution.key, self._opt_keys), resolution.trained,
                                 resolution.not_trained)
        return self._plan

    def compiled_steps(self, kind, path="batch"):
        """The compiled steps of one kind and data path, one per configuration and
        distribution (for tests and benchmarks that check what compiled)."""
        return [step for key, step in self._steps.items() if key[0] == kind and key[3] == path]

    def _compiled(self, kind, path, distribution, plan):
        key = (kind, plan.key, None if distribution is None else distribution.key, path)
        step = self._steps.get(key)
        if step is None:
            step = self._steps[key] = self._build(kind, path, distribution, plan)
        return step

    def _build(self, kind, path, distribution, plan):
        """Compile the step of `kind` ("train" or "multi") on `path` ("batch" or "gather")."""
        step = self._pure_step(plan)
        if kind == "multi":
            step = step_lib.make_multi_step(step, self.init_metric_state, plan.kept_at,
                                            path == "gather")
        elif path == "gather":
            step = step_lib.make_indexed_step(step)
        if distribution is None:
            return CompiledStep(step) if self.jit else step_lib.EagerStep(step)
        return self.placement(distribution).train_step(step, plan, self.opt_state)

    def _pure_step(self, plan):
        """The pure step of `plan`'s configuration: the model's own `train_step`, or the
        compiled loss and metrics. The optimizer state's split is checked here, once."""
        resolution = self.resolution()
        trained, variables = resolution.trained, resolution.variables
        opt_state_lib.check_split(self.tx, self.opt_state, self._opt_keys, trained, variables,
                                  f"Model '{self.model.name}'")
        if custom_step.overrides_train_step(self.model):
            return custom_step.custom_step_fn(self, plan)
        return step_lib.train_step_fn(
            self.model, self.tx, self.specs, self.output_names, self.compiled_log_names,
            self._opt_keys, plan, _regularized(trained),
            [v for v in trained if v.constraint is not None], self.custom_loss)

    # -- steps -----------------------------------------------------------------------
    def train_step(self, x, y, sample_weight, reset_metrics=False):
        """One optimisation step on a batch; returns the running logs (device scalars).

        With `reset_metrics` the metrics restart from zero inside the step (no eager
        allocation of a fresh metric state per call).
        """
        self.ensure_ready(x)
        return self._run("train", "batch", 1, reset_metrics, (x, y, sample_weight),
                         self.active_distribution())

    def train_steps(self, xs, ys, sample_weights, reset_metrics=False):
        """K optimisation steps in ONE jitted call (`steps_per_execution`).

        `xs, ys, sample_weights` are K batches of equal shapes stacked on a leading axis
        (`lamina.training.step.stack_batches`); `ys` is a list in output order, as for
        `train_step`. The steps run in order inside `jax.lax.scan`, each with the live
        trainability configuration of this call (a change takes effect at the next call).
        Returns the logs of every batch: one array per log name with a leading axis of K.
        Under a distribution the K steps run one call each (same results, same logs).
        """
        k = jax.tree_util.tree_leaves(xs)[0].shape[0]
        if not self.ready:
            self.ensure_ready(jax.tree_util.tree_map(lambda a: a[0], xs))
        if self.active_distribution() is not None:
            logs = [self.train_step(*jax.tree_util.tree_map(lambda a, i=i: a[i],
                                                            (xs, ys, sample_weights)),
                                    reset_metrics=reset_metrics and i == 0)
                    for i in range(k)]
            return [jnp.stack(parts) for parts in zip(*logs, strict=True)]
        return self._run("multi", "batch", k, reset_metrics, (xs, ys, sample_weights))

    def train_steps_at(self, arrays, indices, reset_metrics=False):
        """K optimisation steps in ONE jitted call on batches gathered inside the call.

        `arrays` is the training set `(x, ys, sample_weight)` (`ys` a list in output order;
        best already on the device, as `lamina.training.data.device` puts it) and `indices`
        an int32 array (K, batch): step i trains on the samples `indices[i]`. Same
        semantics and results as `train_steps` on the gathered, stacked batches, without
        their host gathers, stacking and transfers. Under a distribution the batches are
        gathered first and run as `train_steps` does.
        """
        if self.active_distribution() is not None:
            return self.train_steps(*step_lib.take_batch(arrays, indices),
                                    reset_metrics=reset_metrics)
        self._ensure_ready_at(arrays, indices.shape[1:])
        return self._run("multi", "gather", indices.shape[0], reset_metrics, (arrays, indices))

    def train_step_at(self, arrays, index, reset_metrics=False):
        """One optimisation step on the batch gathered inside the jitted call.

        `arrays` and `index` as for `train_steps_at`, with `index` one batch's int32 sample
        indices (batch,). Same semantics and results as `train_step` on the gathered batch;
        fit takes this path for array data kept on an accelerator
        (`lamina.training.data.device`). Under a distribution the batch is gathered first
        and run by `train_step`.
        """
        if self.active_distribution() is not None:
            return self.train_step(*step_lib.take_batch(arrays, index),
                                   reset_metrics=reset_metrics)
        self._ensure_ready_at(arrays, index.shape)
        return self._run("train", "gather", 1, reset_metrics, (arrays, index))

    def _ensure_ready_at(self, arrays, batch_shape):
        if not self.ready:
            self.ensure_ready(jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct(batch_shape + a.shape[1:], a.dtype), arrays[0]))

    def _run(self, kind, path, count, reset_metrics, data, distribution=None):
        """Run the compiled step of `kind` on `path` for the live configuration on `data`
        (`count` optimisation steps), store the new state; returns the logs' values."""
        plan = self._current_plan()
        extras = step_optimizers.states_for(self, kind, path)
        step = self._compiled(kind, path, distribution, plan)
        if distribution is not None:
            self.placement(distribution).place_variables(plan.trained_vars + plan.other_vars)
        state = plan.state(self.opt_state, None if reset_metrics else self.metric_state)
        if extras:
            data = (*data, extras)
        state, logs = self._call(step, plan.trained_vars + plan.other_vars, state, *data)
        if extras:
            logs, self.extra_opt_states = logs
        plan.write_back(state)
        self.opt_state, self.metric_state = state.opt_state, state.metrics
        self.iterations += count
        self.log_names = list(logs)
        return list(logs.values())

    def test_step(self, x, y, sample_weight, reset_metrics=False):
        self.ensure_ready(x)
        self.log_names = self.compiled_log_names
        resolution = self.resolution()
        distribution = self.active_distribution()
        step = self._test_step(resolution, distribution)
        if distribution is not None:
            self.placement(distribution).place_variables(resolution.variables)
        values = {v.uid: v._value for v in resolution.variables}
        metric_state = None if reset_metrics else self.metric_state
        self.metric_state, logs = self._call(step, resolution.variables, values, metric_state,
                                             x, y, sample_weight)
        if isinstance(logs, dict):  # a model's own test_step names its logs
            self.log_names = list(logs)
            return list(logs.values())
        return logs

    def _call(self, step, variables, *args):
        """`step(*args)`; a failure because `variables` sit on different meshes says so."""
        try:
            return step(*args)
        except ValueError as err:
            error = mixed_devices_error(self.model.name, variables)
            if error is None:
                raise
            raise error from err

    def _test_step(self, resolution, distribution):
        """The compiled test step (it depends on the structure and the penalised weights)."""
        regularized = _regularized(resolution.trained)
        config = (resolution.structure_key, tuple(v.uid for v in regularized))
        key = ("test", config, None if distribution is None else distribution.key, "batch")
        step = self._steps.get(key)
        if step is None:
            if distribution is None:
                step = step_lib.compiled(keras_step.pure_test_step(self, resolution,
                                                                   regularized),
                                         self.jit, donate_argnums=(1,))
            else:
                step = self.placement(distribution).test_step(
                    self._test_step(resolution, None), [v.uid for v in resolution.variables])
            self._steps[key] = step
        return step

    def logs_dict(self, logs):
        """Host values of the logs: floats, or arrays for vector metrics (F1Score with
        average=None), as Keras keeps them."""
        return {name: float(value) if np.ndim(value) == 0 else np.asarray(value)
                for name, value in zip(self.log_names, logs, strict=True)}

    # -- batch API -------------------------------------------------------------------
    def _batch(self, x, y, sample_weight, what):
        """The batch of a `*_on_batch` call, through the checks every source gets
        (`lamina.training.data.checks`)."""
        x = input_arrays(x, self.model)
        self.ensure_ready(x)
        y = flatten_targets(y, self.output_names, self.specs, self.model)
        sample_weight = to_arrays(sample_weight, self.model)
        check_batch(self, x, y, sample_weight, what)
        return x, y, sample_weight

    def _format(self, logs, return_dict):
        logs = self.logs_dict(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        x, y, sample_weight = self._batch(x, y, sample_weight, "train_on_batch")
        return self._format(self.train_step(x, y, sample_weight, reset_metrics=True), return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        x, y, sample_weight = self._batch(x, y, sample_weight, "test_on_batch")
        return self._format(self.test_step(x, y, sample_weight, reset_metrics=True), return_dict)


def nothing_trainable_error(model, resolution):
    """The error for a step with nothing to train: every reason a weight is closed."""
    reasons = sorted({r for v in resolution.variables if v.kind == "weight"
                      for r in resolution.reasons(v)})
    text = "\n".join(f"  - {r}" for r in reasons) or "  - the model has no weights"
    return errors.NotTrainableError(
        errors.MSG_NOTHING_TRAINABLE.format(root=model.name, reasons=text))


def _regularized(trained):
    """The trained variables whose regularizer penalty joins the loss (docs/design.md rule 3: only
    weights that train in this configuration are penalised)."""
    return [v for v in trained if v.regularizer is not None]
