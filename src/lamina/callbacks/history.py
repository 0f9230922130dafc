"""History: the per-epoch logs that `fit` returns, with a plot of its curves."""
import os

from lamina.callbacks.base import Callback
from lamina.core.files import atomic_write, make_directory
from lamina.errors import ConfigurationError


class History(Callback):
    """Records the epoch logs; `fit` returns it. `history.history["loss"]` is a list."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)

    def plot(self, path=None, metrics=None):
        """Plot each log (training and `val_` side by side) against the epoch; save to `path`
        (PNG) when given. Returns the matplotlib figure. Needs matplotlib (`pip install
        "lamina[plot]"`)."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as err:
            raise ConfigurationError(
                "History.plot needs matplotlib, which is not installed. Install it with "
                "`pip install matplotlib` (or the extra `lamina[plot]`).") from err
        names = [n for n in self.history if not n.startswith("val_")]
        names = [n for n in names if metrics is None or n in metrics]
        if not names:
            raise ConfigurationError(
                f"History.plot: nothing to plot; the logs are {sorted(self.history)} and "
                f"metrics={metrics!r}.")
        figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5),
                                    squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes[0], names, strict=True):
            ax.plot(epochs, self.history[name], marker="o", label=name)
            if f"val_{name}" in self.history:
                ax.plot(epochs, self.history[f"val_{name}"], marker="o", label=f"val_{name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        figure.tight_layout()
        if path is not None:
            make_directory(os.path.dirname(os.path.abspath(path)), "History.plot")
            atomic_write(path, lambda f: figure.savefig(f, format="png"))
            plt.close(figure)
        return figure
