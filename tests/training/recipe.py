"""The documented custom `train_step` recipe (docs/custom_train_step.md), shared by the tests
that train a model through it."""
import jax

from lamina.training import custom_step as cs


class RecipeTrainStep:
    """Mixin for a `lamina.Model` subclass: its `train_step` is the documented recipe
    (compiled loss, gradients of the trained weights, optimizer update, compiled metrics)."""

    @cs.lamina_form
    def train_step(self, state, data):
        x, y, sample_weight = data

        def loss_fn(trainable):
            return cs.compute_loss_and_updates(self, trainable, state.non_trainable, x, y,
                                               sample_weight)

        (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state.trainable)
        trainable, optimizer = cs.optimizer_apply(self, state.optimizer, grads, state.trainable)
        metrics, logs = cs.update_metrics(self, state.metrics, loss, y, y_pred, sample_weight)
        return logs, cs.TrainState(trainable, non_trainable, optimizer, metrics)
