"""Keras 3 implementations of W1-W4 (`fit` and `train_on_batch`), run on Keras's JAX backend.

run.py imports this module only when `import keras` works with KERAS_BACKEND=jax (it sets
that variable before the import unless it is already set, and skips Keras on another backend).
The workloads, data and sanity checks are those of `common.py` and `workloads.py`:

- W1 / W2: `Sequential` + `fit(verbose=0)`; W2 sets `trainable = False` on both hidden layers.
- W3: the usual Keras GAN recipe: D compiled, `combined = Model(z, D(G(z)))` compiled with D
  frozen, and `D.trainable` switched on for the D step and off for the combined step.
- W4: the CNN with `fit(verbose=0)`.
"""
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import common as C
import keras
import numpy as np
from keras import layers

VERSIONS = {"keras": keras.__version__, "backend": keras.backend.backend()}


def weights(model_or_layer):
    return [np.array(keras.ops.convert_to_numpy(w)) for w in model_or_layer.weights]


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times, self.losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))  # brings the value to the host: a sync
        self.times.append(time.perf_counter() - self.start)


def timed_fit(model, x, y, batch_size, epochs):
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True,
              callbacks=[timer])
    return timer.times, timer.losses


def mlp(sizes, frozen):
    keras.utils.set_random_seed(C.SEED)
    x, y = C.mlp_data(sizes.mlp_samples)
    model = keras.Sequential([keras.Input((C.MLP_IN,)),
                              layers.Dense(sizes.mlp_hidden, activation="relu"),
                              layers.Dense(sizes.mlp_hidden, activation="relu"),
                              layers.Dense(C.MLP_OUT, activation="softmax")])
    if frozen:
        model.layers[0].trainable = False
        model.layers[1].trainable = False
    model.compile(optimizer=keras.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy")
    before = [weights(layer) for layer in model.layers]
    times, losses = timed_fit(model, x, y, sizes.mlp_batch, sizes.mlp_epochs)
    sanity = C.Sanity().epoch_losses(losses)
    if frozen:
        sanity.check("only head trainable", len(model.trainable_weights) == 2)
        sanity.check("frozen layers unchanged",
                     C.same_arrays(weights(model.layers[0]) + weights(model.layers[1]),
                                   before[0] + before[1]))
    sanity.check("head changed", C.all_changed(before[2], weights(model.layers[2])))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


def w1(sizes):
    return mlp(sizes, frozen=False)


def w2(sizes):
    return mlp(sizes, frozen=True)


def w3(sizes):
    keras.utils.set_random_seed(C.SEED)

    def stack(n_in, n_out, last_activation, name):
        return keras.Sequential([
            keras.Input((n_in,)),
            layers.Dense(C.GAN_HIDDEN), layers.LeakyReLU(C.LEAKY_SLOPE),
            layers.Dense(C.GAN_HIDDEN), layers.LeakyReLU(C.LEAKY_SLOPE),
            layers.Dense(n_out, activation=last_activation)], name=name)

    G = stack(C.GAN_LATENT, C.GAN_OUT, "tanh", "generator")
    D = stack(C.GAN_OUT, 1, "sigmoid", "discriminator")
    D.compile(optimizer=keras.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
              loss="binary_crossentropy")
    D.trainable = False
    z = keras.Input((C.GAN_LATENT,))
    combined = keras.Model(z, D(G(z)))
    combined.compile(optimizer=keras.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
                     loss="binary_crossentropy")
    feed = C.GanFeeder(sizes.gan_batch)
    d_labels, g_targets = C.gan_labels(sizes.gan_batch)

    def iteration(_state, check=None):
        noise = feed.noise()
        fake = np.asarray(G.predict_on_batch(noise))
        d_before = weights(D) if check is not None else None
        D.trainable = True
        d_loss = D.train_on_batch(np.concatenate([feed.real(), fake]), d_labels)
        D.trainable = False
        if check is not None:
            d_after, g_before = weights(D), weights(G)
        g_loss = combined.train_on_batch(noise, g_targets)
        if check is not None:
            check.check("D step changes D", not C.same_arrays(d_before, d_after))
            check.check("G step leaves D unchanged", C.same_arrays(d_after, weights(D)))
            check.check("G step changes G", not C.same_arrays(g_before, weights(G)))
        return None, d_loss, g_loss

    _, first = C.timed(iteration, None)
    sanity = C.Sanity()
    iteration(None, check=sanity)
    for _ in range(sizes.gan_warmup - 2):
        iteration(None)
    _, result = C.time_gan(iteration, None, sizes, lambda _state: None)  # losses are host floats
    sanity.check("losses finite", np.all(np.isfinite(result["d_losses"] + result["g_losses"])))
    return {**result, "first_iter_s": first, "sanity": sanity}


def w4(sizes):
    keras.utils.set_random_seed(C.SEED)
    x, y = C.cnn_data(sizes.cnn_samples)
    model = keras.Sequential([
        keras.Input(C.CNN_IMAGE),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(C.CNN_CLASSES, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy")
    before = weights(model)
    times, losses = timed_fit(model, x, y, sizes.cnn_batch, sizes.cnn_epochs)
    sanity = C.Sanity().epoch_losses(losses)
    sanity.check("every weight changed", C.all_changed(before, weights(model)))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


WORKLOADS = {"w1": w1, "w2": w2, "w3": w3, "w4": w4}
