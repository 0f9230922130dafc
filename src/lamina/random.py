"""Random keys for weight initialisation: one seedable stream, folded with a counter.

This is lamina's only piece of global random state. `set_seed` makes weight
initialisation reproducible; training randomness (dropout) lives in per-layer seed
variables that are part of the model state.
"""
import os

import jax
import numpy as np


class _KeyStream:
    def __init__(self):
        self.seed(int.from_bytes(os.urandom(4), "little"))

    def seed(self, seed):
        self._seed = int(seed)
        self._count = 0

    def next_key(self):
        self._count += 1
        return jax.random.fold_in(jax.random.PRNGKey(self._seed), self._count)

    def next_seed(self):
        """A fresh integer seed (for layers created without an explicit seed)."""
        self._count += 1
        return int(np.random.default_rng([self._seed, self._count]).integers(0, 2**31 - 1))


_STREAM = _KeyStream()


def set_seed(seed):
    """Seed weight initialisation and default layer seeds (like `keras.utils.set_random_seed`)."""
    _STREAM.seed(seed)


def next_key():
    return _STREAM.next_key()


def next_seed():
    return _STREAM.next_seed()
