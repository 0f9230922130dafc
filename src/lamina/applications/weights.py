"""The `weights=` argument of every application constructor.

`None` leaves the random initialisation; `"imagenet"` fetches Keras's published file (the
same URL and SHA-256 / MD5 hash as `keras.applications`, verified) into
`$LAMINA_HOME/models` on first use and reads it from there afterwards; any other value is a
path to a local file, read offline: a Keras 3 `.weights.h5` file or the layer-keyed legacy
HDF5 file that `keras.applications` downloads (`model.load_weights` reads both).
"""
import os
from dataclasses import dataclass

from lamina.errors import ConfigurationError
from lamina.utils.file_download import get_file


@dataclass(frozen=True)
class WeightsFile:
    """One published weights file: its file name, URL and hash (as in Keras's sources;
    None where Keras publishes none, as for MobileNetV2)."""

    fname: str
    origin: str
    file_hash: str | None


def check_weights_argument(name: str, weights, include_top: bool, classes: int) -> None:
    """Keras's checks of `weights` against `include_top` and `classes`, with lamina's errors."""
    if not (weights in {"imagenet", None} or isinstance(weights, (str, os.PathLike))):
        raise ConfigurationError(
            f"{name}: expected `weights` to be None, 'imagenet' or the path to a weights file, "
            f"received {weights!r}.")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ConfigurationError(
            f"{name}: `weights='imagenet'` with `include_top=True` expected `classes=1000` (the "
            f"ImageNet classifier), received classes={classes}. Use include_top=False to put "
            "your own classifier on the pretrained base.")


def load(model, weights, published: WeightsFile | None) -> None:
    """Load `weights` (None, "imagenet" or a path) into `model`; `published` is the file
    Keras downloads for "imagenet" with this model's `include_top`."""
    if weights is None:
        return
    if weights == "imagenet":
        if published is None:
            raise ConfigurationError(
                f"{model.name}: no published ImageNet weights exist for this configuration; "
                "pass weights=None or the path of a weights file.")
        path = get_file(published.fname, published.origin, file_hash=published.file_hash,
                        cache_subdir="models")
    else:
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise ConfigurationError(
                f"{model.name}: expected `weights` to name an existing weights file, received "
                f"{path!r}, which does not exist.")
    model.load_weights(path)
