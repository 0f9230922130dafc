"""Pipeline: layers applied in order, training mode when applied on its own (Keras's
default) and the model's mode inside a model, sublayers that save, train and freeze with it,
Keras parity and the `.keras` importer."""
import os

import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


HARNESS_CASES = [
    LayerCase("pipeline", lambda: lm.layers.Pipeline([lm.layers.Dense(4), lm.layers.Dense(2)]),
              lambda rng: rng.normal(size=(6, 3)).astype(np.float32), (6, 2),
              trainable_params=3 * 4 + 4 + 4 * 2 + 2),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def test_applied_alone_it_runs_in_training_mode_and_in_a_model_it_follows_the_model():
    x = np.ones((4, 50), np.float32)
    pipeline = lm.layers.Pipeline([lm.layers.Rescaling(2.0), lm.layers.Dropout(0.5, seed=3)])
    out = np.asarray(pipeline(x))
    assert set(np.unique(out)) == {0.0, 4.0}  # rescaled, then dropped (and scaled by 2)
    np.testing.assert_array_equal(np.asarray(pipeline(x, training=False)), 2 * x)
    inputs = lm.Input((50,))
    model = lm.Model(inputs, pipeline(inputs))
    np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), 2 * x)


def _model():
    inputs = lm.Input((4,))
    pipeline = lm.layers.Pipeline([lm.layers.Rescaling(0.5), lm.layers.Dense(3, name="inner")],
                                  name="pipe")
    return lm.Model(inputs, lm.layers.Dense(1, name="head")(pipeline(inputs))), pipeline


def test_sublayers_train_freeze_with_the_pipeline_and_round_trip(tmp_path):
    model, pipeline = _model()
    inner = pipeline.layers[1]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.normal(size=(16, 1))
    model.compile(lm.optimizers.SGD(0.1), "mse")
    assert model.count_params() == 4 * 3 + 3 + 3 + 1
    kernel = np.array(inner.kernel.value)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(np.array(inner.kernel.value), kernel)
    model.freeze(pipeline)
    kernel = np.array(inner.kernel.value)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(np.array(inner.kernel.value), kernel)
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    assert [type(layer).__name__ for layer in loaded.get_layer("pipe").layers] == [
        "Rescaling", "Dense"]
    assert loaded.frozen_layers == [loaded.get_layer("pipe")]
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))


def test_bad_layers_argument_is_refused():
    with pytest.raises(lm.ConfigurationError, match="Pipeline 'p': expected a list of layers"):
        lm.layers.Pipeline([lm.layers.Dense(2), "relu"], name="p")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparisons run on Keras's JAX backend")
    return keras


def test_keras_pipeline_file_imports_with_equal_predictions(keras, tmp_path):
    inputs = keras.Input((4,))
    pipeline = keras.layers.Pipeline([keras.layers.Rescaling(0.5), keras.layers.Dense(3)],
                                     name="pipe")
    kmodel = keras.Model(inputs, keras.layers.Dense(2)(pipeline(inputs)))
    rng = np.random.default_rng(1)
    for variable in kmodel.weights:
        variable.assign(rng.uniform(-0.6, 0.6, tuple(variable.shape)).astype("float32"))
    kmodel.save(tmp_path / "m.keras")
    model = lm.models.load_model(tmp_path / "m.keras")
    x = rng.normal(size=(5, 4)).astype(np.float32)
    assert model.count_params() == kmodel.count_params()
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)),
                               kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
