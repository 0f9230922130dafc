"""Shared small inputs for the op tables: the same numpy arrays go to `keras.ops` and
`lamina.ops`, so every case compares the two libraries on identical data."""
import numpy as np

_rng = np.random.default_rng(0)

F = _rng.normal(size=(2, 3)).astype("float32")  # float, any sign
G = _rng.normal(size=(2, 3)).astype("float32")
P = (np.abs(F) + 0.5).astype("float32")  # positive float
U = _rng.uniform(-0.9, 0.9, size=(2, 3)).astype("float32")  # inside (-1, 1)
H = F.astype("float16")
I = _rng.integers(-3, 4, size=(2, 3)).astype("int32")  # noqa: E741
J = _rng.integers(1, 5, size=(2, 3)).astype("int32")  # positive int
I8 = I.astype("int8")
U8 = J.astype("uint8")
B = F > 0
V = _rng.normal(size=(5,)).astype("float32")  # vector
IV = _rng.integers(0, 4, size=(6,)).astype("int32")
S = _rng.normal(size=(3, 3)).astype("float32")  # square
SPD = (S @ S.T + 3 * np.eye(3)).astype("float32")  # symmetric positive definite
M = _rng.normal(size=(3, 4)).astype("float32")
C = (F + 1j * G).astype("complex64")
NAN = np.array([[1.0, np.nan, 3.0], [np.nan, -2.0, 0.5]], "float32")
X4 = _rng.normal(size=(2, 5, 5, 3)).astype("float32")  # NHWC images
X3 = _rng.normal(size=(2, 7, 3)).astype("float32")  # NWC sequences
IMG = _rng.uniform(0, 1, size=(2, 6, 6, 3)).astype("float32")


def c(*args, **kwargs):
    """One case: positional and keyword arguments."""
    return args, kwargs
