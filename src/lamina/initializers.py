"""Weight initialisers with Keras names, resolved once from strings through a registry."""
import math

import jax
import jax.numpy as jnp

from lamina import random as lrandom
from lamina.errors import ConfigurationError


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base: `init(shape, dtype) -> array`. `seed` makes one initialiser reproducible."""

    def __init__(self, seed=None):
        self.seed = seed
        self._calls = 0

    def _key(self):
        if self.seed is None:
            return lrandom.next_key()
        self._calls += 1
        return jax.random.fold_in(jax.random.PRNGKey(self.seed), self._calls)

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed} if self.seed is not None else {}


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return jnp.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return jnp.ones(shape, dtype)


class _VarianceScaling(Initializer):
    scale, mode, distribution = 1.0, "fan_in", "uniform"

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(tuple(shape))
        denom = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, denom)
        key = self._key()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return jax.random.uniform(key, shape, dtype, -limit, limit)
        # truncated normal at two standard deviations, corrected like Keras
        stddev = math.sqrt(variance) / 0.87962566103423978
        return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) * stddev


class GlorotUniform(_VarianceScaling):
    mode = "fan_avg"


class GlorotNormal(_VarianceScaling):
    mode, distribution = "fan_avg", "normal"


class HeUniform(_VarianceScaling):
    scale = 2.0


class HeNormal(_VarianceScaling):
    scale, distribution = 2.0, "normal"


class LecunUniform(_VarianceScaling):
    pass


class LecunNormal(_VarianceScaling):
    distribution = "normal"


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return self.mean + self.stddev * jax.random.normal(self._key(), shape, dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype="float32"):
        return jax.random.uniform(self._key(), shape, dtype, self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return jnp.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


_REGISTRY = {
    "zeros": Zeros,
    "ones": Ones,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "constant": Constant,
}


def get(identifier):
    """An initialiser from a name, an instance or a callable `(shape, dtype) -> array`."""
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier)
        if cls is None:
            raise ConfigurationError(
                f"Unknown initializer {identifier!r}. Valid names: {', '.join(sorted(_REGISTRY))}."
            )
        return cls()
    if callable(identifier):
        return identifier
    raise ConfigurationError(
        f"Expected an initializer name, instance or callable, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )


def name_of(initializer):
    """The registry name of a built-in initialiser (for `get_config`)."""
    for name, cls in _REGISTRY.items():
        if type(initializer) is cls:
            return name
    return type(initializer).__name__
