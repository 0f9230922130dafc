"""mixed_bfloat16 / mixed_float16: float32 master weights, bfloat16 / float16 computation,
same accuracy on digits."""
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

import lamina as lm
from lamina.mixed_precision import DTypePolicy


def _digits():
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    return x[order[:1400]], y[order[:1400]], x[order[1400:]], y[order[1400:]]


def _mlp(dtype=None):
    lm.reset_names()
    lm.random.set_seed(0)
    return lm.Sequential([
        lm.Input((64,)),
        lm.layers.Dense(64, activation="relu", dtype=dtype),
        lm.layers.Dense(64, activation="relu", dtype=dtype),
        lm.layers.Dense(10, dtype="float32"),  # logits in float32, as Keras recommends
    ])


def test_mixed_layer_keeps_float32_weights_and_computes_in_bfloat16():
    layer = lm.layers.Dense(4, dtype="mixed_bfloat16")
    out = layer(np.ones((2, 3), np.float32))
    assert layer.dtype == "float32" and layer.compute_dtype == "bfloat16"
    assert out.dtype == jnp.bfloat16
    assert all(v.dtype == jnp.float32 for v in layer.weights)
    kernel, bias = layer.get_weights()
    expected = (np.ones((2, 3)) @ kernel.astype(jnp.bfloat16).astype(np.float64)
                + bias.astype(jnp.bfloat16).astype(np.float64))
    np.testing.assert_allclose(np.asarray(out, np.float64), expected, rtol=2e-2, atol=1e-2)
    assert layer.get_config()["dtype"] == "mixed_bfloat16"
    assert lm.layers.Dense.from_config(layer.get_config()).compute_dtype == "bfloat16"


def test_global_policy_and_policy_scope():
    lm.mixed_precision.set_global_policy("mixed_bfloat16")
    assert lm.layers.Dense(2).compute_dtype == "bfloat16"
    lm.mixed_precision.set_global_policy(None)
    assert lm.layers.Dense(2).compute_dtype == "float32"
    with lm.mixed_precision.policy_scope("mixed_bfloat16"):
        assert lm.layers.Conv2D(2, 3).compute_dtype == "bfloat16"
    assert lm.mixed_precision.global_policy() == DTypePolicy("float32")


@pytest.mark.slow
def test_mixed_bfloat16_trains_digits_to_the_float32_accuracy():
    x, y, xt, yt = _digits()
    accuracies = {}
    for dtype in (None, "mixed_bfloat16", "mixed_float16"):
        model = _mlp(dtype)
        model.compile(lm.optimizers.Adam(3e-3),
                      lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model.fit(x, y, batch_size=64, epochs=15, verbose=0)
        assert all(v.dtype == jnp.float32 for v in model.weights)
        accuracies[dtype] = model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]
    assert accuracies[None] >= 0.95
    # stated margin: within 2 points of float32 (float16 trains with dynamic loss scaling)
    assert accuracies["mixed_bfloat16"] >= accuracies[None] - 0.02, accuracies
    assert accuracies["mixed_float16"] >= accuracies[None] - 0.02, accuracies


def test_unknown_policies_are_refused():
    with pytest.raises(lm.ConfigurationError, match="Unknown dtype policy 'mixed_int4'"):
        lm.layers.Dense(2, dtype="mixed_int4")
