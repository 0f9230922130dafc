"""Layers on the residual branch of a block, with the names and configs of the Keras 3 classes
that ConvNeXt defines (`keras.src.applications.convnext`): `LayerScale` multiplies the branch
by a learned per-channel scale, `StochasticDepth` drops the whole branch of a sample while
training."""
import jax
import jax.numpy as jnp

from lamina import initializers
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError
from lamina.random import SeedGenerator


class LayerScale(Layer):
    """`inputs * gamma`, one trained scale per channel of the last axis (Touvron et al.,
    "Going deeper with Image Transformers", 2021).

    Args:
        init_values: the initial value of every scale (ConvNeXt uses 1e-6).
        projection_dim: the number of channels (the size of the inputs' last axis).
    """

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.projection_dim:
            raise ConfigurationError(
                f"LayerScale '{self.name}': expected inputs with projection_dim="
                f"{self.projection_dim} channels on the last axis, received shape "
                f"{tuple(input_shape)}.")
        self.gamma = self.add_weight((self.projection_dim,),
                                     initializers.Constant(self.init_values), name="gamma")

    def call(self, inputs):
        return inputs * self.gamma.value

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values,
                "projection_dim": self.projection_dim}


class StochasticDepth(Layer):
    """While training, drops the whole input of a sample with probability `drop_path_rate`
    and scales the kept ones by `1 / (1 - drop_path_rate)`; the identity otherwise (Huang et
    al., "Deep Networks with Stochastic Depth", 2016). One draw per sample, as Keras's.

    Args:
        drop_path_rate: probability of dropping a sample's branch, in [0, 1).
        seed: makes the sequence of draws reproducible.
    """

    def __init__(self, drop_path_rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= drop_path_rate < 1:
            raise ConfigurationError(
                f"StochasticDepth '{self.name}': expected drop_path_rate in [0, 1), received "
                f"{drop_path_rate!r}.")
        self.drop_path_rate = drop_path_rate
        self.seed = seed
        self.seed_generator = SeedGenerator(seed, owner=self)
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.drop_path_rate == 0:
            return inputs
        keep_prob = 1.0 - self.drop_path_rate
        shape = (inputs.shape[0],) + (1,) * (inputs.ndim - 1)
        draw = jax.random.uniform(self.seed_generator.next(), shape, inputs.dtype)
        return (inputs / keep_prob) * jnp.floor(keep_prob + draw)

    def get_config(self):
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate,
                "seed": self.seed}


LAYERS = (LayerScale, StochasticDepth)
