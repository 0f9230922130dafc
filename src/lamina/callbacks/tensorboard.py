"""TensorBoard: epoch (and optionally batch) scalars and weight histograms as event files.

Written through tensorboardX (`pip install "lamina[tensorboard]"`), a maintained writer with no
TensorFlow dependency. Training logs go to `log_dir/train`, validation logs (the `val_` keys,
without the prefix) to `log_dir/validation`, as Keras lays them out.
"""
import os

import numpy as np

from lamina.callbacks.base import Callback
from lamina.errors import ConfigurationError


class TensorBoard(Callback):
    """Args:
        log_dir: the directory of the event files.
        histogram_freq: every this many epochs, a histogram of every weight (0: never).
        update_freq: "epoch", or an integer N to also write the running training logs every
            N batches (tag prefix "batch_").
    """

    def __init__(self, log_dir="logs", histogram_freq=0, update_freq="epoch"):
        super().__init__()
        if not (update_freq == "epoch" or (isinstance(update_freq, int) and update_freq > 0)):
            raise ConfigurationError(f"TensorBoard: expected update_freq='epoch' or a positive "
                                     f"number of batches, received {update_freq!r}.")
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ConfigurationError(f"TensorBoard: expected histogram_freq >= 0, received "
                                     f"{histogram_freq!r}.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.update_freq = update_freq
        self._writers = {}
        self._step = 0

    def _writer(self, name):
        if name not in self._writers:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as err:
                raise ConfigurationError(
                    "TensorBoard needs tensorboardX, which is not installed. Install it with "
                    "`pip install tensorboardX` (or the extra `lamina[tensorboard]`).") from err
            self._writers[name] = SummaryWriter(os.path.join(self.log_dir, name))
        return self._writers[name]

    def get_checkpoint_state(self):  # (BackupAndRestore: batch steps continue their count)
        return {"step": self._step}

    def set_checkpoint_state(self, state):
        self._step = int(state["step"])

    def on_train_begin(self, logs=None):
        self._writer("train")  # fails early when tensorboardX is missing

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_freq != "epoch" and self._step % self.update_freq == 0:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"batch_{name}", float(value), self._step)

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            split, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self._writer(split).add_scalar(f"epoch_{tag}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for variable in self.model.weights:
                writer.add_histogram(variable.path, np.asarray(variable.value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
