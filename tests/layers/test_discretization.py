"""Discretization against Keras 3: outputs on the same boundaries, `adapt`'s boundaries, config,
lamina and Keras `.keras` saving, errors.

References: `keras.layers.Discretization` (JAX backend) for calls; Keras's own quantile
functions (`keras.src.layers.preprocessing.discretization.summarize`, `merge_summaries`,
`get_bin_boundaries`) run batch by batch as Keras's `adapt` runs them, because Keras's `adapt`
itself needs TensorFlow; and `tests/fixtures/categorical/hashing_reference.json`, whose
`discretization_adapt` cases are boundaries Keras's `adapt` computed with TensorFlow installed.
Boundaries and outputs are compared exactly (the same float32 arithmetic).
"""
import json
import os
import pathlib

import jax
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError
from lamina.layers.category_encoding import CategoryEncoding
from lamina.layers.discretization import Discretization

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
from keras.src.layers.preprocessing import discretization as keras_discretization  # noqa: E402

REFERENCE = json.loads((pathlib.Path(__file__).parents[1] / "fixtures" / "categorical"
                        / "hashing_reference.json").read_text())
X = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]], np.float32)


def _normal(*shape):
    return lambda rng: rng.normal(0.0, 2.0, size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("discretization-int", lambda: Discretization([-1.0, 0.0, 1.5]), _normal(6, 4),
              (6, 4), trainable_params=0, out_dtype="int32"),
    LayerCase("discretization-one-hot", lambda: Discretization([-1.0, 0.0, 1.5],
                                                               output_mode="one_hot"),
              _normal(6, 4), (6, 4, 4), trainable_params=0),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def _keras_adapt(batches, num_bins, epsilon):
    """Keras's `adapt` (update_state per batch, then finalize_state) without TensorFlow."""
    summary = np.array([[], []], dtype="float32")
    for batch in batches:
        new = keras_discretization.summarize(np.array(batch).astype("float32"), epsilon)
        summary = keras_discretization.merge_summaries(new, summary, epsilon)
    return keras_discretization.get_bin_boundaries(summary, num_bins).tolist()


# -- calls --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_outputs_equal_keras_on_the_same_boundaries(mode):
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    x[0, :] = [-0.5, 0.0, 1.0]  # values on the boundaries fall in the upper bin
    boundaries = [-0.5, 0.0, 1.0]
    expected = np.asarray(keras.layers.Discretization(bin_boundaries=boundaries,
                                                      output_mode=mode)(x))
    got = Discretization(bin_boundaries=boundaries, output_mode=mode)(x)
    assert got.shape == expected.shape and np.dtype(got.dtype) == expected.dtype
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_keras_docstring_examples():
    np.testing.assert_array_equal(np.asarray(Discretization(bin_boundaries=[0., 1., 2.])(X)),
                                  [[0, 2, 3, 1], [1, 3, 2, 1]])
    layer = Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(X)
    np.testing.assert_array_equal(np.asarray(layer(X)), [[0, 2, 3, 2], [1, 3, 3, 1]])


def test_runs_inside_jit_and_in_a_model_before_category_encoding():
    layer = Discretization(bin_boundaries=[0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(jax.jit(layer)(X)), np.asarray(layer(X)))
    inp = lm.Input((4,))
    model = lm.Model(inp, CategoryEncoding(3, "count")(Discretization([0.0, 1.0])(inp)))
    expected = keras.layers.CategoryEncoding(3, "count")(
        keras.layers.Discretization(bin_boundaries=[0.0, 1.0])(X))
    np.testing.assert_array_equal(model.predict(X, verbose=0), np.asarray(expected))


# -- adapt --------------------------------------------------------------------------------
@pytest.mark.parametrize("num_bins, epsilon, sizes", [
    (4, 0.01, (50,)), (5, 0.1, (30, 30, 17)), (10, 0.01, (400, 250)), (3, 0.5, (2, 9)),
    (8, 0.01, (3,))])
def test_adapt_boundaries_equal_keras_quantile_functions(num_bins, epsilon, sizes):
    rng = np.random.default_rng(sum(sizes))
    batches = [rng.gamma(2.0, size=(n, 2)).astype(np.float32) for n in sizes]
    layer = Discretization(num_bins=num_bins, epsilon=epsilon)
    layer.adapt(iter(batches))
    assert layer.bin_boundaries == _keras_adapt(batches, num_bins, epsilon)
    if len(batches) == 1:
        array_layer = Discretization(num_bins=num_bins, epsilon=epsilon)
        array_layer.adapt(batches[0])
        assert array_layer.bin_boundaries == layer.bin_boundaries


@pytest.mark.parametrize("case", REFERENCE["discretization_adapt"],
                         ids=lambda c: f"bins{c['num_bins']}-eps{c['epsilon']}")
def test_adapt_boundaries_equal_keras_adapt_run_with_tensorflow(case):
    layer = Discretization(num_bins=case["num_bins"], epsilon=case["epsilon"])
    layer.adapt([np.array(b, np.float32) for b in case["batches"]])
    np.testing.assert_array_equal(np.float32(layer.bin_boundaries),
                                  np.float32(case["bin_boundaries"]))


def test_adapt_reads_x_of_pairs_and_stops_after_steps():
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=(20,)).astype(np.float32) for _ in range(3)]
    layer = Discretization(num_bins=4)
    layer.adapt(((b, np.zeros(20)) for b in batches), steps=2)
    assert layer.bin_boundaries == _keras_adapt(batches[:2], 4, 0.01)


def test_adapted_config_round_trips_with_its_boundaries():
    layer = Discretization(num_bins=4, name="disc")
    layer.adapt(X)
    config = layer.get_config()
    assert config["num_bins"] == 4 and config["bin_boundaries"] == layer.bin_boundaries
    clone = Discretization.from_config(config)
    assert clone.get_config() == config
    np.testing.assert_array_equal(np.asarray(clone(X)), np.asarray(layer(X)))
    keras_clone = keras.layers.Discretization.from_config(
        {k: v for k, v in config.items() if k != "trainable"})
    np.testing.assert_array_equal(np.asarray(keras_clone(X)), np.asarray(layer(X)))


# -- saving -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adapted_model():
    inp = lm.Input((4,))
    disc = Discretization(num_bins=4, name="disc")
    disc.adapt(X)
    encoded = CategoryEncoding(4, "multi_hot", name="enc")(disc(inp))
    return lm.Model(inp, lm.layers.Dense(2, name="head")(encoded))


@pytest.mark.parametrize("suffix", [".lamina", ".keras"])
def test_lamina_save_and_load_keep_boundaries_and_outputs(adapted_model, tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    adapted_model.save(path)
    loaded = lm.models.load_model(path)
    assert loaded.get_layer("disc").get_config() == adapted_model.get_layer("disc").get_config()
    np.testing.assert_array_equal(loaded.predict(X, verbose=0),
                                  adapted_model.predict(X, verbose=0))


def test_lamina_keras_file_loads_in_keras_with_the_same_outputs(adapted_model, tmp_path):
    adapted_model.save(tmp_path / "model.keras")
    theirs = keras.models.load_model(tmp_path / "model.keras")
    assert theirs.get_layer("disc").bin_boundaries == adapted_model.get_layer(
        "disc").bin_boundaries
    np.testing.assert_allclose(np.asarray(theirs.predict(X, verbose=0)),
                               adapted_model.predict(X, verbose=0), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")  # Keras's own save
def test_keras_file_with_an_adapted_discretization_imports(tmp_path):
    inp = keras.Input((4,))
    # an adapted Keras layer has both num_bins and bin_boundaries in its config
    disc = keras.layers.Discretization.from_config(
        {"num_bins": 4, "bin_boundaries": [0.0, 0.5, 1.3], "name": "disc"})
    out = keras.layers.Dense(3, name="head")(
        keras.layers.CategoryEncoding(4, "count", name="enc")(disc(inp)))
    theirs = keras.Model(inp, out)
    theirs.save(tmp_path / "k.keras")
    ours = lm.models.load_model(tmp_path / "k.keras")
    assert ours.get_layer("disc").get_config()["bin_boundaries"] == [0.0, 0.5, 1.3]
    assert ours.get_layer("disc").num_bins == 4
    np.testing.assert_allclose(ours.predict(X, verbose=0), np.asarray(theirs.predict(
        X, verbose=0)), rtol=1e-6, atol=1e-6)


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({}, "expected `num_bins` \\(then call `adapt`\\) or `bin_boundaries`, received neither"),
    ({"num_bins": 3, "bin_boundaries": [0.0]}, "expected `num_bins` or `bin_boundaries`, "
                                               "received both"),
    ({"num_bins": -1}, "expected `num_bins` to be an int >= 0, received -1"),
    ({"num_bins": 3, "output_mode": "tf_idf"}, "expected `output_mode` in"),
    ({"bin_boundaries": ["a"]}, "expected `bin_boundaries` to be a list of numbers"),
    ({"num_bins": 3, "output_mode": "count", "sparse": True}, "expected `sparse=False`")])
def test_bad_arguments_name_the_layer(kwargs, match):
    with pytest.raises(ConfigurationError, match="Discretization 'disc': " + match):
        Discretization(name="disc", **kwargs)


def test_misuse_names_the_layer_and_the_fix():
    with pytest.raises(ConfigurationError, match="Discretization 'disc': expected bin "
                                                 "boundaries, received a call before any"):
        Discretization(num_bins=3, name="disc")(X)
    with pytest.raises(ConfigurationError, match="received a layer created with "
                                                 "`bin_boundaries`"):
        Discretization([0.0], name="disc").adapt(X)
    with pytest.raises(ConfigurationError, match="`adapt` needs `num_bins` >= 1, received "
                                                 "num_bins=0"):
        Discretization(num_bins=0, name="disc").adapt(X)
    with pytest.raises(InputSpecError, match="Discretization 'disc'.adapt: expected at least "
                                             "one value, received empty data"):
        Discretization(num_bins=3, name="disc").adapt([])
    with pytest.raises(ArgumentTypeError, match="expected numeric batches"):
        Discretization(num_bins=3, name="disc").adapt([np.array(["a", "b"])])
    with pytest.raises(ArgumentTypeError, match="received str"):
        Discretization(num_bins=3, name="disc").adapt("abc")
