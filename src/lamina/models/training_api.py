"""The training surface of `Model` (mixed into it): `compile`, `fit`, `evaluate`,
`predict`, the batch methods, and Keras 3's custom-step API (`metrics`, `stateless_call`,
`compute_loss`, `trainable_variables` / `non_trainable_variables` in the order a step's
state lists them, `losses` read inside a step). Each delegates to `lamina.training`,
imported inside the method (the facades of docs/design.md section 3).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from lamina import trainability
from lamina.core import step_losses
from lamina.errors import UsageError
from lamina.metrics.base import Metric

if TYPE_CHECKING:
    import optax

    from lamina.callbacks import Callback, History
    from lamina.optimizers import Optimizer

# what train_on_batch / test_on_batch / evaluate return: the single value, the list of values
# (loss first, then metrics), or {name: value} with return_dict=True; a value is a float, or
# a numpy array for a metric with non-scalar results
Results = float | np.ndarray | list[Any] | dict[str, Any]


class TrainingAPI:
    """Mixin of `Model`: everything that needs a `Trainer` (see the module docstring)."""

    _trainer: Any
    name: str

    def compile(self, optimizer: str | Optimizer | optax.GradientTransformation = "rmsprop",
                loss: Any = None, metrics: Any = None, loss_weights: Any = None,
                seed: int | None = None, distribution: Any = None, steps_per_execution: int = 1,
                auto_scale_loss: bool = True, jit_compile: bool | str = "auto",
                run_eagerly: bool = False) -> None:
        """Set up training. `distribution` (a `lamina.distribution.DataParallel` or
        `ModelParallel`) wins over an enclosing `lamina.distribution.scope(...)`;
        `steps_per_execution` runs that many batches in one jitted call (callbacks still see
        every batch's logs). fit puts array data on the device once and each call gathers its
        batches there, with `steps_per_execution` > 1 or on an accelerator
        (`lamina.training.data.device`); with `auto_scale_loss` (default) the
        optimizer is wrapped in a `lamina.optimizers.LossScaleOptimizer` when a layer computes
        in float16 ("mixed_float16").

        `loss` may be None when the model supplies its own (`add_loss` in `call`, an
        overridden `compute_loss` or `train_step`); a step with no loss at all is refused
        when it first runs. `jit_compile=False` (or `run_eagerly=True`) runs the steps
        without `jax.jit`, op by op, for debugging; the results are those of the compiled
        steps. A subclass may override `compile` with its own arguments (a GAN's
        `d_optimizer`, `g_optimizer`, `loss_fn`) and call `super().compile()`, as in Keras."""
        from lamina.training.trainer import Trainer

        self._trainer = Trainer(self, optimizer, loss, metrics, loss_weights, seed,
                                distribution=distribution,
                                steps_per_execution=steps_per_execution,
                                auto_scale_loss=auto_scale_loss,
                                jit_compile=False if run_eagerly else jit_compile)

    @property
    def compiled(self) -> bool:
        return self._trainer is not None

    @property
    def optimizer(self) -> Optimizer:
        return self._require_trainer("optimizer").optimizer

    def _require_trainer(self, what):
        if self._trainer is None:
            raise UsageError(
                f"Model '{self.name}' must be compiled before `{what}`: call "
                f"`{self.name}.compile(optimizer=..., loss=...)` first."
            )
        return self._trainer

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> History:
        from lamina.training import loop
        from lamina.training.ema import FinalizeEma

        trainer = self._require_trainer("fit")
        if trainer.optimizer.use_ema:
            kwargs["callbacks"] = [FinalizeEma(trainer), *(kwargs.get("callbacks") or [])]
        return loop.fit(trainer, x, y, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> Results:
        from lamina.training import loop

        return loop.evaluate(self._require_trainer("evaluate"), x, y, **kwargs)

    def predict(self, x: Any, batch_size: int = 32, verbose: str | int = "auto",
                steps: int | None = None, callbacks: Sequence[Callback] | None = None) -> Any:
        from lamina.training import loop

        # verbose: pyright infers `str` from loop.predict's unannotated default "auto"
        return loop.predict(self, x, batch_size=batch_size,
                            verbose=verbose,  # pyright: ignore[reportArgumentType]
                            steps=steps, callbacks=callbacks)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       return_dict: bool = False) -> Results:
        return self._require_trainer("train_on_batch").train_on_batch(x, y, sample_weight,
                                                                      return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Results:
        return self._require_trainer("test_on_batch").test_on_batch(x, y, sample_weight,
                                                                    return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        from lamina.training import predict as predict_lib

        return predict_lib.predict_on_batch(self, x)

    # -- Keras 3's custom-step surface (docs/custom_train_step.md) -------------------
    @property
    def trainable_variables(self) -> list:
        """The variables a step of this model trains (docs/design.md rule 3), in the order
        of a custom step's `trainable_variables`."""
        return list(trainability.resolve(cast(Any, self)).trained)

    @property
    def non_trainable_variables(self) -> list:
        """Every other variable (frozen weights, statistics, seed states), in the order of
        a custom step's `non_trainable_variables`."""
        return list(trainability.resolve(cast(Any, self)).not_trained)

    @property
    def metrics(self) -> list[Any]:
        """Keras order: the loss tracker and the compiled metrics (once compiled), then the
        metrics held as attributes of the model. A subclass may override it; a Keras-form
        step's `metrics_variables` follow this list."""
        from lamina.training import keras_step

        own = [value for value in vars(self).values() if isinstance(value, Metric)]
        if not hasattr(self._trainer, "loss_tracker"):  # not compiled, or a GAN's trainer
            return own
        return keras_step.compiled_metrics(self._trainer) + own

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    @property
    def losses(self) -> list:
        """Inside a step: the losses of the model's latest call there (`add_loss` values
        and the trained weights' regularizer penalties); else those of its last eager
        call (`Layer.losses`)."""
        record = step_losses.current(self)
        return record.terms() if record is not None else super().losses  # type: ignore[misc]

    def stateless_call(self, trainable_variables: Sequence, non_trainable_variables: Sequence,
                       x: Any, training: bool = False) -> tuple[Any, list]:
        """Keras 3: `(outputs, non_trainable_variables)` of `self(x)` on these values."""
        from lamina.training import keras_step

        return keras_step.stateless_call(self, trainable_variables, non_trainable_variables,
                                         x, training)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> Any:
        """Keras 3: the compiled loss of `y_pred` against `y` plus `self.losses`. Override
        it to change the loss `fit` and `evaluate` train and report; `super().compute_loss(
        ...)` gives this sum."""
        from lamina.training import keras_step

        return keras_step.compute_loss(self._require_trainer("compute_loss"), x, y, y_pred,
                                       sample_weight, training)

    def stateless_compute_loss(self, trainable_variables: Sequence,
                               non_trainable_variables: Sequence, metrics_variables: Sequence,
                               x: Any = None, y: Any = None, y_pred: Any = None,
                               sample_weight: Any = None, training: bool = True) -> Any:
        """Keras 3: `(loss, (trainable_variables, non_trainable_variables,
        metrics_variables))`, the loss being `compute_loss(...)` (the model's own when it
        overrides it) and the variables passed through (lamina's `compute_loss` assigns
        none of them)."""
        from lamina.training import keras_step

        kwargs = ({"training": training} if keras_step.takes_training(type(self).compute_loss)
                  else {})
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 **kwargs), (list(trainable_variables),
                                                      list(non_trainable_variables),
                                                      list(metrics_variables))

    def compute_loss_is_overridden(self) -> bool:
        return type(self).compute_loss is not TrainingAPI.compute_loss
