"""Weight initialisers with Keras names, resolved once from strings through a registry."""
import math

import jax.numpy as jnp
import numpy as np

from lamina.core import rng as lrandom
from lamina.core.arrays import to_array
from lamina.errors import AbstractMethodError, ConfigurationError, InputSpecError
from lamina.named import NamedRegistry


def _cast(values, dtype):
    return to_array(np.asarray(values, dtype=np.float64).astype(jnp.dtype(dtype)))


def _truncated_normal(rng, shape):
    """Standard normal samples redrawn until they fall within two standard deviations."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values


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

    def _rng(self):
        if self.seed is None:
            return lrandom.next_generator()
        self._calls += 1
        return np.random.default_rng([self.seed, self._calls])

    def __call__(self, shape, dtype="float32"):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `__call__(self, shape, dtype)`: "
            "expected every subclass of Initializer to define it.")

    def get_config(self):
        return {"seed": self.seed} if self.seed is not None else {}


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return to_array(np.zeros(shape, jnp.dtype(dtype)))


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return to_array(np.ones(shape, jnp.dtype(dtype)))


class _VarianceScaling(Initializer):
    scale, mode, distribution = 1.0, "fan_in", "uniform"

    def __call__(self, shape, dtype="float32"):
        return self.with_fans(shape, dtype, *_fans(tuple(shape)))

    def with_fans(self, shape, dtype, fan_in, fan_out):
        """Draw with the given fans instead of those of `shape` (EinsumDense's kernels count
        fans over their input and output axes only)."""
        denom = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, denom)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _cast(rng.uniform(-limit, limit, shape), dtype)
        if self.distribution == "untruncated_normal":
            return _cast(rng.standard_normal(shape) * math.sqrt(variance), dtype)
        # truncated normal at two standard deviations, corrected like Keras
        stddev = math.sqrt(variance) / 0.87962566103423978
        return _cast(_truncated_normal(rng, shape) * stddev, dtype)


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
        return _cast(self.mean + self.stddev * self._rng().standard_normal(shape), dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype="float32"):
        return _cast(self._rng().uniform(self.minval, self.maxval, shape), dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return to_array(np.full(shape, self.value, jnp.dtype(dtype)))

    def get_config(self):
        return {"value": self.value}


class TruncatedNormal(Initializer):
    """Normal samples redrawn until within two standard deviations of the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return _cast(self.mean + self.stddev * _truncated_normal(self._rng(), shape), dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(_VarianceScaling):
    """Samples with variance `scale / fan` (`mode` fan_in, fan_out or fan_avg) from a
    "truncated_normal", "untruncated_normal" or "uniform" distribution."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigurationError(
                f"VarianceScaling: expected mode fan_in, fan_out or fan_avg, "
                f"received {mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "normal", "uniform"):
            raise ConfigurationError(
                f"VarianceScaling: expected distribution truncated_normal, "
                f"untruncated_normal or uniform, received {distribution!r}.")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class Orthogonal(Initializer):
    """An orthogonal matrix (from the QR decomposition of a normal one) times `gain`; shapes of
    more than two dimensions are orthogonal over (product of leading dims, last dim)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) < 2:
            raise InputSpecError(
                f"Orthogonal: expected a shape of at least 2 dimensions, "
                f"received {tuple(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _cast(self.gain * q.reshape(shape), dtype)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        super().__init__(None)
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) != 2:
            raise InputSpecError(f"Identity: expected a 2-D shape, received {tuple(shape)}.")
        return _cast(self.gain * np.eye(*shape), dtype)

    def get_config(self):
        return {"gain": self.gain}


_NAMES = NamedRegistry("initializer", {
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
    "normal": RandomNormal,  # Keras aliases
    "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "orthogonal": Orthogonal,
    "identity": Identity,
    "constant": Constant,
})


def get(identifier):
    """An initialiser from a name, a `{"class_name", "config"}` dict (see `serialize`), an
    instance or a callable `(shape, dtype) -> array`."""
    return _NAMES.get(identifier)


def serialize(initializer):
    """A name (no arguments) or `{"class_name", "config"}` for a built-in initialiser."""
    return _NAMES.serialize(initializer)
