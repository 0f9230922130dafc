"""Utilities: reports built on the trainability resolution, plots, and seeding."""
import random as _python_random

import numpy as _np

from lamina.core import rng as _lamina_random
from lamina.errors import ConfigurationError as _ConfigurationError
from lamina.training.data.sources import PyDataset as PyDataset
from lamina.utils.plot_model import model_to_dot as model_to_dot
from lamina.utils.plot_model import plot_model as plot_model


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
