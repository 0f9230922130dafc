"""Puts an optimizer's moving averages of the weights into the model when `fit` ends (Keras's
`finalize_variable_values` for `use_ema=True`)."""
import jax.numpy as jnp

from lamina.callbacks.base import Callback


class FinalizeEma(Callback):
    """Placed first among fit's callbacks, so the averages are in place before any other
    `on_train_end` (EarlyStopping's restore of the best weights comes after, as in Keras).
    Only the variables that train in the current configuration are overwritten: a frozen
    weight stays bit-for-bit as it is (docs/design.md rule 6)."""

    def __init__(self, trainer):
        super().__init__()
        self.trainer = trainer

    def on_train_end(self, logs=None):
        trainer = self.trainer
        averages = trainer.optimizer.averaged_weights(trainer.opt_state)
        if averages is None:
            return
        for variable in trainer.resolution().trained:
            if variable.uid in averages:
                # a copy: the optimizer state's buffers are donated to the next step
                variable.set_stored(jnp.array(averages[variable.uid], copy=True))
