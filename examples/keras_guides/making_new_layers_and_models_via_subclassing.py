"""The Keras guide "Making new layers and models via subclassing", on local digits.

The guide's layers as it writes them: weights made with `add_weight` (in `__init__` and in
`build`) and used as arrays in `call`, a non-trainable weight updated with `assign_add`,
layers nested in layers, `get_config` / `from_config`, a dropout layer drawing from a
`keras.random.SeedGenerator` under the privileged `training` argument, and the end-to-end
variational autoencoder (a `Sampling` layer drawing `keras.random.normal`, the KL term added
with `add_loss`) trained with `fit`, with the guide's `keras.ops` calls. Data: scikit-learn's
bundled 8x8 digits (64 features, scaled to [0, 1]) in place of MNIST.
"""
import json

import numpy as np
from sklearn.datasets import load_digits

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

ops = keras.ops

GUIDE_TOLERANCE = {"dropout_zero_fraction": 0.06, "vae_first_loss": 0.1,
                   "vae_last_loss": 0.05}
RESULT = {}


class Linear(keras.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(
            shape=(input_dim, units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


x = ops.ones((2, 2))
linear_layer = Linear(4, 2)
y = linear_layer(x)
print(y)
assert linear_layer.weights == [linear_layer.w, linear_layer.b]
RESULT["linear_output_shape"] = list(y.shape)


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(
            initializer="zeros", shape=(input_dim,), trainable=False
        )

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


x = ops.ones((2, 2))
my_sum = ComputeSum(2)
y = my_sum(x)
print(np.asarray(y))
y = my_sum(x)
print(np.asarray(y))
RESULT["compute_sum"] = np.asarray(y).tolist()
print("weights:", len(my_sum.weights))
print("non-trainable weights:", len(my_sum.non_trainable_weights))
print("trainable_weights:", my_sum.trainable_weights)
RESULT["compute_sum_weights"] = [len(my_sum.weights), len(my_sum.non_trainable_weights),
                                 len(my_sum.trainable_weights)]


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


linear_layer = Linear(32)
y = linear_layer(x)
RESULT["lazy_linear_shapes"] = [list(w.shape) for w in linear_layer.weights]


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


mlp = MLPBlock()
y = mlp(ops.ones(shape=(3, 64)))  # The first call to the `mlp` will create the weights
print("weights:", len(mlp.weights))
print("trainable weights:", len(mlp.trainable_weights))
RESULT["mlp_weights"] = [len(mlp.weights), len(mlp.trainable_weights), list(y.shape)]

layer = Linear(64)
config = layer.get_config()
print(config)
new_layer = Linear.from_config(config)
RESULT["config_units"] = new_layer.units


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        if training:
            return keras.random.dropout(
                inputs, rate=self.rate, seed=self.seed_generator
            )
        return inputs


dropout = CustomDropout(0.5)
ones = ops.ones((20, 50))
first = np.asarray(dropout(ones, training=True))
second = np.asarray(dropout(ones, training=True))
RESULT["dropout_inference_is_identity"] = bool(
    np.array_equal(np.asarray(dropout(ones, training=False)), np.asarray(ones)))
RESULT["dropout_zero_fraction"] = float((first == 0).mean())
RESULT["dropout_kept_value"] = float(first.max())
RESULT["dropout_draws_differ"] = bool(not np.array_equal(first, second))


class Sampling(keras.layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = z_mean.shape[0]
        dim = z_mean.shape[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(keras.layers.Layer):
    """Maps digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = keras.layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = keras.layers.Dense(latent_dim)
        self.dense_log_var = keras.layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(keras.layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = keras.layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = keras.layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(
        self,
        original_dim,
        intermediate_dim=64,
        latent_dim=32,
        name="autoencoder",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(
            z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1
        )
        self.add_loss(kl_loss)
        return reconstructed


digits = load_digits()
x_train = (digits.images.reshape(-1, 64) / 16.0).astype("float32")

original_dim = 64
vae = VariationalAutoEncoder(original_dim, 64, 32)

optimizer = keras.optimizers.Adam(learning_rate=1e-3)
vae.compile(optimizer, loss=keras.losses.MeanSquaredError())

history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
RESULT["vae_first_loss"] = float(history.history["loss"][0])
RESULT["vae_last_loss"] = float(history.history["loss"][-1])
RESULT["vae_variables_beyond_weights"] = len(vae.variables) - len(vae.weights)

print("GUIDE_RESULT " + json.dumps(RESULT))
