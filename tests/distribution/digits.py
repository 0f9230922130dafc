"""The digits MLP shared by the distribution tests (small: 64 -> 32 relu -> 10 softmax)."""
import numpy as np

import lamina as lm

SAMPLES = 1792  # 14 batches of 128: every batch splits over 1, 2 or 4 devices
# data-parallel vs single-device weights after a few Adam steps: the gradient all-reduce
# adds the per-device parts in another order than one device does (float32 rounding)
ATOL = 1e-5


def data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data[:SAMPLES] / 16.0).astype(np.float32)
    y = digits.target[:SAMPLES].astype(np.int32)
    return x, y


def build(seed=0, learning_rate=1e-2):
    """The MLP, compiled, with weights drawn from `seed` (the same for every caller)."""
    lm.random.set_seed(seed)
    model = lm.Sequential([lm.Input((64,)),
                           lm.layers.Dense(32, activation="relu", name="hidden"),
                           lm.layers.Dense(10, activation="softmax", name="head")],
                          name="digits_mlp")
    model.compile(optimizer=lm.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def max_diff(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b, strict=True))
