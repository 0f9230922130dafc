"""LayerScale and StochasticDepth (the residual-branch layers of ConvNeXt) against Keras 3's
classes of the same names in `keras.src.applications.convnext`, and through the harness."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from harness import LayerCase, check_layer  # noqa: E402
from keras.src.applications import convnext as keras_convnext  # noqa: E402

import lamina as lm  # noqa: E402
from lamina.errors import ConfigurationError  # noqa: E402
from lamina.layers import LayerScale, StochasticDepth  # noqa: E402


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype("float32")


HARNESS_CASES = [
    LayerCase("layer-scale", lambda: LayerScale(0.5, 4), _normal(6, 3, 3, 4), (6, 3, 3, 4),
              trainable_params=4),
    LayerCase("stochastic-depth", lambda: StochasticDepth(0.3, seed=1), _normal(6, 3, 4),
              (6, 3, 4), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def test_layer_scale_matches_keras_and_starts_at_init_values():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    keras_layer, layer = keras_convnext.LayerScale(1e-6, 4), LayerScale(1e-6, 4)
    np.testing.assert_allclose(layer(x), keras_layer(x), rtol=1e-6)
    gamma = np.random.default_rng(1).normal(size=(4,)).astype("float32")
    keras_layer.set_weights([gamma])
    layer.set_weights([gamma])
    np.testing.assert_allclose(layer(x), keras_layer(x), rtol=1e-6)
    assert layer.get_config()["init_values"] == keras_layer.get_config()["init_values"]
    assert layer.get_config()["projection_dim"] == 4
    with pytest.raises(ConfigurationError, match="projection_dim=4"):
        LayerScale(1e-6, 4)(np.zeros((1, 5), "float32"))


def test_stochastic_depth_drops_whole_samples_only_when_training():
    x = np.ones((400, 2, 3), "float32")
    layer = StochasticDepth(0.25, seed=3)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(
        keras_convnext.StochasticDepth(0.25)(x, training=False), x)
    out = np.asarray(layer(x, training=True))
    per_sample = out.reshape(400, -1)
    assert set(np.unique(per_sample).tolist()) <= {0.0, float(np.float32(1) / np.float32(0.75))}
    assert (per_sample == per_sample[:, :1]).all()  # one draw per sample
    kept = (per_sample[:, 0] > 0).mean()
    assert 0.65 < kept < 0.85
    np.testing.assert_allclose(out.mean(), 1.0, atol=0.1)  # the expectation is kept
    again = np.asarray(StochasticDepth(0.25, seed=3)(x, training=True))
    np.testing.assert_array_equal(out, again)
    with pytest.raises(ConfigurationError, match="drop_path_rate"):
        StochasticDepth(1.0)


def test_both_round_trip_through_a_saved_model(tmp_path):
    inputs = lm.Input((3, 4))
    x = StochasticDepth(0.2, seed=5)(LayerScale(0.1, 4)(inputs))
    model = lm.Model(inputs, x)
    model.layers[1].gamma.assign(jax.numpy.arange(4.0))
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    data = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    assert loaded.layers[2].get_config()["drop_path_rate"] == 0.2
