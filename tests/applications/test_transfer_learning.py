"""The freezing story on a real backbone: docs/transfer_learning.md runs as written (slow:
it fine-tunes a MobileNetV2), and what its table says of Keras 3 is measured here."""
import os
import pathlib
import re

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "transfer_learning.md"


def _moved_after_one_step(lib):
    """(moving mean moved, kernel moved) of a trainable base called with training=False
    while the outer functional model was built, after one fit step."""
    lib.utils.set_random_seed(0)
    base_in = lib.Input((4,))
    dense = lib.layers.Dense(4)
    bn = lib.layers.BatchNormalization()
    base = lib.Model(base_in, bn(dense(base_in)))
    inp = lib.Input((4,))
    model = lib.Model(inp, lib.layers.Dense(1)(base(inp, training=False)))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(3, 2, (32, 4)).astype("float32")
    mean, kernel = np.asarray(bn.moving_mean).copy(), np.asarray(dense.kernel).copy()
    model.fit(x, np.ones((32, 1), "float32"), batch_size=32, epochs=1, verbose=0)
    return (not np.array_equal(mean, np.asarray(bn.moving_mean)),
            not np.array_equal(kernel, np.asarray(dense.kernel)))


def test_keras_ignores_training_false_recorded_in_a_functional_model():
    assert _moved_after_one_step(keras) == (True, True)
    assert _moved_after_one_step(lm) == (False, True)


def test_the_guide_runs_as_written():
    blocks = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.S | re.M)
    assert len(blocks) == 5
    lm.reset_names()
    namespace = {"__name__": "docs_transfer_learning"}
    for index, block in enumerate(blocks):
        try:
            exec(compile(block, f"transfer_learning.md[block {index}]", "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"transfer_learning.md, block {index} failed: {err!r}\n"
                                 f"{block}") from err
