"""lamina's one seedable random stream, for weight initialisation and default seeds.

This is lamina's only piece of global random state (the public `lamina.random` builds on
it: a `SeedGenerator` without a seed draws its seed here). `set_seed` makes weight
initialisation, default layer seeds and `fit`'s shuffling reproducible; training
randomness (dropout) then lives in per-layer seed variables that are part of the model
state. Initial values are drawn with numpy generators (deterministic across platforms, and
free of an XLA compilation per new weight shape).
"""
import contextlib
import os

import numpy as np


class _KeyStream:
    def __init__(self):
        self.seed(int.from_bytes(os.urandom(4), "little"))

    def seed(self, seed):
        self._seed = int(seed)
        self._count = 0

    def next_generator(self):
        self._count += 1
        return np.random.default_rng([self._seed, self._count])

    def next_seed(self):
        """A fresh integer seed (for layers created without an explicit seed)."""
        self._count += 1
        return int(np.random.default_rng([self._seed, self._count]).integers(0, 2**31 - 1))


_STREAM = _KeyStream()


def get_state():
    """The stream's position, JSON-able (saved in training checkpoints)."""
    return {"seed": _STREAM._seed, "count": _STREAM._count}


def set_state(state):
    _STREAM._seed, _STREAM._count = int(state["seed"]), int(state["count"])


@contextlib.contextmanager
def preserved():
    """Draws made inside this block leave the stream as it was (used while loading files,
    whose loaded values replace whatever was drawn)."""
    state = get_state()
    try:
        yield
    finally:
        set_state(state)


def set_seed(seed):
    """Seed weight initialisation and default layer seeds (like `keras.utils.set_random_seed`)."""
    _STREAM.seed(seed)


def next_generator():
    """A numpy Generator with its own slot of the stream."""
    return _STREAM.next_generator()


def next_seed():
    return _STREAM.next_seed()
