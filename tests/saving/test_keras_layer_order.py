"""A functional model lists its layers in Keras 3's order (deepest first, ties in the order a
walk from the outputs reaches them), which is the order Keras's weights files key layers by:
with the order of a plain depth-first walk, a branched model's `.weights.h5` file put each
Dense's weights into another Dense of the same shape, silently."""
import os

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
X = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def _branched(lib):
    """a (short branch) and c -> b (long branch) added; a late second input joins at the
    end, and an input no output uses."""
    L = lib.layers
    inp, late, unused = lib.Input((3,), name="x"), lib.Input((3,), name="late"), lib.Input(
        (3,), name="unused")
    a = L.Dense(3, name="a")(inp)
    b = L.Dense(3, name="b")(L.Dense(3, name="c")(inp))
    out = L.Dense(3, name="d")(L.Add(name="sum")([a, b, late]))
    return lib.Model([inp, late, unused], out)


def test_layers_are_in_keras_order(keras):
    assert ([layer.name for layer in _branched(lm).layers]
            == [layer.name for layer in _branched(keras).layers])


def test_branched_weights_exchange_with_keras_both_ways(keras, tmp_path):
    model, kmodel = _branched(lm), _branched(keras)
    xs = [X, X + 1.0, X]
    model.save_weights(tmp_path / "lamina.weights.h5")
    kmodel.load_weights(tmp_path / "lamina.weights.h5")
    np.testing.assert_allclose(kmodel.predict(xs, verbose=0), model.predict(xs, verbose=0),
                               rtol=1e-6, atol=1e-6)
    fresh = _branched(keras)
    fresh.save_weights(tmp_path / "keras.weights.h5")
    model.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_allclose(model.predict(xs, verbose=0), fresh.predict(xs, verbose=0),
                               rtol=1e-6, atol=1e-6)
