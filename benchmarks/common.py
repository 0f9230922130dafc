"""What every benchmark implementation shares: workload constants, sizes, synthetic data,
timing rules and sanity-check bookkeeping.

Only numpy and the standard library are imported here, so the PyTorch reference can use this
module from an interpreter that has torch but no jax.

The workloads are those of docs/design.md section 5:

- W1: MLP 784 -> 512 relu -> 512 relu -> 10 softmax, Adam 1e-3, batch 128, 60,000 samples.
- W2: W1 with both hidden layers frozen (only the head trains).
- W3: GAN, G 64 -> 256 -> 256 -> 784 tanh, D 784 -> 256 -> 256 -> 1 sigmoid, LeakyReLU 0.2,
  Adam 2e-4 with beta1 0.5 for both, batch 128. One iteration = one D step on real + fake,
  then one step training G through D held fixed.
- W4: CNN 28x28x1 -> Conv 32 3x3 relu -> MaxPool 2 -> Conv 64 3x3 relu -> MaxPool 2 ->
  Flatten -> Dense 10, Adam 1e-3, batch 128, 10,000 samples.

Throughput rules: W1, W2, W4 report samples/s = samples / median epoch time over epochs 2..
(epoch 1 includes compilation); W3 reports iterations/s over `gan_iters` iterations after
`gan_warmup` warm-up iterations, timed in three chunks each ended by a device sync.
"""
import dataclasses
import statistics
import sys
import time

import numpy as np

SEED = 0

# fixed shapes and optimiser settings (sizes that a run may change live in `Sizes`)
MLP_IN, MLP_OUT = 784, 10
LR = 1e-3
GAN_LATENT, GAN_HIDDEN, GAN_OUT = 64, 256, 784
GAN_LR, GAN_BETA1 = 2e-4, 0.5
LEAKY_SLOPE = 0.2
GAN_REAL_POOL = 10_000  # "real" samples the GAN draws its batches from
CNN_IMAGE = (28, 28, 1)
CNN_CLASSES = 10
CNN_FLAT = 5 * 5 * 64  # after two (conv 3x3 valid, pool 2) stages: 28 -> 26 -> 13 -> 11 -> 5


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of one run. `Sizes()` is the workloads as defined; `quick()` is a smoke run."""

    mlp_samples: int = 60_000
    mlp_epochs: int = 3
    mlp_batch: int = 128
    mlp_hidden: int = 512
    gan_batch: int = 128
    gan_iters: int = 300
    gan_warmup: int = 20
    cnn_samples: int = 10_000
    cnn_epochs: int = 3
    cnn_batch: int = 128

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Sizes.{field.name}: expected a positive int, received "
                                 f"{value!r}")
        if self.mlp_epochs < 2 or self.cnn_epochs < 2:
            raise ValueError("Sizes: mlp_epochs and cnn_epochs must be at least 2 (the first "
                             "epoch compiles and is not timed)")
        if self.gan_iters < 3 or self.gan_warmup < 2:
            raise ValueError("Sizes: gan_iters must be at least 3 (three timed chunks) and "
                             "gan_warmup at least 2")

    @classmethod
    def quick(cls, **overrides):
        """Tiny sizes for a smoke run: numbers meaningless, every code path exercised."""
        return cls(**{"mlp_samples": 2_048, "cnn_samples": 1_024, "gan_iters": 30,
                      "gan_warmup": 3, **overrides})

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        return dataclasses.asdict(self)


def mlp_param_count(hidden):
    """Weights of the W1 MLP with `hidden` units per hidden layer."""
    return (MLP_IN + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * MLP_OUT


# ---- synthetic data ------------------------------------------------------------------------
def _teacher_labels(rng, flat_inputs, classes):
    """Labels of a fixed random linear map: learnable, so the loss must fall."""
    teacher = rng.standard_normal((flat_inputs.shape[1], classes), dtype=np.float32)
    return np.argmax(flat_inputs @ teacher, axis=1).astype(np.int32)


def mlp_data(n, seed=SEED):
    """(x float32 (n, 784) drawn from N(0, 1), y int32 (n,) in 0..9)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, MLP_IN), dtype=np.float32)
    return x, _teacher_labels(rng, x, MLP_OUT)


def cnn_data(n, seed=SEED):
    """(x float32 (n, 28, 28, 1) NHWC drawn from N(0, 1), y int32 (n,) in 0..9)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *CNN_IMAGE), dtype=np.float32)
    return x, _teacher_labels(rng, x.reshape(n, -1), CNN_CLASSES)


def gan_real_pool(n=GAN_REAL_POOL, seed=SEED):
    """'Real' GAN samples, float32 (n, 784) in (-1, 1) like tanh-scaled images."""
    rng = np.random.default_rng(seed)
    return np.tanh(0.5 * rng.standard_normal((n, GAN_OUT), dtype=np.float32) + 0.3)


class GanFeeder:
    """Host-side GAN batches, so every implementation does the same host work per iteration."""

    def __init__(self, batch, seed=SEED):
        self.batch = batch
        self.pool = gan_real_pool(seed=seed)
        self.rng = np.random.default_rng(seed + 1)

    def real(self):
        return self.pool[self.rng.integers(0, len(self.pool), self.batch)]

    def noise(self):
        return self.rng.standard_normal((self.batch, GAN_LATENT), dtype=np.float32)


def gan_labels(batch):
    """(labels of a D batch: `batch` ones then `batch` zeros, G's targets: `batch` ones)."""
    ones = np.ones((batch, 1), np.float32)
    return np.concatenate([ones, np.zeros_like(ones)]), ones


def shuffled_batches(n, batch, rng):
    """One epoch of index batches in a random order; the last one may be short (as in fit)."""
    order = rng.permutation(n)
    return [order[start:start + batch] for start in range(0, n, batch)]


# ---- timing ----------------------------------------------------------------------------------
def epoch_result(n_samples, epoch_times, losses):
    """The W1/W2/W4 result: samples/s from the median epoch time after the first epoch."""
    steady = statistics.median(epoch_times[1:])
    return {"samples_per_s": n_samples / steady, "steady_epoch_s": steady,
            "first_epoch_s": epoch_times[0], "epoch_times_s": list(epoch_times),
            "losses": [float(v) for v in losses]}


def time_gan(iteration, state, sizes, sync):
    """Time `sizes.gan_iters` calls of `state, d_loss, g_loss = iteration(state)` in three
    chunks, each ended by `sync(state)`. Warm-up is the caller's. Returns the W3 result."""
    per_chunk = sizes.gan_iters // 3
    chunk_rates, d_losses, g_losses = [], [], []
    start = time.perf_counter()
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(per_chunk):
            state, d_loss, g_loss = iteration(state)
        sync(state)
        chunk_rates.append(per_chunk / (time.perf_counter() - t))
        d_losses.append(float(d_loss))
        g_losses.append(float(g_loss))
    total = time.perf_counter() - start
    return state, {"iters_per_s": 3 * per_chunk / total, "chunk_iters_per_s": chunk_rates,
                   "d_losses": d_losses, "g_losses": g_losses}


def timed(fn, *args):
    """(fn(*args), wall seconds)."""
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def cpu_ticks():
    """(steal, total) CPU jiffies from /proc/stat on Linux; (0, 0) where unavailable."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return ticks[7], sum(ticks)
    except (OSError, IndexError, ValueError):
        return 0, 0


# ---- sanity checks ---------------------------------------------------------------------------
class Sanity(dict):
    """Named pass/fail checks of one run (name -> bool). A failure is reported, not raised,
    so that one broken implementation does not hide the others' figures."""

    def check(self, name, ok):
        self[name] = bool(ok)
        if not ok:
            print(f"SANITY FAILED: {name}", file=sys.stderr)
        return self[name]

    def epoch_losses(self, losses):
        """The standard W1/W2/W4 checks on the per-epoch mean losses."""
        self.check("losses finite", np.all(np.isfinite(losses)))
        self.check("loss decreased", losses[-1] < losses[0])
        return self


def same_arrays(a, b):
    """Whether two lists of arrays are equal element by element, bit for bit."""
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def all_changed(before, after):
    """Whether every array of `after` differs from its counterpart in `before`."""
    return len(before) == len(after) and all(not np.array_equal(u, v)
                                             for u, v in zip(before, after, strict=True))
