"""The Keras example "Variational AutoEncoder", as a subclassed model with `add_loss`.

The encoder maps a digit to the mean and log-variance of a 2-d latent code, a `Sampling`
layer draws from it, and the decoder rebuilds the image. The model adds its two losses in
`call` (reconstruction cross-entropy and the KL divergence), so it is compiled without a
loss and fit on the images alone. The noise comes from a `GaussianNoise` layer run in
training mode (the example's `keras.random.normal`). Data: scikit-learn's 8x8 digits.
"""
import json

import numpy as np
from sklearn.datasets import load_digits

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

GUIDE_TOLERANCE = {"first_loss": 8.0, "last_loss": 4.0, "recon_error": 0.03}

digits = load_digits()
x = (digits.images.reshape(-1, 64) / 16.0).astype("float32")
latent_dim = 2


class Sampling(keras.layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.noise = keras.layers.GaussianNoise(1.0)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = self.noise(z_mean * 0.0, training=True)
        return z_mean + keras.activations.exponential(0.5 * z_log_var) * epsilon


class VAE(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(32, activation="relu")
        self.z_mean = keras.layers.Dense(latent_dim, name="z_mean")
        self.z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")
        self.sampling = Sampling()
        self.decoder_hidden = keras.layers.Dense(32, activation="relu")
        self.decoder_out = keras.layers.Dense(64, activation="sigmoid")

    def encode(self, inputs):
        h = self.hidden(inputs)
        return self.z_mean(h), self.z_log_var(h)

    def call(self, inputs):
        z_mean, z_log_var = self.encode(inputs)
        z = self.sampling([z_mean, z_log_var])
        reconstruction = self.decoder_out(self.decoder_hidden(z))
        reconstruction_loss = (
            keras.losses.binary_crossentropy(inputs, reconstruction) * 64.0).mean()
        kl_loss = (-0.5 * (1.0 + z_log_var - z_mean ** 2
                           - keras.activations.exponential(z_log_var))).sum(axis=1).mean()
        self.add_loss(reconstruction_loss)
        self.add_loss(kl_loss)
        return reconstruction


vae = VAE()
vae.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01))
history = vae.fit(x, epochs=15, batch_size=64, verbose=0)
reconstruction = vae.predict(x[:200], verbose=0)

print("GUIDE_RESULT " + json.dumps({
    "logs": sorted(history.history),
    "epochs": len(history.history["loss"]),
    "first_loss": float(history.history["loss"][0]),
    "last_loss": float(history.history["loss"][-1]),
    "loss_went_down": bool(history.history["loss"][-1] < history.history["loss"][0]),
    "reconstruction_shape": list(reconstruction.shape),
    "recon_error": float(np.round(np.mean((reconstruction - x[:200]) ** 2), 4)),
}))
