"""`BackupAndRestore`: back up training regularly and resume an interrupted `fit` exactly.

Writes are atomic (a temporary file beside the target, fsynced, then renamed), so an
interruption at any moment leaves the previous backup intact.
"""
import os

from lamina.callbacks.base import Callback, check_save_freq
from lamina.callbacks.history import History
from lamina.errors import ConfigurationError, UsageError
from lamina.saving import checkpoint as checkpoint_lib


class BackupAndRestore(Callback):
    """Back up training regularly; after an interruption, `fit` resumes where it stopped.

    At the start of `fit`, if `backup_dir` holds a backup, the model's weights (dropout
    seed states included), flags, scoped freezes, optimizer and metric state, learning
    rate, iteration count, `History`, the states of callbacks that keep one (every
    built-in callback with state: `EarlyStopping` with its best weights,
    `ReduceLROnPlateau`, `ModelCheckpoint`, `LearningRateScheduler`, `FreezeSchedule`,
    `GradualUnfreezing`, `CSVLogger`, `TensorBoard`), and the position (epoch, batch and the
    shuffling order of that epoch) are restored, and training continues from there. A
    backup taken after a callback asked training to stop ends the resumed fit at once. On
    CPU the result is bit for bit the result of an uninterrupted run. When `fit` completes,
    the backup is deleted (`delete_checkpoint`).

    Run the same script again after a crash: same model, data, batch size and callbacks.

    Args:
        backup_dir: a directory used only for this backup.
        save_freq: "epoch" (back up after every epoch) or an integer N (back up every N
            training steps, counted by the model's iteration counter). With
            `steps_per_execution=k` a backup can only be taken between compiled calls: it is
            taken at the first call boundary at or after each multiple of N, so no multiple
            is skipped (N=10, k=4: after steps 12, 20, 32, 40, ...).
        double_checkpoint: keep the previous backup too, used if the newest is damaged.
        delete_checkpoint: delete the backup once training completes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ConfigurationError("BackupAndRestore: expected a backup_dir, received "
                                     f"{backup_dir!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = check_save_freq("BackupAndRestore", save_freq)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._manager = None
        self._position = None
        self._last_iterations = 0  # the iteration count at the previous safe point

    @property
    def manager(self):
        if self._manager is None:
            self._manager = checkpoint_lib.CheckpointManager(
                self.backup_dir, max_to_keep=2 if self.double_checkpoint else 1)
        return self._manager

    def on_train_begin(self, logs=None):
        self._position = getattr(self.model._trainer, "fit_position", None)
        if self._position is None:
            raise UsageError("BackupAndRestore works inside model.fit(callbacks=[...]).")
        self._position.add_listener(self._at_safe_point)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self.manager.delete_all()

    # -- at safe points: every callback has handled the same step ---------------------
    def _at_safe_point(self, event):
        position, trainer = self._position, self.model._trainer
        if event == "train_begin":
            self._restore()
            self._last_iterations = trainer.iterations
        elif event == "batch_end" and self.save_freq != "epoch":
            # a multiple of save_freq passed since the last safe point (one step, or a
            # group of steps_per_execution)
            due = trainer.iterations // self.save_freq > self._last_iterations // self.save_freq
            self._last_iterations = trainer.iterations
            if due:
                self._save(position.epoch, position.batch, position.epoch_rng_state,
                           position.logs)
        elif event == "epoch_end" and self.save_freq == "epoch":
            # the next epoch starts from the generator as it is now
            self._save(position.epoch + 1, 0, position.rng.bit_generator.state, None)

    def _history(self):
        found = [c for c in self._position.callbacks if isinstance(c, History)]
        return found[-1] if found else None

    def _save(self, epoch, batch, epoch_rng_state, logs):
        training = checkpoint_lib.training_state(
            self.model, epoch=epoch, batch=batch, epoch_rng_state=epoch_rng_state, logs=logs,
            history=self._history(), callbacks=self._position.callbacks)
        training["fit"] = {"steps": self.params.get("steps"),
                           "batch_size": self.params.get("batch_size")}
        self.manager.save(self.model, training,
                          checkpoint_lib.callback_arrays(self._position.callbacks))

    def _restore(self):
        if not os.path.isdir(self.backup_dir):
            return
        found = self.manager.latest()
        if found is None:
            return
        path, training, members = found
        saved = training.get("fit") or {}
        now = {"steps": self.params.get("steps"), "batch_size": self.params.get("batch_size")}
        if training["batch"] and saved != now:
            raise ConfigurationError(
                f"BackupAndRestore: the backup '{path}' stopped inside an epoch of "
                f"{saved.get('steps')} batches of {saved.get('batch_size')} samples; this fit "
                f"has {now['steps']} batches of {now['batch_size']}. Resume with the same data "
                f"and batch size, or delete '{self.backup_dir}' to start over.")
        checkpoint_lib.apply_checkpoint(self.model, path, training, members)
        checkpoint_lib.restore_callback_states(
            self._position.callbacks, training.get("callbacks") or {},
            checkpoint_lib.read_callback_arrays(path, members), f"'{path}'")
        history, saved_history = self._history(), training.get("history")
        if history is not None and saved_history is not None:
            history.epoch = list(saved_history["epoch"])
            history.history = {k: list(v) for k, v in saved_history["history"].items()}
        # a callback had stopped training: the resumed fit runs no further epoch
        epoch = (self.params.get("epochs", training["epoch"]) if training.get("stop_training")
                 else training["epoch"])
        self._position.resume(epoch, training["batch"], training["epoch_rng_state"],
                              training.get("logs"))
