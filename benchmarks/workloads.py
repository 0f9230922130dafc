"""lamina versions of the docs/design.md section 5 workloads W1-W4 (public API only:
`import lamina`).

They do the work of the hand-written loops in `reference_jax.py` on the same data
(`common.py`), so their throughputs can be divided:

- W1: MLP 784-512-512-10 (relu, softmax), Adam 1e-3, batch 128, `model.fit(verbose=0)`.
  `lamina_mlp(..., steps_per_execution=K)`: the same with `compile(steps_per_execution=K)`.
- W2: W1 with both hidden Dense layers frozen by `layer.trainable = False` (the head trains).
- W3: GAN (LeakyReLU 0.2), one iteration = `G.predict_on_batch(z)`, `D.train_on_batch` on
  real + fake, then `combined.train_on_batch` training G through D, frozen inside `combined`
  only by `combined.freeze(D)`.
- W4: CNN 28x28x1 -> Conv2D 32 3x3 relu -> MaxPooling2D 2 -> Conv2D 64 3x3 relu ->
  MaxPooling2D 2 -> Flatten -> Dense 10 softmax, Adam 1e-3, batch 128, `model.fit(verbose=0)`.

Each `lamina_*` function takes a `common.Sizes` and returns a result dict like the references'
(throughput, epoch times, losses, "sanity": check -> bool).
"""
import common as C
import numpy as np


# ---- helpers -------------------------------------------------------------------------------
def snapshot(layers):
    """Host copies of every weight of `layers` (for bitwise comparisons)."""
    return [np.array(v.value, copy=True) for layer in layers for v in layer.weights]


def block(model):
    """Wait until every variable of `model` is computed."""
    import jax

    jax.block_until_ready([v.value for v in model.variables])


def epoch_timer(model):
    """A callback recording each epoch's wall time (ended by a device sync) and loss."""
    import time

    import lamina as lm

    class EpochTimer(lm.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.losses = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(float(logs["loss"]))
            block(model)
            self.times.append(time.perf_counter() - self.start)

    return EpochTimer()


def timed_fit(model, x, y, batch_size, epochs):
    """`model.fit(verbose=0, shuffle=True)` timed per epoch: (epoch times, losses)."""
    timer = epoch_timer(model)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True,
              callbacks=[timer])
    return timer.times, timer.losses


# ---- W1 / W2 -------------------------------------------------------------------------------
def mlp_model(hidden=512):
    import lamina as lm

    return lm.Sequential([
        lm.Input((C.MLP_IN,)),
        lm.layers.Dense(hidden, activation="relu"),
        lm.layers.Dense(hidden, activation="relu"),
        lm.layers.Dense(C.MLP_OUT, activation="softmax"),
    ])


def lamina_mlp(sizes, frozen=False, steps_per_execution=1):
    """W1 (frozen=False) or W2 (frozen=True) with `model.fit(..., verbose=0)`."""
    import lamina as lm

    x, y = C.mlp_data(sizes.mlp_samples)
    model = mlp_model(sizes.mlp_hidden)
    if frozen:
        model.layers[0].trainable = False
        model.layers[1].trainable = False
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy",
                  steps_per_execution=steps_per_execution)
    before = [snapshot([layer]) for layer in model.layers]
    times, losses = timed_fit(model, x, y, sizes.mlp_batch, sizes.mlp_epochs)
    sanity = C.Sanity().epoch_losses(losses)
    if frozen:
        sanity.check("only head trainable", len(model.trainable_weights) == 2)
        sanity.check("frozen layers unchanged",
                     C.same_arrays(snapshot(model.layers[:2]), before[0] + before[1]))
    sanity.check("head changed", C.all_changed(before[2], snapshot([model.layers[2]])))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


# ---- W3 GAN --------------------------------------------------------------------------------
def gan_models():
    """(G, D, combined = D(G(z)) with D frozen inside it), D and combined compiled."""
    import lamina as lm

    def dense(units, activation="leaky_relu"):  # lamina's "leaky_relu" has slope 0.2
        return lm.layers.Dense(units, activation=activation)

    G = lm.Sequential([lm.Input((C.GAN_LATENT,)), dense(C.GAN_HIDDEN), dense(C.GAN_HIDDEN),
                       dense(C.GAN_OUT, "tanh")], name="generator")
    D = lm.Sequential([lm.Input((C.GAN_OUT,)), dense(C.GAN_HIDDEN), dense(C.GAN_HIDDEN),
                       dense(1, "sigmoid")], name="discriminator")
    z = lm.Input((C.GAN_LATENT,))
    combined = lm.Model(z, D(G(z)), name="combined")
    combined.freeze(D)  # a constant inside `combined` only; D still trains on its own
    for model in (D, combined):
        model.compile(optimizer=lm.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
                      loss="binary_crossentropy")
    return G, D, combined


def lamina_gan(sizes):
    """W3 with `train_on_batch` and a scoped freeze (`combined.freeze(D)`)."""
    if C.LEAKY_SLOPE != 0.2:
        raise ValueError("benchmarks: lamina's 'leaky_relu' activation has slope 0.2, the "
                         f"workload asks for {C.LEAKY_SLOPE}")
    G, D, combined = gan_models()
    feed = C.GanFeeder(sizes.gan_batch)
    d_labels, g_targets = C.gan_labels(sizes.gan_batch)

    def iteration(_state, check=None):
        noise = feed.noise()
        fake = G.predict_on_batch(noise)
        d_before = snapshot([D]) if check is not None else None
        d_loss = D.train_on_batch(np.concatenate([feed.real(), fake]), d_labels)
        if check is not None:
            d_after, g_before = snapshot([D]), snapshot([G])
        g_loss = combined.train_on_batch(noise, g_targets)
        if check is not None:
            check.check("D step changes D", not C.same_arrays(d_before, d_after))
            check.check("G step leaves D unchanged", C.same_arrays(d_after, snapshot([D])))
            check.check("G step changes G", not C.same_arrays(g_before, snapshot([G])))
        return None, d_loss, g_loss

    _, first = C.timed(iteration, None)
    sanity = C.Sanity()
    iteration(None, check=sanity)  # one warm iteration, inspected
    for _ in range(sizes.gan_warmup - 2):
        iteration(None)
    _, result = C.time_gan(iteration, None, sizes, lambda _state: block(combined))
    sanity.check("losses finite", np.all(np.isfinite(result["d_losses"] + result["g_losses"])))
    return {**result, "first_iter_s": first, "sanity": sanity}


# ---- W4 CNN --------------------------------------------------------------------------------
def cnn_model():
    import lamina as lm

    return lm.Sequential([
        lm.Input(C.CNN_IMAGE),
        lm.layers.Conv2D(32, 3, activation="relu"), lm.layers.MaxPooling2D(2),
        lm.layers.Conv2D(64, 3, activation="relu"), lm.layers.MaxPooling2D(2),
        lm.layers.Flatten(), lm.layers.Dense(C.CNN_CLASSES, activation="softmax"),
    ])


def lamina_cnn(sizes):
    """W4 with `model.fit(..., verbose=0)` (the convolution lowering is lamina's default)."""
    import lamina as lm

    x, y = C.cnn_data(sizes.cnn_samples)
    model = cnn_model()
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy")
    before = snapshot(model.layers)
    times, losses = timed_fit(model, x, y, sizes.cnn_batch, sizes.cnn_epochs)
    sanity = C.Sanity().epoch_losses(losses)
    sanity.check("every weight changed", C.all_changed(before, snapshot(model.layers)))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


LAMINA = {"w1": lambda sizes: lamina_mlp(sizes),
          "w2": lambda sizes: lamina_mlp(sizes, frozen=True),
          "w3": lamina_gan,
          "w4": lamina_cnn}
