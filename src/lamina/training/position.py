"""Where `fit` is, shared with callbacks that checkpoint training and resume it.

While `fit` runs, `trainer.fit_position` is a `FitPosition`:

- `epoch`, `batch`: the epoch being run and how many of its batches are done;
- `epoch_rng_state`: the state of fit's shuffling generator when `epoch` began (restoring
  it replays that epoch's order of samples);
- `logs`: the latest step's logs (in `trainer.log_names` order);
- `callbacks`: every callback of this fit, `History` included.

Safe points: fit calls the functions registered with `add_listener` once *every*
callback has handled on_train_begin ("train_begin"), a batch end ("batch_end") or an epoch
end ("epoch_end"). There every callback's state reflects the same step, so a checkpoint
taken there is consistent. At "train_begin" a listener may call `resume` to continue from
a saved position.
"""
from lamina.errors import UsageError


class FitPosition:
    def __init__(self, rng, epoch, callbacks):
        self.rng = rng
        self.epoch = epoch
        self.batch = 0
        self.epoch_rng_state = rng.bit_generator.state
        self.logs = None
        self.callbacks = callbacks
        self._listeners = []
        self._started = False

    def add_listener(self, fn):
        """Call `fn(event)` at every safe point of this fit ("train_begin", "batch_end",
        "epoch_end")."""
        self._listeners.append(fn)

    def safe_point(self, event):
        for fn in list(self._listeners):
            fn(event)

    def resume(self, epoch, batch, epoch_rng_state, logs=None):
        """Continue at `batch` batches into `epoch`, whose shuffling began from
        `epoch_rng_state`; `logs` are the step logs after that batch (needed when every
        batch of the epoch was done). Only before the first epoch starts."""
        if self._started:
            raise UsageError(
                "FitPosition.resume: fit has already started its first epoch; "
                "resume at the 'train_begin' safe point.")
        self.rng.bit_generator.state = epoch_rng_state
        self.epoch, self.batch, self.logs = int(epoch), int(batch), logs
        self.epoch_rng_state = self.rng.bit_generator.state

    def begin_epoch(self, epoch):
        """Called by fit before the epoch draws its order; returns the batches to skip
        (those done before a resume)."""
        self._started = True
        skip = self.batch if epoch == self.epoch else 0
        self.epoch, self.batch = epoch, skip
        self.epoch_rng_state = self.rng.bit_generator.state
        return skip

    def batch_done(self, index, logs):
        self.batch, self.logs = index + 1, logs
