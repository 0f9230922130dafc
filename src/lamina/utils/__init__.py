"""Utilities: reports built on the trainability resolution, plots and seeding, and Keras's
`keras.utils` helpers (arrays, sequences, images, datasets of batches, downloads, progress
bars). See docs/utils.md."""
import random as _python_random

import numpy as _np

from lamina.core import rng as _lamina_random
from lamina.errors import ConfigurationError as _ConfigurationError
from lamina.training.data.sources import PyDataset as PyDataset
from lamina.training.keras_step import pack_x_y_sample_weight as pack_x_y_sample_weight
from lamina.training.keras_step import unpack_x_y_sample_weight as unpack_x_y_sample_weight
from lamina.utils.directory_datasets import (
    image_dataset_from_directory as image_dataset_from_directory,
)
from lamina.utils.directory_datasets import (
    text_dataset_from_directory as text_dataset_from_directory,
)
from lamina.utils.file_download import get_file as get_file
from lamina.utils.images import array_to_img as array_to_img
from lamina.utils.images import img_to_array as img_to_array
from lamina.utils.images import load_img as load_img
from lamina.utils.images import save_img as save_img
from lamina.utils.numerical import normalize as normalize
from lamina.utils.numerical import to_categorical as to_categorical
from lamina.utils.plot_model import model_to_dot as model_to_dot
from lamina.utils.plot_model import plot_model as plot_model
from lamina.utils.progbar import Progbar as Progbar
from lamina.utils.registration import (
    register_keras_serializable as register_keras_serializable,
)
from lamina.utils.sample_dataset import SampleDataset as SampleDataset
from lamina.utils.sample_dataset import (
    timeseries_dataset_from_array as timeseries_dataset_from_array,
)
from lamina.utils.sequences import pad_sequences as pad_sequences
from lamina.utils.split import split_dataset as split_dataset


def set_random_seed(seed):
    """Seed everything lamina draws from (weight initialisation, default layer seeds, which
    seed dropout and noise layers' key variables, and fit's shuffling), plus Python's and
    numpy's global generators for user code, like `keras.utils.set_random_seed`. Two runs
    with the same seed on the same machine give bitwise-identical weights."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise _ConfigurationError(
            f"set_random_seed: expected a non-negative integer, received {seed!r}.")
    _lamina_random.set_seed(seed)
    _python_random.seed(seed)
    _np.random.seed(seed % 2**32)
