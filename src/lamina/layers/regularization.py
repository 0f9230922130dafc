"""Dropout, with its randomness held in a seed variable that is part of the model state."""
import jax
import jax.numpy as jnp

from lamina import random as lrandom
from lamina.core.layer import Layer


class SeedGenerator:
    """Draws a fresh key per call from a non-trainable seed variable of `layer`.

    The key state is a variable (kind "seed"): it is saved with the model, carried through
    jitted steps like moving statistics, and never counted as a weight.
    """

    def __init__(self, layer, seed=None):
        seed = lrandom.next_seed() if seed is None else seed
        self.state = layer.add_weight(
            (2,), lambda shape, dtype: jax.random.PRNGKey(seed), dtype="uint32",
            trainable=False, name="seed_generator_state", kind="seed",
        )

    def next(self):
        key, new_state = jax.random.split(self.state.value)
        self.state.assign(new_state)
        return key


class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs when training and scales the rest by 1/(1-rate).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: broadcastable mask shape (e.g. `(batch, 1, features)`).
        seed: makes the sequence of masks reproducible.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout '{self.name}': expected 0 <= rate < 1, received {rate!r}.")
        self.rate = float(rate)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed = seed
        self.seed_generator = SeedGenerator(self, seed)
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = self.noise_shape or inputs.shape
        shape = tuple(s if d is None else d for s, d in zip(inputs.shape, shape))
        keep = jax.random.bernoulli(self.seed_generator.next(), 1.0 - self.rate, shape)
        return jnp.where(keep, inputs / (1.0 - self.rate), jnp.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}
