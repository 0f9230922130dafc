"""Keras 3's `keras.random`: seeded draws usable in a layer's `call` under `fit`.

Hold a `SeedGenerator` in the layer and pass it as `seed`; its state is a non-trainable
variable of the layer, advanced at every call, saved with the model and in checkpoints.
`set_seed` seeds lamina's stream (weight initialisation, default seeds, fit's shuffling), as
`lamina.utils.set_random_seed` does.
"""
from lamina.core.rng import set_seed as set_seed
from lamina.random.distributions import beta as beta
from lamina.random.distributions import binomial as binomial
from lamina.random.distributions import categorical as categorical
from lamina.random.distributions import dropout as dropout
from lamina.random.distributions import gamma as gamma
from lamina.random.distributions import normal as normal
from lamina.random.distributions import randint as randint
from lamina.random.distributions import shuffle as shuffle
from lamina.random.distributions import truncated_normal as truncated_normal
from lamina.random.distributions import uniform as uniform
from lamina.random.seed_generator import SeedGenerator as SeedGenerator
