"""lamina versions of the docs/design.md section 5 workloads W1-W4, and access to the anchors.

The data, sizes, timing rules and sanity checks come from the anchor benchmarks'
`common.py` (the project's shared folder, `../shared/anchors` next to the repository), so the
lamina runs do exactly the work the hand-written JAX + optax reference (`impl_jax.py`,
imported from the same folder) does:

- W1: MLP 784-512-512-10 (relu, softmax), Adam 1e-3, batch 128, `model.fit(verbose=0)`;
  samples/s = samples / median of the epoch times from epoch 2 on (epoch 1 compiles).
  `lamina_mlp_spe(K)`: the same with `compile(steps_per_execution=K)` (K steps per compiled
  call, the numpy data put on the device once by fit, each call gathering its batches).
- W2: W1 with both hidden Dense layers frozen by `layer.trainable = False` (head trains).
- W3: GAN (LeakyReLU 0.2), one iteration = `G.predict_on_batch(z)`, `D.train_on_batch` on
  real+fake, then `combined.train_on_batch` training G through D frozen by
  `combined.freeze(D)`; iterations/s as in the anchors' `gan_timed`.
- W4: CNN 28x28x1 -> Conv2D 32 3x3 relu -> MaxPooling2D 2 -> Conv2D 64 3x3 relu ->
  MaxPooling2D 2 -> Flatten -> Dense 10 softmax, Adam 1e-3, batch 128, 10,000 samples,
  `model.fit(verbose=0)`; samples/s as W1.

Each `lamina_*` function takes a sizes dict (the keys of `common.sizes`) and returns a
result dict like the anchors' (throughput, epoch times, losses, `sanity`: check -> bool).
"""
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


def anchors_dir(explicit=None):
    """The anchors folder: `explicit`, $LAMINA_ANCHORS, or ../shared/anchors beside the repo."""
    for candidate in (explicit, os.environ.get("LAMINA_ANCHORS"),
                      REPO_ROOT.parent / "shared" / "anchors"):
        if candidate and (Path(candidate) / "common.py").is_file():
            return Path(candidate).resolve()
    raise FileNotFoundError(
        "benchmarks: the anchor benchmarks (common.py, impl_jax.py) were not found. Expected "
        f"them in {REPO_ROOT.parent / 'shared' / 'anchors'}; pass --anchors DIR or set "
        "LAMINA_ANCHORS."
    )


def load_anchor(module, explicit=None):
    """Import `common`, `impl_jax` or `impl_keras` from the anchors folder."""
    path = str(anchors_dir(explicit))
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(module)


def common(explicit=None):
    return load_anchor("common", explicit)


# keys of an anchor's JSON line that describe the process, not the measurement
_PROCESS_KEYS = {"workload", "impl", "variant", "rep", "attempt", "quick", "python", "cpus",
                 "steal_frac", "probe_gflops", "process_s", "import_s", "versions"}


def run_anchor_process(script, workload, quick, python, explicit=None, timeout=1800):
    """Run an anchor script (e.g. `impl_torch.py`) with interpreter `python`, in its own process.

    Returns its measurement (throughput, epoch times, losses, sanity) plus `versions`
    renamed `anchor_versions`. Raises RuntimeError with the script's stderr if it fails.
    """
    folder = anchors_dir(explicit)
    cmd = [python, str(folder / script), "--workload", workload] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=folder, timeout=timeout,
                          check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"benchmarks: `{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    record = json.loads(lines[-1])
    result = {k: v for k, v in record.items() if k not in _PROCESS_KEYS}
    result["anchor_versions"] = record.get("versions")
    return result


# ---- helpers ----------------------------------------------------------------------------
def snapshot(layers):
    """Host copies of every weight of `layers` (bitwise comparisons)."""
    return [np.array(v.value, copy=True) for layer in layers for v in layer.weights]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def block(model):
    import jax

    jax.block_until_ready([v.value for v in model.variables])


def _epoch_timer(model_ref):
    import lamina as lm

    class EpochTimer(lm.callbacks.Callback):
        """Wall time of each epoch, from on_epoch_begin to a device sync at on_epoch_end."""

        def __init__(self):
            super().__init__()
            self.times, self.losses = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(float(logs["loss"]))
            block(model_ref)
            self.times.append(time.perf_counter() - self.t)

    return EpochTimer()


# ---- W1 / W2 ----------------------------------------------------------------------------
def mlp_model(C):
    import lamina as lm

    return lm.Sequential([
        lm.Input((C.MLP_IN,)),
        lm.layers.Dense(C.MLP_HIDDEN, activation="relu"),
        lm.layers.Dense(C.MLP_HIDDEN, activation="relu"),
        lm.layers.Dense(C.MLP_OUT, activation="softmax"),
    ])


def lamina_mlp(s, frozen, C=None, steps_per_execution=1):
    """W1 (frozen=False) or W2 (frozen=True) with `model.fit(..., verbose=0)`."""
    import lamina as lm

    C = C or common()
    x, y = C.mlp_data(s["mlp_samples"])
    model = mlp_model(C)
    if frozen:
        model.layers[0].trainable = False
        model.layers[1].trainable = False
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy",
                  steps_per_execution=steps_per_execution)
    w0 = [snapshot([model.layers[i]]) for i in range(3)]
    timer = _epoch_timer(model)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=C.MLP_BATCH, epochs=s["mlp_epochs"], verbose=0, shuffle=True,
              callbacks=[timer])
    fit_total = time.perf_counter() - t0
    sanity = {}
    C.check(timer.losses[-1] < timer.losses[0], "loss decreased", sanity)
    C.check(all(np.isfinite(timer.losses)), "losses finite", sanity)
    if frozen:
        C.check(len(model.trainable_weights) == 2, "only head trainable", sanity)
        C.check(same(snapshot([model.layers[0]]), w0[0])
                and same(snapshot([model.layers[1]]), w0[1]), "frozen layers unchanged", sanity)
    C.check(not same(snapshot([model.layers[2]]), w0[2]), "head changed", sanity)
    res = C.epoch_summary(x.shape[0], timer.times)
    res.update(losses=timer.losses, fit_total_s=fit_total,
               fit_overhead_outside_epochs_s=fit_total - sum(timer.times), sanity=sanity)
    return res


# ---- W3 GAN -----------------------------------------------------------------------------
def gan_models(C):
    import lamina as lm

    def dense(units, activation="leaky_relu"):  # lamina's leaky_relu: slope 0.2 = C.LEAKY
        return lm.layers.Dense(units, activation=activation)

    G = lm.Sequential([lm.Input((C.GAN_LATENT,)), dense(C.GAN_HIDDEN), dense(C.GAN_HIDDEN),
                       dense(C.GAN_OUT, "tanh")], name="generator")
    D = lm.Sequential([lm.Input((C.GAN_OUT,)), dense(C.GAN_HIDDEN), dense(C.GAN_HIDDEN),
                       dense(1, "sigmoid")], name="discriminator")
    z = lm.Input((C.GAN_LATENT,))
    combined = lm.Model(z, D(G(z)), name="combined")
    combined.freeze(D)  # D is a constant inside `combined` only; it still trains on its own
    D.compile(optimizer=lm.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
              loss="binary_crossentropy")
    combined.compile(optimizer=lm.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
                     loss="binary_crossentropy")
    return G, D, combined


def lamina_gan(s, C=None):
    """W3 with `train_on_batch` and a scoped freeze (`combined.freeze(D)`)."""
    C = C or common()
    assert C.LEAKY == 0.2, "lamina's 'leaky_relu' activation has slope 0.2"
    G, D, combined = gan_models(C)
    feed = C.GanFeeder()
    labels_d = np.concatenate([np.ones((C.GAN_BATCH, 1), np.float32),
                               np.zeros((C.GAN_BATCH, 1), np.float32)])
    ones = np.ones((C.GAN_BATCH, 1), np.float32)

    def iteration(_st):
        noise = feed.noise()
        fake = G.predict_on_batch(noise)
        dl = D.train_on_batch(np.concatenate([feed.real(), fake]), labels_d)
        gl = combined.train_on_batch(noise, ones)
        return None, dl, gl

    t = time.perf_counter()
    iteration(None)
    first = time.perf_counter() - t
    # semantic check on one (warm) iteration: the D step moves D, the combined step moves G only
    sanity = {}
    noise = feed.noise()
    fake = G.predict_on_batch(noise)
    d0 = snapshot([D])
    D.train_on_batch(np.concatenate([feed.real(), fake]), labels_d)
    d1, g1 = snapshot([D]), snapshot([G])
    combined.train_on_batch(noise, ones)
    C.check(not same(d0, d1), "D step changes D", sanity)
    C.check(same(d1, snapshot([D])), "G step leaves D unchanged", sanity)
    C.check(not same(g1, snapshot([G])), "G step changes G", sanity)
    for _ in range(max(s["gan_warmup"] - 2, 0)):
        iteration(None)
    res = C.gan_timed(iteration, None, s, first, lambda st: None)
    res["sanity"].update(sanity)
    return res


# ---- W4 CNN -----------------------------------------------------------------------------
def cnn_model():
    import lamina as lm
    from lamina.layers.convolutional import Conv2D
    from lamina.layers.pooling import MaxPooling2D

    return lm.Sequential([
        lm.Input((28, 28, 1)),
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
        lm.layers.Flatten(), lm.layers.Dense(10, activation="softmax"),
    ])


def lamina_cnn(s, C=None):
    """W4 with `model.fit(..., verbose=0)` (the convolution lowering is lamina's default)."""
    import lamina as lm

    C = C or common()
    x, y = C.cnn_data(s["cnn_samples"])
    model = cnn_model()
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy")
    w0 = snapshot(model.layers)
    timer = _epoch_timer(model)
    model.fit(x, y, batch_size=C.CNN_BATCH, epochs=s["cnn_epochs"], verbose=0, shuffle=True,
              callbacks=[timer])
    sanity = {}
    C.check(timer.losses[-1] < timer.losses[0], "loss decreased", sanity)
    C.check(all(np.isfinite(timer.losses)), "losses finite", sanity)
    after = snapshot(model.layers)
    C.check(all(not np.array_equal(a, b) for a, b in zip(w0, after)), "every weight changed",
            sanity)
    res = C.epoch_summary(x.shape[0], timer.times)
    res.update(losses=timer.losses, sanity=sanity)
    return res


def lamina_mlp_spe(steps_per_execution):
    """W1 with `compile(steps_per_execution=...)`, as a `LAMINA`-style function."""
    return lambda s, C=None: lamina_mlp(s, False, C, steps_per_execution)


LAMINA = {"w1": lambda s, C=None: lamina_mlp(s, False, C),
          "w2": lambda s, C=None: lamina_mlp(s, True, C),
          "w3": lamina_gan,
          "w4": lamina_cnn}
