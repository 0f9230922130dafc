"""The generic harness (tests/layers/harness.py) on the layers of the core issue."""
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("dense", lambda: lm.layers.Dense(4, activation="relu"), _normal(6, 3), (6, 4),
              trainable_params=16),
    LayerCase("dense-3d-nobias", lambda: lm.layers.Dense(2, use_bias=False), _normal(6, 5, 3),
              (6, 5, 2), trainable_params=6),
    LayerCase("activation", lambda: lm.layers.Activation("tanh"), _normal(6, 3), (6, 3),
              trainable_params=0, supports_masking=True),
    LayerCase("dropout", lambda: lm.layers.Dropout(0.3, seed=1), _normal(6, 3), (6, 3),
              trainable_params=0, supports_masking=True),
    LayerCase("flatten", lambda: lm.layers.Flatten(), _normal(6, 2, 3), (6, 6),
              trainable_params=0),
    LayerCase("reshape", lambda: lm.layers.Reshape((3, 2)), _normal(6, 2, 3), (6, 3, 2),
              trainable_params=0),
    LayerCase("add", lambda: lm.layers.Add(), lambda rng: [_normal(6, 3)(rng)] * 2, (6, 3),
              trainable_params=0),
    LayerCase("concatenate", lambda: lm.layers.Concatenate(),
              lambda rng: [_normal(6, 3)(rng), _normal(6, 2)(rng)], (6, 5), trainable_params=0),
    LayerCase("batchnorm", lambda: lm.layers.BatchNormalization(), _normal(8, 3), (8, 3),
              trainable_params=6, non_trainable_params=6, updates_state=True),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)
